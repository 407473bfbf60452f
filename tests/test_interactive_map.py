"""The interactive map (map.html, and its section of report.html): its data are exact, it needs
nothing from the network, and in a real headless Chromium it colours the districts and shows the
tooltip a user would see."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sim.compare import compare
from sim.interactive_map import LEVELS, inverse_fall_days, map_payload
from sim.theatre import AFGHANISTAN_2021

START = AFGHANISTAN_2021.start

from conftest import BASELINE, SCENARIOS

CHROMIUM = Path("/usr/bin/chromium")
#: CI installs Chromium and sets AFSIM_REQUIRE_BROWSER=1, so there a missing browser fails the test.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("AFSIM_REQUIRE_BROWSER"),
    reason="no headless browser: /usr/bin/chromium is absent (apt-get install chromium; CI does)")
#: The flags without which Chromium hangs or phones home on a closed network.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
WINDOW = (1100, 1150)
DAY = 106                                   # 15 August 2021, Kabul's fall in the record


@pytest.fixture(scope="module")
def written(tmp_path_factory, geo):
    comp = compare([BASELINE, SCENARIOS / "salaries_paid.toml", SCENARIOS / "southern_first.toml"],
                   replicates=20, seed=3, geo=geo, replicates_per_draw=5)
    out = tmp_path_factory.mktemp("map") / "out"
    comp.write(out, plots=False)
    return comp, out


def _percent(result, row: int, day: int) -> int:
    """What the page must show: P(fallen by the end of ``day``) in whole percent, rounded down."""
    return int(np.floor(100 * result.summary.p_fallen_by_day()[row, day] + 1e-9))


def _date(day: float) -> str:
    d = START + dt.timedelta(days=int(day))
    return f"{d.day} {d.strftime('%b')} {d.year}"


def _informative(result) -> tuple[int, int]:
    """A (district, day) around mid-August whose probability differs from the day before's and
    the day after's, nearest one half: a page that reads the wrong day, scenario or level shows
    a different number there."""
    p = result.summary.p_fallen_by_day()
    best = None
    for day in range(DAY - 20, DAY + 21):
        moving = (p[:, day - 1] < p[:, day]) & (p[:, day] < p[:, day + 1])
        for row in np.flatnonzero(moving):
            score = abs(p[row, day] - 0.5)
            if best is None or score < best[0]:
                best = (score, int(row), day)
    assert best is not None, "no district's probability moves on consecutive days"
    return best[1], best[2]


# ---------------------------------------------------------------------- the data, without a browser

def test_the_inverse_distribution_gives_every_days_percent_and_the_median_exactly(written):
    comp, _ = written
    for res in comp.results.values():
        inv = inverse_fall_days(res.summary)
        assert inv.shape == (res.geo.n, LEVELS) and np.all(np.diff(inv, axis=1) >= 0)
        p = res.summary.p_fallen_by_day()
        for day in (0, 30, DAY, res.summary.days - 1):
            shown = (inv <= day).sum(axis=1)
            np.testing.assert_array_equal(shown, np.floor(100 * p[:, day] + 1e-9))
        median = res.summary.fall_day_quantile(0.5)
        np.testing.assert_array_equal(np.where(inv[:, 49] >= res.summary.days, np.inf, inv[:, 49]),
                                      median)


def test_the_page_is_self_contained_and_small(written):
    comp, out = written
    page = (out / "map.html").read_text(encoding="utf-8")
    report = (out / "report.html").read_text(encoding="utf-8")
    # nothing to fetch: the only URL is the SVG namespace, which is a name, not a request
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "<link" not in page and not re.search(r"<script[^>]+src=", page)
    assert page.count('<path data-i="') == 399
    assert 'id="afm-data"' in report and "<h2>Interactive map</h2>" in report
    payload = map_payload(comp)
    assert [s["name"] for s in payload["scenarios"]] == comp.names
    per_scenario = len(json.dumps(payload["scenarios"][0]))
    assert per_scenario < 60_000                      # 399 x 100 bytes, base64, plus the daily means
    # the shared part (polygons, script) once; ten scenarios stay far under 3 MB
    assert len(page.encode()) - len(comp.names) * per_scenario < 300_000
    assert len(page.encode()) + 7 * per_scenario < 1_000_000


# ---------------------------------------------------------------------- in a real browser

def _chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    assert CHROMIUM.exists(), "AFSIM_REQUIRE_BROWSER is set but /usr/bin/chromium is absent"
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    proc = subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                           f"--window-size={WINDOW[0]},{WINDOW[1]}", *extra, url],
                          capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return proc


def _selftest(tmp_path, page: Path, **args) -> dict:
    url = page.as_uri() + "#selftest&" + "&".join(f"{k}={v}" for k, v in args.items())
    proc = _chromium(tmp_path, url, "--dump-dom")
    found = re.search(r'<pre id="afm-selftest"[^>]*>(.*?)</pre>', proc.stdout, re.S)
    assert found and found.group(1), f"the page's self-test wrote nothing: {proc.stderr[-800:]}"
    return json.loads(html.unescape(found.group(1)))


@needs_chromium
def test_hovering_a_district_shows_its_name_probability_and_median_for_every_scenario(written, tmp_path):
    comp, out = written
    name = "southern_first"
    res = comp.results[name]
    row, day = _informative(res)
    pcode = res.geo.pcodes[row]
    got = _selftest(tmp_path, out / "map.html", scenario=name, district=pcode, day=day)
    assert got["scenario"] == name and got["day"] == day and got["date"] == _date(day)
    assert got["districts"] == 399 and got["distinct_fills"] >= 5
    tip = got["tooltip"]
    province = res.geo.provinces[res.geo.province_index[row]].name
    assert tip.startswith(f"{res.geo.names[row]}, {province} province")
    assert f"P(fallen by {_date(day)})" in tip
    for scenario, result in comp.results.items():      # every scenario, in order, with its numbers
        median = result.summary.fall_day_quantile(0.5)[row]
        shown = _date(median) if np.isfinite(median) else "not by 31 Dec 2021"
        assert f"{scenario}{_percent(result, row, day)}%{shown}" in tip
    assert got["percent"] == _percent(res, row, day)
    assert got["fill"] == map_payload(comp)["palette"][got["percent"]]


@needs_chromium
def test_the_slider_and_the_difference_mode_recolour_the_map(written, tmp_path):
    comp, out = written
    kabul = comp.base.geo.kabul_row
    palette, diverging = map_payload(comp)["palette"], map_payload(comp)["diverging"]
    early = _selftest(tmp_path, out / "map.html", scenario="baseline", district="AF0101", day=0)
    assert early["fill"] == palette[_percent(comp.base, kabul, 0)] == palette[0]
    assert early["date"] == "1 May 2021"
    assert "Kabul, Kabul province (provincial capital)" in early["tooltip"]
    assert "fell in the record on 15 Aug 2021" in early["tooltip"]
    row, day = _informative(comp.base)
    diff = _selftest(tmp_path, out / "map.html", scenario="salaries_paid",
                     district=comp.base.geo.pcodes[row], day=day, mode="diff")
    change = _percent(comp.results["salaries_paid"], row, day) - _percent(comp.base, row, day)
    assert change != 0 and diff["fill"] == diverging[LEVELS + change]


@needs_chromium
def test_a_screenshot_shows_a_coloured_map(written, tmp_path):
    from matplotlib.image import imread
    comp, out = written
    shot = tmp_path / "map.png"
    proc = _chromium(tmp_path, (out / "map.html").as_uri(), f"--screenshot={shot}")
    assert shot.is_file(), proc.stderr[-800:]
    img = imread(shot)
    assert img.shape[:2] == (WINDOW[1], WINDOW[0])
    rgb = np.round(img[..., :3] * 255).astype(int)
    colours = {tuple(int(rgb_hex[i:i + 2], 16) for i in (1, 3, 5))
               for rgb_hex in map_payload(comp)["palette"]}
    pixels = rgb.reshape(-1, 3)
    codes, counts = np.unique(pixels[:, 0] * 65536 + pixels[:, 1] * 256 + pixels[:, 2],
                              return_counts=True)
    painted = {(c // 65536, c // 256 % 256, c % 256): n for c, n in zip(codes, counts)}
    # district fills drawn by the script (unfilled SVG paths would be black): several palette
    # colours, each over a visible area, covering a good part of the page
    filled = {c: n for c, n in painted.items() if c in colours and n >= 150}
    assert len(filled) >= 5, sorted(filled.items())
    assert sum(filled.values()) > 0.15 * WINDOW[0] * WINDOW[1]
    assert painted.get((0, 0, 0), 0) < 0.01 * WINDOW[0] * WINDOW[1]
