"""Finished history, out of memory: orders that can no longer change and their trades.

An order is finished when it is filled, cancelled or rejected and every trade it took part in
is settled or failed on chain. At each snapshot the service moves finished orders (with their
final view, trades included) and the trades whose both orders are finished into this SQLite
file, then writes a snapshot without them and drops them from memory; so memory, snapshots and
replay stay bounded by what is live, not by all history. Lookups (an order by id, idempotency by
client order id, by order hash, a trader's used nonces) fall back to the archive.

Crash safety: rows are committed (synchronous=FULL) before the snapshot that leaves them out
is written, and dropped from memory only after both; a crash in between leaves a record in
the archive and (after replay) in memory too, which is harmless: memory is read first and the
next archiving rewrites the same row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
    trader TEXT NOT NULL,
    client_order_id BLOB NOT NULL,
    nonce TEXT NOT NULL,  -- uint64: beyond SQLite integers
    view TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_client ON orders (trader, client_order_id);
CREATE INDEX IF NOT EXISTS orders_by_nonce ON orders (trader, nonce);
CREATE TABLE IF NOT EXISTS trades (
    trade_id INTEGER PRIMARY KEY,
    view TEXT NOT NULL
);
"""


class Archive:
    """Finished orders and trades (service.py decides what is finished); thread-safe."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        # records held: while there are none (an exchange that never archived), lookups answer
        # without a query, so the order path pays nothing for the archive
        self.size = sum(self.counts())

    def put(self, orders: Iterable[tuple[int, bytes, str, bytes, dict[str, Any]]],
            trades: Iterable[tuple[int, dict[str, Any]]]) -> None:
        """Stores (order id, digest, trader, client order id, final view) rows and (trade id,
        view) rows in one durable transaction (an order's nonce is read from its view)."""
        order_rows = [(o, d, t, c, str(v["nonce"]), json.dumps(v, separators=(",", ":")))
                      for o, d, t, c, v in orders]
        trade_rows = [(t, json.dumps(v, separators=(",", ":"))) for t, v in trades]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?, ?)",
                                     order_rows)
                self._db.executemany("INSERT OR REPLACE INTO trades VALUES (?, ?)", trade_rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self.size += len(order_rows) + len(trade_rows)  # an upper bound: only "any?" matters

    def order(self, order_id: int) -> dict[str, Any] | None:
        if not self.size:
            return None
        return self._one("SELECT view FROM orders WHERE order_id = ?", (order_id,))

    def trade(self, trade_id: int) -> dict[str, Any] | None:
        if not self.size:
            return None
        return self._one("SELECT view FROM trades WHERE trade_id = ?", (trade_id,))

    def find(self, trader: str, client_order_id: bytes,
             digest: bytes) -> tuple[bytes, dict[str, Any]] | None:
        """An archived order with this trader and (non-zero) client order id, or else this
        order hash: (its digest, its final view)."""
        if not self.size:
            return None
        with self._lock:
            row = None
            if any(client_order_id):
                row = self._db.execute(
                    "SELECT digest, view FROM orders WHERE trader = ? AND client_order_id = ?",
                    (trader, client_order_id)).fetchone()
            if row is None:
                row = self._db.execute("SELECT digest, view FROM orders WHERE digest = ?",
                                       (digest,)).fetchone()
        return None if row is None else (bytes(row[0]), json.loads(row[1]))

    def has_digest(self, digest: bytes) -> bool:
        if not self.size:
            return False
        with self._lock:
            return self._db.execute("SELECT 1 FROM orders WHERE digest = ?",
                                    (digest,)).fetchone() is not None

    def has_nonce(self, trader: str, nonce: int) -> bool:
        """Whether an archived order of `trader` used `nonce`."""
        if not self.size:
            return False
        with self._lock:
            return self._db.execute("SELECT 1 FROM orders WHERE trader = ? AND nonce = ?",
                                    (trader, str(nonce))).fetchone() is not None

    def counts(self) -> tuple[int, int]:
        with self._lock:
            return self._counts()

    def _counts(self) -> tuple[int, int]:
        return (self._db.execute("SELECT count(*) FROM orders").fetchone()[0],
                self._db.execute("SELECT count(*) FROM trades").fetchone()[0])

    def _one(self, sql: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def close(self) -> None:
        with self._lock:
            self._db.close()
