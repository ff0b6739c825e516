"""The exchange service: the thin facade that runs the stages around the pure engine.

    order (EIP-712 signed) ─► admission.py (signature, chain reads, checks, risk) ─► entries.py
        ─► journal write ─► state.py (engine step, records, reservations) ─► journal fsync
        ─► fanout.py (market data) ─► acknowledge;  trades ─► settlement_worker.py ─► chain

One lock orders everything that changes state (check, journal write, apply), so the journal
order is the engine order; the fsync happens after the lock is released and before the answer,
so concurrent orders share fsyncs (group commit) and nothing is acknowledged before it is
durable. On start the service restores the latest snapshot (checkpoint.py) and replays the
journal after it through the same `ExchangeState.apply` that ran live: books, orders, trades and
settlement states come back exactly, with the same ids. A journal of another format is refused
at start (JournalFormatError) rather than misread.

A settled trade stays "unconfirmed" (in memory, rebuilt on start) until the reconciler
(settlement_worker.py) has seen its transaction final on chain; until then it is not archived,
so a trade whose block the chain loses can still be re-queued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from chain.signatures import checksum, recover
from exchange.admission import Admission
from exchange.archive import Archive
from exchange.balances import Balances
from exchange.checkpoint import Checkpoints
from exchange.entries import (
    JOURNAL_FORMAT,
    BlockAgreed,
    CancelAllRequested,
    CancelRequested,
    Entry,
    InstrumentListed,
    JournalFormat,
    LotOffered,
    OrderPlaced,
    OrdersExpired,
    Signed,
    StatusSet,
    Uncrossed,
    decode,
    encode,
)
from exchange.errors import ExchangeError
from exchange.fanout import Fanout
from exchange.freezes import FreezeCache
from exchange.instruments import (
    InstrumentClass,
    InstrumentSpec,
    Status,
    listing_problem,
    trading_day,
)
from exchange.journal import Journal
from exchange.orders import Cancelled, Event, Rejected, Side, TimeInForce, Trade
from exchange.reads import ExchangeReads
from exchange.records import Listing, MemberLimits
from exchange.reservations import SharedReservations
from exchange.risk import Risk
from exchange.settlement_feed import SettlementFeed
from exchange.signing import Domain, Order, cancel_digest
from exchange.state import LIVE, ExchangeState

log = logging.getLogger("tanhui.exchange")

__all__ = ["JOURNAL_FORMAT", "ExchangeService", "JournalFormatError"]


class JournalFormatError(RuntimeError):
    """The journal was written by an exchange whose orders had other signed fields."""


class ExchangeService:
    """Commands (journaled, then applied) and reads over one exchange's stages."""

    def __init__(self, directory: Path, domain: Domain, balances: Balances,
                 taker_fee_bps: int = 20, snapshot_every: int = 10_000,
                 clock: Callable[[], float] = time.time,
                 limits: MemberLimits | None = None,
                 eligible: Callable[[InstrumentClass], list[int]] | None = None,
                 freezes: FreezeCache | None = None) -> None:
        self.domain = domain
        self.balances = balances
        self.snapshot_every = snapshot_every
        self.clock = clock
        self.lock = threading.RLock()
        self.risk = Risk(taker_fee_bps, limits or MemberLimits())  # risk.py
        self.state = ExchangeState(domain, self.risk)  # state.py
        self.journal = Journal(directory)
        self._check_format()
        self.archive = Archive(directory / "archive.db")  # finished history (archive.py)
        self.checkpoints = Checkpoints(self.state, self.journal, self.archive, self.lock)
        # freezes: what the chain says at entry (None: only the journaled ones, freezes.py);
        # eligible: the batches a class instrument may deliver (the chain's rule)
        self.admission = Admission(self.state, self.risk, self.archive, domain, balances,
                                   freezes, eligible or (lambda _: []), clock)
        self.freezes = freezes
        self._handed_nonces: dict[str, int] = {}  # custodial nonces handed out, not yet used
        # the reservations shared with API processes (share_reservations)
        self.shared: SharedReservations | None = None
        self._sharing = threading.Lock()
        # market data streams: told of durable events in commit order, anonymously
        self.fanout = Fanout()
        self._since_snapshot = 0
        # the two other doors: what clients read (reads.py), what settlement reads and
        # reports (settlement_feed.py)
        self.reads = ExchangeReads(self.state, self.risk, self.archive, self.journal,
                                   self.fanout, self.lock)
        self.settlement = SettlementFeed(self.state, self.lock, self.run, self.expire_due,
                                         balances, freezes)
        self._replay()

    # -- recovery ------------------------------------------------------------------------------

    def _check_format(self) -> None:
        """A new journal starts with its format; an existing one must have this format."""
        first = next(self.journal.entries(), None)
        if first is None:
            self.journal.append(encode(JournalFormat()))
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
            after, raw = snap
            self.checkpoints.restore(raw)
        for line in self.journal.entries(after):
            self.state.apply(*decode(line))

    def snapshot(self) -> int:
        """Moves finished history to the archive and writes a snapshot of the rest at the
        current journal position."""
        return self.checkpoints.take()

    # -- journaling ----------------------------------------------------------------------------

    def _commit(self, entry: Entry, digest: bytes | None = None) -> tuple[int, list[Event]]:
        """Journal write + apply, under the lock; the caller makes it durable before
        answering (`_durable`, or `Journal.durable` on the event loop)."""
        ts = int(self.clock() * 1000)
        seq = self.journal.write(encode(entry, ts))
        events = self.state.apply(entry, seq, ts, digest)
        self.fanout.stage(seq, events)
        self._since_snapshot += 1
        return seq, events

    def run(self, entry: Entry) -> list[Event]:
        """Journals and applies `entry` and returns its events once it is durable (the
        settlement feed reports what the chain said through this)."""
        with self.lock:
            seq, events = self._commit(entry)
        self._durable(seq)
        return events

    def _durable(self, seq: int) -> None:
        """Entry `seq` made durable; changed reservations are written to the shared table
        before anything is answered, so a change is visible to every API process first."""
        self.journal.sync(seq)
        if self.shared is not None and self.risk.has_changes:
            self._share()
        self._release(seq)

    def _release(self, seq: int) -> None:
        """Events up to durable entry `seq` to the listeners (fanout.py); a snapshot when
        due."""
        self.fanout.release(seq)
        if self._since_snapshot >= self.snapshot_every:
            self._since_snapshot = 0
            self.checkpoints.in_background()

    def share_reservations(self, shared: SharedReservations) -> None:
        """From now on the reservation totals are kept in `shared` (exchange/reservations.py),
        starting with all of them."""
        with self._sharing, self.lock:
            shared.replace_all(self.risk.totals())
            self.shared = shared
            # once per group fsync, before its answers (journal.py)
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

    # -- order entry ---------------------------------------------------------------------------

    def submit(self, order: Order, signature: bytes, otype: str = "limit") -> dict[str, Any]:
        """Checks, journals and matches a signed order; returns its state and its trades.
        Idempotent: the same trader and client order id (or the same signed order) returns
        the order already accepted. A sell delivers the batch it signed (`Order.batch_id`)."""
        seq, view = self._accept(order, signature, otype)
        self._durable(seq)
        return view

    async def submit_async(self, order: Order, signature: bytes,
                           otype: str = "limit") -> dict[str, Any]:
        """`submit` for an event loop: the same checks and engine step, then the answer waits
        for the journal's group fsync without holding up the loop (Journal.durable)."""
        seq, view = self._accept(order, signature, otype)
        await self.journal.durable(seq)  # shared reservations written then too (_share)
        self._release(seq)
        return view

    def _accept(self, order: Order, signature: bytes, otype: str) -> tuple[int, dict[str, Any]]:
        """Everything up to (not including) durability: (journal seq to wait for, answer)."""
        listing = self.state.listing(order.instrument)
        order, digest = self.admission.verify(order, signature)
        # chain reads happen before the lock, so a slow node never stalls other orders
        held = self.admission.held(order, listing)
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
                return known, {**existing, "replayed": True}
            self._roll_reference(listing)
            batch = self.admission.check(order, listing, held, digest=digest)
            self.admission.refuse_self_trade(order, listing)
            seq, _ = self._commit(OrderPlaced(Signed(order, signature), otype, batch), digest)
            view = {**self.state.view(self.state.orders[seq]), "replayed": False}
        return seq, view

    def _accepted(self, order: Order,
                  digest: bytes) -> tuple[int, bytes, dict[str, Any]] | None:
        """The order already accepted under this trader and client order id, or else this
        order hash: (its id, its hash, its view), from memory or the archive. Under the lock."""
        s = self.state
        known = s.by_client.get((order.trader, order.client_order_id)) if any(
            order.client_order_id) else None
        if known is None:
            known = s.by_digest.get(digest)
        if known is not None:
            rec = s.orders[known]
            return known, rec.digest, s.view(rec)
        archived = self.archive.find(order.trader, order.client_order_id, digest)
        if archived is not None:
            return int(archived[1]["order_id"]), archived[0], archived[1]
        return None

    def _roll_reference(self, listing: Listing) -> None:
        """On an instrument's first command of a new trading day, the previous close becomes
        the reference price the bands are taken from (as on the Chinese pilot exchanges). The
        roll is a journaled status entry, so replay repeats it; a reference the exchange set
        itself that day is kept. Call under the lock."""
        today = trading_day(int(self.clock() * 1000))
        if (today > listing.reference_day and listing.last_price > 0
                and listing.last_day < today
                and listing.spec.status in (Status.OPEN, Status.HALTED)):
            self._commit(StatusSet(listing.spec.instrument, listing.spec.status,
                                   listing.last_price, roll=True))

    def block_trade(self, buy: Order, buy_signature: bytes, sell: Order,
                    sell_signature: bytes, price: int, quantity: int) -> dict[str, Any]:
        """Records a negotiated block trade between two signed orders (Flow 8): checked
        against both limits and the ±30 % block band, risk-checked, journaled, settled like
        any trade."""
        if buy.side != Side.BUY or sell.side != Side.SELL or buy.instrument != sell.instrument:
            raise ExchangeError("mismatched_orders", "a block trade needs a buy and a sell "
                                "of one instrument")
        if not sell.price <= price <= buy.price or not 0 < quantity <= min(buy.quantity,
                                                                         sell.quantity):
            raise ExchangeError("mismatched_orders", "price or quantity outside the "
                                "orders' limits")
        listing = self.state.listing(buy.instrument)
        refusal = "a signature is not its trader's"
        buy, buy_digest = self.admission.verify(buy, buy_signature, refusal)
        sell, sell_digest = self.admission.verify(sell, sell_signature, refusal)
        for digest in (buy_digest, sell_digest):
            self.admission.refuse_used(digest)
        if buy.trader.lower() == sell.trader.lower():
            raise ExchangeError("self_trade", "buyer and seller are the same member")
        sized_buy = replace(buy, price=price, quantity=quantity, time_in_force=TimeInForce.GTC)
        sized_sell = replace(sell, price=price, quantity=quantity,
                             time_in_force=TimeInForce.GTC)
        held_buy = self.admission.held(sized_buy, listing)
        held_sell = self.admission.held(sized_sell, listing)
        self.expire_due()
        with self.lock:
            self._roll_reference(listing)
            self.admission.check(sized_buy, listing, held_buy, block=True, digest=buy_digest)
            batch = self.admission.check(sized_sell, listing, held_sell, block=True,
                                         digest=sell_digest)
            seq, events = self._commit(BlockAgreed(Signed(buy, buy_signature),
                                                   Signed(sell, sell_signature), batch,
                                                   price, quantity))
            trades = [self.state.trades[ev.trade_id].view() for ev in events
                      if isinstance(ev, Trade)]
        self._durable(seq)
        if not trades:
            reason = next((str(ev.reason) for ev in events if isinstance(ev, Rejected)),
                          "rejected")
            raise ExchangeError(reason, f"block trade refused: {reason}")
        return trades[0]

    def offer_lot(self, order: Order, signature: bytes) -> dict[str, Any]:
        """Opens a single-lot auction with the seller's signed sell order: its quantity is the
        lot, its price the reserve. Bids are ordinary buy orders for exactly the lot; Uncross
        awards it to the best bid at or above the reserve (the earliest among equals)."""
        listing = self.state.listing(order.instrument)
        refusal = "the lot needs its seller's signed sell"
        order, digest = self.admission.verify(order, signature, refusal)
        if order.side != Side.SELL:
            raise ExchangeError("bad_signature", refusal)
        held = self.admission.held(order, listing)
        with self.lock:
            self.admission.refuse_used(digest)
            batch = self.admission.check(order, listing, held, digest=digest)
            # the engine's own refusal, checked first so that a refused lot journals nothing
            if self.state.engine.books[listing.spec.instrument].orders or (
                    listing.spec.status in (Status.HALTED, Status.SINGLE_LOT)):
                raise ExchangeError("instrument_busy", "the instrument has resting orders "
                                    "or an auction already")
            seq, _ = self._commit(LotOffered(Signed(order, signature), batch))
            view = self.state.orders[seq].view()
        self._durable(seq)
        return view

    def next_nonce(self, trader: str, take: bool = False) -> int:
        """The lowest nonce above every nonce the trader used (and its on-chain minimum): where
        a client numbers on from, so its orders' nonce bits share storage words on chain.
        `take` hands it out (custodial orders), so concurrent callers get different ones."""
        with self.lock:
            n = max(self.state.next_nonces.get(trader, 0), self._handed_nonces.get(trader, 0),
                    self.state.min_nonce.get(trader, 0))
            if take:
                self._handed_nonces[trader] = n + 1
            return n

    def delivery_batch(self, trader: str, instrument: int) -> int:
        """For a custodial sell that names no batch, the one the server signs (admission.py)."""
        return self.admission.delivery_batch(trader, self.state.listing(instrument))

    def cancel(self, trader: str, order_id: int) -> dict[str, Any]:
        with self.lock:
            rec = self.state.orders.get(order_id)
            if rec is None:
                old = self.reads.order(order_id)  # archived (finished), or 404
                if old["trader"].lower() != trader.lower():
                    raise ExchangeError("not_order_owner",
                                        "the order belongs to another trader")
                raise ExchangeError("order_not_open", f"the order is {old['status']}")
            if rec.order.trader.lower() != trader.lower():
                raise ExchangeError("not_order_owner", "the order belongs to another trader")
            if rec.status not in LIVE:
                raise ExchangeError("order_not_open", f"the order is {rec.status}")
            seq, _ = self._commit(CancelRequested(order_id))
            view = rec.view()
        self._durable(seq)
        return view

    def cancel_signed(self, order_id: int, signature: bytes) -> dict[str, Any]:
        """Cancels an order on its trader's signed CancelOrder(orderHash) (signing.py): for
        traders who hold their own keys and no API key."""
        rec = self.state.orders.get(order_id)
        if rec is None:
            old = self.reads.order(order_id)  # archived (finished), or 404
            raise ExchangeError("order_not_open", f"the order is {old['status']}")
        signer = recover(cancel_digest(rec.digest, self.domain), signature)
        if signer is None or signer.lower() != rec.order.trader.lower():
            raise ExchangeError("bad_signature", "the cancel is not signed by the order's "
                                "trader")
        return self.cancel(rec.order.trader, order_id)

    def cancel_all(self, trader: str, instrument: int) -> list[int]:
        self.state.listing(instrument)
        events = self.run(CancelAllRequested(instrument, checksum(trader)))
        return [ev.order_id for ev in events if isinstance(ev, Cancelled)]

    # -- administration ------------------------------------------------------------------------

    def list_instrument(self, spec: InstrumentSpec, batch_id: int,
                        credit_class: InstrumentClass | None = None) -> None:
        with self.lock:
            if spec.instrument in self.state.listings:
                raise ExchangeError("instrument_exists", "the instrument is listed")
            if (batch_id == 0) == (credit_class is None):
                raise ExchangeError("invalid_instrument",
                                    "an instrument is one batch or one class")
            problem = listing_problem(spec)
            if problem is not None:
                raise ExchangeError(problem, "a lot at one tick must be worth at least 1 "
                                    "fen (lot units × tick fen/t ≥ 1,000,000)",
                                    {"lot": spec.lot, "tick": spec.tick})
            seq, _ = self._commit(InstrumentListed(spec, batch_id, credit_class))
        self._durable(seq)

    def set_status(self, instrument: int, status: Status, reference_price: int = 0) -> None:
        self.state.listing(instrument)
        self.run(StatusSet(instrument, Status(status), reference_price))

    def uncross(self, instrument: int) -> list[dict[str, Any]]:
        """Ends a call auction: everything that crosses trades at one clearing price, then
        continuous trading opens (exchange.auction); a lot no bid met is withdrawn."""
        self.expire_due()
        with self.lock:
            listing = self.state.listing(instrument)
            if listing.spec.status not in (Status.AUCTION, Status.SINGLE_LOT):
                raise ExchangeError("not_in_auction", "the instrument is not in a call "
                                    "auction")
            seq, events = self._commit(Uncrossed(instrument))
            trades = [self.state.trades[ev.trade_id].view() for ev in events
                      if isinstance(ev, Trade)]
        self._durable(seq)
        return trades

    # -- time ------------------------------------------------------------------------------------

    def forget_balances(self, *traders: str) -> None:
        """The next check of these traders reads the chain (after an approval or a transfer
        outside the exchange)."""
        self.balances.forget(*traders)

    def expire_due(self) -> int:
        """Expires the resting orders whose expiry (less the margin, expiry.py) the clock has
        reached (the settlement worker calls it every pass, so an order leaves the book on
        time even when nothing else happens); returns how many."""
        with self.lock:
            due = self.state.expiring.due(self.clock(), lambda oid: oid in self.state.orders
                                          and self.state.orders[oid].status in LIVE)
            if not due:
                return 0
            seq, events = self._commit(OrdersExpired(tuple(due)))
        self._durable(seq)
        return _cancelled(events)

    def close(self) -> None:
        self.checkpoints.wait()
        self.journal.close()
        self.archive.close()


def _cancelled(events: list[Event]) -> int:
    """How many orders these events took out of the book."""
    return sum(1 for ev in events if isinstance(ev, Cancelled))
