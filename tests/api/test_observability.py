"""What an operator watches, through the real app: every response names its request id, every
request writes one JSON access-log line carrying it, and /metrics, scraped after a short load,
has the series the runbook names (API latency by route, engine throughput, journal fsync time,
settlement backlog and lag, index lag, oracle attestation lag)."""

from __future__ import annotations

import json
import logging
import re

import pytest
from eth_account.signers.local import LocalAccount

from core.logs import JsonFormatter
from exchange.runtime import Exchange
from registry.indexer import Indexer
from registry.ledger import Ledger
from tests.support.api import Api
from tests.support.exchange import INSTRUMENT, PRICE, T, place, signed


def scrape(api: Api) -> str:
    r = api.http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return r.text


def test_every_response_names_its_request_id(api: Api) -> None:
    given = api.http.get("/health/live", headers={"X-Request-ID": "trace-42"})
    assert given.headers["x-request-id"] == "trace-42"
    made = api.http.get("/health/live", headers={"X-Request-ID": "no spaces allowed"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    refused = api.http.get("/v1/batches/0")
    assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["x-request-id"])


def test_each_request_writes_one_json_access_line_with_its_id(
        api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tanhui.access"):
        r = api.http.get("/v1/batches/424242", headers={"X-Request-ID": "req-7"})
    [record] = [rec for rec in caplog.records if rec.name == "tanhui.access"]
    line = json.loads(JsonFormatter("api").format(record))
    assert (line["service"], line["method"], line["route"], line["status"]) == (
        "api", "GET", "/v1/batches/{batch_id}", r.status_code)
    assert line["path"] == "/v1/batches/424242" and line["duration_ms"] >= 0
    assert line["request_id"] == "req-7"


def test_a_log_line_written_during_a_request_carries_its_id() -> None:
    from core.logs import request_id

    token = request_id.set("req-9")
    try:
        record = logging.LogRecord("tanhui.x", logging.INFO, __file__, 1, "hello %s",
                                   ("world",), None)
        line = json.loads(JsonFormatter("exchange").format(record))
    finally:
        request_id.reset(token)
    assert (line["message"], line["request_id"], line["service"], line["level"]) == (
        "hello world", "req-9", "exchange", "info")


def test_metrics_after_a_short_load_have_every_series_the_runbook_names(
        api: Api, ex: Exchange, ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    Indexer(ledger.chain, ledger.deployment, api.db.engine).sync()
    for nonce in range(1, 4):
        place(api, signed(acc, ex, "trader2", "buy", PRICE - 5 * nonce, T, nonce))
    place(api, signed(acc, ex, "trader1", "sell", PRICE - 5, T, 1))  # trades with the best bid
    for _ in range(3):
        api.http.get(f"/v1/exchange/depth/{INSTRUMENT}")
    text = scrape(api)
    for series in (
        'tanhui_http_request_duration_seconds_count{method="POST",route="/v1/exchange/orders",'
        'status="201"} 4.0',
        'tanhui_http_request_duration_seconds_bucket{le="0.001",method="GET",'
        'route="/v1/exchange/depth/{instrument}",status="200"}',
        "tanhui_exchange_journal_entries_total ",
        "tanhui_exchange_journal_fsync_seconds_count ",
        'tanhui_exchange_journal_fsync_seconds_bucket{le="+Inf"} ',
        "tanhui_exchange_open_orders 2.0",
        "tanhui_exchange_settlement_backlog 1.0",
        "tanhui_exchange_settlement_lag_seconds ",
        "tanhui_index_lag_blocks ",
        'tanhui_dependency_up{dependency="index"} 1.0',
        'tanhui_dependency_up{dependency="oracle"} 1.0',
        "tanhui_oracle_attestation_lag_seconds{project=",
    ):
        assert series in text, f"{series!r} missing from /metrics"
    fsyncs = re.search(r"^tanhui_exchange_journal_fsync_seconds_count (\S+)$", text, re.M)
    assert fsyncs is not None and float(fsyncs.group(1)) >= 1  # the orders were fsync'd
    ex.worker.run_once()  # the trade settles: the backlog empties
    assert "tanhui_exchange_settlement_backlog 0.0" in scrape(api)


def test_a_record_made_during_a_request_keeps_its_id_and_extra_fields_cannot_clash() -> None:
    from core.logs import request_id

    token = request_id.set("req-11")
    try:
        record = logging.getLogger("tanhui.x").makeRecord(
            "tanhui.x", logging.INFO, __file__, 1, "m", (), None, extra={"route": "/x"})
    finally:
        request_id.reset(token)
    line = json.loads(JsonFormatter("api").format(record))  # formatted after the request
    assert (line["request_id"], line["route"]) == ("req-11", "/x")
