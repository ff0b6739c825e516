"""The shared reservations table (exchange/reservations.py): its migration creates exactly the
model, and the exchange's writes leave exactly the non-zero totals."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, select

from core.db import Base
from exchange.reservations import CASH, ExchangeReservation, SharedReservations
from tests.support.indexing import migrated, sqlite_url

A, B = "0x" + "11" * 20, "0x" + "22" * 20


def test_migration_creates_exactly_the_reservations_table(tmp_path: Path) -> None:
    engine = migrated(sqlite_url(tmp_path))
    ours = MetaData(naming_convention=Base.metadata.naming_convention)
    ExchangeReservation.__table__.to_metadata(ours)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_name": lambda name, kind, _: kind != "table" or name in ours.tables})
        assert compare_metadata(context, ours) == []


def test_written_totals_replace_earlier_ones_and_zero_removes_the_row(tmp_path: Path) -> None:
    engine = migrated(sqlite_url(tmp_path))
    shared = SharedReservations(engine)
    shared.replace_all({(A, 7): 5, (A, CASH): 900, (B, 7): 0})
    shared.write({(A, 7): 8, (B, CASH): 3})
    shared.write({(A, CASH): 0})
    assert (shared.reserved(A, 7), shared.reserved(A, CASH), shared.reserved(B, CASH)) == (
        8, 0, 3)
    with engine.connect() as conn:
        rows = conn.execute(select(ExchangeReservation.account, ExchangeReservation.batch_id,
                                   ExchangeReservation.amount)).all()
    assert sorted(rows) == [(A, 7, 8), (B, CASH, 3)]
    shared.replace_all({(B, 9): 10**15})
    assert (shared.reserved(A, 7), shared.reserved(B, 9)) == (0, 10**15)
