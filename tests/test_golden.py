"""The golden baseline: fixed-seed headline figures, compared with a committed file (counts and
modes exactly, continuous figures to 1e-9: see ``golden_figures.TOLERANCE``).

If this fails, a change moved the published figures. If that was intended, regenerate the file on
purpose (``python tests/golden/regenerate.py "why"``) and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

from golden_figures import headline_figures, mismatches

GOLDEN = Path(__file__).resolve().parent / "golden" / "baseline.json"


def test_headline_figures_match_the_golden_file():
    want = json.loads(GOLDEN.read_text())
    want.pop("regenerated")
    got = json.loads(json.dumps(headline_figures(), sort_keys=True))
    assert mismatches(got, want) == []


def test_the_comparison_catches_a_moved_figure_and_forgives_the_last_bits():
    want = json.loads(GOLDEN.read_text())
    want.pop("regenerated")
    assert mismatches(want, want) == []
    nudged = json.loads(json.dumps(want))
    nudged["baseline_posterior"]["assault_day_mean"] *= 1 + 1e-14       # another CPU's last bits
    assert mismatches(nudged, want) == []
    moved = json.loads(json.dumps(want))
    moved["baseline_posterior"]["fall_time_district_mean"][17] += 1e-6    # a real change
    assert mismatches(moved, want) == ["baseline_posterior.fall_time_district_mean.17.: "
                                       f"{moved['baseline_posterior']['fall_time_district_mean'][17]!r}"
                                       f" != {want['baseline_posterior']['fall_time_district_mean'][17]!r}"]
    moved["baseline_fixed"]["mode_sha256"] = "0" * 64
    assert len(mismatches(moved, want)) == 2
