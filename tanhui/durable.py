"""Durable sending, wired from settings: the data directory's outbox and the chain's finality.

Every process of one installation (`tanhui up`, `tanhui exchange run`, oracle nodes, the CLI)
signs through a `Chain` built here, so each transaction is in `<data dir>/outbox.db` before it
is broadcast (chain/outbox.py). Finality: on the embedded anvil a block is final once a complete
state dump holding it is on disk (the durable state file is written whole every second and a
kill -9 loses what came after the last one, chain/state.py); on an external chain after
`TANHUI_CONFIRMATIONS` blocks (0 on a chain with finality, such as Besu QBFT).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chain.client import Chain, Finality
from chain.node import AnvilNode
from chain.outbox import Outbox
from chain.reconcile import Reconciler, Report
from chain.state import durable_state_file
from core.config import Settings

ANVIL_STATE_FILE = "anvil-state.json"  # anvil's working file (tanhui/services.py); beside it
# the durable one, anvil-state.json.gz, which is always a complete dump
OUTBOX_FILE = "outbox.db"


def outbox_path(settings: Settings) -> Path:
    return settings.data_dir / OUTBOX_FILE


def finality(settings: Settings) -> Finality:
    if settings.embedded_chain:
        return Finality(settings.confirmations,
                        durable_state_file(settings.data_dir / ANVIL_STATE_FILE))
    return Finality(settings.confirmations)


def durable_chain(url: str, error_abis: Iterable[list[dict[str, Any]]],
                  settings: Settings) -> Chain:
    """A Chain that appends every transaction it signs to the data directory's outbox."""
    return Chain(url, error_abis, outbox=Outbox(outbox_path(settings)),
                 finality=finality(settings))


def replay_outbox(node: AnvilNode, settings: Settings) -> Report:
    """Right after the embedded anvil started, before anything is served or signed: what it
    lost since its last state dump (acknowledged transfers, settlements, attestations) is sent
    again, in the order first sent, and waited for. If that fails the node is stopped."""
    chain = durable_chain(node.url, (), settings)
    try:
        return Reconciler(chain).run_once(replay=True)
    except BaseException:
        node.stop()
        raise
    finally:
        assert chain.outbox is not None
        chain.outbox.close()
