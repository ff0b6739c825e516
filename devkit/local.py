"""Throw-away local registries for benchmarks and tools: a fresh anvil with the contracts
deployed and the development consortium admitted, and funded trading accounts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.compile import compile_contracts
from chain.deploy import deploy_all, error_abis
from chain.node import AnvilNode
from chain.outbox import Outbox
from devkit.roster import bootstrap_roster, dev_account, dev_accounts
from devkit.scenario import doc
from registry.ledger import Ledger


@contextmanager
def local_registry(outbox: Path | None = None, node_args: tuple[str, ...] = ()
                   ) -> Iterator[tuple[AnvilNode, Ledger, dict[str, LocalAccount]]]:
    """(node, ledger, development accounts by seat) on a fresh anvil (started with extra
    `node_args`, e.g. `--steps-tracing` for opcode traces), stopped afterwards; with `outbox`,
    every transaction is appended there before it is sent, as in the product."""
    artifacts = compile_contracts()
    acc = dev_accounts()
    with AnvilNode(state_file=None, extra_args=node_args) as node:
        chain = Chain(node.url, error_abis(artifacts),
                      outbox=Outbox(outbox) if outbox is not None else None)
        deployment = deploy_all(chain, acc["governance"], threshold=2,
                                base_uri="tanhui://batch/{id}", artifacts=artifacts)
        ledger = Ledger(chain, deployment)
        bootstrap_roster(ledger, acc)
        yield node, ledger, acc


def fund_traders(ledger: Ledger, acc: dict[str, LocalAccount], batch: int, credits_each: int,
                 cash_each: int, n: int = 10) -> tuple[list[LocalAccount], list[LocalAccount]]:
    """`n` sellers holding `credits_each` of `batch` and `n` buyers holding `cash_each` fen,
    admitted, given gas and approved for settlement (listing is the caller's: an instrument id
    is listed once)."""
    from exchange.onchain import SettlementChain

    sc = SettlementChain(ledger)
    sellers = [dev_account(20 + i) for i in range(n)]
    buyers = [dev_account(20 + n + i) for i in range(n)]
    for a in sellers + buyers:
        ledger.admit(acc["governance"], a.address, f"bench trader {a.address[:8]}")
        ledger.chain.rpc("anvil_setBalance", a.address, hex(10**20))
    for a in sellers:
        ledger.transfer(acc["developer"], a.address, batch, credits_each)
    for a in buyers:
        sc.deposit(acc["bank"], a.address, cash_each, doc("bench deposit"))
    for a in sellers + buyers:
        sc.approve_trading(a)
    return sellers, buyers
