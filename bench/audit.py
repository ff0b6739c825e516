"""Chain-only audit time over a long chain: 100,000 events in at most 60 s.

Starts its own anvil (history pruned), deploys the contracts, admits
the development consortium, issues a few batches and makes `--transfers` transfers among the
traders. The fast path for making them: the senders are impersonated (anvil signs nothing and
neither do we), automine is off, and the transactions go as JSON-RPC batches of `--per-request`
calls, one block mined every `--per-block`. Then only the audit is timed: every log read with
eth_getLogs, folded, and every named invariant checked against the chain's views
(registry.audit). The last line of output is one JSON object:

    {"events": …, "seconds": …, "events_per_s": …, "ok": true, "target_seconds": 60, …}

Run: .venv/bin/python bench/audit.py [--transfers 100000] [--per-block 400]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector

from chain.client import Chain
from chain.compile import compile_contracts
from chain.deploy import Deployment, deploy_all, error_abis
from chain.node import AnvilNode
from devkit.roster import bootstrap_roster, dev_accounts
from devkit.scenario import Scenario
from registry.audit import Auditor
from registry.ledger import Ledger

TONNE = 1_000_000
TARGET_SECONDS = 60
GAS = 120_000
SEATS = ("developer", "trader1", "trader2", "trader3")


def make_transfers(chain: Chain, deployment: Deployment, batches: list[int], n: int,
                   per_block: int, per_request: int) -> None:
    """`n` transfers: the developer hands each trader a stock of every batch, then the traders
    pass small amounts round among themselves (so balances move in every direction)."""
    acc = dev_accounts()
    addresses: list[str] = [str(acc[s].address) for s in SEATS]
    selector = function_signature_to_4byte_selector(
        "safeTransferFrom(address,address,uint256,uint256,bytes)")
    types = ["address", "address", "uint256", "uint256", "bytes"]
    credits = deployment.address("CarbonCredits")
    for a in addresses:
        chain.rpc("anvil_impersonateAccount", a)
    chain.rpc("evm_setAutomine", False)
    calls: list[dict[str, Any]] = []
    nonces = {a: int(chain.rpc("eth_getTransactionCount", a, "pending"), 16) for a in addresses}

    def tx(i: int, frm: str, to: str, batch: int, amount: int) -> dict[str, Any]:
        data = selector + abi_encode(types, [frm, to, batch, amount, b""])
        nonce = nonces[frm]
        nonces[frm] += 1
        return {"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction",
                "params": [{"from": frm, "to": credits, "gas": hex(GAS), "nonce": hex(nonce),
                            "data": "0x" + data.hex()}]}

    for i, b in enumerate(batches):
        for j, trader in enumerate(addresses[1:]):
            calls.append(tx(i * 3 + j, addresses[0], trader, b, 100_000 * TONNE))
    traders = addresses[1:]
    for i in range(len(calls), n):
        calls.append(tx(i, traders[i % 3], traders[(i + 1) % 3], batches[i % len(batches)],
                        1 + i % 997))
    with httpx.Client(timeout=600) as http:
        in_block = 0
        for start in range(0, len(calls), per_request):
            part = calls[start:start + per_request]
            answers = http.post(chain.url, json=part).json()
            bad = [a for a in answers if "error" in a]
            if bad:
                raise RuntimeError(f"transfer refused: {bad[0]['error']}")
            in_block += len(part)
            if in_block >= per_block:
                chain.rpc("evm_mine")
                in_block = 0
    chain.rpc("evm_mine")
    chain.rpc("evm_setAutomine", True)


def measure(transfers: int, per_block: int, per_request: int, batches: int,
            page_blocks: int) -> dict[str, Any]:
    artifacts = compile_contracts()
    acc = dev_accounts()
    node = AnvilNode(state_file=None, extra_args=("--prune-history", "64"))
    with node:
        chain = Chain(node.url, error_abis(artifacts))
        deployment = deploy_all(chain, acc["governance"], threshold=2,
                                base_uri="tanhui://batch/{id}", artifacts=artifacts)
        ledger = Ledger(chain, deployment)
        bootstrap_roster(ledger, acc)
        s = Scenario(ledger, acc)
        first = s.batch(quantity=1_000_000 * TONNE)
        ids = [first.batch_id] + [s.batch(quantity=1_000_000 * TONNE,
                                          project_id=first.project_id).batch_id
                                  for _ in range(batches - 1)]
        started = time.monotonic()
        make_transfers(chain, deployment, ids, transfers, per_block, per_request)
        setup = time.monotonic() - started

        started = time.monotonic()
        report = Auditor(chain, deployment, page_blocks=page_blocks).audit()
        seconds = time.monotonic() - started
    return {
        "events": report.events,
        "seconds": round(seconds, 3),
        "events_per_s": round(report.events / seconds, 1),
        "ok": report.ok,
        "failures": [f.line() for f in report.failures][:5],
        "blocks": report.head - deployment.block + 1,
        "transfers": transfers,
        "transfers_per_block": per_block,
        "batches": batches,
        "page_blocks": page_blocks,
        "setup_seconds": round(setup, 1),
        "target_seconds": TARGET_SECONDS,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--transfers", type=int, default=100_000)
    p.add_argument("--per-block", type=int, default=400)
    p.add_argument("--per-request", type=int, default=500)
    p.add_argument("--batches", type=int, default=5)
    p.add_argument("--page-blocks", type=int, default=20)
    args = p.parse_args()
    result = measure(args.transfers, args.per_block, args.per_request, args.batches,
                     args.page_blocks)
    print(json.dumps(result))
    return 0 if result["ok"] and result["seconds"] <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
