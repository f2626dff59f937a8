"""The package's shape: no import cycles between its parts (the layer order itself is the import contract
in pyproject.toml, checked by ``lint-imports`` in ``./run test``)."""

from __future__ import annotations

import grimp
import pytest

PARTS = ("core", "engines", "data", "env", "server", "client", "cli", "agents", "integrations", "evaluation",
         "graders", "viewer")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("tracefix_rl")


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in PARTS else None


def test_no_two_parts_import_each_other(graph):
    edges = {(_part(m), _part(d)) for m in graph.modules for d in graph.find_modules_directly_imported_by(m)}
    edges = {(a, b) for a, b in edges if a and b and a != b}
    circles = sorted((a, b) for a, b in edges if (b, a) in edges and a < b)
    assert circles == [], f"parts that import each other: {circles}"


def test_no_module_cycles_inside_the_lower_layers(graph):
    cycles = []
    for part in ("core", "engines", "data", "env"):
        modules = sorted(m for m in graph.modules if _part(m) == part)
        for m in modules:
            for d in graph.find_modules_directly_imported_by(m):
                if _part(d) == part and d != m and not d.startswith(m + ".") and not m.startswith(d + "."):
                    if graph.find_shortest_chain(importer=d, imported=m) is not None:
                        cycles.append(tuple(sorted((m, d))))
    assert sorted(set(cycles)) == [], f"import cycles: {sorted(set(cycles))}"


def _contract_layers() -> list[set[str]]:
    """The layers of the import contract in pyproject.toml, top first, as sets of modules."""
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return [{f"tracefix_rl.{name.strip().strip('()')}" for name in layer.split(":")} for layer in contract["layers"]]


def test_the_contract_names_every_part_in_the_order_of_the_readme():
    layers = _contract_layers()
    assert [sorted(m.split(".")[1] for m in layer) for layer in layers[1:]] == [["env"], ["data"], ["engines"], ["core"]]
    assert {m.split(".")[1] for layer in layers for m in layer} == set(PARTS) | {"graders"}


def test_the_contracts_layers_hold_and_an_upward_import_breaks_them(graph):
    layers = _contract_layers()

    def illegal(g: grimp.ImportGraph) -> set:
        present = tuple(grimp.Layer(*sorted(m.split(".", 1)[1] for m in layer if m in g.modules), independent=False)
                        for layer in layers)
        return g.find_illegal_dependencies_for_layers(layers=present, containers={"tracefix_rl"})

    assert illegal(graph) == set()
    graph = grimp.build_graph("tracefix_rl")  # a fresh one: the module's graph stays as built
    graph.add_import(importer="tracefix_rl.core.scoring", imported="tracefix_rl.env")
    assert illegal(graph), "an upward import went unnoticed"


def test_no_part_reaches_into_another_packages_private_modules(graph):
    """``_name`` modules are their package's business: others import what the package exports."""

    def owner_of_private(module: str) -> str | None:
        parts = module.split(".")
        for i, part in enumerate(parts):
            if part.startswith("_") and not part.startswith("__"):
                return ".".join(parts[:i])
        return None

    reaching = []
    for m in graph.modules:
        for d in graph.find_modules_directly_imported_by(m):
            owner = owner_of_private(d)
            if owner and owner != "tracefix_rl" and not (m == owner or m.startswith(owner + ".")):
                reaching.append(f"{m} -> {d}")
    assert sorted(reaching) == []
