"""What the edge limits cost: the request-limits middleware's time per request on the order-entry
path, and the JSON depth scan on the worst bodies each cap lets through.

The middleware wraps a bare ASGI app that reads the body and answers; the same requests go
through the bare app alone, and the difference is the middleware's cost (both in one process,
on one event loop, no network). The depth check is timed on 64 KiB of brackets (the worst an
ordinary write can send), on 2 MiB bodies built to be slow to check (the most a monitoring
spec can send: `[]` pairs, strings of a bracket each, nesting 64 deep all through, and a
million levels), and on a realistic 10,000-device spec. The last line is one JSON object.

Run: .venv/bin/python bench/request_limits.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.limits import MIB, RequestLimits, too_deep

ORDER = json.dumps({"order": {"trader": "0x" + "ab" * 20, "side": "buy", "instrument": 1,
                              "price": 60_000, "quantity": 1_000_000, "time_in_force": "gtc",
                              "nonce": 1, "expiry": 2**40, "client_order_id": "0x" + "00" * 32},
                    "signature": "0x" + "ab" * 65}).encode()
SCOPE: dict[str, Any] = {
    "type": "http", "method": "POST", "path": "/v1/exchange/orders",
    "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                (b"content-length", str(len(ORDER)).encode())]}


async def bare(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def per_request_us(app: Any, n: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": ORDER, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    start = time.perf_counter()
    for _ in range(n):
        await app(SCOPE, receive, send)
    return (time.perf_counter() - start) / n * 1e6


def scan_ms(body: bytes, runs: int = 5) -> float:
    """The depth check as the middleware runs it (stopping past the limit), best of `runs`."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        too_deep(body)
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200_000)
    n = parser.parse_args().requests
    limited = RequestLimits(bare)

    async def measure() -> tuple[float, float]:
        b, m = [], []
        for _ in range(3):  # alternate, keep the best of each
            b.append(await per_request_us(bare, n))
            m.append(await per_request_us(limited, n))
        return min(b), min(m)

    bare_us, limited_us = asyncio.run(measure())
    spec = json.dumps({"code": "GX", "calculator": "blue_carbon", "area_ha": "1", "devices": [
        {"device_id": f"buoy-{i:05d}", "address": "0x" + "ab" * 20, "status": "active",
         "kind": "buoy"} for i in range(10_000)]}).encode()
    print(json.dumps({
        "requests": n,
        "bare_us_per_request": round(bare_us, 2),
        "limited_us_per_request": round(limited_us, 2),
        "middleware_us_per_request": round(limited_us - bare_us, 2),
        "scan_64kib_brackets_ms": scan_ms(b"[" * 32_768 + b"]" * 32_768),
        "scan_2mib_pairs_ms": scan_ms(b"[]" * MIB),
        "scan_2mib_bracket_strings_ms": scan_ms(b"[" + b'"[",' * (MIB // 2) + b"1]"),
        "scan_2mib_depth_64_everywhere_ms": scan_ms((b"[" * 64 + b"]" * 64) * (2 * MIB // 128)),
        "scan_2mib_deep_ms": scan_ms(b"[" * MIB + b"]" * MIB),
        "scan_10000_device_spec_ms": scan_ms(spec),
        "spec_bytes": len(spec),
    }))


if __name__ == "__main__":
    main()
