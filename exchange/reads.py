"""What clients and operators read of the exchange: orders, trades, books, market data, status.

    API routes ─► ExchangeReads ─► state.py (under the service lock) / archive.py / risk.py

Reads change nothing and journal nothing; each takes the service's lock only for as long as it
copies what it answers, so a read never sees half of a command. A finished order or trade that
has left memory is answered from the archive, in the same shape.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from exchange.archive import Archive
from exchange.errors import ExchangeError
from exchange.fanout import Fanout
from exchange.journal import Journal
from exchange.orders import Side
from exchange.records import Listing, TradeRecord
from exchange.risk import Risk
from exchange.state import LIVE, ExchangeState


class ExchangeReads:
    """The read side of one exchange (service.py builds it as `service.reads`)."""

    def __init__(self, state: ExchangeState, risk: Risk, archive: Archive, journal: Journal,
                 fanout: Fanout, lock: threading.RLock) -> None:
        self._state, self._risk, self._archive, self._journal = state, risk, archive, journal
        self._fanout, self._lock = fanout, lock

    @property
    def listings(self) -> dict[int, Listing]:
        return self._state.listings

    @property
    def taker_fee_bps(self) -> int:
        """The fee an order may be charged as taker (its signed cap must cover it)."""
        return self._risk.taker_fee_bps

    def cash_for(self, quantity: int, price: int) -> int:
        """Most a buy of `quantity` at `price` can cost, fee included (risk.py)."""
        return self._risk.cash_for(quantity, price)

    def reserved_credits(self, trader: str, batch_id: int) -> int:
        """Credits promised by open sells and unsettled sold trades of that batch."""
        return self._risk.reserved_credits(trader, batch_id)

    def reserved_cash(self, trader: str) -> int:
        """Cash promised by open buys and unsettled purchases."""
        return self._risk.reserved_cash(trader)

    def order(self, order_id: int) -> dict[str, Any]:
        rec = self._state.orders.get(order_id)
        if rec is None:
            old = self._archive.order(order_id)
            if old is None:
                raise ExchangeError("unknown_order", f"order {order_id} does not exist")
            return old
        return self._state.view(rec)

    def trade(self, trade_id: int) -> TradeRecord | None:
        """A trade still in memory (pending, or settled but not yet final or archived)."""
        return self._state.trades.get(trade_id)

    def archived_trade(self, trade_id: int) -> dict[str, Any] | None:
        """A finished trade's view from the archive, None if there is none."""
        return self._archive.trade(trade_id)

    def open_orders_of(self, trader: str, instrument: int | None = None) -> list[dict[str, Any]]:
        """A trader's orders still working (new or open), oldest first: what a client
        reconnecting after a crash needs to know."""
        if instrument is not None:
            self._state.listing(instrument)
        with self._lock:
            return [self._state.view(r)
                    for r in sorted(self._state.orders.values(), key=lambda r: r.order_id)
                    if r.order.trader == trader and r.status in LIVE
                    and (instrument is None or r.order.instrument == instrument)]

    def depth(self, instrument: int, levels: int = 20) -> dict[str, Any]:
        self._state.listing(instrument)
        with self._lock:
            book = self._state.engine.books[instrument]
            return {"instrument": int(instrument), "seq": book.seq,
                    "bids": [list(x) for x in book.depth(Side.BUY, levels)],
                    "asks": [list(x) for x in book.depth(Side.SELL, levels)]}

    def market_trades(self, instrument: int, limit: int) -> list[dict[str, Any]]:
        self._state.listing(instrument)
        return self._state.market.trades(instrument, limit)

    def market_candles(self, instrument: int, interval: str, limit: int) -> list[dict[str, Any]]:
        self._state.listing(instrument)
        return self._state.market.candles(instrument, interval, limit)

    def market_stats(self, instrument: int, now_ms: int) -> dict[str, Any]:
        self._state.listing(instrument)
        return self._state.market.stats_24h(instrument, now_ms)

    def subscribe(self, instrument: int, levels: int,
                  listener: Callable[[int, dict[str, Any]], None]) -> dict[str, Any]:
        """Adds a listener of released events (fanout.py) and returns the depth snapshot taken
        at the same instant, so no event falls between the two."""
        with self._lock:
            snapshot = self.depth(instrument, levels)
            self._fanout.listeners.append(listener)
        return snapshot

    def unsubscribe(self, listener: Callable[[int, dict[str, Any]], None]) -> None:
        with contextlib.suppress(ValueError):  # the feed drops a listener that failed
            self._fanout.listeners.remove(listener)

    def journal_fsyncs(self) -> tuple[list[tuple[float, int]], float]:
        """The journal's fsync times for operators' metrics: cumulative buckets and their sum."""
        times = self._journal.fsync_times
        return times.cumulative(), times.total_seconds

    def status(self) -> dict[str, Any]:
        """For operators: how far the journal is, what is working, what waits for the chain."""
        with self._lock:
            trades = self._state.trades.values()
            pending = [t for t in trades if t.status == "pending"]
            return {"journal_seq": self._journal.last_seq,
                    "instruments": len(self._state.listings),
                    "open_orders": sum(self._risk.open_orders.values()),
                    "pending_trades": len(pending),
                    "oldest_pending_trade_ts": min((t.trade.ts for t in pending), default=None),
                    "failed_trades": sum(1 for t in trades if t.status == "failed"),
                    "chain_cursor": self._state.chain_cursor, "archived": self._archive.size}
