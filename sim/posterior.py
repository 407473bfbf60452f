"""The committed default posterior (written by ``afsim calibrate``), if there is one."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from .errors import UserError
from .parameter_source import ParameterSource
from .parameters import NAMES, defaults

#: Where the package looks for its default posterior (a copy of calibration/default/posterior.csv).
DEFAULT_POSTERIOR = Path(__file__).parent / "data" / "posterior.csv"


#: Columns a posterior file may carry besides the parameters.
BOOKKEEPING = ("weight", "draw", "walker", "step")
#: More rows than any calibration writes (2,000-20,000); bounds memory for a hostile file.
MAX_ROWS = 1_000_000


def read_posterior(path: str | Path):
    """A posterior sample (CSV: one column per calibrated parameter, optional ``weight``).

    Parameters missing from the file keep the table's defaults. Every cell is checked: a number,
    finite, within the parameter table's bounds (a whole number for integer parameters); every
    row has as many cells as the header; no column twice; weights finite, >= 0, some positive.
    """
    import hashlib

    from .parameters import BY_NAME, check_value
    from .userfiles import as_float, decode_utf8, read_bytes
    path = Path(path)
    if not os.path.lexists(path):
        raise UserError("posterior file not found (expected a CSV written by afsim calibrate)",
                        file=path)
    raw = read_bytes(path, "a posterior CSV written by afsim calibrate")
    text = decode_utf8(raw, path)
    if "\x00" in text:
        raise UserError("contains NUL bytes (expected a CSV text file)", file=path)
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise UserError(f"not a valid CSV file ({exc})", file=path) from None
    table = [r for r in table if r]                       # blank lines carry nothing
    if not table:
        raise UserError("posterior file is empty (expected a header of parameter names)", file=path)
    columns = [c.strip() for c in table[0]]
    rows = table[1:]
    if not rows:
        raise UserError("posterior file has no rows", file=path)
    if len(rows) > MAX_ROWS:
        raise UserError(f"{len(rows):,} rows; at most {MAX_ROWS:,} allowed", file=path)
    seen = set()
    for c in columns:
        if c in seen:
            raise UserError("column appears twice; expected each parameter once", file=path, key=c)
        seen.add(c)
    unknown = [c for c in columns if c not in NAMES and c not in BOOKKEEPING]
    if unknown:
        raise UserError(f"unknown column(s) {unknown[:5]}; expected parameter names and 'weight'",
                        file=path, key=unknown[0])
    base = defaults()
    values = np.tile(np.array([float(base[n]) for n in NAMES]), (len(rows), 1))
    weights = np.ones(len(rows))
    wcol = columns.index("weight") if "weight" in columns else None
    params = [(i, NAMES.index(c), c) for i, c in enumerate(columns) if c in BY_NAME]
    for k, row in enumerate(rows):
        line = k + 2
        if len(row) != len(columns):
            raise UserError(f"row {line} has {len(row)} cells, the header {len(columns)} "
                            "(a truncated or extended row)", file=path)
        for i, j, name in params:
            cell = row[i].strip()
            number = as_float(cell) if cell else None
            if number is None:
                raise UserError(f"row {line}: expected a number, got {row[i]!r:.40}", file=path,
                                key=name)
            values[k, j] = check_value(name, number, file=path, key=f"{name} (row {line})")
        if wcol is not None:
            cell = row[wcol].strip()
            w = as_float(cell) if cell else None
            if w is None or not (np.isfinite(w) and w >= 0):
                raise UserError(f"row {line}: expected a weight >= 0, got {row[wcol]!r:.40}",
                                file=path, key="weight")
            weights[k] = w
    total = weights.sum()
    if not np.isfinite(total):
        raise UserError("the weights add up to more than the float range; expected finite weights",
                        file=path, key="weight")
    if total <= 0:
        raise UserError("every weight is zero; expected at least one positive weight", file=path,
                        key="weight")
    return ParameterSource.posterior(values, weights, label=f"posterior {path.name}", path=str(path),
                                     digest=hashlib.sha256(raw).hexdigest())


def load_default_posterior():
    if DEFAULT_POSTERIOR.is_file():
        src = read_posterior(DEFAULT_POSTERIOR)
        return type(src)(src.kind, "calibrated posterior (sim/data/posterior.csv)", src.rows,
                         src.weights, src.path, src.digest)
    return None
