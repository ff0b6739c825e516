"""Read side of compensation orders in the SQL index: for authorities (my orders, a
timeline), for liable parties (what I owe) and for the public (an order by case number).

Statuses come back as the contract defines them, except that an open or partly fulfilled
order whose deadline has passed reads `overdue` — the same rule as `statusOf` on chain, applied
at the caller's `now` so a page and the contract agree.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.categories import categories_of_mask
from registry.compensation import OrderStatus, case_hash
from registry.models import (
    Batch,
    CompensationOffer,
    CompensationOrder,
    Member,
    OrderEvent,
    OrderRetirement,
    OrderTicketRetirement,
    Project,
    Retirement,
)
from registry.queries import Page, Row, _page

OPEN_KEYS = (OrderStatus.OPEN.name.lower(), OrderStatus.PARTLY_FULFILLED.name.lower())


def _present(row: Row, now: int) -> Row:
    out = dict(row)
    if out["status"] in OPEN_KEYS and now > int(out["deadline"]):
        out["status"] = OrderStatus.OVERDUE.name.lower()
    out["categories"] = [c.key for c in categories_of_mask(int(out["category_mask"]))]
    out["remaining"] = max(int(out["required"]) - int(out["fulfilled"]), 0)
    return out


def list_orders(session: Session, now: int, *, authority: str | None = None,
                party: str | None = None, status: str | None = None,
                limit: int = 100, offset: int = 0) -> Page:
    """Orders newest first, optionally of one authority, naming one party account, or in one
    status (`overdue` included)."""
    t = CompensationOrder.__table__
    stmt = select(t)
    if authority is not None:
        stmt = stmt.where(t.c.authority == authority)
    if status is not None and status != OrderStatus.OVERDUE.name.lower():
        stmt = stmt.where(t.c.status == status)
        if status in OPEN_KEYS:
            stmt = stmt.where(t.c.deadline >= now)
    elif status == OrderStatus.OVERDUE.name.lower():
        stmt = stmt.where(t.c.status.in_(OPEN_KEYS), t.c.deadline < now)
    if party is None:
        page = _page(session, stmt, [t.c.id.desc()], limit, offset)
        page["items"] = [_present(r, now) for r in page["items"]]
        return page
    # Parties are a JSON list: filtered here, so the filter is portable across databases.
    rows = [dict(r) for r in session.execute(stmt.order_by(t.c.id.desc())).mappings()]
    mine = [_present(r, now) for r in rows if party in r["parties"]]
    return {"items": mine[offset:offset + limit], "total": len(mine), "limit": limit,
            "offset": offset}


def get_order(session: Session, order_id: int, now: int) -> Row | None:
    t = CompensationOrder.__table__
    row = session.execute(select(t).where(t.c.id == order_id)).mappings().one_or_none()
    return _present(dict(row), now) if row is not None else None


def order_of_case(session: Session, case_number: str, now: int) -> Row | None:
    t = CompensationOrder.__table__
    row = session.execute(
        select(t).where(t.c.case_hash == "0x" + case_hash(case_number).hex())
    ).mappings().one_or_none()
    return _present(dict(row), now) if row is not None else None


def order_timeline(session: Session, order_id: int) -> list[Row]:
    """Every step of the order in chain order."""
    t = OrderEvent.__table__
    rows = session.execute(
        select(t).where(t.c.order_id == order_id).order_by(t.c.block_number, t.c.log_index)
    ).mappings()
    return [dict(r) for r in rows]


def counted_retirements(session: Session, order_id: int) -> list[Row]:
    """The retirements counted toward the order with what a fulfilment certificate lists:
    serial range, batch, project and its location, holder's name, transaction."""
    c = OrderRetirement.__table__
    r = Retirement.__table__
    b = Batch.__table__
    p = Project.__table__
    m = Member.__table__
    stmt = (
        select(
            c.c.retirement_id, c.c.holder, c.c.batch_id, c.c.amount, c.c.value, c.c.tx_hash,
            c.c.block_timestamp, r.c.serial_start, r.c.serial_end, r.c.beneficiary,
            r.c.case_reference, b.c.project_id, b.c.period_start, b.c.period_end,
            p.c.name.label("project_name"), p.c.division_code,
            m.c.name.label("holder_name"),
        )
        .select_from(c)
        .outerjoin(r, r.c.id == c.c.retirement_id)
        .outerjoin(b, b.c.id == c.c.batch_id)
        .outerjoin(p, p.c.id == b.c.project_id)
        .outerjoin(m, m.c.address == c.c.holder)
        .where(c.c.order_id == order_id)
        .order_by(c.c.block_number, c.c.retirement_id)
    )
    return [dict(x) for x in session.execute(stmt).mappings()]


def counted_ticket_retirements(session: Session, order_id: int) -> list[Row]:
    """The forest-ticket retirements counted toward the order, in chain order, with their slot
    and serial range (serials serial_start..serial_end of the slot) and the holder's name."""
    c = OrderTicketRetirement.__table__
    m = Member.__table__
    stmt = (
        select(c.c.retirement_id, c.c.holder, c.c.slot, c.c.amount, c.c.serial_start,
               (c.c.serial_start + c.c.amount - 1).label("serial_end"), c.c.value,
               c.c.tx_hash, c.c.block_timestamp, m.c.name.label("holder_name"))
        .select_from(c)
        .outerjoin(m, m.c.address == c.c.holder)
        .where(c.c.order_id == order_id)
        .order_by(c.c.block_number, c.c.retirement_id)
    )
    return [dict(x) for x in session.execute(stmt).mappings()]


def offers_of_order(session: Session, order_id: int, now: int, *,
                    open_only: bool = False) -> list[Row]:
    t = CompensationOffer.__table__
    stmt = select(t).where(t.c.order_id == order_id)
    if open_only:
        stmt = stmt.where(t.c.status == "open", t.c.expiry >= now, t.c.remaining > 0)
    return [dict(r) for r in session.execute(stmt.order_by(t.c.id)).mappings()]


def get_offer(session: Session, offer_id: int) -> Row | None:
    t = CompensationOffer.__table__
    row = session.execute(select(t).where(t.c.id == offer_id)).mappings().one_or_none()
    return dict(row) if row is not None else None


def owed_by(session: Session, party: str, now: int) -> list[Row]:
    """What a liable party still owes: its orders that are open, partly fulfilled or overdue,
    with the remainder."""
    page = list_orders(session, now, party=party, limit=10_000)
    owing = (*OPEN_KEYS, OrderStatus.OVERDUE.name.lower())
    return [o for o in page["items"] if o["status"] in owing]

