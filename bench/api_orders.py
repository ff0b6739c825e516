"""Signed order submissions over HTTP: the exchange in one process, the load from another.

Starts its own anvil and deploys (this process), funds 20 traders (10 with credits, 10 with
cash) and approves settlement, then starts `tanhui exchange run` as a separate server process
and lists an instrument. Orders are signed here beforehand (a resting ladder that does not
cross, so every submission is journaled, fsync'd and rests in the book: the full order-entry
path). The load runs in a second process (this script with `--load`): `--clients` keep-alive
HTTP/1.1 connections on one asyncio loop, each sending its orders one after another; each
request's latency is its round trip. The last line is one JSON object.

Run: .venv/bin/python bench/api_orders.py [--orders N] [--clients C]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from chain.node import free_port
from devkit.local import fund_traders, local_registry
from devkit.scenario import Scenario
from exchange.onchain import SettlementChain
from exchange.signing import Order, sign_order

T = 1_000_000
PRICE = 60_000


def run(n_orders: int, clients: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, local_registry() as (node, ledger, acc):
        data = Path(tmp)
        chain = ledger.chain
        ledger.deployment.save(data / f"deployment-{chain.chain_id}.json")
        (data / "rpc-url").write_text(node.url)
        sc = SettlementChain(ledger)
        batch = Scenario(ledger, acc).batch(quantity=10_000_000 * T).batch_id
        sellers, buyers = fund_traders(ledger, acc, batch, 100_000 * T, 10**13)

        port = free_port()
        master_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        env = {**os.environ, "TANHUI_DATA_DIR": str(data), "TANHUI_RPC_URL": node.url,
               "TANHUI_EXCHANGE_KEY": acc["exchange"].key.hex(),
               "TANHUI_DEPLOYER_KEY": acc["governance"].key.hex(),
               "TANHUI_MASTER_KEY": master_key,
               "TANHUI_DATABASE_URL": f"sqlite:///{data / 'api.db'}"}
        entry = [os.environ["BENCH_SERVER"]] if os.environ.get("BENCH_SERVER") else [
            "-m", "tanhui.cli"]
        server = subprocess.Popen([sys.executable, *entry, "exchange", "run",
                                   "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(url, server)
            _list(url, batch, data, acc["exchange"], master_key)
            orders = []
            expiry = int(time.time()) + 3_600
            for i in range(n_orders):
                sell = i % 2 == 1
                trader = sellers[i % 10] if sell else buyers[i % 10]
                price = PRICE + 10 + (i % 50) if sell else PRICE - 10 - (i % 50)
                o = Order(trader.address, 1 if sell else 0, 1, price, T, 0, i, expiry,
                          i.to_bytes(32, "big"), batch_id=batch if sell else 0)
                orders.append({"order": {
                    "trader": trader.address, "side": "sell" if sell else "buy",
                    "instrument": 1, "batch_id": o.batch_id, "price": price, "quantity": T,
                    "max_fee_bps": 0, "time_in_force": "gtc", "nonce": i, "expiry": expiry,
                    "client_order_id": "0x" + o.client_order_id.hex()},
                    "signature": "0x" + sign_order(trader, o, sc.domain).hex()})
            # warm-up: connections, balance caches
            with httpx.Client(base_url=url) as h:
                for body in orders[:50]:
                    h.post("/v1/exchange/orders", json=body).raise_for_status()
            load_file = data / "load.json"
            load_file.write_text(json.dumps(orders[50:]))
            out = subprocess.run([sys.executable, __file__, "--load", str(load_file),
                                  "--url", url, "--clients", str(clients)],
                                 check=True, capture_output=True, text=True)
            return json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            server.terminate()
            server.wait(timeout=30)


def _wait(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the exchange did not start")
        time.sleep(0.2)


def _list(url: str, batch: int, data: Path, exchange: object, master_key: str) -> None:
    """Lists instrument 1 through the API with an API key for the exchange seat."""
    from api.custody import create_api_account
    from core.config import Settings
    from core.db import make_engine, session_factory

    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'api.db'}",
                        master_key=master_key, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(settings.db_url)
    with session_factory(engine)() as session:
        key = create_api_account(session, settings, "exchange", account=exchange)  # type: ignore[arg-type]
        session.commit()
    engine.dispose()
    r = httpx.post(url + "/v1/exchange/instruments", headers={"Authorization": f"Bearer {key}"},
                   json={"instrument": 1, "batch_id": batch, "reference_price": PRICE},
                   timeout=30)
    if r.status_code != 201 and r.status_code != 409:
        raise RuntimeError(r.text)


def load(path: Path, url: str, clients: int) -> dict[str, object]:
    """The load process: `clients` keep-alive connections, each sending its share of the
    orders one after another and timing each round trip. Requests are encoded beforehand and
    answers parsed minimally, so the load costs the shared two cores little next to the
    server it measures."""
    orders = json.loads(path.read_text())
    host, port = url.removeprefix("http://").split(":")
    requests = [
        f"POST /v1/exchange/orders HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n".encode() + b
        for b in (json.dumps(o, separators=(",", ":")).encode() for o in orders)]
    chunks = [requests[i::clients] for i in range(clients)]
    latencies: list[float] = []
    errors: list[str] = []

    async def client(chunk: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for request in chunk:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 201"):
                errors.append(answer[:200].decode(errors="replace"))
        writer.close()

    async def all_clients() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for c in chunks))
        return time.perf_counter() - t0

    elapsed = asyncio.run(all_clients())
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)

    return {"orders": len(requests), "clients": clients,
            "orders_per_s": round(len(requests) / elapsed, 1), "p50_ms": pct(0.5),
            "p99_ms": pct(0.99), "max_ms": round(latencies[-1] * 1000, 1),
            "errors": len(errors), "first_error": errors[0] if errors else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--load", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(load(args.load, args.url, args.clients)))
        return
    result = run(args.orders, args.clients)
    for k, v in result.items():
        print(f"{k:<14} {v}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
