"""Compile the Solidity sources with solc-js (through py-solc-x) and cache the artifacts.

The cache key covers every source file, the compiler settings and the OpenZeppelin version, so
an unchanged tree never recompiles and any change always does.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx
from eth_utils import keccak

from core.paths import BUILD_DIR, CONTRACTS_DIR, NODE_MODULES, ROOT, SOLC_SHIM


@dataclass(frozen=True)
class Artifact:
    """ABI and bytecode of one compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    immutable_ranges: list[list[int]]

    def code_hash(self, runtime_code: bytes | None = None) -> str:
        """keccak of runtime code with immutable slots zeroed, so on-chain code (whose immutables
        are filled in at deployment) can be compared with the compiler's output."""
        code = bytearray(
            runtime_code if runtime_code is not None else bytes.fromhex(self.deployed_bytecode[2:])
        )
        for start, length in self.immutable_ranges:
            code[start : start + length] = bytes(length)
        return "0x" + keccak(bytes(code)).hex()


# Bump when the cached artifact layout changes.
ARTIFACT_FORMAT = "tanhui-artifacts-2"


class CompileError(RuntimeError):
    """solc reported errors."""


def compiler_config() -> dict[str, Any]:
    with (CONTRACTS_DIR / "compiler.json").open() as f:
        config: dict[str, Any] = json.load(f)
    return config


def _sources() -> dict[str, str]:
    return {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(CONTRACTS_DIR.rglob("*.sol"))
    }


def _oz_version() -> str:
    pkg = NODE_MODULES / "@openzeppelin" / "contracts" / "package.json"
    return str(json.loads(pkg.read_text())["version"]) if pkg.exists() else "missing"


def source_hash() -> str:
    """Hash of everything that determines the compiler output."""
    h = hashlib.sha256(ARTIFACT_FORMAT.encode())
    h.update(json.dumps(compiler_config(), sort_keys=True).encode())
    h.update(_oz_version().encode())
    for path, text in _sources().items():
        h.update(path.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()


def _standard_input(sources: dict[str, str]) -> dict[str, Any]:
    settings = dict(compiler_config()["settings"])
    settings["outputSelection"] = {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.immutableReferences",
            ]
        }
    }
    return {
        "language": "Solidity",
        "sources": {path: {"content": text} for path, text in sources.items()},
        "settings": settings,
    }


def _run_solc(standard_input: dict[str, Any]) -> dict[str, Any]:
    os.environ.setdefault("TANHUI_ROOT", str(ROOT))
    try:
        output: dict[str, Any] = solcx.compile_standard(
            standard_input, solc_binary=SOLC_SHIM, allow_empty=True
        )
    except solcx.exceptions.SolcError as exc:
        raise CompileError(exc.message) from None
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    return output


def compile_contracts(force: bool = False) -> dict[str, Artifact]:
    """Artifacts of every deployable contract under contracts/, keyed by contract name."""
    key = source_hash()
    cache = BUILD_DIR / "contracts" / f"{key}.json"
    if cache.exists() and not force:
        raw = json.loads(cache.read_text())
    else:
        output = _run_solc(_standard_input(_sources()))
        raw = {}
        for path, contracts in output["contracts"].items():
            if not path.startswith("contracts/"):
                continue
            for name, c in contracts.items():
                code = c["evm"]["bytecode"]["object"]
                if not code or not c["abi"]:
                    continue  # interfaces, abstract contracts and libraries
                raw[name] = {
                    "abi": c["abi"],
                    "bytecode": "0x" + code,
                    "deployed_bytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
                    "immutable_ranges": [
                        [ref["start"], ref["length"]]
                        for refs in c["evm"]["deployedBytecode"]
                        .get("immutableReferences", {})
                        .values()
                        for ref in refs
                    ],
                }
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cache.parent, delete=False) as tmp:
            json.dump(raw, tmp)
        Path(tmp.name).replace(cache)
    return {name: Artifact(name=name, **fields) for name, fields in raw.items()}
