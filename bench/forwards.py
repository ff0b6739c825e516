"""Daily settlement of a forward contract with many open positions on a local anvil.

Starts its own anvil and deploys; admits `--positions` members (fresh keys), gives each cash and
margin, and records `--positions / 2` trades of one contract each between pairs (half at 6,010,
half at 5,990 fen/t, all in the VWAP window, so the day's price is 6,000 and every position
moves margin). Setup transactions are signed locally, sent without waiting and mined in
full blocks (automine off). Then the timed part, with automine on (one block per
transaction): the exchange posts the day's settlement price (recomputed by the contract) and settles
every holder, `--per-tx` holders a transaction. The last line is one JSON object: transactions,
gas per position (settleBatch gas / positions), the whole settlement's gas and wall time.

Run: .venv/bin/python bench/forwards.py [--positions N] [--per-tx K]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction

from chain.client import Chain
from devkit.local import local_registry
from devkit.scenario import doc
from registry.forwards import DAY, ForwardOrder, Forwards, ForwardTrade, Side
from tests.support.forwards import HOUR, goto, terms, today  # the tests' clock and terms

CID = 1
TRADES_PER_TX = 200


class Blaster:
    """Signs and sends transactions at locally counted nonces without waiting."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.nonces: dict[str, int] = {}
        self.hashes: list[HexBytes] = []

    def send(self, fn: ContractFunction, by: LocalAccount, gas: int = 300_000) -> None:
        w3 = self.chain.w3
        n = self.nonces.get(by.address)
        if n is None:
            n = int(w3.eth.get_transaction_count(by.address, "pending"))
        self.nonces[by.address] = n + 1
        tx: dict[str, Any] = fn.build_transaction({
            "from": by.address, "nonce": n, "gas": gas, "chainId": self.chain.chain_id,
            "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1})
        signed = Account.sign_transaction(tx, by.key)
        self.hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction))

    def drain(self) -> None:
        """Mines the pending transactions (automine is off during setup) and checks them."""
        while int(self.chain.w3.eth.get_block_transaction_count("pending")) > 0:
            self.chain.rpc("evm_mine")
        for h in self.hashes:
            r = self.chain.w3.eth.wait_for_transaction_receipt(h, timeout=600, poll_latency=0.01)
            assert r["status"] == 1, f"setup transaction {h.hex()} reverted"
        self.hashes.clear()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--positions", type=int, default=10_000)
    p.add_argument("--per-tx", type=int, default=2_000)
    args = p.parse_args()
    n = args.positions - args.positions % 2
    with local_registry() as (_node, ledger, acc):
        chain, fw = ledger.chain, Forwards(ledger)
        members = [Account.from_key(keccak(text=f"forward bench {i}")) for i in range(n)]
        d1 = today(chain) + 1
        fw.list_contract(acc["exchange"], CID, terms(1, (0, 2**40), d1 + 5, d1 + 9, size=1_000_000))
        b = Blaster(chain)
        consortium, cash = ledger.c("Consortium"), ledger.c("CashToken")
        market = ledger.c("ForwardMarket")
        t0 = time.perf_counter()
        chain.rpc("evm_setAutomine", False)
        for m in members:
            chain.rpc("anvil_setBalance", m.address, hex(10**20))
            b.send(consortium.functions.admit(m.address, "bench", bytes(32)), acc["governance"])
            b.send(cash.functions.deposit(m.address, 10_000, doc("wire")), acc["bank"])
        b.drain()
        for m in members:
            b.send(cash.functions.approve(fw.address, 10_000), m)
            b.send(market.functions.depositMargin(CID, 10_000), m)
        b.drain()
        goto(chain, d1 * DAY + 6 * HOUR + 600)
        trades = []
        for i in range(0, n, 2):
            buyer, seller = members[i], members[i + 1]
            price = 6_010 if i % 4 == 0 else 5_990
            bo = ForwardOrder(buyer.address, Side.BUY, CID, price, 1, i, 2**40)
            so = ForwardOrder(seller.address, Side.SELL, CID, price, 1, i, 2**40)
            bs = Account.unsafe_sign_hash(fw.order_digest(bo), buyer.key).signature
            ss = Account.unsafe_sign_hash(fw.order_digest(so), seller.key).signature
            trades.append(ForwardTrade(i + 1, price, 1, bo, bytes(bs), so, bytes(ss)))
        for k in range(0, len(trades), TRADES_PER_TX):
            chunk = [t.as_tuple() for t in trades[k:k + TRADES_PER_TX]]
            b.send(market.functions.recordTrades(chunk), acc["exchange"], gas=59_000_000)
        b.drain()
        chain.rpc("evm_setAutomine", True)
        setup = time.perf_counter() - t0
        assert len(fw.holders(CID)) == n
        goto(chain, d1 * DAY + 8 * HOUR)
        t1 = time.perf_counter()
        sent = fw.settle_day(acc["exchange"], CID, d1, per_tx=args.per_tx)
        wall = time.perf_counter() - t1
        batch_gas = sum(s.gas_used for s in sent[1:])
        first = fw.account(CID, members[0].address)
        assert fw.books(CID).clearing == 0 and first.margin == 10_000 - 10
        print(json.dumps({
            "positions": n, "per_tx": args.per_tx, "txs": len(sent),
            "blocks": len({s.block_number for s in sent}),
            "post_gas": sent[0].gas_used, "settle_gas": batch_gas,
            "gas_per_position": round(batch_gas / n),
            "max_tx_gas": max(s.gas_used for s in sent),
            "wall_s": round(wall, 3), "setup_s": round(setup, 1),
        }))


if __name__ == "__main__":
    main()
