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


def test_the_contract_catches_an_upward_import(tmp_path):
    """A module of the core that imported the environment would break the layers contract."""
    graph = grimp.build_graph("tracefix_rl")
    graph.add_import(importer="tracefix_rl.core.scoring", imported="tracefix_rl.env")
    chains = graph.find_illegal_dependencies_for_layers(layers=("tracefix_rl.env", "tracefix_rl.core"))
    assert chains, "an upward import went unnoticed"


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
