"""The registry-wide intake on real SQLite and PostgreSQL: a device key is bound to one project,
a signed reading counts for one project's period, and the database's own unique constraints
hold even against writers that skip the checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, func, insert, select
from sqlalchemy.exc import IntegrityError

from core.db import Base, session_factory
from oracle import intake
from oracle.devices import DeviceRegistry
from oracle.loaders import load_records
from oracle.period import Period
from oracle.readings import Reading, validate_readings
from oracle.results import ValidationResult
from tests.support.indexing import migrated, postgres_database, postgres_server_url, sqlite_url
from tests.support.oracle_inbox import YEAR, write_sample

INTAKE_TABLES = (intake.DeviceBinding.__table__, intake.ReadingIntake.__table__,
                 intake.CountedReading.__table__)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[DeviceRegistry,
                                                               ValidationResult[Reading]]:
    raw = write_sample(tmp_path_factory.mktemp("sample"), days=1)
    registry = DeviceRegistry.load(raw / "devices.json")
    result = validate_readings(load_records(raw / "readings.csv"), registry=registry,
                               period=YEAR, now=YEAR.end)
    assert len(result.accepted) > 400
    return registry, result


@pytest.fixture(scope="module")
def postgres_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        base, server = postgres_server_url(tmp_path_factory.mktemp("pg"))
    except Exception as exc:  # no DATABASE_URL and no server on this machine
        pytest.skip(f"no PostgreSQL available: {exc}")
    try:
        yield base
    finally:
        if server is not None:
            server.cleanup()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        e = migrated(sqlite_url(tmp_path, "intake"))
        yield e
        e.dispose()
        return
    base = request.getfixturevalue("postgres_base")
    with postgres_database(base) as url:
        e = migrated(url)
        yield e
        e.dispose()


def count_rows(engine: Engine, table: type[Base]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_migration_creates_exactly_the_intake_tables(tmp_path: Path) -> None:
    engine = migrated(sqlite_url(tmp_path))
    ours = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in INTAKE_TABLES:
        table.to_metadata(ours)
    names = set(ours.tables)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_name": lambda name, kind, _: kind != "table" or name in names})
        assert compare_metadata(context, ours) == []


def test_a_device_key_is_bound_to_one_project(
    engine: Engine, sample: tuple[DeviceRegistry, ValidationResult[Reading]]
) -> None:
    registry, _ = sample
    with session_factory(engine)() as s:
        assert intake.bind_devices(s, 1, registry) == len(registry.devices)
        s.commit()
        assert intake.bind_devices(s, 1, registry) == 0  # the project's own keys again
        with pytest.raises(intake.DeviceTaken) as taken:
            intake.bind_devices(s, 2, registry)
        assert taken.value.project_id == 1
        s.rollback()
    assert count_rows(engine, intake.DeviceBinding) == len(registry.devices)


def test_a_reading_counts_for_one_project_period(
    engine: Engine, sample: tuple[DeviceRegistry, ValidationResult[Reading]]
) -> None:
    registry, result = sample
    with session_factory(engine)() as s:
        assert intake.count_readings(s, 1, YEAR, "readings.csv", result, registry) == len(
            result.accepted)
        s.commit()
        assert intake.count_readings(s, 1, YEAR, "readings.csv", result, registry) == 0
        with pytest.raises(intake.ReadingsCountedElsewhere) as elsewhere:
            intake.count_readings(s, 1, Period(YEAR.start, YEAR.end + 1), "again.csv", result,
                                  registry)
        assert elsewhere.value.total == len(result.accepted)
        first = elsewhere.value.conflicts[0]
        assert (first.project_id, first.period_start, first.file) == (1, YEAR.start,
                                                                      "readings.csv")
        assert first.position == intake.accepted_positions(result)[0]
        s.rollback()
    assert count_rows(engine, intake.CountedReading) == len(result.accepted)


def test_the_database_refuses_a_second_row_for_a_reading(
    engine: Engine, sample: tuple[DeviceRegistry, ValidationResult[Reading]]
) -> None:
    registry, result = sample
    reading = result.accepted[0]
    digest = intake.reading_digest(registry.devices[reading.device_id].address_bytes, reading)
    with engine.begin() as conn:
        for n in (1, 2):
            conn.execute(insert(intake.ReadingIntake), [{
                "id": n, "project_id": n, "period_start": YEAR.start, "period_end": YEAR.end,
                "file": "readings.csv", "readings": 1, "counted_at": intake._now()}])
        conn.execute(insert(intake.CountedReading), [{"digest": digest, "intake_id": 1}])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(intake.CountedReading), [{"digest": digest, "intake_id": 2}])


def test_each_intake_records_what_it_newly_counted(
    engine: Engine, sample: tuple[DeviceRegistry, ValidationResult[Reading]]
) -> None:
    registry, result = sample
    with session_factory(engine)() as s:
        intake.count_readings(s, 1, YEAR, "readings.csv", result, registry)
        intake.count_readings(s, 1, YEAR, "readings-again.csv", result, registry)
        s.commit()
        counted = s.execute(select(intake.ReadingIntake.file, intake.ReadingIntake.readings)
                            .order_by(intake.ReadingIntake.id)).all()
    assert [tuple(r) for r in counted] == [("readings.csv", len(result.accepted)),
                                           ("readings-again.csv", 0)]
