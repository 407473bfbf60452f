"""The package's layers: no import cycle in sim/, and every import points down a declared layer.

Every import of a sim module is counted, at module level *and* inside functions: a loop held
together by function-local imports is still a loop (it only fails later, and in a different
order). The layers below are the architecture described in README "Development" and
docs/architecture.md; a new module must be placed in one of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"

#: Bottom to top. A module may import modules of its own layer or of a layer below.
LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"errors", "userfiles", "output", "progress", "provenance", "version", "randomness",
              "workers", "tomlcheck"}),
    ("model", {"theatre", "geography", "parameters", "timeline", "exposures", "hazard", "model",
               "scenario", "shipped",
               "record"}),
    ("engines", {"outcomes", "engine", "batch", "prologue", "chunks"}),
    ("runs", {"parameter_source", "posterior", "checkpoint", "distributed", "summary", "results",
              "ensemble", "measures", "conditioning", "structure_set", "compare", "parameter_sets", "sensitivity", "reproduce"}),
    ("calibration", {"config_checks", "targets", "likelihood", "calibration_config",
                     "calibration_sampler", "cut_lift", "calibrate", "fit", "district_facts",
                     "district_skill", "district_reference", "district_neighbours", "scoring"}),
    ("outputs", {"plots", "maps", "district_layer", "interactive_map", "report",
                 "calibration_output", "docs"}),
    ("api", {"__init__", "__main__", "cli"}),
]

#: The only imports that point up a layer: a result's convenience methods that hand it to the
#: output layer (``result.plot_fan()``, ``result.write()`` with its figures and GeoJSON,
#: ``comparison.write()`` with its report). They must stay inside the method (the module itself
#: never needs the layer above) and, like every import, must not close a cycle.
FACADES = {
    ("results", "plots"): "EnsembleResult.plot_fan / plot_capitals / write: the run's figures",
    ("results", "district_layer"): "EnsembleResult.write: districts.geojson",
    ("compare", "report"): "Comparison.write: the comparison's report and figures",
}


def sim_imports(tree: ast.AST, modules: set[str], package: str = "sim") -> list[tuple[str, int, bool]]:
    """(imported sim module, line, at module level) for every import in ``tree``.

    ``from . import x`` imports module x if there is one, else a name of the package itself
    (``sim/__init__.py``, e.g. ``__version__``), which imports the whole API.
    """
    top = {id(n) for n in getattr(tree, "body", [])}
    out = []

    def add(name: str, node: ast.AST) -> None:
        out.append((name, node.lineno, id(node) in top))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package:
                    add(parts[1] if len(parts) > 1 else "__init__", node)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != package:
                    continue
                rest = parts[1:]
            elif node.level == 1:
                rest = node.module.split(".") if node.module else []
            else:
                raise AssertionError(f"line {node.lineno}: relative import above the package")
            if rest:
                add(rest[0], node)
            else:
                for alias in node.names:
                    add(alias.name if alias.name in modules else "__init__", node)
    return out


def import_graph() -> dict[str, dict[str, list[tuple[int, bool]]]]:
    """module -> {imported module -> [(line, at module level), ...]} over every module of sim/."""
    files = {p.stem: p for p in sorted(SIM.glob("*.py"))}
    graph: dict[str, dict[str, list[tuple[int, bool]]]] = {}
    for name, path in files.items():
        edges: dict[str, list[tuple[int, bool]]] = {}
        for target, line, top in sim_imports(ast.parse(path.read_text(encoding="utf-8")), set(files)):
            assert target in files, f"sim/{name}.py:{line} imports sim.{target}, which does not exist"
            if target != name:
                edges.setdefault(target, []).append((line, top))
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, dict]) -> list[str] | None:
    """One cycle as a list of modules [a, b, ..., a], or None when the graph is acyclic."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state:
            found = visit(v)
            if found:
                return found
    return None


def describe(graph, cycle: list[str]) -> str:
    return "\n".join(f"  sim/{a}.py line(s) {', '.join(str(line) for line, _ in graph[a][b])}"
                     f" import sim.{b}" for a, b in zip(cycle, cycle[1:]))


def test_the_import_graph_sees_every_kind_of_import():
    source = """
import sim.alpha
from sim import beta, __version__
from sim.gamma import thing
from . import delta
from .epsilon import other
from .zeta.sub import x
import numpy
def f():
    from .eta import y
    class C:
        def g(self):
            import sim.theta
"""
    mods = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}
    found = {(m, top) for m, _, top in sim_imports(ast.parse(source), mods)}
    assert found == {("alpha", True), ("beta", True), ("__init__", True), ("gamma", True),
                     ("delta", True), ("epsilon", True), ("zeta", True), ("eta", False),
                     ("theta", False)}
    assert find_cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": []}, "b": {}, "c": {"a": [], "b": []}}) is None


def test_no_import_cycle_in_sim():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, ("import cycle " + " -> ".join(cycle) + " (function-local imports "
                           "count):\n" + describe(graph, cycle))


def test_every_module_sits_in_one_layer():
    placed = [m for _, mods in LAYERS for m in mods]
    assert len(placed) == len(set(placed)), "a module is in two layers"
    modules = {p.stem for p in SIM.glob("*.py")}
    assert not modules - set(placed), (f"place {sorted(modules - set(placed))} in a layer of "
                                       "tests/test_architecture.py (and docs/architecture.md)")
    assert not set(placed) - modules, f"no such module: {sorted(set(placed) - modules)}"


def test_imports_point_down_the_layers():
    level = {m: k for k, (_, mods) in enumerate(LAYERS) for m in mods}
    name = {k: layer for k, (layer, _) in enumerate(LAYERS)}
    wrong = []
    for a, edges in import_graph().items():
        for b, sites in edges.items():
            if level[b] <= level[a]:
                continue
            lines = ", ".join(str(line) for line, _ in sites)
            if (a, b) not in FACADES:
                wrong.append(f"sim/{a}.py ({name[level[a]]}) line(s) {lines} import sim.{b} "
                             f"({name[level[b]]}): move the code to the layer it belongs to")
            elif any(top for _, top in sites):
                wrong.append(f"sim/{a}.py line(s) {lines}: the facade import of sim.{b} must stay "
                             "inside the method that needs it")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("pair", sorted(FACADES))
def test_every_declared_facade_is_still_needed(pair):
    a, b = pair
    assert b in import_graph()[a], f"sim.{a} no longer imports sim.{b}: drop it from FACADES"


def test_no_dynamic_imports_of_sim_modules():
    """importlib.import_module / __import__ would hide an edge from the graph above."""
    for path in sorted(SIM.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                fn = node.func
                called = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                assert called not in ("import_module", "__import__"), (
                    f"sim/{path.name}:{node.lineno}: a dynamic import the layering test cannot see")


def test_api_errors_speak_api_words():
    """Issue 13 item 3: an error raised below the CLI names API arguments (``argument=`` and
    :func:`sim.errors.arg` in the message), never a flag; sim/cli.py maps them to flags."""
    import re
    flag = re.compile(r"(^|[\s(`'])--[a-z]")
    found = []
    for path in sorted(SIM.glob("*.py")):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") in
                    ("UserError", "DataError")):
                continue
            for part in ast.walk(node):
                if (isinstance(part, ast.Constant) and isinstance(part.value, str)
                        and flag.search(part.value)):
                    found.append(f"sim/{path.name}:{node.lineno}: {part.value!r}")
    assert not found, "CLI flags in API errors:\n" + "\n".join(found)
