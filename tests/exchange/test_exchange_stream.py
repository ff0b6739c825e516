"""The public stream: strictly increasing `seq` under concurrent order entry, and anonymous."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from starlette.websockets import WebSocketDisconnect

from api.routes import exchange as exchange_routes
from exchange.runtime import Exchange
from exchange.signing import Order, sign_order
from tests.support.api import Api
from tests.support.exchange import INSTRUMENT, PRICE, T, signed

THREADS = 8
ORDERS_PER_THREAD = 24


def _presigned(acc: dict[str, LocalAccount], ex: Exchange) -> list[list[tuple[Order, bytes]]]:
    """Per thread, signed orders that rest (a buy below, a sell above the price), with a few
    crossing ones that trade: every order makes two or more events."""
    batch = ex.service.reads.listings[INSTRUMENT].batch_id
    out: list[list[tuple[Order, bytes]]] = []
    nonce = {"trader1": 1_000, "trader2": 1_000}
    for t in range(THREADS):
        orders = []
        for i in range(ORDERS_PER_THREAD):
            seat, side = ("trader1", 1) if (t + i) % 2 else ("trader2", 0)
            price = PRICE if i % 6 == 0 else PRICE + 5 * (1 + i % 4) * (1 if side else -1)
            nonce[seat] += 1
            o = Order(acc[seat].address, side, INSTRUMENT, price, T, 0, nonce[seat],
                      2**40, batch_id=batch if side else 0, max_fee_bps=20)
            orders.append((o, sign_order(acc[seat], o, ex.chain.domain)))
        out.append(orders)
    return out


def test_the_stream_delivers_strictly_increasing_seq_under_concurrent_order_entry(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    work = _presigned(acc, ex)
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def enter(orders: list[tuple[Order, bytes]]) -> None:
        start.wait()
        try:
            for order, signature in orders:
                ex.service.submit(order, signature)
        except BaseException as e:  # reported below, not lost in the thread
            failures.append(e)

    with api.http.websocket_connect(f"/v1/exchange/stream/{INSTRUMENT}") as ws:
        snap = ws.receive_json()
        threads = [threading.Thread(target=enter, args=(w,)) for w in work]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
        assert not failures, failures
        last = ex.service.reads.depth(INSTRUMENT)["seq"]
        assert last - snap["seq"] >= 2 * THREADS * ORDERS_PER_THREAD
        seqs = [int(ws.receive_json()["seq"]) for _ in range(last - snap["seq"])]
    assert seqs == list(range(snap["seq"] + 1, last + 1))


def test_the_stream_and_the_trades_tape_name_no_member(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    addresses = {acc[s].address.lower()[2:] for s in ("trader1", "trader2")}
    with api.http.websocket_connect(f"/v1/exchange/stream/{INSTRUMENT}") as ws:
        ws.receive_json()
        api.post("/v1/exchange/orders", None,
                 signed(acc, ex, "trader1", "sell", PRICE, 3 * T, 1), status=201)
        api.post("/v1/exchange/orders", None,
                 signed(acc, ex, "trader2", "buy", PRICE, 2 * T, 1), status=201)
        events: list[dict[str, Any]] = [ws.receive_json() for _ in range(4)]
    assert [e["event"] for e in events] == ["accepted", "rested", "accepted", "trade"]
    tape = api.get(f"/v1/exchange/trades/{INSTRUMENT}")
    assert len(tape) == 1
    for text in (repr(events), repr(tape)):
        assert not any(a in text.lower() for a in addresses), text
    assert not {"member", "buyer", "seller", "trader"} & {k for e in events for k in e}


def test_a_stream_that_falls_behind_says_so_and_closes_rather_than_leave_a_gap(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange_routes, "STREAM_BACKLOG", 3)
    with api.http.websocket_connect(f"/v1/exchange/stream/{INSTRUMENT}") as ws:
        ws.receive_json()
        for nonce in (1, 2, 3):
            api.post("/v1/exchange/orders", None,
                     signed(acc, ex, "trader1", "sell", PRICE, T, nonce), status=201)
            assert [ws.receive_json()["event"] for _ in range(2)] == ["accepted", "rested"]
        # one order, four events at once (accepted, three trades): more than the backlog
        api.post("/v1/exchange/orders", None,
                 signed(acc, ex, "trader2", "buy", PRICE, 3 * T, 1), status=201)
        message = ws.receive_json()
        assert message["type"] == "error" and message["error"]["code"] == "stream_lagging"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1013
