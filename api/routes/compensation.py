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
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, SerializeAsAny

from api import prechecks, reserved
from api.auth import Caller, CallerDep, require_role
from api.certificate import certificate_url, render_verification, serial_range_label, verify_url
from api.compensation_terms import (
    AmendIn,
    OrderIn,
    OrderOut,
    TermsIn,
    cny,
    present,
)
from api.deps import CompensationDep, SessionDep, SettingsDep, ViewDep
from api.errors import ApiError, not_found
from api.fields import (
    STRICT,
    ZERO_HASH,
    Hash32,
    Id,
    PathId,
    Tonnes,
    UnixTime,
    checksum_path_address,
    text,
)
from api.fulfilment import (
    FULFILMENT_PARAMS,
    OrderFacts,
    certificate_json,
    certificate_number,
    certificate_of,
    parse_fulfilment_claims,
    read_order,
    render_fulfilment_certificate,
    verification_page,
    verify_fulfilment,
)
from api.idempotency import idempotent
from api.onchain import ChainView
from api.pages import html_page, pdf_response
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


class OfferIn(BaseModel):
    model_config = STRICT

    batch_id: Id
    amount: Tonnes
    price_fen_per_tonne: Annotated[int, Field(ge=1, le=2**64 - 1)]
    expiry: UnixTime


class TakeIn(BaseModel):
    model_config = STRICT

    amount: Tonnes
    beneficiary: Annotated[str, text(256, allow_empty=True)] = ""


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


class TakenOut(CountedOut):
    offer_id: int
    paid_fen: int
    paid: str = Field(description="yuan paid to the seller")


class OfferOut(BaseModel):
    id: int
    order_id: int
    seller: str
    batch_id: int
    amount: str
    amount_units: int
    remaining: str
    remaining_units: int
    price_fen_per_tonne: int
    expiry: int
    status: Literal["open", "expired", "taken", "withdrawn", "closed"]


class OfferWriteOut(TxOut):
    offer: OfferOut


class TimelineStep(BaseModel):
    kind: str
    block_number: int
    log_index: int
    tx_hash: str
    block_timestamp: int
    details: dict[str, Any]


class OrdersPage(BaseModel):
    items: list[OrderOut]
    total: int
    limit: int
    offset: int


# -- helpers ---------------------------------------------------------------------------------


def _now(view: ChainView) -> int:
    """The chain's time: the contract judges deadlines by it, so the API does too."""
    try:
        return view.latest_timestamp()
    except Exception:  # pragma: no cover - the view answers whenever the chain does
        return int(time.time())


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


def _exists(comp: Compensation, order_id: int) -> None:
    """404 `order_not_found` unless the chain holds the order."""
    if not 1 <= order_id <= comp.order_count():
        raise not_found("order", order_id)


def _read(comp: Compensation, order_id: int, settings: Settings) -> dict[str, Any]:
    """An order as the chain holds it now (status as `statusOf` reads it: overdue included)."""
    _exists(comp, order_id)
    return present(_row(comp.order(order_id), comp.status_of(order_id)), settings)


def _terms(body: TermsIn, view: ChainView) -> Terms:
    """The terms as the contract takes them, after the checks the contract would make."""
    if body.deadline <= _now(view):
        raise ApiError(422, "deadline_past", "the deadline must be in the future",
                       {"deadline": body.deadline, "chain_time": _now(view)})
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
    _exists(comp, order_id)
    authority = comp.order(order_id).authority
    if authority != caller.address:
        raise ApiError(403, "not_order_authority",
                       "only the authority that registered the order may amend or close it",
                       {"order_id": order_id, "authority": authority})


def _counted_out(comp: Compensation, settings: Settings, counted: Any, holder: str,
                 batch_id: int, amount: int) -> dict[str, Any]:
    r = counted.retirement
    order = _read(comp, counted.order_id, settings)
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


def _offer_out(offer: Any, offer_id: int, now: int, indexed: str | None = None) -> dict[str, Any]:
    """An offer as the chain holds it; once nothing remains, the index says whether it was
    taken or withdrawn (`closed` until the index has seen it)."""
    remaining = int(offer.remaining)
    status = "open"
    if remaining == 0:
        status = indexed if indexed in ("taken", "withdrawn") else "closed"
    elif int(offer.expiry) < now:
        status = "expired"
    return {
        "id": offer_id, "order_id": int(offer.order_id), "seller": offer.seller,
        "batch_id": int(offer.batch_id), "amount": format_units(int(offer.amount)),
        "amount_units": int(offer.amount), "remaining": format_units(remaining),
        "remaining_units": remaining, "price_fen_per_tonne": int(offer.price_fen_per_tonne),
        "expiry": int(offer.expiry), "status": status,
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
        result: dict[str, object] = {"order": _read(comp, order_id, settings), **tx(sent)}
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
    return {"order": _read(comp, order_id, settings), **tx(sent)}


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
    return {"order": _read(comp, order_id, settings), **tx(sent)}


@router.get("/orders/mine", response_model=OrdersPage)
def my_orders(
    caller: CallerDep, session: SessionDep, view: ViewDep, settings: SettingsDep,
    status: StatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> dict[str, Any]:
    """The orders the caller registered (an authority) or is named in by account (a party),
    newest first (from the index)."""
    now = _now(view)
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
    return [present(r, settings) for r in cq.owed_by(session, caller.address, _now(view))]


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
    _exists(comp, order_id)
    with idempotent(session, caller, "compensation.retire", idempotency_key,
                    _Keyed(order_id=order_id, body=body), comp.chain) as slot:
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
        result = _counted_out(comp, settings, counted, caller.address, body.batch_id,
                              body.amount)
        slot.store(201, result)
    return result


class _Keyed(BaseModel):
    """An idempotency request body that includes the path's order id."""

    order_id: int
    body: SerializeAsAny[BaseModel]


# -- offers ----------------------------------------------------------------------------------


@router.post("/orders/{order_id}/offers", status_code=201, response_model=OfferWriteOut)
def make_offer(
    order_id: PathId, body: OfferIn, request: Request, caller: CallerDep, view: ViewDep,
    comp: CompensationDep,
) -> dict[str, object]:
    """Offers credits to an order at a fixed price (fen per tonne), e.g. 100 yuan/t. Any
    member holding them; the seller's approval of the offers contract is given here."""
    require_role(view, caller, "MEMBER")
    _exists(comp, order_id)
    if body.expiry <= _now(view):
        raise ApiError(422, "expiry_past", "the offer's expiry must be in the future",
                       {"expiry": body.expiry})
    prechecks.movable_batch(view, body.batch_id)
    prechecks.holder_not_frozen(view, caller.address)
    prechecks.balance(view, caller.address, body.batch_id, body.amount)
    reserved.require_free(request, caller.address, body.batch_id, body.amount,
                          view.balance(caller.address, body.batch_id))
    if not comp.offers_approved(caller.address):
        comp.approve_offers(caller.key())
    created = comp.make_offer(caller.key(), order_id, body.batch_id, body.amount,
                              body.price_fen_per_tonne, body.expiry)
    return {"offer": _offer_out(comp.offer(created.id), created.id, _now(view)),
            **tx(created.sent)}


@router.get("/orders/{order_id}/offers", response_model=list[OfferOut])
def offers(order_id: PathId, view: ViewDep, comp: CompensationDep,
           session: SessionDep) -> list[dict[str, Any]]:
    """The offers made to an order (from the index, each re-read from the chain)."""
    _exists(comp, order_id)
    now = _now(view)
    return [_offer_out(comp.offer(int(o["id"])), int(o["id"]), now, o["status"])
            for o in cq.offers_of_order(session, order_id, now)]


@router.post("/offers/{offer_id}/withdraw", response_model=OfferWriteOut)
def withdraw_offer(offer_id: PathId, caller: CallerDep, view: ViewDep,
                   comp: CompensationDep) -> dict[str, object]:
    """Withdraws what remains of the caller's offer. The seller only."""
    require_role(view, caller, "MEMBER")
    _offer_or_404(comp, offer_id)
    sent = comp.withdraw_offer(caller.key(), offer_id)
    return {"offer": _offer_out(comp.offer(offer_id), offer_id, _now(view)), **tx(sent)}


def _offer_or_404(comp: Compensation, offer_id: int) -> Any:
    if not 1 <= offer_id <= comp.offer_count():
        raise not_found("offer", offer_id)
    return comp.offer(offer_id)


@router.post("/offers/{offer_id}/take", status_code=201, response_model=TakenOut)
def take_offer(
    offer_id: PathId, body: TakeIn, caller: CallerDep, session: SessionDep,
    settings: SettingsDep, view: ViewDep, comp: CompensationDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse | dict[str, object]:
    """Buys from an offer and retires for its order in one transaction: the caller pays the
    seller ⌈amount × price⌉ fen and the tonnes are retired on delivery, never held. A party
    of the order, or its authority when it pays from compensation funds."""
    require_role(view, caller, "MEMBER")
    offer = _offer_or_404(comp, offer_id)
    with idempotent(session, caller, "compensation.take", idempotency_key,
                    _Keyed(order_id=offer_id, body=body), comp.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        if slot.landed is not None:
            taken = comp.taken_of(slot.landed, offer_id)
        else:
            prechecks.holder_not_frozen(view, caller.address)
            cost = comp.cost_of(offer_id, body.amount)
            if view.cash_balance(caller.address) < cost:
                raise ApiError(409, "insufficient_cash",
                               f"the offer costs {cny(cost)} yuan",
                               {"needed_fen": cost,
                                "balance_fen": view.cash_balance(caller.address)})
            comp.allow_cash(caller.key(), cost)
            taken = comp.take_offer(caller.key(), offer_id, body.amount, body.beneficiary)
        result = {
            **_counted_out(comp, settings, taken.counted, caller.address, int(offer.batch_id),
                           body.amount),
            "offer_id": offer_id, "paid_fen": taken.paid, "paid": cny(taken.paid),
        }
        slot.store(201, result)
    return result


# -- the public ------------------------------------------------------------------------------


@router.get("/orders", response_model=OrdersPage)
def list_orders(
    session: SessionDep, view: ViewDep, settings: SettingsDep,
    authority: str | None = Query(None, max_length=42),
    status: StatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> dict[str, Any]:
    """Registered orders, newest first, optionally of one authority or in one status (from the
    index). Orders are public: a court's order is a public record."""
    who = checksum_path_address(authority) if authority is not None else None
    page = cq.list_orders(session, _now(view), authority=who, status=status, limit=limit,
                          offset=offset)
    page["items"] = [present(r, settings) for r in page["items"]]
    return dict(page)


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: PathId, comp: CompensationDep, settings: SettingsDep) -> dict[str, Any]:
    """One order as the chain holds it now, with its status (overdue once past the deadline
    unfulfilled), and the links to its fulfilment certificate and verification page."""
    return _read(comp, order_id, settings)


@router.get("/cases", response_model=OrderOut)
def order_of_case(
    comp: CompensationDep, settings: SettingsDep,
    number: Annotated[str, Query(min_length=1, max_length=128)],
) -> dict[str, Any]:
    """Looks an order up by its case number, e.g. `（2026）桂07民初123号`."""
    order_id = comp.order_of_case(number)
    if not order_id:
        raise ApiError(404, "case_not_found", f"no order is registered for case {number}",
                       {"case_number": number})
    return _read(comp, order_id, settings)


@router.get("/orders/{order_id}/timeline", response_model=list[TimelineStep])
def timeline(order_id: PathId, session: SessionDep, comp: CompensationDep) -> list[dict[str, Any]]:
    """Every step of the order in chain order: registered, amended, each retirement counted,
    offers, fulfilled or closed (from the index)."""
    _exists(comp, order_id)
    return cq.order_timeline(session, order_id)



# -- the fulfilment certificate (public, read from the chain) ------------------------------------


def _facts(view: ChainView, comp: Compensation, order_id: int) -> OrderFacts:
    facts = read_order(view, comp, order_id)
    if facts is None:
        raise not_found("order", order_id)
    return facts


@router.get("/orders/{order_id}/certificate", response_class=HTMLResponse)
def fulfilment_certificate(order_id: PathId, view: ViewDep, comp: CompensationDep,
                           settings: SettingsDep) -> HTMLResponse:
    """The bilingual (中文/English) fulfilment certificate a court clerk files, one A4 page when
    printed: the case, the authority and parties by name, required and fulfilled, and every
    retirement counted toward the order (serials, batch, project and its division, holder,
    transaction, date), all read from the chain. Titled 履行证明 only once the order is
    fulfilled, 履行进度 (progress) before. Its QR code opens the verification page carrying
    what the certificate states."""
    facts = _facts(view, comp, order_id)
    return html_page(render_fulfilment_certificate(certificate_of(facts), settings))


@router.get(
    "/orders/{order_id}/certificate.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}},
               503: {"description": "`pdf_unavailable`: no Chromium to print with now"}},
)
def fulfilment_certificate_pdf(order_id: PathId, view: ViewDep, comp: CompensationDep,
                               settings: SettingsDep) -> Response:
    """The fulfilment certificate as a one-page A4 PDF, printed by headless Chromium from the
    same page; 503 `pdf_unavailable` (details.reason) when Chromium cannot print now."""
    html = render_fulfilment_certificate(certificate_of(_facts(view, comp, order_id)), settings)
    return pdf_response(html, settings, f"{certificate_number(order_id)}.pdf")


ClaimText = Annotated[str | None, Query(max_length=8192)]
ClaimShort = Annotated[str | None, Query(max_length=80)]


@router.get("/orders/{order_id}/verify")
def verify_fulfilment_certificate(
    order_id: PathId, view: ViewDep, comp: CompensationDep,
    case_number: ClaimText = None, case_number_hash: ClaimShort = None,
    unit: ClaimShort = None, required: ClaimShort = None, fulfilled: ClaimShort = None,
    retirements: ClaimText = None, retirements_hash: ClaimShort = None,
    retirement_count: ClaimShort = None,
) -> dict[str, Any]:
    """Re-reads the order and every retirement counted toward it from the chain and checks
    them, with the claims of a paper certificate as query parameters (as its QR code carries
    them): `case_number`, `unit`, `required`, `fulfilled`, `retirements` (`id:tonnes` pairs,
    comma-separated) or `retirements_hash` with `retirement_count`. Each claim is a line, each
    check of the chain too; `valid` only when every line passes. A malformed claim is 422."""
    claims, problems = parse_fulfilment_claims({
        "case_number": case_number, "case_number_hash": case_number_hash, "unit": unit,
        "required": required, "fulfilled": fulfilled, "retirements": retirements,
        "retirements_hash": retirements_hash, "retirement_count": retirement_count,
    })
    if problems:
        p = problems[0]
        raise ApiError(422, p.code, p.message, {p.name: p.value})
    facts = _facts(view, comp, order_id)
    lines, checks = verify_fulfilment(view, facts, claims, [])
    return {
        "valid": all(x.ok for x in [*lines, *checks]),
        "claims": [x.as_json() for x in lines],
        "checks": [x.as_json() for x in checks],
        "order": certificate_json(certificate_of(facts)),
    }


@router.get("/orders/{order_id}/verify.html", response_class=HTMLResponse)
def verify_fulfilment_page(order_id: PathId, request: Request, view: ViewDep,
                           comp: CompensationDep, settings: SettingsDep) -> HTMLResponse:
    """The verification as a bilingual page for people, where the certificate's QR code leads:
    each line the paper states, what the chain records and pass or fail, then the chain's own
    checks of the order and of each counted retirement. Malformed claims are failed lines; an
    unknown order is a page too (404)."""
    query = {k: v for k, v in request.query_params.items() if k in FULFILMENT_PARAMS}
    claims, problems = parse_fulfilment_claims(query)
    facts = read_order(view, comp, order_id)
    lines = verify_fulfilment(view, facts, claims, problems) if facts is not None else None
    page = verification_page(settings, order_id, facts, claims, problems, lines)
    return html_page(render_verification(page), status=200 if page.found else 404)
