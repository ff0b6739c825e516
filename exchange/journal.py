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

import asyncio
import fcntl
import json
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class JournalInUse(RuntimeError):
    """Another process has this journal open."""


# upper bounds (seconds) of the fsync-time histogram an operator scrapes (/metrics)
FSYNC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass
class FsyncTimes:
    """How long the journal's fsyncs took: counts per bucket (cumulative at read), their sum."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(FSYNC_BUCKETS) + 1))
    total_seconds: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(FSYNC_BUCKETS, seconds)] += 1
        self.total_seconds += seconds

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, fsyncs at or under it), the last bound +inf: Prometheus' shape."""
        out, running = [], 0
        for bound, n in zip((*FSYNC_BUCKETS, float("inf")), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


class Journal:
    """Append-only, fsync'd, line-delimited JSON; thread-safe."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        # one writer per journal: a second exchange on the same directory would interleave
        # sequence numbers; the lock dies with the process (kill -9 included)
        self._lock_file = open(directory / "journal.lock", "a")  # noqa: SIM115 - held open
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise JournalInUse(f"the exchange journal in {directory} is in use by another "
                               "process") from None
        self.path = directory / "journal.log"
        self._lock = threading.Lock()
        self._sync = threading.Condition(threading.Lock())
        self._written = 0  # last seq written to the OS
        self._synced = 0  # last seq known durable
        self._syncing = False
        self._error: OSError | None = None  # a failed fsync: nothing after it is durable
        self.fsync_times = FsyncTimes()  # written holding `_sync`
        # entries awaiting the event loop's next flush (Journal.durable)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._flush_scheduled = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="journal-sync")
        # run on the event loop after each group fsync, before that group's waiters are
        # answered: the exchange writes its shared reservation totals there, once per group.
        # On the loop rather than the sync thread, because a thread that must win the GIL back
        # from a busy loop several times per write waits far longer than the write takes.
        self.after_sync: Callable[[], None] | None = None
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
                if self._error is not None:
                    raise self._error
                if self._syncing:
                    self._sync.wait()
                    continue
                self._fsync_locked()

    def _fsync_locked(self) -> None:
        """One fsync covering everything written so far; called and returns holding `_sync`."""
        self._syncing = True
        target = self._written
        self._sync.release()
        error: OSError | None = None
        started = time.perf_counter()
        try:
            os.fsync(self._file.fileno())
        except OSError as exc:
            error = exc
        finally:
            self._sync.acquire()
            self._syncing = False
            self.fsync_times.observe(time.perf_counter() - started)
        if error is not None:
            self._error = error
        else:
            self._synced = max(self._synced, target)
        self._sync.notify_all()

    async def durable(self, seq: int) -> None:
        """Waits until `seq` is on disk, without blocking the event loop, sharing one fsync
        with every entry written meanwhile.

        The first waiter of an event-loop turn schedules a flush (`call_soon`, so it runs
        after the handlers of all requests that arrived together); the flush hands one fsync
        for all of them to the journal's sync thread and the loop goes on taking orders. The
        thread does one fsync at a time, so flushes queued behind a running one are covered
        by the next (group commit)."""
        if self._synced >= seq:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.append((seq, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        await future

    def _flush(self) -> None:
        self._flush_scheduled = False
        waiters, self._waiters = self._waiters, []
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(self._executor, self.sync, max(s for s, _ in waiters))

        def answer(f: asyncio.Future[None]) -> None:
            error = f.exception()
            if error is None and self.after_sync is not None:
                try:
                    self.after_sync()
                except Exception as e:  # the waiters learn it
                    error = e
            for _, future in waiters:
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

        done.add_done_callback(answer)

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
        self._executor.shutdown(wait=True)
        self._file.close()
        self._lock_file.close()  # releases the lock
