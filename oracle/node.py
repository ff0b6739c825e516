"""An oracle node: its own key, its own state, and one job — turn each complete monitoring period
in its inbox into an attestation on chain, exactly once.

Independence: each node validates the data and builds the tree itself (oracle.report); nothing
is shared with other nodes but the data files and the chain, so k agreeing attestations mean k
nodes reached the same root and quantity on their own.

Exactly once, across crashes: before sending, the node asks the chain whether it already
submitted for the period (`reportOf` + `submissionOf`) and records the transaction hash in its
SQLite state once it is signed and before it is broadcast (`chain.client.on_signed`). A restart
finds the hash and asks what became of it (chain/reconcile.py `fate_of`): mined → done; still
pending (in the node's pool, or in the outbox to be re-sent after the chain lost it) → it waits
for it instead of sending a second transaction; gone (superseded, refused) or reverted → it
attests afresh, which the simulation refuses with the contract's reason if it no longer can.
The contract refuses a second submission from the same node anyway (AlreadyAttested), so
rerunning a period is always safe. Each pass starts with an outbox reconciliation, so what the
chain lost is re-sent before the node looks.

Disturbances (Flow 7) work the same way from `<inbox>/<project>/disturbances/*.json`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import BigInteger, Engine, Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from web3.exceptions import TimeExhausted

from chain.client import ChainRevert, on_signed
from chain.reconcile import Reconciler, fate_of
from core.units import UNITS_PER_TONNE
from oracle.canonical import canonical_json
from oracle.keccak import keccak256
from oracle.period import Period
from oracle.report import MonitoringReport, ReportError, build_report
from registry.ledger import DisturbanceKind, Ledger

log = logging.getLogger("tanhui.oracle")

DISTURBANCE_SCHEMA = "tanhui.disturbance.v1"


class _Base(DeclarativeBase):
    pass


class Attestation(_Base):
    """What this node did for one (kind, project, subject): a report period or a disturbance."""

    __tablename__ = "node_attestations"

    subject: Mapped[str] = mapped_column(String(80), primary_key=True)  # report:1:s-e / dist:..
    project_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # computed | sent | attested | skipped
    digest_root: Mapped[str] = mapped_column(String(66), default="")
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    document_hash: Mapped[str] = mapped_column(String(66), default="")
    onchain_id: Mapped[int] = mapped_column(Integer, default=0)
    tx_hash: Mapped[str] = mapped_column(String(66), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[int] = mapped_column(BigInteger, default=0)


class NodeState:
    """The node's own SQLite file: what it computed and sent, so restarts resume, not repeat."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(f"sqlite:///{path}")
        _Base.metadata.create_all(self.engine)

    def get(self, subject: str) -> Attestation | None:
        with Session(self.engine) as s:
            row = s.get(Attestation, subject)
            if row is not None:
                s.expunge(row)
            return row

    def put(self, subject: str, project_id: int, **values: Any) -> None:
        with Session(self.engine) as s, s.begin():
            row = s.get(Attestation, subject)
            if row is None:
                row = Attestation(subject=subject, project_id=project_id)
                s.add(row)
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = int(time.time())

    def all(self) -> list[Attestation]:
        with Session(self.engine) as s:
            rows = list(s.scalars(select(Attestation).order_by(Attestation.subject)))
            for r in rows:
                s.expunge(r)
            return rows


@dataclass(frozen=True)
class Outcome:
    """What one run did for one subject (printed by the CLI, asserted by the tests)."""

    subject: str
    status: str  # attested | already | waiting | skipped | failed
    detail: str = ""
    onchain_id: int = 0
    tx_hash: str = ""


@dataclass(frozen=True)
class DisturbanceDoc:
    """A disturbance document: what happened, when, and the loss estimate with its basis.

    Loss = affected area × carbon stock lost per hectare, floored to on-chain units; the
    evidence hash is keccak256 of the document's canonical JSON, so every node holding the same
    document attests the same (loss, evidence) and a node with a different estimate disagrees.
    """

    kind: DisturbanceKind
    occurred_at: int
    affected_area_ha: Decimal
    loss_t_co2e_per_ha: Decimal
    evidence: dict[str, Any]

    @property
    def loss_units(self) -> int:
        return int(self.affected_area_ha * self.loss_t_co2e_per_ha * UNITS_PER_TONNE)

    @property
    def evidence_hash(self) -> bytes:
        return keccak256(canonical_json(self.to_json()))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": DISTURBANCE_SCHEMA,
            "kind": self.kind.name.lower(),
            "occurred_at": self.occurred_at,
            "affected_area_ha": self.affected_area_ha,
            "loss_t_co2e_per_ha": self.loss_t_co2e_per_ha,
            "evidence": self.evidence,
        }

    @classmethod
    def load(cls, path: Path) -> DisturbanceDoc:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
            kind = DisturbanceKind[str(raw["kind"]).upper().replace(" ", "_").replace("-", "_")]
            doc = cls(kind, int(raw["occurred_at"]), Decimal(str(raw["affected_area_ha"])),
                      Decimal(str(raw["loss_t_co2e_per_ha"])), dict(raw.get("evidence", {})))
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise ReportError(f"{path.name}: not a disturbance document ({exc})") from exc
        if doc.affected_area_ha <= 0 or doc.loss_t_co2e_per_ha <= 0 or doc.loss_units <= 0:
            raise ReportError(f"{path.name}: area and loss per hectare must be positive")
        return doc


def report_subject(project_id: int, period: Period) -> str:
    return f"report:{project_id}:{period.start}-{period.end}"


def periods_in(project_dir: Path) -> list[Period]:
    """The monitoring periods that have a data directory, oldest first."""
    out: list[Period] = []
    for d in project_dir.iterdir() if project_dir.is_dir() else ():
        start, sep, end = d.name.partition("-")
        if d.is_dir() and sep and start.isdigit() and end.isdigit() and int(end) > int(start):
            out.append(Period(int(start), int(end)))
    return sorted(out, key=lambda p: (p.start, p.end))


def projects_in(inbox: Path) -> list[int]:
    return sorted(int(d.name) for d in inbox.iterdir() if d.is_dir() and d.name.isdigit()) if (
        inbox.is_dir()) else []


class OracleNode:
    """One node: `run_once()` attests everything due in its inbox; safe to call any time."""

    def __init__(self, name: str, account: LocalAccount, ledger: Ledger, inbox: Path,
                 state: NodeState, clock: Callable[[], float] = time.time,
                 wait_timeout: float = 120.0) -> None:
        self.name = name
        self.account = account
        self.ledger = ledger
        self.inbox = inbox
        self.state = state
        self.clock = clock
        self.wait_timeout = wait_timeout  # a transaction not mined by then: "waiting"
        chain = ledger.chain
        self.reconciler = Reconciler(chain) if chain.outbox is not None else None

    # -- monitoring reports --------------------------------------------------------------

    def _chain_time(self) -> int:
        return int(self.ledger.chain.w3.eth.get_block("latest")["timestamp"])

    def attest_period(self, project_id: int, period: Period) -> Outcome:
        subject = report_subject(project_id, period)
        row = self.state.get(subject)
        if row is not None and row.status == "attested":
            return Outcome(subject, "already", row.detail, row.onchain_id, row.tx_hash)
        if period.end > self._chain_time():
            return Outcome(subject, "waiting", "the period has not ended")
        # The chain is the truth: a submission that landed before a crash counts as done.
        report_id = self.ledger.report_of(project_id, period.start, period.end)
        if report_id and self.ledger.submission_of(report_id, self.account.address) != bytes(32):
            self.state.put(subject, project_id, status="attested", onchain_id=report_id,
                           detail="found on chain")
            return Outcome(subject, "already", "found on chain", report_id)
        if row is not None and row.status == "sent" and row.tx_hash:
            resumed = self._resume(subject, project_id, row.tx_hash, "AttestationSubmitted",
                                   "reportId")
            if resumed is not None:
                return resumed
        try:
            report = build_report(self.inbox / str(project_id), period, int(self.clock()))
        except ReportError as exc:
            self.state.put(subject, project_id, status="skipped", detail=str(exc))
            return Outcome(subject, "skipped", str(exc))
        return self._send_report(subject, project_id, period, report)

    def _send_report(self, subject: str, project_id: int, period: Period,
                     report: MonitoringReport) -> Outcome:
        root, quantity, rhash = report.root, report.quantity_units, report.report_hash
        self.state.put(subject, project_id, status="computed", digest_root="0x" + root.hex(),
                       quantity=quantity, document_hash="0x" + rhash.hex(),
                       detail=json.dumps(report.counts()))
        fn = self.ledger.c("MonitoringReports").functions.attest(
            project_id, period.start, period.end, root, quantity, rhash
        )
        return self._send(subject, project_id, fn, "AttestationSubmitted", "reportId")

    # -- disturbances ----------------------------------------------------------------------

    def attest_disturbance(self, project_id: int, path: Path) -> Outcome:
        subject = f"disturbance:{project_id}:{path.stem}"
        row = self.state.get(subject)
        if row is not None and row.status == "attested":
            return Outcome(subject, "already", row.detail, row.onchain_id, row.tx_hash)
        try:
            doc = DisturbanceDoc.load(path)
        except ReportError as exc:
            self.state.put(subject, project_id, status="skipped", detail=str(exc))
            return Outcome(subject, "skipped", str(exc))
        existing = self.ledger.disturbance_of(project_id, doc.kind, doc.occurred_at)
        if existing and self.ledger.disturbance_submission_of(
                existing, self.account.address) != bytes(32):
            self.state.put(subject, project_id, status="attested", onchain_id=existing,
                           detail="found on chain")
            return Outcome(subject, "already", "found on chain", existing)
        if row is not None and row.status == "sent" and row.tx_hash:
            resumed = self._resume(subject, project_id, row.tx_hash,
                                   "DisturbanceAttestationSubmitted", "disturbanceId")
            if resumed is not None:
                return resumed
        self.state.put(subject, project_id, status="computed", quantity=doc.loss_units,
                       document_hash="0x" + doc.evidence_hash.hex())
        fn = self.ledger.c("DisturbanceReports").functions.attest(
            project_id, int(doc.kind), doc.occurred_at, doc.loss_units, doc.evidence_hash
        )
        return self._send(subject, project_id, fn, "DisturbanceAttestationSubmitted",
                          "disturbanceId")

    # -- sending, exactly once -------------------------------------------------------------

    def _send(self, subject: str, project_id: int, fn: Any, event: str, key: str) -> Outcome:
        chain = self.ledger.chain

        def record(tx_hash: str) -> None:  # signed, not yet broadcast
            self.state.put(subject, project_id, status="sent", tx_hash=tx_hash)

        try:
            with on_signed(record):
                tx_hash = chain.send_nowait(fn, self.account, purpose=f"oracle {subject}")
        except ChainRevert as exc:
            self.state.put(subject, project_id, status="skipped", detail=f"refused: {exc.name}")
            return Outcome(subject, "failed", f"refused: {exc.name}")
        return self._confirm(subject, project_id, tx_hash, event, key)

    def _confirm(self, subject: str, project_id: int, tx_hash: str, event: str,
                 key: str) -> Outcome:
        try:
            sent = self.ledger.chain.wait(tx_hash, timeout=self.wait_timeout)
        except ChainRevert as exc:  # decoded at the transaction's own place in its block
            self.state.put(subject, project_id, status="skipped", detail=f"reverted: {exc.name}")
            return Outcome(subject, "failed", f"reverted: {exc.name}", tx_hash=tx_hash)
        except TimeExhausted:  # still pending: the next pass waits for it again
            return Outcome(subject, "waiting", "sent, not mined yet", tx_hash=tx_hash)
        onchain_id = int(self.ledger.events_of(sent, event)[0].args[key])
        self.state.put(subject, project_id, status="attested", onchain_id=onchain_id)
        log.info("%s attested %s as #%d (%s)", self.name, subject, onchain_id, tx_hash)
        return Outcome(subject, "attested", "", onchain_id, tx_hash)

    def _resume(self, subject: str, project_id: int, tx_hash: str, event: str,
                key: str) -> Outcome | None:
        """After a restart: the transaction sent before it is waited for while it can still
        land (mined, in the node's pool, or in the outbox to be re-sent); None to send afresh
        (it reverted, or can never land)."""
        fate = fate_of(self.ledger.chain, tx_hash)
        if fate.failed:
            log.info("%s: earlier transaction %s for %s did not take effect (%s); attesting "
                     "again", self.name, tx_hash, subject, fate.detail or "reverted")
            return None
        return self._confirm(subject, project_id, tx_hash, event, key)

    # -- the whole inbox -------------------------------------------------------------------

    def reconcile(self) -> None:
        """Re-sends what the chain lost (any sender's, in order: this node's attestations may
        depend on others' transactions) before looking at the inbox."""
        if self.reconciler is None:
            return
        try:
            self.reconciler.run_once()
        except Exception:  # the chain is briefly unreachable: the pass itself will say so
            log.exception("%s: outbox reconciliation failed", self.name)

    def run_project(self, project_id: int) -> list[Outcome]:
        self.reconcile()
        project_dir = self.inbox / str(project_id)
        outcomes = [self.attest_period(project_id, p) for p in periods_in(project_dir)]
        dist_dir = project_dir / "disturbances"
        if dist_dir.is_dir():
            for path in sorted(dist_dir.glob("*.json")):
                outcomes.append(self.attest_disturbance(project_id, path))
        return outcomes

    def run_once(self) -> list[Outcome]:
        return [o for pid in projects_in(self.inbox) for o in self.run_project(pid)]

    def outcomes(self) -> Iterator[Attestation]:
        yield from self.state.all()


def schedule(node: OracleNode, interval_s: float, stop_after: float | None = None) -> None:
    """Runs the node under APScheduler: one job per project in the inbox (rescanned every
    interval, so new projects get a job), never two runs of a job at once, missed runs
    coalesced. Blocks until interrupted (or for `stop_after` seconds)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(job_defaults={"coalesce": True, "max_instances": 1})

    def run_project(pid: int) -> None:
        for o in node.run_project(pid):
            if o.status in ("attested", "failed"):
                log.info("%s %s: %s %s", node.name, o.subject, o.status, o.detail)

    def rescan() -> None:
        for pid in projects_in(node.inbox):
            job_id = f"{node.name}:project:{pid}"
            if scheduler.get_job(job_id) is None:
                scheduler.add_job(run_project, "interval", args=[pid], id=job_id,
                                  seconds=interval_s, next_run_time=_now())
        if stop_after is not None and time.monotonic() > deadline:
            scheduler.shutdown(wait=False)

    deadline = time.monotonic() + (stop_after or 0)
    scheduler.add_job(rescan, "interval", id="rescan", seconds=min(interval_s, 5),
                      next_run_time=_now())
    scheduler.start()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
