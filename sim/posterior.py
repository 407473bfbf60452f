"""The committed default posterior (written by ``afsim calibrate``), if there is one."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .errors import UserError
from .parameters import NAMES, defaults

#: Where the package looks for its default posterior (a copy of calibration/default/posterior.csv).
DEFAULT_POSTERIOR = Path(__file__).parent / "data" / "posterior.csv"


def read_posterior(path: str | Path):
    """A posterior sample (CSV: one column per calibrated parameter, optional ``weight``).

    Parameters missing from the file keep the table's defaults.
    """
    from .ensemble import ParameterSource
    path = Path(path)
    if not path.is_file():
        raise UserError("posterior file not found (expected a CSV written by afsim calibrate)",
                        file=path)
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        columns = reader.fieldnames or []
    if not rows:
        raise UserError("posterior file has no rows", file=path)
    unknown = [c for c in columns if c not in NAMES and c not in ("weight", "draw", "walker", "step")]
    if unknown:
        raise UserError(f"unknown column(s) {unknown}; expected parameter names and 'weight'",
                        file=path, key=unknown[0])
    base = defaults()
    values = np.empty((len(rows), len(NAMES)))
    weights = np.ones(len(rows))
    for k, row in enumerate(rows):
        for j, name in enumerate(NAMES):
            cell = row.get(name)
            try:
                values[k, j] = float(cell) if cell not in (None, "") else base[name]
            except ValueError:
                raise UserError(f"row {k + 2}: expected a number, got {cell!r}", file=path,
                                key=name) from None
        cell = row.get("weight")
        if cell not in (None, ""):
            try:
                weights[k] = float(cell)
            except ValueError:
                weights[k] = np.nan
            if not (np.isfinite(weights[k]) and weights[k] >= 0):
                raise UserError(f"row {k + 2}: expected a weight >= 0, got {cell!r}", file=path,
                                key="weight")
    if weights.sum() <= 0:
        raise UserError("every weight is zero; expected at least one positive weight", file=path,
                        key="weight")
    import hashlib
    return ParameterSource.posterior(values, weights, label=f"posterior {path.name}", path=str(path),
                                     digest=hashlib.sha256(path.read_bytes()).hexdigest())


def load_default_posterior():
    if DEFAULT_POSTERIOR.is_file():
        src = read_posterior(DEFAULT_POSTERIOR)
        return type(src)(src.kind, "calibrated posterior (sim/data/posterior.csv)", src.rows,
                         src.weights, src.path, src.digest)
    return None
