"""The matching engine: commands in, events out, for every instrument; pure and deterministic.

This is the stage in the middle of the exchange pipeline (as in exchange-core):

    API ─► pre-trade risk ─► journal ─► Engine.process(command) ─► events ─► market data,
                                                                          trade table → settlement

The engine does no I/O, reads no clock and draws no random numbers: `process` is a function of
the engine's state and the command, so replaying the journal from a snapshot rebuilds the same
books and the same events (sequence numbers and trade ids included). Everything the engine
needs arrives in commands (exchange.orders): Place, Cancel, CancelAll, Move, BlockTrade,
Uncross, SetStatus. What it decides leaves as events: Accepted, Rested, Trade, Cancelled,
Rejected.

Checks made here: instrument status, tick, lot and price band (exchange.instruments), order
ownership for cancels and moves, duplicate order ids. Balances (free credits, free cash) and
per-member limits are the risk stage's job, before the journal.

Interface for the service:

    engine = Engine([InstrumentSpec(41, tick=1, lot=TONNE, reference_price=6_000)])
    events = engine.process(Place(41, order_id=1, member="0xabc…", side=Side.BUY,
                                  price=6_000, quantity=5 * TONNE, ts=now_ms))
    state = engine.snapshot()          # plain JSON-able data
    again = Engine.restore(state)      # equivalent engine; replay later commands on it

Order ids are chosen by the service (unique per engine; the journal's sequence is a good
choice); trade ids are assigned by the engine, increasing across all instruments.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from itertools import count
from typing import Any

from exchange.auction import award_lot, uncross
from exchange.book import Book, Order
from exchange.instruments import InstrumentSpec, Status, check_order, check_price
from exchange.orders import (
    Accepted,
    BlockTrade,
    Cancel,
    CancelAll,
    CancelReason,
    Command,
    Event,
    Move,
    OfferLot,
    OrderType,
    Place,
    Reject,
    Rejected,
    SelfTrade,
    SetStatus,
    Side,
    TimeInForce,
    Trade,
    Uncross,
)


class Engine:
    """Books for every instrument, and the rules that guard them."""

    def __init__(self, instruments: list[InstrumentSpec] | None = None,
                 self_trade: SelfTrade = SelfTrade.CANCEL_TAKER, next_trade_id: int = 1) -> None:
        self.self_trade = self_trade
        self.specs: dict[int, InstrumentSpec] = {}
        self.books: dict[int, Book] = {}
        self._trade_counter = count(next_trade_id)
        self._last_trade_id = next_trade_id - 1
        for spec in instruments or []:
            self.add_instrument(spec)

    def _trade_id(self) -> int:
        self._last_trade_id = next(self._trade_counter)
        return self._last_trade_id

    def _trade_ids(self) -> Any:
        while True:
            yield self._trade_id()

    def add_instrument(self, spec: InstrumentSpec) -> None:
        if spec.instrument in self.specs:
            raise ValueError(f"instrument {spec.instrument} exists")
        self.specs[spec.instrument] = spec
        self.books[spec.instrument] = Book(spec.instrument, self.self_trade, self._trade_ids())

    # -- commands -------------------------------------------------------------------------------

    def process(self, cmd: Command) -> list[Event]:
        out: list[Event] = []
        book = self.books.get(cmd.instrument)
        if book is None:
            out.append(Rejected(cmd.instrument, 0, getattr(cmd, "order_id", 0),
                                getattr(cmd, "member", ""), Reject.UNKNOWN_INSTRUMENT, cmd.ts))
            return out
        spec = self.specs[cmd.instrument]
        if type(cmd) is Move:
            self._move(book, spec, cmd, out)
        elif type(cmd) is Place:
            self._place(book, spec, cmd, out)
        elif type(cmd) is Cancel:
            self._cancel(book, spec, cmd, out)
        elif type(cmd) is CancelAll:
            for order in [o for o in book.orders.values() if o.member == cmd.member]:
                book.cancel(order, CancelReason.USER, cmd.ts, out)
        elif type(cmd) is BlockTrade:
            self._block(book, spec, cmd, out)
        elif type(cmd) is Uncross:
            self._uncross(book, spec, cmd, out)
        elif type(cmd) is SetStatus:
            self._set_status(spec, cmd, out)
        elif type(cmd) is OfferLot:
            if book.orders or spec.status in (Status.HALTED, Status.SINGLE_LOT):
                self._reject(book, 0, cmd.seller, Reject.INSTRUMENT_HALTED, cmd.ts, out)
            else:
                self.specs[spec.instrument] = replace(
                    spec, status=Status.SINGLE_LOT, lot_seller=cmd.seller,
                    lot_quantity=cmd.quantity, reserve_price=cmd.reserve_price)
        return out

    def _reject(self, book: Book, order_id: int, member: str, reason: Reject, ts: int,
                out: list[Event]) -> None:
        book.seq += 1
        out.append(Rejected(book.instrument, book.seq, order_id, member, reason, ts))

    def _place(self, book: Book, spec: InstrumentSpec, cmd: Place, out: list[Event]) -> None:
        status = spec.status
        if status in (Status.AUCTION, Status.SINGLE_LOT):
            return self._auction_order(book, spec, cmd, out)
        if status != Status.OPEN:
            code = Reject.INSTRUMENT_HALTED if status == Status.HALTED else (
                Reject.INSTRUMENT_CLOSED)
            return self._reject(book, cmd.order_id, cmd.member, code, cmd.ts, out)
        problem = check_order(spec, cmd.price, cmd.quantity)
        if problem is not None:
            if problem == Reject.INVALID_PRICE and cmd.type == OrderType.MARKET:
                problem = Reject.PROTECTION_PRICE_REQUIRED
            return self._reject(book, cmd.order_id, cmd.member, problem, cmd.ts, out)
        tif = TimeInForce.IOC if cmd.type == OrderType.MARKET and cmd.tif == TimeInForce.GTC \
            else cmd.tif
        book.place(cmd.order_id, cmd.member, cmd.side, cmd.price, cmd.quantity, tif, cmd.type,
                   cmd.ts, out)
        return None

    def _auction_order(self, book: Book, spec: InstrumentSpec, cmd: Place,
                       out: list[Event]) -> None:
        if cmd.type != OrderType.LIMIT or cmd.tif != TimeInForce.GTC:
            return self._reject(book, cmd.order_id, cmd.member, Reject.AUCTION_ORDER_TYPE,
                                cmd.ts, out)
        if spec.status == Status.SINGLE_LOT:
            if cmd.side != Side.BUY or cmd.quantity != spec.lot_quantity:
                return self._reject(book, cmd.order_id, cmd.member, Reject.AUCTION_ORDER_TYPE,
                                    cmd.ts, out)
            if cmd.member == spec.lot_seller:
                return self._reject(book, cmd.order_id, cmd.member, Reject.SELF_TRADE, cmd.ts,
                                    out)
            problem = check_price(spec, cmd.price)
            if problem is None and cmd.price < spec.reserve_price:
                problem = Reject.OUTSIDE_PRICE_BAND
        else:
            problem = check_order(spec, cmd.price, cmd.quantity)
        if problem is not None:
            return self._reject(book, cmd.order_id, cmd.member, problem, cmd.ts, out)
        if cmd.order_id in book.orders:
            return self._reject(book, cmd.order_id, cmd.member, Reject.DUPLICATE_ORDER_ID,
                                cmd.ts, out)
        book.seq += 1
        out.append(Accepted(book.instrument, book.seq, cmd.order_id, cmd.member, cmd.side,
                            cmd.price, cmd.quantity, cmd.ts))
        book.rest(Order(cmd.order_id, cmd.member, cmd.side, cmd.price, cmd.quantity, cmd.ts),
                  out)
        return None

    def _owned(self, book: Book, cmd: Cancel | Move, out: list[Event]) -> Order | None:
        """The resting order a cancel or move names, if it is the member's; else a rejection."""
        order = book.orders.get(cmd.order_id)
        if order is None or order.member != cmd.member:
            reason = Reject.UNKNOWN_ORDER if order is None else Reject.NOT_ORDER_OWNER
            self._reject(book, cmd.order_id, cmd.member, reason, cmd.ts, out)
            return None
        return order

    def _cancel(self, book: Book, spec: InstrumentSpec, cmd: Cancel, out: list[Event]) -> None:
        order = self._owned(book, cmd, out)
        if order is not None:
            book.cancel(order, cmd.reason, cmd.ts, out)

    def _move(self, book: Book, spec: InstrumentSpec, cmd: Move, out: list[Event]) -> None:
        order = self._owned(book, cmd, out)
        if order is None:
            return None
        status = spec.status
        if status != Status.OPEN and status != Status.AUCTION:
            return self._reject(book, cmd.order_id, cmd.member, Reject.INSTRUMENT_HALTED,
                                cmd.ts, out)
        price = cmd.price
        quantity = cmd.quantity or order.remaining
        low, high = spec.continuous_band
        if price <= 0 or price % spec.tick or not low <= price <= high:
            problem = check_price(spec, price) or Reject.INVALID_PRICE
            return self._reject(book, cmd.order_id, cmd.member, problem, cmd.ts, out)
        if cmd.quantity and (quantity % spec.lot or quantity > spec.max_quantity):
            return self._reject(book, cmd.order_id, cmd.member, Reject.LOT_VIOLATION, cmd.ts,
                                out)
        side = order.side
        if status == Status.AUCTION or not book.crosses(side, price):
            # the usual move: re-queued at a price that does not trade
            book.requeue(order, price, quantity, cmd.ts, out)
            return None
        book.cancel(order, CancelReason.MOVED, cmd.ts, out)
        book.place(cmd.order_id, cmd.member, side, price, quantity, TimeInForce.GTC,
                   OrderType.LIMIT, cmd.ts, out, accepted=False)
        return None

    def _block(self, book: Book, spec: InstrumentSpec, cmd: BlockTrade,
               out: list[Event]) -> None:
        if spec.status in (Status.HALTED, Status.CLOSED):
            code = Reject.INSTRUMENT_HALTED if spec.status == Status.HALTED else (
                Reject.INSTRUMENT_CLOSED)
            return self._reject(book, cmd.trade_ref, cmd.buyer, code, cmd.ts, out)
        if cmd.buyer == cmd.seller:
            return self._reject(book, cmd.trade_ref, cmd.buyer, Reject.SELF_TRADE, cmd.ts, out)
        problem = check_order(spec.with_status(Status.OPEN), cmd.price, cmd.quantity,
                              block=True)
        if problem is not None:
            return self._reject(book, cmd.trade_ref, cmd.buyer, problem, cmd.ts, out)
        book.seq += 1
        out.append(Trade(book.instrument, book.seq, self._trade_id(), cmd.price, cmd.quantity,
                         cmd.trade_ref, cmd.trade_ref, cmd.buyer, cmd.seller, Side.BUY, cmd.ts,
                         "block"))
        return None

    def _uncross(self, book: Book, spec: InstrumentSpec, cmd: Uncross,
                 out: list[Event]) -> None:
        if spec.status == Status.AUCTION:
            clearing = uncross(book, spec.reference_price, cmd.ts, out)
            reference = clearing.price if clearing is not None else spec.reference_price
            self.specs[spec.instrument] = replace(spec, status=Status.OPEN,
                                                  reference_price=reference)
            return None
        if spec.status == Status.SINGLE_LOT:
            award_lot(book, spec.lot_seller, spec.lot_quantity, spec.reserve_price, cmd.ts, out)
            self.specs[spec.instrument] = replace(spec, status=Status.CLOSED)
            return None
        return self._reject(book, 0, "", Reject.NOT_IN_AUCTION, cmd.ts, out)

    def _set_status(self, spec: InstrumentSpec, cmd: SetStatus, out: list[Event]) -> None:
        updated = replace(spec, status=Status(cmd.status))
        if cmd.reference_price > 0:
            updated = replace(updated, reference_price=cmd.reference_price)
        self.specs[spec.instrument] = updated

    # -- snapshots --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """All state as plain data: instrument specs, books (orders in priority order, each
        book's sequence) and the next trade id."""
        return {
            "self_trade": int(self.self_trade),
            "next_trade_id": self._last_trade_id + 1,
            "instruments": [asdict(s) for s in self.specs.values()],
            "books": {name: book.snapshot() for name, book in self.books.items()},
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Engine:
        engine = cls(self_trade=SelfTrade(data["self_trade"]),
                     next_trade_id=int(data["next_trade_id"]))
        for raw in data["instruments"]:
            engine.add_instrument(InstrumentSpec(**{**raw, "status": Status(raw["status"])}))
        for name, book in data["books"].items():
            engine.books[int(name)].restore(book)
        return engine
