"""The exchange API (Flow 8): listing, signed order entry, cancels, market data and a stream.

Orders are EIP-712 messages signed by the trader (`GET /v1/exchange/domain` gives the domain and
types); the server verifies the signature before anything else. The signed order bounds all
that settlement can do with it: its limit price, quantity, expiry, fee cap (`max_fee_bps`) and
delivery (`batch_id`: the batch a sell delivers; for a buy 0 = any batch the instrument admits)
and use (`retire_for`: a buy's ecological-compensation order, for which what it buys is retired
on delivery instead of reaching the buyer's balance; 0 = delivered as usual; a sell signs 0).
A member without its own key sends the order unsigned with its API key, and the server signs
with the member's custodial key (filling in the current fee and, for a sell, its batch).
Prices are integers in fen per tonne; quantities integers in credit units (1 t = 1,000,000).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from api.auth import Caller, CallerDep, authenticate, require_role
from api.deps import SettlementDep, ViewDep
from api.errors import ApiError
from api.fields import STRICT
from api.read_access import (
    MAX_READ_TOKEN_TTL_S,
    READ_TOKEN_HEADER,
    ReaderDep,
    require_reader_of,
)
from chain.signatures import checksum
from exchange.instruments import (
    CreditClass,
    InstrumentSpec,
    Status,
    TicketClass,
    listing_problem,
    prefix_problem,
)
from exchange.onchain import SettlementChain
from exchange.orders import Side, TimeInForce
from exchange.service import ExchangeService
from exchange.signing import CANCEL_FIELDS, ORDER_FIELDS, READ_FIELDS, Order, sign_order

router = APIRouter(prefix="/v1/exchange", tags=["exchange"])

U64 = Annotated[int, Field(ge=0, le=2**64 - 1)]
U128 = Annotated[int, Field(ge=1, le=2**128 - 1)]
Id = Annotated[int, PathParam(ge=1, le=2**63 - 1)]
HEX32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]


def _positive_quantity(value: Any) -> Any:
    """A zero or negative quantity is `invalid_quantity` (what the engine calls it), not a
    generic `invalid_request`."""
    if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
        raise PydanticCustomError("invalid_quantity", "quantity must be at least 1 unit")
    return value


Quantity = Annotated[int, BeforeValidator(_positive_quantity), Field(ge=1, le=2**128 - 1)]


def _service(request: Request) -> ExchangeService:
    service: ExchangeService | None = getattr(request.app.state, "exchange", None)
    if service is None:
        raise ApiError(503, "exchange_unavailable", "this API runs without the exchange")
    return service


class OrderIn(BaseModel):
    model_config = STRICT

    trader: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    side: Literal["buy", "sell"]
    instrument: Annotated[int, Field(ge=1, le=2**64 - 1)]
    # signed: the batch a sell delivers; a buy's one accepted batch, or 0 for any the
    # instrument admits (custodial sells without it: the server picks and signs one)
    batch_id: U64 | None = None
    price: U128
    quantity: Quantity
    # signed: the most fee, in basis points of the fill's value, the trader agrees to pay
    # (custodial orders without it: the exchange's current fee)
    max_fee_bps: Annotated[int, Field(ge=0, le=2**16 - 1)] | None = None
    time_in_force: Literal["gtc", "ioc", "fok"] = "gtc"
    # unique per trader (custodial orders without it: the trader's next free nonce)
    nonce: U64 | None = None
    expiry: U64
    client_order_id: HEX32 = "0x" + "00" * 32
    # signed: a buy's compensation order, for which its purchase is retired on delivery (the
    # tonnes never reach the buyer's balance); 0 delivers as usual; a sell signs 0
    retire_for: U64 = 0


class PlaceIn(BaseModel):
    model_config = STRICT

    order: OrderIn
    signature: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{130}$")
    type: Literal["limit", "market"] = "limit"


class SignedOrderIn(BaseModel):
    model_config = STRICT

    order: OrderIn
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


class BlockTradeIn(BaseModel):
    model_config = STRICT

    buy: SignedOrderIn
    sell: SignedOrderIn
    price: U128
    quantity: Quantity


class CreditClassIn(BaseModel):
    """A standardized class: one methodology, monitoring periods starting in a window."""

    model_config = STRICT

    methodology_id: Annotated[int, Field(ge=1, le=2**64 - 1)]
    vintage_from: U64  # unix seconds, inclusive
    vintage_to: U64  # unix seconds, exclusive


class TicketClassIn(BaseModel):
    """A forest-ticket class: a region by division-code prefix, periods starting in a window."""

    model_config = STRICT

    # the first `prefix_digits` digits of the slot's 6-digit division code (0 digits: any)
    division_prefix: Annotated[int, Field(ge=0, le=999_999)] = 0
    prefix_digits: Literal[0, 2, 4, 6] = 0
    vintage_from: U64  # unix seconds, inclusive
    vintage_to: U64  # unix seconds, exclusive


class InstrumentIn(BaseModel):
    model_config = STRICT

    instrument: Annotated[int, Field(ge=1, le=2**64 - 1)]
    batch_id: Annotated[int, Field(ge=1, le=2**64 - 1)] | None = None
    credit_class: CreditClassIn | None = None
    ticket_class: TicketClassIn | None = None
    tick: Annotated[int, Field(ge=1, le=10**9)] = 1
    lot: Annotated[int, Field(ge=1, le=10**15)] = 1_000_000
    reference_price: Annotated[int, Field(ge=0, le=10**12)] = 0
    band_bps: Annotated[int, Field(ge=1, le=10_000)] = 1_000
    block_band_bps: Annotated[int, Field(ge=1, le=10_000)] = 3_000
    status: Literal["open", "auction", "halted", "closed"] = "open"
    trading_hours: str = Field(default="00:00-24:00",
                               pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$")

    def session(self) -> tuple[int, int]:
        """[open, close) in seconds after midnight China time; close must follow open."""
        a, b = self.trading_hours.split("-")
        start, end = (int(x[:2]) * 3_600 + int(x[3:]) * 60 for x in (a, b))
        if end <= start or end > 86_400:
            raise ApiError(422, "invalid_trading_hours", "trading hours must be HH:MM-HH:MM "
                           "with the close after the open")
        return start, end


class StatusIn(BaseModel):
    model_config = STRICT

    status: Literal["open", "auction", "halted", "closed"]
    reference_price: Annotated[int, Field(ge=0, le=10**12)] = 0


class CancelAllIn(BaseModel):
    model_config = STRICT

    instrument: Annotated[int, Field(ge=1, le=2**64 - 1)]


# -- administration ------------------------------------------------------------------------------


@router.get("/domain")
def domain(request: Request) -> dict[str, Any]:
    """The EIP-712 domain and the Order type traders sign."""
    s = _service(request)
    return {"domain": s.domain.as_dict(), "types": {"Order": ORDER_FIELDS},
            "primaryType": "Order",
            "cancel": {"types": {"CancelOrder": CANCEL_FIELDS}, "primaryType": "CancelOrder"},
            # what an own-key trader signs to read its orders and cash (X-Read-Token)
            "read": {"types": {"ReadAccount": READ_FIELDS}, "primaryType": "ReadAccount",
                     "header": READ_TOKEN_HEADER, "max_ttl_s": MAX_READ_TOKEN_TTL_S},
            # an order's maxFeeBps must be at least this (the fee it may be charged as taker)
            "fees": {"fee_bps": s.reads.taker_fee_bps},
            "units": {"price": "fen per tonne", "quantity": "credit units (1 t = 1,000,000)",
                      "fees": "basis points of a fill's value"}}


@router.get("/instruments")
def instruments(request: Request) -> list[dict[str, Any]]:
    """Listed instruments with their trading parameters."""
    s = _service(request)
    return [{"instrument": int(k), "batch_id": v.batch_id or None,
             "credit_class": asdict(v.credit_class) if v.credit_class and not v.tickets
             else None,
             "ticket_class": asdict(v.credit_class) if v.credit_class and v.tickets else None,
             "tick": v.spec.tick, "lot": v.spec.lot,
             "reference_price": v.spec.reference_price, "band_bps": v.spec.band_bps,
             "block_band_bps": v.spec.block_band_bps, "status": str(v.spec.status),
             "session_open_s": v.spec.session_open, "session_close_s": v.spec.session_close}
            for k, v in sorted(s.reads.listings.items(), key=lambda kv: int(kv[0]))]


@router.post("/instruments", status_code=201)
def list_instrument(body: InstrumentIn, request: Request, caller: CallerDep, view: ViewDep,
                    settlement: SettlementDep) -> dict[str, Any]:
    """Lists a spot instrument, on chain (Settlement) and in the engine, for good: of one batch
    (`batch_id`), or of a standardized credit class (`credit_class`: methodology and vintage
    window), deliverable by any eligible batch, or of a forest-ticket class (`ticket_class`:
    division-code prefix and vintage window), deliverable by any eligible ticket its seller
    owns (orders' `batch_id` is then a ticket id). An id listed on chain before cannot be
    listed again (`409 chain_instrument_id_used`). A lot at one tick must be worth at least
    1 fen. Exchange."""
    s = _service(request)
    require_role(view, caller, "EXCHANGE")
    if body.instrument in s.reads.listings:
        raise ApiError(409, "instrument_exists", f"instrument {body.instrument} is listed")
    c = body.credit_class
    if [body.batch_id, c, body.ticket_class].count(None) != 2:
        raise ApiError(422, "invalid_instrument",
                       "give one of batch_id, credit_class or ticket_class")
    if body.ticket_class is not None:
        return _list_ticket_class(body, body.ticket_class, s, caller, settlement)
    if body.batch_id is not None and view.batch(body.batch_id) is None:
        raise ApiError(404, "batch_not_found", f"batch {body.batch_id} does not exist")
    if c is not None:
        if view.methodology(c.methodology_id) is None:
            raise ApiError(404, "methodology_not_found",
                           f"methodology {c.methodology_id} does not exist")
        if c.vintage_from >= c.vintage_to:
            raise ApiError(422, "invalid_instrument", "vintage_from must precede vintage_to")
    credit_class = CreditClass(c.methodology_id, c.vintage_from, c.vintage_to) if c else None
    spec = _spec_of(body)
    settlement.list_instrument(
        caller.key(), body.instrument, body.batch_id or 0,
        *((c.methodology_id, c.vintage_from, c.vintage_to) if c else (0, 0, 0)),
        lot=body.lot, tick=body.tick)
    s.list_instrument(spec, body.batch_id or 0, credit_class)
    return {"instrument": body.instrument, "batch_id": body.batch_id,
            "credit_class": c.model_dump() if c else None, "status": body.status}


def _spec_of(body: InstrumentIn) -> InstrumentSpec:
    """The engine's trading parameters of a listing; refused unless a lot at one tick is worth
    at least 1 fen."""
    session_open, session_close = body.session()
    spec = InstrumentSpec(body.instrument, tick=body.tick, lot=body.lot,
                          reference_price=body.reference_price, band_bps=body.band_bps,
                          block_band_bps=body.block_band_bps, status=Status(body.status),
                          session_open=session_open, session_close=session_close)
    problem = listing_problem(spec)
    if problem is not None:
        raise ApiError(422, problem, "a lot at one tick must be worth at least 1 fen "
                       "(lot units × tick fen/t ≥ 1,000,000)", {"lot": body.lot, "tick": body.tick})
    return spec


def _list_ticket_class(body: InstrumentIn, t: TicketClassIn, s: ExchangeService,
                       caller: Caller, settlement: SettlementChain) -> dict[str, Any]:
    """A ticket class listing: checked like the contract checks it, then listed on chain and
    in the engine."""
    if t.vintage_from >= t.vintage_to:
        raise ApiError(422, "invalid_instrument", "vintage_from must precede vintage_to")
    problem = prefix_problem(t.division_prefix, t.prefix_digits)
    if problem is not None:
        raise ApiError(422, problem, "a region is 0 digits (prefix 0) or a 2, 4 or 6-digit "
                       "division-code prefix not starting with 0",
                       {"division_prefix": t.division_prefix, "prefix_digits": t.prefix_digits})
    spec = _spec_of(body)
    ticket_class = TicketClass(t.division_prefix, t.prefix_digits, t.vintage_from, t.vintage_to)
    settlement.list_ticket_instrument(caller.key(), body.instrument, ticket_class,
                                      lot=body.lot, tick=body.tick)
    s.list_instrument(spec, 0, ticket_class)
    return {"instrument": body.instrument, "batch_id": None, "credit_class": None,
            "ticket_class": t.model_dump(), "status": body.status}


@router.post("/instruments/{instrument}/status")
def set_status(instrument: Id, body: StatusIn, request: Request,
               caller: CallerDep, view: ViewDep) -> dict[str, Any]:
    """Opens, halts or closes an instrument, or starts a call auction. Exchange."""
    require_role(view, caller, "EXCHANGE")
    _service(request).set_status(instrument, Status(body.status), body.reference_price)
    return {"instrument": instrument, "status": body.status}


@router.post("/instruments/{instrument}/uncross")
def uncross(instrument: Id, request: Request, caller: CallerDep,
            view: ViewDep) -> dict[str, Any]:
    """Ends the call auction: trades at the single price that maximises volume (ties: least
    imbalance, then nearest the reference price, then the lower price), then opens continuous
    trading. Exchange."""
    require_role(view, caller, "EXCHANGE")
    trades = _service(request).uncross(instrument)
    return {"instrument": instrument, "trades": trades,
            "price": trades[0]["price"] if trades else None}


@router.post("/lots", status_code=201)
def offer_lot(body: SignedOrderIn, request: Request, caller: CallerDep,
              view: ViewDep) -> dict[str, Any]:
    """Opens a single-lot auction (like Shenzhen's shellfish carbon-sink auction) with the
    seller's signed sell order: its quantity is the lot, its price the reserve. Members bid
    with buy orders for exactly the lot; `…/uncross` awards it. Exchange."""
    require_role(view, caller, "EXCHANGE")
    return _service(request).offer_lot(_signed_order(body.order),
                                       bytes.fromhex(body.signature[2:]))


@router.post("/block-trades", status_code=201)
def block_trade(body: BlockTradeIn, request: Request, caller: CallerDep,
                view: ViewDep) -> dict[str, Any]:
    """Records a negotiated block trade: both parties signed orders whose limits contain the
    agreed price; the price must lie within the ±30 % block band; it never touches the book
    and settles on chain like any trade. Exchange."""
    require_role(view, caller, "EXCHANGE")
    return _service(request).block_trade(
        _signed_order(body.buy.order), bytes.fromhex(body.buy.signature[2:]),
        _signed_order(body.sell.order), bytes.fromhex(body.sell.signature[2:]),
        body.price, body.quantity)


# -- orders --------------------------------------------------------------------------------------


@router.post("/orders", status_code=201)
async def place(body: PlaceIn, request: Request) -> JSONResponse:
    """Places a signed order (or, with an API key and no signature, one the server signs with
    the member's custodial key). Idempotent by trader and client order id.

    Signed orders are checked and matched on the event loop without a thread hop (a signature
    check, a few dictionary lookups and the engine step); the answer then waits for the
    journal's group fsync, which a syncer thread does for all orders written meanwhile, so the
    loop keeps taking orders. Custodial orders go to a worker thread (they read the database
    and decrypt a key)."""
    if body.signature is None:
        return JSONResponse(await run_in_threadpool(_place_custodial, body, request),
                            status_code=201)
    order = _signed_order(body.order)
    view = await _service(request).submit_async(order, bytes.fromhex(body.signature[2:]),
                                                body.type)
    return JSONResponse(view, status_code=201)


def _place_custodial(body: PlaceIn, request: Request) -> dict[str, Any]:
    factory: Any = request.app.state.sessions
    with factory() as session:
        caller = authenticate(request, session)
    o = body.order
    if o.trader is not None and o.trader.lower() != caller.address.lower():
        raise ApiError(403, "not_order_owner", "custodial orders are the caller's own")
    s = _service(request)
    trader = checksum(caller.address)
    batch = o.batch_id or 0
    if o.side == "sell" and batch == 0:  # the server picks the batch, then signs it
        batch = s.delivery_batch(trader, o.instrument)
    nonce = s.next_nonce(trader, take=True) if o.nonce is None else o.nonce
    order = _as_order(o, trader, batch, s.reads.taker_fee_bps if o.max_fee_bps is None
                      else o.max_fee_bps, nonce)
    return s.submit(order, sign_order(caller.key(), order, s.domain), body.type)


def _signed_order(o: OrderIn) -> Order:
    if o.trader is None:
        raise ApiError(422, "missing_trader", "a signed order names its trader")
    if o.nonce is None:
        raise ApiError(422, "missing_nonce", "a signed order names its nonce")
    return _as_order(o, o.trader, o.batch_id or 0, o.max_fee_bps or 0, o.nonce)


def _as_order(o: OrderIn, trader: str, batch_id: int, max_fee_bps: int, nonce: int) -> Order:
    # one spelling per member: risk reservations and idempotency keys are by address string
    return Order(checksum(trader), Side.BUY if o.side == "buy" else Side.SELL, o.instrument,
                 o.price, o.quantity, TimeInForce[o.time_in_force.upper()], nonce, o.expiry,
                 bytes.fromhex(o.client_order_id[2:]), batch_id=batch_id,
                 max_fee_bps=max_fee_bps, retire_for=o.retire_for)


@router.get("/orders")
def open_orders(request: Request,
                trader: Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$")],
                reader: ReaderDep, view: ViewDep,
                instrument: Annotated[int | None, Query(ge=1, le=2**64 - 1)] = None
                ) -> dict[str, Any]:
    """A trader's working orders (new or open), oldest first, with their trades so far. The
    trader's own (API key or read token) or the regulator's (api/read_access.py)."""
    require_reader_of(view, reader, trader)
    who = checksum(trader)
    items = _service(request).reads.open_orders_of(
        who, None if instrument is None else instrument)
    return {"trader": who, "items": items}


@router.get("/nonces/{trader}")
def next_nonce(request: Request,
               trader: Annotated[str, PathParam(pattern=r"^0x[0-9a-fA-F]{40}$")],
               reader: ReaderDep, view: ViewDep) -> dict[str, Any]:
    """The trader's next free nonce: above every nonce its orders used (each nonce names one
    order; a reused one is refused with `409 nonce_used`). Numbering on from here keeps a
    trader's nonce bits in few storage words on chain, which is what makes settlement cheap.
    The trader's own or the regulator's: watching it would show when a member sends orders."""
    require_reader_of(view, reader, trader)
    who = checksum(trader)
    return {"trader": who, "next_nonce": _service(request).next_nonce(who)}


@router.get("/orders/{order_id}")
def get_order(order_id: Id, request: Request, reader: ReaderDep,
              view: ViewDep) -> dict[str, Any]:
    """An order with its trades (counterparties, settlement). Its trader's or the
    regulator's; another member gets `403 forbidden_account`."""
    found = _service(request).reads.order(order_id)
    require_reader_of(view, reader, str(found["trader"]))
    return found


@router.delete("/orders/{order_id}")
def cancel(order_id: Id, request: Request,
           caller: CallerDep) -> dict[str, Any]:
    """Cancels one of the caller's open orders."""
    return _service(request).cancel(caller.address, order_id)


class SignedCancelIn(BaseModel):
    model_config = STRICT

    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


@router.post("/orders/{order_id}/cancel")
def cancel_signed(order_id: Id, body: SignedCancelIn, request: Request) -> dict[str, Any]:
    """Cancels an order on its trader's EIP-712 signature of `CancelOrder(bytes32 orderHash)`
    (the order's `order_hash`, same domain as orders): no API key needed."""
    return _service(request).cancel_signed(order_id, bytes.fromhex(body.signature[2:]))


@router.post("/orders/cancel-all")
def cancel_all(body: CancelAllIn, request: Request, caller: CallerDep) -> dict[str, Any]:
    """Cancels every open order of the caller on an instrument."""
    ids = _service(request).cancel_all(caller.address, body.instrument)
    return {"cancelled": ids}


# -- market data ---------------------------------------------------------------------------------


@router.get("/depth/{instrument}")
def depth(instrument: Id, request: Request,
          levels: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
    """Price levels [price, quantity, orders], best first, with the book's sequence number."""
    return _service(request).reads.depth(instrument, levels)


@router.get("/trades/{instrument}")
def trades(instrument: Id, request: Request,
           limit: Annotated[int, Query(ge=1, le=1_000)] = 100) -> list[dict[str, Any]]:
    s = _service(request)
    return s.reads.market_trades(instrument, limit)


@router.get("/candles/{instrument}")
def candles(instrument: Id, request: Request,
            interval: Literal["1m", "1h", "1d"] = "1m",
            limit: Annotated[int, Query(ge=1, le=1_000)] = 200) -> list[dict[str, Any]]:
    s = _service(request)
    return s.reads.market_candles(instrument, interval, limit)


@router.get("/stats/{instrument}")
def stats(instrument: Id, request: Request) -> dict[str, Any]:
    s = _service(request)
    return s.reads.market_stats(instrument, int(time.time() * 1000))


# events a stream holds for a client that reads slower than the market moves; past it the
# stream closes (`stream_lagging`) and the client resynchronises from a new snapshot
STREAM_BACKLOG = 10_000


@router.websocket("/stream/{instrument}")
async def stream(websocket: WebSocket, instrument: int) -> None:
    """Book changes and trades of one instrument as they happen. The first message is a depth
    snapshot with its sequence number; every later event carries `seq`, increasing by one, so a
    gap means a lost message (resynchronise from a new snapshot). The service releases events
    in commit order (exchange/fanout.py) and this connection's queue keeps that order; events
    name no member (public market data is anonymous)."""
    s: ExchangeService | None = getattr(websocket.app.state, "exchange", None)
    await websocket.accept()
    if s is None or instrument not in s.reads.listings:
        await websocket.send_json({"error": {"code": "unknown_instrument"}})
        await websocket.close(code=1008)
        return
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=STREAM_BACKLOG)
    loop = asyncio.get_running_loop()
    lagging = asyncio.Event()

    def offer(event: dict[str, Any]) -> None:  # on the loop, in release order
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            lagging.set()

    def listener(name: int, event: dict[str, Any]) -> None:
        if name == instrument:
            loop.call_soon_threadsafe(offer, event)

    snapshot = s.reads.subscribe(instrument, 50, listener)
    try:
        await websocket.send_json({"type": "snapshot", **snapshot})
        while True:
            event = await queue.get()
            if lagging.is_set():  # an event was dropped: say so rather than leave a gap
                await websocket.send_json({"type": "error", "error": {
                    "code": "stream_lagging", "message": "the client read too slowly: "
                    "reconnect for a new snapshot"}})
                await websocket.close(code=1013)
                return
            if int(event["seq"]) <= snapshot["seq"]:
                continue
            await websocket.send_text(json.dumps({"type": "event", **event}))
    except WebSocketDisconnect:
        pass
    finally:
        s.reads.unsubscribe(listener)
