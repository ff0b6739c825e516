"""The carbon supermarket (碳汇超市) over HTTP: a retail operator seat stocks its shelf, sells
down to one kilogram to a person without a chain account — retired at once, for that person,
with a certificate — withdraws unsold stock, and anyone reads a seat's shelf and its sales per
buyer reference from the chain.

Writes are the RETAIL seat's own (403 `not_retail_seat` otherwise, 409 `account_frozen` for a
frozen seat). Amounts are tonnes as decimal strings; a sale is at least 0.001 t (422
`below_minimum_retail`) and a whole number of kilograms (422 `not_whole_kg`). The contract's
refusals map to stable codes (`not_seat_stock`, `insufficient_stock`, ...); anything else it
refuses surfaces as `chain_<error>` like every other route.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, model_validator
from pydantic_core import PydanticCustomError

from api.auth import Caller, CallerDep
from api.certificate import certificate_url, serial_range_label
from api.chain_errors import revert_details
from api.deps import SessionDep, SettingsDep, ViewDep, WriterDep
from api.errors import ApiError
from api.fields import STRICT, Id, Tonnes, Yuan, checksum_path_address, text
from api.idempotency import idempotent
from api.onchain import ChainView
from api.schemas import tx
from chain.client import ChainRevert
from core.config import Settings
from core.units import format_units
from registry.ledger import Ledger
from registry.retail import KILOGRAM, RetailKind, RetailSaleResult, SaleRecord, Supermarket
from registry.tickets import Tickets

router = APIRouter(prefix="/v1/retail", tags=["carbon supermarket"])

MAX_PRICE_FEN = 2**96 - 1  # what the contract records (uint96)

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="retry-safe key; same key + body = same result"),
]

# Contract errors with a stable code of their own: (status, code).
_REVERTS = {
    "NotAuthorized": (403, "not_retail_seat"),
    "BelowRetailMinimum": (422, "below_minimum_retail"),
    "NotWholeKilogram": (422, "not_whole_kg"),
    "NotSeatStock": (409, "not_seat_stock"),
    "InsufficientStock": (409, "insufficient_stock"),
    "NotTicketOwner": (409, "not_ticket_owner"),
    "InsufficientValue": (409, "insufficient_stock"),
    "ERC1155InsufficientBalance": (409, "insufficient_balance"),
    "UnknownTicket": (404, "ticket_not_found"),
    "UnknownBatch": (404, "batch_not_found"),
    "BatchFrozen": (409, "batch_frozen"),
}


class AssetIn(BaseModel):
    """A ticket (`token_id`) or a credit batch (`batch_id`) and an amount of it."""

    model_config = STRICT

    asset: Literal["ticket", "credit"]
    token_id: Id | None = None
    batch_id: Id | None = None
    amount: Tonnes

    @model_validator(mode="after")
    def _one_asset(self) -> AssetIn:
        wanted, other = ((self.token_id, self.batch_id) if self.asset == "ticket"
                         else (self.batch_id, self.token_id))
        if wanted is None or other is not None:
            raise PydanticCustomError(
                "invalid_asset",
                "a ticket is given by token_id and a credit batch by batch_id (exactly one)")
        return self

    @property
    def asset_id(self) -> int:
        found = self.token_id if self.asset == "ticket" else self.batch_id
        assert found is not None
        return found


class SaleIn(AssetIn):
    beneficiary: Annotated[str, text(256)]
    buyer_reference: Annotated[str, text(128)]
    price_yuan: Yuan

    @model_validator(mode="after")
    def _retail_amount(self) -> SaleIn:
        if self.amount < KILOGRAM:
            raise PydanticCustomError("below_minimum_retail",
                                      "a retail sale is at least one kilogram (0.001 t)")
        if self.amount % KILOGRAM:
            raise PydanticCustomError("not_whole_kg",
                                      "a retail sale is a whole number of kilograms")
        if self.price_yuan > MAX_PRICE_FEN:
            raise PydanticCustomError("amount_too_large", "the price is too large")
        return self


class StockOut(BaseModel):
    seat: str
    asset: str
    asset_id: int
    shelf_token_id: int | None
    amount: str
    amount_units: int
    tx_hash: str
    block_number: int


class SaleOut(BaseModel):
    sale_id: int
    seat: str
    asset: str
    asset_id: int
    retirement_id: int
    amount: str
    amount_units: int
    price_fen: int
    beneficiary: str
    serial_start: int
    serial_end: int
    serial_range: str
    certificate_url: str
    tx_hash: str
    block_number: int


class SaleRecordOut(BaseModel):
    sale_id: int
    seat: str
    asset: str
    asset_id: int
    retirement_id: int
    amount: str
    amount_units: int
    price_fen: int
    buyer_reference_hash: str
    certificate_url: str


class SalesOut(BaseModel):
    seat: str
    buyer_reference: str | None
    sales: list[SaleRecordOut]
    total_amount: str
    total_amount_units: int
    total_price_fen: int


class LotOut(BaseModel):
    asset: str
    asset_id: int
    on_shelf: str
    on_shelf_units: int
    stocked_units: int
    sold_units: int
    withdrawn_units: int


class ShelfOut(BaseModel):
    seat: str
    lots: list[LotOut]


def _asset(kind: RetailKind) -> str:
    return "ticket" if kind == RetailKind.TICKET else "credit"


def ticket_certificate_url(settings: Settings, retirement_id: int) -> str:
    """Where a ticket retirement's certificate is served (the ticket certificate routes)."""
    return f"{settings.base_url}/v1/tickets/retirements/{retirement_id}/certificate"


def _certificate(settings: Settings, kind: RetailKind, retirement_id: int) -> str:
    if kind == RetailKind.TICKET:
        return ticket_certificate_url(settings, retirement_id)
    return certificate_url(settings, retirement_id)


def _seat(view: ChainView, caller: Caller) -> None:
    if view.has_role("RETAIL", caller.address):
        return
    if view.is_frozen(caller.address):
        raise ApiError(409, "account_frozen",
                       f"account {caller.address} is frozen by the regulator and acts in no role",
                       {"address": caller.address})
    raise ApiError(403, "not_retail_seat", "requires a retail operator seat (the retail role)",
                   {"required_role": "retail", "address": caller.address})


def _refused(exc: ChainRevert) -> ApiError | None:
    mapped = _REVERTS.get(exc.name)
    if mapped is None:
        return None
    return ApiError(mapped[0], mapped[1], f"the carbon supermarket refused: {exc.name}",
                    {"error": exc.name, "args": revert_details(exc)})


def _market(writer: Ledger) -> Supermarket:
    return Supermarket(writer)


def _holds(market: Supermarket, seat: str, body: AssetIn) -> None:
    """The seat holds what it stocks (checked before its approval is sent)."""
    if body.asset == "ticket":
        tickets = Tickets(market.ledger)
        if not tickets.exists(body.asset_id):
            raise ApiError(404, "ticket_not_found", f"no ticket {body.asset_id}",
                           {"token_id": body.asset_id})
        t = tickets.ticket(body.asset_id)
        if t.owner != seat:
            raise ApiError(409, "not_ticket_owner", "the seat does not own this ticket",
                           {"token_id": body.asset_id, "owner": t.owner})
        held = t.value
    else:
        held = market.ledger.balance(seat, body.asset_id)
    if body.amount > held:
        raise ApiError(409, "insufficient_balance", "the seat holds less than it stocks",
                       {"held_units": held, "requested_units": body.amount})


@router.post("/stock", status_code=201, response_model=StockOut)
def stock(body: AssetIn, caller: CallerDep, view: ViewDep, writer: WriterDep) -> dict[str, Any]:
    """Puts the seat's ticket value (whole ticket, or value split off) or credits on its shelf;
    the supermarket is approved as the seat's operator first if it is not yet. Retail seats."""
    _seat(view, caller)
    market = _market(writer)
    key = caller.key()
    _holds(market, caller.address, body)  # before any approval: nothing half-applied
    try:
        shelf: int | None = None
        if body.asset == "ticket":
            if not market.tickets_approved(caller.address):
                market.approve_tickets(key)
            shelf, sent = market.stock_ticket_sent(key, body.asset_id, body.amount)
        else:
            if not market.credits_approved(caller.address):
                market.approve_credits(key)
            sent = market.stock_credits(key, body.asset_id, body.amount)
    except ChainRevert as exc:
        raise _refused(exc) or exc from None
    out: dict[str, Any] = {"seat": caller.address, "asset": body.asset,
                           "asset_id": body.asset_id, "shelf_token_id": shelf,
                           "amount": format_units(body.amount), "amount_units": body.amount}
    out.update(tx(sent))
    return out


def _sale_out(settings: Settings, caller: Caller, body: SaleIn,
              done: RetailSaleResult) -> dict[str, Any]:
    if done.kind == RetailKind.TICKET:
        # a ticket slot's serials, labelled like a batch's with S for the slot
        serial_range = (f"TH-S{done.serial_scope:06d}-{done.serial_start:012d} … "
                        f"{done.serial_end:012d}")
    else:
        serial_range = serial_range_label(done.serial_scope, done.serial_start, done.serial_end)
    return {
        "sale_id": done.sale_id, "seat": caller.address, "asset": _asset(done.kind),
        "asset_id": done.asset_id, "retirement_id": done.retirement_id,
        "amount": format_units(done.value), "amount_units": done.value,
        "price_fen": done.price_fen, "beneficiary": body.beneficiary,
        "serial_start": done.serial_start, "serial_end": done.serial_end,
        "serial_range": serial_range,
        "certificate_url": _certificate(settings, done.kind, done.retirement_id),
        **tx(done.sent),
    }


@router.post("/sales", status_code=201, response_model=SaleOut)
def sell(
    body: SaleIn, caller: CallerDep, session: SessionDep, settings: SettingsDep, view: ViewDep,
    writer: WriterDep, idempotency_key: IdempotencyKey = None,
) -> JSONResponse | dict[str, object]:
    """Sells from the seat's own shelf to a person and retires it at once for them (purpose
    voluntary): the retirement id, serial range and certificate URL. `Idempotency-Key`: a
    retry returns the first sale instead of retiring again. Retail seats."""
    _seat(view, caller)
    market = _market(writer)
    with idempotent(session, caller, "retail_sales", idempotency_key, body, writer.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        if slot.landed is not None:
            done = market.sale_of(slot.landed)
        else:
            try:
                if body.asset == "ticket":
                    done = market.sell_ticket(caller.key(), body.asset_id, body.amount,
                                              body.beneficiary, body.buyer_reference,
                                              body.price_yuan)
                else:
                    done = market.sell_credits(caller.key(), body.asset_id, body.amount,
                                               body.beneficiary, body.buyer_reference,
                                               body.price_yuan)
            except ChainRevert as exc:
                raise _refused(exc) or exc from None
        result: dict[str, object] = _sale_out(settings, caller, body, done)
        slot.store(201, result)
    return result


@router.post("/withdraw", status_code=201, response_model=StockOut)
def withdraw(body: AssetIn, caller: CallerDep, view: ViewDep,
             writer: WriterDep) -> dict[str, Any]:
    """Takes unsold stock back to the seat (for a ticket, `token_id` is the shelf ticket and
    `shelf_token_id` the ticket the seat received). Retail seats, their own stock only."""
    _seat(view, caller)
    market = _market(writer)
    try:
        if body.asset == "ticket":
            got: int | None = None
            lot = market.lot(caller.address, RetailKind.TICKET, body.asset_id)
            if market.shelf_seat_of(body.asset_id) != caller.address:
                raise ApiError(409, "not_seat_stock", "this ticket is not on the seat's shelf",
                               {"token_id": body.asset_id})
            if body.amount > lot.on_shelf:
                raise ApiError(409, "insufficient_stock", "less than that is on the shelf",
                               {"available_units": lot.on_shelf, "requested_units": body.amount})
            sent = market.withdraw_ticket_sent(caller.key(), body.asset_id, body.amount)
            got = int(market.ledger.events_of(sent, "Withdrawn")[0].args["toTokenId"])
        else:
            got = None
            sent = market.withdraw_credits(caller.key(), body.asset_id, body.amount)
    except ChainRevert as exc:
        raise _refused(exc) or exc from None
    return {"seat": caller.address, "asset": body.asset, "asset_id": body.asset_id,
            "shelf_token_id": got, "amount": format_units(body.amount),
            "amount_units": body.amount, **tx(sent)}


def _record_out(settings: Settings, s: SaleRecord) -> dict[str, Any]:
    return {"sale_id": s.sale_id, "seat": s.seat, "asset": _asset(s.kind),
            "asset_id": s.asset_id, "retirement_id": s.retirement_id,
            "amount": format_units(s.value), "amount_units": s.value, "price_fen": s.price_fen,
            "buyer_reference_hash": "0x" + s.buyer_reference_hash.hex(),
            "certificate_url": _certificate(settings, s.kind, s.retirement_id)}


def _reader(request: Request) -> Supermarket:
    ledger: Ledger = request.app.state.ledger
    return Supermarket(ledger)


@router.get("/sales", response_model=SalesOut)
def list_sales(
    request: Request, settings: SettingsDep,
    seat: Annotated[str, Query(max_length=42)],
    buyer_reference: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> dict[str, Any]:
    """A seat's retail sales, from the chain: all of them, or those under one buyer
    reference (the shop's receipt), with totals. Public."""
    address = checksum_path_address(seat)
    market = _reader(request)
    found = (market.sales_of_buyer(address, buyer_reference) if buyer_reference is not None
             else market.sales_of_seat(address))
    return {"seat": address, "buyer_reference": buyer_reference,
            "sales": [_record_out(settings, s) for s in found],
            "total_amount": format_units(sum(s.value for s in found)),
            "total_amount_units": sum(s.value for s in found),
            "total_price_fen": sum(s.price_fen for s in found)}


@router.get("/shelf", response_model=ShelfOut)
def shelf(request: Request, seat: Annotated[str, Query(max_length=42)]) -> dict[str, Any]:
    """What a seat stocked, has on its shelf, sold and withdrawn, per shelf ticket and batch,
    from the chain. Public."""
    address = checksum_path_address(seat)
    market = _reader(request)
    lots = [(RetailKind.TICKET, t) for t in dict.fromkeys(market.shelf_tickets(address))]
    lots += [(RetailKind.CREDIT, b) for b in market.shelf_batches(address)]
    out = []
    for kind, asset_id in lots:
        lot = market.lot(address, kind, asset_id)
        out.append({"asset": _asset(kind), "asset_id": asset_id,
                    "on_shelf": format_units(lot.on_shelf), "on_shelf_units": lot.on_shelf,
                    "stocked_units": lot.stocked, "sold_units": lot.sold,
                    "withdrawn_units": lot.withdrawn})
    return {"seat": address, "lots": out}
