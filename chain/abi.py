"""Decoding of custom errors and events straight from compiler ABIs.

Built once from all artifacts so any revert or log from any Tanhui contract (including the
OpenZeppelin errors they inherit) decodes to a name and named arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.codec import ABICodec
from eth_abi.decoding import StringDecoder
from eth_abi.registry import BaseEquals
from eth_abi.registry import registry as default_registry
from eth_utils import keccak

from chain.signatures import checksum


def abi_type(param: dict[str, Any]) -> str:
    """Canonical ABI type string of a parameter, expanding tuples."""
    t = str(param["type"])
    if t.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){t[5:]}"
    return t


def signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(abi_type(p) for p in item['inputs'])})"


def item_of(abi: list[dict[str, Any]], kind: str, name: str,
            inputs: int | None = None) -> dict[str, Any]:
    """The ABI entry of one function or event (`inputs` tells overloads apart)."""
    found = [i for i in abi if i.get("type") == kind and i.get("name") == name
             and (inputs is None or len(i.get("inputs", ())) == inputs)]
    if len(found) != 1:
        raise KeyError(f"{kind} {name}: {len(found)} entries in the ABI")
    return found[0]


def selector_of(abi: list[dict[str, Any]], name: str, inputs: int | None = None) -> bytes:
    """A function's 4-byte selector, from the compiled ABI rather than a typed-out signature."""
    return keccak(text=signature(item_of(abi, "function", name, inputs)))[:4]


def topic_of(abi: list[dict[str, Any]], name: str) -> str:
    """An event's topic 0 (0x-hex), from the compiled ABI."""
    return "0x" + keccak(text=signature(item_of(abi, "event", name))).hex()




def _normalize(value: Any, param: dict[str, Any]) -> Any:
    t = str(param["type"])
    if t == "address":
        return checksum(value)
    if t.startswith("bytes") and t != "bytes" and "[" not in t:
        return "0x" + bytes(value).hex()
    if t == "bytes":
        return "0x" + bytes(value).hex()
    if t == "tuple":
        comps = param["components"]
        return {c["name"]: _normalize(v, c) for v, c in zip(value, comps, strict=True)}
    if t.endswith("]"):
        elem = dict(param, type=t[: t.rindex("[")])
        return [_normalize(v, elem) for v in value]
    return value


@dataclass(frozen=True)
class DecodedError:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class DecodedEvent:
    name: str
    address: str
    args: dict[str, Any]
    block_number: int
    tx_hash: str
    log_index: int


class ErrorDecoder:
    """Maps 4-byte selectors of custom errors to their names and arguments."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        self._errors: dict[bytes, dict[str, Any]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") == "error":
                    self._errors[keccak(text=signature(item))[:4]] = item

    def decode(self, data: bytes) -> DecodedError | None:
        if len(data) < 4:
            return None
        if data[:4] == bytes.fromhex("08c379a0"):
            (msg,) = abi_decode(["string"], data[4:])
            return DecodedError("Error", {"message": msg})
        if data[:4] == bytes.fromhex("4e487b71"):
            (code,) = abi_decode(["uint256"], data[4:])
            return DecodedError("Panic", {"code": code})
        item = self._errors.get(data[:4])
        if item is None:
            return None
        values = abi_decode([abi_type(p) for p in item["inputs"]], data[4:])
        args = {p["name"]: _normalize(v, p) for v, p in zip(values, item["inputs"], strict=True)}
        return DecodedError(item["name"], args)


class _ReplacingStringDecoder(StringDecoder):
    """Decodes `string` values that are not valid UTF-8 (Solidity does not check) with U+FFFD
    replacement characters instead of failing."""

    def __init__(self) -> None:
        super().__init__(handle_string_errors="replace")


def _lenient_decode() -> Any:
    reg = default_registry.copy()
    reg.unregister_decoder("string")
    reg.register_decoder(BaseEquals("string"), _ReplacingStringDecoder, label="string")
    return ABICodec(reg).decode


# One-word static types as the compiler writes them (`bytes` alone is dynamic).
_STATIC = re.compile(r"address|bool|u?int\d*|bytes\d+")


def _word_decoder(t: str) -> Callable[[bytes], Any]:
    """Decoder of one 32-byte word of static type `t`, giving what eth_abi + _normalize give
    for canonical input and raising ValueError otherwise (the caller then defers to eth_abi)."""
    if t == "address":
        def address(w: bytes) -> Any:
            if any(w[:12]):
                raise ValueError(t)
            return checksum("0x" + w[12:].hex())
        return address
    if t == "bool":
        def boolean(w: bytes) -> Any:
            v = int.from_bytes(w, "big")
            if v > 1:
                raise ValueError(t)
            return v == 1
        return boolean
    if t.startswith("bytes"):
        n = int(t[5:])

        def fixed_bytes(w: bytes) -> Any:
            if any(w[n:]):
                raise ValueError(t)
            return "0x" + w[:n].hex()
        return fixed_bytes
    signed = t.startswith("int")
    bits = int(t[3 if signed else 4:] or 256)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)

    def integer(w: bytes) -> Any:
        v = int.from_bytes(w, "big", signed=signed)
        if not low <= v < high:
            raise ValueError(t)
        return v
    return integer


class _EventSpec:
    def __init__(self, item: dict[str, Any]) -> None:
        self.name: str = item["name"]
        self.indexed = [p for p in item["inputs"] if p.get("indexed")]
        self.data = [p for p in item["inputs"] if not p.get("indexed")]
        self.data_types = [abi_type(p) for p in self.data]
        self.order = [p["name"] for p in item["inputs"]]
        # Events whose every argument is one static word (most of them: transfers, statuses)
        # decode word by word without eth_abi, which dominates an indexer's time otherwise.
        types = [abi_type(p) for p in self.indexed] + self.data_types
        self.words: list[tuple[str, Callable[[bytes], Any]]] | None = (
            [(p["name"], _word_decoder(t)) for p, t in zip(self.indexed + self.data, types,
                                                          strict=True)]
            if all(_STATIC.fullmatch(t) for t in types)
            else None
        )

    def decode_words(self, topics: list[bytes], data: bytes) -> dict[str, Any] | None:
        assert self.words is not None
        n = len(self.indexed)
        if len(topics) != n + 1 or len(data) != 32 * len(self.data):
            return None
        words = topics[1:] + [data[i : i + 32] for i in range(0, len(data), 32)]
        try:
            values = {name: dec(w) for (name, dec), w in zip(self.words, words, strict=True)}
        except ValueError:
            return None
        return {k: values[k] for k in self.order}


class EventDecoder:
    """Decodes raw logs by topic0; unknown topics return None.

    With `lenient_strings`, invalid UTF-8 in `string` arguments decodes with replacement
    characters rather than raising, so a consumer that must process every log (the indexer)
    cannot be stalled by one crafted string.
    """

    def __init__(
        self, abis: Iterable[list[dict[str, Any]]], lenient_strings: bool = False
    ) -> None:
        self._abi_decode: Any = _lenient_decode() if lenient_strings else abi_decode
        self._specs: dict[bytes, _EventSpec] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") == "event" and not item.get("anonymous"):
                    self._specs[keccak(text=signature(item))] = _EventSpec(item)

    def topic(self, name: str) -> str:
        for t, spec in self._specs.items():
            if spec.name == name:
                return "0x" + t.hex()
        raise KeyError(name)

    def decode(self, log: dict[str, Any]) -> DecodedEvent | None:
        topics = [bytes(t) for t in log["topics"]]
        if not topics:
            return None
        spec = self._specs.get(topics[0])
        if spec is None:
            return None
        fast = spec.decode_words(topics, bytes(log["data"])) if spec.words is not None else None
        args: dict[str, Any] = fast if fast is not None else self._decode_args(spec, topics, log)
        tx_hash = log["transactionHash"]
        return DecodedEvent(
            name=spec.name,
            address=checksum(log["address"]),
            args=args,
            block_number=int(log["blockNumber"]),
            tx_hash=tx_hash if isinstance(tx_hash, str) else "0x" + bytes(tx_hash).hex(),
            log_index=int(log["logIndex"]),
        )

    def _decode_args(
        self, spec: _EventSpec, topics: list[bytes], log: dict[str, Any]
    ) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for param, topic in zip(spec.indexed, topics[1:], strict=True):
            t = abi_type(param)
            if t in ("string", "bytes") or t.startswith("(") or t.endswith("]"):
                args[param["name"]] = "0x" + topic.hex()  # hashed
            else:
                (v,) = abi_decode([t], topic)
                args[param["name"]] = _normalize(v, param)
        if spec.data:
            values = self._abi_decode(spec.data_types, bytes(log["data"]))
            for param, v in zip(spec.data, values, strict=True):
                args[param["name"]] = _normalize(v, param)
        return {k: args[k] for k in spec.order}
