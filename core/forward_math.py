"""The arithmetic of carbon forwards, the one definition the contract (ForwardMath.sol), the
gateway, the auditor and the tests share.

Units: prices in fen per tonne, positions in contracts, a contract is `size` credit units
(1 t = 1,000,000 units), so position × price × size is in micro-fen. Every rounding is stated:

- settlement price: the volume-weighted average of the window's trades rounded to the nearest
  tick, exactly half-way towards the previous settlement price; no trade: the previous price;
- variation margin: ⌊(position × price − basis) × size / 10⁶⌋ fen, rounded down (towards −∞)
  for every member alike; the sub-fen rest goes to the contract's rounding account;
- margin requirements: rounded up;
- pro-rata shares (delivery shortfalls and default compensation): cumulative floors in the
  contract's holder order, so the shares add up to the amount exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

UNITS_PER_TONNE = 1_000_000
BPS = 10_000
MICRO = 1_000_000


@dataclass(frozen=True)
class WindowTrade:
    """A trade as the settlement price sees it: contracts and fen per tonne."""

    quantity: int
    price: int


def vwap_to_tick(value_sum: int, qty_sum: int, tick: int, previous: int) -> int:
    """Σ qty × price / Σ qty rounded to the tick (half towards `previous`); `previous` if empty."""
    if qty_sum == 0:
        return previous
    step = tick * qty_sum
    lower = (value_sum // step) * tick
    twice_rest = 2 * (value_sum - lower * qty_sum)
    if twice_rest < step:
        return lower
    if twice_rest > step:
        return lower + tick
    return lower if previous <= lower else lower + tick


def settlement_price(trades: Iterable[WindowTrade], tick: int, previous: int) -> int:
    """The day's settlement price from the trades in its window."""
    ts = list(trades)
    return vwap_to_tick(sum(t.quantity * t.price for t in ts), sum(t.quantity for t in ts),
                        tick, previous)


def variation_micro(position: int, price: int, basis: int, size: int) -> int:
    """Variation margin in micro-fen: (position × price − basis) × size."""
    return (position * price - basis) * size


def split_fen(micro: int) -> tuple[int, int]:
    """(fen credited, micro-fen rest to the rounding account): fen = ⌊micro / 10⁶⌋."""
    fen = micro // MICRO
    return fen, micro - fen * MICRO


def requirement(abs_position: int, price: int, size: int, bps: int) -> int:
    """A margin requirement in fen, rounded up."""
    return -(-(abs_position * price * size * bps) // (BPS * UNITS_PER_TONNE))


def delivery_payment(position: int, size: int, price: int) -> int:
    """What a long pays at delivery: ⌈position × size × price / 10⁶⌉ fen."""
    return -(-(position * size * price) // UNITS_PER_TONNE)


def pro_rata(before: int, weight: int, total: int, amount: int) -> int:
    """One share of `amount` by cumulative floors; the shares sum to `amount` exactly."""
    if total == 0:
        return 0
    return (before + weight) * amount // total - before * amount // total
