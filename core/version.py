"""The product's version, as installed (pyproject.toml): shown by `tanhui --version`, /health
and the API's OpenAPI document, so an operator knows which build answers."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def product_version() -> str:
    try:
        return version("tanhui")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


VERSION = product_version()
