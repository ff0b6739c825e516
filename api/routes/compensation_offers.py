"""Offers to a compensation order: a seller offers credits at a fixed price, and a party (or
the authority paying from compensation funds) takes them, paying the seller and retiring the
tonnes on delivery in one transaction, so they never sit in the buyer's balance and cannot be
resold.

Its own module because offers are a market beside the order, with shapes of their own; it
builds on api.routes.compensation (the order's helpers) and shares its prefix and tag.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api import prechecks, reserved
from api.auth import CallerDep, require_role
from api.compensation_terms import cny
from api.deps import CompensationDep, SessionDep, SettingsDep, ViewDep
from api.errors import ApiError, not_found
from api.fields import STRICT, Id, PathId, Tonnes, UnixTime, text
from api.idempotency import idempotent
from api.routes.compensation import (
    CountedOut,
    IdempotencyKey,
    Keyed,
    chain_now,
    counted_out,
    require_order,
)
from api.schemas import TxOut, tx
from core.units import format_units
from registry import compensation_queries as cq
from registry.compensation import Compensation

router = APIRouter(prefix="/v1/compensation", tags=["ecological compensation"])


# -- shapes ----------------------------------------------------------------------------------


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


# -- helpers ---------------------------------------------------------------------------------


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


# -- offers ----------------------------------------------------------------------------------


@router.post("/orders/{order_id}/offers", status_code=201, response_model=OfferWriteOut)
def make_offer(
    order_id: PathId, body: OfferIn, request: Request, caller: CallerDep, view: ViewDep,
    comp: CompensationDep,
) -> dict[str, object]:
    """Offers credits to an order at a fixed price (fen per tonne), e.g. 100 yuan/t. Any
    member holding them; the seller's approval of the offers contract is given here."""
    require_role(view, caller, "MEMBER")
    require_order(comp, order_id)
    if body.expiry <= chain_now(view):
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
    return {"offer": _offer_out(comp.offer(created.id), created.id, chain_now(view)),
            **tx(created.sent)}


@router.get("/orders/{order_id}/offers", response_model=list[OfferOut])
def offers(order_id: PathId, view: ViewDep, comp: CompensationDep,
           session: SessionDep) -> list[dict[str, Any]]:
    """The offers made to an order (from the index, each re-read from the chain)."""
    require_order(comp, order_id)
    now = chain_now(view)
    return [_offer_out(comp.offer(int(o["id"])), int(o["id"]), now, o["status"])
            for o in cq.offers_of_order(session, order_id, now)]


@router.post("/offers/{offer_id}/withdraw", response_model=OfferWriteOut)
def withdraw_offer(offer_id: PathId, caller: CallerDep, view: ViewDep,
                   comp: CompensationDep) -> dict[str, object]:
    """Withdraws what remains of the caller's offer. The seller only."""
    require_role(view, caller, "MEMBER")
    _offer_or_404(comp, offer_id)
    sent = comp.withdraw_offer(caller.key(), offer_id)
    return {"offer": _offer_out(comp.offer(offer_id), offer_id, chain_now(view)), **tx(sent)}


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
                    Keyed(order_id=offer_id, body=body), comp.chain) as slot:
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
            **counted_out(comp, settings, taken.counted, caller.address, int(offer.batch_id),
                          body.amount),
            "offer_id": offer_id, "paid_fen": taken.paid, "paid": cny(taken.paid),
        }
        slot.store(201, result)
    return result
