"""The interactive map of a comparison: one self-contained HTML page that works offline.

``afsim compare ... --out DIR`` writes ``DIR/map.html`` and embeds the same map in
``DIR/report.html``. Hover (or tap) a district: its name, province, and for every scenario the
probability it has fallen by the chosen day and its median fall date. A day slider (1 May 2021 to
the horizon, with a play button) colours the districts by the probability of having fallen by
that day under the chosen scenario: the collapse, day by day; or by the difference from the
baseline in percentage points.

**Why no map library.** The page must open from a file, offline, with no server: no CDN, nothing
fetched. A map of 399 polygons needs no tiles and no projection library, so the polygons are
written as inline SVG (projected here, in Python) and about 250 lines of plain JavaScript colour
them and draw the tooltip. Nothing is vendored, so there is no licence to carry and nothing to
update.

**Data, compactly.** Per scenario and district, the *inverse* of its fall-date distribution: the
first day by which it has fallen with probability at least 1%, 2%, ..., 100% (100 levels; a day
index from 1 May 2021, one byte while the horizon is under 255 days, else two; the horizon's day
count means "not by the horizon"), base64 in a JSON block. The probability of having fallen by day
d is then the number of levels at or before d, in whole percent (rounded down), exact to the
percent for any day, and the median fall date is level 50, the same inverted-CDF quantile as
``districts.csv``'s ``fall_date_q50``. That is 40 kB per scenario for 399 districts (56 kB as
base64 with the daily expected counts), against 98 kB for a daily curve at the same resolution;
the geometry (the package's simplified AGCHO polygons, on a grid of 0.01 degree of latitude,
relative SVG path commands), style and script are 170 kB once: 0.73 MB for ten scenarios.

**Tested** in a real headless Chromium (``tests/test_interactive_map.py``): loaded with
``#selftest&scenario=NAME&district=PCODE&day=N`` the page selects the scenario and the day,
dispatches a mouse move on the district and writes the tooltip's text and the district's colour
into the hidden ``<pre id="afm-selftest">``, which the test reads from the dumped DOM.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
from pathlib import Path

import numpy as np

from .district_layer import attribution, load_district_polygons

#: Probability levels of the stored inverse distribution (1%, 2%, ..., 100%).
LEVELS = 100
#: Grid units per degree of latitude: coordinates are rounded to 0.01 degree (about 1 km).
UNITS_PER_DEGREE = 100
#: Neighbouring countries named on the map, at points inside them near Afghanistan, drawn with
#: the neighbours' outlines (``maps.OUTLINE_FILE``) when the theatre's folder holds that file (the
#: shipped one does). (name, lon, lat, rotation in degrees)
COUNTRY_LABELS = (("TURKMENISTAN", 62.6, 37.45, 0), ("UZBEKISTAN", 66.8, 38.05, 0),
                  ("TAJIKISTAN", 70.2, 38.15, 0), ("PAKISTAN", 72.4, 33.3, 0),
                  ("PAKISTAN", 64.5, 29.15, 0), ("IRAN", 60.35, 32.6, -90))
_MARGIN_DEG = 0.4


# ====================================================================== the data

def inverse_fall_days(summary) -> np.ndarray:
    """(districts, LEVELS) int: per district the first day index d with P(fallen by the end of
    day d) >= k/LEVELS, k = 1..LEVELS; ``summary.days`` where that is never within the horizon.

    The same inverted-CDF rule as :func:`sim.summary.quantile_from_histogram`, on integer counts
    (no rounding), so level 50 is exactly ``fall_day_quantile(0.5)``.
    """
    hist = summary.day_hist
    total = hist.sum(axis=1, keepdims=True)
    cdf = np.cumsum(hist, axis=1)                                   # (n, days + 1)
    k = np.arange(1, LEVELS + 1)
    need = np.maximum(np.ceil(k[None, :] * total / LEVELS - 1e-9), 1)       # (n, LEVELS)
    # first index whose cumulative count reaches ``need``: count the indices below it
    first = (cdf[:, :, None] < need[:, None, :]).sum(axis=1)
    return np.minimum(first, summary.days)


def _encode(values: np.ndarray, days: int) -> tuple[str, int]:
    width = 1 if days <= 255 else 2
    raw = values.astype("<u1" if width == 1 else "<u2").tobytes()
    return base64.b64encode(raw).decode("ascii"), width


def scenario_payload(name: str, result) -> dict:
    """One scenario's block of the page's data."""
    sm = result.summary
    q, width = _encode(inverse_fall_days(sm).ravel(), sm.days)
    p_day = sm.p_fallen_by_day()
    caps = result.geo.capital_rows
    return {"name": name, "description": result.scenario.description, "days": int(sm.days),
            "replicates": int(sm.replicates), "width": width, "q": q,
            # exact expected counts, for the status line (the per-district percents are floored)
            "expected": [round(float(v), 1) for v in p_day.sum(axis=0)],
            "expected_capitals": [round(float(v), 1) for v in p_day[caps].sum(axis=0)]}


def map_payload(comparison) -> dict:
    """Everything the page's script needs, JSON-ready."""
    base = comparison.base
    geo = base.geo
    scenarios = [scenario_payload(n, r) for n, r in comparison.results.items()]
    days = max(s["days"] for s in scenarios)
    th = base.theatre       # the page opens on the capital's recorded fall (15 August 2021)
    return {"start": th.start.isoformat(), "days": days, "levels": LEVELS,
            "opening_day": int(min(max(th.day_of(th.capital_fell), 0), days - 1)),
            "baseline": comparison.names.index(comparison.baseline),
            # pcode, name, province, is a capital, the day the capital fell in the record (or null)
            "districts": [[geo.pcodes[i], geo.names[i], geo.provinces[geo.province_index[i]].name,
                           int(bool(geo.is_capital[i])), _recorded_fall(geo, i)]
                          for i in range(geo.n)],
            "palette": _palette("YlOrRd", LEVELS + 1, low=0.02),
            "diverging": _palette("RdBu_r", 2 * LEVELS + 1),
            "scenarios": scenarios}


def _recorded_fall(geo, row: int) -> int | None:
    """The day a provincial capital fell in the record (the seed's table), for the tooltip: the
    reader compares it with the simulated median."""
    prov = geo.provinces[geo.province_index[row]]
    if not geo.is_capital[row] or not prov.fell_on:
        return None
    return (dt.date.fromisoformat(prov.fell_on) - geo.theatre.start).days


def _palette(name: str, n: int, low: float = 0.0) -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex
    cmap = colormaps[name]
    return [to_hex(cmap(low + (1 - low) * k / (n - 1))) for k in range(n)]


# ====================================================================== the geometry

class _Projection:
    """Longitude/latitude to integer SVG units: equirectangular, longitudes shortened by the
    cosine of the middle latitude, so Afghanistan keeps its shape at this scale."""

    def __init__(self, west: float, south: float, east: float, north: float):
        self.west, self.north = west - _MARGIN_DEG, north + _MARGIN_DEG
        self.kx = math.cos(math.radians((south + north) / 2)) * UNITS_PER_DEGREE
        self.width = int(math.ceil((east + _MARGIN_DEG - self.west) * self.kx))
        self.height = int(math.ceil((self.north - south + _MARGIN_DEG) * UNITS_PER_DEGREE))

    def __call__(self, lon, lat) -> tuple[int, int]:
        return (int(round((lon - self.west) * self.kx)),
                int(round((self.north - lat) * UNITS_PER_DEGREE)))


def _rings(geometry: dict):
    polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    for poly in polys:
        yield from poly


def _path(rings, project: _Projection, closed: bool = True) -> str:
    """SVG path data: absolute move, relative lines, consecutive duplicates (after rounding to the
    grid) dropped. A '-' separates numbers by itself, so no space is written before one."""
    out = []
    for ring in rings:
        pts = [project(x, y) for x, y in ring]
        kept = [pts[0]]
        for p in pts[1:]:
            if p != kept[-1]:
                kept.append(p)
        if closed and len(kept) > 1 and kept[-1] == kept[0]:
            kept.pop()
        if len(kept) < (3 if closed else 2):
            continue
        parts = [f"M{kept[0][0]} {kept[0][1]}l"]
        nums = []
        for (x0, y0), (x1, y1) in zip(kept, kept[1:]):
            nums += [x1 - x0, y1 - y0]
        text = ""
        for v in nums:
            text += (str(v) if (v < 0 or not text) else f" {v}")
        parts.append(text + ("z" if closed else ""))
        out.append("".join(parts))
    return "".join(out)


def _segments_path(segments: np.ndarray, project: _Projection) -> str:
    """Border segments (k, 2, 2 lon/lat) joined into polylines where one ends where the next
    starts (on the grid), as one SVG path."""
    lines: list[list[tuple[int, int]]] = []
    for (a, b) in segments:
        pa, pb = project(*a), project(*b)
        if pa == pb:
            continue
        if lines and lines[-1][-1] == pa:
            lines[-1].append(pb)
        else:
            lines.append([pa, pb])
    return "".join(_path([[(x, y) for x, y in line]], _Identity(), closed=False) for line in lines)


class _Identity:
    def __call__(self, x, y):
        return (x, y)


def _svg(comparison, project: _Projection) -> str:
    from .maps import OUTLINE_FILE, polygon_layer
    geo = comparison.base.geo
    shapes = load_district_polygons(geo)
    parts = [f'<svg id="afm-svg" viewBox="0 0 {project.width} {project.height}" '
             f'role="img" aria-label="Map of {_whose(geo.theatre)}districts" '
             'xmlns="http://www.w3.org/2000/svg">',
             f'<rect width="{project.width}" height="{project.height}" fill="#dfe8ee"/>']
    outline = geo.theatre.data_dir / OUTLINE_FILE.name
    neighbours = (json.loads(outline.read_text(encoding="utf-8")) if outline.is_file()
                  else {"features": []})
    for feature in neighbours["features"]:
        if feature["properties"].get("ADM0_A3") != "AFG":
            parts.append(f'<path class="afm-land" d="{_path(_rings(feature["geometry"]), project)}"/>')
    parts.append('<g id="afm-districts">')
    for i in range(geo.n):
        d = _path(_rings(shapes[geo.pcodes[i]]), project)
        parts.append(f'<path data-i="{i}" d="{d}"/>')
    parts.append("</g>")
    layer = polygon_layer(geo)
    parts.append(f'<path class="afm-province" d="{_segments_path(layer.province_edges, project)}"/>')
    parts.append(f'<path class="afm-nation" d="{_segments_path(layer.national_edges, project)}"/>')
    parts.append('<path id="afm-hl" d=""/>')
    parts.append('<g class="afm-cities">')
    for p in geo.provinces:
        x, y = project(p.capital_lon, p.capital_lat)
        r = 5 if p.index == geo.capital_province.index else 3.2
        parts.append(f'<circle cx="{x}" cy="{y}" r="{r}"/>')
        if p.capital in geo.labelled_cities:
            parts.append(f'<text x="{x + 6}" y="{y - 5}">{html.escape(p.capital)}</text>')
    parts.append("</g>")
    for label, lon, lat, angle in (COUNTRY_LABELS if neighbours["features"] else ()):
        x, y = project(lon, lat)
        turn = f' transform="rotate({angle} {x} {y})"' if angle else ""
        parts.append(f'<text class="afm-country" x="{x}" y="{y}"{turn}>{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _whose(theatre) -> str:
    """``Afghanistan's `` (the theatre's country, possessive), or nothing."""
    return f"{html.escape(theatre.country)}'s " if theatre.country else "the "


def _bounds(geo) -> tuple[float, float, float, float]:
    shapes = load_district_polygons(geo)
    pts = np.array([pt for g in shapes.values() for ring in _rings(g) for pt in ring])
    (west, south), (east, north) = pts.min(axis=0), pts.max(axis=0)
    return float(west), float(south), float(east), float(north)


# ====================================================================== the page

CSS = """
.afm{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f1f1f;max-width:1000px}
.afm-controls{display:flex;flex-wrap:wrap;gap:.6em 1.2em;align-items:center;margin:.4em 0;font-size:.95em}
.afm-controls label{display:flex;align-items:center;gap:.4em}
.afm-controls select,.afm-controls button{font:inherit;padding:.15em .4em}
#afm-day{width:min(420px,60vw)}
#afm-date{font-weight:600;min-width:7.5em;display:inline-block}
.afm-status{font-size:.9em;color:#333;margin:.2em 0 .4em}
.afm-stage{position:relative}
#afm-svg{width:100%;height:auto;display:block;border:1px solid #ccc;background:#dfe8ee}
#afm-districts path{stroke:#ffffff;stroke-width:.6;stroke-linejoin:round;fill-rule:evenodd}
.afm-land{fill:#f3f1ea;stroke:#b9b6ac;stroke-width:.8}
.afm-province{fill:none;stroke:#3a3a3a;stroke-width:1.3;stroke-linejoin:round;pointer-events:none}
.afm-nation{fill:none;stroke:#111;stroke-width:2;stroke-linejoin:round;pointer-events:none}
#afm-hl{fill:none;stroke:#000;stroke-width:3;pointer-events:none}
.afm-cities{pointer-events:none}
.afm-cities circle{fill:#111;stroke:#fff;stroke-width:1.2}
.afm-cities text{font-size:17px;font-weight:600;fill:#111;stroke:#fff;stroke-width:3.5;paint-order:stroke}
.afm-country{font-size:15px;letter-spacing:.15em;fill:#8d897d;pointer-events:none;text-anchor:middle}
.afm-tip{position:absolute;z-index:10;background:#fff;border:1px solid #888;border-radius:4px;
box-shadow:0 2px 8px rgba(0,0,0,.25);padding:.45em .6em;font-size:13px;line-height:1.35;pointer-events:none;
width:max-content;max-width:none}
.afm-tip table{border-collapse:collapse;margin:.3em 0 0;font-size:12.5px}
.afm-tip th,.afm-tip td{border:none;padding:.05em .45em;text-align:right;white-space:nowrap}
.afm-tip th{background:none;font-weight:600;color:#444}
.afm-tip td:first-child,.afm-tip th:first-child{text-align:left}
.afm-tip tr.afm-sel td{font-weight:700;background:#f3f3f3}
.afm-legend{font-size:.88em;margin:.3em 0 .5em}
.afm-legend-row{display:flex;flex-wrap:wrap;align-items:flex-start;gap:.4em 1.6em}
#afm-legend-title{margin-bottom:.25em}
.afm-bar{position:relative;width:300px;height:14px;border:1px solid #999}
.afm-ticks{position:relative;width:300px;height:1.2em;font-size:.85em}
.afm-ticks span{position:absolute;transform:translateX(-50%)}
.afm-key{display:inline-flex;align-items:center;gap:.35em}
.afm-note{font-size:.82em;color:#555}
"""

JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("afm-data").textContent);
  var L = data.levels, districts = data.districts, N = districts.length;
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var ymd = data.start.split("-").map(Number), t0 = Date.UTC(ymd[0], ymd[1] - 1, ymd[2]);
  var svg = document.getElementById("afm-svg"), tip = document.getElementById("afm-tip");
  var pick = document.getElementById("afm-scenario"), mode = document.getElementById("afm-mode");
  var slider = document.getElementById("afm-day"), play = document.getElementById("afm-play");
  var paths = new Array(N), hl = document.getElementById("afm-hl"), hovered = -1, timer = null;
  Array.prototype.forEach.call(document.querySelectorAll("#afm-districts path"), function (p) {
    paths[+p.getAttribute("data-i")] = p;
  });

  function decode(b64, width) {            // little-endian unsigned bytes or 16-bit words
    var s = atob(b64), n = s.length / width, out = new Uint16Array(n);
    for (var k = 0; k < n; k++) {
      out[k] = width === 1 ? s.charCodeAt(k) : s.charCodeAt(2 * k) | (s.charCodeAt(2 * k + 1) << 8);
    }
    return out;
  }
  data.scenarios.forEach(function (s, k) {
    s.inv = decode(s.q, s.width);
    var o = document.createElement("option");
    o.value = String(k); o.textContent = s.name + (k === data.baseline ? " (baseline)" : "");
    pick.appendChild(o);
  });
  slider.max = String(data.days - 1);
  slider.value = String(data.opening_day);

  function dateOf(day) {
    var t = new Date(t0 + day * 86400000);
    return t.getUTCDate() + " " + MONTHS[t.getUTCMonth()] + " " + t.getUTCFullYear();
  }
  // percent (0-100, rounded down) of replicates in which district i has fallen by the end of day
  function percent(s, i, day) {
    var inv = s.inv, base = i * L, d = Math.min(day, s.days - 1), lo = 0, hi = L;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (inv[base + mid] <= d) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function median(s, i) {
    var v = s.inv[i * L + L / 2 - 1];
    return v >= s.days ? "not by " + dateOf(s.days - 1) : dateOf(v);
  }
  function esc(text) {
    return String(text).replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"}[c];
    });
  }
  function state() {
    return {s: +pick.value, day: +slider.value, diff: mode.value === "diff"};
  }
  function colour(st, i) {
    var s = data.scenarios[st.s], p = percent(s, i, st.day);
    if (!st.diff) return data.palette[p];
    return data.diverging[L + p - percent(data.scenarios[data.baseline], i, st.day)];
  }

  function legend(st) {
    var pal = st.diff ? data.diverging : data.palette, stops = [];
    for (var k = 0; k <= 10; k++) stops.push(pal[Math.round(k * (pal.length - 1) / 10)]);
    document.getElementById("afm-bar").style.background = "linear-gradient(to right," + stops.join(",") + ")";
    var ticks = st.diff ? ["-100", "-50", "0", "+50", "+100"] : ["0%", "25%", "50%", "75%", "100%"];
    document.getElementById("afm-ticks").innerHTML = ticks.map(function (t, k) {
      return "<span style=\"left:" + (25 * k) + "%\">" + t + "</span>";
    }).join("");
    var base = data.scenarios[data.baseline].name;
    document.getElementById("afm-legend-title").textContent = st.diff
      ? "P(fallen by the day): " + data.scenarios[st.s].name + " minus " + base +
        ", percentage points (blue: held more often than in the baseline)"
      : "Probability the district has fallen by the day (" + data.scenarios[st.s].name + ")";
  }

  function draw() {
    var st = state(), s = data.scenarios[st.s], fills = {};
    for (var i = 0; i < N; i++) { var c = colour(st, i); paths[i].setAttribute("fill", c); fills[c] = 1; }
    document.getElementById("afm-date").textContent = dateOf(st.day);
    var d = Math.min(st.day, s.days - 1);
    document.getElementById("afm-status").textContent =
      s.name + ", end of " + dateOf(st.day) + ": on average " + s.expected[d].toFixed(1) + " of " + N +
      " districts and " + s.expected_capitals[d].toFixed(1) + " provincial capitals under Taliban control (" +
      s.replicates + " replicates).";
    legend(st);
    if (hovered >= 0) fillTip(hovered);
    return Object.keys(fills).length;
  }

  function fillTip(i) {
    var st = state(), dist = districts[i];
    var rows = data.scenarios.map(function (s, k) {
      return "<tr" + (k === st.s ? " class=\"afm-sel\"" : "") + "><td>" + esc(s.name) + "</td><td>" +
        percent(s, i, st.day) + "%</td><td>" + median(s, i) + "</td></tr>";
    }).join("");
    tip.innerHTML = "<b>" + esc(dist[1]) + "</b>, " + esc(dist[2]) + " province" +
      (dist[3] ? " (provincial capital)" : "") + " <span style=\"color:#777\">" + esc(dist[0]) + "</span>" +
      (dist[4] !== null ? "<br>fell in the record on " + dateOf(dist[4]) : "") +
      "<table><tr><th>scenario</th><th>P(fallen by " + dateOf(st.day) + ")</th><th>median fall date</th></tr>" +
      rows + "</table>";
  }

  function show(i, ev) {
    if (i !== hovered) { hovered = i; hl.setAttribute("d", paths[i].getAttribute("d")); fillTip(i); }
    tip.hidden = false;
    var stage = tip.parentNode.getBoundingClientRect();
    var x = ev.clientX - stage.left, y = ev.clientY - stage.top;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.max(0, x + 16 + w > stage.width ? x - w - 16 : x + 16) + "px";
    tip.style.top = Math.max(0, y + 16 + h > stage.height ? y - h - 12 : y + 16) + "px";
  }
  function hide() { hovered = -1; tip.hidden = true; hl.setAttribute("d", ""); }
  function onPointer(ev) {
    var i = ev.target && ev.target.getAttribute ? ev.target.getAttribute("data-i") : null;
    if (i === null) hide(); else show(+i, ev);
  }
  svg.addEventListener("mousemove", onPointer);
  svg.addEventListener("click", onPointer);
  svg.addEventListener("mouseleave", hide);
  pick.addEventListener("change", draw);
  mode.addEventListener("change", draw);
  slider.addEventListener("input", draw);
  play.addEventListener("click", function () {
    if (timer) { clearInterval(timer); timer = null; play.textContent = "\u25B6 play"; return; }
    if (+slider.value >= data.days - 1) slider.value = "0";
    play.textContent = "\u275A\u275A pause";
    timer = setInterval(function () {
      slider.value = String(Math.min(+slider.value + 1, data.days - 1)); draw();
      if (+slider.value >= data.days - 1) { clearInterval(timer); timer = null; play.textContent = "\u25B6 play"; }
    }, 60);
  });
  draw();

  // #selftest&scenario=NAME&district=PCODE&day=N[&mode=diff]: drive the page as a user would and
  // write what it shows into #afm-selftest, for the headless-browser test.
  if (location.hash.indexOf("#selftest") === 0) {
    var args = {};
    location.hash.slice(1).split("&").forEach(function (kv) {
      var p = kv.split("="); args[p[0]] = decodeURIComponent(p[1] || "");
    });
    data.scenarios.forEach(function (s, k) { if (s.name === args.scenario) pick.value = String(k); });
    if (args.mode) mode.value = args.mode;
    if (args.day) { slider.value = args.day; slider.dispatchEvent(new Event("input")); }
    var distinct = draw(), row = -1;
    districts.forEach(function (d, k) { if (d[0] === args.district) row = k; });
    var result = {scenario: data.scenarios[+pick.value].name, day: +slider.value,
                  date: document.getElementById("afm-date").textContent, distinct_fills: distinct,
                  districts: paths.length};
    if (row >= 0) {
      var box = paths[row].getBoundingClientRect();
      paths[row].dispatchEvent(new MouseEvent("mousemove", {bubbles: true,
        clientX: box.left + box.width / 2, clientY: box.top + box.height / 2}));
      result.tooltip = tip.hidden ? "" : tip.textContent;
      result.fill = paths[row].getAttribute("fill");
      result.percent = percent(data.scenarios[+pick.value], row, +slider.value);
    }
    document.getElementById("afm-selftest").textContent = JSON.stringify(result);
  }
})();
"""


def map_section_html(comparison) -> str:
    """The map as an HTML fragment (its own style, data and script): for the report and the page."""
    geo = comparison.base.geo
    project = _Projection(*_bounds(geo))
    payload = json.dumps(map_payload(comparison), separators=(",", ":")).replace("</", "<\\/")
    return f"""<div class="afm" id="afm"><style>{CSS}</style>
<div class="afm-controls">
<label>scenario <select id="afm-scenario"></select></label>
<label>colour by <select id="afm-mode"><option value="p">P(fallen by the day)</option>
<option value="diff">difference from the baseline</option></select></label>
<label>day <input type="range" id="afm-day" min="0" max="1" step="1" value="0"
 aria-label="day"></label><span id="afm-date"></span>
<button type="button" id="afm-play">&#9654; play</button>
</div>
<div class="afm-status" id="afm-status"></div>
<div class="afm-legend"><div id="afm-legend-title"></div><div class="afm-legend-row">
<div><div class="afm-bar" id="afm-bar"></div><div class="afm-ticks" id="afm-ticks"></div></div>
<span class="afm-key"><svg width="14" height="14"><circle cx="7" cy="7" r="4" fill="#111" stroke="#fff"/></svg>provincial capital</span>
<span class="afm-key"><svg width="26" height="10"><line x1="0" y1="5" x2="26" y2="5" stroke="#3a3a3a" stroke-width="2"/></svg>province border</span>
</div></div>
<div class="afm-stage">{_svg(comparison, project)}<div class="afm-tip" id="afm-tip" hidden></div></div>
<p class="afm-note">Hover or tap a district for every scenario's probability of having fallen by the
chosen day (in whole percent, rounded down) and its median fall date. {html.escape(attribution(comparison.base.geo))}</p>
<pre id="afm-selftest" hidden></pre>
<script type="application/json" id="afm-data">{payload}</script>
<script>{JS}</script></div>"""


def map_page_html(comparison, section: str | None = None) -> str:
    """The standalone page (``map.html``) around ``section`` (made if not given)."""
    names = ", ".join(comparison.names)
    section = map_section_html(comparison) if section is None else section
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>afsim: the collapse, district by district</title>
<style>body{{margin:1em auto;padding:0 1em;max-width:1000px;font-family:system-ui,sans-serif}}
h1{{font-size:1.35em;margin:.2em 0}}.afm-sub{{color:#555;font-size:.9em;margin:0 0 .3em}}</style>
</head><body><h1>{html.escape(comparison.theatre.heading)}: the collapse, district by district</h1>
<p class="afm-sub">afsim comparison of {len(comparison.names)} scenarios ({html.escape(names)}); baseline:
{html.escape(comparison.baseline)}.</p>
{section}</body></html>
"""


def write_interactive_map(comparison, out: str | Path) -> str:
    """Write ``out/map.html`` and return the map's fragment, for the report to embed."""
    section = map_section_html(comparison)
    (Path(out) / "map.html").write_text(map_page_html(comparison, section), encoding="utf-8")
    return section
