"""Orders, commands and events of the matching engine: plain, immutable, integer-only values.

Prices are integers in the cash token's minor unit per tonne (fen per t CO2e); quantities are
integers in credit units (1 t = 1,000,000). Commands carry their own timestamp, so the engine
never reads a clock and replaying a journal of commands reproduces the same events.

Events are NamedTuples (cheap to create on the hot path, easy to serialise). Every event carries
the instrument and a per-instrument sequence number assigned by the engine, so market data
consumers can detect gaps.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import NamedTuple


class Side(IntEnum):
    BUY = 0
    SELL = 1


class TimeInForce(IntEnum):
    GTC = 0  # rests until filled or cancelled
    IOC = 1  # fills what it can now, the rest is cancelled
    FOK = 2  # fills completely now or not at all


class OrderType(IntEnum):
    LIMIT = 0
    MARKET = 1  # with a protection price it never trades through


class SelfTrade(IntEnum):
    """Self-trade prevention: what happens when an order would match its own member's order."""

    CANCEL_TAKER = 0  # cancel the incoming order's remainder (default; newest)
    CANCEL_MAKER = 1  # cancel the resting order and keep matching (oldest)
    CANCEL_BOTH = 2


class Reject(StrEnum):
    """Stable reason codes for refused commands."""

    UNKNOWN_INSTRUMENT = "unknown_instrument"
    INSTRUMENT_HALTED = "instrument_halted"
    INSTRUMENT_CLOSED = "instrument_closed"
    TICK_VIOLATION = "tick_violation"
    LOT_VIOLATION = "lot_violation"
    OUTSIDE_PRICE_BAND = "outside_price_band"
    INVALID_QUANTITY = "invalid_quantity"
    INVALID_PRICE = "invalid_price"
    DUPLICATE_ORDER_ID = "duplicate_order_id"
    UNKNOWN_ORDER = "unknown_order"
    NOT_ORDER_OWNER = "not_order_owner"
    PROTECTION_PRICE_REQUIRED = "protection_price_required"
    NOT_IN_AUCTION = "not_in_auction"
    AUCTION_ORDER_TYPE = "auction_order_type"
    SELF_TRADE = "self_trade"


class CancelReason(StrEnum):
    USER = "user"
    IOC_REMAINDER = "ioc_remainder"
    FOK_UNFILLED = "fok_unfilled"
    MARKET_PROTECTION = "market_protection"
    SELF_TRADE = "self_trade_prevention"
    MOVED = "moved"
    AUCTION_UNFILLED = "auction_unfilled"
    ON_CHAIN = "cancelled_on_chain"  # the trader voided it on chain (Settlement)
    EXPIRED = "expired"  # its signed expiry (less the exchange's margin) was reached
    ACCOUNT_FROZEN = "account_frozen"  # the regulator froze its trader (Consortium)
    BATCH_FROZEN = "batch_frozen"  # the regulator froze the batch it delivers (CarbonCredits)
    SETTLEMENT_FAILED = "settlement_failed"  # a trade of it failed settlement by its fault


# -- commands ---------------------------------------------------------------------------------


class Place(NamedTuple):
    """A new order. `price` is the limit (for MARKET the protection price)."""

    instrument: int
    order_id: int
    member: str
    side: Side
    price: int
    quantity: int
    tif: TimeInForce = TimeInForce.GTC
    type: OrderType = OrderType.LIMIT
    ts: int = 0


class Cancel(NamedTuple):
    instrument: int
    order_id: int
    member: str
    ts: int = 0
    reason: CancelReason = CancelReason.USER


class CancelAll(NamedTuple):
    """Cancels every resting order of `member` on the instrument."""

    instrument: int
    member: str
    ts: int = 0


class Move(NamedTuple):
    """Replaces a resting order's price (and optionally quantity). Time priority is lost, as
    in exchange-core: the order is re-queued at the new price as if newly placed."""

    instrument: int
    order_id: int
    member: str
    price: int
    quantity: int = 0  # 0 keeps the remaining quantity
    ts: int = 0


class BlockTrade(NamedTuple):
    """A negotiated trade between two members at a price inside the block band."""

    instrument: int
    trade_ref: int
    buyer: str
    seller: str
    price: int
    quantity: int
    ts: int = 0


class Uncross(NamedTuple):
    """Ends a call auction: trades at the single clearing price, then opens continuous
    trading (or closes again for a single-lot auction)."""

    instrument: int
    ts: int = 0


class SetStatus(NamedTuple):
    """Opens, halts, closes an instrument or starts an auction; sets the reference price (the
    band's centre) when `reference_price` is positive. A command, so replays reproduce it."""

    instrument: int
    status: str
    reference_price: int = 0
    ts: int = 0


class OfferLot(NamedTuple):
    """Opens a single-lot auction: `quantity` offered by `seller` at `reserve_price` or more;
    bids collect until Uncross awards the lot."""

    instrument: int
    seller: str
    quantity: int
    reserve_price: int
    ts: int = 0


Command = Place | Cancel | CancelAll | Move | BlockTrade | Uncross | SetStatus | OfferLot


# -- events -----------------------------------------------------------------------------------


class Accepted(NamedTuple):
    instrument: int
    seq: int
    order_id: int
    member: str
    side: Side
    price: int
    quantity: int
    ts: int


class Trade(NamedTuple):
    instrument: int
    seq: int
    trade_id: int
    price: int
    quantity: int
    maker_order_id: int
    taker_order_id: int
    buyer: str
    seller: str
    taker_side: Side  # the aggressor; for auction and block trades by convention BUY
    ts: int
    kind: str = "continuous"  # continuous | auction | block | single_lot


class Cancelled(NamedTuple):
    instrument: int
    seq: int
    order_id: int
    member: str
    quantity: int  # what was left and is now cancelled
    reason: CancelReason
    ts: int


class Rejected(NamedTuple):
    instrument: int
    seq: int
    order_id: int
    member: str
    reason: Reject
    ts: int


class Rested(NamedTuple):
    """An order (or its remainder) now rests in the book."""

    instrument: int
    seq: int
    order_id: int
    side: Side
    price: int
    quantity: int
    ts: int


Event = Accepted | Trade | Cancelled | Rejected | Rested
