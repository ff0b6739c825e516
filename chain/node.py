"""The embedded local chain: an anvil process owned by the project.

Its state is kept on disk and loaded on start, so stopping and restarting keeps the chain; how,
so that no crash tears it, is in chain/state.py (a durable file written whole every
`state_interval` seconds by the owning process, anvil's working file loaded at start and dumped
on exit).

Exactly one anvil may use a state file: two would overwrite each other's dumps and a later
start would load whichever wrote last, losing acknowledged transactions. So the node dies with
the process that started it (Linux: PR_SET_PDEATHSIG sends it SIGINT, on which anvil dumps its
state and exits, however the parent died, kill -9 included), its PID is recorded next to the
state file, and a start first stops a recorded node that outlived its parent and refuses when
an unrecorded process uses the state file.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from chain.state import (
    IncompleteDump,
    StateSaver,
    durable_state_file,
    prepare_working_file,
)
from core.paths import NODE_MODULES

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STATE_FLAGS = ("--state", "--load-state", "--dump-state")


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


def wait_for_rpc(url: str, timeout: float = 30.0,
                 proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until `url` answers; a node process (`proc`) that exits meanwhile fails it at once."""
    deadline = time.monotonic() + timeout
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise NodeError(f"the node exited with status {proc.returncode} before answering "
                            f"on {url}")
        try:
            if httpx.post(url, json=body, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise NodeError(f"no JSON-RPC answer from {url} within {timeout}s")


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from the state field on (the command name may hold spaces)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2:].split()


def process_running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie (an exited child not yet reaped)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def process_start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot): with the PID, it names a process
    that a reused PID cannot impersonate."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None else None


def process_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def state_files_of(pid: int, cmdline: list[str]) -> set[Path]:
    """The state files an anvil command line loads or dumps (relative to its working dir)."""
    values = [value for flag, value in itertools.pairwise(cmdline) if flag in STATE_FLAGS]
    values += [arg.split("=", 1)[1] for arg in cmdline
               if arg.split("=", 1)[0] in STATE_FLAGS and "=" in arg]
    found = set()
    for value in values:
        path = Path(value)
        if not path.is_absolute():
            try:
                path = Path(os.readlink(f"/proc/{pid}/cwd")) / path
            except OSError:
                continue
        found.add(path.resolve())
    return found


def processes_using(*state_files: Path) -> list[int]:
    """Running processes whose command line loads or dumps one of `state_files` (an empty list
    where there is no /proc to look in)."""
    targets = {f.resolve() for f in state_files}
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        cmdline = process_cmdline(pid)
        if cmdline and state_files_of(pid, cmdline) & targets and process_running(pid):
            found.append(pid)
    return sorted(found)


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel send the child SIGINT when its parent dies (Linux).

    The kernel sends it when the *thread* that forked exits, so this applies only when the node
    is started from the main thread (which lives as long as the process); elsewhere the node is
    not tied and the next start stops it if it outlives its parent."""
    if sys.platform != "linux":
        return None
    if threading.current_thread() is not threading.main_thread():
        log.warning("anvil started outside the main thread: it will not die with this process")
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, int(signal.SIGINT), 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(0)

    return preexec


def stop_process(pid: int, timeout: float) -> bool:
    """SIGINT (anvil dumps its state), then SIGKILL after `timeout`; True if it exited on
    SIGINT. The process need not be our child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while process_running(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while process_running(pid):
                if time.monotonic() > deadline:
                    raise NodeError(f"process {pid} does not exit, even on SIGKILL")
                time.sleep(0.05)
            return False
        time.sleep(0.05)
    return True


class AnvilNode:
    """Starts anvil on a free port with a persistent state file; stop() dumps state and exits.

    With a state file, the newest complete dump is loaded at start, the durable file
    (`durable_file`, chain/state.py) is written every `state_interval` seconds while it runs, and
    the node's PID, port, start time and command line are recorded in `record_file` (default:
    `anvil.pid` beside the state file). anvil runs with --quiet: it would otherwise print the
    development mnemonic and private keys into its log.
    """

    def __init__(
        self,
        state_file: Path | None,
        chain_id: int = 31337,
        port: int = 0,
        accounts: int = 20,
        block_time: float | None = None,
        log_file: Path | None = None,
        state_interval: float = 1.0,
        extra_args: tuple[str, ...] = (),
        record_file: Path | None = None,
        die_with_parent: bool = True,
        orphan_timeout: float = 30.0,
    ) -> None:
        self.state_file = state_file
        self.chain_id = chain_id
        self.port = port or free_port()
        self.accounts = accounts
        self.block_time = block_time
        self.log_file = log_file
        self.state_interval = state_interval
        self.extra_args = extra_args
        self.record_file = record_file or (
            state_file.parent / "anvil.pid" if state_file is not None else None)
        self.die_with_parent = die_with_parent
        self.orphan_timeout = orphan_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._saver: StateSaver | None = None

    @property
    def durable_file(self) -> Path | None:
        """The state file that is always a complete dump (what `Finality` watches)."""
        return durable_state_file(self.state_file) if self.state_file is not None else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def command(self) -> list[str]:
        cmd = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--gas-limit", "60000000",
            "--code-size-limit", "49152",
            "--quiet",
        ]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.state_file is not None:  # loaded at start, dumped on exit (no --state-interval)
            cmd += ["--state", str(self.state_file.resolve())]
        return cmd + list(self.extra_args)

    def start(self) -> AnvilNode:
        loaded: tuple[Path, str | None] | None = None
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self._clear_state_file()
            assert self.durable_file is not None
            try:
                loaded = prepare_working_file(self.state_file, self.durable_file)
            except IncompleteDump as exc:
                raise NodeError(str(exc)) from None
        cmd = self.command()
        log_fd = (os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                  if self.log_file else subprocess.DEVNULL)
        try:
            self._proc = subprocess.Popen(
                cmd, stdout=log_fd, stderr=subprocess.STDOUT,
                # its own session: Ctrl-C reaches the Python side, which stops the node last
                start_new_session=True,
                preexec_fn=_die_with_parent() if self.die_with_parent else None,
                umask=0o077,  # its exit dump is the owner's alone
            )
        finally:
            if self.log_file:
                os.close(log_fd)
        self._write_record(cmd)
        try:
            wait_for_rpc(self.url, proc=self._proc)
            if loaded is not None and loaded[1] is not None:
                self._check_genesis(loaded[0], loaded[1])
            if self.durable_file is not None:
                self._saver = StateSaver(self.url, self.durable_file, self.state_interval)
                if loaded is None:  # a new chain: its genesis is on disk before anything is sent
                    self._saver.save()
                self._saver.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_genesis(self, source: Path, genesis: str) -> None:
        """The chain anvil serves is the one it loaded (the outbox tells chains apart by their
        genesis hash)."""
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber",
                "params": ["0x0", False]}
        served = httpx.post(self.url, json=body, timeout=10).json()["result"]["hash"]
        if served != genesis:
            raise NodeError(f"anvil loaded {source} but serves another genesis block "
                            f"({served}, not {genesis})")

    def _write_record(self, cmd: list[str]) -> None:
        if self.record_file is None or self._proc is None:
            return
        record = {"pid": self._proc.pid, "port": self.port,
                  "start_time": process_start_time(self._proc.pid),
                  "state_file": str(self.state_file.resolve()) if self.state_file else None,
                  "cmdline": cmd}
        fd = os.open(self.record_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)

    def _read_record(self) -> dict[str, Any] | None:
        if self.record_file is None or not self.record_file.exists():
            return None
        try:
            record: dict[str, Any] = json.loads(self.record_file.read_text())
        except (OSError, ValueError):
            return None
        return record

    def _clear_state_file(self) -> None:
        """Stops the node an earlier run recorded if it still runs on our state file (it
        outlived its parent); refuses when any other process uses the state file."""
        assert self.state_file is not None and self.durable_file is not None
        record = self._read_record()
        for pid in processes_using(self.state_file, self.durable_file):
            ours = (record is not None and record.get("pid") == pid
                    and record.get("start_time") == process_start_time(pid))
            if not ours:
                cmd = " ".join(process_cmdline(pid))[:200]
                raise NodeError(
                    f"process {pid} ({cmd}) uses the chain state file {self.state_file}; "
                    "two nodes on one state file overwrite each other: stop it first")
            assert record is not None
            log.warning("an anvil from an earlier run still serves %s (pid %d, port %s): "
                        "stopping it before starting a new one", self.state_file, pid,
                        record.get("port"))
            if stop_process(pid, self.orphan_timeout):
                log.warning("stopped the earlier anvil (pid %d); its state was saved", pid)
            else:
                log.warning("the earlier anvil (pid %d) ignored SIGINT for %.0fs and was "
                            "killed; its last second of state may be missing", pid,
                            self.orphan_timeout)
        if record is not None and self.record_file is not None:
            self.record_file.unlink(missing_ok=True)

    def stop(self, timeout: float = 10.0) -> None:
        saver, self._saver = self._saver, None
        if saver is not None:  # before the node goes: no dump is asked of a stopping node
            saver.stop()
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # anvil dumps to its working file on SIGINT
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.record_file is not None and (self._read_record() or {}).get("pid") == proc.pid:
            self.record_file.unlink(missing_ok=True)

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
