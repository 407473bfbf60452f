"""The scenarios shipped with the package, reachable by name from any folder.

``afsim run baseline`` and ``sim.run("baseline")`` should work wherever the user stands, not only
in the project's folder: an analyst who ``pip install``-ed afsim has no ``scenarios/`` folder of
their own. So a *bare name* (no ``.toml`` suffix, no path separator) that is not a file in the
current folder is looked up among the shipped scenarios; anything else is a path, as before.

There is one copy of the TOML files: the project's top-level ``scenarios/`` folder (the README's
main command is ``afsim compare scenarios/*.toml``). ``pyproject.toml`` maps it into the wheel as
``sim/scenarios/`` (``package-dir``), so a non-editable install carries them; an editable install
or a source checkout finds them next to the package, in ``<project>/scenarios/``. A what-if's
``base = "baseline.toml"`` is relative to its own file, so inheritance works from either place.

A theatre other than the shipped one brings its own scenarios: the folder its ``theatre.toml``
names (``scenarios = "scenarios"``, :attr:`sim.theatre.Theatre.scenarios_dir`). Every function
here takes the theatre (``None``: the shipped one); a theatre of its own without such a folder has
no scenarios by name (the Afghan ones would not fit its provinces and regions).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from .errors import UserError
from .theatre import SHIPPED, Theatre

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(theatre: Theatre | None = None) -> Path | None:
    """The folder of the scenario files named by name: the theatre's own ``scenarios_dir`` when it
    has one; for the shipped theatre, inside the installed package (a wheel), or the project's own
    ``scenarios/`` beside the package (an editable install, a checkout); else ``None``."""
    if theatre is not None and theatre.scenarios_dir is not None:
        return theatre.scenarios_dir if theatre.scenarios_dir.is_dir() else None
    if theatre is not None and SHIPPED.get(theatre.name) is not theatre:
        return None
    installed = _PACKAGE / "scenarios"
    if (installed / "baseline.toml").is_file():
        return installed
    project = _PACKAGE.parent
    if (project / "pyproject.toml").is_file() and (project / "scenarios" / "baseline.toml").is_file():
        return project / "scenarios"
    return None


def shipped_scenarios(theatre: Theatre | None = None) -> dict[str, Path]:
    """Name (the file's stem, which is also its ``[scenario] name``) -> path, sorted by name."""
    folder = shipped_dir(theatre)
    if folder is None:
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.toml"))}


def is_bare_name(ref: str | Path) -> bool:
    """``baseline`` is a name; ``baseline.toml``, ``./baseline`` and ``scenarios/x`` are paths."""
    text = str(ref)
    return bool(text) and "/" not in text and "\\" not in text and not text.endswith(".toml") \
        and text not in (".", "..")


def resolve_scenario(ref: str | Path, theatre: Theatre | None = None) -> Path:
    """The scenario file ``ref`` means: the path itself if it exists or is not a bare name;
    otherwise the theatre's scenario of that name (a one-line :class:`UserError` listing the
    names if there is none)."""
    path = Path(ref)
    if path.exists() or not is_bare_name(ref):
        return path
    shipped = shipped_scenarios(theatre)
    if str(ref) in shipped:
        return shipped[str(ref)]
    if theatre is None or SHIPPED.get(theatre.name) is theatre:
        known = ", ".join(shipped) or "none (the package's scenarios folder is missing)"
        raise UserError(f"unknown scenario {str(ref)!r}: no such file here and no shipped scenario "
                        f"of that name; shipped: {known} (or give a path to a TOML file)")
    known = ", ".join(shipped) or "none (its theatre.toml names no scenarios folder)"
    raise UserError(f"unknown scenario {str(ref)!r}: no such file here and no scenario of that "
                    f"name in theatre {theatre.name!r}; its scenarios: {known} (or give a path to "
                    "a TOML file)")


def shipped_descriptions(theatre: Theatre | None = None) -> list[tuple[str, str, str | None]]:
    """(name, description, base file or None) of every shipped scenario, for ``afsim scenarios``.
    Read straight from the TOML (no validation: listing must be instant)."""
    out = []
    for name, path in shipped_scenarios(theatre).items():
        try:
            meta = tomllib.loads(path.read_text(encoding="utf-8")).get("scenario", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            meta = {}
        out.append((name, " ".join(str(meta.get("description", "")).split()), meta.get("base")))
    return out
