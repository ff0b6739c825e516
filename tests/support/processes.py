"""Test helpers: Tanhui commands as real processes (tanhui up, tanhui exchange run, ...)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from chain.node import free_port

TANHUI = [sys.executable, "-m", "tanhui.cli"]


def stack_env(data: Path) -> dict[str, str]:
    env = {**os.environ, "TANHUI_DATA_DIR": str(data), "TANHUI_API_PORT": str(free_port()),
           "COLUMNS": "200"}
    env.pop("TANHUI_RPC_URL", None)
    env.pop("DATABASE_URL", None)
    return env


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"process exited: {output_of(proc)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not come up")
        time.sleep(0.3)


_OUTPUT: dict[int, tuple[list[str], threading.Thread]] = {}


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """The command as a process whose output (stdout and stderr) a thread keeps reading, so a
    process that logs every request never blocks on a full pipe; `output_of` returns it."""
    proc = subprocess.Popen([*TANHUI, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    _OUTPUT[proc.pid] = (lines, reader)
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_up(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`tanhui up ARGS` as a process, returned once its API answers."""
    proc = start(["up", *args], env)
    try:
        wait_healthy(f"http://127.0.0.1:{env['TANHUI_API_PORT']}", proc)
    except BaseException:
        stop(proc)
        raise
    return proc


def output_of(proc: subprocess.Popen[str]) -> str:
    """Everything a stopped process printed (stdout and stderr)."""
    assert proc.poll() is not None
    lines, reader = _OUTPUT[proc.pid]
    reader.join(timeout=10)
    return "".join(lines)


def chain_nodes_on(state_file: Path) -> list[int]:
    """PIDs of the live (not zombie) anvil processes whose command line names `state_file`,
    read from /proc."""
    names = {str(state_file).encode(), str(state_file.resolve()).encode()}
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
            status = (cmdline.parent / "status").read_text()
        except OSError:
            continue
        if (args and args[0].endswith(b"anvil") and names & set(args)
                and "\nState:\tZ" not in status):
            found.append(int(cmdline.parent.name))
    return found


@contextmanager
def tanhui_up(data: Path, exchange: bool = True) -> Iterator[dict[str, str]]:
    """`tanhui up` on a fresh data directory; yields the environment pointing at it. Without
    `exchange`, the caller runs `tanhui exchange run` itself."""
    env = stack_env(data)
    up = start(["up"] if exchange else ["up", "--no-exchange"], env)
    try:
        wait_healthy(f"http://127.0.0.1:{env['TANHUI_API_PORT']}", up)
        yield env
    finally:
        stop(up)


def stocked_market(data: Path) -> tuple[int, dict[str, str]]:
    """On the stack running in `data`: a batch of 1,000 t, 200 t of it with trader1 (the
    seller), 5 M CNY with trader2 (the buyer), both approved for settlement; and the
    development API keys by seat."""
    import json

    from core.config import Settings
    from devkit.roster import dev_accounts
    from devkit.scenario import Scenario, doc
    from exchange.onchain import SettlementChain
    from tanhui.services import connect

    conn = connect(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    acc = dev_accounts()
    sc = SettlementChain(conn.ledger)
    batch = Scenario(conn.ledger, acc).batch(quantity=1_000 * 1_000_000).batch_id
    conn.ledger.transfer(acc["developer"], acc["trader1"].address, batch, 200 * 1_000_000)
    sc.deposit(acc["bank"], acc["trader2"].address, 5_000_000_00, doc("wire"))
    for seat in ("trader1", "trader2"):
        sc.approve_trading(acc[seat])
    return batch, json.loads(next(data.glob("dev-api-keys-*.json")).read_text())
