"""Trading parameters of an instrument and the pure checks that apply them.

Ticks, lots and price bands are checked before an order reaches the book (the engine calls
`check_order`), so the book itself only ever holds valid orders. Bands are in basis points of
the reference price (the previous close or the last auction price): ±10 % for continuous
trading and ±30 % for negotiated block trades, as on the Chinese pilot exchanges. A band edge
that is not on the tick grid is rounded inward (towards the reference), so a price on the tick
grid inside the band is always accepted and nothing outside it ever is.

Listing rule: one lot at one tick must be worth at least 1 fen (lot units × tick fen/t ≥
1,000,000), so no fill on the grid can round to nothing (the Settlement contract enforces the
same rule, and the grid, for every fill). With lot × tick a multiple of 1,000,000 every fill
is a whole number of fen and nothing is rounded at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property

from exchange.orders import Reject


class Status(StrEnum):
    OPEN = "open"  # continuous trading
    AUCTION = "auction"  # call auction: orders collected, matched at one price on uncross
    SINGLE_LOT = "single_lot"  # one lot offered to the best bid at or above a reserve price
    HALTED = "halted"  # cancels only
    CLOSED = "closed"  # nothing


@dataclass(frozen=True)
class InstrumentSpec:
    """One tradable instrument (a credit batch or a standardized credit class)."""

    instrument: int
    tick: int = 1  # minor units (fen) per tonne
    lot: int = 1_000_000  # credit units (1 t)
    reference_price: int = 0  # 0: no band until a reference exists
    band_bps: int = 1_000  # ±10 % continuous
    block_band_bps: int = 3_000  # ±30 % block trades
    status: Status = Status.OPEN
    max_quantity: int = 10**15
    # continuous-trading session, seconds after 00:00 China time (UTC+8); [open, close)
    session_open: int = 0
    session_close: int = 86_400
    # single-lot auctions: the lot offered, its seller and the reserve price
    lot_seller: str = ""
    lot_quantity: int = 0
    reserve_price: int = 0

    def __post_init__(self) -> None:  # journals and snapshots of old spelled ids as strings
        object.__setattr__(self, "instrument", int(self.instrument))

    def with_status(self, status: Status) -> InstrumentSpec:
        return replace(self, status=status)

    @cached_property
    def continuous_band(self) -> tuple[int, int]:
        return self.band(self.band_bps)

    @cached_property
    def block_band(self) -> tuple[int, int]:
        return self.band(self.block_band_bps)

    def band(self, bps: int) -> tuple[int, int]:
        """[low, high] prices allowed, on the tick grid, rounded towards the reference."""
        if self.reference_price <= 0:
            return (self.tick, 10**18)
        low = self.reference_price * (10_000 - bps)
        high = self.reference_price * (10_000 + bps)
        low_ticks = -(-low // (10_000 * self.tick))  # ceil
        high_ticks = high // (10_000 * self.tick)  # floor
        return (max(low_ticks * self.tick, self.tick), high_ticks * self.tick)


@dataclass(frozen=True)
class CreditClass:
    """A standardized credit class: credits of one methodology whose monitoring period starts
    in [vintage_from, vintage_to) (unix seconds), deliverable by any such batch. The same rule
    as Settlement.sol's `_checkBatch`."""

    methodology_id: int
    vintage_from: int
    vintage_to: int

    def admits(self, methodology_id: int, period_start: int) -> bool:
        return (methodology_id == self.methodology_id
                and self.vintage_from <= period_start < self.vintage_to)


DIVISION_DIGITS = 6  # an administrative-division code (GB/T 2260), e.g. 350402


@dataclass(frozen=True)
class TicketClass:
    """A forest-ticket class: tickets whose slot's division code starts with the
    `prefix_digits` digits `division_prefix` (0 digits: any region) and whose monitoring period
    starts in [vintage_from, vintage_to) (unix seconds), deliverable by any such ticket its
    seller owns. The same rule as Settlement.sol's `_checkTicket`."""

    division_prefix: int
    prefix_digits: int
    vintage_from: int
    vintage_to: int

    def admits(self, division_code: int, period_start: int) -> bool:
        region = self.prefix_digits == 0 or (
            division_code // 10 ** (DIVISION_DIGITS - self.prefix_digits) == self.division_prefix)
        return region and self.vintage_from <= period_start < self.vintage_to


# What a class instrument delivers: credit batches or forest tickets (its `batch_id`s: tickets)
InstrumentClass = CreditClass | TicketClass


def prefix_problem(division_prefix: int, prefix_digits: int) -> str | None:
    """Why a ticket class's region may not be listed (the contract's rule), or None: 0 digits
    with prefix 0, or 2, 4 or 6 digits forming a prefix that does not start with 0."""
    if prefix_digits == 0:
        return None if division_prefix == 0 else "invalid_division_prefix"
    if prefix_digits not in (2, 4, 6):
        return "invalid_division_prefix"
    top = 10**prefix_digits
    return None if top // 10 <= division_prefix < top else "invalid_division_prefix"


CHINA_OFFSET_S = 8 * 3_600
MIN_LOT_TICK = 1_000_000  # lot units × tick fen per tonne: 1 fen


def listing_problem(spec: InstrumentSpec) -> str | None:
    """Why `spec` may not be listed (a stable error code), or None."""
    if spec.lot <= 0 or spec.tick <= 0:
        return "invalid_instrument"
    if spec.lot * spec.tick < MIN_LOT_TICK:
        return "lot_tick_below_one_fen"
    return None


def trading_day(unix_ms: int) -> int:
    """Days since the epoch in China time: the unit the reference price rolls over in."""
    return (unix_ms // 1_000 + CHINA_OFFSET_S) // 86_400


def in_session(spec: InstrumentSpec, unix_s: int) -> bool:
    """Whether `unix_s` falls inside the instrument's daily trading session (China time)."""
    t = (unix_s + CHINA_OFFSET_S) % 86_400
    return spec.session_open <= t < spec.session_close


def check_price(spec: InstrumentSpec, price: int, block: bool = False) -> Reject | None:
    if price <= 0:
        return Reject.INVALID_PRICE
    if price % spec.tick:
        return Reject.TICK_VIOLATION
    low, high = spec.block_band if block else spec.continuous_band
    if not low <= price <= high:
        return Reject.OUTSIDE_PRICE_BAND
    return None


def check_quantity(spec: InstrumentSpec, quantity: int) -> Reject | None:
    if quantity <= 0 or quantity > spec.max_quantity:
        return Reject.INVALID_QUANTITY
    if quantity % spec.lot:
        return Reject.LOT_VIOLATION
    return None


def check_order(spec: InstrumentSpec, price: int, quantity: int,
                block: bool = False) -> Reject | None:
    """The first rule an order breaks, or None: status, quantity (lot), price (tick, band)."""
    if spec.status == Status.HALTED:
        return Reject.INSTRUMENT_HALTED
    if spec.status == Status.CLOSED:
        return Reject.INSTRUMENT_CLOSED
    return check_quantity(spec, quantity) or check_price(spec, price, block)
