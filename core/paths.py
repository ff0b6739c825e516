"""Where the project's sources, node packages and generated files live."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("TANHUI_ROOT", Path(__file__).resolve().parent.parent))
CONTRACTS_DIR = ROOT / "contracts"
NODE_MODULES = ROOT / "node_modules"
BUILD_DIR = ROOT / "build"
SOLC_SHIM = ROOT / "chain" / "solcjs" / "solc"
