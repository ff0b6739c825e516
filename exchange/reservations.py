"""The exchange's reservations, shared through the database: one source of truth for what the
registry may not move.

The chain does not know what the exchange has promised (credits of open sells and unsettled
sales, cash of open buys and unsettled purchases): a member could transfer, retire or withdraw
them and make its trades fail settlement. So every API route that moves credits or cash out of
an account first subtracts the exchange's reservations (api/reserved.py). An API that runs the
exchange in its own process asks the service; an API running beside a separate exchange
process (`tanhui up --no-exchange` + `tanhui exchange run`) reads this table, which the exchange
keeps equal to its in-memory totals: each change is written before the request that made it is
answered (ExchangeService._published), and the whole table is rewritten when the exchange starts
(its totals rebuilt from the journal).

One row per (account, batch_id) with a non-zero reservation; batch_id 0 is cash (in fen; no
credit batch has id 0). Amounts are integers (credit units, fen), stored as BigInteger.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import BigInteger, Engine, String, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

CASH = 0  # the batch_id under which an account's reserved cash is kept

Key = tuple[str, int]  # (checksummed account, batch id or CASH)


class ExchangeReservation(Base):
    """What the exchange holds of one account's credits of one batch, or of its cash."""

    __tablename__ = "exchange_reservations"

    account: Mapped[str] = mapped_column(String(42), primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    amount: Mapped[int] = mapped_column(BigInteger)


class SharedReservations:
    """The table, written by the exchange and read by any API process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writing = threading.Lock()  # writes land in the order their values were taken
        self._raw: Any = None  # the driver connection `write` keeps between writes

    def replace_all(self, totals: Mapping[Key, int]) -> None:
        """The table becomes exactly `totals` (on start: what the journal rebuilt)."""
        with self._writing, self.engine.begin() as conn:
            conn.execute(delete(ExchangeReservation))
            rows = [{"account": a, "batch_id": b, "amount": v} for (a, b), v in totals.items()
                    if v]
            if rows:
                conn.execute(insert(ExchangeReservation), rows)

    def write(self, changes: Mapping[Key, int]) -> None:
        """Sets these keys to these totals (0 deletes the row), in one transaction. Written
        once per group commit on the order path, so as two driver-level statements (an upsert
        and a delete, each one executemany) rather than ORM statements per key: a few hundred
        microseconds for a group instead of milliseconds."""
        if not changes:
            return
        with self._writing:
            conn = self._raw or self._connect()  # kept: the order path reuses it
            mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
            kept = [(a, b, v) for (a, b), v in changes.items() if v]
            gone = [(a, b) for (a, b), v in changes.items() if not v]
            try:
                cur = conn.cursor()
                if kept:
                    cur.executemany(
                        "INSERT INTO exchange_reservations (account, batch_id, amount) "
                        f"VALUES ({mark}, {mark}, {mark}) ON CONFLICT (account, batch_id) "
                        "DO UPDATE SET amount = excluded.amount", kept)
                if gone:
                    cur.executemany(
                        "DELETE FROM exchange_reservations WHERE account = "
                        f"{mark} AND batch_id = {mark}", gone)
                cur.close()
                conn.commit()
            except Exception:
                self._raw = None
                with contextlib.suppress(Exception):
                    conn.rollback()
                    conn.close()
                raise
            self._raw = conn

    def _connect(self) -> Any:
        """The order path's connection, with commits that are visible at once but not flushed
        to disk: the table is rebuilt from the journal whenever the exchange starts
        (`replace_all`), so after a machine crash nothing it held is needed, and an fsync per
        group commit on top of the journal's own would halve order entry."""
        conn = self.engine.raw_connection()
        cur = conn.cursor()
        if self.engine.dialect.name == "sqlite":
            cur.execute("PRAGMA synchronous = OFF")
        elif self.engine.dialect.name == "postgresql":
            cur.execute("SET synchronous_commit TO OFF")
        cur.close()
        conn.commit()
        return conn

    def reserved(self, account: str, batch_id: int) -> int:
        """Reserved credit units of `batch_id` (or fen, for CASH) of a checksummed account."""
        with self.engine.connect() as conn:
            value = conn.execute(select(ExchangeReservation.amount).where(
                ExchangeReservation.account == account,
                ExchangeReservation.batch_id == batch_id)).scalar()
        return int(value or 0)
