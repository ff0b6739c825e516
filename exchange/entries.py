"""The exchange journal's entries, typed: one class per kind, and the one spelling of each on disk.

    service (a command) ─► entry ─► encode ─► journal.write ─► state.apply(entry)
    journal.entries ─► decode ─► state.apply(entry)                     (replay)

The live path applies the entry object it built, so nothing is parsed back from JSON while an
order waits; replay decodes the same JSON into the same objects, so live and replay run one
code path (state.py). Each class spells itself (`to_json`) and reads itself (`from_json`)
exactly as format 2 of the journal has always been written, so existing journals replay
unchanged; `JOURNAL_FORMAT` is the version a new journal's first entry records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from chain.signatures import checksum
from exchange.instruments import CreditClass, InstrumentClass, InstrumentSpec, Status, TicketClass
from exchange.signing import Order

JOURNAL_FORMAT = 2

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Signed:
    """A signed order as its trader sent it."""

    order: Order
    signature: bytes

    def to_json(self) -> Json:
        return {"signature": "0x" + self.signature.hex(), "order": self.order.to_json()}

    @classmethod
    def from_json(cls, raw: Json) -> Signed:
        return cls(Order.from_json(raw["order"]), bytes.fromhex(raw["signature"][2:]))


@dataclass(frozen=True, slots=True)
class JournalFormat:
    """The first entry: the format the journal is written in."""

    TYPE: ClassVar[str] = "format"
    version: int = JOURNAL_FORMAT

    def to_json(self) -> Json:
        return {"version": self.version}

    @classmethod
    def from_json(cls, raw: Json) -> JournalFormat:
        return cls(int(raw.get("version", 1)))


@dataclass(frozen=True, slots=True)
class InstrumentListed:
    """An instrument with its trading parameters: one batch, or a credit class."""

    TYPE: ClassVar[str] = "instrument"
    spec: InstrumentSpec
    batch_id: int
    credit_class: InstrumentClass | None = None

    def to_json(self) -> Json:
        return {"batch_id": self.batch_id,
                "class": asdict(self.credit_class) if self.credit_class else None,
                "spec": spec_json(self.spec)}

    @classmethod
    def from_json(cls, raw: Json) -> InstrumentListed:
        return cls(spec_of(raw["spec"]), int(raw["batch_id"]), class_of(raw.get("class")))


@dataclass(frozen=True, slots=True)
class StatusSet:
    """An instrument's status (and, with a price, its reference); `roll`: the daily roll."""

    TYPE: ClassVar[str] = "status"
    instrument: int
    status: Status
    reference_price: int = 0
    roll: bool = False

    def to_json(self) -> Json:
        out: Json = {"instrument": self.instrument, "status": str(self.status),
                     "reference_price": self.reference_price}
        if self.roll:
            out["roll"] = True
        return out

    @classmethod
    def from_json(cls, raw: Json) -> StatusSet:
        return cls(int(raw["instrument"]), Status(raw["status"]),
                   int(raw.get("reference_price", 0)), bool(raw.get("roll", False)))


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    """A signed order for the book; `batch_id` is a sell's delivery batch (0 for a buy)."""

    TYPE: ClassVar[str] = "order"
    signed: Signed
    otype: str = "limit"
    batch_id: int = 0

    def to_json(self) -> Json:
        return {"otype": self.otype, "batch_id": self.batch_id, **self.signed.to_json()}

    @classmethod
    def from_json(cls, raw: Json) -> OrderPlaced:
        return cls(Signed.from_json(raw), raw.get("otype", "limit"),
                   int(raw.get("batch_id") or 0))


@dataclass(frozen=True, slots=True)
class LotOffered:
    """A seller's signed sell offered as a single lot (its price the reserve)."""

    TYPE: ClassVar[str] = "lot"
    signed: Signed
    batch_id: int = 0

    def to_json(self) -> Json:
        return {"batch_id": self.batch_id, **self.signed.to_json()}

    @classmethod
    def from_json(cls, raw: Json) -> LotOffered:
        return cls(Signed.from_json(raw), int(raw.get("batch_id") or 0))


@dataclass(frozen=True, slots=True)
class BlockAgreed:
    """A negotiated block trade between two signed orders, at one price and quantity."""

    TYPE: ClassVar[str] = "block"
    buy: Signed
    sell: Signed
    sell_batch: int
    price: int
    quantity: int

    def to_json(self) -> Json:
        return {"price": self.price, "quantity": self.quantity, "buy": self.buy.to_json(),
                "sell": {**self.sell.to_json(), "batch_id": self.sell_batch}}

    @classmethod
    def from_json(cls, raw: Json) -> BlockAgreed:
        return cls(Signed.from_json(raw["buy"]), Signed.from_json(raw["sell"]),
                   int(raw["sell"].get("batch_id") or 0), int(raw["price"]),
                   int(raw["quantity"]))


@dataclass(frozen=True, slots=True)
class Uncrossed:
    """A call auction ends."""

    TYPE: ClassVar[str] = "uncross"
    instrument: int

    def to_json(self) -> Json:
        return {"instrument": self.instrument}

    @classmethod
    def from_json(cls, raw: Json) -> Uncrossed:
        return cls(int(raw["instrument"]))


@dataclass(frozen=True, slots=True)
class CancelRequested:
    TYPE: ClassVar[str] = "cancel"
    order_id: int

    def to_json(self) -> Json:
        return {"order_id": self.order_id}

    @classmethod
    def from_json(cls, raw: Json) -> CancelRequested:
        return cls(int(raw["order_id"]))


@dataclass(frozen=True, slots=True)
class CancelAllRequested:
    TYPE: ClassVar[str] = "cancel_all"
    instrument: int
    trader: str

    def to_json(self) -> Json:
        return {"instrument": self.instrument, "trader": self.trader}

    @classmethod
    def from_json(cls, raw: Json) -> CancelAllRequested:
        return cls(int(raw["instrument"]), checksum(raw["trader"]))


@dataclass(frozen=True, slots=True)
class TradesSettled:
    """Trades settled on chain by one transaction ("" when found settled without it)."""

    TYPE: ClassVar[str] = "settled"
    trade_ids: tuple[int, ...]
    tx_hash: str = ""

    def to_json(self) -> Json:
        return {"trade_ids": list(self.trade_ids), "tx_hash": self.tx_hash}

    @classmethod
    def from_json(cls, raw: Json) -> TradesSettled:
        return cls(_ints(raw["trade_ids"]), raw.get("tx_hash", ""))


@dataclass(frozen=True, slots=True)
class TradesRequeued:
    """Settled trades whose transaction the chain lost: pending again."""

    TYPE: ClassVar[str] = "requeued"
    trade_ids: tuple[int, ...]
    reason: str = ""

    def to_json(self) -> Json:
        return {"trade_ids": list(self.trade_ids), "reason": self.reason}

    @classmethod
    def from_json(cls, raw: Json) -> TradesRequeued:
        return cls(_ints(raw["trade_ids"]), raw.get("reason", ""))


@dataclass(frozen=True, slots=True)
class TradesFailed:
    """Trades that will never settle, why, and the side at fault ("buyer", "seller" or "")."""

    TYPE: ClassVar[str] = "settle_failed"
    trade_ids: tuple[int, ...]
    reason: str = ""
    at_fault: str = ""

    def to_json(self) -> Json:
        return {"trade_ids": list(self.trade_ids), "reason": self.reason,
                "at_fault": self.at_fault}

    @classmethod
    def from_json(cls, raw: Json) -> TradesFailed:
        return cls(_ints(raw["trade_ids"]), raw.get("reason", ""), raw.get("at_fault", ""))


@dataclass(frozen=True, slots=True)
class VoidedOnChain:
    """Order hashes and nonce floors traders set on chain, read up to block `to_block`."""

    TYPE: ClassVar[str] = "voided"
    hashes: tuple[bytes, ...]
    floors: dict[str, int]
    to_block: int

    def to_json(self) -> Json:
        return {"hashes": [h.hex() for h in self.hashes], "floors": dict(self.floors),
                "to_block": self.to_block}

    @classmethod
    def from_json(cls, raw: Json) -> VoidedOnChain:
        return cls(tuple(bytes.fromhex(h) for h in raw["hashes"]),
                   {checksum(t): int(n) for t, n in raw["floors"].items()},
                   int(raw["to_block"]))


@dataclass(frozen=True, slots=True)
class FrozenOnChain:
    """Freezes and unfreezes of accounts and batches read on chain up to `to_block`."""

    TYPE: ClassVar[str] = "frozen"
    accounts: dict[str, bool]
    batches: dict[int, bool]
    to_block: int

    def to_json(self) -> Json:
        return {"accounts": dict(self.accounts),
                "batches": {str(b): f for b, f in self.batches.items()},
                "to_block": self.to_block}

    @classmethod
    def from_json(cls, raw: Json) -> FrozenOnChain:
        return cls({checksum(a): bool(f) for a, f in raw["accounts"].items()},
                   {int(b): bool(f) for b, f in raw["batches"].items()}, int(raw["to_block"]))


@dataclass(frozen=True, slots=True)
class OrdersExpired:
    """Resting orders whose signed expiry came."""

    TYPE: ClassVar[str] = "expire"
    order_ids: tuple[int, ...]

    def to_json(self) -> Json:
        return {"order_ids": list(self.order_ids)}

    @classmethod
    def from_json(cls, raw: Json) -> OrdersExpired:
        return cls(_ints(raw["order_ids"]))


Entry = (JournalFormat | InstrumentListed | StatusSet | OrderPlaced | LotOffered | BlockAgreed
         | Uncrossed | CancelRequested | CancelAllRequested | TradesSettled | TradesRequeued
         | TradesFailed | VoidedOnChain | FrozenOnChain | OrdersExpired)

KINDS: dict[str, type[Entry]] = {k.TYPE: k for k in (
    JournalFormat, InstrumentListed, StatusSet, OrderPlaced, LotOffered, BlockAgreed, Uncrossed,
    CancelRequested, CancelAllRequested, TradesSettled, TradesRequeued, TradesFailed,
    VoidedOnChain, FrozenOnChain, OrdersExpired)}


def encode(entry: Entry, ts: int | None = None) -> Json:
    """The entry as the journal writes it (the journal adds its sequence number); `ts`, the
    time it was written in ms, is left out of the format line, which no clock orders."""
    out = {"type": entry.TYPE, **entry.to_json()}
    if ts is not None:
        out["ts"] = ts
    return out


def decode(raw: Json) -> tuple[Entry, int, int]:
    """(entry, its sequence number, its time in ms) from a journal line."""
    kind = KINDS.get(raw["type"])
    if kind is None:
        raise ValueError(f"unknown journal entry {raw['type']!r}")
    return kind.from_json(raw), int(raw["seq"]), int(raw.get("ts", 0))


def spec_json(spec: InstrumentSpec) -> Json:
    return {**asdict(spec), "status": str(spec.status)}


def spec_of(raw: Json) -> InstrumentSpec:
    return InstrumentSpec(**{**raw, "status": Status(raw["status"])})


def class_of(raw: Json | None) -> InstrumentClass | None:
    """A class as journaled: a ticket class by its region fields, else a credit class."""
    if not raw:
        return None
    return TicketClass(**raw) if "division_prefix" in raw else CreditClass(**raw)


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values)
