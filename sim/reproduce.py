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
import re
import tempfile
from pathlib import Path

import numpy as np

from .version import __version__
from .chunks import ENGINES
from .ensemble import ParameterSource, run
from .errors import UserError
from .parameters import check_value
from .posterior import read_posterior
from .provenance import manifest_digest
from .results import _json_default
from .scenario import NAME_RE
from .userfiles import decode_utf8, read_bytes

DATA_FILES = ("districts.csv", "capitals.csv", "daily.csv", "summary.json")


#: Keys of the manifest that a rerun must reproduce exactly (besides the data files).
REPRODUCIBLE_KEYS = ("scenario", "scenario_files", "scenario_file_sha256", "scenario_hash",
                     "parameter_source_kind", "parameter_source_values", "parameter_changes",
                     "parameters", "seed", "replicates", "engine", "fall_times_kept", "start_date",
                     "end_date")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(read_bytes(path, "a file named in the manifest")).hexdigest()


def _bad(path: Path, key: str, expected: str, value) -> UserError:
    return UserError(f"expected {expected}, got {value!r:.60} (a corrupted or edited manifest)",
                     file=path, key=key)


def _manifest(run_dir: Path) -> dict:
    path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise UserError("not a folder (expected the output folder of afsim run)", file=run_dir)
    if not path.is_file():
        raise UserError("no manifest.json here (expected the output folder of afsim run)", file=run_dir)
    text = decode_utf8(read_bytes(path, "afsim's manifest.json", limit=16 * 1024 * 1024), path)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UserError(f"not valid JSON ({' '.join(str(exc).split()[:12])})", file=path) from None
    if not isinstance(data, dict):
        raise UserError(f"expected a JSON object, got {type(data).__name__}", file=path)
    if "scenarios" in data and "baseline" in data and "scenario_files" not in data:
        return data                                      # a comparison: checked by its runs
    for key in ("scenario_files", "scenario_file_sha256", "seed", "replicates", "parameter_source_kind"):
        if key not in data:
            raise UserError("missing (this manifest was not written by afsim run)", file=path, key=key)
    files, hashes = data["scenario_files"], data["scenario_file_sha256"]
    if not isinstance(files, list) or not files or not all(
            isinstance(f, str) and f and "\x00" not in f for f in files):
        raise _bad(path, "scenario_files", "a non-empty list of file paths", files)
    if not isinstance(hashes, list) or len(hashes) != len(files) or not all(
            isinstance(h, str) and _HEX64.fullmatch(h) for h in hashes):
        raise _bad(path, "scenario_file_sha256",
                   f"{len(files)} sha256 hex digests (one per scenario file)", hashes)
    for key, lo, hi in (("seed", 0, 2 ** 63 - 1), ("replicates", 1, 10 ** 8)):
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise _bad(path, key, f"a whole number from {lo} to {hi}", v)
    kind = data["parameter_source_kind"]
    if kind not in ("fixed", "posterior"):
        raise _bad(path, "parameter_source_kind", "'fixed' or 'posterior'", kind)
    if kind == "fixed":
        values = data.get("parameter_source_values")
        if not isinstance(values, dict):
            raise _bad(path, "parameter_source_values", "the fixed parameter values", values)
        for name, v in values.items():
            check_value(name, v, file=path, key=f"parameter_source_values.{name}")
    else:
        post = data.get("parameter_source_file")
        if not isinstance(post, str) or not post or "\x00" in post:
            raise _bad(path, "parameter_source_file", "the posterior file's path", post)
    if data.get("engine", "batch") not in ENGINES:
        raise _bad(path, "engine", f"one of {', '.join(ENGINES)}", data.get("engine"))
    if not isinstance(data.get("fall_times_kept", True), bool):
        raise _bad(path, "fall_times_kept", "true or false", data.get("fall_times_kept"))
    return data


def _npz_equal(a: Path, b: Path) -> bool:
    try:
        with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
            if set(x.files) != set(y.files):
                return False
            return all(np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f")
                       for k in x.files)
    except Exception:             # noqa: BLE001 - a damaged file (BadZipFile, zlib.error, ...)
        return False


def reproduce(run_dir: str | Path, *, workers: int = 1, progress: bool = False) -> dict:
    """Rerun the result in ``run_dir`` (an ``afsim run`` folder, or an ``afsim compare`` folder:
    then each scenario's run) and compare it file by file."""
    run_dir = Path(run_dir)
    m = _manifest(run_dir)
    if "scenario_files" not in m:
        return _reproduce_comparison(run_dir, m, workers=workers, progress=progress)
    return _reproduce_run(run_dir, m, workers=workers, progress=progress)


def _reproduce_comparison(run_dir: Path, m: dict, *, workers: int, progress: bool) -> dict:
    names = m.get("scenarios")
    if not isinstance(names, list) or not names or not all(
            isinstance(n, str) and NAME_RE.fullmatch(n) for n in names):
        raise _bad(run_dir / "manifest.json", "scenarios", "the list of scenario names", names)
    files, notes = {}, ["a comparison: each scenario's run is reproduced; comparison.csv, "
                        "sensitivity.csv and the report are derived from them and not compared"]
    for name in names:
        rep = _reproduce_run(run_dir / name, _manifest(run_dir / name), workers=workers,
                             progress=progress)
        files.update({f"{name}/{k}": v for k, v in rep["files"].items()})
        notes += [f"{name}: {n}" for n in rep["notes"]]
    return {"run": str(run_dir), "files": files, "notes": notes,
            "match": all(v == "identical" for v in files.values())}


def _reproduce_run(run_dir: Path, m: dict, *, workers: int, progress: bool) -> dict:
    notes = []
    checks = {}
    mpath = run_dir / "manifest.json"
    if "manifest_sha256" in m:
        if m["manifest_sha256"] != manifest_digest(m):
            checks["manifest.json"] = "EDITED since the run (its manifest_sha256 does not match)"
    else:
        notes.append("the manifest has no manifest_sha256 (written by an older afsim): an edit "
                     "to it can only be detected through its effect on the results")
    files = [Path(p) for p in m["scenario_files"]]
    for path, digest in zip(files, m["scenario_file_sha256"]):
        if not path.is_file():
            raise UserError("scenario file named in the manifest is missing", file=path,
                            key="scenario_files")
        if _sha256(path) != digest:
            checks[path.name] = "CHANGED since the run (sha256 differs); rerun with the current file"
    if m.get("package_version") != __version__:
        notes.append(f"package version {__version__} differs from the run's {m.get('package_version')}")
    if m["parameter_source_kind"] == "fixed":
        source = ParameterSource.fixed(m["parameter_source_values"],
                                       label=str(m.get("parameter_source", "fixed")))
    else:
        post = m["parameter_source_file"]
        source = read_posterior(post)
        if source.digest != m.get("parameter_source_sha256"):
            checks[Path(post).name] = "CHANGED since the run (sha256 differs)"
    kept = bool(m.get("fall_times_kept", True))
    result = run(files[-1], replicates=int(m["replicates"]), seed=int(m["seed"]),
                 parameters=source, engine=m.get("engine", "batch"), workers=workers,
                 progress=progress, keep_fall_times=kept,
                 replicates_per_draw=int(m.get("replicates_per_draw", 1)))
    fresh = json.loads(json.dumps(result.manifest(), default=_json_default))
    for key in REPRODUCIBLE_KEYS:
        if key in m and fresh.get(key) != m[key]:
            checks.setdefault("manifest.json", f"DIFFERS in '{key}' (edited, or another input)")
    with tempfile.TemporaryDirectory() as tmp:
        new = Path(tmp)
        result.write_into(new, plots=False)
        names = list(DATA_FILES) + (["fall_times.npz"] if kept else [])
        for name in names:
            old_f, new_f = run_dir / name, new / name
            if not old_f.is_file():
                checks[name] = "MISSING from the run folder"
            elif name.endswith(".npz"):
                checks[name] = "identical" if _npz_equal(old_f, new_f) else "DIFFERS"
            else:
                checks[name] = "identical" if old_f.read_bytes() == new_f.read_bytes() else "DIFFERS"
    return {"run": str(run_dir), "files": checks, "notes": notes,
            "match": all(v == "identical" for v in checks.values())}
