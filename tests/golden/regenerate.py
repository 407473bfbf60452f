"""Regenerate the golden baseline (tests/golden/baseline.json), on purpose only.

    python tests/golden/regenerate.py "why the published figures move"

The golden file pins the headline figures of fixed-seed runs (counts and modes exactly,
continuous figures to 1e-9, which forgives only another CPU's last bits), so that a change to the
rule, the random-number layout or the data cannot move every number in the README while the
suite stays green. Regenerate it only when such a change is intended, and say why: the reason is
stored in the file and belongs in the commit message too.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from golden_figures import headline_figures  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].strip():
        sys.exit("usage: python tests/golden/regenerate.py \"why the published figures move\"")
    figures = headline_figures()
    figures["regenerated"] = {"on": dt.date.today().isoformat(), "why": sys.argv[1].strip()}
    (HERE / "baseline.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(f"wrote {HERE / 'baseline.json'}")


if __name__ == "__main__":
    main()
