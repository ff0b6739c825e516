"""The exchange's write-ahead journal: every accepted command is on disk before it is answered.

Format: one JSON object per line, `{"seq": n, ...}`, appended to `journal.log` and fsync'd
before `append` returns (group commit: concurrent appends share one fsync). Replaying the file
from the start, or from the latest snapshot's sequence, feeds the same commands to a fresh
engine, which (being deterministic) rebuilds the same books, trades and ids. A torn last line
(the process died mid-write) was never acknowledged and is dropped on open.

Snapshots (`snapshot-<seq>.json`, written to a temporary file, fsync'd and renamed) bound replay
time; the journal itself is never rewritten.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Journal:
    """Append-only, fsync'd, line-delimited JSON; thread-safe."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / "journal.log"
        self._lock = threading.Lock()
        self._sync = threading.Condition(threading.Lock())
        self._written = 0  # last seq written to the OS
        self._synced = 0  # last seq known durable
        self._syncing = False
        self.last_seq = self._recover()
        self._written = self._synced = self.last_seq
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open

    def _recover(self) -> int:
        """The last complete entry's sequence; truncates a torn tail."""
        if not self.path.exists():
            return 0
        last = 0
        good = 0
        with open(self.path, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break
                try:
                    last = int(json.loads(line)["seq"])
                except (ValueError, KeyError):
                    break
                good += len(line)
        if good != self.path.stat().st_size:
            with open(self.path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        return last

    def append(self, entry: dict[str, Any]) -> int:
        """Writes `entry` with the next sequence number and returns once it is durable."""
        seq = self.write(entry)
        self.sync(seq)
        return seq

    def write(self, entry: dict[str, Any]) -> int:
        """Writes `entry` (not yet durable) and returns its sequence number. The caller must
        `sync(seq)` before acknowledging anything that depends on it."""
        with self._lock:
            seq = self.last_seq + 1
            line = json.dumps({"seq": seq, **entry}, separators=(",", ":")).encode() + b"\n"
            self._file.write(line)
            self.last_seq = seq
            self._written = seq
        return seq

    def sync(self, seq: int) -> None:
        """Group commit: one thread fsyncs for everyone written so far; others wait for it."""
        with self._sync:
            while self._synced < seq:
                if self._syncing:
                    self._sync.wait()
                    continue
                self._syncing = True
                target = self._written
                self._sync.release()
                try:
                    os.fsync(self._file.fileno())
                finally:
                    self._sync.acquire()
                    self._syncing = False
                self._synced = max(self._synced, target)
                self._sync.notify_all()

    def entries(self, after: int = 0) -> Iterator[dict[str, Any]]:
        with open(self.path, "rb") as f:
            for line in f:
                entry = json.loads(line)
                if int(entry["seq"]) > after:
                    yield entry

    # -- snapshots ---------------------------------------------------------------------------

    def write_snapshot(self, seq: int, state: dict[str, Any]) -> Path:
        path = self.directory / f"snapshot-{seq:012d}.json"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump({"seq": seq, "state": state}, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path

    def latest_snapshot(self) -> tuple[int, dict[str, Any]] | None:
        snaps = sorted(self.directory.glob("snapshot-*.json"))
        if not snaps:
            return None
        data = json.loads(snaps[-1].read_text())
        return int(data["seq"]), data["state"]

    def close(self) -> None:
        self._file.close()
