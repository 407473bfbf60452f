"""``afsim reproduce DIR``: rerun a result from its manifest and check it matches, file by file.

The manifest records everything a run depends on: the scenario files and their hashes, the
parameter source (the fixed values, or the posterior file and its hash), the seed, the number of
replicates, the engine and the package version. Reproduction reruns the same ensemble into a
temporary folder and compares every data file of the contract exactly (the figures are not
compared: they embed font and library details that may legitimately differ).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from . import __version__
from .errors import UserError

DATA_FILES = ("districts.csv", "capitals.csv", "daily.csv", "summary.json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(run_dir: Path) -> dict:
    path = run_dir / "manifest.json"
    if not path.is_file():
        raise UserError("no manifest.json here (expected the output folder of afsim run)", file=run_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"not valid JSON ({exc})", file=path) from None
    for key in ("scenario_files", "scenario_file_sha256", "seed", "replicates", "parameter_source_kind"):
        if key not in data:
            raise UserError("missing (this manifest was not written by afsim run)", file=path, key=key)
    return data


def _npz_equal(a: Path, b: Path) -> bool:
    with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
        if set(x.files) != set(y.files):
            return False
        return all(np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f") for k in x.files)


def reproduce(run_dir: str | Path, *, workers: int = 1, progress: bool = False) -> dict:
    from .ensemble import ParameterSource, run
    from .posterior import read_posterior
    run_dir = Path(run_dir)
    m = _manifest(run_dir)
    notes = []
    files = [Path(p) for p in m["scenario_files"]]
    for path, digest in zip(files, m["scenario_file_sha256"]):
        if not path.is_file():
            raise UserError("scenario file named in the manifest is missing", file=path,
                            key="scenario_files")
        if _sha256(path) != digest:
            notes.append(f"{path} has changed since the run (sha256 differs)")
    if m.get("package_version") != __version__:
        notes.append(f"package version {__version__} differs from the run's {m.get('package_version')}")
    if m["parameter_source_kind"] == "fixed":
        values = m.get("parameter_source_values")
        if not isinstance(values, dict):
            raise UserError("missing the fixed parameter values", file=run_dir / "manifest.json",
                            key="parameter_source_values")
        source = ParameterSource.fixed(values, label=m.get("parameter_source", "fixed"))
    else:
        post = m.get("parameter_source_file")
        if not post:
            raise UserError("missing the posterior file", file=run_dir / "manifest.json",
                            key="parameter_source_file")
        source = read_posterior(post)
        if source.digest != m.get("parameter_source_sha256"):
            notes.append(f"{post} has changed since the run (sha256 differs)")
    result = run(files[-1], replicates=int(m["replicates"]), seed=int(m["seed"]),
                 parameters=source, engine=m.get("engine", "batch"), workers=workers,
                 progress=progress, keep_fall_times=bool(m.get("fall_times_kept", True)),
                 replicates_per_draw=int(m.get("replicates_per_draw", 1)))
    checks = {}
    with tempfile.TemporaryDirectory() as tmp:
        new = Path(tmp)
        result.write_into(new, plots=False)
        names = list(DATA_FILES) + (["fall_times.npz"] if (run_dir / "fall_times.npz").exists() else [])
        for name in names:
            old_f, new_f = run_dir / name, new / name
            if not old_f.exists():
                checks[name] = "missing in the original"
            elif name.endswith(".npz"):
                checks[name] = "identical" if _npz_equal(old_f, new_f) else "DIFFERS"
            else:
                checks[name] = "identical" if old_f.read_bytes() == new_f.read_bytes() else "DIFFERS"
    return {"run": str(run_dir), "files": checks, "notes": notes,
            "match": all(v == "identical" for v in checks.values())}
