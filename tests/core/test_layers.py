"""The house's floors: every import points down, never up and never sideways into a sibling,
and no module is part of an import circle. Read from the sources (every `import`, also those
inside functions), so a new module is held to the same order the day it is written."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Floors from the ground up. A package may import packages on lower floors only; packages on
# one floor do not import each other. Development fixtures (devkit) stand beside the product:
# only the command line above them (and tests and benchmarks) may use them.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("core",),  # settings, units, database, migrations, paths
    ("chain",),  # node, client, deployment, outbox, reconciliation
    ("registry",),  # ledger, events, indexer, queries
    ("oracle", "exchange"),  # monitoring data and attestation; matching and settlement
    ("api",),  # the HTTP API
    ("devkit",),  # development fixtures: roster, scenario, demo, sample data
    ("tanhui",),  # the command line and process wiring
)
FLOOR = {pkg: level for level, pkgs in enumerate(FLOORS) for pkg in pkgs}


def modules() -> Iterator[tuple[str, Path]]:
    for pkg in FLOOR:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic's scripts: loaded by path, not imported
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            yield ".".join(parts), path


def imports_of(path: Path, module: str) -> set[str]:
    """Every Tanhui module named by an import in the file (relative imports resolved)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m.split(".")[0] in FLOOR}


GRAPH = {name: imports_of(path, name) for name, path in modules()}
KNOWN = set(GRAPH)


def resolved(target: str) -> str | None:
    """The module an imported name lives in (`pkg.mod.Name` → `pkg.mod`)."""
    while target and target not in KNOWN:
        target = target.rpartition(".")[0]
    return target or None


EDGES = {m: {r for t in targets if (r := resolved(t)) is not None and r != m}
         for m, targets in GRAPH.items()}


def test_every_package_of_the_product_has_a_floor() -> None:
    tops = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert tops == set(FLOOR), "give every package a floor in FLOORS"


def not_below(module: str, targets: set[str]) -> list[str]:
    here = module.split(".")[0]
    return sorted(t for t in targets if t.split(".")[0] != here
                  and FLOOR[t.split(".")[0]] >= FLOOR[here])


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module: str) -> None:
    wrong = not_below(module, EDGES[module])
    assert not wrong, f"{module} imports {wrong}: not on a floor below it"


def test_no_module_is_in_an_import_circle() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(EDGES[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(EDGES):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_the_check_sees_upward_and_sideways_imports() -> None:
    """The check itself can fail: the ground floor importing the API, the exchange importing
    the oracle (same floor) and a product module importing development fixtures are caught."""
    assert not_below("core.config", {"api.app", "core.units"}) == ["api.app"]
    assert not_below("exchange.service", {"oracle.inbox", "chain.client"}) == ["oracle.inbox"]
    assert not_below("api.forwarding", {"devkit.roster"}) == ["devkit.roster"]
    assert not_below("tanhui.cli", {"devkit.demo", "api.app"}) == []
