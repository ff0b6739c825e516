"""The real servers at their edge: `tanhui up` (API and indexer) and `tanhui exchange run` (the
API with the matching engine and settlement worker) refuse deeply nested JSON, oversized bodies
however their length is told, oversized uploads and oversized headers with a 4xx in the API's
error shape, keep serving afterwards, and hold no more memory for a 200 MiB body than for a
small one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from api.limits import MAX_HEAD_BYTES, MAX_JSON_BODY, MAX_JSON_DEPTH, MAX_UPLOAD_BYTES
from core.config import Settings
from devkit.roster import dev_accounts
from devkit.scenario import Scenario
from tanhui.services import connect
from tests.support.servers import (
    MIB,
    Stack,
    filler,
    json_of,
    peak_memory,
    raw_exchange,
    running_stack,
    status_of,
)

JSON = {"content-type": "application/json"}
SERVERS = ["api", "exchange"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(Path(tmp_path_factory.mktemp("edge")) / "data") as s:
        yield s


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, str(r.json()["error"]["code"])


def assert_serving(stack: Stack) -> None:
    assert stack.api_process.poll() is None and stack.exchange_process.poll() is None
    for url in (stack.api, stack.exchange):
        assert httpx.get(url + "/health", timeout=10).status_code == 200
    assert httpx.get(stack.exchange + "/v1/exchange/instruments", timeout=10).status_code == 200


@pytest.mark.parametrize("server", SERVERS)
def test_json_nested_100000_deep_is_refused_and_the_server_keeps_serving(stack: Stack,
                                                                         server: str) -> None:
    url = getattr(stack, server)
    for path in ("/v1/transfers", "/v1/exchange/orders"):
        # 200 KB of brackets: over an ordinary write's cap before its depth is even measured
        r = httpx.post(url + path, content=nested(100_000), headers=JSON, timeout=30)
        assert error(r) == (413, "body_too_large")
        # 64,000 bytes: within the cap, refused for its depth
        r = httpx.post(url + path, content=nested(32_000), headers=JSON, timeout=30)
        assert error(r) == (422, "invalid_request")
        assert r.json()["error"]["details"] == {"max_depth": MAX_JSON_DEPTH}
    # a route with a larger cap: a million levels in 2 MB
    r = httpx.put(url + "/v1/oracle/projects/1/spec", content=nested(1_000_000), headers=JSON,
                  timeout=30)
    assert error(r) == (422, "invalid_request")
    assert_serving(stack)


@pytest.mark.parametrize("server", SERVERS)
def test_a_body_over_its_cap_is_refused_however_its_length_is_told(stack: Stack,
                                                                  server: str) -> None:
    url = getattr(stack, server)
    over = MAX_JSON_BODY + 1
    honest = httpx.post(url + "/v1/transfers", content=b" " * over, headers=JSON, timeout=30)
    assert error(honest) == (413, "body_too_large")
    assert honest.json()["error"]["details"] == {"max_bytes": MAX_JSON_BODY}
    chunked = httpx.post(url + "/v1/transfers", content=filler(over, chunk=4096),
                         headers=JSON, timeout=30)
    assert "content-length" not in chunked.request.headers
    assert error(chunked) == (413, "body_too_large")
    # a length that claims less than is sent: the server takes the claimed bytes as the body
    # (a thousand brackets deep) and refuses what follows as a malformed next request
    lying = raw_exchange(url, b"POST /v1/transfers HTTP/1.1\r\nHost: edge\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
                         iter([nested(100_000)]))
    assert 400 <= status_of(lying) < 500
    assert_serving(stack)


@pytest.mark.parametrize("server", SERVERS)
def test_a_200_mib_body_does_not_raise_the_servers_memory(stack: Stack, server: str) -> None:
    url = getattr(stack, server)
    pid = getattr(stack, f"{server}_process").pid
    before = peak_memory(pid)
    r = httpx.post(url + "/v1/transfers", content=filler(200 * MIB), headers=JSON, timeout=120)
    assert peak_memory(pid) - before < 16 * MIB
    assert error(r) == (413, "body_too_large")
    assert_serving(stack)


def test_an_upload_past_64_mib_is_refused_as_it_streams(stack: Stack) -> None:
    conn = connect(Settings(data_dir=stack.data, _env_file=None))  # type: ignore[call-arg]
    scenario = Scenario(conn.ledger, dev_accounts())
    project = scenario.project(scenario.methodology())
    path = f"/v1/oracle/projects/{project}/periods/1/2/files/readings.csv"
    # declared too large: answered before authentication, the body never read
    declared = raw_exchange(stack.api, f"PUT {path} HTTP/1.1\r\nHost: edge\r\n"
                            f"Content-Length: {200 * MIB}\r\n\r\n".encode())
    assert status_of(declared) == 413
    assert json_of(declared)["error"] == {
        "code": "file_too_large", "message": f"the request body is larger than "
        f"{MAX_UPLOAD_BYTES} bytes", "details": {"max_bytes": MAX_UPLOAD_BYTES}}
    # streamed without a length by the project's developer: stopped at the cap
    pid = stack.api_process.pid
    before = peak_memory(pid)
    r = httpx.put(stack.api + path, content=filler(200 * MIB, b"x"), timeout=120,
                  headers={"Authorization": f"Bearer {stack.keys()['developer']}"})
    assert peak_memory(pid) - before < MAX_UPLOAD_BYTES + 32 * MIB  # the cap, not the body
    assert error(r) == (413, "file_too_large")
    assert_serving(stack)


@pytest.mark.parametrize("server", SERVERS)
def test_headers_past_the_cap_are_refused_and_never_held(stack: Stack, server: str) -> None:
    url = getattr(stack, server)
    pad = b"X-Pad: " + b"a" * 1024 + b"\r\n"
    head = b"GET /health HTTP/1.1\r\nHost: edge\r\n" + pad * (MAX_HEAD_BYTES // len(pad) + 1)
    answer = raw_exchange(url, head + b"\r\n")
    assert status_of(answer) == 431
    assert json_of(answer)["error"] == {
        "code": "headers_too_large", "message": f"the request line and headers are larger "
        f"than {MAX_HEAD_BYTES} bytes", "details": {"max_bytes": MAX_HEAD_BYTES}}
    # one header of 64 MiB, still unfinished: stopped while it arrives
    pid = getattr(stack, f"{server}_process").pid
    before = peak_memory(pid)
    raw_exchange(url, b"GET /health HTTP/1.1\r\nHost: edge\r\nX-Pad: ",
                 filler(64 * MIB, b"a"))
    assert peak_memory(pid) - before < 16 * MIB
    assert_serving(stack)


def test_the_exchange_stream_still_upgrades_to_a_websocket(stack: Stack) -> None:
    async def first_message() -> dict[str, object]:
        ws_url = stack.exchange.replace("http://", "ws://") + "/v1/exchange/stream/1"
        async with websockets.connect(ws_url) as ws:
            message: dict[str, object] = json.loads(await ws.recv())
            return message

    assert asyncio.run(first_message()) == {"error": {"code": "unknown_instrument"}}
