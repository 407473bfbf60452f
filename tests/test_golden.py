"""The golden baseline: fixed-seed headline figures, compared exactly with a committed file.

If this fails, a change moved the published figures. If that was intended, regenerate the file on
purpose (``python tests/golden/regenerate.py "why"``) and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

from golden_figures import headline_figures

GOLDEN = Path(__file__).resolve().parent / "golden" / "baseline.json"


def test_headline_figures_match_the_golden_file_exactly():
    want = json.loads(GOLDEN.read_text())
    want.pop("regenerated")
    got = json.loads(json.dumps(headline_figures(), sort_keys=True))
    assert got == want
