"""The exchange's write-ahead journal: what is acknowledged is on disk, concurrent orders share
fsyncs, a failed fsync acknowledges nothing, and a torn tail is dropped on open."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from exchange.journal import Journal


def counting_fsync(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the real fsyncs the journal makes (each still goes to disk)."""
    calls: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def test_orders_written_in_one_event_loop_turn_share_one_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path)
    calls = counting_fsync(monkeypatch)

    async def accept(i: int) -> int:
        seq = journal.write({"type": "order", "n": i})
        await journal.durable(seq)
        return seq

    async def burst() -> list[int]:
        return await asyncio.gather(*(accept(i) for i in range(50)))

    seqs = asyncio.run(burst())
    assert seqs == list(range(1, 51))
    assert len(calls) == 1
    journal.close()
    assert [e["n"] for e in Journal(tmp_path).entries()] == list(range(50))


def test_an_entry_already_durable_is_acknowledged_without_another_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path)
    seq = journal.append({"type": "order"})
    calls = counting_fsync(monkeypatch)
    asyncio.run(journal.durable(seq))
    assert calls == []


def test_a_failed_fsync_fails_every_waiter_and_every_later_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path)

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fsync", broken)

    async def accept() -> list[BaseException | None]:
        seqs = [journal.write({"type": "order"}) for _ in range(3)]
        results = await asyncio.gather(*(journal.durable(s) for s in seqs),
                                       return_exceptions=True)
        return list(results)

    results = asyncio.run(accept())
    assert all(isinstance(r, OSError) for r in results)
    monkeypatch.undo()  # the disk "recovers": what failed once is still never acknowledged
    with pytest.raises(OSError):
        journal.append({"type": "order"})


def test_a_torn_last_line_was_never_acknowledged_and_is_dropped(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append({"type": "order", "n": 1})
    journal.append({"type": "order", "n": 2})
    journal.close()
    with open(tmp_path / "journal.log", "ab") as f:
        f.write(b'{"seq":3,"type":"ord')  # the process died mid-write
    reopened = Journal(tmp_path)
    assert reopened.last_seq == 2
    assert reopened.append({"type": "order", "n": 3}) == 3
    assert [e["n"] for e in reopened.entries()] == [1, 2, 3]


def test_replay_starts_after_the_latest_snapshot(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for n in range(5):
        journal.append({"type": "order", "n": n})
    journal.write_snapshot(2, {"upto": 2})
    journal.write_snapshot(4, {"upto": 4})
    seq, state = journal.latest_snapshot() or (0, {})
    assert (seq, state) == (4, {"upto": 4})
    assert [e["n"] for e in journal.entries(seq)] == [4]


def test_a_second_writer_on_the_same_journal_is_refused(tmp_path: Path) -> None:
    from exchange.journal import JournalInUse

    first = Journal(tmp_path)
    with pytest.raises(JournalInUse):
        Journal(tmp_path)
    first.close()
    Journal(tmp_path).close()  # free again once the first has closed


def test_a_journal_of_an_earlier_order_format_is_refused_not_misread(tmp_path: Path) -> None:
    from exchange.balances import Balances
    from exchange.service import JOURNAL_FORMAT, ExchangeService, JournalFormatError
    from exchange.signing import Domain

    def service(directory: Path) -> ExchangeService:
        unread = Balances(lambda t, b: 0, lambda t: 0, lambda t: False)  # never consulted
        return ExchangeService(directory, Domain(31337, "0x" + "11" * 20), unread)

    old = Journal(tmp_path / "old")  # orders of format 1 signed no batch and no fee cap
    old.append({"type": "order", "otype": "limit", "signature": "0x" + "00" * 65, "order": {
        "trader": "0x" + "22" * 20, "side": 0, "instrument": 1, "price": 60_000,
        "quantity": 1_000_000, "time_in_force": 0, "nonce": 1, "expiry": 2**40,
        "client_order_id": "0x" + "00" * 32}})
    old.close()
    with pytest.raises(JournalFormatError, match="format 1"):
        service(tmp_path / "old")
    service(tmp_path / "new").close()
    journal = Journal(tmp_path / "new")
    assert next(journal.entries()) == {"seq": 1, "type": "format", "version": JOURNAL_FORMAT}
    journal.close()
    service(tmp_path / "new").close()  # and it opens again
