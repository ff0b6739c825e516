"""Pre-trade risk: the stage that owns reservations.

    signed order ─► risk.check (limits, free balance) ─► journal ─► engine ─► events
                                                                         └─► risk.reserve / release

What the exchange has promised is reserved until it settles or is released: the credits of
open sells and of unsettled sold trades per (trader, batch), and the cash of open buys (at
their limit, with the taker fee) and of unsettled purchases per trader. The service applies
every event to this stage (`reserve_order`, `release_order`, `reserve_trade`, …), so a check
is two lookups; `rebuild` recounts everything from the records after a replay, and the
recount equals the running totals (tested). No I/O: the chain's balances come in as `Held`,
and totals shared with other processes leave through `take_changes`.
"""

from __future__ import annotations

from typing import Any

from core.units import UNITS_PER_TONNE
from exchange.errors import ExchangeError
from exchange.orders import Side
from exchange.records import Held, MemberLimits, OrderRecord, TradeRecord
from exchange.reservations import CASH
from exchange.signing import Order

Key = tuple[str, int]  # (trader, batch id), or (trader, CASH) for cash in shared totals


class Risk:
    def __init__(self, taker_fee_bps: int, limits: MemberLimits | None = None) -> None:
        self.taker_fee_bps = taker_fee_bps
        self.limits = limits or MemberLimits()
        self.credits: dict[Key, int] = {}  # credits promised per (trader, batch)
        self.cash: dict[str, int] = {}  # cash promised per trader
        self.order_cash: dict[int, int] = {}  # cash reserved by each open buy
        self.open_orders: dict[str, int] = {}  # resting orders per member
        self._changed: set[Key] | None = None  # keys changed since shared, when shared

    # -- reads -----------------------------------------------------------------------------

    def cash_for(self, quantity: int, price: int) -> int:
        """Most a buy can cost: quantity × price rounded up (as the contract charges the
        buyer) plus the taker fee (rounded up here, down on chain, so the reservation always
        covers the fee charged)."""
        value = quantity * price
        return -(-value // UNITS_PER_TONNE) + -(-value * self.taker_fee_bps // (
            10_000 * UNITS_PER_TONNE))

    def reserved_credits(self, trader: str, batch_id: int) -> int:
        """Credits promised by open sells and unsettled sold trades of that batch."""
        return self.credits.get((trader, batch_id), 0)

    def reserved_cash(self, trader: str) -> int:
        """Cash promised by open buys and unsettled purchases."""
        return self.cash.get(trader, 0)

    # -- the check -------------------------------------------------------------------------

    def check(self, order: Order, held: Held) -> int:
        """Refuses an order over the member limits or the trader's free balance; returns a
        sell's delivery batch (0 for a buy), which must cover the whole order, since one
        trade settles one batch."""
        lim = self.limits
        trader = order.trader
        if lim.max_order_quantity and order.quantity > lim.max_order_quantity:
            raise ExchangeError("member_limit", "the order exceeds the per-order limit",
                                {"max_order_quantity": lim.max_order_quantity})
        if lim.max_open_orders and self.open_orders.get(trader, 0) >= lim.max_open_orders:
            raise ExchangeError("member_limit", "too many open orders",
                                {"max_open_orders": lim.max_open_orders})
        if not held.ready:
            raise ExchangeError("settlement_not_approved",
                                "approve the settlement contract for credits and cash first")
        if order.side == Side.SELL:
            batch = order.batch_id
            free = held.credits.get(batch, 0) - self.reserved_credits(trader, batch)
            if free < order.quantity:
                raise ExchangeError("insufficient_balance",
                                    f"not enough free credits in batch {batch}",
                                    {"free": free, "needed": order.quantity, "batch_id": batch})
            return batch
        needed = self.cash_for(order.quantity, order.price)
        free = held.cash - self.reserved_cash(trader)
        if free < needed:
            raise ExchangeError("insufficient_balance", "not enough free cash",
                                {"free": free, "needed": needed})
        return 0

    # -- applying events -------------------------------------------------------------------

    def add_credits(self, trader: str, batch_id: int, delta: int) -> None:
        _add(self.credits, (trader, batch_id), delta)
        if self._changed is not None:
            self._changed.add((trader, batch_id))

    def add_cash(self, trader: str, delta: int) -> None:
        _add(self.cash, trader, delta)
        if self._changed is not None:
            self._changed.add((trader, CASH))

    def reserve_order(self, rec: OrderRecord) -> None:
        o = rec.order
        remaining = o.quantity - rec.filled
        if o.side == Side.SELL:
            self.add_credits(o.trader, rec.batch_id, remaining)
        else:
            cash = self.cash_for(remaining, o.price)
            self.order_cash[rec.order_id] = cash
            self.add_cash(o.trader, cash)

    def fill(self, buy: OrderRecord, quantity: int, price: int) -> None:
        """A buy traded `quantity` at `price` (its `filled` already counts it): its order's
        reservation shrinks to the remainder, and the trade reserves what it costs until it
        settles. A sell's credits need no move: open sell and unsettled sale reserve alike."""
        left = self.cash_for(buy.order.quantity - buy.filled, buy.order.price)
        held = self.order_cash.get(buy.order_id, 0)
        self.order_cash[buy.order_id] = left
        self.add_cash(buy.order.trader, left - held + self.cash_for(quantity, price))

    def release_order(self, rec: OrderRecord, quantity: int) -> None:
        o = rec.order
        if o.side == Side.SELL:
            self.add_credits(o.trader, rec.batch_id, -quantity)
        else:
            self.add_cash(o.trader, -self.order_cash.pop(rec.order_id, 0))

    def reserve_trade(self, t: TradeRecord) -> None:
        """An unsettled trade holds the seller's credits and the buyer's cash."""
        self.add_credits(t.trade.seller, t.batch_id, t.trade.quantity)
        self.add_cash(t.trade.buyer, self.cash_for(t.trade.quantity, t.trade.price))

    def release_trade(self, t: TradeRecord) -> None:
        self.add_credits(t.trade.seller, t.batch_id, -t.trade.quantity)
        self.add_cash(t.trade.buyer, -self.cash_for(t.trade.quantity, t.trade.price))

    def rest(self, rec: OrderRecord) -> None:
        if not rec.resting:
            rec.resting = True
            _add(self.open_orders, rec.order.trader, 1)

    def unrest(self, rec: OrderRecord) -> None:
        if rec.resting:
            rec.resting = False
            _add(self.open_orders, rec.order.trader, -1)

    def rebuild(self, orders: Any, trades: Any) -> None:
        """Recounts every reservation from the records (after a replay or a snapshot)."""
        self.credits.clear()
        self.cash.clear()
        self.order_cash.clear()
        self.open_orders.clear()
        for rec in orders:
            if rec.status in ("new", "open"):
                self.reserve_order(rec)
                rec.resting = False
                self.rest(rec)
        for t in trades:
            if t.status == "pending":
                self.reserve_trade(t)

    # -- sharing ---------------------------------------------------------------------------

    def totals(self) -> dict[Key, int]:
        """Every reservation total, cash under (trader, CASH); from now on changes are
        tracked for `take_changes`."""
        self._changed = set()
        return {**self.credits, **{(a, CASH): v for a, v in self.cash.items()}}

    def take_changes(self) -> dict[Key, int]:
        """The totals changed since the last call (0 for one that fell to nothing)."""
        if not self._changed:
            return {}
        changes = {k: self.cash.get(k[0], 0) if k[1] == CASH else self.credits.get(k, 0)
                   for k in self._changed}
        self._changed = set()
        return changes

    def changed_again(self, keys: Any) -> None:
        """Changes that could not be written: written with the next ones."""
        if self._changed is not None:
            self._changed |= set(keys)

    @property
    def has_changes(self) -> bool:
        return bool(self._changed)


def _add(book: dict[Any, int], key: Any, delta: int) -> None:
    value = book.get(key, 0) + delta
    if value:
        book[key] = value
    else:
        book.pop(key, None)
