"""Snapshots and the archive: how the exchange's state is saved without stalling order entry.

    capture (under the service lock: a cheap copy) ─► archive finished records (durable)
        ─► snapshots.encode + journal.write_snapshot (no lock) ─► forget the archived records
    start: journal.latest_snapshot ─► restore ─► the journal after it (service replays)

Guarantees, each tested (tests/exchange/test_exchange_snapshots.py): a crash at any point loses
nothing, because the archive is written before the snapshot that leaves its records out and
records leave memory only after both; a restore rebuilds the same orders, trades, listings,
reservations and closes as the replay of the whole journal would.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any

from exchange import snapshots
from exchange.archive import Archive
from exchange.entries import class_of, spec_json, spec_of
from exchange.instruments import trading_day
from exchange.journal import Journal
from exchange.records import Finished, Listing, OrderRecord, TradeRecord
from exchange.signing import order_digest
from exchange.state import ExchangeState

Captured = tuple[int, dict[str, Any], Finished]


class Checkpoints:
    """Writes snapshots of one `ExchangeState` and moves its finished history to the archive."""

    def __init__(self, state: ExchangeState, journal: Journal, archive: Archive,
                 lock: threading.RLock) -> None:
        self.state, self.journal, self.archive, self.lock = state, journal, archive, lock
        self._writing = threading.Lock()

    def take(self) -> int:
        """Archives finished history and writes a snapshot of the rest; returns its seq."""
        seq, captured, finished = self.capture()
        self.persist(seq, captured, finished)
        return seq

    def in_background(self) -> None:
        """The copy is taken now; archiving, encoding and writing (most of the time, for a
        large state) happen on a thread, so order entry does not stall behind them."""
        if not self._writing.acquire(blocking=False):
            return
        try:
            seq, captured, finished = self.capture()
        except BaseException:
            self._writing.release()
            raise

        def write() -> None:
            try:
                self.persist(seq, captured, finished)
            finally:
                self._writing.release()

        threading.Thread(target=write, name="exchange-snapshot", daemon=True).start()

    def wait(self, timeout: float = 60) -> None:
        """A snapshot being written finishes first (before the journal closes)."""
        if self._writing.acquire(timeout=timeout):
            self._writing.release()

    def capture(self) -> Captured:
        """A consistent copy of the live state, taken under the lock and kept cheap: orders
        and trades are captured as (record, its mutable fields); their immutable parts (the
        signed order, the trade) are encoded later without the lock (snapshots.py).
        Finished orders and trades (archive.py) are set apart for the archive."""
        s = self.state
        with self.lock:
            seq = self.journal.last_seq
            finished = s.finished()
            done_orders = {r.order_id for r in finished[0]}
            done_trades = {t.trade.trade_id for t in finished[1]}
            captured = {
                "engine": s.engine.snapshot(),
                "listings": {k: {"spec": spec_json(v.spec), "batch_id": v.batch_id,
                                 "class": asdict(v.credit_class) if v.credit_class else None,
                                 "close": [v.last_price, v.last_day, v.reference_day,
                                           v.last_trade, *self._base_close(v, done_trades)]}
                             for k, v in s.listings.items()},
                "orders": [(r, r.status, r.filled, r.reason) for r in s.orders.values()
                           if r.order_id not in done_orders],
                "trades": [(t, t.status, t.tx_hash, t.reason, t.at_fault)
                           for t in s.trades.values() if t.trade.trade_id not in done_trades],
                "lot_orders": dict(s.lot_orders),
                "voided": [h.hex() for h in s.voided],
                "min_nonce": dict(s.min_nonce),
                "next_nonces": dict(s.next_nonces),
                "chain_cursor": s.chain_cursor,
                "frozen": s.frozen.dump(),
            }
        return seq, captured, finished

    def _base_close(self, listing: Listing, done: set[int]) -> tuple[int, int]:
        """The close a snapshot keeps as the base: the last counted trade that will not be in
        the snapshot (finished, or archived before), else the listing's base."""
        last = self.state.market.last_close(listing.spec.instrument,
                                            set(self.state.trades) - done)
        return ((last.price, trading_day(last.ts)) if last is not None
                else (listing.base_price, listing.base_day))

    def persist(self, seq: int, captured: dict[str, Any], finished: Finished) -> None:
        """Archive first (durable), then the snapshot that leaves those records out, then
        out of memory: a crash at any point loses nothing (archive.py)."""
        orders, trades = finished
        if orders or trades:
            self.archive.put(
                [(r.order_id, r.digest, r.order.trader, r.order.client_order_id,
                  self.state.view(r)) for r in orders],
                [(t.trade.trade_id, t.view()) for t in trades])
        self.journal.write_snapshot(seq, snapshots.encode(captured))
        with self.lock:
            self.state.forget(orders, trades)

    def restore(self, raw: dict[str, Any]) -> None:
        """The state a snapshot holds (before the journal after it is replayed)."""
        s = self.state
        s.engine = s.engine.restore(raw["engine"])
        s.next_nonces.update(raw["next_nonces"])
        for listing in raw["listings"].values():
            spec = spec_of(listing["spec"])
            s.listings[spec.instrument] = Listing(s.engine.specs.get(spec.instrument, spec),
                                                  listing["batch_id"],
                                       class_of(listing.get("class")),
                                       *listing.get("close", (0, 0, 0)))
        for o in snapshots.orders_of(raw):
            batch = (o.batch_id if o.batch_id is not None
                     else s.listings[o.order.instrument].batch_id)
            s.index(OrderRecord(o.order_id, o.order, o.signature,
                                order_digest(o.order, s.domain), o.otype, o.status, o.filled,
                                o.reason, batch_id=batch))
        for t in snapshots.trades_of(raw):
            s.record_trade(TradeRecord(t.trade, t.batch_id, t.buy_order, t.sell_order,
                                       t.status, t.tx_hash, t.reason, t.at_fault))
            if t.status == "settled":
                s.unconfirmed.setdefault(t.tx_hash, set()).add(t.trade.trade_id)
            if t.status != "failed":  # a failed trade never counts in market data
                s.market.on_trade(t.trade)
        s.lot_orders.update({int(k): int(v) for k, v in raw.get("lot_orders", {}).items()})
        s.voided.update(bytes.fromhex(h) for h in raw.get("voided", []))
        s.min_nonce.update(raw.get("min_nonce", {}))
        s.chain_cursor = int(raw.get("chain_cursor", 0))
        s.frozen.load(raw.get("frozen"))
        s.rebuild_reservations()
