"""Read side of the SQL index: plain dicts for the API, the CLI and auditors.

Quantities come back as integer units; formatting (tonnes) is the caller's business. Addresses
passed in must be checksummed (as stored). Lists are paginated with `limit`/`offset` and come
back as a `Page` with the total count, newest first where the natural order is time.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from registry.models import (
    Attestation,
    Balance,
    Batch,
    BufferCancellation,
    IndexCursor,
    IndexedBlock,
    Member,
    Methodology,
    Project,
    Report,
    Retirement,
    Transfer,
)

Row = dict[str, Any]


class Page(TypedDict):
    items: list[Row]
    total: int
    limit: int
    offset: int


def _page(session: Session, stmt: Select, order: list[Any], limit: int, offset: int) -> Page:
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(*order).limit(limit).offset(offset)).mappings().all()
    return {"items": [dict(r) for r in rows], "total": int(total), "limit": limit, "offset": offset}


def _one(session: Session, stmt: Select) -> Row | None:
    row = session.execute(stmt).mappings().one_or_none()
    return dict(row) if row is not None else None


def registry_address(session: Session) -> str | None:
    """The CarbonCredits address, which is also the buffer pool's account."""
    return session.execute(select(IndexCursor.registry_address).limit(1)).scalar_one_or_none()


# -- members -------------------------------------------------------------------------------


def list_members(session: Session, *, limit: int = 100, offset: int = 0) -> Page:
    """Consortium accounts with their roles, by address."""
    return _page(session, select(Member.__table__), [Member.address], limit, offset)


def get_member(session: Session, address: str) -> Row | None:
    return _one(session, select(Member.__table__).where(Member.address == address))


# -- methodologies and projects ------------------------------------------------------------


def list_methodologies(
    session: Session, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> Page:
    stmt = select(Methodology.__table__)
    if status is not None:
        stmt = stmt.where(Methodology.status == status)
    return _page(session, stmt, [Methodology.id], limit, offset)


def get_methodology(session: Session, methodology_id: int) -> Row | None:
    return _one(session, select(Methodology.__table__).where(Methodology.id == methodology_id))


def list_projects(
    session: Session,
    *,
    status: str | None = None,
    developer: str | None = None,
    methodology_id: int | None = None,
    division_code: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page:
    stmt = select(Project.__table__)
    if status is not None:
        stmt = stmt.where(Project.status == status)
    if developer is not None:
        stmt = stmt.where(Project.developer == developer)
    if methodology_id is not None:
        stmt = stmt.where(Project.methodology_id == methodology_id)
    if division_code is not None:
        stmt = stmt.where(Project.division_code == division_code)
    return _page(session, stmt, [Project.id], limit, offset)


def get_project(session: Session, project_id: int) -> Row | None:
    return _one(session, select(Project.__table__).where(Project.id == project_id))


# -- monitoring reports --------------------------------------------------------------------


def _reports() -> Select:
    return select(Report.__table__, Batch.id.label("batch_id")).outerjoin(
        Batch, Batch.report_id == Report.id
    )


def list_reports(
    session: Session,
    *,
    project_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page:
    stmt = _reports()
    if project_id is not None:
        stmt = stmt.where(Report.project_id == project_id)
    if status is not None:
        stmt = stmt.where(Report.status == status)
    return _page(session, stmt, [Report.id], limit, offset)


def get_report(session: Session, report_id: int) -> Row | None:
    """A report with every oracle submission. Each attestation carries `votes` (submissions
    with the same digest) and `agrees` (its triple is the attested one; None while pending),
    so a node that disagreed is visible next to the ones that carried the threshold."""
    report = _one(session, _reports().where(Report.id == report_id))
    if report is None:
        return None
    rows = session.execute(
        select(Attestation.__table__)
        .where(Attestation.report_id == report_id)
        .order_by(Attestation.block_number, Attestation.log_index)
    ).mappings().all()
    votes: dict[str, int] = {}
    for r in rows:
        votes[r["digest"]] = votes.get(r["digest"], 0) + 1
    attested = report["merkle_root"] is not None
    report["attestations"] = [
        {
            **dict(r),
            "votes": votes[r["digest"]],
            "agrees": (
                r["merkle_root"] == report["merkle_root"]
                and r["report_hash"] == report["report_hash"]
                and r["quantity"] == report["attested_quantity"]
            )
            if attested
            else None,
        }
        for r in rows
    ]
    return report


# -- batches and balances ------------------------------------------------------------------


def _batches(session: Session) -> Select:
    pool = registry_address(session) or ""
    in_pool = (
        select(Balance.amount)
        .where(Balance.batch_id == Batch.id, Balance.address == pool)
        .scalar_subquery()
    )
    return select(Batch.__table__, func.coalesce(in_pool, 0).label("buffer_pool"))


def list_batches(
    session: Session,
    *,
    project_id: int | None = None,
    developer: str | None = None,
    frozen: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page:
    """Batches with `buffer_pool`: what the buffer pool still holds of each."""
    stmt = _batches(session)
    if project_id is not None:
        stmt = stmt.where(Batch.project_id == project_id)
    if developer is not None:
        stmt = stmt.where(Batch.developer == developer)
    if frozen is not None:
        stmt = stmt.where(Batch.frozen == frozen)
    return _page(session, stmt, [Batch.id], limit, offset)


def get_batch(session: Session, batch_id: int) -> Row | None:
    return _one(session, _batches(session).where(Batch.id == batch_id))


def batch_holders(session: Session, batch_id: int, *, limit: int = 100, offset: int = 0) -> Page:
    """Accounts holding the batch, largest first; the buffer pool is flagged."""
    pool = registry_address(session)
    stmt = select(
        Balance.address,
        Balance.amount,
        (Balance.address == (pool or "")).label("buffer_pool"),
    ).where(Balance.batch_id == batch_id, Balance.amount > 0)
    page = _page(session, stmt, [Balance.amount.desc(), Balance.address], limit, offset)
    for item in page["items"]:
        item["buffer_pool"] = bool(item["buffer_pool"])
    return page


def account_balances(
    session: Session, address: str, *, limit: int = 100, offset: int = 0
) -> Page:
    """Non-zero holdings of an account, by batch, with the batch's project and freeze."""
    stmt = (
        select(
            Balance.batch_id,
            Balance.amount,
            Batch.project_id,
            Batch.frozen,
            Batch.period_start,
            Batch.period_end,
        )
        .join(Batch, Batch.id == Balance.batch_id)
        .where(Balance.address == address, Balance.amount > 0)
    )
    return _page(session, stmt, [Balance.batch_id], limit, offset)


def balance_of(session: Session, address: str, batch_id: int) -> int:
    amount = session.execute(
        select(Balance.amount).where(Balance.address == address, Balance.batch_id == batch_id)
    ).scalar_one_or_none()
    return int(amount or 0)


# -- movements -----------------------------------------------------------------------------


def list_transfers(
    session: Session,
    *,
    address: str | None = None,
    batch_id: int | None = None,
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page:
    """Credit movements (mints, transfers, burns), newest first; `address` matches either end."""
    stmt = select(Transfer.__table__)
    if address is not None:
        stmt = stmt.where(or_(Transfer.from_address == address, Transfer.to_address == address))
    if batch_id is not None:
        stmt = stmt.where(Transfer.batch_id == batch_id)
    if kind is not None:
        stmt = stmt.where(Transfer.kind == kind)
    order = [Transfer.block_number.desc(), Transfer.log_index.desc(), Transfer.seq.desc()]
    return _page(session, stmt, order, limit, offset)


def list_retirements(
    session: Session,
    *,
    holder: str | None = None,
    batch_id: int | None = None,
    purpose: str | None = None,
    case_reference: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page:
    """Retirements, newest first, by holder, batch, purpose or case reference."""
    stmt = select(Retirement.__table__)
    if holder is not None:
        stmt = stmt.where(Retirement.holder == holder)
    if batch_id is not None:
        stmt = stmt.where(Retirement.batch_id == batch_id)
    if purpose is not None:
        stmt = stmt.where(Retirement.purpose == purpose)
    if case_reference is not None:
        stmt = stmt.where(Retirement.case_reference == case_reference)
    return _page(session, stmt, [Retirement.id.desc()], limit, offset)


def get_retirement(session: Session, retirement_id: int) -> Row | None:
    return _one(session, select(Retirement.__table__).where(Retirement.id == retirement_id))


def list_buffer_cancellations(
    session: Session, *, batch_id: int | None = None, limit: int = 100, offset: int = 0
) -> Page:
    stmt = select(BufferCancellation.__table__)
    if batch_id is not None:
        stmt = stmt.where(BufferCancellation.batch_id == batch_id)
    return _page(session, stmt, [BufferCancellation.id.desc()], limit, offset)


# -- audit and status ----------------------------------------------------------------------


def sql_invariants(session: Session) -> list[str]:
    """What the index says is wrong with the registry (empty: nothing). Checked per batch:
    issued = sum of balances (buffer pool included) + retired + cancelled; retired and cancelled
    equal the sums of their records; no negative balance; retirement and cancellation serials
    tile 1..retired+cancelled with no gap or overlap (each retired unit has one serial).
    """
    problems: list[str] = []

    held = (
        select(Balance.batch_id, func.sum(Balance.amount).label("held"))
        .group_by(Balance.batch_id)
        .subquery()
    )
    retired = (
        select(Retirement.batch_id, func.sum(Retirement.amount).label("amount"))
        .group_by(Retirement.batch_id)
        .subquery()
    )
    cancelled = (
        select(BufferCancellation.batch_id, func.sum(BufferCancellation.amount).label("amount"))
        .group_by(BufferCancellation.batch_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Batch.id,
            Batch.issued,
            Batch.retired,
            Batch.cancelled,
            func.coalesce(held.c.held, 0),
            func.coalesce(retired.c.amount, 0),
            func.coalesce(cancelled.c.amount, 0),
        )
        .outerjoin(held, held.c.batch_id == Batch.id)
        .outerjoin(retired, retired.c.batch_id == Batch.id)
        .outerjoin(cancelled, cancelled.c.batch_id == Batch.id)
        .order_by(Batch.id)
    ).all()
    for bid, issued, ret, can, bal, ret_sum, can_sum in rows:
        if int(issued) != int(bal) + int(ret) + int(can):
            problems.append(
                f"batch {bid}: issued {issued} != balances {bal} + retired {ret} "
                f"+ cancelled {can}"
            )
        if int(ret) != int(ret_sum):
            problems.append(f"batch {bid}: retired {ret} != sum of retirements {ret_sum}")
        if int(can) != int(can_sum):
            problems.append(f"batch {bid}: cancelled {can} != sum of cancellations {can_sum}")

    for address, bid, amount in session.execute(
        select(Balance.address, Balance.batch_id, Balance.amount)
        .where(Balance.amount < 0)
        .order_by(Balance.batch_id, Balance.address)
    ):
        problems.append(f"batch {bid}: negative balance {amount} for {address}")

    problems.extend(_serial_problems(session))
    return problems


def _serial_problems(session: Session) -> list[str]:
    ranges = union_all(
        select(
            Retirement.batch_id, Retirement.serial_start, Retirement.serial_end,
            literal("retirement").label("kind"), Retirement.id,
        ),
        select(
            BufferCancellation.batch_id, BufferCancellation.serial_start,
            BufferCancellation.serial_end, literal("cancellation").label("kind"),
            BufferCancellation.id,
        ),
    ).subquery()
    prev_end = (
        func.lag(ranges.c.serial_end)
        .over(partition_by=ranges.c.batch_id, order_by=ranges.c.serial_start)
        .label("prev_end")
    )
    ordered = select(ranges, prev_end).subquery()
    gap: ColumnElement[bool] = or_(
        and_(ordered.c.prev_end.is_(None), ordered.c.serial_start != 1),
        and_(ordered.c.prev_end.is_not(None), ordered.c.serial_start != ordered.c.prev_end + 1),
        ordered.c.serial_end < ordered.c.serial_start,
    )
    problems = [
        f"batch {bid}: {kind} {ident} serials {start}..{end} do not follow {prev} "
        "(gap or overlap)"
        for bid, start, end, kind, ident, prev in session.execute(
            select(ordered).where(gap).order_by(ordered.c.batch_id, ordered.c.serial_start)
        )
    ]
    last = (
        select(ranges.c.batch_id, func.max(ranges.c.serial_end).label("last"))
        .group_by(ranges.c.batch_id)
        .subquery()
    )
    for bid, consumed, top in session.execute(
        select(Batch.id, Batch.retired + Batch.cancelled, func.coalesce(last.c.last, 0))
        .outerjoin(last, last.c.batch_id == Batch.id)
        .where(Batch.retired + Batch.cancelled != func.coalesce(last.c.last, 0))
        .order_by(Batch.id)
    ):
        problems.append(f"batch {bid}: last serial {top} != retired + cancelled {consumed}")
    return problems


def index_status(session: Session, head: int | None = None) -> Row:
    """Where the index stands. `head` is the chain head if the caller can ask the node; else
    the head seen by the last sync is used. `index_lag` is in blocks (0 when the index is
    ahead of the head). `indexed_block_hash` is the hash the index stored for the block it is
    built up to (compare it with the chain's: `chain_agreement`)."""
    cursor = session.execute(select(IndexCursor.__table__).limit(1)).mappings().one_or_none()
    if cursor is None:
        return {
            "chain_id": None,
            "registry_address": None,
            "next_block": None,
            "indexed_to_block": None,
            "indexed_block_hash": None,
            "head_block": head,
            "index_lag": None,
            "events": 0,
            "rewinds": 0,
            "rewound_to_block": None,
        }
    indexed_to = int(cursor["next_block"]) - 1
    known_head = int(cursor["head_block"]) if head is None else head
    block_hash = session.execute(
        select(IndexedBlock.block_hash).where(IndexedBlock.block_number == indexed_to)
    ).scalar_one_or_none()
    return {
        "chain_id": int(cursor["chain_id"]),
        "registry_address": cursor["registry_address"],
        "next_block": int(cursor["next_block"]),
        "indexed_to_block": indexed_to,
        "indexed_block_hash": block_hash,
        "head_block": known_head,
        "index_lag": max(0, known_head - indexed_to),
        "events": int(cursor["events"]),
        "rewinds": int(cursor["rewinds"]),
        "rewound_to_block": cursor["rewound_to_block"],
    }


IndexAgreement = Literal["not_indexed", "ok", "behind", "ahead_of_chain", "fork_detected"]


def chain_agreement(
    status: Row, head: int, chain_hash: str | None, deployment_block: int
) -> IndexAgreement:
    """How the index (`index_status`) stands against the chain, given the chain's head and its
    hash of the indexed-to block (None if it has no such block):

    - `not_indexed`: nothing indexed yet;
    - `ahead_of_chain`: the index holds blocks the chain does not (it went backwards);
    - `fork_detected`: the chain has another block at that height (it reorganised);
    - `behind`: the chain has blocks the index does not hold yet (with confirmations, always
      by at least that many);
    - `ok`: the index is built up to the chain head, from the chain's blocks.

    An index migrated from before block hashes were stored has none for its block until its
    next sync, and is judged by block numbers alone until then."""
    indexed_to = status["indexed_to_block"]
    if indexed_to is None or indexed_to < deployment_block:
        return "not_indexed"
    if indexed_to > head:
        return "ahead_of_chain"
    stored = status["indexed_block_hash"]
    if stored is not None and stored != chain_hash:
        return "fork_detected"
    return "behind" if indexed_to < head else "ok"


def latest_attested_periods(session: Session, limit: int = 200) -> dict[int, tuple[int, int]]:
    """For each project (the `limit` most recently attested), its latest attested or verified
    monitoring period: project → (period end, block of the report's last attestation)."""
    latest = (
        select(Report.project_id, func.max(Report.period_end).label("period_end"))
        .where(Report.status.in_(("attested", "verified")))
        .group_by(Report.project_id)
        .subquery()
    )
    rows = session.execute(
        select(Report.project_id, Report.period_end, func.max(Attestation.block_number))
        .join(latest, and_(Report.project_id == latest.c.project_id,
                           Report.period_end == latest.c.period_end))
        .join(Attestation, Attestation.report_id == Report.id)
        .group_by(Report.project_id, Report.period_end)
        .order_by(func.max(Attestation.block_number).desc())
        .limit(limit)
    ).all()
    return {int(p): (int(end), int(block)) for p, end, block in rows}
