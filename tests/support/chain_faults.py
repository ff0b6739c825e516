"""Test helpers for a chain that loses blocks (this module holds no tests).

The embedded chain's real failure: anvil keeps blocks in memory and its state is written to the
durable file every `state_interval` seconds (chain/state.py), so kill -9 loses what was mined
since the last dump, and a restart on the same files comes back with the head lower.
`CrashableAnvil` makes that deterministic: a long interval means no dump happens by itself
during a test (only the one a new chain gets at its first start); `save()` dumps (a clean stop
and start), `crash()` is the kill -9, `restart()` starts again on the same files and port (so a
`Chain` that was talking to it keeps its URL and must notice the head moved back).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.client import Chain, Finality
from chain.node import AnvilNode, free_port
from chain.outbox import Outbox
from chain.state import durable_state_file


class CrashableAnvil:
    def __init__(self, directory: Path, state_interval: int = 3600) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.state_file = directory / "anvil-state.json"
        self.port = free_port()
        self.state_interval = state_interval
        self.node: AnvilNode | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, genesis_timestamp: int | None = None) -> CrashableAnvil:
        """Starts on the state files; a new chain is dumped at once, so the genesis is on disk
        (a restart after a crash is the same chain, only shorter)."""
        extra = ("--timestamp", str(genesis_timestamp)) if genesis_timestamp else ()
        self.node = AnvilNode(self.state_file, port=self.port,
                              state_interval=self.state_interval, extra_args=extra).start()
        return self

    @property
    def durable_file(self) -> Path:
        return durable_state_file(self.state_file)

    def erase(self) -> None:
        """Deletes every state file: the next start is a new chain."""
        self.state_file.unlink(missing_ok=True)
        self.durable_file.unlink(missing_ok=True)

    def save(self) -> None:
        """Everything mined so far is on disk (anvil dumps its state when stopped cleanly)."""
        assert self.node is not None
        self.node.stop()
        self.start()

    def crash(self) -> None:
        """kill -9: what was mined since the last dump is gone."""
        assert self.node is not None and self.node._proc is not None
        proc = self.node._proc
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.node = None

    def restart(self) -> None:
        if self.node is not None:
            self.crash()
        self.start()

    def stop(self) -> None:
        if self.node is not None:
            self.node.stop()
            self.node = None

    def chain(self, outbox: Path | None, margin: float = 1.0) -> Chain:
        """A Chain on this node; with an outbox, final only once the durable file holds a
        block."""
        return Chain(self.url, outbox=Outbox(outbox) if outbox is not None else None,
                     finality=Finality(0, self.durable_file, margin))


def payment(chain: Chain, to: LocalAccount | str, wei: int = 10**15) -> dict[str, object]:
    """A plain value transfer (no contracts needed to lose and restore it)."""
    address = to if isinstance(to, str) else to.address
    return {"to": address, "value": wei, "gas": 21_000, "gasPrice": chain.w3.eth.gas_price,
            "chainId": chain.chain_id}


def children(pid: int, name: str) -> list[int]:
    """Process ids of `pid`'s children whose command name starts with `name` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid and comm.startswith(name):
            found.append(int(entry.name))
    return found
