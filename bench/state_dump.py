"""Saving the embedded chain's state: the cost of one dump, whole and atomically, per second.

Starts its own anvil on a state file in a temporary directory and makes N value transfers (one
block each under automine, as the stack's transactions are). Then measures, on that chain:

- `saver_*`: `StateSaver.save()` as the product runs it every second while blocks are made
  (anvil_dumpState, gzip'd by anvil; temporary file, fsync, rename, fsync of the directory):
  wall time, anvil's CPU and this process's CPU per dump; and `idle_save_ms`, a save when the
  head has not moved (one head query and a utime);
- `inplace_*`: anvil's own `--state-interval 1` dump (what the product did before: the file
  rewritten in place, no fsync), anvil's CPU per second, for comparison;
- `start_*`: preparing the working file at start from anvil's exit dump after a restart (parse,
  drop the genesis block that restart made, write the working file, gzip into the durable
  file), and from the durable file (decompress, parse, write the working file).

The last line of output is one JSON object. Run: .venv/bin/python bench/state_dump.py
[--transfers N] [--dumps N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from chain.node import AnvilNode, anvil_binary, free_port, wait_for_rpc
from chain.state import StateSaver, prepare_working_file

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rpc(url: str, method: str, *params: object) -> Any:
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                 "params": list(params)}, timeout=60).json()["result"]


def transfer(accounts: list[str], i: int, value: int = 10**12) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction",
            "params": [{"from": accounts[i % 5], "to": accounts[5 + i % 5], "value": hex(value),
                        "nonce": hex(i // 5), "gas": hex(21_000)}]}


def make_transfers(url: str, n: int) -> None:
    """n transfers between the development accounts, 100 to a JSON-RPC batch (explicit nonces:
    anvil runs a batch's calls concurrently), then waits until all are mined; a transfer the
    pool lost on the way (it happens in large batches, and the pool then refuses the same bytes
    as "already imported") is replaced by another at its nonce."""
    accounts = rpc(url, "eth_accounts")[:10]
    for start in range(0, n, 100):
        answers = httpx.post(url, json=[transfer(accounts, i) for i in range(start, min(
            n, start + 100))], timeout=120).json()
        assert not [a for a in answers if "error" in a], answers[:3]
    deadline = time.monotonic() + 120
    while True:
        nonces = [int(rpc(url, "eth_getTransactionCount", a, "latest"), 16) for a in accounts[:5]]
        if sum(nonces) >= n:
            return
        assert time.monotonic() < deadline, "the transfers were not all mined"
        time.sleep(1)
        again = [int(rpc(url, "eth_getTransactionCount", a, "latest"), 16) for a in accounts[:5]]
        for seat, (before, now) in enumerate(zip(nonces, again, strict=True)):
            if before == now and 5 * now + seat < n:  # stuck on a gap
                httpx.post(url, json=transfer(accounts, 5 * now + seat, 10**12 + 1), timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transfers", type=int, default=3000)
    parser.add_argument("--dumps", type=int, default=10)
    args = parser.parse_args()
    out: dict[str, Any] = {"transfers": args.transfers}
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "anvil-state.json"
        node = AnvilNode(state, state_interval=3600).start()
        assert node.pid is not None and node.durable_file is not None
        make_transfers(node.url, args.transfers)
        out["blocks"] = int(rpc(node.url, "eth_blockNumber"), 16)
        saver = StateSaver(node.url, node.durable_file, 1.0)
        walls, anvil_cpu, own_cpu = [], [], []
        for _ in range(args.dumps):
            rpc(node.url, "evm_mine")  # a new block: a real dump, not a touch
            a0, p0, t0 = cpu_seconds(node.pid), time.process_time(), time.perf_counter()
            assert saver.save()
            walls.append(time.perf_counter() - t0)
            anvil_cpu.append(cpu_seconds(node.pid) - a0)
            own_cpu.append(time.process_time() - p0)
        t0 = time.perf_counter()
        assert not saver.save()
        out["idle_save_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        saver.stop()
        out["durable_file_bytes"] = node.durable_file.stat().st_size
        out["saver_wall_ms_median"] = round(statistics.median(walls) * 1000, 1)
        out["saver_anvil_cpu_ms_median"] = round(statistics.median(anvil_cpu) * 1000, 1)
        out["saver_own_cpu_ms_median"] = round(statistics.median(own_cpu) * 1000, 1)
        node.stop()  # anvil's exit dump: the working file
        out["working_file_bytes"] = state.stat().st_size
        # a restart (its exit dump then holds the genesis block that start made, to be dropped)
        AnvilNode(state, state_interval=3600).start().stop()

        # start: from anvil's exit dump (newer), then from the durable file
        t0 = time.perf_counter()
        prepare_working_file(state, node.durable_file)
        out["start_from_exit_dump_ms"] = round((time.perf_counter() - t0) * 1000)
        os.utime(node.durable_file, ns=(time.time_ns(), time.time_ns()))
        t0 = time.perf_counter()
        prepare_working_file(state, node.durable_file)
        out["start_from_durable_file_ms"] = round((time.perf_counter() - t0) * 1000)

        # before: anvil dumping in place every second
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([str(anvil_binary()), "--port", str(port), "--quiet",
                                 "--state", str(state), "--state-interval", "1"])
        try:
            wait_for_rpc(url, proc=proc)
            time.sleep(1.5)
            a0, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(args.dumps)
            out["inplace_anvil_cpu_ms_per_s"] = round(
                (cpu_seconds(proc.pid) - a0) / (time.monotonic() - t0) * 1000, 1)
        finally:
            proc.kill()
            proc.wait()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
