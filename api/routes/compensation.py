"""Ecological compensation (Flow 11): orders for a case, what a party owes, and buying and
retiring for an order in one request.

Authorities (courts, procuratorates, enforcement agencies: the AUTHORITY role) register, amend
and close their own orders. A liable party named by account retires eligible credits it holds
for the order, or takes a seller's fixed-price offer, which pays the seller and retires the
tonnes on delivery (they never sit in the buyer's balance, so they cannot be resold); an
authority paying from compensation funds does the same. The contract decides what counts: an
ineligible retirement is refused with the reason (`chain_ineligible_category`,
`chain_ineligible_region`, `chain_ineligible_vintage`, `chain_past_deadline`,
`chain_order_not_open`, `chain_not_order_party`, `chain_exceeds_requirement`) and changes
nothing. Reads of one order come from the chain (no index lag); lists and timelines from the
index.

This module holds the orders themselves: what authorities and parties do with them, and
the shapes and helpers the other compensation routers build on. Offers are
api.routes.compensation_offers, the public reads api.routes.compensation_reads, the
fulfilment certificate api.routes.compensation_certificates; api.app includes them in that
order, after this one, so the routes match as they always have.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, SerializeAsAny

from api import prechecks, reserved
from api.auth import Caller, CallerDep, require_role
from api.certificate import certificate_url, serial_range_label, verify_url
from api.compensation_terms import AmendIn, OrderIn, OrderOut, TermsIn, cny, present
from api.deps import CompensationDep, SessionDep, SettingsDep, ViewDep
from api.errors import ApiError, not_found
from api.fields import STRICT, ZERO_HASH, Hash32, Id, PathId, Tonnes, text
from api.idempotency import idempotent
from api.onchain import ChainView
from api.schemas import TxOut, tx
from core.config import Settings
from core.units import format_units
from registry import compensation_queries as cq
from registry.categories import categories_of_mask
from registry.compensation import Compensation, CompensationOrder, OrderStatus, Terms, Unit

router = APIRouter(prefix="/v1/compensation", tags=["ecological compensation"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="retry-safe key; same key + body = same result"),
]
StatusName = Literal["open", "partly_fulfilled", "fulfilled", "closed", "overdue"]


# -- shapes ----------------------------------------------------------------------------------


class OrderWriteOut(TxOut):
    order: OrderOut


class RetireForOrderIn(BaseModel):
    model_config = STRICT

    batch_id: Id
    amount: Tonnes
    beneficiary: Annotated[str, text(256, allow_empty=True)] = Field(
        "", description="shown on the certificate; empty: the case number")


class CloseIn(BaseModel):
    model_config = STRICT

    reason_hash: Hash32 = ZERO_HASH


class CountedOut(TxOut):
    order_id: int
    retirement_id: int
    holder: str
    batch_id: int
    amount: str
    amount_units: int
    value: str = Field(description="what it counted for, in the order's unit")
    value_units: int
    serial_start: int
    serial_end: int
    serial_range: str
    order_fulfilled: bool
    order: OrderOut
    certificate_url: str
    verify_url: str


class OrdersPage(BaseModel):
    items: list[OrderOut]
    total: int
    limit: int
    offset: int


# -- helpers ---------------------------------------------------------------------------------


def chain_now(view: ChainView) -> int:
    """The chain's time: the contract judges deadlines by it, so the API does too."""
    return view.latest_timestamp()


def _row(order: CompensationOrder, status: OrderStatus) -> dict[str, Any]:
    t = order.terms
    return {
        "id": order.order_id, "case_number": order.case_number, "authority": order.authority,
        "unit": t.unit.name.lower(), "required": t.required, "fulfilled": order.fulfilled,
        "retired_amount": order.retired_amount, "status": status.name.lower(),
        "category_mask": t.category_mask, "regions": list(t.regions),
        "vintage_from": t.vintage_from, "vintage_to": t.vintage_to, "deadline": t.deadline,
        "parties": list(t.parties), "party_names": list(t.party_names),
        "authority_pays": t.authority_pays, "document_hash": "0x" + t.document_hash.hex(),
    }


def require_order(comp: Compensation, order_id: int) -> None:
    """404 `order_not_found` unless the chain holds the order."""
    if not 1 <= order_id <= comp.order_count():
        raise not_found("order", order_id)


def order_out(comp: Compensation, order_id: int, settings: Settings) -> dict[str, Any]:
    """An order as the chain holds it now (status as `statusOf` reads it: overdue included)."""
    require_order(comp, order_id)
    return present(_row(comp.order(order_id), comp.status_of(order_id)), settings)


def _terms(body: TermsIn, view: ChainView) -> Terms:
    """The terms as the contract takes them, after the checks the contract would make."""
    now = chain_now(view)
    if body.deadline <= now:
        raise ApiError(422, "deadline_past", "the deadline must be in the future",
                       {"deadline": body.deadline, "chain_time": now})
    for party in body.parties:
        if not view.is_member(party):
            raise ApiError(422, "party_not_member",
                           f"{party} is not an admitted member; name the party in party_names "
                           "and let the authority pay, or admit it first", {"party": party})
    c = body.contract_terms()
    return Terms(
        unit=Unit(c["unit"]), required=c["required"],
        categories=categories_of_mask(c["categoryMask"]), deadline=c["deadline"],
        party_names=tuple(c["partyNames"]), document_hash=c["documentHash"],
        parties=tuple(c["parties"]), regions=tuple(c["regions"]),
        vintage_from=c["vintageFrom"], vintage_to=c["vintageTo"],
        authority_pays=c["authorityPays"],
    )


def _own_order(comp: Compensation, caller: Caller, order_id: int) -> None:
    require_order(comp, order_id)
    authority = comp.order(order_id).authority
    if authority != caller.address:
        raise ApiError(403, "not_order_authority",
                       "only the authority that registered the order may amend or close it",
                       {"order_id": order_id, "authority": authority})


def counted_out(comp: Compensation, settings: Settings, counted: Any, holder: str,
                batch_id: int, amount: int) -> dict[str, Any]:
    """What a retirement counted toward an order answers (CountedOut), with the order now."""
    r = counted.retirement
    order = order_out(comp, counted.order_id, settings)
    unit = "fen" if order["unit"] == "cny" else "tonnes"
    return {
        "order_id": counted.order_id,
        "retirement_id": r.retirement_id,
        "holder": holder,
        "batch_id": batch_id,
        "amount": format_units(amount),
        "amount_units": amount,
        "value": cny(counted.value) if unit == "fen" else format_units(counted.value),
        "value_units": counted.value,
        "serial_start": r.serial_start,
        "serial_end": r.serial_end,
        "serial_range": serial_range_label(batch_id, r.serial_start, r.serial_end),
        "order_fulfilled": counted.order_fulfilled,
        "order": order,
        "certificate_url": certificate_url(settings, r.retirement_id),
        "verify_url": verify_url(settings, r.retirement_id),
        **tx(counted.sent),
    }


# -- authorities -----------------------------------------------------------------------------


@router.post("/orders", status_code=201, response_model=OrderWriteOut)
def register_order(
    body: OrderIn, caller: CallerDep, session: SessionDep, view: ViewDep, comp: CompensationDep,
    settings: SettingsDep, idempotency_key: IdempotencyKey = None,
) -> JSONResponse | dict[str, object]:
    """Registers an ecological-compensation order for a case. Authority role (court,
    procuratorate, administrative enforcement agency) only; the case number is unique."""
    require_role(view, caller, "AUTHORITY")
    with idempotent(session, caller, "compensation.orders", idempotency_key, body,
                    comp.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        if slot.landed is not None:
            order_id = comp.order_of_case(body.case_number)
            sent = slot.landed
        else:
            existing = comp.order_of_case(body.case_number)
            if existing:
                raise ApiError(409, "case_has_order",
                               f"case {body.case_number} already has order {existing}",
                               {"order_id": existing})
            created = comp.register_order(caller.key(), body.case_number, _terms(body, view))
            order_id, sent = created.id, created.sent
        result: dict[str, object] = {"order": order_out(comp, order_id, settings), **tx(sent)}
        slot.store(201, result)
    return result


@router.post("/orders/{order_id}/amend", response_model=OrderWriteOut)
def amend_order(
    order_id: PathId, body: AmendIn, caller: CallerDep, view: ViewDep, comp: CompensationDep,
    settings: SettingsDep,
) -> dict[str, object]:
    """Amends an open order's terms (not its case number or unit; never below what is already
    fulfilled). The order's own authority only."""
    require_role(view, caller, "AUTHORITY")
    _own_order(comp, caller, order_id)
    sent = comp.amend_order(caller.key(), order_id, _terms(body, view),
                            bytes.fromhex(body.reason_hash[2:]))
    return {"order": order_out(comp, order_id, settings), **tx(sent)}


@router.post("/orders/{order_id}/close", response_model=OrderWriteOut)
def close_order(
    order_id: PathId, body: CloseIn, caller: CallerDep, view: ViewDep, comp: CompensationDep,
    settings: SettingsDep,
) -> dict[str, object]:
    """Closes an open order (e.g. the case was settled otherwise); retirements stop counting.
    The order's own authority only."""
    require_role(view, caller, "AUTHORITY")
    _own_order(comp, caller, order_id)
    sent = comp.close_order(caller.key(), order_id, bytes.fromhex(body.reason_hash[2:]))
    return {"order": order_out(comp, order_id, settings), **tx(sent)}


@router.get("/orders/mine", response_model=OrdersPage)
def my_orders(
    caller: CallerDep, session: SessionDep, view: ViewDep, settings: SettingsDep,
    status: StatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> dict[str, Any]:
    """The orders the caller registered (an authority) or is named in by account (a party),
    newest first (from the index)."""
    now = chain_now(view)
    if view.has_role("AUTHORITY", caller.address):
        page = cq.list_orders(session, now, authority=caller.address, status=status,
                              limit=limit, offset=offset)
    else:
        page = cq.list_orders(session, now, party=caller.address, status=status, limit=limit,
                              offset=offset)
    page["items"] = [present(r, settings) for r in page["items"]]
    return dict(page)


# -- parties ---------------------------------------------------------------------------------


@router.get("/owed", response_model=list[OrderOut])
def owed(caller: CallerDep, session: SessionDep, view: ViewDep,
         settings: SettingsDep) -> list[dict[str, Any]]:
    """What the caller still owes: orders naming it that are open, partly fulfilled or
    overdue, each with its remainder (from the index)."""
    return [present(r, settings) for r in cq.owed_by(session, caller.address, chain_now(view))]


@router.post("/orders/{order_id}/retirements", status_code=201, response_model=CountedOut)
def retire_for_order(
    order_id: PathId, body: RetireForOrderIn, request: Request, caller: CallerDep,
    session: SessionDep, settings: SettingsDep, view: ViewDep, comp: CompensationDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse | dict[str, object]:
    """Retires credits the caller holds for the order; the contract counts them if they meet
    its criteria and refuses them with the reason otherwise. A party named by account, or the
    authority of an order it pays for. CNY orders count only purchases at a settled price:
    take an offer or buy on the exchange with `retire_for`."""
    require_role(view, caller, "MEMBER")
    require_order(comp, order_id)
    with idempotent(session, caller, "compensation.retire", idempotency_key,
                    Keyed(order_id=order_id, body=body), comp.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        if slot.landed is not None:
            counted = comp.counted_of(slot.landed, order_id, body.batch_id, body.amount)
        else:
            prechecks.movable_batch(view, body.batch_id)
            prechecks.holder_not_frozen(view, caller.address)
            prechecks.balance(view, caller.address, body.batch_id, body.amount)
            reserved.require_free(request, caller.address, body.batch_id, body.amount,
                                  view.balance(caller.address, body.batch_id))
            counted = comp.retire_for_order(caller.key(), order_id, body.batch_id, body.amount,
                                            body.beneficiary)
            reserved.moved(request, caller.address)
        result = counted_out(comp, settings, counted, caller.address, body.batch_id,
                             body.amount)
        slot.store(201, result)
    return result


class Keyed(BaseModel):
    """An idempotency request body that includes the path's order id."""

    order_id: int
    body: SerializeAsAny[BaseModel]
