"""Forest carbon tickets (林业碳票) for ecological-compensation orders: a liable party (or the
authority that pays) retires ticket value it holds for an order, next to retiring credits
(api.routes.compensation), and anyone lists what was retired for an order, credits and tickets
together.

The contract decides what counts, as for credits, and judges a ticket by its slot: the parcel's
sink category (forest), its division code and its monitoring period's end as vintage. An
ineligible retirement is refused with the same codes credits get (`chain_ineligible_category`,
`chain_ineligible_region`, `chain_ineligible_vintage`, `chain_past_deadline`,
`chain_order_not_open`, `chain_not_order_party`, `chain_exceeds_requirement`; a CNY order
counts only purchases at a venue's price: `chain_price_unknown`) and changes nothing. Ticket
retirement ids are ForestTickets' own; their certificates are under /v1/tickets/retirements.

Its own module, included after api.routes.compensation: a job apart from the credit
retirements, with shapes of its own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api import prechecks
from api.auth import CallerDep, require_role
from api.certificate import certificate_url, serial_range_label
from api.compensation_terms import OrderOut, amount_label
from api.deps import CompensationDep, SessionDep, SettingsDep, ViewDep
from api.errors import ApiError
from api.fields import STRICT, Id, PathId, Tonnes, text
from api.idempotency import idempotent
from api.onchain import ChainView
from api.routes.compensation import IdempotencyKey, Keyed, order_out, require_order
from api.schemas import TxOut, tx
from api.ticket_certificate import (
    ticket_certificate_url,
    ticket_serial_range_label,
    ticket_verify_url,
)
from core.config import Settings
from core.units import format_units
from registry import compensation_queries as cq
from registry.compensation import Compensation, CountedTicketRetirement
from registry.tickets import Tickets

router = APIRouter(prefix="/v1/compensation", tags=["ecological compensation"])

TICKET_LABEL = {"zh": "林业碳票", "en": "forest carbon ticket"}
CREDIT_LABEL = {"zh": "碳汇减排量", "en": "carbon credit"}


class RetireTicketsForOrderIn(BaseModel):
    model_config = STRICT

    token_id: Id
    amount: Tonnes
    beneficiary: Annotated[str, text(256, allow_empty=True)] = Field(
        "", description="shown on the certificate; empty: the case number")


class TicketCountedOut(TxOut):
    order_id: int
    asset: Literal["ticket"]
    retirement_id: int = Field(description="ForestTickets' retirement id (apart from credits')")
    holder: str
    token_id: int
    slot: int
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


class OrderRetirementOut(BaseModel):
    asset: Literal["credit", "ticket"]
    asset_label: dict[str, str]
    retirement_id: int
    holder: str
    holder_name: str | None
    batch_id: int | None = Field(description="credits: the batch")
    slot: int | None = Field(description="tickets: the slot (verified forest report)")
    amount: str
    amount_units: int
    value: str
    value_units: int
    serial_start: int | None
    serial_end: int | None
    serial_range: str | None
    tx_hash: str
    block_timestamp: int
    certificate_url: str


def _precheck_ticket(view: ChainView, caller: str, token_id: int, amount: int) -> None:
    """Stable codes for the common refusals, before anything is signed."""
    tickets = Tickets(view.ledger)
    if not tickets.exists(token_id):
        raise ApiError(404, "ticket_not_found", f"ticket {token_id} does not exist",
                       {"token_id": token_id})
    prechecks.holder_not_frozen(view, caller)
    t = tickets.ticket(token_id)
    if t.owner != caller:
        raise ApiError(409, "not_ticket_owner",
                       f"ticket {token_id} is not the caller's (a pledged ticket is held by "
                       "the pledge register)", {"token_id": token_id, "owner": t.owner})
    if t.value < amount:
        raise ApiError(409, "insufficient_ticket_value",
                       f"ticket {token_id} holds {format_units(t.value)} t",
                       {"token_id": token_id, "value": format_units(t.value),
                        "requested": format_units(amount)})


def ticket_counted_out(comp: Compensation, settings: Settings, counted: CountedTicketRetirement,
                       holder: str) -> dict[str, Any]:
    """What a ticket retirement counted toward an order answers, with the order now."""
    r = counted.retirement
    order = order_out(comp, counted.order_id, settings)
    unit = "fen" if order["unit"] == "cny" else "tonnes"
    return {
        "order_id": counted.order_id, "asset": "ticket", "retirement_id": r.retirement_id,
        "holder": holder, "token_id": r.token_id, "slot": r.slot,
        "amount": format_units(r.value), "amount_units": r.value,
        "value": amount_label(unit, counted.value), "value_units": counted.value,
        "serial_start": r.serial_start, "serial_end": r.serial_end,
        "serial_range": ticket_serial_range_label(r.slot, r.serial_start, r.serial_end),
        "order_fulfilled": counted.order_fulfilled, "order": order,
        "certificate_url": ticket_certificate_url(settings, r.retirement_id),
        "verify_url": ticket_verify_url(settings, r.retirement_id),
        **tx(counted.sent),
    }


@router.post("/orders/{order_id}/ticket-retirements", status_code=201,
             response_model=TicketCountedOut)
def retire_tickets_for_order(
    order_id: PathId, body: RetireTicketsForOrderIn, caller: CallerDep, session: SessionDep,
    settings: SettingsDep, view: ViewDep, comp: CompensationDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse | dict[str, object]:
    """Retires forest-ticket value the caller holds for the order; the contract counts it if
    the ticket's parcel and period meet the order's criteria and refuses it with the reason
    otherwise. A party named by account, or the authority of an order it pays for. CNY orders
    count only purchases at a venue's price (`chain_price_unknown`)."""
    require_role(view, caller, "MEMBER")
    require_order(comp, order_id)
    with idempotent(session, caller, "compensation.retire_tickets", idempotency_key,
                    Keyed(order_id=order_id, body=body), comp.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        if slot.landed is not None:
            counted = comp.ticket_counted_of(slot.landed, order_id, body.token_id, body.amount)
        else:
            _precheck_ticket(view, caller.address, body.token_id, body.amount)
            counted = comp.retire_tickets_for_order(caller.key(), order_id, body.token_id,
                                                    body.amount, body.beneficiary)
        result = ticket_counted_out(comp, settings, counted, caller.address)
        slot.store(201, result)
    return result


@router.get("/orders/{order_id}/retirements", response_model=list[OrderRetirementOut])
def order_retirements(order_id: PathId, session: SessionDep, comp: CompensationDep,
                      settings: SettingsDep) -> list[dict[str, Any]]:
    """Every retirement counted toward the order, credits then forest tickets, each in chain
    order, labelled by asset, with its serial range (a batch's or a ticket slot's) and its
    certificate (from the index)."""
    require_order(comp, order_id)
    unit = "fen" if comp.order(order_id).terms.unit.name == "FEN" else "tonnes"
    out: list[dict[str, Any]] = []
    for c in cq.counted_retirements(session, order_id):
        start, end = c["serial_start"], c["serial_end"]
        out.append({
            "asset": "credit", "asset_label": CREDIT_LABEL, "retirement_id": c["retirement_id"],
            "holder": c["holder"], "holder_name": c["holder_name"], "batch_id": c["batch_id"],
            "slot": None, "amount": format_units(c["amount"]), "amount_units": c["amount"],
            "value": amount_label(unit, c["value"]), "value_units": c["value"],
            "serial_start": start, "serial_end": end,
            "serial_range": serial_range_label(c["batch_id"], start, end)
            if start is not None and end is not None else None,
            "tx_hash": c["tx_hash"], "block_timestamp": c["block_timestamp"],
            "certificate_url": certificate_url(settings, c["retirement_id"]),
        })
    for t in cq.counted_ticket_retirements(session, order_id):
        out.append({
            "asset": "ticket", "asset_label": TICKET_LABEL, "retirement_id": t["retirement_id"],
            "holder": t["holder"], "holder_name": t["holder_name"], "batch_id": None,
            "slot": t["slot"], "amount": format_units(t["amount"]), "amount_units": t["amount"],
            "value": amount_label(unit, t["value"]), "value_units": t["value"],
            "serial_start": t["serial_start"], "serial_end": t["serial_end"],
            "serial_range": ticket_serial_range_label(t["slot"], t["serial_start"],
                                                      t["serial_end"]),
            "tx_hash": t["tx_hash"], "block_timestamp": t["block_timestamp"],
            "certificate_url": ticket_certificate_url(settings, t["retirement_id"]),
        })
    return out
