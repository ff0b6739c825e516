"""Reproducible installs: every package the product imports is declared in pyproject.toml,
and the setup installed exactly the versions requirements.lock pins."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import distributions, packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("core", "chain", "registry", "exchange", "oracle", "api", "tanhui", "devkit")


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement string."""
    base = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", base).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"]}


def imported_modules() -> set[str]:
    """Top-level modules the product's own packages import (anywhere in a module)."""
    found: set[str] = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(PRODUCT) - set(sys.stdlib_module_names) - {"__future__"}


def test_every_package_the_product_imports_is_declared() -> None:
    owners = packages_distributions()
    undeclared = {}
    for module in sorted(imported_modules()):
        dists = {_name(d) for d in owners.get(module, [])}
        assert dists, f"{module} is imported but no installed distribution provides it"
        if not dists & declared():
            undeclared[module] = sorted(dists)
    assert undeclared == {}, f"imported but not declared in pyproject.toml: {undeclared}"


def test_the_setup_installed_the_locked_versions() -> None:
    locked = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            locked[_name(name)] = version
    installed = {_name(d.metadata["Name"]): d.version for d in distributions()
                 if _name(d.metadata["Name"]) not in ("tanhui", "pip", "setuptools")}
    assert {n: v for n, v in installed.items() if locked.get(n) != v} == {}, (
        "installed versions differ from requirements.lock: run scripts/lock, then "
        "scripts/bootstrap")
