"""Call auctions: one clearing price for everything that crosses.

Opening (call) auction, as on the Shanghai and Shenzhen exchanges: orders are collected without
matching, then the book is uncrossed at the single price that

1. maximises the executable volume  min(demand at ≥ p, supply at ≤ p);
2. among those, minimises the imbalance |demand − supply|;
3. among those, is closest to the reference price (the previous close);
4. among those, is the lower price (a rule of ours, so the price is always unique).

Candidate prices are the limit prices in the book: volume is a step function that only changes
there. Orders then fill at that price in price-time priority on both sides; what does not fill
stays in the book for continuous trading. Orders of one member on both sides never trade with
each other: the later one is cancelled (self-trade prevention), as in continuous trading.

Single-lot auction (Shenzhen's shellfish carbon-sink auction, 2022): one lot of a fixed quantity
is offered by its seller at a reserve price; members bid for the whole lot; at the close it goes
to the highest bid at or above the reserve (the earliest among equal bids), all other bids are
cancelled.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from exchange.book import BUY, SELL, Book
from exchange.orders import CancelReason, Event, Trade


@dataclass(frozen=True)
class Clearing:
    price: int
    volume: int
    demand: int
    supply: int

    @property
    def imbalance(self) -> int:
        return abs(self.demand - self.supply)


def clearing_price(bids: list[tuple[int, int]], asks: list[tuple[int, int]],
                   reference: int) -> Clearing | None:
    """The auction price for (price, quantity) bids and asks; None when nothing crosses."""
    if not bids or not asks:
        return None
    bid_prices = sorted({p for p, _ in bids})
    ask_prices = sorted({p for p, _ in asks})
    bid_qty = {p: 0 for p in bid_prices}
    ask_qty = {p: 0 for p in ask_prices}
    for p, q in bids:
        bid_qty[p] += q
    for p, q in asks:
        ask_qty[p] += q
    # demand at p = bids priced >= p (suffix sums); supply at p = asks priced <= p (prefix sums)
    demand_suffix = [0] * (len(bid_prices) + 1)
    for i in range(len(bid_prices) - 1, -1, -1):
        demand_suffix[i] = demand_suffix[i + 1] + bid_qty[bid_prices[i]]
    supply_prefix = [0] * (len(ask_prices) + 1)
    for i, p in enumerate(ask_prices):
        supply_prefix[i + 1] = supply_prefix[i] + ask_qty[p]
    best: Clearing | None = None
    best_key: tuple[int, int, int, int] | None = None
    for p in sorted(set(bid_prices) | set(ask_prices)):
        demand = demand_suffix[bisect_left(bid_prices, p)]
        supply = supply_prefix[bisect_right(ask_prices, p)]
        volume = min(demand, supply)
        if volume == 0:
            continue
        key = (-volume, abs(demand - supply), abs(p - reference) if reference else 0, p)
        if best_key is None or key < best_key:
            best_key, best = key, Clearing(p, volume, demand, supply)
    return best


def uncross(book: Book, reference: int, ts: int, out: list[Event]) -> Clearing | None:
    """Executes the call auction on `book` (whose orders were collected without matching)."""
    clearing = clearing_price(
        [(o.price, o.remaining) for o in book.resting(BUY)],
        [(o.price, o.remaining) for o in book.resting(SELL)],
        reference,
    )
    if clearing is None:
        return None
    price = clearing.price
    trade_ids = book._trade_ids
    while True:
        bid = next((o for o in book.resting(BUY) if o.price >= price), None)
        ask = next((o for o in book.resting(SELL) if o.price <= price), None)
        if bid is None or ask is None:
            break
        if bid.member == ask.member:
            later = bid if (bid.ts, bid.order_id) > (ask.ts, ask.order_id) else ask
            book.cancel(later, CancelReason.SELF_TRADE, ts, out)
            continue
        fill = min(bid.remaining, ask.remaining)
        bid.remaining -= fill
        ask.remaining -= fill
        book.seq += 1
        maker, taker = (bid, ask) if (bid.ts, bid.order_id) <= (ask.ts, ask.order_id) else (
            ask, bid)
        out.append(Trade(book.instrument, book.seq, next(trade_ids), price, fill,
                         maker.order_id, taker.order_id, bid.member, ask.member, BUY, ts,
                         "auction"))
        for o in (bid, ask):
            if o.remaining == 0:
                book.remove(o)
    return clearing


def award_lot(book: Book, seller: str, quantity: int, reserve: int, ts: int,
              out: list[Event]) -> Trade | None:
    """Closes a single-lot auction: the best bid at or above the reserve buys the lot."""
    winner = next((o for o in book.resting(BUY) if o.price >= reserve and o.member != seller),
                  None)
    trade = None
    if winner is not None:
        book.remove(winner)
        book.seq += 1
        trade = Trade(book.instrument, book.seq, next(book._trade_ids), winner.price, quantity,
                      0, winner.order_id, winner.member, seller, BUY, ts, "single_lot")
        out.append(trade)
    for o in list(book.resting(BUY)):
        book.cancel(o, CancelReason.AUCTION_UNFILLED, ts, out)
    return trade
