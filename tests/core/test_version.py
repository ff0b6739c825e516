"""The version an operator sees is the one installed."""

from __future__ import annotations

from importlib.metadata import version

from typer.testing import CliRunner

from core.version import VERSION
from tanhui.cli import app


def test_the_version_is_the_installed_packages() -> None:
    assert version("tanhui") == VERSION


def test_tanhui_version_prints_it_and_exits() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"tanhui {VERSION}\n")
