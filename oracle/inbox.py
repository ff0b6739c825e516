"""The oracle inbox: where monitoring data waits for the oracle nodes, with one owner.

    API (PUT …/spec, …/files/{name}) ─┐
                                       ├─► Inbox ─► <root>/<project>/… ─► oracle nodes attest
    CLI (tanhui oracle ingest) ───────┘             (report.py builds the report from it)

Both front doors go through this object, so both keep the same promises:

- a file is written whole or not at all (temporary file, fsync, rename): a node never reads
  half a file, and a crash leaves the previous version;
- a period whose report is attested on chain is final: no file is added or replaced after;
- every tonne is counted once (intake.py): a device key belongs to one project, a signed
  reading counted for one project's period is refused for any other, and those counts are
  committed before the file is stored, so a refused file leaves nothing behind;
- a proof is given only for a record of an attested report whose stored data still has the
  attested root.

Writers in other processes (the API and the CLI at once) are serialised by an advisory lock on
`<root>/.lock`. The layout is known here and in report.py (`period_dir`) only.
"""

from __future__ import annotations

import fcntl
import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session

from chain.state import write_atomically
from chain.structs import Report
from oracle import intake
from oracle.devices import DeviceRegistry
from oracle.loaders import LoadError, parse_csv_records, parse_json_records
from oracle.period import Period
from oracle.proofs import RecordProof
from oracle.report import (
    MonitoringReport,
    ProjectSpec,
    ReportError,
    build_report,
    kind_of,
    period_dir,
    validate_kind,
)
from oracle.results import ValidationResult
from registry.ledger import ReportStatus

FILE_NAME = r"^[A-Za-z][A-Za-z0-9._-]{0,99}\.(csv|json)$"


class InboxError(Exception):
    """A refusal with a stable code (the API maps codes to HTTP statuses; the CLI prints
    the message). Nothing was changed."""

    def __init__(self, code: str, message: str,
                 details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.details = dict(details or {})


class Reports(Protocol):
    """What the inbox reads from the chain (registry.ledger.Ledger has it)."""

    def report_of(self, project_id: int, period_start: int, period_end: int) -> int: ...

    def report(self, report_id: int) -> Report: ...


@dataclass(frozen=True)
class Stored:
    """A data file accepted into the inbox, with how each of its records was judged."""

    project_id: int
    period: Period
    name: str
    kind: str
    result: ValidationResult[Any]

    def summary(self, max_rejections: int | None = 1_000) -> dict[str, Any]:
        return {**self.result.summary(max_rejections=max_rejections),
                "project_id": self.project_id, "period_start": self.period.start,
                "period_end": self.period.end, "file": self.name, "kind": self.kind}


def checked_period(start: int, end: int) -> Period:
    if not (0 < start < end < 2**63):
        raise InboxError("invalid_period", "period_start must be before period_end",
                         {"period_start": start, "period_end": end})
    return Period(start, end)


class Inbox:
    """The monitoring data of every project, as the oracle nodes will read it."""

    _threads = threading.Lock()  # one writer per process; the file lock orders processes

    def __init__(self, root: Path, reports: Reports) -> None:
        self.root = Path(root)
        self.reports = reports

    # -- layout ------------------------------------------------------------------------------

    def project_dir(self, project_id: int) -> Path:
        return self.root / str(project_id)

    def has_spec(self, project_id: int) -> bool:
        return (self.project_dir(project_id) / "project.json").exists()

    def spec(self, project_id: int) -> ProjectSpec | None:
        d = self.project_dir(project_id)
        return ProjectSpec.load(d) if (d / "project.json").exists() else None

    def devices(self, project_id: int) -> DeviceRegistry | None:
        path = self.project_dir(project_id) / "devices.json"
        return DeviceRegistry.load(path) if path.exists() else None

    def periods(self, project_id: int) -> list[Period]:
        """The periods that hold data for the project, oldest first."""
        d = self.project_dir(project_id)
        found = []
        for p in d.iterdir() if d.is_dir() else ():
            m = re.fullmatch(r"(\d+)-(\d+)", p.name)
            if p.is_dir() and m and 0 < int(m[1]) < int(m[2]):
                found.append(Period(int(m[1]), int(m[2])))
        return sorted(found, key=lambda x: (x.start, x.end))

    # -- writes ------------------------------------------------------------------------------

    def install(self, session: Session, project_id: int,
                spec_json: Mapping[str, Any] | None = None,
                devices: DeviceRegistry | None = None) -> ProjectSpec:
        """Sets how a project is monitored, its device registry, or both (what is not given
        stays as it is; a project needs a spec). A device key registered for another project
        is refused (`device_registered_elsewhere`) and nothing changes."""
        if spec_json is None:
            spec = self.spec(project_id)
            if spec is None:
                raise InboxError("no_monitoring_spec", "set the project's monitoring spec "
                                 "first")
        else:
            try:
                spec = ProjectSpec.from_json({**spec_json, "project_id": project_id})
            except (ReportError, ValueError) as exc:
                raise InboxError("invalid_spec", str(exc)) from None
        d = self.project_dir(project_id)
        with self._writing():
            if devices is not None:
                try:
                    intake.bind_devices(session, project_id, devices)
                    session.commit()
                except intake.DeviceTaken as exc:
                    session.rollback()
                    raise InboxError("device_registered_elsewhere",
                                     f"{exc}: a device key signs for one project only",
                                     {"device_id": exc.device_id, "address": exc.address,
                                      "project_id": exc.project_id}) from None
            if spec_json is not None:
                _atomic_write(d / "project.json", json.dumps(spec.to_json()).encode())
            if devices is not None:
                _atomic_write(d / "devices.json",
                              json.dumps(devices.to_json(), ensure_ascii=False).encode())
        return spec

    def submit(self, session: Session, project_id: int, period: Period, name: str,
               body: bytes | bytearray, now: int) -> Stored:
        """Validates one data file of a project's period record by record and stores it for
        the nodes. Refused whole when the period is attested (`period_attested`), when the
        project has no spec, or when an accepted reading was counted elsewhere."""
        if not re.match(FILE_NAME, name):
            raise InboxError("invalid_file_name", "file names are letters, digits, . _ - "
                             "and end in .csv or .json", {"name": name})
        try:
            kind = kind_of(name)
        except ReportError as exc:
            raise InboxError("unknown_data_kind", str(exc), {"name": name}) from None
        if not body:
            raise InboxError("empty_file", "the file is empty")
        self._refuse_if_final(project_id, period)
        d = self.project_dir(project_id)
        if not self.has_spec(project_id):
            raise InboxError("no_monitoring_spec",
                             "set the project's monitoring spec first (PUT …/spec)")
        try:
            text = bytes(body).decode("utf-8-sig")
            rows = parse_json_records(text) if name.endswith(".json") else parse_csv_records(text)
        except (UnicodeDecodeError, LoadError) as exc:
            raise InboxError("unreadable_file", str(exc), {"name": name}) from None
        registry = self.devices(project_id) if kind == "readings" else None
        if kind == "readings" and registry is None:
            raise InboxError("no_devices", "readings need the project's device registry")
        result = validate_kind(kind, rows, registry=registry, period=period, now=now)
        with self._writing():
            self._refuse_if_final(project_id, period)  # attested while we validated
            if registry is not None:
                # counted before the file is stored: a failed write leaves readings counted for
                # this very period, which a retry of the same file accepts again
                try:
                    intake.count_readings(session, project_id, period, name, result, registry)
                    session.commit()
                except intake.ReadingsCountedElsewhere as exc:
                    session.rollback()
                    raise InboxError("reading_counted_elsewhere",
                        f"{exc}: a signed reading counts once; nothing of this file was stored",
                        {"total": exc.total, "readings": [vars(c) for c in exc.conflicts]},
                    ) from None
            _atomic_write(period_dir(d, period) / name, body)
        return Stored(project_id, period, name, kind, result)

    # -- reads -------------------------------------------------------------------------------

    def report(self, project_id: int, period: Period, now: int) -> MonitoringReport:
        """The period's report exactly as an oracle node computes it."""
        try:
            return build_report(self.project_dir(project_id), period, now)
        except ReportError as exc:
            raise InboxError("no_report", str(exc),
                             {"period_start": period.start, "period_end": period.end}) from None

    def prove(self, report_id: int, file: str, position: int, now: int) -> RecordProof:
        """The Merkle proof of one accepted record (file, 0-based position) of an attested
        report, from data whose root is still the attested one."""
        r = self.reports.report(report_id)
        status = ReportStatus(r.status)
        if status not in (ReportStatus.ATTESTED, ReportStatus.VERIFIED):
            raise InboxError("report_not_attested", "proofs exist for attested reports "
                             "only", {"status": status.name.lower()})
        period = Period(r.period_start, r.period_end)
        report = self.report(r.project_id, period, now)
        if report.root != r.merkle_root:
            raise InboxError("data_changed",
                             "the stored data no longer matches the attested root",
                             {"attested_root": "0x" + r.merkle_root.hex(),
                              "data_root": "0x" + report.root.hex()})
        record = report.record_at(file, position)
        if record is None:
            raise InboxError("record_not_found", "no accepted record at that file and "
                             "position", {"file": file, "position": position})
        return report.prove(record)

    # -- internals ---------------------------------------------------------------------------

    def _refuse_if_final(self, project_id: int, period: Period) -> None:
        report_id = self.reports.report_of(project_id, period.start, period.end)
        if report_id and self.reports.report(report_id).status != ReportStatus.PENDING:
            raise InboxError("period_attested", "the period's report is attested; its "
                             "data is final", {"report_id": report_id})

    @contextmanager
    def _writing(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with self._threads, open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _atomic_write(path: Path, data: bytes | bytearray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, bytes(data))  # temporary file, fsync, rename, fsync of the dir
