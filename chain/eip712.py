"""One field table per signed message: the single spelling of what a signer signs.

Each EIP-712 message Tanhui uses (Order, CancelOrder, ReadAccount, ForwardRequest,
ForwardOrder) is written
once, as a table of (signed name, Solidity type, Python attribute). From it come the type
string and its hash (what the contract's `*_TYPEHASH` must equal), the `types` member of the
EIP-712 document a wallet signs, the message of a Python object, the tuple a contract call
takes, and the struct hash of a message of static fields. The tests check each table against
the contract that verifies it (type hash and struct field names) and against the API model
that accepts it, so the spellings cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_utils import keccak, to_checksum_address

# The domain type every Tanhui contract uses (OpenZeppelin's EIP712 without salt)
EIP712_DOMAIN_FIELDS: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


@dataclass(frozen=True)
class Field:
    name: str  # as signed (and as the Solidity struct names it)
    type: str  # Solidity type
    attr: str  # the Python attribute that holds it


@dataclass(frozen=True)
class MessageType:
    """An EIP-712 struct type, from its field table."""

    name: str
    fields: tuple[Field, ...]

    @cached_property
    def encode_type(self) -> str:
        return f"{self.name}({','.join(f'{f.type} {f.name}' for f in self.fields)})"

    @cached_property
    def typehash(self) -> bytes:
        return keccak(text=self.encode_type)

    @cached_property
    def types(self) -> list[dict[str, str]]:
        """The type's member list as an EIP-712 document's `types` carries it."""
        return [{"name": f.name, "type": f.type} for f in self.fields]

    @cached_property
    def attrs(self) -> tuple[str, ...]:
        return tuple(f.attr for f in self.fields)

    def message(self, obj: Any) -> dict[str, Any]:
        """The EIP-712 message of `obj` (addresses checksummed)."""
        return {f.name: _signed_value(f.type, getattr(obj, f.attr)) for f in self.fields}

    def as_tuple(self, obj: Any) -> tuple[Any, ...]:
        """`obj` as the Solidity struct a contract call takes, in field order."""
        return tuple(_signed_value(f.type, getattr(obj, f.attr)) for f in self.fields)

    @cached_property
    def _words(self) -> tuple[tuple[str, int], ...]:
        """(attribute, how it becomes a word) per field: 0 address, 1 bytes32, 2 uint."""
        plan = []
        for f in self.fields:
            if f.type == "address":
                plan.append((f.attr, 0))
            elif f.type == "bytes32":
                plan.append((f.attr, 1))
            elif f.type.startswith("uint"):
                plan.append((f.attr, 2))
            else:
                raise TypeError(f"{self.name}.{f.name}: {f.type} is not a one-word type")
        return tuple(plan)

    def static_struct_hash(self, obj: Any) -> bytes:
        """keccak256(abi.encode(TYPEHASH, fields…)) for a type whose fields are all static
        one-word values (addresses, uintN, bytes32): the words are written directly, which is
        several times faster than a general encoder and gives the same bytes."""
        words = [self.typehash]
        for attr, kind in self._words:
            v = getattr(obj, attr)
            if kind == 2:
                words.append(v.to_bytes(32, "big"))
            elif kind == 0:
                words.append(int(v, 16).to_bytes(32, "big"))
            elif len(v) != 32:
                raise ValueError(f"{attr} must be 32 bytes")
            else:
                words.append(bytes(v))
        return keccak(b"".join(words))

    def document(self, domain: Mapping[str, Any], message: Mapping[str, Any]) -> dict[str, Any]:
        """The full EIP-712 document a wallet shows and signs."""
        return {"types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, self.name: self.types},
                "primaryType": self.name, "domain": dict(domain), "message": dict(message)}


# ForwardMarket.FORWARD_ORDER_TYPEHASH: side 0 buy, 1 sell; price in fen per tonne; quantity in
# contracts. No fee is charged on forwards, so none is signed.
FORWARD_ORDER = MessageType("ForwardOrder", (
    Field("trader", "address", "trader"),
    Field("side", "uint8", "side"),
    Field("contractId", "uint64", "contract_id"),
    Field("price", "uint64", "price"),
    Field("quantity", "uint64", "quantity"),
    Field("nonce", "uint64", "nonce"),
    Field("expiry", "uint64", "expiry"),
))


def domain_separator(name: str, version: str, chain_id: int, contract: str) -> bytes:
    """The EIP-712 domain separator of a Tanhui contract (OpenZeppelin's EIP712, no salt)."""
    type_hash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,"
                            "address verifyingContract)")
    return keccak(type_hash + keccak(text=name) + keccak(text=version)
                  + chain_id.to_bytes(32, "big") + bytes(12) + bytes.fromhex(contract[2:]))


def digest(separator: bytes, struct_hash: bytes) -> bytes:
    """The EIP-712 digest that is signed: keccak256(0x1901 ‖ domain separator ‖ struct hash)."""
    return keccak(b"\x19\x01" + separator + struct_hash)


def _signed_value(kind: str, value: Any) -> Any:
    return to_checksum_address(value) if kind == "address" else value
