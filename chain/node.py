"""The embedded local chain: an anvil process owned by the project.

State is dumped to a file under the data directory (periodically and on shutdown) and loaded on
start, so stopping and restarting keeps the chain.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from chain.paths import NODE_MODULES


class NodeError(RuntimeError):
    """The chain node could not be started or did not answer."""


def anvil_binary() -> Path:
    """The anvil executable shipped by the npm package @foundry-rs/anvil."""
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[
        platform.machine().lower()
    ]
    system = platform.system().lower()
    native = NODE_MODULES / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if native.exists():
        return native
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise NodeError("anvil not found: run `npm ci` (package @foundry-rs/anvil)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_rpc(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    while time.monotonic() < deadline:
        try:
            if httpx.post(url, json=body, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise NodeError(f"no JSON-RPC answer from {url} within {timeout}s")


class AnvilNode:
    """Starts anvil on a free port with a persistent state file; stop() dumps state and exits."""

    def __init__(
        self,
        state_file: Path | None,
        chain_id: int = 31337,
        port: int = 0,
        accounts: int = 20,
        block_time: float | None = None,
        log_file: Path | None = None,
        state_interval: int = 1,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.state_file = state_file
        self.chain_id = chain_id
        self.port = port or free_port()
        self.accounts = accounts
        self.block_time = block_time
        self.log_file = log_file
        self.state_interval = state_interval
        self.extra_args = extra_args
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AnvilNode:
        cmd = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--gas-limit", "60000000",
            "--code-size-limit", "49152",
        ]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--state", str(self.state_file), "--state-interval", str(self.state_interval)]
        cmd += list(self.extra_args)
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for_rpc(self.url)
        except NodeError:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)  # anvil dumps --state on SIGINT
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
