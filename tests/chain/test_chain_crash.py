"""kill -9 of the embedded chain node under a running `tanhui up`, while trades settle and
transfers are acknowledged: its state is saved once a second, so the last blocks are lost.
After a restart of the stack nothing acknowledged is lost: every trade is settled on chain
exactly once (or pending/failed with a reason, never `settled` without a receipt), every
acknowledged transfer is on chain (sent again with the same bytes) or reported lost, and
replaying its Idempotency-Key answers accordingly, every time."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain.node import AnvilNode
from chain.state import durable_state_file
from core.config import Settings
from devkit.roster import dev_accounts
from exchange.onchain import SettlementChain
from tanhui.services import connect
from tests.support.chain_faults import children
from tests.support.processes import stack_env, start, stocked_market, stop, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
T = 1_000_000
PRICE = 60_000
INSTRUMENT = 1

sys.path.insert(0, str(ROOT / "examples"))
from trader_client import TraderClient  # noqa: E402


def up(env: dict[str, str]) -> subprocess.Popen[str]:
    proc = start(["up"], env)
    wait_healthy(f"http://127.0.0.1:{env['TANHUI_API_PORT']}", proc)
    return proc


def transfer(http: httpx.Client, key: str, batch: int) -> httpx.Response:
    return http.post("/v1/transfers", json={"to": dev_accounts()["trader3"].address,
                                            "batch_id": batch, "amount": "1"},
                     headers={"Idempotency-Key": key}, timeout=60)


def survived(durable: Path, tx_hashes: list[str]) -> list[bool]:
    """Which transactions a copy of the durable state file holds (a throw-away anvil on it)."""
    inspect = durable.parent / "inspect"
    inspect.mkdir()
    copy = inspect / "anvil-state.json"
    shutil.copy(durable, durable_state_file(copy))
    with AnvilNode(copy) as node:
        out = []
        for h in tx_hashes:
            r = httpx.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method":
                                           "eth_getTransactionReceipt", "params": [h]})
            out.append(r.json()["result"] is not None)
    shutil.rmtree(inspect)
    return out


def settled_trade(buyer: TraderClient, order_id: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        [trade] = buyer.order_status(order_id)["trades"]
        if trade["settlement"] == "settled":
            return trade
        assert time.monotonic() < deadline, "the trade did not settle"
        time.sleep(0.01)


def test_a_killed_chain_node_loses_no_acknowledged_transfer_or_settlement(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = stack_env(data)
    api = f"http://127.0.0.1:{env['TANHUI_API_PORT']}"
    stack = up(env)
    try:
        batch, keys = stocked_market(data)
        r = httpx.post(api + "/v1/exchange/instruments",
                       headers={"Authorization": f"Bearer {keys['exchange']}"},
                       json={"instrument": INSTRUMENT, "batch_id": batch,
                             "reference_price": PRICE}, timeout=30)
        assert r.status_code == 201, r.text
        acc = dev_accounts()
        seller = TraderClient(api, acc["trader1"].key.hex())
        buyer = TraderClient(api, acc["trader2"].key.hex())
        developer = httpx.Client(base_url=api,
                                 headers={"Authorization": f"Bearer {keys['developer']}"})
        orders: list[int] = []
        acked: dict[str, dict[str, Any]] = {}  # Idempotency-Key → the 201 answer

        def trade_and_transfer(i: int) -> dict[str, Any]:
            seller.place(seller.order("sell", INSTRUMENT, PRICE, T, nonce=2 * i))
            placed = buyer.place(buyer.order("buy", INSTRUMENT, PRICE, T, nonce=2 * i + 1))
            orders.append(placed["order_id"])
            return placed

        for i in range(4):
            trade_and_transfer(i)
            r = transfer(developer, f"transfer-{i}", batch)
            assert r.status_code == 201, r.text
            acked[f"transfer-{i}"] = r.json()
        # right after a state dump, a transfer is acknowledged and a trade settles; the node
        # dies the moment the settlement is journaled, most likely before its next dump
        [anvil] = children(stack.pid, "anvil")
        state = durable_state_file(data / "anvil-state.json")
        dumped = state.stat().st_mtime
        while state.stat().st_mtime == dumped:
            time.sleep(0.01)
        last = trade_and_transfer(4)
        r = transfer(developer, "transfer-last", batch)
        assert r.status_code == 201, r.text
        acked["transfer-last"] = r.json()
        trade = settled_trade(buyer, last["order_id"])
        os.kill(anvil, signal.SIGKILL)
        # (what the dump kept of the last settlement and transfer, to explain a failure)
        kept = dict(zip(("settlement", "transfer"), survived(
            state, [trade["tx_hash"], r.json()["tx_hash"]]), strict=True))
    finally:
        stop(stack)

    stack = up(env)  # the embedded chain restarts from its last dump
    try:
        conn = connect(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
        chain, sc = conn.chain, SettlementChain(conn.ledger)
        moved = 0
        for key, first in acked.items():
            deadline = time.monotonic() + 30
            while (again := transfer(developer, key, batch)).status_code == 409 and (
                    again.json()["error"]["code"] == "idempotency_in_progress"):
                assert time.monotonic() < deadline, again.text
                time.sleep(0.5)
            if again.status_code == 201:
                assert again.json() == first  # the same transaction, on chain
                receipt = chain.receipt(first["tx_hash"])
                assert receipt is not None and receipt["status"] == 1, (key, kept)
                moved += 1
            else:
                assert again.json()["error"]["code"] == "idempotent_write_lost", again.text
        assert moved == len(acked)  # nothing here could stop a re-send from landing
        assert conn.ledger.balance(acc["trader3"].address, batch) == moved * T

        deadline = time.monotonic() + 60
        while True:
            trades = [t for oid in orders for t in buyer.order_status(oid)["trades"]]
            if all(t["settlement"] != "pending" for t in trades):
                break
            assert time.monotonic() < deadline, trades
            time.sleep(0.3)
        events = conn.ledger.c("Settlement").events.TradeSettled().get_logs(
            from_block=conn.deployment.block)
        per_trade = [e.args["tradeId"] for e in events]
        assert len(trades) == len(orders)
        for t in trades:
            assert t["settlement"] == "settled", t  # nothing here makes a settlement fail
            receipt = chain.receipt(t["tx_hash"])
            assert receipt is not None and receipt["status"] == 1, (t, kept)
            assert sc.is_settled(t["trade_id"]) and per_trade.count(t["trade_id"]) == 1
        assert conn.ledger.balance(acc["trader2"].address, batch) == len(trades) * T
    finally:
        stop(stack)


pytestmark = pytest.mark.timeout(300)
