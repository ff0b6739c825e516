"""Contract records by the names the contracts give them.

A struct a contract returns comes back from the node as a tuple; its field names are in the
compiled ABI (`outputs[…].components`). Decoding by those names, instead of by field lists
typed out beside the contracts, means a field added, removed or reordered in Solidity is seen
at once: the record has the new shape, and nothing is silently read into the wrong name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Abi = Sequence[Mapping[str, Any]]


def outputs_of(abi: Abi, function: str) -> tuple[Mapping[str, Any], ...]:
    """The output parameters of the (single) function of that name."""
    found = [item for item in abi if item.get("type") == "function"
             and item.get("name") == function]
    if len(found) != 1:
        raise KeyError(f"{function}: {len(found)} functions of that name in the ABI")
    return tuple(found[0].get("outputs", ()))


def named(outputs: Sequence[Mapping[str, Any]], raw: Any) -> Any:
    """`raw` (what web3 returned for these outputs) with every struct as a dict of its
    component names, nested structs too. One unnamed struct output is the record itself."""
    if len(outputs) == 1:
        return _value(outputs[0], raw)
    return {o["name"]: _value(o, v) for o, v in zip(outputs, raw, strict=True)}


def _value(param: Mapping[str, Any], raw: Any) -> Any:
    kind = str(param["type"])
    if kind == "tuple":
        return {c["name"]: _value(c, v) for c, v in zip(param["components"], raw, strict=True)}
    if kind.startswith("tuple["):
        element = {**param, "type": "tuple"}
        return [_value(element, v) for v in raw]
    return raw


class Records:
    """Decodes the returns of one deployment's contracts by their ABI names."""

    def __init__(self, abis: Mapping[str, Abi]) -> None:
        self._outputs: dict[tuple[str, str], tuple[Mapping[str, Any], ...]] = {}
        self._abis = abis

    def decode(self, contract: str, function: str, raw: Any) -> Any:
        key = (contract, function)
        outputs = self._outputs.get(key)
        if outputs is None:
            outputs = self._outputs[key] = outputs_of(self._abis[contract], function)
        return named(outputs, raw)
