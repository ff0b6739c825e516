"""The outbox: every signed transaction is on disk before it is broadcast, and what the chain
loses is sent again, once, in the order first sent; what can never land is said so.

Each test runs its own anvil on a state file (tests/support/chain_faults.py) so it can lose
blocks the way the embedded chain does: kill -9 before the next state dump, restart on the
same file."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chain.client import Chain
from chain.outbox import Entry, Outbox
from chain.reconcile import Reconciler, fate_of
from devkit.roster import dev_account
from tests.support.chain_faults import CrashableAnvil, payment


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[CrashableAnvil]:
    node = CrashableAnvil(tmp_path / "chain").start()
    try:
        yield node
    finally:
        node.stop()


def nonce(chain: Chain, who: str) -> int:
    return int(chain.w3.eth.get_transaction_count(who, "latest"))  # type: ignore[arg-type]


def in_a_process(target: Callable[..., None], *args: object) -> int:
    """Runs `target(*args)` in a forked process (a real separate process, without paying for
    a fresh interpreter's imports); returns its exit code."""
    proc = multiprocessing.get_context("fork").Process(target=target, args=args)
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode is not None, "the process did not finish"
    return proc.exitcode


def send_and_die_before_broadcast(url: str, outbox: Path) -> None:
    chain = Chain(url, outbox=Outbox(outbox))
    chain.w3.eth.send_raw_transaction = lambda raw: os._exit(9)  # type: ignore[method-assign]
    chain.send_raw(payment(chain, dev_account(5).address), dev_account(4), "payment")


def test_a_crash_between_append_and_broadcast_is_sent_once_by_the_replay(
        anvil: CrashableAnvil, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.db"
    assert in_a_process(send_and_die_before_broadcast, anvil.url, outbox) == 9
    chain = anvil.chain(outbox)
    [entry] = chain.outbox.entries() if chain.outbox else []
    sender = dev_account(4).address
    assert (entry.state, entry.purpose, nonce(chain, sender)) == ("sent", "payment", 0)
    assert chain.receipt(entry.tx_hash) is None  # the node never saw it

    report = Reconciler(chain).run_once(replay=True)
    assert report.resent == [entry.tx_hash]
    assert chain.receipt(entry.tx_hash) is not None and nonce(chain, sender) == 1


def test_running_the_reconciler_again_sends_nothing_twice(anvil: CrashableAnvil,
                                                          tmp_path: Path) -> None:
    chain = anvil.chain(tmp_path / "outbox.db")
    sender = dev_account(1)
    hashes = [chain.send_raw(payment(chain, dev_account(2)), sender, "payment")
              for _ in range(3)]
    chain.wait(hashes[-1])
    anvil.restart()  # the three blocks are lost
    assert nonce(chain, sender.address) == 0

    first = Reconciler(chain).run_once(replay=True)
    again = [Reconciler(chain, grace=0).run_once(replay=True) for _ in range(2)]
    assert first.resent == hashes
    assert [r.resent for r in again] == [[], []]
    assert nonce(chain, sender.address) == 3
    assert all(chain.receipt(h) is not None for h in hashes)


def test_lost_blocks_are_sent_again_in_their_order_so_dependent_ones_land(
        anvil: CrashableAnvil, tmp_path: Path) -> None:
    chain = anvil.chain(tmp_path / "outbox.db")
    funder, newcomer, payee = dev_account(1), dev_account(25), dev_account(2)
    assert chain.w3.eth.get_balance(newcomer.address) == 0
    funded = chain.send_raw(payment(chain, newcomer, 10**17), funder, "fund")
    chain.wait(funded)
    spent = chain.send_raw(payment(chain, payee), newcomer, "spend")  # needs the funding
    chain.wait(spent)
    anvil.restart()
    assert chain.receipt(funded) is None and chain.receipt(spent) is None

    report = Reconciler(chain).run_once(replay=True)
    assert report.rewound and report.resent == [funded, spent]
    assert [chain.wait(h).block_number for h in (funded, spent)] == [1, 2]
    # the Chain that sent them noticed the head going back and signs at the right nonce
    later = chain.send_raw(payment(chain, payee), funder, "later")
    assert chain.wait(later).block_number == 3


def test_a_superseded_nonce_is_dropped_and_its_owner_told(anvil: CrashableAnvil,
                                                          tmp_path: Path) -> None:
    chain = anvil.chain(tmp_path / "outbox.db")
    sender = dev_account(1)
    lost = chain.send_raw(payment(chain, dev_account(2)), sender, "exchange settle")
    chain.wait(lost)
    anvil.restart()
    # another process, knowing nothing of it, signs at the same nonce first
    other = Chain(anvil.url)
    taken = other.send_raw(payment(other, dev_account(3)), sender, "elsewhere")
    other.wait(taken)

    told: list[Entry] = []
    reconciler = Reconciler(chain)
    reconciler.listeners.append(told.append)
    report = reconciler.run_once(replay=True)
    assert [e.tx_hash for e in report.lost] == [lost] == [e.tx_hash for e in told]
    assert told[0].purpose == "exchange settle"
    fate = fate_of(chain, lost)
    assert (fate.state, fate.failed) == ("gone", True) and "dropped" in fate.detail
    assert chain.receipt(lost) is None and nonce(chain, sender.address) == 1


def test_an_entry_is_final_only_once_the_state_file_holds_its_block(
        anvil: CrashableAnvil, tmp_path: Path) -> None:
    chain = anvil.chain(tmp_path / "outbox.db", margin=0.2)
    tx = chain.send_raw(payment(chain, dev_account(2)), dev_account(1), "payment")
    chain.wait(tx)
    assert fate_of(chain, tx).state == "mined"
    time.sleep(0.3)
    assert fate_of(chain, tx).state == "mined"  # no dump since: a kill -9 would lose it
    anvil.save()
    assert fate_of(chain, tx).state == "final"
    anvil.restart()  # final means it survives
    assert chain.receipt(tx) is not None
    assert Reconciler(chain).run_once(replay=True).checked == 0


def test_a_chain_started_afresh_never_receives_the_old_chains_transactions(
        anvil: CrashableAnvil, tmp_path: Path) -> None:
    chain = anvil.chain(tmp_path / "outbox.db")
    tx = chain.send_raw(payment(chain, dev_account(2)), dev_account(1), "payment")
    chain.wait(tx)
    anvil.crash()
    anvil.erase()
    anvil.start(genesis_timestamp=int(time.time()) + 1_000)  # same port, another genesis
    fresh = anvil.chain(tmp_path / "outbox.db")
    assert Reconciler(fresh).run_once(replay=True).checked == 0
    assert fresh.receipt(tx) is None


def append_from_a_process(url: str, outbox: Path, seat: int, count: int) -> None:
    chain = Chain(url, outbox=Outbox(outbox))
    sender = dev_account(seat)
    for _ in range(count):
        chain.send_raw(payment(chain, dev_account(19).address), sender, f"process {seat}")


def test_several_processes_append_to_one_outbox(anvil: CrashableAnvil, tmp_path: Path) -> None:
    outbox, count, seats = tmp_path / "outbox.db", 15, (1, 2, 3, 4)
    procs = [multiprocessing.get_context("fork").Process(
        target=append_from_a_process, args=(anvil.url, outbox, seat, count)) for seat in seats]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    entries = Outbox(outbox).entries()
    assert len(entries) == len({e.tx_hash for e in entries}) == count * len(seats)
    assert [e.seq for e in entries] == sorted({e.seq for e in entries})
    for seat in seats:
        mine = [e for e in entries if e.purpose == f"process {seat}"]
        assert [e.nonce for e in mine] == list(range(count))  # each sender's order kept
    chain = anvil.chain(outbox)
    report = Reconciler(chain, grace=0).run_once()
    assert report.checked == count * len(seats) and report.resent == [] and not report.lost
