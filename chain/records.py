"""Contract records by the names the contracts give them.

A struct a contract returns comes back from the node as a tuple; its field names are in the
compiled ABI (`outputs[…].components`). Each struct decodes into its typed record class of
`chain.structs` (generated from the same ABIs), chosen by the struct's ABI `internalType`, and
only when the class's fields are the ABI's, in the ABI's order: a field added, removed,
renamed or reordered in Solidity without regenerating is refused at the first read, never
silently read into the wrong name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from chain.structs import STRUCTS

Abi = Sequence[Mapping[str, Any]]
R = TypeVar("R")


class StaleRecord(TypeError):
    """The ABI's struct is not the one `chain.structs` was generated from."""


def outputs_of(abi: Abi, function: str) -> tuple[Mapping[str, Any], ...]:
    """The output parameters of the (single) function of that name."""
    found = [item for item in abi if item.get("type") == "function"
             and item.get("name") == function]
    if len(found) != 1:
        raise KeyError(f"{function}: {len(found)} functions of that name in the ABI")
    return tuple(found[0].get("outputs", ()))


def named(outputs: Sequence[Mapping[str, Any]], raw: Any) -> Any:
    """`raw` (what web3 returned for these outputs) with every struct as its record (nested
    structs too) and arrays as tuples. One output is the value itself; several are a dict by
    their names."""
    if len(outputs) == 1:
        return _value(outputs[0], raw)
    return {o["name"]: _value(o, v) for o, v in zip(outputs, raw, strict=True)}


def record_class(param: Mapping[str, Any]) -> type[Any]:
    """The record class of a struct parameter, checked against the parameter's components."""
    internal = str(param.get("internalType", "")).split("[", 1)[0]
    cls = STRUCTS.get(internal)
    if cls is None:
        raise StaleRecord(f"{internal or param.get('name')}: no record class in chain.structs "
                          "(run python -m chain.structs_gen)")
    names = tuple(str(c["name"]) for c in param["components"])
    if names != cls.ABI_NAMES:
        raise StaleRecord(f"{internal}: the ABI has fields {names}, chain.structs has "
                          f"{cls.ABI_NAMES} (run python -m chain.structs_gen)")
    return cls


def _value(param: Mapping[str, Any], raw: Any) -> Any:
    kind = str(param["type"])
    if kind.endswith("]"):
        element = {**param, "type": kind[: kind.rindex("[")]}
        return tuple(_value(element, v) for v in raw)
    if kind == "tuple":
        cls = record_class(param)
        return cls(*(_value(c, v) for c, v in zip(param["components"], raw, strict=True)))
    if kind == "bool":
        return bool(raw)
    if kind.startswith("bytes"):
        return bytes(raw)
    if kind.startswith(("uint", "int")):
        return int(raw)
    if kind in ("address", "string"):
        return str(raw)
    return raw


class Records:
    """Decodes the returns of one deployment's contracts into their typed records."""

    def __init__(self, abis: Mapping[str, Abi]) -> None:
        self._outputs: dict[tuple[str, str], tuple[Mapping[str, Any], ...]] = {}
        self._abis = abis

    def decode(self, contract: str, function: str, raw: Any) -> Any:
        key = (contract, function)
        outputs = self._outputs.get(key)
        if outputs is None:
            outputs = self._outputs[key] = outputs_of(self._abis[contract], function)
        return named(outputs, raw)

    def decode_as(self, cls: type[R], contract: str, function: str, raw: Any) -> R:
        """`decode`, for a function known to return one `cls` record."""
        record = self.decode(contract, function, raw)
        if not isinstance(record, cls):
            raise StaleRecord(f"{contract}.{function} returns {type(record).__name__}, "
                              f"not {cls.__name__}")
        return record
