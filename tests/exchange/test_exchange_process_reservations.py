"""`tanhui up --no-exchange` beside `tanhui exchange run`, as real processes: the registry API,
which does not run the exchange, refuses to transfer credits the exchange process has reserved
(it reads them from the shared database), and `tanhui exchange fail-trade` fails a stuck trade
with the exchange stopped, after which nothing of it is reserved."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from chain.node import free_port
from core.config import Settings
from core.db import make_engine
from devkit.roster import dev_accounts
from exchange.reservations import SharedReservations
from tanhui.services import connect
from tests.support.processes import TANHUI, start, stocked_market, stop, tanhui_up, wait_healthy

T = 1_000_000
PRICE = 60_000


def test_the_registry_beside_the_exchange_process_respects_its_reservations(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    with tanhui_up(data, exchange=False) as env:
        batch, keys = stocked_market(data)
        conn = connect(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
        acc = dev_accounts()
        registry = f"http://127.0.0.1:{env['TANHUI_API_PORT']}"

        def call(url: str, seat: str, path: str, body: dict[str, object]) -> httpx.Response:
            return httpx.post(url + path, headers={"Authorization": f"Bearer {keys[seat]}"},
                              json=body, timeout=60)

        def transfer(tonnes: str) -> httpx.Response:
            return call(registry, "trader1", "/v1/transfers",
                        {"to": acc["developer"].address, "batch_id": batch, "amount": tonnes})

        def cash_reserved() -> int:
            r = httpx.get(f"{registry}/v1/exchange/cash/{acc['trader2'].address}", timeout=30,
                          headers={"Authorization": f"Bearer {keys['trader2']}"})
            return int(r.json()["reserved_fen"])

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        # settles once at start, then not for an hour: the trade below stays pending
        proc = start(["exchange", "run", "--port", str(port), "--settle-interval", "3600"], env)
        try:
            wait_healthy(url, proc)
            assert call(url, "exchange", "/v1/exchange/instruments",
                        {"instrument": 1, "batch_id": batch,
                         "reference_price": PRICE}).status_code == 201
            for seat, side in (("trader1", "sell"), ("trader2", "buy")):
                r = call(url, seat, "/v1/exchange/orders", {"order": {
                    "side": side, "instrument": 1, "price": PRICE, "quantity": 150 * T,
                    "expiry": int(time.time()) + 3_600}})
                assert r.status_code == 201, r.text
            [trade] = r.json()["trades"]
            refused = transfer("51")
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["code"] == "reserved_by_exchange"
            assert (error["details"]["free"], error["details"]["needed"]) == (50 * T, 51 * T)
            assert conn.ledger.balance(acc["trader1"].address, batch) == 200 * T
            assert cash_reserved() >= 150 * PRICE  # the unsettled purchase, with any fee
        finally:
            stop(proc)
        failed = subprocess.run(
            [*TANHUI, "exchange", "fail-trade", str(trade["trade_id"]),
             "--reason", "disputed"], env=env, capture_output=True, text=True, timeout=120,
            check=False)
        assert failed.returncode == 0, failed.stdout + failed.stderr
        # the shared table says nothing is reserved now (a transfer would send a transaction
        # through this API's relayer, whose nonce the exchange process used meanwhile)
        assert cash_reserved() == 0
        engine = make_engine(Settings(data_dir=data, _env_file=None).db_url)  # type: ignore[call-arg]
        try:
            assert SharedReservations(engine).reserved(acc["trader1"].address, batch) == 0
        finally:
            engine.dispose()
        again = subprocess.run(
            [*TANHUI, "exchange", "fail-trade", str(trade["trade_id"]),
             "--reason", "twice"], env=env, capture_output=True, text=True, timeout=120,
            check=False)
        assert again.returncode == 1 and "trade_not_pending" in again.stdout
