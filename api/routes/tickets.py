"""Public reads of forest carbon tickets (林业碳票) and of the pledge register (质押登记), from
the chain.

A bank about to lend against a ticket or a batch must see every lien already on it, and an
auditor must see who holds which lien on what, without trusting the registry's database: so
these routes read ForestTickets and PledgeRegister directly (no index, no API key). Writes
(issue, split, transfer, pledge, release, foreclose) come with the ticket API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.errors import ApiError, not_found
from api.fields import MAX_ID, PathId, checksum_path_address
from core.divisions import division_name
from core.units import format_units
from registry.ledger import Ledger
from registry.pledges import AssetKind, Pledge, Pledges
from registry.tickets import Tickets

router = APIRouter(prefix="/v1", tags=["forest tickets and pledges"])


class PledgeOut(BaseModel):
    id: int
    pledgor: str
    bank: str
    asset: Literal["ticket", "credit"]
    asset_id: int
    token_id: int
    value: str
    value_units: int
    loan_reference: str
    amount_fen: int
    maturity: int
    status: Literal["active", "released", "foreclosed"]


class SlotOut(BaseModel):
    slot: int
    project_id: int
    period_start: int
    period_end: int
    division_code: int
    division_zh: str | None
    division_en: str | None
    area_m2: int
    boundary_hash: str
    rights_certificate: str
    owner: str
    issued: str
    issued_units: int
    retired: str
    retired_units: int
    pledged: str
    pledged_units: int
    liens: list[PledgeOut]


class TicketOut(BaseModel):
    id: int
    owner: str
    value: str
    value_units: int
    slot: SlotOut


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def pledge_out(p: Pledge) -> dict[str, Any]:
    return {
        "id": p.pledge_id, "pledgor": p.pledgor, "bank": p.bank,
        "asset": "ticket" if p.kind == AssetKind.TICKET else "credit",
        "asset_id": p.asset_id, "token_id": p.token_id, "value": format_units(p.value),
        "value_units": p.value, "loan_reference": "0x" + p.loan_reference.hex(),
        "amount_fen": p.amount_fen, "maturity": p.maturity, "status": p.status.name.lower(),
    }


def _slot_out(tickets: Tickets, pledges: Pledges, slot: int) -> dict[str, Any]:
    s = tickets.slot(slot)
    name = division_name(s.division_code)
    pledged = pledges.pledged_of(AssetKind.TICKET, slot)
    return {
        "slot": slot, "project_id": s.project_id, "period_start": s.period_start,
        "period_end": s.period_end, "division_code": s.division_code,
        "division_zh": name.zh if name else None, "division_en": name.en if name else None,
        "area_m2": s.area_m2, "boundary_hash": "0x" + s.boundary_hash.hex(),
        "rights_certificate": s.rights_certificate, "owner": s.owner,
        "issued": format_units(s.issued), "issued_units": s.issued,
        "retired": format_units(s.retired), "retired_units": s.retired,
        "pledged": format_units(pledged), "pledged_units": pledged,
        "liens": [pledge_out(p) for p in pledges.of_asset(AssetKind.TICKET, slot)],
    }


@router.get("/tickets/{token_id}", response_model=TicketOut)
def get_ticket(token_id: PathId, request: Request) -> dict[str, Any]:
    """A ticket: its owner and value, and its slot — the parcel and period it was issued for,
    the forest-right certificate, what was issued, retired and is pledged, and every lien."""
    ledger = _ledger(request)
    tickets = Tickets(ledger)
    if not tickets.exists(token_id):
        raise not_found("ticket", token_id)
    t = tickets.ticket(token_id)
    return {"id": token_id, "owner": t.owner, "value": format_units(t.value),
            "value_units": t.value, "slot": _slot_out(tickets, Pledges(ledger), t.slot)}


@router.get("/pledges/{pledge_id}", response_model=PledgeOut)
def get_pledge(pledge_id: PathId, request: Request) -> dict[str, Any]:
    """One pledge as the register holds it."""
    pledges = Pledges(_ledger(request))
    if not 1 <= pledge_id <= pledges.count():
        raise not_found("pledge", pledge_id)
    return pledge_out(pledges.pledge(pledge_id))


@router.get("/pledges", response_model=list[PledgeOut])
def list_pledges(
    request: Request,
    bank: Annotated[str | None, Query(max_length=42)] = None,
    pledgor: Annotated[str | None, Query(max_length=42)] = None,
    ticket_slot: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    batch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[dict[str, Any]]:
    """The pledge register, by exactly one of: a bank (the liens it holds), a pledgor, a
    ticket slot or a credit batch (every lien on it, so a second lender sees the first)."""
    given = [v for v in (bank, pledgor, ticket_slot, batch_id) if v is not None]
    if len(given) != 1:
        raise ApiError(422, "invalid_request",
                       "give exactly one of bank, pledgor, ticket_slot and batch_id")
    pledges = Pledges(_ledger(request))
    if bank is not None:
        found = pledges.of_bank(checksum_path_address(bank))
    elif pledgor is not None:
        found = pledges.of_pledgor(checksum_path_address(pledgor))
    elif ticket_slot is not None:
        found = pledges.of_asset(AssetKind.TICKET, ticket_slot)
    else:
        assert batch_id is not None
        found = pledges.of_asset(AssetKind.CREDIT, batch_id)
    return [pledge_out(p) for p in found]
