"""The registry-wide intake of monitoring data: every tonne counted once.

Monitoring data enters the oracle inbox only through oracle/inbox.py (used by the API's
`PUT /v1/oracle/...` and by `tanhui oracle ingest`), which records what it took in the
registry's SQL database, under unique constraints, before the files reach the nodes:

- a device (its signing key, the address its readings recover to) belongs to one project: a
  project's device registry naming a key already bound to another project is refused
  (`device_registered_elsewhere`). A binding is permanent — a sensor moved to another project
  gets a new key — so nothing a key signed can ever count for two projects;
- a signed reading counts once: its identity is the digest of what the device signed together
  with the key that signed it, keccak256(address ‖ signed message), so the same reading is the
  same digest whatever signature bytes carry it (ECDSA signatures are malleable); each digest
  is one row, keyed by it, naming the intake (project, period, file) that counted it. A file whose
  accepted readings include one already counted for another project or another period is
  refused whole (`reading_counted_elsewhere`), and nothing of it is stored; resubmitting the
  same readings for the same period is a harmless repeat.

The chain enforces the rest where it can see it: a boundary belongs to one active project
(ProjectRegistry) and a Merkle root or report hash is attested for one report only
(MonitoringReports).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from oracle.devices import DeviceRegistry
from oracle.keccak import keccak256
from oracle.period import Period
from oracle.readings import Reading
from oracle.results import ValidationResult

# Rows looked up per query (below SQLite's bound-parameter limit on every version).
_CHUNK = 900
# Conflicts named in an error's details.
MAX_REPORTED = 20


def _now() -> datetime:
    return datetime.now(UTC)


class DeviceBinding(Base):
    """A device key and the one project it signs readings for."""

    __tablename__ = "oracle_devices"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)  # 0x + 40 lowercase hex
    device_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[int] = mapped_column(BigInteger)
    bound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReadingIntake(Base):
    """One submission of readings taken in for a project's period."""

    __tablename__ = "oracle_intakes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(BigInteger)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    file: Mapped[str] = mapped_column(String(100))
    readings: Mapped[int] = mapped_column(Integer)  # newly counted by this submission
    counted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class CountedReading(Base):
    """A signed reading, counted by one intake. Keyed by the digest alone, without a rowid
    on SQLite: a year of one project's readings is hundreds of thousands of rows."""

    __tablename__ = "oracle_readings"
    __table_args__ = ({"sqlite_with_rowid": False},)

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("oracle_intakes.id"))


@dataclass(frozen=True)
class DeviceTaken(Exception):
    """A device key of the registry is already bound to another project."""

    device_id: str
    address: str
    project_id: int

    def __str__(self) -> str:
        return (f"device {self.device_id} ({self.address}) is registered for project "
                f"{self.project_id}")


@dataclass(frozen=True)
class CountedElsewhere:
    """One accepted reading that was already counted for another project or period."""

    position: int
    device_id: str
    time: int
    metric: str
    project_id: int
    period_start: int
    period_end: int
    file: str


@dataclass(frozen=True)
class ReadingsCountedElsewhere(Exception):
    """Readings of a submission were already counted for another project or period."""

    conflicts: tuple[CountedElsewhere, ...]
    total: int

    def __str__(self) -> str:
        first = self.conflicts[0]
        return (f"{self.total} reading(s) already counted elsewhere, e.g. {first.device_id}/"
                f"{first.metric}@{first.time} for project {first.project_id} period "
                f"{first.period_start}-{first.period_end}")


def reading_digest(address: bytes, reading: Reading) -> bytes:
    """A signed reading's identity: keccak256(signer address ‖ signed message)."""
    return keccak256(address + reading.message())


def _chunks(items: Sequence[bytes] | Sequence[str]) -> Iterable[list]:  # type: ignore[type-arg]
    for i in range(0, len(items), _CHUNK):
        yield list(items[i:i + _CHUNK])


def bind_devices(session: Session, project_id: int, registry: DeviceRegistry) -> int:
    """Binds every device key of `registry` to `project_id`; raises DeviceTaken (and binds
    nothing) if one is bound to another project. Returns how many keys were newly bound.
    The caller commits."""
    by_address = {d.address: d for d in registry.devices.values()}
    addresses = sorted(by_address)
    known: set[str] = set()
    for chunk in _chunks(addresses):
        rows = session.execute(select(DeviceBinding.address, DeviceBinding.project_id)
                               .where(DeviceBinding.address.in_(chunk)))
        for address, bound_to in rows:
            if bound_to != project_id:
                raise DeviceTaken(by_address[address].device_id, address, bound_to)
            known.add(address)
    fresh = [{"address": a, "device_id": by_address[a].device_id, "project_id": project_id,
              "bound_at": _now()} for a in addresses if a not in known]
    if fresh:
        session.execute(insert(DeviceBinding), fresh)
    return len(fresh)


def accepted_positions(result: ValidationResult[Reading]) -> list[int]:
    """Positions in the submission of the accepted readings (every row is accepted or
    rejected, and accepted rows keep their input order)."""
    rejected = {r.position for r in result.rejected}
    return [p for p in range(result.total) if p not in rejected]


def count_readings(session: Session, project_id: int, period: Period, file: str,
                   result: ValidationResult[Reading], registry: DeviceRegistry) -> int:
    """Counts the accepted readings of a validated file for the project's period; raises
    ReadingsCountedElsewhere if any was counted for another project or period (the caller then
    rolls back: nothing is counted). Returns how many were newly counted. The caller commits.

    The usual case, new readings, is one bulk insert that skips digests already present; only
    when some were present are they looked up, to tell a repeat for this very period (fine) from
    a reading counted elsewhere."""
    devices = registry.devices
    position_of: dict[bytes, int] = {}
    for position, r in zip(accepted_positions(result), result.accepted, strict=True):
        position_of.setdefault(reading_digest(devices[r.device_id].address_bytes, r), position)
    digests = sorted(position_of)  # in key order: B-tree inserts stay local
    row = ReadingIntake(project_id=project_id, period_start=period.start,
                        period_end=period.end, file=file, readings=0, counted_at=_now())
    session.add(row)
    session.flush()
    added = _insert_new(session, digests, row.id)
    row.readings = added
    if added == len(digests):
        return added
    readings = dict(zip(accepted_positions(result), result.accepted, strict=True))
    conflicts = []
    for chunk in _chunks(digests):
        found = session.execute(
            select(CountedReading.digest, ReadingIntake.project_id, ReadingIntake.period_start,
                   ReadingIntake.period_end, ReadingIntake.file)
            .join(ReadingIntake, ReadingIntake.id == CountedReading.intake_id)
            .where(CountedReading.digest.in_(chunk), CountedReading.intake_id != row.id))
        for digest, pid, start, end, where in found:
            if (pid, start, end) == (project_id, period.start, period.end):
                continue  # counted for this very period before: a repeat
            position = position_of[bytes(digest)]
            r = readings[position]
            conflicts.append(CountedElsewhere(position, r.device_id, r.time, r.metric, pid,
                                              start, end, where))
    if conflicts:
        conflicts.sort(key=lambda c: c.position)
        raise ReadingsCountedElsewhere(tuple(conflicts[:MAX_REPORTED]), len(conflicts))
    return added


def _insert_new(session: Session, digests: Sequence[bytes], intake_id: int) -> int:
    """Inserts the digests not yet present (ON CONFLICT DO NOTHING, SQLite and PostgreSQL) as
    one driver-level executemany — an ORM or Core insert costs several times as much per row —
    and returns how many rows it added."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cursor = conn.exec_driver_sql(
        f"INSERT INTO oracle_readings (digest, intake_id) VALUES ({mark}, {mark}) "
        "ON CONFLICT (digest) DO NOTHING",
        [(d, intake_id) for d in digests])
    return int(cursor.rowcount)
