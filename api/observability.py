"""What an operator watches: a request id and an access-log line for every request, and the
Prometheus metrics at `/metrics`.

`RequestContext` is a pure ASGI middleware (it never buffers a body): it takes the caller's
`X-Request-ID` when it is a short token (else makes one), puts it in the log context
(core.logs.request_id, so every line the request causes carries it) and in the response's
`X-Request-ID` header, then writes one access-log line (method, route template, status,
duration) and observes the request's latency by route.

Metrics (`tanhui_` prefix; one registry per app, so tests may build many):

- `http_request_duration_seconds{method,route,status}` — API latency by route template;
- `exchange_journal_entries_total` — the exchange's journal position: its rate is the
  engine's throughput (every accepted command is one entry);
- `exchange_journal_fsync_seconds` — the journal's group fsyncs (histogram);
- `exchange_open_orders`, `exchange_settlement_backlog` (trades matched, not yet settled),
  `exchange_settlement_lag_seconds` (age of the oldest of them), `exchange_failed_trades`;
- `index_lag_blocks` — how far the SQL index is behind the chain head;
- `oracle_attestation_lag_seconds` — for the latest attested monitoring period of every
  project, the time from the period's end to the block that holds its attestation.

Values that need the chain or the database are read when scraped; a dependency that does not
answer leaves its series out and sets `tanhui_dependency_up{dependency}` to 0.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logs import request_id

log = logging.getLogger("tanhui.access")
router = APIRouter(include_in_schema=False)

_TOKEN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


def new_registry() -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry(auto_describe=False)
    latency = Histogram("tanhui_http_request_duration_seconds", "API latency by route",
                        ["method", "route", "status"], registry=registry,
                        buckets=LATENCY_BUCKETS)
    return registry, latency


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContext:
    """Request id, access log and latency for every HTTP request (see the module)."""

    def __init__(self, app: ASGIApp, latency: Histogram) -> None:
        self.app = app
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"]
                      if k == b"x-request-id"), "")
        rid = given if _TOKEN.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            self.latency.labels(scope["method"], route, str(status)).observe(elapsed)
            client = scope.get("client")
            log.info("%s %s %s", scope["method"], scope["path"], status,
                     extra={"method": scope["method"], "path": scope["path"], "route": route,
                            "status": status, "duration_ms": round(elapsed * 1000, 3),
                            "client": client[0] if client else None})
            request_id.reset(token)


class StateCollector(Collector):
    """The series read from the app's state when scraped (see the module)."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("tanhui_dependency_up", "whether a dependency answered the "
                               "last scrape", labels=["dependency"])
        yield from self._exchange()
        for name, read in (("index", self._index), ("oracle", self._oracle)):
            try:
                metrics = list(read())
            except Exception:  # a dependency down: its series are left out
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from metrics
        yield up

    def _exchange(self) -> Iterator[Metric]:
        exchange = getattr(self.state, "exchange", None)
        if exchange is None:
            return
        status = exchange.reads.status()
        entries = CounterMetricFamily("tanhui_exchange_journal_entries",
                                      "journal entries written (rate: engine throughput)")
        entries.add_metric([], status["journal_seq"])
        yield entries
        buckets, total = exchange.reads.journal_fsyncs()
        fsync = HistogramMetricFamily("tanhui_exchange_journal_fsync_seconds",
                                      "time of the journal's group fsyncs")
        fsync.add_metric([], [(_le(b), n) for b, n in buckets], sum_value=total)
        yield fsync
        oldest = status["oldest_pending_trade_ts"]
        for name, help_, value in (
            ("tanhui_exchange_open_orders", "orders resting on the books", status["open_orders"]),
            ("tanhui_exchange_settlement_backlog", "trades matched but not yet settled",
             status["pending_trades"]),
            ("tanhui_exchange_settlement_lag_seconds", "age of the oldest unsettled trade",
             0 if oldest is None else max(0.0, time.time() - oldest / 1000)),
            ("tanhui_exchange_failed_trades", "trades whose settlement failed",
             status["failed_trades"]),
        ):
            yield GaugeMetricFamily(name, help_, value=value)

    def _index(self) -> Iterator[Metric]:
        from registry import queries

        head = int(self.state.view.chain.w3.eth.block_number)
        with self.state.sessions() as session:
            status = queries.index_status(session, head)
        lag = status["index_lag"]
        yield GaugeMetricFamily("tanhui_index_lag_blocks", "blocks the SQL index is behind "
                                "the chain head", value=head if lag is None else lag)

    def _oracle(self) -> Iterator[Metric]:
        from registry import queries

        with self.state.sessions() as session:
            periods = queries.latest_attested_periods(session)
        w3 = self.state.view.chain.w3
        g = GaugeMetricFamily("tanhui_oracle_attestation_lag_seconds",
                              "from a project's latest attested period's end to its "
                              "attestation's block", labels=["project"])
        for project_id, (period_end, block) in sorted(periods.items()):
            attested_at = int(w3.eth.get_block(block)["timestamp"])
            g.add_metric([str(project_id)], max(0, attested_at - period_end))
        yield g


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def install(app: Any) -> None:
    """Adds the request context middleware and /metrics to `app`."""
    registry, latency = new_registry()
    registry.register(StateCollector(app.state))
    app.state.metrics = registry
    app.add_middleware(RequestContext, latency=latency)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus' text format."""
    body = generate_latest(request.app.state.metrics)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
