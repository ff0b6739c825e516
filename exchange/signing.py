"""EIP-712 orders: the exact typed message traders sign and the Settlement contract checks.

The type (also `Settlement.ORDER_TYPEHASH`):

    Order(address trader,uint8 side,uint64 instrument,uint64 batchId,uint128 price,
          uint128 quantity,uint16 maxFeeBps,uint8 timeInForce,uint64 nonce,uint64 expiry,
          bytes32 clientOrderId,uint64 retireFor)

side 0 buy, 1 sell; batchId the batch a sell delivers (required), or the one batch a buy
accepts (0: any the instrument admits); price in fen per tonne; quantity in credit units
(1 t = 1,000,000); maxFeeBps the most fee the trader agrees to pay, in basis points of the
fill's value (the contract charges the exchange's fee for the side, never more than this);
timeInForce 0 GTC, 1 IOC, 2 FOK (an instruction to the matching engine: the contract cannot
know when a trade was matched, and bounds settlement by `expiry` only); nonce unique per trader
(a nonce names one order: the exchange refuses a reused one, the contract settles one order per
nonce and cancelling an order voids its nonce); expiry in unix seconds; clientOrderId the
trader's own 32-byte id; retireFor, for a buy, the ecological-compensation order its purchase is
retired for on delivery (0: delivered to the buyer as usual; a sell signs 0): settlement burns
the seller's credits and records the retirement as the buyer's, counted toward that order, so a
tonne bought for an order never sits in the buyer's balance. Domain: name "Tanhui Settlement",
version "3" (version 2 signed no retireFor), the chain id and the Settlement contract's address.

Signing uses eth-account's `sign_typed_data`, so any EIP-712 wallet produces the same bytes;
`order_digest` computes the same digest directly (keccak over abi-encoded words), fast enough
to check thousands of orders a second, and is tested against eth-account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from chain.eip712 import Field, MessageType, digest
from chain.signatures import checksum, recover
from exchange.orders import Side, TimeInForce

ORDER = MessageType("Order", (
    Field("trader", "address", "trader"),
    Field("side", "uint8", "side"),
    Field("instrument", "uint64", "instrument"),
    Field("batchId", "uint64", "batch_id"),
    Field("price", "uint128", "price"),
    Field("quantity", "uint128", "quantity"),
    Field("maxFeeBps", "uint16", "max_fee_bps"),
    Field("timeInForce", "uint8", "time_in_force"),
    Field("nonce", "uint64", "nonce"),
    Field("expiry", "uint64", "expiry"),
    Field("clientOrderId", "bytes32", "client_order_id"),
    Field("retireFor", "uint64", "retire_for"),
))
ORDER_TYPE, ORDER_TYPEHASH, ORDER_FIELDS = ORDER.encode_type, ORDER.typehash, ORDER.types
# An off-chain request to cancel one resting order, signed under the same domain by the order's
# trader: traders with their own keys cancel without an API key. Replaying it is harmless (an
# order is cancelled once); it names the order by its EIP-712 hash, which is unique.
CANCEL = MessageType("CancelOrder", (Field("orderHash", "bytes32", "order_hash"),))
CANCEL_TYPE, CANCEL_TYPEHASH, CANCEL_FIELDS = CANCEL.encode_type, CANCEL.typehash, CANCEL.types
# A member's consent that whoever presents it reads its own orders, fills and cash until
# `expiry` (unix seconds): how a trader with its own key and no API key authenticates its reads
# (`X-Read-Token`, api/read_access.py). Same domain as orders; a different type, so it can
# never be taken for an order or a cancel.
READ = MessageType("ReadAccount", (Field("account", "address", "account"),
                                   Field("expiry", "uint64", "expiry")))
READ_TYPE, READ_FIELDS = READ.encode_type, READ.types
DOMAIN_NAME = "Tanhui Settlement"
DOMAIN_VERSION = "3"


@dataclass(frozen=True)
class Domain:
    chain_id: int
    settlement: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": self.chain_id,
                "verifyingContract": to_checksum_address(self.settlement)}

    @cached_property
    def separator(self) -> bytes:
        return keccak(encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [keccak(text="EIP712Domain(string name,string version,uint256 chainId,"
                         "address verifyingContract)"),
             keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION), self.chain_id,
             to_checksum_address(self.settlement)]))


@dataclass(frozen=True)
class Order:
    """An order as signed (the fields of the EIP-712 message; `batch_id`, `max_fee_bps` and
    `retire_for` come last here, with defaults, and in their signed places in the message)."""

    trader: str
    side: Side
    instrument: int
    price: int
    quantity: int
    time_in_force: TimeInForce
    nonce: int
    expiry: int
    client_order_id: bytes = field(default=bytes(32))
    batch_id: int = 0
    max_fee_bps: int = 0
    retire_for: int = 0  # a buy's compensation order (0: delivered to the buyer)

    def __post_init__(self) -> None:
        """Side and time in force are their enums however the order was built (a signed
        uint8 each; a value out of range is refused here, before any check or signature)."""
        if type(self.side) is not Side:
            object.__setattr__(self, "side", Side(self.side))
        if type(self.time_in_force) is not TimeInForce:
            object.__setattr__(self, "time_in_force", TimeInForce(self.time_in_force))

    def message(self) -> dict[str, Any]:
        return ORDER.message(self)

    def as_tuple(self) -> tuple[Any, ...]:
        """The Solidity struct, for contract calls."""
        return ORDER.as_tuple(self)

    def struct_hash(self) -> bytes:
        """keccak256(abi.encode(ORDER_TYPEHASH, fields...)): every field is one static 32-byte
        word, so the encoding is written directly (eth-abi gives the same bytes, slower)."""
        return ORDER.static_struct_hash(self)

    def to_json(self) -> dict[str, Any]:
        """The order as the journal and the API spell it: attribute names, the client order id
        as 0x-hex."""
        return {a: ("0x" + self.client_order_id.hex() if a == "client_order_id"
                    else getattr(self, a)) for a in ORDER.attrs}

    @classmethod
    def from_json(cls, o: Mapping[str, Any]) -> Order:
        """The inverse of `to_json` (the trader checksummed; a client order id with or without
        its 0x; an order written before orders signed `retire_for` reads as 0)."""
        coid = str(o["client_order_id"])
        return cls(checksum(o["trader"]), Side(int(o["side"])), int(o["instrument"]),
                   int(o["price"]), int(o["quantity"]), TimeInForce(int(o["time_in_force"])),
                   int(o["nonce"]), int(o["expiry"]),
                   bytes.fromhex(coid[2:] if coid.startswith("0x") else coid),
                   batch_id=int(o["batch_id"]), max_fee_bps=int(o["max_fee_bps"]),
                   retire_for=int(o.get("retire_for") or 0))


def typed_data(order: Order, domain: Domain) -> dict[str, Any]:
    """The full EIP-712 document (what a wallet shows and signs)."""
    return ORDER.document(domain.as_dict(), order.message())


def order_digest(order: Order, domain: Domain) -> bytes:
    """The EIP-712 digest (what the contract's `hashOrder` returns)."""
    return digest(domain.separator, order.struct_hash())


def compact(signature: bytes) -> tuple[bytes, bytes]:
    """A 65-byte (r, s, v) signature as EIP-2098 (r, vs), the form Settlement takes: 64 bytes
    of calldata instead of a dynamic 65-byte string. `vs` = s with v − 27 in its top bit (s is
    in the lower half of the curve order, so that bit is free)."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        # not a signature the contract accepts: pass it on so settlement refuses it
        return signature[:32].ljust(32, b"\0"), signature[32:64].ljust(32, b"\0")
    s = int.from_bytes(signature[32:64], "big") | (signature[64] - 27) << 255
    return signature[:32], s.to_bytes(32, "big")


def sign_order(account: LocalAccount, order: Order, domain: Domain) -> bytes:
    signed = Account.sign_typed_data(account.key, full_message=typed_data(order, domain))
    return bytes(signed.signature)


def recover_signer(order: Order, signature: bytes, domain: Domain,
                   digest: bytes | None = None) -> str | None:
    """The address that signed `order`, or None for a signature the contract would refuse
    (wrong length, v not 27/28, s in the upper half: OpenZeppelin's ECDSA rules)."""
    return recover(digest if digest is not None else order_digest(order, domain), signature)


def cancel_digest(order_hash: bytes, domain: Domain) -> bytes:
    """The EIP-712 digest of CancelOrder(orderHash)."""
    return digest(domain.separator, keccak(CANCEL_TYPEHASH + order_hash))


def cancel_typed_data(order_hash: bytes, domain: Domain) -> dict[str, Any]:
    """The EIP-712 document of a cancel request (what a wallet shows and signs)."""
    return CANCEL.document(domain.as_dict(), {"orderHash": order_hash})


def sign_cancel(account: LocalAccount, order_hash: bytes, domain: Domain) -> bytes:
    signed = Account.sign_typed_data(account.key,
                                     full_message=cancel_typed_data(order_hash, domain))
    return bytes(signed.signature)


def read_typed_data(account: str, expiry: int, domain: Domain) -> dict[str, Any]:
    """The EIP-712 document of a read token (what a wallet shows and signs)."""
    return READ.document(domain.as_dict(), {"account": to_checksum_address(account),
                                            "expiry": expiry})


@dataclass(frozen=True)
class _Read:
    account: str
    expiry: int


def read_signer(account: str, expiry: int, signature: bytes, domain: Domain) -> str | None:
    """Who signed ReadAccount(account, expiry), by the codebase's one recovery (its rules:
    chain/signatures.py); None for bytes that are no signature the contracts would accept."""
    if not 0 <= expiry < 2**64:
        return None
    return recover(digest(domain.separator, READ.static_struct_hash(_Read(account, expiry))),
                   signature)


def sign_read(account: LocalAccount, expiry: int, domain: Domain) -> bytes:
    signed = Account.sign_typed_data(
        account.key, full_message=read_typed_data(account.address, expiry, domain))
    return bytes(signed.signature)


def signable(order: Order, domain: Domain) -> Any:
    """eth-account's SignableMessage of the order (for wallets and cross-checks)."""
    return encode_typed_data(full_message=typed_data(order, domain))
