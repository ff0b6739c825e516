"""The exchange as a real process next to `tanhui up`: the example client trades with nothing
but eth-account and HTTP, and kill -9 in the middle of an order stream loses nothing that was
acknowledged, duplicates nothing, and leaves chain balances reconciled with the trades."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from chain.node import free_port
from core.config import Settings
from devkit.roster import dev_accounts
from tanhui.services import connect
from tests.support.processes import start, stocked_market, stop, tanhui_up, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
T = 1_000_000
PRICE = 60_000
INSTRUMENT = 1

sys.path.insert(0, str(ROOT / "examples"))
from trader_client import TraderClient  # noqa: E402


def exchange_process(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    proc = start(["exchange", "run", "--port", str(port), "--settle-interval", "0.2"], env)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def list_instrument(url: str, key: str, batch: int) -> None:
    r = httpx.post(url + "/v1/exchange/instruments", headers={"Authorization": f"Bearer {key}"},
                   json={"instrument": INSTRUMENT, "batch_id": batch, "reference_price": PRICE},
                   timeout=30)
    assert r.status_code == 201, r.text


def wait_all_settled(url: str, order_ids: list[int], key: str,
                     timeout: float = 90) -> list[dict[str, Any]]:
    """Polls the orders (as the regulator, who reads every member's) until all their trades
    are settled."""
    deadline = time.monotonic() + timeout
    auth = {"Authorization": f"Bearer {key}"}
    while True:
        trades: dict[int, dict[str, Any]] = {}
        for oid in order_ids:
            for t in httpx.get(f"{url}/v1/exchange/orders/{oid}", headers=auth,
                               timeout=10).json()["trades"]:
                trades[t["trade_id"]] = t
        if all(t["settlement"] == "settled" for t in trades.values()):
            return list(trades.values())
        assert time.monotonic() < deadline, "trades did not settle"
        time.sleep(0.5)


def test_the_example_client_trades_and_sees_settlement(tmp_path: Path) -> None:
    with tanhui_up(tmp_path / "data", exchange=False) as env:
        batch, keys = stocked_market(tmp_path / "data")
        port = free_port()
        proc = exchange_process(env, port)
        try:
            url = f"http://127.0.0.1:{port}"
            list_instrument(url, keys["exchange"], batch)
            acc = dev_accounts()
            seller = subprocess.run(
                [sys.executable, str(ROOT / "examples" / "trader_client.py"), "--api", url,
                 "--key", acc["trader1"].key.hex(), "--side", "sell", "--instrument", "1",
                 "--price", str(PRICE), "--tonnes", "5"],
                capture_output=True, text=True, timeout=60, check=False)
            assert seller.returncode == 0, seller.stderr
            buyer = TraderClient(url, acc["trader2"].key.hex())
            resting = buyer.place(buyer.order("buy", INSTRUMENT, PRICE - 1_000, T))
            assert [o["order_id"] for o in buyer.open_orders()] == [resting["order_id"]]
            # its reads carry its signed read token; without one they are refused
            assert httpx.get(f"{url}/v1/exchange/orders/{resting['order_id']}",
                             timeout=10).status_code == 401
            assert buyer.cash()["reserved_fen"] > 0
            assert buyer.cancel(resting)["status"] == "cancelled"  # signed, no API key
            assert buyer.open_orders() == []
            ioc = buyer.order("buy", INSTRUMENT, PRICE - 2_000, T, tif="ioc")
            assert ioc["order"]["expiry"] <= time.time() + 300  # bounded by its signed expiry
            placed = buyer.place(buyer.order("buy", INSTRUMENT, PRICE, 5 * T))
            assert placed["status"] == "filled"
            buyer.wait_settled(placed["order_id"])
            deadline = time.monotonic() + 30
            while buyer.credits(batch) != 5 * T:  # the registry index catches up
                assert time.monotonic() < deadline
                time.sleep(0.3)
        finally:
            stop(proc)


def test_kill_minus_nine_loses_no_acknowledged_order_or_trade(tmp_path: Path) -> None:
    rnd = random.Random(7)
    with tanhui_up(tmp_path / "data", exchange=False) as env:
        batch, keys = stocked_market(tmp_path / "data")
        acc = dev_accounts()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = exchange_process(env, port)
        list_instrument(url, keys["exchange"], batch)
        seller = TraderClient(url, acc["trader1"].key.hex())
        buyer = TraderClient(url, acc["trader2"].key.hex())
        stream = []
        for i in range(60):
            stream.append(seller.order("sell", INSTRUMENT, PRICE, T, nonce=2 * i))
            stream.append(buyer.order("buy", INSTRUMENT, PRICE, T, nonce=2 * i + 1))
        acked: dict[str, dict[str, Any]] = {}
        unacked: list[dict[str, Any]] = []
        kill_after = rnd.randint(25, 70)

        def killer() -> None:
            while len(acked) < kill_after:
                time.sleep(0.005)
            os.kill(proc.pid, signal.SIGKILL)

        t = threading.Thread(target=killer)
        t.start()
        for body in stream:
            try:
                r = httpx.post(url + "/v1/exchange/orders", json=body, timeout=10)
            except httpx.HTTPError:
                unacked.append(body)
                continue
            acked[body["order"]["client_order_id"]] = r.json()
        t.join()
        proc.wait()
        assert unacked, "the process was killed before the stream ended"

        proc = exchange_process(env, port)
        try:
            for cid, ack in acked.items():  # every acknowledged order is there, once
                got = httpx.get(f"{url}/v1/exchange/orders/{ack['order_id']}", timeout=10,
                                headers={"Authorization": f"Bearer {keys['regulator']}"}).json()
                assert got["client_order_id"] == cid
            for body in unacked:  # resending is safe: journaled ones come back as they were
                r = httpx.post(url + "/v1/exchange/orders", json=body, timeout=10)
                assert r.status_code == 201, r.text
                acked[body["order"]["client_order_id"]] = r.json()
            ids = [a["order_id"] for a in acked.values()]
            assert len(set(ids)) == len(ids) == len(stream)
            trades = wait_all_settled(url, ids, keys["regulator"])
            assert len(trades) == len(stream) // 2
            assert len({t["trade_id"] for t in trades}) == len(trades)
            conn = connect(Settings(data_dir=tmp_path / "data", _env_file=None))  # type: ignore[call-arg]
            assert conn.ledger.balance(acc["trader2"].address, batch) == len(trades) * T
            assert conn.ledger.balance(acc["trader1"].address, batch) == (200 - len(trades)) * T
            settled = conn.ledger.c("Settlement").events.TradeSettled().get_logs(
                from_block=conn.deployment.block)
            assert len(settled) == len(trades)
        finally:
            stop(proc)


pytestmark = pytest.mark.timeout(240)
