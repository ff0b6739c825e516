"""Follows the registry of record (the contracts) into SQL.

The indexer reads the logs of every deployed contract with eth_getLogs, block range by block
range, and applies each range in ONE database transaction together with the cursor that says
where to resume. A crash at any point therefore leaves the database at a range boundary, and a
restart continues from there. Every applied log is written to `event_journal` under its
(block_number, log_index): a log that is delivered twice (a replayed range, a flaky node) finds
its key there and is skipped, so applying the same logs again changes nothing.

Throughput comes from doing per range what can be done per range: rows are collected in memory
and written with executemany inserts, balance changes are summed per (account, batch) and
upserted once, and the few entities that events update (batches, reports, members, ...) are
loaded once per range, changed in memory and written back once.

Run standalone: `python -m registry.indexer --rpc URL --deployment FILE --db URL`.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import Connection, Engine, Table, and_, bindparam, insert, select, update
from web3.types import RPCEndpoint

from chain.abi import DecodedEvent, EventDecoder
from chain.client import Chain
from chain.deploy import Deployment
from chain.roles import ROLE_BY_ID
from registry.ledger import MethodologyStatus, ProjectStatus, Purpose, ReportStatus
from registry.models import (
    Attestation,
    Balance,
    Batch,
    BufferCancellation,
    EventJournal,
    IndexCursor,
    Member,
    Methodology,
    Project,
    Report,
    Retirement,
    Transfer,
    table,
)

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
BIGINT_MAX = 2**63 - 1


class IndexerError(RuntimeError):
    """The database cannot be brought in line with this chain and deployment."""


def _text(value: str) -> str:
    """On-chain strings may contain NUL, which PostgreSQL text cannot store."""
    return value.replace("\x00", "\ufffd")


def _bigint(value: int) -> int | None:
    """A quantity that fits BIGINT, or None (the journal keeps the exact value)."""
    return value if 0 <= value <= BIGINT_MAX else None


def _units(value: int, what: str) -> int:
    """A quantity that must fit BIGINT for the index to stay exact; refuses otherwise."""
    if not 0 <= value <= BIGINT_MAX:
        raise IndexerError(f"{what} {value} exceeds the index's 64-bit quantity range")
    return value


def _role_name(role: str) -> str:
    return ROLE_BY_ID.get(bytes.fromhex(role[2:]), role)


def _as_int(value: Any) -> int:
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    return int(value)


class _Entities:
    """Rows of one table touched within a range: loaded once, changed in memory, written once."""

    def __init__(self, table: Table, key: str) -> None:
        self.table = table
        self.key = key
        self.rows: dict[Any, dict[str, Any]] = {}
        self.new: set[Any] = set()
        self.dirty: set[Any] = set()

    def get(self, conn: Connection, ident: Any) -> dict[str, Any] | None:
        row = self.rows.get(ident)
        if row is None and ident not in self.new:
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


class _RangeWriter:
    """Everything one block range changes, applied in event order, written in one go."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.journal: list[dict[str, Any]] = []
        self.transfers: list[dict[str, Any]] = []
        self.retirements: list[dict[str, Any]] = []
        self.cancellations: list[dict[str, Any]] = []
        self.attestations: list[dict[str, Any]] = []
        self.deltas: dict[tuple[str, int], int] = defaultdict(int)
        self.members = _Entities(table(Member), "address")
        self.methodologies = _Entities(table(Methodology), "id")
        self.projects = _Entities(table(Project), "id")
        self.reports = _Entities(table(Report), "id")
        self.batches = _Entities(table(Batch), "id")

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
        _upsert_balances(conn, self.deltas)
        if self.retirements:
            conn.execute(insert(table(Retirement)), self.retirements)
        if self.cancellations:
            conn.execute(insert(table(BufferCancellation)), self.cancellations)
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


Handler = Callable[[_RangeWriter, DecodedEvent, int], None]

# (contract, event) -> state change. Events not listed (RoleAdminChanged, ThresholdChanged,
# ApprovalForAll, URI, the forwarder's) change no indexed state and live in the journal only.
HANDLERS: dict[tuple[str, str], Handler] = {
    ("Consortium", "MemberAdmitted"): _RangeWriter.member_admitted,
    ("Consortium", "MemberRemoved"): _RangeWriter.member_removed,
    ("Consortium", "AccountFreezeChanged"): _RangeWriter.account_freeze_changed,
    ("Consortium", "RoleGranted"): _RangeWriter.role_granted,
    ("Consortium", "RoleRevoked"): _RangeWriter.role_revoked,
    ("MethodologyRegistry", "MethodologyRegistered"): _RangeWriter.methodology_registered,
    ("MethodologyRegistry", "MethodologyStatusChanged"): _RangeWriter.methodology_status_changed,
    ("ProjectRegistry", "ProjectRegistered"): _RangeWriter.project_registered,
    ("ProjectRegistry", "ProjectStatusChanged"): _RangeWriter.project_status_changed,
    ("MonitoringReports", "ReportOpened"): _RangeWriter.report_opened,
    ("MonitoringReports", "AttestationSubmitted"): _RangeWriter.attestation_submitted,
    ("MonitoringReports", "ReportAttested"): _RangeWriter.report_attested,
    ("MonitoringReports", "ReportVerified"): _RangeWriter.report_verified,
    ("MonitoringReports", "ReportRejected"): _RangeWriter.report_rejected,
    ("CarbonCredits", "BatchIssued"): _RangeWriter.batch_issued,
    ("CarbonCredits", "BatchFreezeChanged"): _RangeWriter.batch_freeze_changed,
    ("CarbonCredits", "Retired"): _RangeWriter.retired,
    ("CarbonCredits", "BufferCancelled"): _RangeWriter.buffer_cancelled,
    ("CarbonCredits", "TransferSingle"): _RangeWriter.transfer_single,
    ("CarbonCredits", "TransferBatch"): _RangeWriter.transfer_batch,
}


def _upsert_balances(conn: Connection, deltas: Mapping[tuple[str, int], int]) -> None:
    """Adds each (account, batch) delta to its balance row, creating rows as needed."""
    rows = [
        {"address": a, "batch_id": b, "amount": d}
        for (a, b), d in sorted(deltas.items())
        if d != 0
    ]
    if not rows:
        return
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


class Indexer:
    """Brings the SQL index up to the chain head (less `confirmations`), `batch_blocks` blocks
    per database transaction. Safe to stop at any moment and to run over the same blocks twice.
    """

    def __init__(
        self,
        chain: Chain,
        deployment: Deployment,
        engine: Engine,
        batch_blocks: int = 2000,
        confirmations: int = 0,
    ) -> None:
        if batch_blocks < 1:
            raise ValueError("batch_blocks must be at least 1")
        if confirmations < 0:
            raise ValueError("confirmations must not be negative")
        self.chain = chain
        self.deployment = deployment
        self.engine = engine
        self.batch_blocks = batch_blocks
        self.confirmations = confirmations
        self.decoder = EventDecoder(deployment.abis.values(), lenient_strings=True)
        checksummed: dict[str, str] = {
            str(to_checksum_address(rec.address)): name
            for name, rec in deployment.contracts.items()
        }
        self.addresses = sorted(checksummed)
        # Raw log addresses may come checksummed (web3) or lowercase (plain JSON-RPC).
        self.contract_of: dict[str, str] = {
            **checksummed,
            **{a.lower(): n for a, n in checksummed.items()},
        }
        self.credits_address = to_checksum_address(deployment.address("CarbonCredits"))
        self._timestamps: dict[int, int] = {}
        self._stop: threading.Event | None = None

    # -- public ---------------------------------------------------------------------------

    def sync(self, to_block: int | None = None) -> int:
        """Indexes from the cursor up to `to_block` (default and at most: head - confirmations).

        Returns the number of events applied (events already in the journal do not count).
        """
        head = int(self.chain.w3.eth.block_number) - self.confirmations
        target = head if to_block is None else min(to_block, head)
        start = self._next_block()
        if start > target:
            self._touch_head(head)
            return 0
        applied = 0
        while start <= target:
            if self._stop is not None and self._stop.is_set():
                break
            end = min(start + self.batch_blocks - 1, target)
            applied += self.apply(start, end, self._fetch(start, end), head=head)
            start = end + 1
        return applied

    def replay(self, from_block: int, to_block: int) -> int:
        """Reads blocks from_block..to_block again and applies what the journal lacks; fills
        gaps, never moves the cursor back. Returns the number of events applied."""
        applied = 0
        start = from_block
        while start <= to_block:
            end = min(start + self.batch_blocks - 1, to_block)
            applied += self.apply(start, end, self._fetch(start, end))
            start = end + 1
        return applied

    def apply(
        self,
        from_block: int,
        to_block: int,
        logs: Iterable[Mapping[str, Any]],
        head: int | None = None,
    ) -> int:
        """Applies raw logs of blocks from_block..to_block and moves the cursor past to_block,
        all in one transaction. Logs already journaled, removed (reorged-out) logs, logs
        outside the range, logs of other contracts and duplicates are skipped. Returns the
        number of events applied."""
        raw = sorted(
            (
                lg
                for lg in logs
                if not lg.get("removed") and from_block <= _as_int(lg["blockNumber"]) <= to_block
            ),
            key=lambda lg: (_as_int(lg["blockNumber"]), _as_int(lg["logIndex"])),
        )
        with self.engine.begin() as conn:
            cursor = self._lock_cursor(conn)
            j = table(EventJournal)
            seen: set[tuple[int, int]] = {
                (int(b), int(i))
                for b, i in conn.execute(
                    select(j.c.block_number, j.c.log_index).where(
                        j.c.block_number.between(from_block, to_block)
                    )
                )
            }
            writer = _RangeWriter(conn)
            for lg in raw:
                key = (_as_int(lg["blockNumber"]), _as_int(lg["logIndex"]))
                if key in seen:
                    continue
                seen.add(key)
                contract = self.contract_of.get(_hex(lg["address"]))
                if contract is None:
                    continue
                ev = self.decoder.decode(dict(lg))
                if ev is None:
                    log.warning("unknown event topic at block %s log %s", *key)
                    continue
                ts = self._timestamp(lg)
                writer.journal.append(
                    {
                        "block_number": ev.block_number,
                        "log_index": ev.log_index,
                        "block_timestamp": ts,
                        "tx_hash": ev.tx_hash,
                        "address": ev.address,
                        "name": ev.name,
                        "args": ev.args,
                    }
                )
                handler = HANDLERS.get((contract, ev.name))
                if handler is not None:
                    handler(writer, ev, ts)
            writer.flush()
            applied = len(writer.journal)
            c = table(IndexCursor)
            conn.execute(
                update(c)
                .where(c.c.chain_id == cursor["chain_id"])
                .values(
                    next_block=max(int(cursor["next_block"]), to_block + 1),
                    head_block=max(int(cursor["head_block"]), head if head is not None else 0),
                    events=int(cursor["events"]) + applied,
                )
            )
        self._timestamps.clear()
        return applied

    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Follows the chain until `stop` is set; errors are logged and retried with back-off,
        so a node or database outage pauses the index instead of ending it."""
        self._stop = stop
        backoff = poll_seconds
        try:
            while not stop.is_set():
                try:
                    self.sync()
                    backoff = poll_seconds
                except IndexerError:
                    log.exception("indexer stopped: the index does not match the chain")
                    raise
                except Exception:
                    log.exception("indexer sync failed; retrying in %.1f s", backoff)
                    stop.wait(backoff)
                    backoff = min(max(backoff * 2, 0.1), 30.0)
                    continue
                stop.wait(poll_seconds)
        finally:
            self._stop = None

    # -- internals ------------------------------------------------------------------------

    def _fetch(self, start: int, end: int) -> list[dict[str, Any]]:
        """eth_getLogs for all deployed contracts, read as plain JSON: web3's result formatters
        cost ten times the request itself at this volume. A range the node refuses (too many
        results) is split in halves."""
        params = {"fromBlock": hex(start), "toBlock": hex(end), "address": self.addresses}
        resp = self.chain.w3.provider.make_request(RPCEndpoint("eth_getLogs"), [params])
        if "error" in resp:
            if start == end:
                raise RuntimeError(f"eth_getLogs {start}: {resp['error']}")
            mid = (start + end) // 2
            log.info("eth_getLogs refused blocks %s-%s (%s); splitting", start, end, resp["error"])
            return self._fetch(start, mid) + self._fetch(mid + 1, end)
        return [_plain_log(lg) for lg in resp["result"]]

    def _timestamp(self, lg: Mapping[str, Any]) -> int:
        ts = lg.get("blockTimestamp")
        if ts is not None:
            return _as_int(ts)
        number = _as_int(lg["blockNumber"])
        cached = self._timestamps.get(number)
        if cached is None:
            block = self.chain.w3.eth.get_block(number)
            cached = self._timestamps[number] = int(block["timestamp"])
        return cached

    def _next_block(self) -> int:
        with self.engine.begin() as conn:
            return int(self._lock_cursor(conn)["next_block"])

    def _touch_head(self, head: int) -> None:
        c = table(IndexCursor)
        with self.engine.begin() as conn:
            cursor = self._lock_cursor(conn)
            if head > int(cursor["head_block"]):
                conn.execute(
                    update(c).where(c.c.chain_id == cursor["chain_id"]).values(head_block=head)
                )

    def _lock_cursor(self, conn: Connection) -> dict[str, Any]:
        """The cursor row (created at the deployment block on first use), locked for the rest
        of the transaction where the database supports it. Refuses a database that indexes
        another chain or deployment: mixing them would corrupt every table."""
        c = table(IndexCursor)
        rows = conn.execute(select(c).with_for_update()).mappings().all()
        chain_id = self.deployment.chain_id
        for found in rows:
            if (int(found["chain_id"]), found["registry_address"]) != (
                chain_id,
                self.credits_address,
            ):
                raise IndexerError(
                    f"database indexes chain {found['chain_id']} registry "
                    f"{found['registry_address']}, not chain {chain_id} registry "
                    f"{self.credits_address}; use a fresh database"
                )
        if rows:
            return dict(rows[0])
        row: dict[str, Any] = {
            "chain_id": chain_id,
            "registry_address": self.credits_address,
            "next_block": self.deployment.block,
            "head_block": self.deployment.block - 1,
            "events": 0,
        }
        conn.execute(insert(c).values(**row))
        return row


def _plain_log(lg: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-RPC log with the fields the decoder reads as bytes and ints."""
    out = dict(lg)
    out["topics"] = [bytes.fromhex(t[2:]) for t in lg["topics"]]
    out["data"] = bytes.fromhex(lg["data"][2:])
    out["blockNumber"] = int(lg["blockNumber"], 16)
    out["logIndex"] = int(lg["logIndex"], 16)
    return out


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray | HexBytes):
        return "0x" + bytes(value).hex()
    return str(value)


# -- command line -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the indexer against a JSON-RPC endpoint and a database until interrupted (or, with
    --once, until the head is reached). Migrates the database first."""
    from chain.compile import compile_contracts
    from chain.deploy import error_abis
    from tanhui.db import make_engine, migrate

    p = argparse.ArgumentParser(prog="python -m registry.indexer", description=__doc__)
    p.add_argument("--rpc", required=True, help="JSON-RPC URL of the chain")
    p.add_argument("--deployment", required=True, type=Path, help="deployment record (JSON)")
    p.add_argument("--db", required=True, help="database URL (sqlite:///... or postgresql://...)")
    p.add_argument("--batch-blocks", type=int, default=2000)
    p.add_argument("--confirmations", type=int, default=0)
    p.add_argument("--poll", type=float, default=0.5, help="seconds between polls at the head")
    p.add_argument("--once", action="store_true", help="sync to the head and exit")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    artifacts = compile_contracts()
    deployment = Deployment.load(args.deployment, artifacts)
    chain = Chain(args.rpc, error_abis(artifacts))
    migrate(args.db)
    engine = make_engine(args.db)
    indexer = Indexer(chain, deployment, engine, args.batch_blocks, args.confirmations)
    try:
        if args.once:
            started = time.monotonic()
            n = indexer.sync()
            print(json.dumps({"events": n, "seconds": round(time.monotonic() - started, 3)}))
            return 0
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        indexer.run(stop, args.poll)
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
