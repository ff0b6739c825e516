"""One instrument's order book: price-time priority, in memory, no I/O.

Layout (chosen for CPython speed, after exchange-core's "direct" order book): each side is a
dict price → price level, and a price level is a dict order id → order. Dicts keep insertion
order, so a level is a FIFO queue with O(1) removal of any order (cancel, move). The occupied
prices of each side are kept in an ascending list maintained with `bisect`; the best bid is the
last element, the best ask the first. A book holds hundreds of levels, not millions, so the
occasional list insert is cheaper than any tree.

Every change to the book is reported as an event (orders.Event) with a per-instrument
sequence number, so the caller can journal, publish and settle without looking inside.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from typing import Any

from exchange.orders import (
    Accepted,
    Cancelled,
    CancelReason,
    Event,
    OrderType,
    Reject,
    Rejected,
    Rested,
    SelfTrade,
    Side,
    TimeInForce,
    Trade,
)

BUY = Side.BUY
SELL = Side.SELL
MOVED = CancelReason.MOVED


class Order:
    """A resting order. Mutable on purpose: a partial fill only decrements `remaining`."""

    __slots__ = ("member", "order_id", "price", "remaining", "side", "ts")

    def __init__(self, order_id: int, member: str, side: Side, price: int, remaining: int,
                 ts: int) -> None:
        self.order_id = order_id
        self.member = member
        self.side = side
        self.price = price
        self.remaining = remaining
        self.ts = ts

    def as_list(self) -> list[Any]:
        return [self.order_id, self.member, int(self.side), self.price, self.remaining, self.ts]


class Book:
    """The resting orders of one instrument and the matching of incoming ones."""

    def __init__(self, instrument: int, self_trade: SelfTrade = SelfTrade.CANCEL_TAKER,
                 trade_ids: Iterator[int] | None = None) -> None:
        self.instrument = instrument
        self.self_trade = self_trade
        self.levels: tuple[dict[int, dict[int, Order]], dict[int, dict[int, Order]]] = ({}, {})
        self.prices: tuple[list[int], list[int]] = ([], [])  # ascending, per side
        self.orders: dict[int, Order] = {}
        self.seq = 0
        self._trade_ids = trade_ids if trade_ids is not None else iter(range(1, 2**62))

    # -- reading ------------------------------------------------------------------------------

    def best(self, side: Side) -> int | None:
        prices = self.prices[side]
        if not prices:
            return None
        return prices[-1] if side == BUY else prices[0]

    def depth(self, side: Side, levels: int = 10) -> list[tuple[int, int, int]]:
        """[(price, quantity, orders)] from the best price outwards."""
        prices = self.prices[side]
        chosen = reversed(prices[-levels:]) if side == BUY else prices[:levels]
        book = self.levels[side]
        return [(p, sum(o.remaining for o in book[p].values()), len(book[p])) for p in chosen]

    def resting(self, side: Side) -> Iterator[Order]:
        """Resting orders of a side in priority order (best price first, then time)."""
        prices = self.prices[side]
        book = self.levels[side]
        for p in (reversed(prices) if side == BUY else prices):
            yield from book[p].values()

    def crosses(self, side: Side, price: int) -> bool:
        """Whether an order of `side` at `price` would trade with the opposite side now."""
        if side == BUY:
            asks = self.prices[1]
            return bool(asks) and asks[0] <= price
        bids = self.prices[0]
        return bool(bids) and bids[-1] >= price

    def is_crossed(self) -> bool:
        bid, ask = self.best(BUY), self.best(SELL)
        return bid is not None and ask is not None and bid >= ask

    # -- resting and removing -----------------------------------------------------------------

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def rest(self, order: Order, out: list[Event]) -> None:
        side = order.side
        book = self.levels[side]
        level = book.get(order.price)
        if level is None:
            level = book[order.price] = {}
            insort(self.prices[side], order.price)
        level[order.order_id] = order
        self.orders[order.order_id] = order
        self.seq += 1
        out.append(Rested(self.instrument, self.seq, order.order_id, side, order.price,
                          order.remaining, order.ts))

    def remove(self, order: Order) -> None:
        """Takes a resting order out of the book (no event: the caller reports why)."""
        side = order.side
        book = self.levels[side]
        level = book[order.price]
        del level[order.order_id]
        del self.orders[order.order_id]
        if not level:
            del book[order.price]
            prices = self.prices[side]
            del prices[bisect_left(prices, order.price)]

    def requeue(self, order: Order, price: int, quantity: int, ts: int,
                out: list[Event]) -> None:
        """The usual move, in one step: the order leaves its level (Cancelled, reason moved) and
        rests again at `price` behind every order already there (Rested). The caller has checked
        that `price` does not cross."""
        side = order.side
        book = self.levels[side]
        old = order.price
        level = book[old]
        del level[order.order_id]
        if not level:
            del book[old]
            prices = self.prices[side]
            del prices[bisect_left(prices, old)]
        instrument = self.instrument
        seq = self.seq + 1
        out.append(Cancelled(instrument, seq, order.order_id, order.member, order.remaining,
                             MOVED, ts))
        order.price = price
        order.remaining = quantity
        order.ts = ts
        target = book.get(price)
        if target is None:
            target = book[price] = {}
            insort(self.prices[side], price)
        target[order.order_id] = order
        self.seq = seq + 1
        out.append(Rested(instrument, seq + 1, order.order_id, side, price, quantity, ts))

    def cancel(self, order: Order, reason: CancelReason, ts: int, out: list[Event]) -> None:
        self.remove(order)
        self.seq += 1
        out.append(Cancelled(self.instrument, self.seq, order.order_id, order.member,
                             order.remaining, reason, ts))

    # -- matching -----------------------------------------------------------------------------

    def available(self, side: Side, limit: int, member: str, wanted: int) -> int:
        """Quantity an incoming order of `side` could take at `limit` or better, stopping at the
        first order of its own member when self-trade prevention would stop the match."""
        got = 0
        opposite = SELL if side == BUY else BUY
        book = self.levels[opposite]
        for p in self._crossing_prices(side, limit):
            for maker in book[p].values():
                if maker.member == member and self.self_trade != SelfTrade.CANCEL_MAKER:
                    return got
                if maker.member != member:
                    got += maker.remaining
                if got >= wanted:
                    return got
        return got

    def own_order_in_the_way(self, side: Side, limit: int, member: str,
                             wanted: int) -> Order | None:
        """The member's own resting order that an incoming order of `side` at `limit` for
        `wanted` units would reach while matching in price-time priority (where self-trade
        prevention would stop it), or None if others' orders fill it first or none is met.
        The exchange refuses such an order at entry (`409 self_trade`), so nothing trades."""
        got = 0
        book = self.levels[SELL if side == BUY else BUY]
        for p in self._crossing_prices(side, limit):
            for maker in book[p].values():
                if maker.member == member:
                    return maker
                got += maker.remaining
                if got >= wanted:
                    return None
        return None

    def _crossing_prices(self, side: Side, limit: int) -> list[int]:
        if side == BUY:
            asks = self.prices[SELL]
            return asks[: bisect_left(asks, limit + 1)]
        bids = self.prices[BUY]
        return bids[bisect_left(bids, limit):][::-1]

    def match(self, order_id: int, member: str, side: Side, limit: int, quantity: int, ts: int,
              out: list[Event]) -> tuple[int, bool]:
        """Matches an incoming order against the opposite side at `limit` or better, in
        price-time priority. Returns (unfilled quantity, stopped by self-trade prevention)."""
        remaining = quantity
        opposite = SELL if side == BUY else BUY
        book = self.levels[opposite]
        prices = self.prices[opposite]
        instrument = self.instrument
        stp = self.self_trade
        while remaining and prices:
            price = prices[0] if side == BUY else prices[-1]
            if (side == BUY and price > limit) or (side == SELL and price < limit):
                break
            level = book[price]
            for maker in list(level.values()):
                if maker.member == member:
                    if stp == SelfTrade.CANCEL_TAKER:
                        return remaining, True
                    self.cancel(maker, CancelReason.SELF_TRADE, ts, out)
                    if stp == SelfTrade.CANCEL_BOTH:
                        return remaining, True
                    continue
                fill = maker.remaining if maker.remaining < remaining else remaining
                maker.remaining -= fill
                remaining -= fill
                self.seq += 1
                if side == BUY:
                    buyer, seller = member, maker.member
                else:
                    buyer, seller = maker.member, member
                out.append(Trade(instrument, self.seq, next(self._trade_ids), price, fill,
                                 maker.order_id, order_id, buyer, seller, side, ts))
                if maker.remaining == 0:
                    self.remove(maker)
                if not remaining:
                    break
        return remaining, False

    def place(self, order_id: int, member: str, side: Side, price: int, quantity: int,
              tif: TimeInForce, otype: OrderType, ts: int, out: list[Event],
              accepted: bool = True) -> None:
        """An incoming order, already checked (tick, lot, band, status) by the engine."""
        if order_id in self.orders:
            self.seq += 1
            out.append(Rejected(self.instrument, self.seq, order_id, member,
                                Reject.DUPLICATE_ORDER_ID, ts))
            return
        if accepted:
            self.seq += 1
            out.append(Accepted(self.instrument, self.seq, order_id, member, side, price,
                                quantity, ts))
        if tif == TimeInForce.FOK and self.available(side, price, member, quantity) < quantity:
            self.seq += 1
            out.append(Cancelled(self.instrument, self.seq, order_id, member, quantity,
                                 CancelReason.FOK_UNFILLED, ts))
            return
        remaining, stopped = self.match(order_id, member, side, price, quantity, ts, out)
        if not remaining:
            return
        if stopped:
            reason = CancelReason.SELF_TRADE
        elif otype == OrderType.MARKET:
            reason = CancelReason.MARKET_PROTECTION
        elif tif != TimeInForce.GTC:
            reason = CancelReason.IOC_REMAINDER
        else:
            self.rest(Order(order_id, member, side, price, remaining, ts), out)
            return
        self.seq += 1
        out.append(Cancelled(self.instrument, self.seq, order_id, member, remaining, reason, ts))

    # -- snapshots ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain data: the resting orders of both sides in priority order, and the sequence."""
        return {
            "seq": self.seq,
            "bids": [o.as_list() for o in self.resting(BUY)],
            "asks": [o.as_list() for o in self.resting(SELL)],
        }

    def restore(self, data: dict[str, Any]) -> None:
        sink: list[Event] = []
        for key in ("bids", "asks"):
            for oid, member, side, price, remaining, ts in data[key]:
                self.rest(Order(oid, member, Side(side), price, remaining, ts), sink)
        self.seq = int(data["seq"])
