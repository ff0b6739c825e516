"""The outbox: every transaction this stack signs, on disk before it is broadcast.

Why: an acknowledged write must survive the chain node losing it. The embedded anvil dumps its
state to disk once a second, so a kill -9 loses the blocks mined since the last dump, receipts
and all; a production node may drop a transaction from its pool. The signed bytes are all it
takes to send a transaction again, and sending the same bytes again is safe: same sender, same
nonce, same hash, so it lands at most once. `Chain.send_raw` (chain/client.py, the one place
this stack broadcasts from: API writes and the relayer, the settlement worker, oracle nodes,
deployment) appends the bytes here first; the reconciler (chain/reconcile.py) re-broadcasts
whatever the chain lost, in the order it was first sent, and says what can never land.

Storage: one SQLite file in the data directory, WAL mode, `synchronous=FULL` (each append is
fsync'd before it returns). Several processes append to it at once (oracle nodes, `tanhui up`,
`tanhui exchange run`); SQLite's file lock serializes them, and the autoincrement `seq` is the
one global order, consistent with causality: a transaction that depends on another one was
built after that one was broadcast, hence appended after it.

An entry belongs to one chain: `chain` is "<chain id>:<genesis block hash>", so a chain started
afresh (new genesis) never receives the transactions of the one before.

States:
  sent      appended, maybe broadcast, no receipt seen yet
  mined     a receipt was seen (block, success) but the block may still be lost
  final     mined, confirmed and durable (chain/reconcile.py `Finality`): never checked again,
            and its bytes are dropped
  dropped   the sender's nonce was used by another transaction: it can never land
  rejected  the node refused the bytes for another reason (e.g. the sender cannot pay gas)
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPEN_STATES = ("sent", "mined")
LOST_STATES = ("dropped", "rejected")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_hash TEXT NOT NULL UNIQUE,
    chain TEXT NOT NULL,
    sender TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    raw BLOB,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    block_number INTEGER,
    success INTEGER,
    mined_seen REAL,
    refusals INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_open ON outbox (chain, state, seq);
"""

COLUMNS = ("seq", "tx_hash", "chain", "sender", "nonce", "purpose", "raw", "state", "created",
           "block_number", "success", "mined_seen", "refusals", "detail")
UPDATABLE = {"state", "block_number", "success", "mined_seen", "refusals", "detail", "raw"}


@dataclass(frozen=True)
class Entry:
    """One signed transaction and what is known of its fate."""

    seq: int
    tx_hash: str
    chain: str
    sender: str
    nonce: int
    purpose: str
    raw: bytes | None
    state: str
    created: float
    block_number: int | None
    success: bool | None
    mined_seen: float | None
    refusals: int
    detail: str

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> Entry:
        values = dict(zip(COLUMNS, row, strict=True))
        if values["success"] is not None:
            values["success"] = bool(values["success"])
        if values["raw"] is not None:
            values["raw"] = bytes(values["raw"])
        return cls(**values)


class Outbox:
    """The durable list of signed transactions; thread-safe, and safe for several processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():  # signed transactions are nobody else's business
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def append(self, chain: str, tx_hash: str, sender: str, nonce: int, purpose: str,
               raw: bytes) -> int:
        """Records a signed transaction durably (fsync'd); returns its place in the order.
        Appending the same hash again (the same bytes) is a no-op."""
        tx_hash = tx_hash.lower()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO outbox (tx_hash, chain, sender, nonce, purpose, raw, state, created)"
                " VALUES (?, ?, ?, ?, ?, ?, 'sent', ?) ON CONFLICT (tx_hash) DO NOTHING",
                (tx_hash, chain, sender, nonce, purpose, raw, time.time()))
            if cur.rowcount == 0:
                row = self._db.execute("SELECT seq FROM outbox WHERE tx_hash = ?",
                                       (tx_hash,)).fetchone()
                return int(row[0])
            return int(cur.lastrowid or 0)

    def get(self, tx_hash: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM outbox WHERE tx_hash = ?",
                                   (tx_hash.lower(),)).fetchone()
        return Entry.of(row) if row is not None else None

    def open_entries(self, chain: str) -> list[Entry]:
        """Entries of `chain` not yet final, dropped or rejected, in the order first sent."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM outbox WHERE chain = ? AND state IN "
                "('sent', 'mined') ORDER BY seq", (chain,)).fetchall()
        return [Entry.of(r) for r in rows]

    def entries(self, chain: str | None = None) -> list[Entry]:
        """Every entry (of one chain), in order: for operators and tests."""
        where, args = ("WHERE chain = ?", (chain,)) if chain is not None else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM outbox {where} ORDER BY seq", args).fetchall()
        return [Entry.of(r) for r in rows]

    def update(self, changes: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Applies (tx hash, {column: value}) changes in one transaction. A final entry's
        bytes are no longer needed and are dropped with the change."""
        batch = [(h, dict(c)) for h, c in changes if c]
        if not batch:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for tx_hash, fields in batch:
                    if set(fields) - UPDATABLE:
                        raise ValueError(f"not an updatable column: {set(fields) - UPDATABLE}")
                    if fields.get("state") == "final":
                        fields["raw"] = None
                    if "success" in fields and fields["success"] is not None:
                        fields["success"] = int(bool(fields["success"]))
                    sets = ", ".join(f"{k} = ?" for k in fields)
                    self._db.execute(f"UPDATE outbox SET {sets} WHERE tx_hash = ?",
                                     (*fields.values(), tx_hash))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
