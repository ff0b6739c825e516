"""The exchange service: the stages around the pure engine.

    order (EIP-712 signed) ─► validation + pre-trade risk ─► journal write ─► engine ─► journal
    fsync ─► acknowledge; trades ─► settlement worker ─► chain

One lock orders everything that changes state (risk check, journal write, engine step), so the
journal order is the engine order; the fsync happens after the lock is released and before the
answer, so concurrent orders share fsyncs (group commit) and nothing is acknowledged before it
is durable. On start the service replays the journal (from the latest snapshot) into a fresh
engine: books, orders, trades and settlement states come back exactly, with the same ids.

Journal entries: `format` (the first line: the journal's format version), `instrument`
(listing with trading parameters), `order` (the signed order and its signature), `cancel`,
`cancel_all`, `status`, `settled` (trade ids confirmed on chain, with the transaction),
`settle_failed` (trades that will never settle, with the reason and the side at fault; the
resting order of that side is cancelled), `requeued` (settled trades whose transaction the
chain lost: pending again, reservations back; see `requeue_lost`), `voided` (cancels read on
chain), `frozen` (freezes read on chain, freezes.py), `expire` (resting orders whose expiry
came, expiry.py). Format 2 orders carry the signed delivery batch and fee cap; a journal of an
earlier format is refused at start (JournalFormatError) rather than misread.

A settled trade stays "unconfirmed" (in memory, rebuilt on start) until the reconciler
(settlement_worker.py) has seen its transaction final on chain; until then it is not archived,
so a trade whose block the chain loses can still be re-queued.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from chain.signatures import checksum, recover
from core.units import UNITS_PER_TONNE
from exchange import snapshots
from exchange.archive import Archive
from exchange.balances import Balances
from exchange.engine import Engine
from exchange.errors import ExchangeError
from exchange.expiry import ExpiryQueue, expires_by
from exchange.fanout import Fanout
from exchange.freezes import FreezeCache, FreezeState, refusal
from exchange.instruments import (
    CreditClass,
    InstrumentSpec,
    Status,
    check_order,
    in_session,
    listing_problem,
    trading_day,
)
from exchange.journal import Journal
from exchange.marketdata import MarketData
from exchange.orders import (
    Accepted,
    BlockTrade,
    Cancel,
    CancelAll,
    Cancelled,
    CancelReason,
    Event,
    OfferLot,
    OrderType,
    Place,
    Rejected,
    Rested,
    SetStatus,
    Side,
    TimeInForce,
    Trade,
    Uncross,
)
from exchange.records import Finished, Held, Listing, MemberLimits, OrderRecord, TradeRecord
from exchange.reservations import SharedReservations
from exchange.risk import Risk
from exchange.signing import (
    Domain,
    Order,
    cancel_digest,
    order_digest,
    recover_signer,
)

log = logging.getLogger("tanhui.exchange")

JOURNAL_FORMAT = 2


class JournalFormatError(RuntimeError):
    """The journal was written by an exchange whose orders had other signed fields."""


class ExchangeService:
    """Order entry, risk, journal, engine, market data; the settlement worker reads from it."""

    def __init__(self, directory: Path, domain: Domain, balances: Balances,
                 taker_fee_bps: int = 20, snapshot_every: int = 10_000,
                 clock: Callable[[], float] = time.time,
                 limits: MemberLimits | None = None,
                 eligible: Callable[[CreditClass], list[int]] | None = None,
                 freezes: FreezeCache | None = None) -> None:
        self.domain = domain
        # freezes: what the chain says at entry (None: only the journaled ones, freezes.py)
        self.freezes = freezes
        self.frozen = FreezeState()
        self.expiring = ExpiryQueue()  # resting orders by signed expiry (expiry.py)
        # batches a class instrument may deliver (the chain's rule; SettlementChain)
        self.eligible = eligible or (lambda _: [])
        # pre-trade risk and the reservations it keeps, applied with every event (risk.py)
        self.risk = Risk(taker_fee_bps, limits or MemberLimits())
        self.balances = balances
        self.snapshot_every = snapshot_every
        self.clock = clock
        self.lock = threading.RLock()
        # held by the settlement worker while it settles, and by an operator failing a trade
        # (exchange/operator.py), so a trade is never failed while its settlement is in flight
        self.settling = threading.Lock()
        self.journal = Journal(directory)
        self._check_format()
        self.archive = Archive(directory / "archive.db")  # finished history (archive.py)
        self._archived = sum(self.archive.counts())  # 0: no archive lookups needed
        self.engine = Engine()
        self.listings: dict[str, Listing] = {}
        self.orders: dict[int, OrderRecord] = {}
        self.by_client: dict[tuple[str, bytes], int] = {}
        self.by_digest: dict[bytes, int] = {}
        # nonces of the orders in memory, per trader (older ones are in the archive): a nonce
        # names one order, as on chain, so a second order with it is refused at entry
        self.nonces: dict[str, set[int]] = {}
        self.next_nonces: dict[str, int] = {}  # one past each trader's highest nonce ever
        self._handed_nonces: dict[str, int] = {}  # custodial nonces handed out, not yet used
        self.trades: dict[int, TradeRecord] = {}
        self.order_trades: dict[int, list[int]] = {}  # order id → its trade ids, in order
        self.market = MarketData()
        self.lot_orders: dict[str, int] = {}  # instrument → the offered lot's order id
        # the reservations shared with API processes (share_reservations)
        self.shared: SharedReservations | None = None
        self._sharing = threading.Lock()
        # what traders voided on chain (Settlement.cancelOrder / raiseMinNonce), and the next
        # block to read for it; such orders are cancelled in the book and never accepted
        self.voided: set[bytes] = set()
        self.min_nonce: dict[str, int] = {}
        self.chain_cursor = 0
        # settled trades by transaction, until the chain says that transaction is final
        self.unconfirmed: dict[str, set[int]] = {}
        # market data streams: told of durable events in commit order, anonymously
        self.fanout = Fanout()
        self.listeners = self.fanout.listeners
        self._since_snapshot = 0
        self._snapshotting = threading.Lock()
        self._replay()

    # -- recovery ------------------------------------------------------------------------------

    def _check_format(self) -> None:
        """A new journal starts with its format; an existing one must have this format."""
        first = next(self.journal.entries(), None)
        if first is None:
            self.journal.append({"type": "format", "version": JOURNAL_FORMAT})
        elif first.get("type") != "format" or first.get("version") != JOURNAL_FORMAT:
            found = first.get("version", 1) if first.get("type") == "format" else 1
            self.journal.close()
            raise JournalFormatError(
                f"the exchange journal in {self.journal.directory} has format {found}; this "
                f"exchange reads format {JOURNAL_FORMAT} (orders sign their delivery batch and "
                "fee cap). Settle or cancel what is open with the old version, then start "
                "with an empty exchange directory.")

    def _replay(self) -> None:
        snap = self.journal.latest_snapshot()
        after = 0
        if snap is not None:
            after, state = snap
            self._restore(state)
        for entry in self.journal.entries(after):
            self._apply(entry, replay=True)

    def snapshot(self) -> int:
        """Moves finished history to the archive and writes a snapshot of the rest at the
        current journal position."""
        seq, captured, finished = self._capture()
        self._persist(seq, captured, finished)
        return seq

    def _capture(self) -> tuple[int, dict[str, Any], Finished]:
        """A consistent copy of the live state, taken under the lock and kept cheap: orders
        and trades are captured as (record, its mutable fields); their immutable parts (the
        signed order, the trade) are encoded later without the lock (snapshots.py).
        Finished orders and trades (archive.py) are set apart for the archive."""
        with self.lock:
            seq = self.journal.last_seq
            finished = self._finished()
            done_orders = {r.order_id for r in finished[0]}
            done_trades = {t.trade.trade_id for t in finished[1]}
            captured = {
                "engine": self.engine.snapshot(),
                "listings": {k: {"spec": {**asdict(v.spec), "status": str(v.spec.status)},
                                 "batch_id": v.batch_id,
                                 "class": asdict(v.credit_class) if v.credit_class else None,
                                 "close": [v.last_price, v.last_day, v.reference_day,
                                           v.last_trade, *self._base_close(v, done_trades)]}
                             for k, v in self.listings.items()},
                "orders": [(r, r.status, r.filled, r.reason) for r in self.orders.values()
                           if r.order_id not in done_orders],
                "trades": [(t, t.status, t.tx_hash, t.reason, t.at_fault)
                           for t in self.trades.values()
                           if t.trade.trade_id not in done_trades],
                "lot_orders": dict(self.lot_orders),
                "voided": [h.hex() for h in self.voided],
                "min_nonce": dict(self.min_nonce),
                "next_nonces": dict(self.next_nonces),
                "chain_cursor": self.chain_cursor,
                "frozen": self.frozen.dump(),
            }
        return seq, captured, finished

    def _base_close(self, listing: Listing, done: set[int]) -> tuple[int, int]:
        """The close a snapshot keeps as the base: the last counted trade that will not be in
        the snapshot (finished, or archived before), else the listing's base."""
        last = self.market.last_close(listing.spec.instrument, set(self.trades) - done)
        return ((last.price, trading_day(last.ts)) if last is not None
                else (listing.base_price, listing.base_day))

    def _finished(self) -> Finished:
        """Orders that can no longer change (filled, cancelled or rejected, every trade
        settled or failed) and the trades whose both orders are such. Under the lock."""
        lots = set(self.lot_orders.values())
        open_ids = set().union(*self.unconfirmed.values())  # settled, may still be re-queued
        orders = [r for r in self.orders.values()
                  if r.status in ("filled", "cancelled", "expired", "rejected")
                  and r.order_id not in lots
                  and all(self.trades[t].status != "pending" and t not in open_ids
                          for t in self.order_trades.get(r.order_id, ()))]
        ids = {r.order_id for r in orders}
        trades = [t for t in self.trades.values()
                  if t.status != "pending" and t.buy_order in ids and t.sell_order in ids]
        return orders, trades

    def _persist(self, seq: int, captured: dict[str, Any], finished: Finished) -> None:
        """Archive first (durable), then the snapshot that leaves those records out, then
        out of memory: a crash at any point loses nothing (archive.py)."""
        orders, trades = finished
        if orders or trades:
            self.archive.put(
                [(r.order_id, r.digest, r.order.trader, r.order.client_order_id,
                  {**r.view(), "trades": self._trades_of(r.order_id)}) for r in orders],
                [(t.trade.trade_id, t.view()) for t in trades])
        self.journal.write_snapshot(seq, snapshots.encode(captured))
        with self.lock:
            for r in orders:
                if self.orders.get(r.order_id) is r:
                    del self.orders[r.order_id]
                    self.by_digest.pop(r.digest, None)
                    self.by_client.pop((r.order.trader, r.order.client_order_id), None)
                    self.nonces.get(r.order.trader, set()).discard(r.order.nonce)
                    self.order_trades.pop(r.order_id, None)
                    self.risk.order_cash.pop(r.order_id, None)
            for t in trades:
                if self.trades.get(t.trade.trade_id) is t:
                    del self.trades[t.trade.trade_id]
            self._archived += len(orders) + len(trades)

    def _snapshot_in_background(self) -> None:
        """The copy is taken now; archiving, encoding and writing (most of the time, for a
        large state) happen on a thread, so order entry does not stall behind them."""
        if self._snapshotting.locked():
            return
        self._snapshotting.acquire()
        seq, captured, finished = self._capture()

        def write() -> None:
            try:
                self._persist(seq, captured, finished)
            finally:
                self._snapshotting.release()

        threading.Thread(target=write, name="exchange-snapshot", daemon=True).start()

    def _restore(self, state: dict[str, Any]) -> None:
        self.engine = Engine.restore(state["engine"])
        self.next_nonces.update(state["next_nonces"])
        for name, raw in state["listings"].items():
            spec = InstrumentSpec(**{**raw["spec"], "status": Status(raw["spec"]["status"])})
            self.listings[name] = Listing(self.engine.specs.get(name, spec), raw["batch_id"],
                                          _class_of(raw.get("class")),
                                          *raw.get("close", (0, 0, 0)))
        for o in snapshots.orders_of(state):
            batch = (o.batch_id if o.batch_id is not None
                     else self.listings[str(o.order.instrument)].batch_id)
            rec = OrderRecord(o.order_id, o.order, o.signature,
                              order_digest(o.order, self.domain), o.otype, o.status, o.filled,
                              o.reason, batch_id=batch)
            self._index(rec)
        for t in snapshots.trades_of(state):
            self._record_trade(TradeRecord(t.trade, t.batch_id, t.buy_order, t.sell_order,
                                           t.status, t.tx_hash, t.reason, t.at_fault))
            if t.status == "settled":
                self.unconfirmed.setdefault(t.tx_hash, set()).add(t.trade.trade_id)
            if t.status != "failed":  # a failed trade never counts in market data
                self.market.on_trade(t.trade)
        self.lot_orders.update(state.get("lot_orders", {}))
        self.voided.update(bytes.fromhex(h) for h in state.get("voided", []))
        self.min_nonce.update(state.get("min_nonce", {}))
        self.chain_cursor = int(state.get("chain_cursor", 0))
        self.frozen.load(state.get("frozen"))
        self._rebuild_reservations()

    def _delivery(self, entry: dict[str, Any], order: Order) -> int:
        """The batch a journaled sell delivers (entries before class instruments name none:
        the instrument's batch)."""
        batch = int(entry.get("batch_id") or 0)
        return batch or self.listings[str(order.instrument)].batch_id

    def _record_trade(self, t: TradeRecord) -> None:
        self.trades[t.trade.trade_id] = t
        for oid in {t.trade.maker_order_id, t.trade.taker_order_id}:
            self.order_trades.setdefault(oid, []).append(t.trade.trade_id)

    def _index(self, rec: OrderRecord) -> None:
        self.orders[rec.order_id] = rec
        if any(rec.order.client_order_id):  # zero means "no client order id"
            self.by_client[(rec.order.trader, rec.order.client_order_id)] = rec.order_id
        self.by_digest[rec.digest] = rec.order_id
        trader, nonce = rec.order.trader, rec.order.nonce
        self.nonces.setdefault(trader, set()).add(nonce)
        if nonce >= self.next_nonces.get(trader, 0):
            self.next_nonces[trader] = nonce + 1

    def next_nonce(self, trader: str, take: bool = False) -> int:
        """The lowest nonce above every nonce the trader used (and its on-chain minimum): where
        a client numbers on from, so its orders' nonce bits share storage words on chain.
        `take` hands it out (custodial orders), so concurrent callers get different ones."""
        with self.lock:
            n = max(self.next_nonces.get(trader, 0), self._handed_nonces.get(trader, 0),
                    self.min_nonce.get(trader, 0))
            if take:
                self._handed_nonces[trader] = n + 1
            return n

    def _nonce_used(self, trader: str, nonce: int) -> bool:
        return nonce in self.nonces.get(trader, ()) or bool(
            self._archived and self.archive.has_nonce(trader, nonce))

    # -- applying journal entries (live and replay share this) ---------------------------------

    def _apply(self, entry: dict[str, Any], replay: bool = False,
               digest: bytes | None = None) -> list[Event]:
        """Applies one journal entry to the state and returns the engine's events; the same
        code runs live and on replay, so a replay rebuilds exactly what was answered. `digest`
        is an order's EIP-712 hash when the live path has computed it already."""
        kind = entry["type"]
        handler = self._handlers.get(kind)
        if handler is None:
            raise ValueError(f"unknown journal entry {kind!r}")
        return handler(entry, int(entry["seq"]), int(entry.get("ts", 0)), digest)

    @cached_property
    def _handlers(self) -> dict[str, Callable[[dict[str, Any], int, int, bytes | None],
                                               list[Event]]]:
        """One handler per journal entry type (the module docstring lists them)."""
        return {
            "format": lambda e, seq, ts, d: [],
            "instrument": self._on_instrument,
            "status": self._on_status,
            "block": lambda e, seq, ts, d: self._apply_block(e, seq, ts),
            "lot": self._on_lot,
            "order": self._on_order,
            "uncross": self._on_uncross,
            "cancel": self._on_cancel,
            "cancel_all": self._on_cancel_all,
            "settled": self._on_settled,
            "requeued": self._on_requeued,
            "voided": lambda e, seq, ts, d: self._apply_voided(e, ts),
            "frozen": lambda e, seq, ts, d: self._apply_frozen(e, ts),
            "expire": lambda e, seq, ts, d: self._cancel_all_of(e["order_ids"],
                                                                CancelReason.EXPIRED, ts),
            "settle_failed": lambda e, seq, ts, d: self._apply_failed(e, ts),
        }

    def _on_instrument(self, entry: dict[str, Any], seq: int, ts: int,
                       _: bytes | None) -> list[Event]:
        spec = InstrumentSpec(**{**entry["spec"], "status": Status(entry["spec"]["status"])})
        self.engine.add_instrument(spec)
        self.listings[spec.instrument] = Listing(spec, int(entry["batch_id"]),
                                                 _class_of(entry.get("class")),
                                                 reference_day=trading_day(ts))
        return []

    def _on_status(self, entry: dict[str, Any], seq: int, ts: int,
                   _: bytes | None) -> list[Event]:
        events = self.engine.process(SetStatus(entry["instrument"], entry["status"],
                                               int(entry.get("reference_price", 0)), ts))
        listing = self.listings[entry["instrument"]]
        listing.spec = self.engine.specs[entry["instrument"]]
        if int(entry.get("reference_price", 0)) > 0:
            listing.reference_day = trading_day(ts)
        return events

    def _on_lot(self, entry: dict[str, Any], seq: int, ts: int,
                _: bytes | None) -> list[Event]:
        order = _order_of(entry["order"])
        rec = OrderRecord(seq, order, bytes.fromhex(entry["signature"][2:]),
                          order_digest(order, self.domain), "lot", status="open",
                          batch_id=self._delivery(entry, order))
        self._index(rec)
        self.risk.reserve_order(rec)
        events = self.engine.process(OfferLot(str(order.instrument), order.trader,
                                              order.quantity, order.price, ts))
        if any(isinstance(ev, Rejected) for ev in events):
            self.risk.release_order(rec, order.quantity)
            rec.status = "rejected"
        else:
            self.lot_orders[str(order.instrument)] = seq
            self.listings[str(order.instrument)].spec = self.engine.specs[
                str(order.instrument)]
        return events

    def _on_order(self, entry: dict[str, Any], seq: int, ts: int,
                  digest: bytes | None) -> list[Event]:
        order = _order_of(entry["order"])
        rec = OrderRecord(seq, order, bytes.fromhex(entry["signature"][2:]),
                          digest if digest is not None else order_digest(order, self.domain),
                          entry.get("otype", "limit"), batch_id=self._delivery(entry, order))
        self._index(rec)
        self.risk.reserve_order(rec)
        otype = OrderType.MARKET if rec.otype == "market" else OrderType.LIMIT
        cmd = Place(str(order.instrument), seq, order.trader, Side(order.side), order.price,
                    order.quantity, TimeInForce(order.time_in_force), otype, ts)
        return self._events(self.engine.process(cmd))

    def _on_uncross(self, entry: dict[str, Any], seq: int, ts: int,
                    _: bytes | None) -> list[Event]:
        events = self._events(self.engine.process(Uncross(entry["instrument"], ts)))
        self.listings[entry["instrument"]].spec = self.engine.specs[entry["instrument"]]
        return events

    def _on_cancel(self, entry: dict[str, Any], seq: int, ts: int,
                   _: bytes | None) -> list[Event]:
        rec = self.orders[int(entry["order_id"])]
        return self._events(self.engine.process(
            Cancel(str(rec.order.instrument), rec.order_id, rec.order.trader, ts)))

    def _on_cancel_all(self, entry: dict[str, Any], seq: int, ts: int,
                       _: bytes | None) -> list[Event]:
        return self._events(self.engine.process(
            CancelAll(entry["instrument"], checksum(entry["trader"]), ts)))

    def _on_settled(self, entry: dict[str, Any], seq: int, ts: int,
                    _: bytes | None) -> list[Event]:
        for tid in entry["trade_ids"]:
            t = self.trades.get(int(tid))
            if t is not None and t.status == "pending":
                t.status, t.tx_hash = "settled", entry.get("tx_hash", "")
                self.risk.release_trade(t)
                self.unconfirmed.setdefault(t.tx_hash, set()).add(t.trade.trade_id)
        return []

    def _on_requeued(self, entry: dict[str, Any], seq: int, ts: int,
                     _: bytes | None) -> list[Event]:
        for tid in entry["trade_ids"]:
            t = self.trades.get(int(tid))
            if t is not None and t.status == "settled":
                self._unconfirm(t)
                t.status, t.tx_hash = "pending", ""
                self.risk.reserve_trade(t)
        return []

    def _apply_failed(self, entry: dict[str, Any], ts: int) -> list[Event]:
        """Trades that will never settle. Both sides' reservations for them are released; the
        orders are not put back in the book. The order of the side at fault (if the contract
        named one) is cancelled if it still rests: its later fills would fail the same way
        and take innocent counterparties with them."""
        fault = entry.get("at_fault", "")
        events: list[Event] = []
        for tid in entry["trade_ids"]:
            t = self.trades.get(int(tid))
            if t is None or t.status != "pending":
                continue
            t.status, t.reason, t.at_fault = "failed", entry.get("reason", ""), fault
            self.risk.release_trade(t)
            self._uncount(t.trade)
            guilty = self.orders.get(t.sell_order if fault == "seller" else t.buy_order) if (
                fault) else None
            book = self.engine.books.get(str(guilty.order.instrument)) if guilty else None
            if guilty is not None and book is not None and guilty.order_id in book.orders:
                events += self._events(self.engine.process(Cancel(
                    str(guilty.order.instrument), guilty.order_id, guilty.order.trader, ts,
                    CancelReason.SETTLEMENT_FAILED)))
        return events

    def _apply_voided(self, entry: dict[str, Any], ts: int) -> list[Event]:
        """Orders their traders voided on chain leave the book (they could never settle)."""
        hashes = {bytes.fromhex(h) for h in entry["hashes"]}
        floors = {checksum(t): int(n) for t, n in entry["floors"].items()}
        self.voided |= hashes
        for trader, nonce in floors.items():
            self.min_nonce[trader] = max(self.min_nonce.get(trader, 0), nonce)
        self.chain_cursor = max(self.chain_cursor, int(entry["to_block"]) + 1)
        hit = [self.orders[oid] for oid in (self.by_digest.get(h) for h in hashes)
               if oid is not None]
        if floors:
            hit += [r for r in self.orders.values() if r.status in ("new", "open")
                    and r.order.nonce < floors.get(r.order.trader, 0)]
        return self._cancel_all_of(list(dict.fromkeys(r.order_id for r in hit)),
                                   CancelReason.ON_CHAIN, ts)

    def _cancel_all_of(self, order_ids: list[int], reason: CancelReason,
                       ts: int) -> list[Event]:
        """Takes these orders out of the book (those still resting) for `reason`."""
        events: list[Event] = []
        for oid in order_ids:
            rec = self.orders.get(int(oid))
            if rec is not None and rec.status in ("new", "open") and rec.otype != "lot":
                events += self._events(self.engine.process(Cancel(
                    str(rec.order.instrument), rec.order_id, rec.order.trader, ts, reason)))
        return events

    def _apply_frozen(self, entry: dict[str, Any], ts: int) -> list[Event]:
        """Freezes seen on chain (freezes.py): journaled state, and the orders they stop."""
        accounts = {checksum(a): bool(f) for a, f in entry["accounts"].items()}
        batches = {int(b): bool(f) for b, f in entry["batches"].items()}
        self.frozen.apply(accounts, batches, int(entry["to_block"]))
        hit = [(rec.order_id, code) for rec in sorted(self.orders.values(),
                                                      key=lambda r: r.order_id)
               if rec.status in ("new", "open") and (code := self.frozen.stops(
                   rec.order.trader, rec.order.side, rec.batch_id,
                   self.listings[str(rec.order.instrument)].batch_id))]
        events: list[Event] = []
        for oid, code in hit:
            events += self._cancel_all_of([oid], CancelReason(code), ts)
        return events

    def apply_freezes(self, accounts: dict[str, bool], batches: dict[int, bool],
                      to_block: int) -> int:
        """Journals the freezes the settlement worker read on chain (from `frozen.cursor` to
        `to_block`) and cancels the resting orders they stop; returns how many."""
        if self.freezes is not None:
            self.freezes.learned(accounts, batches)
        with self.lock:
            if not accounts and not batches:
                self.frozen.cursor = max(self.frozen.cursor, to_block + 1)
                return 0
            seq, events = self._commit({"type": "frozen", "accounts": accounts,
                                        "batches": {str(b): f for b, f in batches.items()},
                                        "to_block": to_block})
        self._durable(seq, events)
        return _cancelled(events)

    def _expire_due(self) -> list[Event]:
        """Journals the resting orders whose expiry (less the margin, expiry.py) the clock
        has reached and takes them out of the book. Under the lock; the caller publishes."""
        due = self.expiring.due(self.clock(), lambda oid: oid in self.orders and self.orders[
            oid].status in ("new", "open"))
        if not due:
            return []
        return self._commit({"type": "expire", "order_ids": due})[1]

    def expire_due(self) -> int:
        """Expires what is due now (the settlement worker calls it every pass, so an order
        leaves the book on time even when nothing else happens); returns how many."""
        with self.lock:
            events = self._expire_due()
            seq = self.journal.last_seq
        if events:
            self._durable(seq, events)
        return _cancelled(events)

    def _uncount(self, trade: Trade) -> None:
        """A trade that failed settlement leaves market data, and the close it set goes back
        to the last trade still counted (or the close from before the trades in memory)."""
        self.market.discard(trade)
        listing = self.listings.get(trade.instrument)
        if listing is None or listing.last_trade != trade.trade_id:
            return
        last = self.market.last_close(trade.instrument)
        if last is None:
            listing.last_trade = 0
            listing.last_price, listing.last_day = listing.base_price, listing.base_day
        else:
            listing.last_trade = last.trade_id
            listing.last_price, listing.last_day = last.price, trading_day(last.ts)

    def void_onchain(self, hashes: list[bytes], floors: dict[str, int], to_block: int) -> int:
        """Journals what the chain says traders voided (read by the settlement worker from
        block `chain_cursor` to `to_block`) and cancels those orders; returns how many."""
        with self.lock:
            if not hashes and not floors:
                self.chain_cursor = max(self.chain_cursor, to_block + 1)  # nothing to keep
                return 0
            seq, events = self._commit({"type": "voided", "hashes": [h.hex() for h in hashes],
                                        "floors": floors, "to_block": to_block})
        self._durable(seq, events)
        return _cancelled(events)

    def _apply_block(self, entry: dict[str, Any], seq: int, ts: int) -> list[Event]:
        """A negotiated block trade: both signed orders (the buy gets order id `seq`, the sell
        `-seq`), one trade at the agreed price, never touching the book."""
        buy, sell = _order_of(entry["buy"]["order"]), _order_of(entry["sell"]["order"])
        records = []
        for oid, order, raw in ((seq, buy, entry["buy"]), (-seq, sell, entry["sell"])):
            rec = OrderRecord(oid, order, bytes.fromhex(raw["signature"][2:]),
                              order_digest(order, self.domain), "block", status="filled",
                              filled=int(entry["quantity"]), batch_id=self._delivery(raw, order))
            self._index(rec)
            records.append(rec)
        events = self.engine.process(BlockTrade(str(buy.instrument), seq, buy.trader,
                                                sell.trader, int(entry["price"]),
                                                int(entry["quantity"]), ts))
        for ev in events:
            if isinstance(ev, Trade):
                t = TradeRecord(ev, records[1].batch_id, seq, -seq)
                self._record_trade(t)
                self.risk.add_credits(ev.seller, t.batch_id, ev.quantity)
                self.risk.add_cash(ev.buyer, self.risk.cash_for(ev.quantity, ev.price))
                self.market.on_trade(ev)
            elif isinstance(ev, Rejected):
                for rec in records:
                    rec.status, rec.reason = "rejected", str(ev.reason)
        return events

    def block_trade(self, buy: Order, buy_signature: bytes, sell: Order,
                    sell_signature: bytes, price: int, quantity: int) -> dict[str, Any]:
        """Records a negotiated block trade between two signed orders (Flow 8): checked
        against both limits and the ±30 % block band, risk-checked, journaled, settled like
        any trade."""
        if buy.side != 0 or sell.side != 1 or buy.instrument != sell.instrument:
            raise ExchangeError("mismatched_orders", "a block trade needs a buy and a sell "
                                "of one instrument")
        if not sell.price <= price <= buy.price or not 0 < quantity <= min(buy.quantity,
                                                                         sell.quantity):
            raise ExchangeError("mismatched_orders", "price or quantity outside the "
                                "orders' limits")
        listing = self._listing(str(buy.instrument))
        verified, digests = [], []
        for order, sig in ((buy, buy_signature), (sell, sell_signature)):
            digest = order_digest(order, self.domain)
            signer = recover_signer(order, sig, self.domain, digest)
            if signer is None or signer.lower() != order.trader.lower():
                raise ExchangeError("bad_signature", "a signature is not its trader's")
            if digest in self.by_digest or (self._archived and self.archive.has_digest(digest)):
                raise ExchangeError("duplicate_order", "an order was already used")
            verified.append(_spelled(order, signer))
            digests.append(digest)
        buy, sell = verified
        if buy.trader.lower() == sell.trader.lower():
            raise ExchangeError("self_trade", "buyer and seller are the same member")
        sized_buy = replace(buy, price=price, quantity=quantity, time_in_force=0)
        sized_sell = replace(sell, price=price, quantity=quantity, time_in_force=0)
        held_buy = self._held(sized_buy, listing)
        held_sell = self._held(sized_sell, listing)
        self.expire_due()
        with self.lock:
            self._roll_reference(listing)
            self._check(sized_buy, listing, "block", held_buy, block=True, digest=digests[0])
            batch = self._check(sized_sell, listing, "block", held_sell, block=True,
                                digest=digests[1])
            seq, events = self._commit({"type": "block", "price": price, "quantity": quantity,
                                        "buy": _signed(buy, buy_signature),
                                        "sell": {**_signed(sell, sell_signature),
                                                 "batch_id": batch}})
            trades = [self.trades[ev.trade_id].view() for ev in events if isinstance(ev, Trade)]
        self._durable(seq, events)
        if not trades:
            reason = next((str(ev.reason) for ev in events if isinstance(ev, Rejected)),
                          "rejected")
            raise ExchangeError(reason, f"block trade refused: {reason}")
        return trades[0]

    def _events(self, events: list[Event]) -> list[Event]:
        for ev in events:
            if isinstance(ev, Rested):
                rec = self.orders[ev.order_id]
                if not rec.resting:
                    self.risk.rest(rec)
                    self.expiring.add(rec.order.expiry, rec.order_id)
                rec.status = "open"
            elif isinstance(ev, Accepted):
                self.orders[ev.order_id].status = "open"
            elif isinstance(ev, Trade):
                maker_id = ev.maker_order_id or self.lot_orders.pop(ev.instrument)  # 0: the lot
                maker, taker = self.orders[maker_id], self.orders[ev.taker_order_id]
                for rec in (maker, taker):
                    rec.filled += ev.quantity
                    if rec.filled == rec.order.quantity:
                        rec.status = "filled"
                        self.risk.unrest(rec)
                buy, sell = (maker, taker) if maker.order.side == 0 else (taker, maker)
                # the buy's reservation shrinks to its remainder; the trade reserves its cash;
                # the sold credits stay reserved (open sell → unsettled sale)
                left = self.risk.cash_for(buy.order.quantity - buy.filled, buy.order.price)
                held = self.risk.order_cash.get(buy.order_id, 0)
                self.risk.order_cash[buy.order_id] = left
                self.risk.add_cash(buy.order.trader,
                          left - held + self.risk.cash_for(ev.quantity, ev.price))
                self._record_trade(TradeRecord(ev, sell.batch_id, buy.order_id, sell.order_id))
                self.market.on_trade(ev)
                listing = self.listings[ev.instrument]
                listing.last_price, listing.last_day = ev.price, trading_day(ev.ts)
                listing.last_trade = ev.trade_id
            elif isinstance(ev, Cancelled):
                rec = self.orders[ev.order_id]
                if str(ev.reason) != "moved":
                    rec.status = "expired" if ev.reason == CancelReason.EXPIRED else "cancelled"
                    rec.reason = str(ev.reason)
                    self.risk.release_order(rec, ev.quantity)
                    self.risk.unrest(rec)
            elif isinstance(ev, Rejected) and ev.order_id in self.orders:
                rec = self.orders[ev.order_id]
                if rec.status in ("new", "open"):
                    self.risk.release_order(rec, rec.order.quantity - rec.filled)
                rec.status, rec.reason = "rejected", str(ev.reason)
        return events

    def _commit(self, entry: dict[str, Any],
                digest: bytes | None = None) -> tuple[int, list[Event]]:
        """Journal write + apply, under the lock; the caller syncs before answering."""
        entry.setdefault("ts", int(self.clock() * 1000))
        seq = self.journal.write(entry)
        events = self._apply({**entry, "seq": seq}, digest=digest)
        self.fanout.stage(seq, events)
        self._since_snapshot += 1
        return seq, events

    def _durable(self, seq: int, events: list[Event]) -> None:
        self.journal.sync(seq)
        self._published(seq)

    def _published(self, seq: int) -> None:
        """Entry `seq` is durable: tells listeners (market data streams) every event up to it,
        in commit order (fanout.py); snapshots when due. Changed reservations are written to
        the shared table first, so a change is visible to every API process before the
        request that made it is answered."""
        if self.shared is not None and self.risk.has_changes:
            self._share()
        self._release(seq)

    def _release(self, seq: int) -> None:
        """Events up to durable entry `seq` to the listeners; a snapshot when due."""
        self.fanout.release(seq)
        if self._since_snapshot >= self.snapshot_every:
            self._since_snapshot = 0
            self._snapshot_in_background()

    def share_reservations(self, shared: SharedReservations) -> None:
        """From now on the reservation totals are kept in `shared` (exchange/reservations.py),
        starting with all of them."""
        with self._sharing, self.lock:
            shared.replace_all(self.risk.totals())
            self.shared = shared
            # once per group fsync, on the journal's sync thread, before its answers
            self.journal.after_sync = self._share

    def _share(self) -> None:
        assert self.shared is not None
        with self._sharing:  # one writer at a time, so a later total is never overwritten
            with self.lock:
                changes = self.risk.take_changes()
            if not changes:
                return
            try:
                self.shared.write(changes)
            except Exception:  # the database is busy: the next answer writes them again
                log.exception("writing %d shared reservations failed", len(changes))
                with self.lock:
                    self.risk.changed_again(changes)

    # -- administration ------------------------------------------------------------------------

    def list_instrument(self, spec: InstrumentSpec, batch_id: int,
                        credit_class: CreditClass | None = None) -> None:
        with self.lock:
            if spec.instrument in self.listings:
                raise ExchangeError("instrument_exists", "the instrument is listed")
            if (batch_id == 0) == (credit_class is None):
                raise ExchangeError("invalid_instrument",
                                    "an instrument is one batch or one credit class")
            problem = listing_problem(spec)
            if problem is not None:
                raise ExchangeError(problem, "a lot at one tick must be worth at least 1 "
                                    "fen (lot units × tick fen/t ≥ 1,000,000)",
                                    {"lot": spec.lot, "tick": spec.tick})
            seq, events = self._commit({"type": "instrument", "batch_id": batch_id,
                                        "class": asdict(credit_class) if credit_class else None,
                                        "spec": {**asdict(spec), "status": str(spec.status)}})
        self._durable(seq, events)

    def set_status(self, instrument: str, status: Status, reference_price: int = 0) -> None:
        with self.lock:
            self._listing(instrument)
            seq, events = self._commit({"type": "status", "instrument": instrument,
                                        "status": str(status),
                                        "reference_price": reference_price})
        self._durable(seq, events)

    def uncross(self, instrument: str) -> list[dict[str, Any]]:
        """Ends a call auction: everything that crosses trades at one clearing price, then
        continuous trading opens (exchange.auction)."""
        self.expire_due()
        with self.lock:
            listing = self._listing(instrument)
            if listing.spec.status not in (Status.AUCTION, Status.SINGLE_LOT):
                raise ExchangeError("not_in_auction", "the instrument is not in a call "
                                    "auction")
            lot = self.lot_orders.get(instrument)
            seq, events = self._commit({"type": "uncross", "instrument": instrument})
            trades = [self.trades[ev.trade_id].view() for ev in events if isinstance(ev, Trade)]
            if lot is not None and instrument in self.lot_orders:  # not awarded: withdrawn
                self.lot_orders.pop(instrument)
                rec = self.orders[lot]
                rec.status, rec.reason = "cancelled", "auction_unfilled"
                self.risk.release_order(rec, rec.order.quantity)
        self._durable(seq, events)
        return trades

    def offer_lot(self, order: Order, signature: bytes) -> dict[str, Any]:
        """Opens a single-lot auction with the seller's signed sell order: its quantity is the
        lot, its price the reserve. Bids are ordinary buy orders for exactly the lot; Uncross
        awards it to the best bid at or above the reserve (the earliest among equals)."""
        listing = self._listing(str(order.instrument))
        digest = order_digest(order, self.domain)
        signer = recover_signer(order, signature, self.domain, digest)
        if signer is None or signer.lower() != order.trader.lower() or order.side != 1:
            raise ExchangeError("bad_signature", "the lot needs its seller's signed sell")
        order = _spelled(order, signer)
        held = self._held(order, listing)
        with self.lock:
            if digest in self.by_digest or (self._archived and self.archive.has_digest(digest)):
                raise ExchangeError("duplicate_order", "this order was already used")
            batch = self._check(order, listing, "lot", held, digest=digest)
            # the engine's own refusal, checked first so that a refused lot journals nothing
            if self.engine.books[listing.spec.instrument].orders or listing.spec.status in (
                    Status.HALTED, Status.SINGLE_LOT):
                raise ExchangeError("instrument_busy", "the instrument has resting orders "
                                    "or an auction already")
            seq, events = self._commit({"type": "lot", "batch_id": batch,
                                        **_signed(order, signature)})
            view = self.orders[seq].view()
        self._durable(seq, events)
        return view

    def _roll_reference(self, listing: Listing) -> None:
        """On an instrument's first command of a new trading day, the previous close becomes
        the reference price the bands are taken from (as on the Chinese pilot exchanges). The
        roll is a journaled status entry, so replay repeats it; a reference the exchange set
        itself that day is kept. Call under the lock."""
        today = trading_day(int(self.clock() * 1000))
        if (today > listing.reference_day and listing.last_price > 0
                and listing.last_day < today
                and listing.spec.status in (Status.OPEN, Status.HALTED)):
            self._commit({"type": "status", "instrument": listing.spec.instrument,
                          "status": str(listing.spec.status),
                          "reference_price": listing.last_price, "roll": True})

    def _listing(self, instrument: str) -> Listing:
        listing = self.listings.get(instrument)
        if listing is None:
            raise ExchangeError("unknown_instrument", f"instrument {instrument} is not listed")
        return listing

    # -- order entry ---------------------------------------------------------------------------

    def submit(self, order: Order, signature: bytes, otype: str = "limit") -> dict[str, Any]:
        """Checks, journals and matches a signed order; returns its state and its trades.
        Idempotent: the same trader and client order id (or the same signed order) returns
        the order already accepted. A sell delivers the batch it signed (`Order.batch_id`)."""
        seq, events, view = self._accept(order, signature, otype)
        self._durable(seq, events)
        return view

    async def submit_async(self, order: Order, signature: bytes,
                           otype: str = "limit") -> dict[str, Any]:
        """`submit` for an event loop: the same checks and engine step, then the answer waits
        for the journal's group fsync without holding up the loop (Journal.durable)."""
        seq, _events, view = self._accept(order, signature, otype)
        await self.journal.durable(seq)  # shared reservations written then too (_share)
        self._release(seq)
        return view

    def _accept(self, order: Order, signature: bytes,
                otype: str) -> tuple[int, list[Event], dict[str, Any]]:
        """Everything up to (not including) durability: (journal seq to wait for, events to
        publish once durable, the answer)."""
        listing = self._listing(str(order.instrument))
        digest = order_digest(order, self.domain)
        signer = recover_signer(order, signature, self.domain, digest)
        if signer is None or signer.lower() != order.trader.lower():
            raise ExchangeError("bad_signature", "the signature is not the trader's")
        order = _spelled(order, signer)
        # chain reads happen before the lock, so a slow node never stalls other orders
        held = self._held(order, listing)
        self.expire_due()  # what expired leaves the book before this order can meet it
        with self.lock:
            found = self._accepted(order, digest)
            if found is not None:
                known, known_digest, existing = found
                if known_digest != digest:
                    raise ExchangeError("duplicate_client_order_id",
                                        "this client order id names another order",
                                        {"order_id": known})
                # the original may still be waiting for its fsync: so does this answer
                return known, [], {**existing, "replayed": True}
            self._roll_reference(listing)
            batch = self._check(order, listing, otype, held, digest=digest)
            self._refuse_self_trade(order, listing)
            seq, events = self._commit({
                "type": "order", "otype": otype, "batch_id": batch, **_signed(order, signature)},
                digest=digest)
            view = {**self.orders[seq].view(), "trades": self._trades_of(seq), "replayed": False}
        return seq, events, view

    def _refuse_self_trade(self, order: Order, listing: Listing) -> None:
        """Self-trade prevention at entry: an order that would meet its trader's own resting
        order in continuous matching is refused whole (`409 self_trade`), nothing journaled
        or traded, rather than accepted, partly filled and then cancelled by the engine: the
        trader learns at once and keeps control of both orders. Under the lock."""
        if listing.spec.status != Status.OPEN:
            return  # auctions and single lots handle their own (auction.py, engine)
        own = self.engine.books[listing.spec.instrument].own_order_in_the_way(
            Side(order.side), order.price, order.trader, order.quantity)
        if own is not None:
            raise ExchangeError("self_trade", "the order would trade with the trader's own "
                                "resting order", {"resting_order_id": own.order_id,
                                                  "price": own.price})

    def _accepted(self, order: Order,
                  digest: bytes) -> tuple[int, bytes, dict[str, Any]] | None:
        """The order already accepted under this trader and client order id, or else this
        order hash: (its id, its hash, its view), from memory or the archive. Under the lock."""
        known = self.by_client.get((order.trader, order.client_order_id)) if any(
            order.client_order_id) else None
        if known is None:
            known = self.by_digest.get(digest)
        if known is not None:
            rec = self.orders[known]
            return known, rec.digest, {**rec.view(), "trades": self._trades_of(known)}
        if self._archived:
            archived = self.archive.find(order.trader, order.client_order_id, digest)
            if archived is not None:
                return int(archived[1]["order_id"]), archived[0], archived[1]
        return None

    def _held(self, order: Order, listing: Listing) -> Held:
        """What the chain says the trader holds for this order: approval for settlement, and
        cash for a buy or, for a sell, credits of the batch it signed to deliver."""
        self._check_delivery(order, listing)
        frozen = None
        if self.freezes is not None:
            batch = order.batch_id if order.side == 1 else listing.batch_id
            frozen = refusal(self.freezes.account(order.trader),
                             bool(batch) and self.freezes.batch(batch))
        if frozen is not None:
            return Held(True, 0, {}, frozen)
        if not self.balances.ready(order.trader):
            return Held(False, 0, {})
        if order.side == 0:
            return Held(True, self.balances.cash(order.trader), {})
        return Held(True, 0, {order.batch_id: self.balances.credits(order.trader,
                                                                    order.batch_id)})

    def _check_delivery(self, order: Order, listing: Listing) -> None:
        """The signed delivery bound must be one the contract will settle and the engine can
        honour: a sell names an eligible batch; a buy names 0 (any batch the instrument
        admits) or, on a per-batch instrument, that batch (the engine matches by instrument,
        so a buy cannot restrict a class instrument to one of its batches)."""
        batch = order.batch_id
        if order.side == 1:
            if batch == 0:
                raise ExchangeError("delivery_batch_required",
                                    "a sell signs the batch it delivers (batch_id)")
            if batch not in self._deliverable(listing):
                raise ExchangeError("ineligible_batch", f"batch {batch} cannot deliver "
                                    f"instrument {order.instrument}")
        elif batch != 0 and batch != listing.batch_id:
            raise ExchangeError("ineligible_batch", "a buy names batch_id 0 (any batch the "
                                "instrument admits) or the instrument's own batch",
                                {"batch_id": batch})

    def _deliverable(self, listing: Listing) -> list[int]:
        return (self.eligible(listing.credit_class) if listing.credit_class
                else [listing.batch_id])

    def delivery_batch(self, trader: str, instrument: str) -> int:
        """For a custodial sell that names no batch, the one the server signs: of the batches
        the instrument admits, the one where the trader has the most free credits (the lowest
        id among equals); the whole order must then fit in it (`_check`)."""
        listing = self._listing(instrument)
        batches = self._deliverable(listing)
        if listing.credit_class is not None:  # a frozen batch is never chosen (freezes.py)
            batches = [b for b in batches if b not in self.frozen.batches
                       and not (self.freezes is not None and self.freezes.batch(b))]
        if not batches:
            raise ExchangeError("insufficient_balance", "no batch can deliver instrument "
                                f"{instrument} yet", {"free": 0})
        free = {b: self.balances.credits(trader, b) - self.reserved_credits(trader, b)
                for b in batches}
        return max(free, key=lambda b: (free[b], -b))

    def _check(self, order: Order, listing: Listing, otype: str, held: Held,
               block: bool = False, digest: bytes = b"") -> int:
        """Refuses what may not trade; returns a sell's delivery batch (0 for a buy), which
        must cover the whole order, since one trade settles one batch. `digest` is the hash
        of the order as signed (a block trade checks re-sized copies)."""
        now = int(self.clock())
        if expires_by(order.expiry, now):
            raise ExchangeError("order_expired", "the order's expiry has passed or is too "
                                "close to settle (expiry.py)", {"expiry": order.expiry,
                                                                "now": now})
        code = held.frozen or self.frozen.stops(order.trader, order.side, order.batch_id,
                                                listing.batch_id)
        if code is not None:
            raise ExchangeError(code, "the regulator froze the "
                                + ("account" if code == "account_frozen" else "batch"),
                                {"batch_id": order.batch_id or listing.batch_id}
                                if code == "batch_frozen" else None)
        if order.side not in (0, 1) or order.time_in_force not in (0, 1, 2):
            raise ExchangeError("invalid_order", "side or time in force out of range")
        if order.nonce < self.min_nonce.get(order.trader, 0) or digest in self.voided:
            raise ExchangeError("order_cancelled_on_chain", "the trader voided this order "
                                "on chain (Settlement.cancelOrder or raiseMinNonce)")
        if self._nonce_used(order.trader, order.nonce):
            raise ExchangeError("nonce_used", "the trader signed another order with this "
                                "nonce (a nonce names one order)", {"nonce": order.nonce})
        if order.max_fee_bps < self.taker_fee_bps:
            raise ExchangeError("max_fee_too_low", "the order's signed fee cap is below "
                                "the fee it may be charged", {"max_fee_bps": order.max_fee_bps,
                                                               "fee_bps": self.taker_fee_bps})
        if listing.spec.lot * order.price < UNITS_PER_TONNE:
            raise ExchangeError("fill_below_one_fen", "a lot at this price is worth less "
                                "than 1 fen", {"lot": listing.spec.lot, "price": order.price})
        if not in_session(listing.spec, now):
            raise ExchangeError("outside_trading_hours", "the instrument is not trading now",
                                {"session_open": listing.spec.session_open,
                                 "session_close": listing.spec.session_close})
        problem = check_order(listing.spec, order.price, order.quantity, block)
        if problem is not None:
            raise ExchangeError(str(problem), f"order refused: {problem}")
        return self.risk.check(order, held)

    @property
    def taker_fee_bps(self) -> int:
        """The fee an order may be charged as taker (its signed cap must cover it)."""
        return self.risk.taker_fee_bps

    def cash_for(self, quantity: int, price: int) -> int:
        """Most a buy of `quantity` at `price` can cost, fee included (risk.py)."""
        return self.risk.cash_for(quantity, price)

    def reserved_credits(self, trader: str, batch_id: int) -> int:
        """Credits promised by open sells and unsettled sold trades of that batch."""
        return self.risk.reserved_credits(trader, batch_id)

    def reserved_cash(self, trader: str) -> int:
        """Cash promised by open buys and unsettled purchases."""
        return self.risk.reserved_cash(trader)

    def _rebuild_reservations(self) -> None:
        self.risk.rebuild(self.orders.values(), self.trades.values())
        self.expiring.clear()
        for rec in self.orders.values():
            if rec.status in ("new", "open"):
                self.expiring.add(rec.order.expiry, rec.order_id)

    def cancel(self, trader: str, order_id: int) -> dict[str, Any]:
        with self.lock:
            rec = self.orders.get(order_id)
            if rec is None:
                old = self.order(order_id)  # archived (finished), or 404
                if old["trader"].lower() != trader.lower():
                    raise ExchangeError("not_order_owner",
                                        "the order belongs to another trader")
                raise ExchangeError("order_not_open", f"the order is {old['status']}")
            if rec.order.trader.lower() != trader.lower():
                raise ExchangeError("not_order_owner", "the order belongs to another trader")
            if rec.status not in ("new", "open"):
                raise ExchangeError("order_not_open", f"the order is {rec.status}")
            seq, events = self._commit({"type": "cancel", "order_id": order_id})
            view = rec.view()
        self._durable(seq, events)
        return view

    def cancel_signed(self, order_id: int, signature: bytes) -> dict[str, Any]:
        """Cancels an order on its trader's signed CancelOrder(orderHash) (signing.py): for
        traders who hold their own keys and no API key."""
        rec = self.orders.get(order_id)
        if rec is None:
            old = self.order(order_id)  # archived (finished), or 404
            raise ExchangeError("order_not_open", f"the order is {old['status']}")
        signer = recover(cancel_digest(rec.digest, self.domain), signature)
        if signer is None or signer.lower() != rec.order.trader.lower():
            raise ExchangeError("bad_signature", "the cancel is not signed by the order's "
                                "trader")
        return self.cancel(rec.order.trader, order_id)

    def cancel_all(self, trader: str, instrument: str) -> list[int]:
        with self.lock:
            self._listing(instrument)
            seq, events = self._commit({"type": "cancel_all", "instrument": instrument,
                                        "trader": trader})
        self._durable(seq, events)
        return [ev.order_id for ev in events if isinstance(ev, Cancelled)]

    # -- reads ---------------------------------------------------------------------------------

    def _trades_of(self, order_id: int) -> list[dict[str, Any]]:
        return [self.trades[t].view() for t in self.order_trades.get(order_id, ())]

    def order(self, order_id: int) -> dict[str, Any]:
        rec = self.orders.get(order_id)
        if rec is None:
            old = self.archive.order(order_id) if self._archived else None
            if old is None:
                raise ExchangeError("unknown_order", f"order {order_id} does not exist")
            return old
        return {**rec.view(), "trades": self._trades_of(order_id)}

    def trade(self, trade_id: int) -> TradeRecord | None:
        """A trade still in memory (pending, or settled but not yet final or archived)."""
        return self.trades.get(trade_id)

    def archived_trade(self, trade_id: int) -> dict[str, Any] | None:
        """A finished trade's view from the archive, None if there is none."""
        return self.archive.trade(trade_id) if self._archived else None

    def orders_of(self, t: TradeRecord) -> tuple[OrderRecord, OrderRecord]:
        """The signed buy and sell orders of a trade (kept in memory until it is final)."""
        return self.orders[t.buy_order], self.orders[t.sell_order]

    def market_trades(self, instrument: str, limit: int) -> list[dict[str, Any]]:
        self._listing(instrument)
        return self.market.trades(instrument, limit)

    def market_candles(self, instrument: str, interval: str, limit: int) -> list[dict[str, Any]]:
        self._listing(instrument)
        return self.market.candles(instrument, interval, limit)

    def market_stats(self, instrument: str, now_ms: int) -> dict[str, Any]:
        self._listing(instrument)
        return self.market.stats_24h(instrument, now_ms)

    def subscribe(self, instrument: str, levels: int,
                  listener: Callable[[str, dict[str, Any]], None]) -> dict[str, Any]:
        """Adds a listener of released events (fanout.py) and returns the depth snapshot taken
        at the same instant, so no event falls between the two."""
        with self.lock:
            snapshot = self.depth(instrument, levels)
            self.fanout.listeners.append(listener)
        return snapshot

    def unsubscribe(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        with contextlib.suppress(ValueError):  # the feed drops a listener that failed
            self.fanout.listeners.remove(listener)

    def forget_balances(self, *traders: str) -> None:
        """The next check of these traders reads the chain (after an approval or a transfer
        outside the exchange)."""
        self.balances.forget(*traders)

    def follow_chain_from(self, block: int) -> None:
        """Where the reading of on-chain cancels starts, if nothing was read yet."""
        with self.lock:
            if self.chain_cursor == 0:
                self.chain_cursor = block

    def status(self) -> dict[str, Any]:
        """For operators: how far the journal is, what is working, what waits for the chain."""
        with self.lock:
            pending = [t for t in self.trades.values() if t.status == "pending"]
            return {"journal_seq": self.journal.last_seq,
                    "instruments": len(self.listings),
                    "open_orders": sum(self.risk.open_orders.values()),
                    "pending_trades": len(pending),
                    "oldest_pending_trade_ts": min((t.trade.ts for t in pending), default=None),
                    "failed_trades": sum(1 for t in self.trades.values()
                                         if t.status == "failed"),
                    "chain_cursor": self.chain_cursor, "archived": self._archived}

    def open_orders_of(self, trader: str, instrument: str | None = None) -> list[dict[str, Any]]:
        """A trader's orders still working (new or open), oldest first: what a client
        reconnecting after a crash needs to know."""
        if instrument is not None:
            self._listing(instrument)
        with self.lock:
            return [{**r.view(), "trades": self._trades_of(r.order_id)}
                    for r in sorted(self.orders.values(), key=lambda r: r.order_id)
                    if r.order.trader == trader and r.status in ("new", "open")
                    and (instrument is None or str(r.order.instrument) == instrument)]

    def depth(self, instrument: str, levels: int = 20) -> dict[str, Any]:
        self._listing(instrument)
        with self.lock:
            book = self.engine.books[instrument]
            return {"instrument": int(instrument), "seq": book.seq,
                    "bids": [list(x) for x in book.depth(Side.BUY, levels)],
                    "asks": [list(x) for x in book.depth(Side.SELL, levels)]}

    def pending_trades(self, limit: int = 1_000) -> list[TradeRecord]:
        with self.lock:
            return [t for t in self.trades.values() if t.status == "pending"][:limit]

    def mark_settled(self, trade_ids: list[int], tx_hash: str) -> None:
        with self.lock:
            seq, events = self._commit({"type": "settled", "trade_ids": trade_ids,
                                        "tx_hash": tx_hash})
        self._durable(seq, events)
        with self.lock:
            traders = {x for tid in trade_ids for x in (self.trades[tid].trade.buyer,
                                                        self.trades[tid].trade.seller)}
        self.balances.forget(*traders)

    def unconfirmed_settlements(self) -> dict[str, list[int]]:
        """Settled trades by transaction hash ("" when the worker found them settled on chain
        without knowing the transaction), for those the chain has not made final yet."""
        with self.lock:
            return {tx: sorted(ids) for tx, ids in self.unconfirmed.items()}

    def confirm_settlement(self, tx_hash: str) -> None:
        """The chain made `tx_hash` final: its trades can no longer be lost (in memory only;
        a restart checks them again)."""
        with self.lock:
            self.unconfirmed.pop(tx_hash, None)

    def requeue_lost(self, trade_ids: list[int], reason: str) -> None:
        """Settled trades whose settlement the chain lost (its transaction vanished, was
        superseded or reverted when re-sent, and `Settlement.settled` is false) become pending
        again with their reservations back; the worker settles them anew. Their signed orders
        are still good: the fills were never written on chain."""
        if not trade_ids:
            return
        with self.lock:
            seq, events = self._commit({"type": "requeued", "trade_ids": trade_ids,
                                        "reason": reason})
            traders = {x for tid in trade_ids if tid in self.trades
                       for x in (self.trades[tid].trade.buyer, self.trades[tid].trade.seller)}
        self._durable(seq, events)
        self.balances.forget(*traders)

    def _unconfirm(self, t: TradeRecord) -> None:
        ids = self.unconfirmed.get(t.tx_hash)
        if ids is not None:
            ids.discard(t.trade.trade_id)
            if not ids:
                del self.unconfirmed[t.tx_hash]

    def mark_failed(self, trade_ids: list[int], reason: str, at_fault: str = "") -> None:
        """Trades that will never settle: both sides' reservations for them are released (the
        innocent side's cash or credits are free again at once); the orders are not put back
        in the book (docs/exchange.md, "When a trade fails settlement")."""
        with self.lock:
            seq, events = self._commit({"type": "settle_failed", "trade_ids": trade_ids,
                                        "reason": reason, "at_fault": at_fault})
        self._durable(seq, events)
        with self.lock:
            traders = {x for tid in trade_ids if tid in self.trades
                       for x in (self.trades[tid].trade.buyer, self.trades[tid].trade.seller)}
        self.balances.forget(*traders)

    def close(self) -> None:
        if self._snapshotting.acquire(timeout=60):  # a snapshot being written finishes first
            self._snapshotting.release()
        self.journal.close()
        self.archive.close()


def _cancelled(events: list[Event]) -> int:
    """How many orders these events took out of the book."""
    return sum(1 for ev in events if isinstance(ev, Cancelled))


def _spelled(order: Order, signer: str) -> Order:
    """The order with its trader spelled as the checksummed signer: reservations, limits and
    client order ids are keyed by that string, so every spelling of an address must be one."""
    return order if order.trader == signer else replace(order, trader=signer)


def _signed(o: Order, signature: bytes) -> dict[str, Any]:
    """A signed order as the journal keeps it."""
    return {"signature": "0x" + signature.hex(), "order": o.to_json()}


def _class_of(raw: dict[str, Any] | None) -> CreditClass | None:
    return CreditClass(**raw) if raw else None


def _order_of(o: dict[str, Any]) -> Order:
    return Order.from_json(o)
