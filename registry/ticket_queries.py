"""Reads of forest tickets and pledges from the SQL index: a parcel's tickets slot by slot,
and an owner's tickets.

The chain is the truth (api.routes.tickets reads one ticket or pledge from it); these lists
would cost a call per ticket there, so they come from the index (registry.ticket_index). A
ticket is `in_escrow` while an active pledge holds it: the register owns it, and its value can
neither move nor be retired until the bank releases or forecloses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.units import format_units
from registry.models import ForestTicket, PledgeRow, TicketSlot


def _escrow(session: Session, token_ids: list[int]) -> dict[int, int]:
    """Escrowed ticket -> its active pledge."""
    if not token_ids:
        return {}
    rows = session.execute(
        select(PledgeRow.token_id, PledgeRow.id).where(
            PledgeRow.asset == "ticket", PledgeRow.status == "active",
            PledgeRow.token_id.in_(token_ids))
    ).all()
    return {int(t): int(p) for t, p in rows}


def _ticket(t: ForestTicket, escrow: dict[int, int]) -> dict[str, Any]:
    return {"id": t.id, "slot": t.slot, "owner": t.owner, "value": format_units(t.value),
            "value_units": t.value, "in_escrow": t.id in escrow,
            "pledge_id": escrow.get(t.id)}


def parcel_tickets(session: Session, project_id: int) -> dict[str, Any]:
    """Every slot (monitoring period) ticketed for the parcel, oldest period first, with its
    totals (issued, retired, pledged) and its live tickets (owner and value)."""
    slots = session.execute(
        select(TicketSlot).where(TicketSlot.project_id == project_id)
        .order_by(TicketSlot.period_start, TicketSlot.id)
    ).scalars().all()
    ids = [s.id for s in slots]
    live = session.execute(
        select(ForestTicket).where(ForestTicket.slot.in_(ids), ForestTicket.burnt.is_(False),
                                   ForestTicket.value > 0)
        .order_by(ForestTicket.id)
    ).scalars().all() if ids else []
    escrow = _escrow(session, [t.id for t in live])
    pledged = dict(session.execute(
        select(PledgeRow.asset_id, func.sum(PledgeRow.value)).where(
            PledgeRow.asset == "ticket", PledgeRow.status == "active",
            PledgeRow.asset_id.in_(ids)).group_by(PledgeRow.asset_id)
    ).all()) if ids else {}
    out = []
    for s in slots:
        p = int(pledged.get(s.id, 0))
        out.append({
            "slot": s.id, "period_start": s.period_start, "period_end": s.period_end,
            "rights_certificate": s.rights_certificate, "division_code": s.division_code,
            "area_m2": s.area_m2, "owner": s.owner,
            "issued": format_units(s.issued), "issued_units": s.issued,
            "retired": format_units(s.retired), "retired_units": s.retired,
            "pledged": format_units(p), "pledged_units": p,
            "tickets": [_ticket(t, escrow) for t in live if t.slot == s.id],
        })
    return {"project_id": project_id, "slots": out}


def tickets_of_owner(session: Session, owner: str) -> list[dict[str, Any]]:
    """The owner's live tickets (value above zero), by id, with their parcel."""
    rows = session.execute(
        select(ForestTicket, TicketSlot.project_id)
        .join(TicketSlot, TicketSlot.id == ForestTicket.slot)
        .where(ForestTicket.owner == owner, ForestTicket.burnt.is_(False),
               ForestTicket.value > 0)
        .order_by(ForestTicket.id)
    ).all()
    escrow = _escrow(session, [t.id for t, _ in rows])
    return [{**_ticket(t, escrow), "project_id": int(project)} for t, project in rows]


def parcel_known(session: Session, project_id: int) -> bool:
    return session.execute(
        select(TicketSlot.id).where(TicketSlot.project_id == project_id).limit(1)
    ).first() is not None
