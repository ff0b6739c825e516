"""Indexer throughput: events per second from a fresh database to the chain head.

Starts its own anvil, deploys the contracts, admits the development consortium, issues a batch
and makes 10,000 transfers of it (signed locally and sent without waiting for each receipt;
one block each under automine, the costliest shape for a block-range reader). Then times one
`Indexer.sync()` into a new SQLite database (or --db URL). The last line of output is one JSON
object:

    {"events": …, "seconds": …, "events_per_s": …, "blocks": …, "transfers": …, …}

Target: events_per_s >= 2,000 into SQLite.

Run: .venv/bin/python bench/indexer.py [--transfers N] [--batch-blocks N] [--db URL]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector

from chain.client import Chain
from chain.compile import compile_contracts
from chain.deploy import Deployment, deploy_all, error_abis
from chain.node import AnvilNode
from core.db import make_engine, migrate, session_factory
from devkit.roster import bootstrap_roster, dev_accounts
from devkit.scenario import Scenario
from registry.indexer import Indexer
from registry.ledger import Ledger
from registry.queries import sql_invariants

TONNE = 1_000_000
TARGET = 2_000
TRANSFER_GAS = 120_000


def make_transfers(
    chain: Chain, deployment: Deployment, batch_id: int, n: int, per_block: int = 1
) -> None:
    """`n` developer -> trader transfers: calldata encoded directly, signed locally and sent
    back to back; only the last receipt is waited for. With `per_block` > 1, automine is off
    and a block is mined every `per_block` transactions (a busy chain's shape)."""
    acc = dev_accounts()
    dev = acc["developer"]
    traders = [acc[k].address for k in ("trader1", "trader2", "trader3")]
    credits = deployment.address("CarbonCredits")
    selector = function_signature_to_4byte_selector(
        "safeTransferFrom(address,address,uint256,uint256,bytes)"
    )
    types = ["address", "address", "uint256", "uint256", "bytes"]
    gas_price = int(chain.w3.eth.gas_price)
    if per_block > 1:
        chain.rpc("evm_setAutomine", False)
    last = ""
    for i in range(n):
        args = [dev.address, traders[i % 3], batch_id, 1_000 + i, b""]
        tx: dict[str, Any] = {
            "to": credits,
            "data": "0x" + (selector + abi_encode(types, args)).hex(),
            "value": 0,
            "gas": TRANSFER_GAS,
            "gasPrice": gas_price,
            "chainId": chain.chain_id,
        }
        last = chain.send_raw(tx, dev)
        if per_block > 1 and (i + 1) % per_block == 0:
            chain.rpc("evm_mine")
    if per_block > 1:
        chain.rpc("evm_mine")
        chain.rpc("evm_setAutomine", True)
    sent = chain.wait(last, timeout=600)
    assert sent.receipt["status"] == 1


def measure(
    transfers: int, batch_blocks: int, db_url: str | None, per_block: int = 1
) -> dict[str, Any]:
    artifacts = compile_contracts()
    acc = dev_accounts()
    # Historical states are not needed (logs and blocks are kept); without pruning, anvil slows
    # down block by block over ten thousand blocks.
    node = AnvilNode(state_file=None, extra_args=("--prune-history", "64"))
    with node, tempfile.TemporaryDirectory() as tmp:
        chain = Chain(node.url, error_abis(artifacts))
        deployment = deploy_all(chain, acc["governance"], threshold=2,
                                base_uri="tanhui://batch/{id}", artifacts=artifacts)
        ledger = Ledger(chain, deployment)
        bootstrap_roster(ledger, acc)
        batch = Scenario(ledger, acc).batch(quantity=1_000_000 * TONNE)

        started = time.monotonic()
        make_transfers(chain, deployment, batch.batch_id, transfers, per_block)
        setup_seconds = time.monotonic() - started

        url = db_url or f"sqlite:///{Path(tmp) / 'bench-index.db'}"
        migrate(url)
        engine = make_engine(url)
        indexer = Indexer(chain, deployment, engine, batch_blocks=batch_blocks)
        head = int(chain.w3.eth.block_number)
        started = time.monotonic()
        events = indexer.sync()
        seconds = time.monotonic() - started
        with session_factory(engine)() as session:
            violations = sql_invariants(session)
        engine.dispose()
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1),
        "blocks": head - deployment.block + 1,
        "transfers": transfers,
        "transfers_per_block": per_block,
        "batch_blocks": batch_blocks,
        "database": url.split(":", 1)[0],
        "invariants_ok": violations == [],
        "setup_seconds": round(setup_seconds, 1),
        "target_events_per_s": TARGET,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--transfers", type=int, default=10_000)
    p.add_argument("--batch-blocks", type=int, default=2_000)
    p.add_argument("--per-block", type=int, default=1,
                   help="transfers per block (1: automine, one block per transaction)")
    p.add_argument("--db", default=None, help="database URL (default: a new SQLite file)")
    args = p.parse_args()
    result = measure(args.transfers, args.batch_blocks, args.db, args.per_block)
    print(json.dumps(result))
    return 0 if result["invariants_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
