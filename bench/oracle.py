"""Oracle throughput: `python bench/oracle.py [--records N]`; the last line is one JSON object.

- records_per_s: IoT readings validated (schema, units, ranges, period, registry, identity,
  outliers), canonicalised and hashed into the report's Merkle tree, signatures aside — from
  raw records as the CSV loader yields them to the root. Measured in one process and with a
  leaf-hashing worker process (oracle.hashing_pool); the faster configuration on this machine is
  reported, both are printed.
- signatures_per_s: device-signature verifications (EIP-191 digest, secp256k1 recovery with
  coincurve, address comparison).

Each figure is the best of three runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oracle.canonical import decimal_text, reading_message
from oracle.devices import Device, DeviceRegistry
from oracle.hashing_pool import LeafHasher
from oracle.loaders import parse_csv_records
from oracle.period import Period
from oracle.readings import validate_readings
from oracle.results import RawRecord
from oracle.signatures import (
    SignatureVerifier,
    address_of_private_key,
    sign_message,
)

START = 1_704_038_400  # 2024-01-01T00:00+08:00
PERIOD = Period(START, START + 366 * 86400)
DEVICES = [f"MW-BUOY-{i:02d}" for i in range(1, 11)] + [f"MW-SOIL-{i:02d}" for i in range(1, 11)]
KEYS = {d: (i + 1).to_bytes(32, "big") for i, d in enumerate(DEVICES)}
T = TypeVar("T")
REGISTRY = DeviceRegistry.of(
    "BENCH", [Device(d, address_of_private_key(k)) for d, k in KEYS.items()]
)


def raw_readings(n: int) -> list[RawRecord]:
    """n hourly readings from 20 devices, two metrics each, as parsed CSV rows."""
    rnd = random.Random(7)
    lines = ["device_id,time,metric,value,unit,signature"]
    per_hour = len(DEVICES) * 2
    for i in range(n):
        d = DEVICES[(i // 2) % len(DEVICES)]
        t = START + 3600 * (i // per_hour)
        buoy = d.startswith("MW-BUOY")
        metric = (
            ("water_temperature", "salinity")[i % 2]
            if buoy
            else (("soil_temperature", "soil_moisture")[i % 2])
        )
        unit = {"salinity": "PSU", "soil_moisture": "%"}.get(metric, "degC")
        value = f"{rnd.uniform(15, 30):.2f}"
        sig = "0x" + rnd.randbytes(64).hex() + "1b"
        lines.append(f"{d},{t},{metric},{value},{unit},{sig}")
    return parse_csv_records("\n".join(lines) + "\n")


def best_of(runs: int, fn: Callable[[], T]) -> tuple[float, T]:
    best = float("inf")
    out = fn()
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def records_throughput(
    rows: list[RawRecord], hasher: LeafHasher | None
) -> tuple[float, bytes, int]:
    def once() -> tuple[bytes, int, int]:
        result = validate_readings(
            rows,
            registry=REGISTRY,
            period=PERIOD,
            now=PERIOD.end,
            verify_signatures=False,
            hasher=hasher,
        )
        tree = result.tree(hasher)
        proof = tree.record_proof(result.records[0])
        return tree.root, len(result.accepted), len(proof)

    seconds, (root, _, proof_len) = best_of(3, once)
    return len(rows) / seconds, root, proof_len


def signature_throughput(n: int) -> float:
    jobs = []
    for i in range(n):
        d = DEVICES[i % len(DEVICES)]
        msg = reading_message(
            d, START + 3600 * i, "salinity", decimal_text(Decimal(i) / 100), "PSU"
        )
        jobs.append((msg, sign_message(KEYS[d], msg), REGISTRY.devices[d].address_bytes))

    def once() -> int:
        fresh = SignatureVerifier()
        ok = sum(fresh.verify(m, s, a) for m, s, a in jobs)
        if ok != n:
            raise AssertionError("a benchmark signature failed to verify")
        return ok

    seconds, _ = best_of(3, once)
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description="oracle throughput")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--signatures", type=int, default=5_000)
    args = parser.parse_args()

    rows = raw_readings(args.records)
    single, root_single, proof_len = records_throughput(rows, None)
    print(f"single process:         {single:12,.0f} records/s")
    with LeafHasher(workers=1) as hasher:
        pooled, root_pooled, _ = records_throughput(rows, hasher)
    print(f"with leaf-hash worker:  {pooled:12,.0f} records/s")
    if root_single != root_pooled:
        raise AssertionError("the two configurations disagree on the root")
    sigs = signature_throughput(args.signatures)
    print(f"signature verification: {sigs:12,.0f} /s")
    print(f"proof length for {len(rows):,} records: {proof_len} hashes")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(
        json.dumps(
            {
                "records_per_s": round(max(single, pooled)),
                "signatures_per_s": round(sigs),
                "records": len(rows),
                "records_per_s_single_process": round(single),
                "records_per_s_with_hash_worker": round(pooled),
                "proof_hashes": proof_len,
                "cpus": os.cpu_count(),
                "load_average_1m": load,
            }
        )
    )


if __name__ == "__main__":
    main()
