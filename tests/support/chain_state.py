"""Test helpers for the embedded chain's state on disk (this module holds no tests).

A state dump of a small chain is written in microseconds, too fast to catch anyone in the act.
`grow_state` gives the chain a few megabytes of contract code (what thousands of transactions
would leave), so a dump takes long enough to be killed, read or watched mid-write. `Payments`
keeps value transfers flowing from a thread, recording when each receipt was seen (the outbox's
durability clock).
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import os
import signal
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chain.client import Chain
from chain.node import AnvilNode
from devkit.roster import dev_account
from tests.support.chain_faults import payment

CODE_ACCOUNTS = 6  # 1 MB of code each: a dump of about 12 MB
CODE = (bytes(range(256)) * 4096)[:1_000_000]


def rpc(url: str, method: str, *params: object) -> Any:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                   "params": list(params)}, timeout=60).json()
    assert "error" not in answer, answer
    return answer["result"]


def code_account(i: int) -> str:
    return "0x" + f"{0xC0DE0000 + i:040x}"


def grow_state(url: str) -> None:
    """Installs CODE at CODE_ACCOUNTS addresses and mines a block, so the next dump holds it."""
    for i in range(CODE_ACCOUNTS):
        rpc(url, "anvil_setCode", code_account(i), "0x" + CODE.hex())
    rpc(url, "evm_mine")


def has_grown_state(url: str) -> bool:
    return all(rpc(url, "eth_getCode", code_account(i), "latest") == "0x" + CODE.hex()
               for i in range(CODE_ACCOUNTS))


def load_dump(path: Path) -> dict[str, Any]:
    """The state a dump file holds (gzip'd or not); ValueError when it is not one whole dump."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(f"torn gzip: {exc}") from None
    state = json.loads(raw)
    if not isinstance(state, dict) or "accounts" not in state:
        raise ValueError("not an anvil state dump")
    return state


def dumped_transactions(state: dict[str, Any]) -> set[str]:
    return {t["info"]["transaction_hash"] for t in state["transactions"]}


def files_anvil_writes(node: AnvilNode) -> list[Path]:
    """The state files on the node's command line (anvil writes them itself, in place)."""
    cmd = node.command()
    return [Path(value) for flag, value in itertools.pairwise(cmd)
            if flag in ("--state", "--dump-state")]


def state_files(directory: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, size, mtime) of every chain state file in `directory`, temporary ones included."""
    found = {}
    for entry in os.scandir(directory):
        if "anvil-state" in entry.name:
            with contextlib.suppress(FileNotFoundError):
                st = entry.stat()
                found[entry.name] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return found


def kill_during_a_dump(node: AnvilNode, timeout: float) -> bool:
    """kill -9 of the node the moment a chain state file in its directory changes (a dump is
    being written), or after `timeout`; True if it was caught in a dump."""
    assert node.state_file is not None and node._proc is not None
    directory = node.state_file.parent
    before = state_files(directory)
    deadline = time.monotonic() + timeout
    caught = False
    while time.monotonic() < deadline:
        if state_files(directory) != before:
            caught = True
            break
        time.sleep(0.0005)
    os.killpg(node._proc.pid, signal.SIGKILL)
    node._proc.wait()
    node._proc = None
    node.stop()  # what is left of it (the PID record, a saving thread)
    return caught


@dataclass(frozen=True)
class Seen:
    tx_hash: str
    block_number: int
    seen_at: float


class Payments:
    """Value transfers sent one after the other from a thread until stopped (or the node
    goes), each through the outbox of `chain`."""

    def __init__(self, chain: Chain, seat: int = 1) -> None:
        self.chain = chain
        self.sender = dev_account(seat)
        self.payee = dev_account(seat + 10)
        self.seen: list[Seen] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                tx = self.chain.send_raw(payment(self.chain, self.payee), self.sender, "payment")
                sent = self.chain.wait(tx, timeout=10)
            except Exception:  # the node was killed
                return
            self.seen.append(Seen(tx, sent.block_number,
                                  self.chain.first_seen(tx, sent.block_number)))

    def __enter__(self) -> Payments:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
