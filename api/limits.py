"""Request limits at the edge: a body cap per route and a nesting-depth limit on JSON bodies,
enforced before the app parses anything or authenticates anyone.

Without them one unauthenticated request could end the whole process: JSON nested 100,000
deep made `json.loads` recurse in C until the thread's stack overflowed (an import in the
eth-account chain had raised Python's recursion limit; `tanhui/__init__.py` restores it), and
a 200 MiB body was held in memory whole before any route looked at it.

`RequestLimits` is a pure ASGI middleware (it never wraps the response, and only the few
bytes a route is allowed are ever held):

- a declared `Content-Length` above the route's cap is refused at once, unread;
- the bytes that actually arrive are counted, so a lying `Content-Length` or a chunked body
  without one is refused as soon as the count passes the cap;
- a JSON route's body (at most its cap) is read in full and its nesting depth measured by a
  linear, non-recursive scan before the app sees it;
- the monitoring-data upload, which legitimately takes up to 64 MiB, is not read ahead: the
  route streams it after authentication and the count stops it at the cap.

Refusals have the API's error shape: `413 body_too_large` (`413 file_too_large` for the
upload) with the cap in `details`, and `422 invalid_request` with the depth limit in
`details`. WebSocket and lifespan traffic pass through untouched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError

KIB = 1024
MIB = 1024 * KIB

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects accepted in a JSON body (no request needs ten)."""

MAX_JSON_BODY = 64 * KIB
"""Default cap: an order, a transfer or a registration is well under 2 KiB."""

MAX_UPLOAD_BYTES = 64 * MIB
"""A monitoring data file (a year of hourly readings from 20 sensors is about 20 MiB)."""


@dataclass(frozen=True)
class BodyLimit:
    """How much body a route takes, and how."""

    max_bytes: int
    streamed: bool = False
    """The route reads a raw body itself (not JSON): counted as it arrives, never read ahead
    or scanned."""
    code: str = "body_too_large"


DEFAULT_LIMIT = BodyLimit(MAX_JSON_BODY)

ROUTE_LIMITS: dict[tuple[str, str], BodyLimit] = {
    # a data file, after authentication, streamed
    ("PUT", "/v1/oracle/projects/{project_id}/periods/{period_start}/{period_end}/files/{name}"):
        BodyLimit(MAX_UPLOAD_BYTES, streamed=True, code="file_too_large"),
    # a monitoring spec carries the project's device registry (up to 10,000 devices)
    ("PUT", "/v1/oracle/projects/{project_id}/spec"): BodyLimit(2 * MIB),
    # a canonical record of up to 65,536 characters (JSON-escaped) and its proof
    ("POST", "/v1/oracle/reports/{report_id}/verify-record"): BodyLimit(1 * MIB),
    # a signed request with up to 32 KiB of calldata, hex-encoded
    ("POST", "/v1/relay"): BodyLimit(128 * KIB),
}
"""Routes that take more than `MAX_JSON_BODY`, by method and path template as the routers
declare them (tests check each template names a real route)."""


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p)
                                    for p in parts) + "$")


# -- JSON nesting depth ---------------------------------------------------------------------------

_NOT_MARK = bytes(b for b in range(256) if b not in b'[]{}"')
_MARKS = bytes.maketrans(b"{}", b"[]")  # the kind of bracket does not change the depth
_SIGNED = bytes.maketrans(b"[]", b"\x01\xff")  # +1 / -1 as signed bytes
_BLOCK = 64 * KIB


def json_depth(body: bytes, stop: int | None = None) -> int:
    """The deepest nesting of arrays and objects in `body`, without parsing it (exact for
    valid JSON; for malformed JSON never less than a parser would reach before failing).
    With `stop`, counting ends as soon as the depth is known to pass it.

    Every step runs in C over the whole body, so the scan is linear and non-recursive:
    - escapes go first (pairs of backslashes, then escaped quotes: left to right, as a parser
      reads them), so every quote left opens or closes a string (a parser stops at a stray
      backslash outside strings; up to there the count is exact);
    - only brackets and quotes are kept; a string without brackets is then `""`, and dropping
      any two adjacent quotes leaves every other quote opening or closing as before; what
      remains between every other pair of quotes is inside strings, and is dropped;
    - the depth of the brackets left is the running sum's maximum. While that pays (each
      pass halves the brackets), adjacent `[]` pairs are removed first: a pass lowers the
      maximum by exactly one for balanced brackets, and by at most one otherwise. The sum is
      then taken block by block, stopping at `stop`.

    Bodies in UTF-16 or UTF-32 (which `json.loads` accepts) are measured as UTF-8, whose
    multi-byte characters never contain a quote, backslash or bracket byte.
    """
    encoding = json.detect_encoding(body)
    if encoding not in ("utf-8", "utf-8-sig"):
        body = body.decode(encoding, errors="replace").encode("utf-8")
    plain = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = plain.translate(_MARKS, _NOT_MARK).replace(b'""', b"")
    brackets = b"".join(marks.split(b'"')[::2])
    levels = 0
    while brackets:
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) * 2 > len(brackets):
            break
        brackets = shorter
        levels += 1
    signed = brackets.translate(_SIGNED)
    deepest = running = 0
    for start in range(0, len(signed), _BLOCK):
        block = memoryview(signed)[start:start + _BLOCK].cast("b")
        deepest = max(deepest, max(accumulate(block, initial=running)))
        if stop is not None and levels + deepest > stop:
            break
        running += (signed.count(b"\x01", start, start + _BLOCK)
                    - signed.count(b"\xff", start, start + _BLOCK))
    return levels + deepest


def too_deep(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether `body` nests deeper than `max_depth`; free for ordinary bodies, which have
    fewer opening brackets in all than the limit."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    return json_depth(body, stop=max_depth) > max_depth


# -- the middleware --------------------------------------------------------------------------------


class BodyTooLarge(ApiError):
    """The body of a streamed route passed its cap while the route was reading it."""

    def __init__(self, limit: BodyLimit) -> None:
        super().__init__(413, limit.code, f"the request body is larger than {limit.max_bytes} "
                         "bytes", {"max_bytes": limit.max_bytes})


def _refusal(exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message,
                                   "details": exc.details}}, status_code=exc.status)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestLimits:
    """Pure ASGI middleware: caps each route's body and the nesting depth of JSON bodies."""

    def __init__(self, app: ASGIApp, routes: dict[tuple[str, str], BodyLimit] | None = None,
                 default: BodyLimit = DEFAULT_LIMIT, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.default = default
        self.max_depth = max_depth
        table = ROUTE_LIMITS if routes is None else routes
        # looked up on every request (order entry is the hot path): exact paths in a dict,
        # templates only once their fixed prefix matches
        self._exact = {key: limit for key, limit in table.items() if "{" not in key[1]}
        self._templates = [(method, path.split("{")[0], _template_regex(path), limit)
                           for (method, path), limit in table.items() if "{" in path]

    def limit_for(self, method: str, path: str) -> BodyLimit:
        limit = self._exact.get((method, path))
        if limit is not None:
            return limit
        for m, prefix, pattern, limit in self._templates:
            if m == method and path.startswith(prefix) and pattern.match(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit.max_bytes:
            await _refusal(BodyTooLarge(limit))(scope, receive, send)
            return
        if limit.streamed:
            await self._streamed(scope, receive, send, limit)
        else:
            await self._read_ahead(scope, receive, send, limit)

    async def _read_ahead(self, scope: Scope, receive: Receive, send: Send,
                          limit: BodyLimit) -> None:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return
        body: bytes = message.get("body", b"")
        if len(body) > limit.max_bytes:
            await _refusal(BodyTooLarge(limit))(scope, receive, send)
            return
        if message.get("more_body", False):  # else (most requests) the body came whole
            chunks = [body]
            size = len(body)
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":  # the client went away mid-body
                    return
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit.max_bytes:
                    await _refusal(BodyTooLarge(limit))(scope, receive, send)
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
        if too_deep(body, self.max_depth):
            await _refusal(ApiError(
                422, "invalid_request", f"JSON nested deeper than {self.max_depth} levels",
                {"max_depth": self.max_depth}))(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # e.g. waiting for a disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send,
                        limit: BodyLimit) -> None:
        size = 0
        started = False

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit.max_bytes:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # the app's own ApiError handler did not render it
            if started:
                raise
            await _refusal(exc)(scope, receive, send)


MAX_HEAD_BYTES = 64 * KIB
"""Request line and headers together (an API key is 46 characters; browsers send under 8 KiB).
httptools itself accepts headers of any size, so without this bound a client could fill the
server's memory before any request reached the app."""


def _head_too_large_response() -> bytes:
    body = json.dumps({"error": {
        "code": "headers_too_large",
        "message": f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes",
        "details": {"max_bytes": MAX_HEAD_BYTES}}}).encode()
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\ncontent-length: " + str(len(body)).encode()
            + b"\r\nconnection: close\r\n\r\n" + body)


def http_protocol() -> type[Any]:
    """uvicorn's httptools protocol with the request line and headers bounded: answers
    `431 headers_too_large` (then closes) once they pass MAX_HEAD_BYTES.

    Two lower bounds of a head's size are kept, and either past the cap refuses it: the
    parsed request line and headers, counted as the parser hands them over; and the bytes
    received while the head was still incomplete, since httptools keeps a header it is
    still reading in a buffer of its own that would otherwise grow without end."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _in_head = True
        _heads = 0  # heads completed on this connection
        _parsed_head = 0
        _unparsed_head = 0
        _head_too_large = False

        def data_received(self, data: bytes) -> None:
            in_head, heads = self._in_head, self._heads
            super().data_received(data)
            if in_head and self._heads == heads and not self._head_too_large:
                self._unparsed_head += len(data)  # all of it was head, still unfinished
                if self._unparsed_head > MAX_HEAD_BYTES:
                    self._head_too_large = True
                    self.send_400_response("request head too large")

        def on_message_begin(self) -> None:
            self._in_head = True
            self._parsed_head = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._heads += 1
            self._unparsed_head = 0
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head = True  # what follows is the next request's head

        def _count(self, n: int) -> None:
            self._parsed_head += n
            if self._parsed_head > MAX_HEAD_BYTES:
                # an error in a parser callback stops the parser; uvicorn then answers 400
                # and closes the connection, which send_400_response turns into a 431
                self._head_too_large = True
                raise ValueError("request head too large")

        def send_400_response(self, msg: str) -> None:
            if not self._head_too_large:
                super().send_400_response(msg)
                return
            self.transport.write(_head_too_large_response())
            self.transport.close()

    return BoundedHttpToolsProtocol


def server_limits() -> dict[str, Any]:
    """uvicorn settings for every server of the API (`tanhui up`, `tanhui exchange run`)."""
    return {
        "http": http_protocol(),
        # the exchange's stream only sends; nothing a client says to it needs more than a ping
        "ws_max_size": 64 * KIB,
        "ws_max_queue": 8,
    }
