"""Writes `chain/structs.py`: one typed record class per struct the contracts' functions use.

The classes are derived from the compiled ABIs (the same artifacts the deployments use), so
the Python names of a record's fields are the contract's own, in snake_case, and mypy checks
every read of them. A struct changed in Solidity and not regenerated fails the freshness test
(tests/chain/test_structs_gen.py) and, at run time, the first decode of that struct
(`chain.records`), instead of being read into the wrong fields.

    python -m chain.structs_gen          # rewrite chain/structs.py
    python -m chain.structs_gen --check  # exit 1 if it is not what the contracts give
"""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.compile import Artifact, compile_contracts
from chain.deploy import CONTRACTS

TARGET = Path(__file__).with_name("structs.py")

_INT = re.compile(r"u?int\d*")
_FIXED_BYTES = re.compile(r"bytes\d+")
_ARRAY = re.compile(r"(.*)\[(\d*)\]")


def snake_case(name: str) -> str:
    """`merkleRoot` -> `merkle_root`, `latitudeE6` -> `latitude_e6`, `areaM2` -> `area_m2`."""
    out = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return out + "_" if keyword.iskeyword(out) else out


@dataclass(frozen=True)
class Field:
    abi_name: str
    name: str
    annotation: str
    to_json: str  # expression giving the field's camelCase JSON value from `self`
    to_abi: str  # expression giving the field's ABI value from `self`


@dataclass(frozen=True)
class Struct:
    internal_type: str  # `struct MonitoringReports.Report`
    name: str  # Python class name
    fields: tuple[Field, ...]


def _struct_name(param: Mapping[str, Any]) -> str:
    """The struct's internalType with any array suffix removed."""
    internal = str(param.get("internalType", ""))
    if not internal.startswith("struct "):
        raise ValueError(f"{param.get('name')}: a tuple without a struct internalType")
    return internal.split("[", 1)[0]


class _Collector:
    def __init__(self) -> None:
        self.structs: dict[str, Struct] = {}  # by internalType, dependencies first
        self._names: dict[str, str] = {}

    def class_name(self, internal_type: str) -> str:
        name = self._names.get(internal_type)
        if name is None:
            scope, _, short = internal_type.removeprefix("struct ").rpartition(".")
            name = short if short not in self._names.values() else scope + short
            self._names[internal_type] = name
        return name

    def add(self, param: Mapping[str, Any]) -> str:
        """Registers the struct of a tuple parameter (nested ones first); its class name."""
        internal = _struct_name(param)
        if internal not in self.structs:
            fields = tuple(self._field(c) for c in param["components"])
            self.structs[internal] = Struct(internal, self.class_name(internal), fields)
        return self.structs[internal].name

    def _field(self, param: Mapping[str, Any]) -> Field:
        name = snake_case(str(param["name"]))
        annotation, json_of, abi_of = self._type(param, str(param["type"]))
        return Field(str(param["name"]), name, annotation, json_of(f"self.{name}"),
                     abi_of(f"self.{name}"))

    def _type(self, param: Mapping[str, Any], kind: str) -> tuple[str, Any, Any]:
        """Python annotation of an ABI type, and how its JSON and its ABI value are made from
        an expression of it."""
        array = _ARRAY.fullmatch(kind)
        if array:
            inner, inner_json, inner_abi = self._type(param, array.group(1))
            var = f"v{kind.count('[')}"
            return (f"tuple[{inner}, ...]",
                    lambda e: f"[{inner_json(var)} for {var} in {e}]",
                    lambda e: f"tuple({inner_abi(var)} for {var} in {e})")
        if kind == "tuple":
            return self.add(param), lambda e: f"{e}.to_json()", lambda e: f"{e}.to_abi()"
        if kind == "bool":
            python = "bool"
        elif kind in ("address", "string"):
            python = "str"
        elif kind == "bytes" or _FIXED_BYTES.fullmatch(kind):
            python = "bytes"
        elif _INT.fullmatch(kind):
            python = "int"
        else:
            raise ValueError(f"{param.get('name')}: ABI type {kind} has no Python type here")
        return python, lambda e: e, lambda e: e


def function_structs(abis: Iterable[Sequence[Mapping[str, Any]]]) -> list[Struct]:
    """Every struct a function takes or a view (or pure) function returns, nested structs
    before their users."""
    collector = _Collector()
    for abi in abis:
        for item in abi:
            if item.get("type") != "function":
                continue
            params = list(item.get("inputs", ()))
            if item.get("stateMutability") in ("view", "pure"):
                params += item.get("outputs", ())
            for param in params:
                if str(param["type"]).startswith("tuple"):
                    collector.add(param)
    return list(collector.structs.values())


HEADER = '''"""The structs the Tanhui contracts' functions take and return, as typed records.

Generated by `python -m chain.structs_gen` from the compiled ABIs: do not edit by hand.
Field names are the contract's own in snake_case, in the contract's order; `ABI_NAMES` are the
names as the ABI spells them (`chain.records` refuses an ABI whose names differ). `to_json()`
gives the record keyed by them, as the contract would; `to_abi()` gives the tuple a call takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
'''


def _class_source(struct: Struct) -> str:
    names = ", ".join(f'"{f.abi_name}"' for f in struct.fields)
    if len(struct.fields) == 1:
        names += ","
    lines = [
        "",
        "",
        "@dataclass(frozen=True, slots=True)",
        f"class {struct.name}:",
        f'    """`{struct.internal_type}`."""',
        "",
        f'    ABI_TYPE: ClassVar[str] = "{struct.internal_type}"',
        *_wrapped(f"    ABI_NAMES: ClassVar[tuple[str, ...]] = ({names})"),
        "",
        *(f"    {f.name}: {f.annotation}" for f in struct.fields),
        "",
        "    def to_json(self) -> dict[str, Any]:",
        "        return {",
        *(f'            "{f.abi_name}": {f.to_json},' for f in struct.fields),
        "        }",
        "",
        "    def to_abi(self) -> tuple[Any, ...]:",
        "        return (",
        *(f"            {f.to_abi}," for f in struct.fields),
        "        )",
    ]
    return "\n".join(lines) + "\n"


def _wrapped(line: str, width: int = 100) -> list[str]:
    """A tuple-of-strings assignment, broken over lines when it is too long for one."""
    if len(line) <= width:
        return [line]
    head, _, body = line.partition("(")
    out, current = [head + "("], "       "
    for item in body.removesuffix(")").removesuffix(",").split(", "):
        if len(current) + len(item) + 2 > width:
            out.append(current)
            current = "       "
        current += f" {item},"
    return [*out, current, "    )"]


def source(artifacts: Mapping[str, Artifact]) -> str:
    """The text of chain/structs.py for these compiled contracts."""
    structs = function_structs(artifacts[name].abi for name in CONTRACTS)
    registry = [
        "",
        "",
        "# Every record class by the struct's ABI internalType.",
        "STRUCTS: dict[str, type[Any]] = {",
        *(f"    {s.name}.ABI_TYPE: {s.name}," for s in structs),
        "}",
    ]
    return HEADER + "".join(_class_source(s) for s in structs) + "\n".join(registry) + "\n"


def main(argv: Sequence[str]) -> int:
    text = source(compile_contracts())
    if "--check" in argv:
        if TARGET.read_text() != text:
            print(f"{TARGET} is stale: run python -m chain.structs_gen", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
