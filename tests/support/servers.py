"""Test helpers for the edge of the real HTTP servers: `tanhui up` next to `tanhui exchange run`
as processes, their memory high-water marks, big bodies made on the fly, and raw requests for
what an HTTP client library would not send (a Content-Length that lies, oversized headers)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from chain.node import free_port
from tests.support.processes import stack_env, start, stop, wait_healthy

MIB = 1024 * 1024


@dataclass(frozen=True)
class Stack:
    data: Path
    api: str  # `tanhui up --no-exchange`: API and indexer
    exchange: str  # `tanhui exchange run`: the whole API plus the engine and settlement worker
    api_process: subprocess.Popen[str]
    exchange_process: subprocess.Popen[str]

    def keys(self) -> dict[str, str]:
        """The development API keys `tanhui up` provisioned, by seat."""
        keys: dict[str, str] = json.loads(next(self.data.glob("dev-api-keys-*.json")).read_text())
        return keys


@contextmanager
def running_stack(data: Path) -> Iterator[Stack]:
    env = stack_env(data)
    up = start(["up", "--no-exchange"], env)
    try:
        api = f"http://127.0.0.1:{env['TANHUI_API_PORT']}"
        wait_healthy(api, up)
        port = free_port()
        ex = start(["exchange", "run", "--port", str(port)], env)
        try:
            exchange = f"http://127.0.0.1:{port}"
            wait_healthy(exchange, ex)
            yield Stack(data, api, exchange, up, ex)
        finally:
            stop(ex)
    finally:
        stop(up)


def peak_memory(pid: int) -> int:
    """The process's resident-memory high-water mark (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def filler(total: int, byte: bytes = b" ", chunk: int = MIB) -> Iterator[bytes]:
    """`total` bytes in chunks made from one buffer, so the sender never holds the body."""
    block = byte * chunk
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield block if n == chunk else block[:n]
        sent += n


def raw_exchange(url: str, request: bytes, body: Iterator[bytes] = iter(()),
                 timeout: float = 30) -> bytes:
    """Sends `request` (request line and headers, as bytes) and the body chunks on one fresh
    connection; returns everything the server answered before closing or going quiet."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80),
                                  timeout=timeout) as s:
        try:
            s.sendall(request)
            for chunk in body:
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking it all
        out = b""
        s.settimeout(2)
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return out


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def json_of(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert body, head
    data: dict[str, object] = json.loads(body)
    return data
