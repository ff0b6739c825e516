"""How each contract event changes the SQL index: the state machine the indexer applies.

`RangeWriter` collects what one block range changes (rows to append, balance deltas, the few
entities events update) in memory and writes it in one go; `HANDLERS` maps each indexed
(contract, event) to its change. The forward path (registry.indexer) and the rewind after a
reorganisation (registry.reorg) both go through these handlers, so a rewound index is built by
the same code as a fresh one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, select, update

from chain.abi import DecodedEvent
from chain.roles import ROLE_BY_ID
from registry import compensation_index, ticket_index
from registry.categories import SinkCategory
from registry.index_values import (
    ZERO_ADDRESS,
    IndexerError,
)
from registry.index_values import bigint as _bigint
from registry.index_values import sql_text as _text
from registry.index_values import units as _units
from registry.ledger import MethodologyStatus, ProjectStatus, Purpose, ReportStatus
from registry.models import (
    Attestation,
    Balance,
    Batch,
    BufferCancellation,
    CompensationOffer,
    CompensationOrder,
    EventJournal,
    ForestTicket,
    Member,
    Methodology,
    OrderEvent,
    OrderRetirement,
    OrderTicketRetirement,
    PledgeRow,
    Project,
    Report,
    Retirement,
    TicketRetirementRow,
    TicketSlot,
    Transfer,
    table,
)


def _role_name(role: str) -> str:
    return ROLE_BY_ID.get(bytes.fromhex(role[2:]), role)


class Entities:
    """Rows of one table touched within a range: loaded once, changed in memory, written once.

    With `complete`, `rows` is the whole table being rebuilt in memory (from an empty one), so
    a row that is not there does not exist and the database is not asked."""

    def __init__(self, table: Table, key: str, complete: bool = False) -> None:
        self.table = table
        self.key = key
        self.complete = complete
        self.rows: dict[Any, dict[str, Any]] = {}
        self.new: set[Any] = set()
        self.dirty: set[Any] = set()

    def get(self, conn: Connection, ident: Any) -> dict[str, Any] | None:
        row = self.rows.get(ident)
        if row is None and ident not in self.new and not self.complete:
            found = conn.execute(
                select(self.table).where(self.table.c[self.key] == ident)
            ).mappings().one_or_none()
            if found is None:
                return None
            row = self.rows[ident] = dict(found)
        return row

    def require(self, conn: Connection, ident: Any, event: DecodedEvent) -> dict[str, Any]:
        row = self.get(conn, ident)
        if row is None:
            raise IndexerError(
                f"{event.name} at block {event.block_number} log {event.log_index} refers to "
                f"{self.table.name} {ident}, which the index does not have (index started late "
                "or belongs to another deployment)"
            )
        self.dirty.add(ident)
        return row

    def create(self, ident: Any, row: dict[str, Any]) -> dict[str, Any]:
        self.rows[ident] = row
        self.new.add(ident)
        return row

    def flush(self, conn: Connection) -> None:
        if self.new:
            conn.execute(insert(self.table), [self.rows[i] for i in sorted(self.new)])
        changed = sorted(self.dirty - self.new)
        if changed:
            # SET takes every non-key column from the parameters (executemany).
            cols = [c.name for c in self.table.columns if c.name != self.key]
            stmt = update(self.table).where(self.table.c[self.key] == bindparam("_key"))
            conn.execute(
                stmt, [{"_key": i, **{c: self.rows[i][c] for c in cols}} for i in changed]
            )


class RangeWriter:
    """Everything one block range changes, applied in event order, written in one go.

    With `complete`, the entity tables start empty and are rebuilt in memory only (the rewind
    replays the journal into such a writer and writes the difference itself)."""

    def __init__(self, conn: Connection, complete: bool = False) -> None:
        self.conn = conn
        self.journal: list[dict[str, Any]] = []
        self.transfers: list[dict[str, Any]] = []
        self.retirements: list[dict[str, Any]] = []
        self.cancellations: list[dict[str, Any]] = []
        self.attestations: list[dict[str, Any]] = []
        self.order_events: list[dict[str, Any]] = []
        self.order_retirements: list[dict[str, Any]] = []
        self.order_ticket_retirements: list[dict[str, Any]] = []
        self.deltas: dict[tuple[str, int], int] = defaultdict(int)
        self.members = Entities(table(Member), "address", complete)
        self.methodologies = Entities(table(Methodology), "id", complete)
        self.projects = Entities(table(Project), "id", complete)
        self.reports = Entities(table(Report), "id", complete)
        self.batches = Entities(table(Batch), "id", complete)
        self.orders = Entities(table(CompensationOrder), "id", complete)
        self.offers = Entities(table(CompensationOffer), "id", complete)
        self.ticket_slots = Entities(table(TicketSlot), "id", complete)
        self.tickets = Entities(table(ForestTicket), "id", complete)
        self.ticket_retirements = Entities(table(TicketRetirementRow), "id", complete)
        self.pledges = Entities(table(PledgeRow), "id", complete)

    def entities(self) -> tuple[Entities, ...]:
        """The entity tables, parents before children."""
        return (self.members, self.methodologies, self.projects, self.reports, self.batches,
                self.orders, self.offers, self.ticket_slots, self.tickets,
                self.ticket_retirements, self.pledges)

    def discard_rows(self) -> None:
        """Forgets the collected rows to append (the entities stay)."""
        for rows in (self.journal, self.transfers, self.retirements, self.cancellations,
                     self.attestations, self.order_events, self.order_retirements,
                     self.order_ticket_retirements):
            rows.clear()
        self.deltas.clear()

    def flush(self) -> None:
        """Writes parents before children so foreign keys hold at every statement."""
        conn = self.conn
        for entities in (self.members, self.methodologies, self.projects, self.reports):
            entities.flush(conn)
        if self.attestations:
            conn.execute(insert(table(Attestation)), self.attestations)
        self.batches.flush(conn)
        if self.transfers:
            conn.execute(insert(table(Transfer)), self.transfers)
        upsert_balances(conn, self.deltas)
        if self.retirements:
            conn.execute(insert(table(Retirement)), self.retirements)
        if self.cancellations:
            conn.execute(insert(table(BufferCancellation)), self.cancellations)
        self.orders.flush(conn)
        self.offers.flush(conn)
        for entities in (self.ticket_slots, self.tickets, self.ticket_retirements,
                         self.pledges):
            entities.flush(conn)
        if self.order_events:
            conn.execute(insert(table(OrderEvent)), self.order_events)
        if self.order_retirements:
            conn.execute(insert(table(OrderRetirement)), self.order_retirements)
        if self.order_ticket_retirements:
            conn.execute(insert(table(OrderTicketRetirement)), self.order_ticket_retirements)
        if self.journal:
            conn.execute(insert(table(EventJournal)), self.journal)

    # -- consortium -----------------------------------------------------------------------

    def _member(self, address: str, block: int) -> dict[str, Any]:
        row = self.members.get(self.conn, address)
        if row is None:
            row = self.members.create(
                address,
                {
                    "address": address,
                    "name": None,
                    "profile_hash": None,
                    "active": False,
                    "frozen": False,
                    "roles": [],
                    "admitted_block": None,
                    "updated_block": block,
                },
            )
        self.members.dirty.add(address)
        row["updated_block"] = block
        return row

    def member_admitted(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        row = self._member(a["account"], ev.block_number)
        row.update(
            name=_text(a["name"]),
            profile_hash=a["profileHash"],
            active=True,
            admitted_block=ev.block_number,
        )

    def member_removed(self, ev: DecodedEvent, ts: int) -> None:
        self._member(ev.args["account"], ev.block_number)["active"] = False

    def account_freeze_changed(self, ev: DecodedEvent, ts: int) -> None:
        self._member(ev.args["account"], ev.block_number)["frozen"] = bool(ev.args["frozen"])

    def role_granted(self, ev: DecodedEvent, ts: int) -> None:
        row = self._member(ev.args["account"], ev.block_number)
        row["roles"] = sorted({*row["roles"], _role_name(ev.args["role"])})

    def role_revoked(self, ev: DecodedEvent, ts: int) -> None:
        row = self._member(ev.args["account"], ev.block_number)
        row["roles"] = sorted(set(row["roles"]) - {_role_name(ev.args["role"])})

    # -- methodologies and projects -------------------------------------------------------

    def methodology_registered(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        mid = int(a["methodologyId"])
        self.methodologies.create(
            mid,
            {
                "id": mid,
                "code": _text(a["code"]),
                "name": _text(a["name"]),
                "document_hash": a["documentHash"],
                "parameters_hash": a["parametersHash"],
                "buffer_bps": int(a["bufferBps"]),
                "category": SinkCategory(int(a["category"])).key,
                "registrant": a["registrant"],
                "status": MethodologyStatus.REGISTERED.name.lower(),
                "status_reason_hash": None,
                "tx_hash": ev.tx_hash,
                "block_number": ev.block_number,
            },
        )

    def methodology_status_changed(self, ev: DecodedEvent, ts: int) -> None:
        row = self.methodologies.require(self.conn, int(ev.args["methodologyId"]), ev)
        row["status"] = MethodologyStatus(int(ev.args["status"])).name.lower()
        row["status_reason_hash"] = ev.args["reasonHash"]

    def project_registered(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        pid = int(a["projectId"])
        loc = a["location"]
        self.projects.create(
            pid,
            {
                "id": pid,
                "developer": a["developer"],
                "methodology_id": int(a["methodologyId"]),
                "name": _text(a["name"]),
                "division_code": int(loc["divisionCode"]),
                "latitude_e6": int(loc["latitudeE6"]),
                "longitude_e6": int(loc["longitudeE6"]),
                "area_m2": int(loc["areaM2"]),
                "boundary_hash": loc["boundaryHash"],
                "crediting_start": int(a["creditingStart"]),
                "crediting_end": int(a["creditingEnd"]),
                "document_hash": a["documentHash"],
                "status": ProjectStatus.REGISTERED.name.lower(),
                "validator": None,
                "status_evidence_hash": None,
                "tx_hash": ev.tx_hash,
                "block_number": ev.block_number,
            },
        )

    def project_status_changed(self, ev: DecodedEvent, ts: int) -> None:
        row = self.projects.require(self.conn, int(ev.args["projectId"]), ev)
        status = ProjectStatus(int(ev.args["status"]))
        row["status"] = status.name.lower()
        row["status_evidence_hash"] = ev.args["evidenceHash"]
        if status is ProjectStatus.VALIDATED:
            row["validator"] = ev.args["by"]

    # -- monitoring reports ---------------------------------------------------------------

    def report_opened(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        rid = int(a["reportId"])
        self.reports.create(
            rid,
            {
                "id": rid,
                "project_id": int(a["projectId"]),
                "period_start": int(a["periodStart"]),
                "period_end": int(a["periodEnd"]),
                "status": ReportStatus.PENDING.name.lower(),
                "submissions": 0,
                "merkle_root": None,
                "report_hash": None,
                "attested_quantity": None,
                "votes": None,
                "verified_quantity": None,
                "verifier": None,
                "verification_hash": None,
                "rejection_hash": None,
                "tx_hash": ev.tx_hash,
                "block_number": ev.block_number,
            },
        )

    def attestation_submitted(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        rid = int(a["reportId"])
        self.reports.require(self.conn, rid, ev)["submissions"] += 1
        self.attestations.append(
            {
                "report_id": rid,
                "node": a["node"],
                "digest": a["digest"],
                "merkle_root": a["merkleRoot"],
                "quantity": _bigint(int(a["quantity"])),
                "report_hash": a["reportHash"],
                "tx_hash": ev.tx_hash,
                "block_number": ev.block_number,
                "log_index": ev.log_index,
            }
        )

    def report_attested(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        row = self.reports.require(self.conn, int(a["reportId"]), ev)
        row.update(
            status=ReportStatus.ATTESTED.name.lower(),
            merkle_root=a["merkleRoot"],
            report_hash=a["reportHash"],
            attested_quantity=_bigint(int(a["quantity"])),
            votes=int(a["votes"]),
        )

    def report_verified(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        row = self.reports.require(self.conn, int(a["reportId"]), ev)
        row.update(
            status=ReportStatus.VERIFIED.name.lower(),
            verifier=a["verifier"],
            verified_quantity=_bigint(int(a["verifiedQuantity"])),
            verification_hash=a["verificationHash"],
        )

    def report_rejected(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        row = self.reports.require(self.conn, int(a["reportId"]), ev)
        row.update(
            status=ReportStatus.REJECTED.name.lower(),
            verifier=a["verifier"],
            rejection_hash=a["reasonHash"],
        )

    # -- credits --------------------------------------------------------------------------

    def batch_issued(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        bid = int(a["batchId"])
        self.batches.create(
            bid,
            {
                "id": bid,
                "project_id": int(a["projectId"]),
                "report_id": int(a["reportId"]),
                "developer": a["developer"],
                "issued": _units(int(a["issued"]), "issued quantity"),
                "buffer": _units(int(a["buffer"]), "buffer quantity"),
                "retired": 0,
                "cancelled": 0,
                "frozen": False,
                "period_start": int(a["periodStart"]),
                "period_end": int(a["periodEnd"]),
                "tx_hash": ev.tx_hash,
                "block_number": ev.block_number,
                "block_timestamp": ts,
            },
        )

    def batch_freeze_changed(self, ev: DecodedEvent, ts: int) -> None:
        self.batches.require(self.conn, int(ev.args["batchId"]), ev)["frozen"] = bool(
            ev.args["frozen"]
        )

    def retired(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        bid = int(a["batchId"])
        amount = int(a["amount"])
        start = int(a["serialStart"])
        self.batches.require(self.conn, bid, ev)["retired"] += amount
        self.retirements.append(
            {
                "id": int(a["retirementId"]),
                "batch_id": bid,
                "holder": a["holder"],
                "amount": amount,
                "serial_start": start,
                "serial_end": start + amount - 1,
                "purpose": Purpose(int(a["purpose"])).name.lower(),
                "beneficiary": _text(a["beneficiary"]),
                "case_reference": _text(a["caseReference"]),
                "tx_hash": ev.tx_hash,
                "block_number": ev.block_number,
                "block_timestamp": ts,
            }
        )

    def buffer_cancelled(self, ev: DecodedEvent, ts: int) -> None:
        a = ev.args
        bid = int(a["batchId"])
        amount = int(a["amount"])
        self.batches.require(self.conn, bid, ev)["cancelled"] += amount
        self.cancellations.append(
            {
                "id": int(a["cancellationId"]),
                "batch_id": bid,
                "amount": amount,
                "serial_start": int(a["serialStart"]),
                "serial_end": int(a["serialEnd"]),
                "reason_hash": a["reasonHash"],
                "by": a["by"],
                "tx_hash": ev.tx_hash,
                "block_number": ev.block_number,
                "block_timestamp": ts,
            }
        )

    def _move(self, ev: DecodedEvent, ts: int, seq: int, bid: int, value: int) -> None:
        src, dst = ev.args["from"], ev.args["to"]
        if src != ZERO_ADDRESS:
            self.deltas[(src, bid)] -= value
        if dst != ZERO_ADDRESS:
            self.deltas[(dst, bid)] += value
        kind = "mint" if src == ZERO_ADDRESS else "burn" if dst == ZERO_ADDRESS else "transfer"
        self.transfers.append(
            {
                "block_number": ev.block_number,
                "log_index": ev.log_index,
                "seq": seq,
                "batch_id": bid,
                "from_address": src,
                "to_address": dst,
                "amount": value,
                "kind": kind,
                "operator": ev.args["operator"],
                "tx_hash": ev.tx_hash,
                "block_timestamp": ts,
            }
        )

    def transfer_single(self, ev: DecodedEvent, ts: int) -> None:
        self._move(ev, ts, 0, int(ev.args["id"]), int(ev.args["value"]))

    def transfer_batch(self, ev: DecodedEvent, ts: int) -> None:
        for seq, (bid, value) in enumerate(
            zip(ev.args["ids"], ev.args["values"], strict=True)
        ):
            self._move(ev, ts, seq, int(bid), int(value))


Handler = Callable[[RangeWriter, DecodedEvent, int], None]

# (contract, event) -> state change. Events not listed (RoleAdminChanged, ThresholdChanged,
# ApprovalForAll, URI, the forwarder's) change no indexed state and live in the journal only.
HANDLERS: dict[tuple[str, str], Handler] = {
    ("Consortium", "MemberAdmitted"): RangeWriter.member_admitted,
    ("Consortium", "MemberRemoved"): RangeWriter.member_removed,
    ("Consortium", "AccountFreezeChanged"): RangeWriter.account_freeze_changed,
    ("Consortium", "RoleGranted"): RangeWriter.role_granted,
    ("Consortium", "RoleRevoked"): RangeWriter.role_revoked,
    ("MethodologyRegistry", "MethodologyRegistered"): RangeWriter.methodology_registered,
    ("MethodologyRegistry", "MethodologyStatusChanged"): RangeWriter.methodology_status_changed,
    ("ProjectRegistry", "ProjectRegistered"): RangeWriter.project_registered,
    ("ProjectRegistry", "ProjectStatusChanged"): RangeWriter.project_status_changed,
    ("MonitoringReports", "ReportOpened"): RangeWriter.report_opened,
    ("MonitoringReports", "AttestationSubmitted"): RangeWriter.attestation_submitted,
    ("MonitoringReports", "ReportAttested"): RangeWriter.report_attested,
    ("MonitoringReports", "ReportVerified"): RangeWriter.report_verified,
    ("MonitoringReports", "ReportRejected"): RangeWriter.report_rejected,
    ("CarbonCredits", "BatchIssued"): RangeWriter.batch_issued,
    ("CarbonCredits", "BatchFreezeChanged"): RangeWriter.batch_freeze_changed,
    ("CarbonCredits", "Retired"): RangeWriter.retired,
    ("CarbonCredits", "BufferCancelled"): RangeWriter.buffer_cancelled,
    ("CarbonCredits", "TransferSingle"): RangeWriter.transfer_single,
    ("CarbonCredits", "TransferBatch"): RangeWriter.transfer_batch,
}
for _key, _handler in (*compensation_index.HANDLERS.items(), *ticket_index.HANDLERS.items()):
    HANDLERS[_key] = _handler

# Events that only move credits: they append `transfers` rows and add to `balances`, and touch
# no entity. Everything else in HANDLERS changes an entity (member, methodology, project,
# report, batch): the rewind replays those from the journal.
MOVEMENTS = frozenset({("CarbonCredits", "TransferSingle"), ("CarbonCredits", "TransferBatch")})
ENTITY_EVENTS = frozenset(HANDLERS) - MOVEMENTS


def upsert_balances(conn: Connection, deltas: Mapping[tuple[str, int], int]) -> None:
    """Adds each (account, batch) delta to its balance row, creating rows as needed, and drops
    the rows a delta brought to zero: a holder with nothing holds no row, however the blocks
    were grouped into ranges (a balance that comes and goes within one range never had one)."""
    rows = [
        {"address": a, "batch_id": b, "amount": d}
        for (a, b), d in sorted(deltas.items())
        if d != 0
    ]
    if not rows:
        return
    _add_balances(conn, rows)
    emptied = [{"a": a, "b": b} for (a, b), d in sorted(deltas.items()) if d < 0]
    if emptied:
        t = table(Balance)
        conn.execute(
            delete(t).where(t.c.address == bindparam("a"), t.c.batch_id == bindparam("b"),
                            t.c.amount == 0),
            emptied,
        )


def _add_balances(conn: Connection, rows: list[dict[str, Any]]) -> None:
    t = table(Balance)
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.address, t.c.batch_id],
            set_={"amount": t.c.amount + stmt.excluded.amount},
        )
        conn.execute(stmt, rows)
        return
    # Portable fallback: read what exists, then update or insert.
    for row in rows:
        key = and_(t.c.address == row["address"], t.c.batch_id == row["batch_id"])
        current = conn.execute(select(t.c.amount).where(key)).scalar_one_or_none()
        if current is None:
            conn.execute(insert(t).values(**row))
        else:
            conn.execute(update(t).where(key).values(amount=current + row["amount"]))

