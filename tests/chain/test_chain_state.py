"""The embedded chain's state on disk is never torn: a state file that the next start relies on
is always a complete dump, and the newest complete dump is what it loads. A kill -9 of the node
(or a power cut) while a dump is being written costs at most the blocks since the previous dump,
which the outbox sends again; never the chain, its genesis or the deployment. Real anvil, real
`tanhui up` wiring (`embedded_node`, `Runtime.start`, the outbox replay)."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chain.reconcile import Reconciler
from chain.state import StateSaver
from core.config import Settings
from devkit.roster import dev_account, dev_accounts
from registry.categories import SinkCategory
from tanhui.durable import durable_chain, finality, replay_outbox
from tanhui.services import Runtime, embedded_node
from tests.support.chain_faults import CrashableAnvil, payment
from tests.support.chain_state import (
    Payments,
    dumped_transactions,
    files_anvil_writes,
    grow_state,
    has_grown_state,
    kill_during_a_dump,
    load_dump,
    rpc,
    state_files,
)


def settings(data: Path) -> Settings:
    return Settings(data_dir=data, rpc_url=None,  # type: ignore[call-arg]
                    database_url=f"sqlite:///{data}/t.db", _env_file=None)


def durable_file(data: Path) -> Path:
    """The file the outbox's finality rule watches: the one that must always be whole."""
    path = finality(settings(data)).durable_file
    assert path is not None
    return path


def wait_for_a_dump_after(data: Path, moment: float, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while durable_file(data).stat().st_mtime <= moment + 1.0:
        assert time.monotonic() < deadline, "no state dump"
        time.sleep(0.05)


def register(rt: Runtime, code: str) -> None:
    rt.ledger.register_methodology(dev_accounts()["operator"], code, code, b"\x01" * 32,
                                   b"\x02" * 32, 500, SinkCategory.MANGROVE)


def methodologies(rt: Runtime) -> int:
    count: int = rt.chain.call(rt.ledger.c("MethodologyRegistry").functions.methodologyCount())
    return count


def test_a_torn_exit_dump_restarts_from_the_newest_complete_dump_with_the_deployment(
        tmp_path: Path) -> None:
    rt = Runtime.start(settings(tmp_path))
    try:
        addresses = {n: c.address for n, c in rt.deployment.contracts.items()}
        genesis = rpc(rt.chain.url, "eth_getBlockByNumber", "0x0", False)["hash"]
        register(rt, "DUMPED-1")
        wait_for_a_dump_after(tmp_path, time.time())
        register(rt, "ACKED-2")  # acknowledged; most likely after the last dump
        assert rt.node is not None
        torn = files_anvil_writes(rt.node)
    finally:
        rt.stop()  # anvil dumps on exit ...
    for path in torn:  # ... and is killed halfway through that write
        os.truncate(path, path.stat().st_size // 2)

    rt = Runtime.start(settings(tmp_path))  # the outbox replay restores what came after
    try:
        assert rpc(rt.chain.url, "eth_getBlockByNumber", "0x0", False)["hash"] == genesis
        assert {n: c.address for n, c in rt.deployment.contracts.items()} == addresses
        assert methodologies(rt) == 2
    finally:
        rt.stop()


def test_a_node_killed_during_its_dumps_restarts_with_every_final_transaction(
        tmp_path: Path) -> None:
    s = settings(tmp_path)
    node = embedded_node(s).start()
    genesis = rpc(node.url, "eth_getBlockByNumber", "0x0", False)["hash"]
    grow_state(node.url)
    everything: list[str] = []
    caught = 0
    for _ in range(3):
        chain = durable_chain(node.url, (), s)
        with Payments(chain) as payments:
            time.sleep(2.2)  # a dump or two with payments in them
            caught += kill_during_a_dump(node, timeout=3)
        final = [p.tx_hash for p in payments.seen
                 if chain.finality.is_final(p.block_number, p.block_number, p.seen_at)]
        everything += [p.tx_hash for p in payments.seen]
        assert final, "nothing became final"

        node = embedded_node(s).start()  # the newest complete dump
        assert rpc(node.url, "eth_getBlockByNumber", "0x0", False)["hash"] == genesis
        assert has_grown_state(node.url)
        restarted = durable_chain(node.url, (), s)
        assert [h for h in final if restarted.receipt(h) is None] == []
        replay_outbox(node, s)  # and the outbox brings back what was acknowledged after it
        assert [h for h in everything if restarted.receipt(h) is None] == []
    node.stop()
    assert caught == 3  # every kill hit a dump being written


def test_every_restart_serves_the_same_genesis_block(tmp_path: Path) -> None:
    """(Each start of anvil on a state file makes a genesis block of its own, which its dumps
    keep; the outbox tells chains apart by their genesis hash.)"""
    s = settings(tmp_path)
    node = embedded_node(s).start()
    genesis = rpc(node.url, "eth_getBlockByNumber", "0x0", False)["hash"]
    served = []
    for _ in range(6):
        rpc(node.url, "evm_mine")
        node.stop()
        time.sleep(1.0)  # the next start's own genesis block has another timestamp
        node = embedded_node(s).start()
        served.append(rpc(node.url, "eth_getBlockByNumber", "0x0", False)["hash"])
    node.stop()
    assert served == [genesis] * 6


def test_the_durable_state_file_is_replaced_whole_never_written_in_place(
        tmp_path: Path) -> None:
    s = settings(tmp_path)
    node = embedded_node(s).start()
    try:
        grow_state(node.url)
        path = durable_file(tmp_path)
        inodes, torn, last = set(), [], None
        with Payments(durable_chain(node.url, (), s)):
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                now = state_files(tmp_path).get(path.name)
                if now is not None and now != last:
                    last = now
                    try:
                        load_dump(path)
                        inodes.add(now[0])
                    except ValueError as exc:
                        torn.append(f"{now}: {exc}")
                time.sleep(0.0005)
        assert torn == []  # whenever it changed, it was whole
        assert len(inodes) >= 3  # a new file for each dump
    finally:
        node.stop()


def test_a_transaction_is_final_only_once_a_complete_dump_holding_it_is_on_disk(
        tmp_path: Path) -> None:
    s = settings(tmp_path)
    node = embedded_node(s).start()
    try:
        grow_state(node.url)
        chain = durable_chain(node.url, (), s)
        path = durable_file(tmp_path)
        for i in range(2):
            with Payments(chain, seat=1 + i) as payments:
                while not payments.seen:
                    time.sleep(0.01)
            first = payments.seen[0]
            assert not chain.finality.is_final(first.block_number, first.block_number,
                                               first.seen_at)
            deadline = time.monotonic() + 10
            while not chain.finality.is_final(first.block_number, first.block_number,
                                              first.seen_at):
                assert time.monotonic() < deadline, "never final"
                time.sleep(0.0005)
            # the moment it counts as final, the file holds it, whole
            assert first.tx_hash in dumped_transactions(load_dump(path))
    finally:
        node.stop()


def dump_of(answer: object) -> dict[str, Any]:
    assert isinstance(answer, str)
    state: dict[str, Any] = json.loads(gzip.decompress(bytes.fromhex(answer.removeprefix("0x"))))
    return state


BLOCK_PARTS = ("block", "best_block_number", "blocks", "transactions")


def save_while_a_payment_is_mined(
        anvil: CrashableAnvil,
        answer_with: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]) -> str:
    """One `StateSaver.save()` during which a payment is acknowledged: its first dump is
    `answer_with(dump before the payment, dump after it)`, as anvil would answer had the
    payment's block been mined while it was dumping; the payment's hash."""
    chain = anvil.chain(anvil.state_file.parent / "outbox.db")
    sender, payee = dev_account(1), dev_account(11)
    chain.wait(chain.send_raw(payment(chain, payee), sender, "payment"))
    saver = StateSaver(anvil.url, anvil.durable_file, interval=3600)
    answer = saver._rpc
    acknowledged: list[str] = []

    def dumping_while_mining(method: str, *params: object) -> object:
        if method != "anvil_dumpState" or acknowledged:
            return answer(method, *params)
        before = dump_of(answer(method))
        acknowledged.append(chain.send_raw(payment(chain, payee), sender, "payment"))
        chain.wait(acknowledged[0])
        after = dump_of(answer(method))
        return "0x" + gzip.compress(json.dumps(answer_with(before, after)).encode()).hex()

    saver._rpc = dumping_while_mining  # type: ignore[method-assign]
    try:
        saver.save()
    finally:
        saver.stop()
    assert chain.outbox is not None
    chain.outbox.close()
    return acknowledged[0]


def test_a_dump_whose_accounts_are_past_its_blocks_never_becomes_the_durable_file(
        tmp_path: Path) -> None:
    """anvil reads its blocks and transactions, then its accounts, and mines in between: a
    start from such a dump would count the payment in its sender's nonce without its receipt,
    so the outbox could neither find it nor send it again."""
    anvil = CrashableAnvil(tmp_path).start()
    try:
        paid = save_while_a_payment_is_mined(
            anvil, lambda before, after: {**after, **{k: before[k] for k in BLOCK_PARTS}})
        anvil.restart()  # kill -9, and a start from the durable file
        restarted = anvil.chain(tmp_path / "outbox.db")
        Reconciler(restarted).run_once(replay=True)
        assert restarted.receipt(paid) is not None
    finally:
        anvil.stop()


def test_a_dump_that_holds_its_blocks_is_written_though_blocks_followed_it(
        tmp_path: Path) -> None:
    anvil = CrashableAnvil(tmp_path).start()
    try:
        before = anvil.durable_file.stat().st_mtime_ns
        paid = save_while_a_payment_is_mined(anvil, lambda before, after: before)
        assert anvil.durable_file.stat().st_mtime_ns > before  # the first dump, as it was
        assert paid not in dumped_transactions(load_dump(anvil.durable_file))
    finally:
        anvil.stop()


pytestmark = pytest.mark.timeout(300)
