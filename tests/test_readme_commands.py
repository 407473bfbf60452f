"""Every afsim command the README shows runs as written (issue 14, item 1).

Each command in the README's bash blocks is parsed by the real command line (flags, types, files);
the quick ones are also run end to end, at small sizes where they offer a flag for that, with
their outputs sent to a temporary folder. Calibrate and forecast are parsed and their config
checked, not sampled (minutes each; the calibration tests run them at small sizes)."""

from __future__ import annotations

import glob
import os
import re
import shlex

import pytest

from sim.cli import build_parser, main

from conftest import ROOT

README = ROOT / "README.md"
#: The README's history, moved out of it word for word: its commands must still run as written.
HISTORY = ROOT / "docs" / "calibration_history.md"


def readme_commands() -> list[str]:
    text = "\n".join(f.read_text(encoding="utf-8") for f in (README, HISTORY))
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("#")[0].strip()
            if line.startswith("afsim "):
                out.append(line)
    # complete commands quoted inline (those naming an input file), e.g. the calibration's;
    # fragments such as `afsim compare` in a sentence are not commands
    out += [m for m in re.findall(r"`(afsim [^`]+)`", text)
            if ".toml" in m and "..." not in m and "DIR" not in m]
    return sorted(set(out))


def _argv(command: str, tmp_path) -> list[str]:
    argv = []
    for arg in shlex.split(command)[1:]:
        argv += sorted(glob.glob(str(ROOT / arg))) if "*" in arg else [arg]
    # outputs go to the temporary folder; relative inputs are read from the project
    out = []
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if a in ("--out", "-o"):
            out += [a, str(tmp_path / argv[i + 1].replace("/", "_"))]
            skip = True
        else:
            out.append(a)
    return out


COMMANDS = readme_commands()


def test_the_readme_shows_commands():
    assert any(c.startswith("afsim run") for c in COMMANDS)
    assert any(c.startswith("afsim compare") for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_readme_command_parses_and_its_files_exist(command, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    argv = _argv(command, tmp_path)
    args = build_parser().parse_args(argv)
    for name in ("scenario", "config"):
        value = getattr(args, name, None)
        if value is not None:
            assert (ROOT / value).is_file(), (command, value)
    for value in getattr(args, "scenarios", None) or []:
        assert (ROOT / value).is_file(), (command, value)


SMALL = {"run": ["-n", "20"], "compare": ["-n", "20", "--no-sensitivity", "--no-plots"],
         "sensitivity": ["--sobol-n", "8", "--sobol-replicates", "2"]}


def test_the_quick_readme_commands_run_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    order = {"run": 0, "reproduce": 2}
    ran = []
    for command in sorted(COMMANDS, key=lambda c: order.get(shlex.split(c)[1], 1)):
        verb = shlex.split(command)[1]
        if verb in ("calibrate", "forecast"):
            continue
        argv = _argv(command, tmp_path)
        if verb == "reproduce":        # the README reproduces the run it made above
            argv = ["reproduce", str(tmp_path / "results_baseline")]
        if verb in SMALL:
            argv = _strip_sizes(argv) + SMALL[verb]
            if "--out" not in argv and "-o" not in argv:     # never the project's results/
                argv += ["--out", str(tmp_path / f"default_out_{len(ran)}")]
        if verb in ("run", "compare", "sensitivity"):
            argv.append("--quiet")
        assert main(argv) == 0, command
        ran.append(verb)
    assert {"run", "compare", "sensitivity", "parameters", "reproduce"} <= set(ran)


def _strip_sizes(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--replicates", "-n", "--sobol-n", "--sobol-replicates"):
            skip = True
            continue
        out.append(a)
    return out
