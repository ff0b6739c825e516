"""The exchange's state stage: journal entries in, engine events out.

    entry (entries.py) ─► ExchangeState.apply ─► engine.process ─► events
                                              └► orders, trades, listings, risk, market data

Everything the exchange knows that is not the book lives here, and changes only through
`apply`: the live path and replay run the same handlers, so a replay rebuilds exactly what
was answered. No I/O, no clock and no lock: the service (service.py) journals an entry and
applies it under its lock; snapshots (checkpoint.py) copy and restore this object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exchange.engine import Engine
from exchange.entries import (
    BlockAgreed,
    CancelAllRequested,
    CancelRequested,
    Entry,
    FrozenOnChain,
    InstrumentListed,
    JournalFormat,
    LotOffered,
    OrderPlaced,
    OrdersExpired,
    Signed,
    StatusSet,
    TradesFailed,
    TradesRequeued,
    TradesSettled,
    Uncrossed,
    VoidedOnChain,
)
from exchange.errors import ExchangeError
from exchange.expiry import ExpiryQueue
from exchange.freezes import FreezeState
from exchange.instruments import trading_day
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
    Trade,
    Uncross,
)
from exchange.records import Finished, Listing, OrderRecord, TradeRecord
from exchange.risk import Risk
from exchange.signing import Domain, order_digest

LIVE = ("new", "open")  # the statuses of an order that can still trade

Handler = Callable[[Any, int, int, bytes | None], list[Event]]


class ExchangeState:
    """Listings, orders, trades and what the chain said, beside the engine and risk."""

    def __init__(self, domain: Domain, risk: Risk) -> None:
        self.domain = domain
        self.risk = risk  # reservations, applied with every event (risk.py)
        self.engine = Engine()
        self.market = MarketData()
        self.frozen = FreezeState()  # freezes read on chain (freezes.py)
        self.expiring = ExpiryQueue()  # resting orders by signed expiry (expiry.py)
        self.listings: dict[int, Listing] = {}
        self.orders: dict[int, OrderRecord] = {}
        self.by_client: dict[tuple[str, bytes], int] = {}
        self.by_digest: dict[bytes, int] = {}
        # nonces of the orders in memory, per trader (older ones are in the archive): a nonce
        # names one order, as on chain, so a second order with it is refused at entry
        self.nonces: dict[str, set[int]] = {}
        self.next_nonces: dict[str, int] = {}  # one past each trader's highest nonce ever
        self.trades: dict[int, TradeRecord] = {}
        self.order_trades: dict[int, list[int]] = {}  # order id → its trade ids, in order
        self.lot_orders: dict[int, int] = {}  # instrument → the offered lot's order id
        # what traders voided on chain (Settlement.cancelOrder / raiseMinNonce), and the next
        # block to read for it; such orders are cancelled in the book and never accepted
        self.voided: set[bytes] = set()
        self.min_nonce: dict[str, int] = {}
        self.chain_cursor = 0
        # settled trades by transaction, until the chain says that transaction is final
        self.unconfirmed: dict[str, set[int]] = {}
        self._handlers: dict[type, Handler] = {
            JournalFormat: lambda e, seq, ts, d: [],
            InstrumentListed: self._on_instrument,
            StatusSet: self._on_status,
            BlockAgreed: self._on_block,
            LotOffered: self._on_lot,
            OrderPlaced: self._on_order,
            Uncrossed: self._on_uncross,
            CancelRequested: self._on_cancel,
            CancelAllRequested: self._on_cancel_all,
            TradesSettled: self._on_settled,
            TradesRequeued: self._on_requeued,
            TradesFailed: self._on_failed,
            VoidedOnChain: self._on_voided,
            FrozenOnChain: self._on_frozen,
            OrdersExpired: lambda e, seq, ts, d: self.cancel_all_of(
                e.order_ids, CancelReason.EXPIRED, ts),
        }

    # -- applying ------------------------------------------------------------------------------

    def apply(self, entry: Entry, seq: int, ts: int, digest: bytes | None = None) -> list[Event]:
        """Applies journal entry `seq` (written at `ts` ms) and returns the engine's events.
        `digest` is an order's EIP-712 hash when the live path has computed it already."""
        return self._handlers[type(entry)](entry, seq, ts, digest)

    def _on_instrument(self, e: InstrumentListed, seq: int, ts: int,
                       _: bytes | None) -> list[Event]:
        self.engine.add_instrument(e.spec)
        self.listings[e.spec.instrument] = Listing(e.spec, e.batch_id, e.credit_class,
                                                   reference_day=trading_day(ts))
        return []

    def _on_status(self, e: StatusSet, seq: int, ts: int, _: bytes | None) -> list[Event]:
        events = self.engine.process(SetStatus(e.instrument, e.status, e.reference_price, ts))
        listing = self.listings[e.instrument]
        listing.spec = self.engine.specs[e.instrument]
        if e.reference_price > 0:
            listing.reference_day = trading_day(ts)
        return events

    def _record(self, order_id: int, signed: Signed, otype: str, batch_id: int,
                digest: bytes | None = None, **fields: Any) -> OrderRecord:
        """The order's record, indexed; a sell's batch 0 (entries from before class
        instruments) is the instrument's batch."""
        order = signed.order
        rec = OrderRecord(order_id, order, signed.signature,
                          digest if digest is not None else order_digest(order, self.domain),
                          otype, batch_id=batch_id or self.listings[
                              order.instrument].batch_id, **fields)
        self.index(rec)
        return rec

    def _on_lot(self, e: LotOffered, seq: int, ts: int, _: bytes | None) -> list[Event]:
        order = e.signed.order
        instrument = order.instrument
        rec = self._record(seq, e.signed, "lot", e.batch_id, status="open")
        self.risk.reserve_order(rec)
        events = self.engine.process(OfferLot(instrument, order.trader, order.quantity,
                                              order.price, ts))
        if any(isinstance(ev, Rejected) for ev in events):
            self.risk.release_order(rec, order.quantity)
            rec.status = "rejected"
        else:
            self.lot_orders[instrument] = seq
            self.listings[instrument].spec = self.engine.specs[instrument]
        return events

    def _on_order(self, e: OrderPlaced, seq: int, ts: int, digest: bytes | None) -> list[Event]:
        order = e.signed.order
        rec = self._record(seq, e.signed, e.otype, e.batch_id, digest)
        self.risk.reserve_order(rec)
        otype = OrderType.MARKET if rec.otype == "market" else OrderType.LIMIT
        cmd = Place(order.instrument, seq, order.trader, order.side, order.price,
                    order.quantity, order.time_in_force, otype, ts)
        return self._events(self.engine.process(cmd))

    def _on_block(self, e: BlockAgreed, seq: int, ts: int, _: bytes | None) -> list[Event]:
        """A negotiated block trade: both signed orders (the buy gets order id `seq`, the sell
        `-seq`), one trade at the agreed price, never touching the book."""
        records = [self._record(seq, e.buy, "block", 0, status="filled", filled=e.quantity),
                   self._record(-seq, e.sell, "block", e.sell_batch, status="filled",
                                filled=e.quantity)]
        buy, sell = e.buy.order, e.sell.order
        events = self.engine.process(BlockTrade(buy.instrument, seq, buy.trader,
                                                sell.trader, e.price, e.quantity, ts))
        for ev in events:
            if isinstance(ev, Trade):
                t = TradeRecord(ev, records[1].batch_id, seq, -seq)
                self.record_trade(t)
                self.risk.add_credits(ev.seller, t.batch_id, ev.quantity)
                self.risk.add_cash(ev.buyer, self.risk.cash_for(ev.quantity, ev.price))
                self.market.on_trade(ev)
            elif isinstance(ev, Rejected):
                for rec in records:
                    rec.status, rec.reason = "rejected", str(ev.reason)
        return events

    def _on_uncross(self, e: Uncrossed, seq: int, ts: int, _: bytes | None) -> list[Event]:
        lot = self.lot_orders.get(e.instrument)
        events = self._events(self.engine.process(Uncross(e.instrument, ts)))
        self.listings[e.instrument].spec = self.engine.specs[e.instrument]
        if lot is not None and e.instrument in self.lot_orders:  # not awarded: withdrawn
            self.lot_orders.pop(e.instrument)
            rec = self.orders[lot]
            rec.status, rec.reason = "cancelled", "auction_unfilled"
            self.risk.release_order(rec, rec.order.quantity)
        return events

    def _on_cancel(self, e: CancelRequested, seq: int, ts: int, _: bytes | None) -> list[Event]:
        rec = self.orders[e.order_id]
        return self._events(self.engine.process(
            Cancel(rec.order.instrument, rec.order_id, rec.order.trader, ts)))

    def _on_cancel_all(self, e: CancelAllRequested, seq: int, ts: int,
                       _: bytes | None) -> list[Event]:
        return self._events(self.engine.process(CancelAll(e.instrument, e.trader, ts)))

    def _on_settled(self, e: TradesSettled, seq: int, ts: int, _: bytes | None) -> list[Event]:
        for tid in e.trade_ids:
            t = self.trades.get(tid)
            if t is not None and t.status == "pending":
                t.status, t.tx_hash = "settled", e.tx_hash
                self.risk.release_trade(t)
                self.unconfirmed.setdefault(t.tx_hash, set()).add(t.trade.trade_id)
        return []

    def _on_requeued(self, e: TradesRequeued, seq: int, ts: int,
                     _: bytes | None) -> list[Event]:
        for tid in e.trade_ids:
            t = self.trades.get(tid)
            if t is not None and t.status == "settled":
                self.confirmed(t)
                t.status, t.tx_hash = "pending", ""
                self.risk.reserve_trade(t)
        return []

    def _on_failed(self, e: TradesFailed, seq: int, ts: int, _: bytes | None) -> list[Event]:
        """Trades that will never settle. Both sides' reservations for them are released; the
        orders are not put back in the book. The order of the side at fault (if the contract
        named one) is cancelled if it still rests: its later fills would fail the same way
        and take innocent counterparties with them."""
        events: list[Event] = []
        for tid in e.trade_ids:
            t = self.trades.get(tid)
            if t is None or t.status != "pending":
                continue
            t.status, t.reason, t.at_fault = "failed", e.reason, e.at_fault
            self.risk.release_trade(t)
            self._uncount(t.trade)
            guilty = self.orders.get(t.sell_order if e.at_fault == "seller"
                                     else t.buy_order) if e.at_fault else None
            book = self.engine.books.get(guilty.order.instrument) if guilty else None
            if guilty is not None and book is not None and guilty.order_id in book.orders:
                events += self._events(self.engine.process(Cancel(
                    guilty.order.instrument, guilty.order_id, guilty.order.trader, ts,
                    CancelReason.SETTLEMENT_FAILED)))
        return events

    def _on_voided(self, e: VoidedOnChain, seq: int, ts: int, _: bytes | None) -> list[Event]:
        """Orders their traders voided on chain leave the book (they could never settle)."""
        self.voided.update(e.hashes)
        for trader, nonce in e.floors.items():
            self.min_nonce[trader] = max(self.min_nonce.get(trader, 0), nonce)
        self.chain_cursor = max(self.chain_cursor, e.to_block + 1)
        hit = [self.orders[oid] for oid in (self.by_digest.get(h) for h in e.hashes)
               if oid is not None]
        if e.floors:
            hit += [r for r in self.orders.values() if r.status in LIVE
                    and r.order.nonce < e.floors.get(r.order.trader, 0)]
        return self.cancel_all_of(list(dict.fromkeys(r.order_id for r in hit)),
                                  CancelReason.ON_CHAIN, ts)

    def _on_frozen(self, e: FrozenOnChain, seq: int, ts: int, _: bytes | None) -> list[Event]:
        """Freezes seen on chain (freezes.py): journaled state, and the orders they stop."""
        self.frozen.apply(e.accounts, e.batches, e.to_block)
        hit = [(rec.order_id, code) for rec in sorted(self.orders.values(),
                                                      key=lambda r: r.order_id)
               if rec.status in LIVE and (code := self.frozen.stops(
                   rec.order.trader, rec.order.side,
                   self.listings[rec.order.instrument].credit_batch(rec.batch_id),
                   self.listings[rec.order.instrument].batch_id))]
        events: list[Event] = []
        for oid, code in hit:
            events += self.cancel_all_of([oid], CancelReason(code), ts)
        return events

    def cancel_all_of(self, order_ids: Any, reason: CancelReason, ts: int) -> list[Event]:
        """Takes these orders out of the book (those still resting) for `reason`."""
        events: list[Event] = []
        for oid in order_ids:
            rec = self.orders.get(int(oid))
            if rec is not None and rec.status in LIVE and rec.otype != "lot":
                events += self._events(self.engine.process(Cancel(
                    rec.order.instrument, rec.order_id, rec.order.trader, ts, reason)))
        return events

    def _events(self, events: list[Event]) -> list[Event]:
        """The records and reservations follow the engine's events."""
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
                self._on_trade(ev)
            elif isinstance(ev, Cancelled):
                rec = self.orders[ev.order_id]
                if str(ev.reason) != "moved":
                    rec.status = "expired" if ev.reason == CancelReason.EXPIRED else "cancelled"
                    rec.reason = str(ev.reason)
                    self.risk.release_order(rec, ev.quantity)
                    self.risk.unrest(rec)
            elif isinstance(ev, Rejected) and ev.order_id in self.orders:
                rec = self.orders[ev.order_id]
                if rec.status in LIVE:
                    self.risk.release_order(rec, rec.order.quantity - rec.filled)
                rec.status, rec.reason = "rejected", str(ev.reason)
        return events

    def _on_trade(self, ev: Trade) -> None:
        maker_id = ev.maker_order_id or self.lot_orders.pop(ev.instrument)  # 0: the lot
        maker, taker = self.orders[maker_id], self.orders[ev.taker_order_id]
        for rec in (maker, taker):
            rec.filled += ev.quantity
            if rec.filled == rec.order.quantity:
                rec.status = "filled"
                self.risk.unrest(rec)
        buy, sell = (maker, taker) if maker.order.side == Side.BUY else (taker, maker)
        # the buy's reservation shrinks to its remainder; the trade reserves its cash; the
        # sold credits stay reserved (open sell → unsettled sale)
        self.risk.fill(buy, ev.quantity, ev.price)
        self.record_trade(TradeRecord(ev, sell.batch_id, buy.order_id, sell.order_id))
        self.market.on_trade(ev)
        listing = self.listings[ev.instrument]
        listing.last_price, listing.last_day = ev.price, trading_day(ev.ts)
        listing.last_trade = ev.trade_id

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

    # -- records -------------------------------------------------------------------------------

    def index(self, rec: OrderRecord) -> None:
        self.orders[rec.order_id] = rec
        if any(rec.order.client_order_id):  # zero means "no client order id"
            self.by_client[(rec.order.trader, rec.order.client_order_id)] = rec.order_id
        self.by_digest[rec.digest] = rec.order_id
        trader, nonce = rec.order.trader, rec.order.nonce
        self.nonces.setdefault(trader, set()).add(nonce)
        if nonce >= self.next_nonces.get(trader, 0):
            self.next_nonces[trader] = nonce + 1

    def record_trade(self, t: TradeRecord) -> None:
        self.trades[t.trade.trade_id] = t
        for oid in {t.trade.maker_order_id, t.trade.taker_order_id}:
            self.order_trades.setdefault(oid, []).append(t.trade.trade_id)

    def confirmed(self, t: TradeRecord) -> None:
        """`t` is no longer waiting for its transaction to be final."""
        ids = self.unconfirmed.get(t.tx_hash)
        if ids is not None:
            ids.discard(t.trade.trade_id)
            if not ids:
                del self.unconfirmed[t.tx_hash]

    def forget(self, orders: list[OrderRecord], trades: list[TradeRecord]) -> None:
        """Archived records leave memory (checkpoint.py)."""
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

    def rebuild_reservations(self) -> None:
        self.risk.rebuild(self.orders.values(), self.trades.values())
        self.expiring.clear()
        for rec in self.orders.values():
            if rec.status in LIVE:
                self.expiring.add(rec.order.expiry, rec.order_id)

    # -- reads ---------------------------------------------------------------------------------

    def listing(self, instrument: int) -> Listing:
        listing = self.listings.get(instrument)
        if listing is None:
            raise ExchangeError("unknown_instrument", f"instrument {instrument} is not listed")
        return listing

    def trades_of(self, order_id: int) -> list[dict[str, Any]]:
        return [self.trades[t].view() for t in self.order_trades.get(order_id, ())]

    def view(self, rec: OrderRecord) -> dict[str, Any]:
        """An order as clients read it: its record and its trades."""
        return {**rec.view(), "trades": self.trades_of(rec.order_id)}

    def finished(self) -> Finished:
        """Orders that can no longer change (filled, cancelled or rejected, every trade
        settled or failed) and the trades whose both orders are such."""
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

    def traders_of(self, trade_ids: Any) -> set[str]:
        return {x for tid in trade_ids if tid in self.trades
                for x in (self.trades[tid].trade.buyer, self.trades[tid].trade.seller)}
