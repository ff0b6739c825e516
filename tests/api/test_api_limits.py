"""Request limits at the edge: every route's body cap and the JSON nesting-depth limit hold
before anything is parsed or authenticated, whatever the request claims about its length; the
recursion limit is the interpreter's default once the product is imported.

Bodies are fed to the ASGI app message by message (as uvicorn does), so a test controls the
declared length and the chunks independently and sees how much of the body was read."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from api.app import create_app
from api.limits import (
    MAX_HEAD_BYTES,
    MAX_JSON_BODY,
    MAX_JSON_DEPTH,
    MAX_UPLOAD_BYTES,
    ROUTE_LIMITS,
    BodyLimit,
    RequestLimits,
    json_depth,
    server_limits,
)
from devkit.scenario import Scenario
from registry.ledger import Ledger
from tests.support.api import ApiDatabase, api_database

KIB = 1024


@dataclass
class Answer:
    status: int
    body: Any
    messages_read: int
    bytes_read: int

    @property
    def code(self) -> str:
        return str(self.body["error"]["code"])


def request(app: Any, method: str, path: str, chunks: Iterable[bytes],
            headers: dict[str, str] | None = None, scope_type: str = "http") -> Answer:
    """One request through `app`, its body sent as the given chunks (the last one without
    `more_body`); counts what the app pulled from the connection."""
    pending = list(chunks) or [b""]
    read = {"messages": 0, "bytes": 0}
    sent: list[Message] = []

    async def receive() -> Message:
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        read["messages"] += 1
        read["bytes"] += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": scope_type, "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], json.loads(body) if body else None, read["messages"],
                  read["bytes"])


class Echo:
    """An app that reads the whole body and says how long it was."""

    def __init__(self) -> None:
        self.saw: bytes | None = None
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.saw = body
        payload = json.dumps({"length": len(body)}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})


def limited(app: Any, cap: int = 1000, streamed: bool = False) -> RequestLimits:
    return RequestLimits(app, routes={("PUT", "/files/{name}"): BodyLimit(
        cap, streamed=True, code="file_too_large")}, default=BodyLimit(cap)) if streamed \
        else RequestLimits(app, routes={}, default=BodyLimit(cap))


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# -- the middleware on its own -----------------------------------------------------------------


def test_a_declared_length_above_the_cap_is_refused_unread() -> None:
    echo = Echo()
    a = request(limited(echo), "POST", "/x", [b"x" * 2000], {"content-length": "2000"})
    assert (a.status, a.code) == (413, "body_too_large")
    assert a.body["error"]["details"] == {"max_bytes": 1000}
    assert a.messages_read == 0 and echo.calls == 0


def test_a_body_longer_than_its_declared_length_is_counted_and_refused() -> None:
    echo = Echo()
    a = request(limited(echo), "POST", "/x", [b"x" * 100] * 50, {"content-length": "10"})
    assert (a.status, a.code) == (413, "body_too_large")
    assert a.bytes_read <= 1100 and echo.calls == 0


def test_a_chunked_body_without_length_is_refused_once_past_the_cap() -> None:
    echo = Echo()
    a = request(limited(echo), "POST", "/x", [b" " * 100] * 10_000,
                {"transfer-encoding": "chunked"})
    assert (a.status, a.code) == (413, "body_too_large")
    assert a.messages_read == 11 and echo.calls == 0


def test_a_body_past_the_cap_in_one_piece_is_refused() -> None:
    echo = Echo()
    a = request(limited(echo), "POST", "/x", [b" " * 1001])
    assert (a.status, a.code, echo.calls) == (413, "body_too_large", 0)


def test_a_body_of_exactly_the_cap_reaches_the_app_whole() -> None:
    echo = Echo()
    body = b"[" + b" " * 998 + b"]"
    a = request(limited(echo), "POST", "/x", [body[:300], body[300:]])
    assert (a.status, a.body) == (200, {"length": 1000})
    assert echo.saw == body


def test_json_nested_deeper_than_the_limit_is_refused_before_the_app() -> None:
    echo = Echo()
    app = RequestLimits(echo, routes={}, default=BodyLimit(10 * KIB))
    a = request(app, "POST", "/x", [nested(MAX_JSON_DEPTH + 1)])
    assert (a.status, a.code) == (422, "invalid_request")
    assert a.body["error"]["details"] == {"max_depth": MAX_JSON_DEPTH}
    assert echo.calls == 0
    assert request(app, "POST", "/x", [nested(MAX_JSON_DEPTH)]).status == 200


def test_brackets_and_escaped_quotes_inside_strings_do_not_count_as_nesting() -> None:
    echo = Echo()
    app = RequestLimits(echo, routes={}, default=BodyLimit(10 * KIB))
    text = json.dumps({"note": '[{"\\' * 500, "list": [[1]]}).encode()
    assert request(app, "POST", "/x", [text]).status == 200


def test_a_streamed_route_is_stopped_at_its_cap_while_the_app_reads() -> None:
    echo = Echo()
    a = request(limited(echo, streamed=True), "PUT", "/files/a.csv", [b"x" * 100] * 10_000)
    assert (a.status, a.code) == (413, "file_too_large")
    assert a.bytes_read <= 1100 and echo.saw is None


def test_a_streamed_route_that_answers_before_reading_is_left_alone() -> None:
    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b'{"error": "no key"}'})

    a = request(limited(refuse, streamed=True), "PUT", "/files/a.csv", [b"x" * 100] * 100)
    assert (a.status, a.messages_read) == (401, 0)


def test_websocket_traffic_passes_through_untouched() -> None:
    seen: list[Scope] = []

    async def ws(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    a = request(limited(ws, cap=1), "GET", "/stream/1", [b"x" * 100], scope_type="websocket")
    assert a.status == 200 and a.messages_read == 0 and seen[0]["type"] == "websocket"


# -- the request head, in the HTTP protocol itself ----------------------------------------------


class Wire(asyncio.Transport):
    """The server's end of a connection: what it writes, and whether it hung up."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default)

    def write(self, data: Any) -> None:
        self.out += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def serve(arrivals: Iterable[bytes]) -> Wire:
    """Feeds the bytes to a fresh connection of the bounded protocol as they would arrive
    (each item one read), with an app that answers 200 with the body's length."""
    import uvicorn
    from uvicorn.server import ServerState

    async def run() -> Wire:
        config = uvicorn.Config(Echo(), lifespan="off", log_level="critical",
                                **server_limits())
        protocol = config.http if isinstance(config.http, type) else None
        assert protocol is not None
        wire = Wire()
        conn = protocol(config=config, server_state=ServerState(), app_state={})
        conn.connection_made(wire)
        for data in arrivals:
            if wire.closed:
                break
            conn.data_received(data)
            await asyncio.sleep(0.01)  # the app answers
        return wire

    return asyncio.run(run())


HEAD = b"POST /x HTTP/1.1\r\nHost: edge\r\n"


def test_a_request_arriving_whole_in_one_read_is_not_taken_for_a_long_head() -> None:
    body = b" " * (200 * KIB)
    whole = HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body
    wire = serve([whole, whole])  # and again, on the same connection
    assert wire.out.count(b"HTTP/1.1 200 OK") == 2 and not wire.closed


def test_a_head_past_64_kib_is_refused_with_431_and_the_connection_closed() -> None:
    pad = b"X-Pad: " + b"a" * 1000 + b"\r\n"
    wire = serve([HEAD + pad * 70 + b"\r\n"])
    assert wire.out.startswith(b"HTTP/1.1 431 ") and wire.closed
    assert json.loads(bytes(wire.out).partition(b"\r\n\r\n")[2])["error"] == {
        "code": "headers_too_large", "message": "the request line and headers are larger "
        f"than {MAX_HEAD_BYTES} bytes", "details": {"max_bytes": MAX_HEAD_BYTES}}


def test_one_unfinished_header_is_refused_once_it_passes_64_kib() -> None:
    chunks = [HEAD + b"X-Pad: ", *([b"a" * (16 * KIB)] * 1000)]
    wire = serve(chunks)
    assert wire.out.startswith(b"HTTP/1.1 431 ") and wire.closed


# -- measuring depth ---------------------------------------------------------------------------

STRING = st.text(alphabet=st.sampled_from('[]{}"\\ aü碳\n\t\u2028'), max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | STRING,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(STRING, inner, max_size=4),
    max_leaves=40)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def wrap(value: Any, times: int) -> Any:
    for i in range(times):
        value = [value] if i % 2 else {"k[": value}
    return value


@given(JSON_VALUES, st.integers(0, 80), st.booleans(),
       st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-32-be"]))
def test_the_measured_depth_is_the_nesting_of_any_json_document(
        value: Any, extra: int, ascii_only: bool, encoding: str) -> None:
    value = wrap(value, extra)
    body = json.dumps(value, ensure_ascii=ascii_only).encode(encoding)
    assert json_depth(body) == depth_of(value)


def parser_depth(text: str) -> int:
    """How deep a JSON parser gets into `text` before it ends or fails: the reference the
    scan is held to, one character at a time."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
            if depth < 0:
                break
    return deepest


@given(JSON_VALUES, st.integers(0, 80), st.floats(0, 1))
def test_a_cut_document_never_measures_shallower_than_a_parser_gets_into_it(
        value: Any, extra: int, where: float) -> None:
    text = json.dumps(wrap(value, extra), ensure_ascii=False)
    cut = text[: int(len(text) * where)]
    assert json_depth(cut.encode()) >= parser_depth(cut)


# -- the API's routes --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-limits")), acc)


@pytest.fixture
def app(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> FastAPI:
    return create_app(db.settings, ledger, db.engine, relayer=acc["governance"])


def auth(db: ApiDatabase, seat: str) -> dict[str, str]:
    return {"authorization": f"Bearer {db.keys[seat]}"}


def operations(app: FastAPI) -> Iterator[tuple[str, str, bool]]:
    """(method, path template, takes JSON) of every operation the API declares."""
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            yield method.upper(), path, "application/json" in content


def concrete(template: str) -> str:
    return re.sub(r"\{address\}", "0x" + "11" * 20, re.sub(r"\{(?!address)[^}]+\}", "1",
                                                          template))


def test_every_larger_cap_names_a_real_route(app: FastAPI) -> None:
    declared = {(method, path) for method, path, _ in operations(app)}
    assert set(ROUTE_LIMITS) <= declared


def test_json_nested_too_deep_is_refused_before_authentication_on_every_json_route(
        app: FastAPI) -> None:
    routes = sorted((method, concrete(path)) for method, path, takes_json in operations(app)
                    if takes_json)
    assert ("POST", "/v1/transfers") in routes and ("POST", "/v1/exchange/orders") in routes
    for method, path in routes:
        a = request(app, method, path, [nested(5_000)], {"content-type": "application/json"})
        assert (a.status, a.code) == (422, "invalid_request"), (method, path, a.body)
        assert a.body["error"]["details"] == {"max_depth": MAX_JSON_DEPTH}


def test_ordinary_json_writes_take_64_kib_and_refuse_more_before_authentication(
        app: FastAPI, db: ApiDatabase) -> None:
    body = json.dumps({"to": "0x" + "11" * 20, "batch_id": 1, "amount": "1"}).encode()
    fits = body + b" " * (MAX_JSON_BODY - len(body))
    assert request(app, "POST", "/v1/transfers", [fits]).code == "unauthenticated"
    for path in ("/v1/transfers", "/v1/exchange/orders", "/v1/members"):
        a = request(app, "POST", path, [fits, b" "])
        assert (a.status, a.code) == (413, "body_too_large"), path
        assert a.body["error"]["details"] == {"max_bytes": MAX_JSON_BODY}


def test_a_path_that_names_no_route_takes_the_default_cap(app: FastAPI) -> None:
    assert request(app, "PUT", "/v1/nowhere", [b"x" * 1024]).code == "route_not_found"
    a = request(app, "PUT", "/v1/nowhere", [b"x" * (MAX_JSON_BODY + 1)])
    assert (a.status, a.code) == (413, "body_too_large")


@pytest.mark.parametrize(("method", "path", "cap"), [
    ("POST", "/v1/relay", 128 * KIB),
    ("PUT", "/v1/oracle/projects/1/spec", 2 * 1024 * KIB),
    ("POST", "/v1/oracle/reports/1/verify-record", 1024 * KIB),
])
def test_routes_that_take_more_have_their_own_caps(app: FastAPI, db: ApiDatabase, method: str,
                                                   path: str, cap: int) -> None:
    blank = b" " * (64 * KIB)
    fits = [b"{}", *([blank] * (cap // len(blank) - 1)), b" " * (len(blank) - 2)]
    assert request(app, method, path, fits).status != 413
    a = request(app, method, path, [*fits, b" "], auth(db, "operator"))
    assert (a.status, a.code) == (413, "body_too_large")


def test_an_upload_declared_past_64_mib_is_refused_before_authentication(app: FastAPI) -> None:
    a = request(app, "PUT", "/v1/oracle/projects/1/periods/1/2/files/readings.csv", [b"x"],
                {"content-length": str(MAX_UPLOAD_BYTES + 1)})
    assert (a.status, a.code, a.messages_read) == (413, "file_too_large", 0)


def test_an_upload_is_refused_as_soon_as_it_passes_64_mib(app: FastAPI, db: ApiDatabase,
                                                          ledger: Ledger,
                                                          acc: dict[str, LocalAccount]) -> None:
    sc = Scenario(ledger, acc)
    project = sc.project(sc.methodology())
    chunk = b"x" * (1024 * KIB)
    a = request(app, "PUT", f"/v1/oracle/projects/{project}/periods/1/2/files/readings.csv",
                [chunk] * 200, auth(db, "developer"))
    assert (a.status, a.code) == (413, "file_too_large")
    assert a.bytes_read <= MAX_UPLOAD_BYTES + len(chunk)


def test_a_json_data_file_nested_too_deep_is_unreadable(app: FastAPI, db: ApiDatabase,
                                                        ledger: Ledger,
                                                        acc: dict[str, LocalAccount]) -> None:
    sc = Scenario(ledger, acc)
    project = sc.project(sc.methodology())
    spec = json.dumps({"code": "GX-QZ-1", "calculator": "blue_carbon", "area_ha": "1"}).encode()
    assert request(app, "PUT", f"/v1/oracle/projects/{project}/spec", [spec],
                   {**auth(db, "developer"), "content-type": "application/json"}).status == 200
    a = request(app, "PUT", f"/v1/oracle/projects/{project}/periods/1/2/files/scenes.json",
                [nested(5_000)], auth(db, "developer"))
    assert (a.status, a.code) == (422, "unreadable_file")


# -- the interpreter ---------------------------------------------------------------------------


def test_the_recursion_limit_is_the_default_after_importing_the_whole_product() -> None:
    """py_ecc (under eth-account) raises the limit to 100,000 when imported; with it, deep
    JSON overflows the C stack instead of raising RecursionError."""
    script = (
        "import importlib, pkgutil, sys\n"
        "import eth_account\n"  # py_ecc first, as any module of the product may do
        "import tanhui.cli\n"
        "for pkg in ('chain', 'registry', 'oracle', 'exchange', 'api', 'tanhui'):\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(mod.__path__, pkg + '.'):\n"
        "        if '.migrations' not in info.name:\n"
        "            importlib.import_module(info.name)\n"
        "print(sys.getrecursionlimit())\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=120)
    assert int(out.stdout.split()[-1]) <= 1000
