"""Checking a parsed TOML table: the one set of validation helpers every user file's reader uses.

The scenario (:mod:`sim.scenario`), calibration-config (:mod:`sim.calibration_config`) and targets
(:mod:`sim.targets`) readers check keys and values with these functions, so that the same mistake
reads the same in every file type. Each failure is one :class:`UserError` naming the file and the
dotted key (``timeline.add[0].value``)::

    unknown key; allowed: a, b, c
    missing (expected a number)
    expected a number, got str 'high'
    expected a whole number, got float 2.5
    value 99 out of range; allowed [0, 5]
    expected a date YYYY-MM-DD, got int 5
    date 2025-01-01 out of range; allowed 2021-05-01 to 2021-12-31
    expected a string, got int 5
    expected a table [settings], got int 5
    expected an array of tables [[districts]], got int 5

``where`` is the dotted key of the table being read (``""`` at the top level); :func:`dotted` joins
it to a key.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import UserError
from .userfiles import as_float

#: The default of a required value: there is none.
REQUIRED: Any = object()


def dotted(where: str, key: str) -> str:
    """``where.key`` (``key`` alone at the top level)."""
    return f"{where}.{key}" if where else key


def show(value: Any) -> str:
    """A value for a message: at most 40 characters of its repr, numbers in short form."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        if abs(value) < 10 ** 20:            # a seed up to 2**64 is shown exactly
            return str(value)
        number = as_float(value)
        return f"{number:g}" if number is not None else "beyond the float range"
    if isinstance(value, float):
        return f"{value:g}"
    return f"{value!r:.40}"


def _got(value: Any) -> str:
    return f"{type(value).__name__} {show(value)}"


def check_keys(table: Mapping, allowed: Iterable[str], path: str | Path, where: str = "") -> None:
    """Refuse a key of ``table`` that is not in ``allowed``."""
    allowed = set(allowed)
    for key in table:
        if key not in allowed:
            raise UserError(f"unknown key; allowed: {', '.join(sorted(allowed))}", file=path,
                            key=dotted(where, key))


def check_number(value: Any, path: str | Path, key: str, lo: float, hi: float,
                 integer: bool = False) -> float | int:
    """A number in [lo, hi] (an int when ``integer``); refuses booleans, NaN and infinities."""
    if integer:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"expected a whole number, got {_got(value)}", file=path, key=key)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"expected a number, got {_got(value)}", file=path, key=key)
    number = as_float(value)
    if number is None or not math.isfinite(number) or not (lo <= value <= hi):
        raise UserError(f"value {show(value)} out of range; allowed [{show(lo)}, {show(hi)}]",
                        file=path, key=key)
    return value if integer else number


def number(table: Mapping, key: str, path: str | Path, where: str, lo: float, hi: float,
           default: Any = REQUIRED, integer: bool = False) -> Any:
    """``table[key]`` checked by :func:`check_number`, or ``default`` when absent (if given)."""
    if key not in table:
        if default is REQUIRED:
            kind = "a whole number" if integer else "a number"
            raise UserError(f"missing (expected {kind})", file=path, key=dotted(where, key))
        return default
    return check_number(table[key], path, dotted(where, key), lo, hi, integer)


def string(table: Mapping, key: str, path: str | Path, where: str, default: Any = REQUIRED) -> Any:
    """``table[key]``, a string, or ``default`` when absent (if given)."""
    if key not in table:
        if default is REQUIRED:
            raise UserError("missing (expected a string)", file=path, key=dotted(where, key))
        return default
    value = table[key]
    if not isinstance(value, str):
        raise UserError(f"expected a string, got {_got(value)}", file=path, key=dotted(where, key))
    return value


def check_date(value: Any, path: str | Path, key: str, lo: dt.date, hi: dt.date,
               time_of_day: bool = False) -> dt.date:
    """A date in [lo, hi], from a TOML date or a 'YYYY-MM-DD' string; a date-time is refused
    unless ``time_of_day`` (then its time is dropped)."""
    if isinstance(value, dt.datetime) and time_of_day:
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise UserError(f"expected a date YYYY-MM-DD, got {show(value)}", file=path,
                            key=key) from None
    if isinstance(value, dt.datetime):
        raise UserError(f"expected a date YYYY-MM-DD (no time of day), got {show(value)}",
                        file=path, key=key)
    if not isinstance(value, dt.date):
        raise UserError(f"expected a date YYYY-MM-DD, got {_got(value)}", file=path, key=key)
    if not (lo <= value <= hi):
        raise UserError(f"date {value.isoformat()} out of range; allowed {lo.isoformat()} to "
                        f"{hi.isoformat()}", file=path, key=key)
    return value


def date(table: Mapping, key: str, path: str | Path, where: str, lo: dt.date, hi: dt.date,
         default: Any = REQUIRED, time_of_day: bool = False) -> Any:
    """``table[key]`` checked by :func:`check_date`, or ``default`` when absent (if given)."""
    if key not in table:
        if default is REQUIRED:
            raise UserError("missing (expected a date YYYY-MM-DD)", file=path,
                            key=dotted(where, key))
        return default
    return check_date(table[key], path, dotted(where, key), lo, hi, time_of_day)


def table(data: Mapping, key: str, path: str | Path, where: str = "") -> dict:
    """The sub-table ``data[key]`` (empty when absent)."""
    value = data.get(key, {})
    full = dotted(where, key)
    if not isinstance(value, dict):
        raise UserError(f"expected a table [{full}], got {_got(value)}", file=path, key=full)
    return value


def tables(data: Mapping, key: str, path: str | Path, where: str = "") -> list[dict]:
    """The array of tables ``data[key]`` (empty when absent); each item must be a table."""
    items = data.get(key, [])
    full = dotted(where, key)
    if not isinstance(items, list):
        raise UserError(f"expected an array of tables [[{full}]], got {_got(items)}", file=path,
                        key=full)
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise UserError(f"expected a table (an item of [[{full}]]), got {_got(item)}",
                            file=path, key=f"{full}[{k}]")
    return items
