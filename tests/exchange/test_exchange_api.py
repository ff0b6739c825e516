"""The exchange through its HTTP API on a real chain: signed orders cross, the worker settles
them on chain, bad orders get stable codes, and a restarted service replays its journal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from devkit.scenario import Scenario
from exchange.runtime import Exchange, open_exchange
from exchange.signing import Order
from registry.ledger import Ledger
from tests.support.api import Api
from tests.support.exchange import INSTRUMENT, PRICE, T, signed


def test_signed_orders_cross_and_settle_on_chain(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    sell = api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE,
                                                        10 * T, 1), status=201)
    assert sell["status"] == "open"
    buy = api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE + 100,
                                                       4 * T, 1), status=201)
    assert buy["status"] == "filled"
    [trade] = buy["trades"]
    assert (trade["price"], trade["quantity"], trade["settlement"]) == (PRICE, 4 * T, "pending")
    depth = api.get(f"/v1/exchange/depth/{INSTRUMENT}")
    assert depth["asks"] == [[PRICE, 6 * T, 1]] and depth["bids"] == []

    assert ex.worker.run_once() == 1
    assert ledger.balance(acc["trader2"].address, market) == 4 * T
    cash = 4 * PRICE
    assert ex.chain.cash_balance(acc["trader1"].address) == cash - cash * 10 // 10_000
    bought = api.read(f"/v1/exchange/orders/{buy['order_id']}", "trader2")
    assert bought["trades"][0]["settlement"] == "settled"
    assert ex.worker.run_once() == 0  # nothing twice
    stats = api.get(f"/v1/exchange/stats/{INSTRUMENT}")
    assert (stats["trades"], stats["volume"], stats["last"]) == (1, 4 * T, PRICE)
    assert api.get(f"/v1/exchange/candles/{INSTRUMENT}?interval=1m")[0]["volume"] == 4 * T


def test_bad_orders_get_stable_codes(api: Api, ex: Exchange,
                                     acc: dict[str, LocalAccount]) -> None:
    def code(body: dict[str, object]) -> tuple[int, str]:
        r = api.raw("POST", "/v1/exchange/orders", None, body)
        return r.status_code, r.json()["error"]["code"]

    assert code(signed(acc, ex, "trader1", "sell", PRICE + 3, T, 1)) == (422, "tick_violation")
    assert code(signed(acc, ex, "trader1", "sell", PRICE, T + 7, 2)) == (422, "lot_violation")
    assert code(signed(acc, ex, "trader1", "sell", PRICE * 2, T, 3)) == (
        422, "outside_price_band")
    assert code(signed(acc, ex, "trader1", "sell", PRICE, 500 * T, 4)) == (
        409, "insufficient_balance")
    assert code(signed(acc, ex, "trader2", "buy", PRICE, 900 * T, 5)) == (
        409, "insufficient_balance")  # 540,000 CNY needed, 500,000 held
    assert code(signed(acc, ex, "trader1", "sell", PRICE, T, 6, expiry=1)) == (422, "order_expired")
    forged = signed(acc, ex, "trader1", "sell", PRICE, T, 7)
    forged["order"]["price"] = PRICE + 5  # type: ignore[index]
    assert code(forged) == (401, "bad_signature")
    other = signed(acc, ex, "trader1", "sell", PRICE, T, 8)
    other["order"]["instrument"] = 999  # type: ignore[index]
    assert code(other) == (404, "unknown_instrument")
    assert code({"order": {"side": "sell"}}) [0] == 422
    first = signed(acc, ex, "trader1", "sell", PRICE, T, 9, client=42)
    again = api.post("/v1/exchange/orders", None, first, status=201)
    assert api.post("/v1/exchange/orders", None, first, status=201)["order_id"] == (
        again["order_id"])  # idempotent
    assert code(signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 10, client=42)) == (
        409, "duplicate_client_order_id")
    api.post(f"/v1/exchange/instruments/{INSTRUMENT}/status", "exchange", {"status": "halted"})
    assert code(signed(acc, ex, "trader1", "sell", PRICE, T, 11)) == (409, "instrument_halted")
    # halting is for the exchange only
    r = api.raw("POST", f"/v1/exchange/instruments/{INSTRUMENT}/status", "trader1",
                {"status": "open"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden_role")


def test_a_custodial_member_trades_with_its_api_key_and_cancels(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    body = {"order": {"side": "buy", "instrument": INSTRUMENT, "price": PRICE - 500,
                      "quantity": 2 * T, "nonce": 1, "expiry": int(time.time()) + 600}}
    placed = api.post("/v1/exchange/orders", "trader2", body, status=201)
    assert (placed["trader"], placed["status"]) == (acc["trader2"].address, "open")
    assert api.raw("DELETE", f"/v1/exchange/orders/{placed['order_id']}", "trader1").json()[
        "error"]["code"] == "not_order_owner"
    assert api.call("DELETE", f"/v1/exchange/orders/{placed['order_id']}", "trader2")[
        "status"] == "cancelled"
    for n in (2, 3):
        api.post("/v1/exchange/orders", "trader2", {**body, "order": {**body["order"],
                                                                       "nonce": n}},
                 status=201)
    done = api.post("/v1/exchange/orders/cancel-all", "trader2", {"instrument": INSTRUMENT})
    assert len(done["cancelled"]) == 2
    assert api.get(f"/v1/exchange/depth/{INSTRUMENT}")["bids"] == []


def test_a_restarted_service_replays_its_journal_exactly(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, tmp_path: Path
) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, 5 * T, 1),
             status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE, 2 * T, 1),
             status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE - 50, T, 2),
             status=201)
    state = ex.service.state
    before = (state.engine.snapshot(), {k: r.view() for k, r in state.orders.items()},
              {k: t.view() for k, t in state.trades.items()})
    ex.service.snapshot()
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE, T, 3),
             status=201)
    ex.service.close()  # one process per journal: the old one stops first
    after = open_exchange(ledger, tmp_path / "exchange", acc["exchange"])
    try:
        assert after.service.state.engine.snapshot() == ex.service.state.engine.snapshot()
        assert {k: t.view() for k, t in after.service.state.trades.items()} == {
            k: t.view() for k, t in ex.service.state.trades.items()}
        assert len(after.service.state.trades) == len(before[2]) + 1
    finally:
        after.service.close()


def test_the_stream_sends_a_snapshot_then_gap_free_events(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    with api.http.websocket_connect(f"/v1/exchange/stream/{INSTRUMENT}") as ws:
        snap = ws.receive_json()
        assert snap["type"] == "snapshot"
        api.post("/v1/exchange/orders", None,
                 signed(acc, ex, "trader1", "sell", PRICE, 3 * T, 1), status=201)
        api.post("/v1/exchange/orders", None,
                 signed(acc, ex, "trader2", "buy", PRICE, 2 * T, 1), status=201)
        events = [ws.receive_json() for _ in range(4)]
    assert [e["seq"] for e in events] == list(range(snap["seq"] + 1, snap["seq"] + 5))
    assert [e["event"] for e in events] == ["accepted", "rested", "accepted", "trade"]


def test_reservations_kept_by_events_equal_a_recount(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    s = ex.service
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, 5 * T, 1),
             status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE + 500, 3 * T,
                                                 1), status=201)  # fills better than its limit
    b = api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE - 5,
                                                     4 * T, 2), status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE, 4 * T, 3,
                                                 tif="ioc"), status=201)
    api.call("DELETE", f"/v1/exchange/orders/{b['order_id']}", "trader2")

    def counted() -> tuple[dict[tuple[str, int], int], dict[str, int]]:
        return dict(s.risk.credits), dict(s.risk.cash)

    live = counted()
    assert live[0] and live[1]
    s.state.rebuild_reservations()
    assert counted() == live
    ex.worker.run_once()
    assert s.risk.credits == {} and s.risk.cash == {}  # everything settled, nothing open


def test_per_member_limits_refuse_oversized_orders_and_too_many_open_orders(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, market: int
) -> None:
    from exchange.errors import ExchangeError
    from exchange.instruments import InstrumentSpec
    from exchange.records import MemberLimits

    ex = open_exchange(ledger, tmp_path / "limited", acc["exchange"], balance_ttl=0,
                       limits=MemberLimits(max_order_quantity=5 * T, max_open_orders=2))
    try:
        ex.chain.list_instrument(acc["exchange"], INSTRUMENT, batch_id=market, tick=5)
        ex.service.list_instrument(InstrumentSpec(INSTRUMENT, tick=5, lot=T,
                                                  reference_price=PRICE), market)

        def submit(price: int, qty: int, nonce: int) -> str:
            body = signed(acc, ex, "trader1", "sell", price, qty, nonce)
            order = _as_order(body)
            try:
                return str(ex.service.submit(order, bytes.fromhex(body["signature"][2:]))[
                    "status"])
            except ExchangeError as exc:
                return exc.code

        assert submit(PRICE, 6 * T, 1) == "member_limit"
        assert submit(PRICE, 5 * T, 2) == "open"
        assert submit(PRICE + 5, T, 3) == "open"
        newest = ex.service.journal.last_seq  # order ids are journal positions
        assert submit(PRICE + 10, T, 4) == "member_limit"
        ex.service.cancel(acc["trader1"].address, newest)
        assert submit(PRICE + 10, T, 5) == "open"
    finally:
        ex.stop()


def test_an_opening_auction_clears_at_one_price_and_its_trades_settle(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    api.post(f"/v1/exchange/instruments/{INSTRUMENT}/status", "exchange",
             {"status": "auction", "reference_price": PRICE})
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE - 100,
                                                 3 * T, 1), status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE + 100,
                                                 3 * T, 2), status=201)
    crossing = api.post("/v1/exchange/orders", None,
                        signed(acc, ex, "trader2", "buy", PRICE + 200, 4 * T, 1), status=201)
    assert crossing["trades"] == [] and crossing["status"] == "open"  # collected, not matched
    r = api.raw("POST", f"/v1/exchange/instruments/{INSTRUMENT}/uncross", "trader1", None)
    assert r.json()["error"]["code"] == "forbidden_role"
    # demand 4 at ≤ 60,200; supply 3 at 59,900 and 6 at 60,100: volume 4 at 60,100
    done = api.post(f"/v1/exchange/instruments/{INSTRUMENT}/uncross", "exchange")
    assert done["price"] == PRICE + 100
    assert sum(t["quantity"] for t in done["trades"]) == 4 * T
    assert api.raw("POST", f"/v1/exchange/instruments/{INSTRUMENT}/uncross", "exchange",
                   None).json()["error"]["code"] == "not_in_auction"
    assert ex.worker.run_once() == len(done["trades"])
    assert ledger.balance(acc["trader2"].address, market) == 4 * T


def test_a_negotiated_block_trade_settles_without_touching_the_book(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    price = PRICE * 125 // 100  # +25 %: outside the continuous band, inside the block band
    buy = signed(acc, ex, "trader2", "buy", price, 50 * T, 1)
    sell = signed(acc, ex, "trader1", "sell", price, 50 * T, 1)
    body = {"buy": buy, "sell": sell, "price": price, "quantity": 50 * T}
    assert api.error("POST", "/v1/exchange/block-trades", "trader1", body, 403) == (
        "forbidden_role")
    far = PRICE * 140 // 100
    assert api.error("POST", "/v1/exchange/block-trades", "exchange",
                     {**body, "price": far}, 422) == "mismatched_orders"
    trade = api.post("/v1/exchange/block-trades", "exchange", body, status=201)
    assert (trade["kind"], trade["price"], trade["quantity"]) == ("block", price, 50 * T)
    assert api.get(f"/v1/exchange/depth/{INSTRUMENT}")["bids"] == []
    assert api.error("POST", "/v1/exchange/block-trades", "exchange", body, 409) == (
        "duplicate_order")
    assert ex.worker.run_once() == 1
    assert ledger.balance(acc["trader2"].address, market) == 50 * T
    ex.service.close()  # one process per journal: the old one stops first
    again = open_exchange(ledger, ex.service.journal.directory, acc["exchange"])
    try:  # a replay rebuilds the block trade, settled, with both orders
        assert {k: t.view() for k, t in again.service.state.trades.items()} == {
            k: t.view() for k, t in ex.service.state.trades.items()}
        assert again.service.risk.cash == {} and again.service.risk.credits == {}
    finally:
        again.service.close()


def test_a_block_trade_outside_the_block_band_is_refused(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    price = PRICE * 140 // 100
    body = {"buy": signed(acc, ex, "trader2", "buy", price, T, 1),
            "sell": signed(acc, ex, "trader1", "sell", price, T, 1),
            "price": price, "quantity": T}
    assert api.error("POST", "/v1/exchange/block-trades", "exchange", body, 422) == (
        "outside_price_band")


def test_a_single_lot_auction_goes_to_the_best_bid_and_settles(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    lot = signed(acc, ex, "trader1", "sell", PRICE, 20 * T, 1)  # 20 t, reserve 600 CNY/t
    assert api.error("POST", "/v1/exchange/lots", "trader1", lot, 403) == "forbidden_role"
    assert api.post("/v1/exchange/lots", "exchange", lot, status=201)["status"] == "open"
    low = api.raw("POST", "/v1/exchange/orders", None,
                  signed(acc, ex, "trader2", "buy", PRICE - 5, 20 * T, 1))
    assert low.status_code == 201 and low.json()["status"] == "rejected"  # below the reserve
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE + 500,
                                                 20 * T, 2), status=201)
    best = api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE + 900,
                                                        20 * T, 3), status=201)
    done = api.post(f"/v1/exchange/instruments/{INSTRUMENT}/uncross", "exchange")
    [t] = done["trades"]
    assert (t["buyer"], t["price"], t["quantity"], t["kind"]) == (
        acc["trader2"].address, PRICE + 900, 20 * T, "single_lot")
    assert t["buy_order"] == best["order_id"]
    assert ex.worker.run_once() == 1
    assert ledger.balance(acc["trader2"].address, market) == 20 * T


def test_a_lot_no_bid_met_is_withdrawn_and_a_replay_withdraws_it_too(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    lot = api.post("/v1/exchange/lots", "exchange",
                   signed(acc, ex, "trader1", "sell", PRICE, 20 * T, 1), status=201)
    assert ex.service.reads.reserved_credits(acc["trader1"].address, lot["batch_id"]) == 20 * T
    done = api.post(f"/v1/exchange/instruments/{INSTRUMENT}/uncross", "exchange")
    assert done["trades"] == []
    withdrawn = ex.service.reads.order(lot["order_id"])
    assert (withdrawn["status"], withdrawn["reason"]) == ("cancelled", "auction_unfilled")
    ex.service.close()  # one process per journal: the old one stops first
    again = open_exchange(ledger, ex.service.journal.directory, acc["exchange"])
    try:  # the withdrawal is part of the journaled uncross, so the replay repeats it
        assert again.service.reads.order(lot["order_id"]) == withdrawn
        assert again.service.reads.reserved_credits(acc["trader1"].address,
                                                    lot["batch_id"]) == 0
        assert again.service.state.lot_orders == {}
    finally:
        again.service.close()


def test_orders_outside_the_trading_session_are_refused(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], market: int
) -> None:
    hour = (time.gmtime().tm_hour + 8 + 12) % 24  # twelve hours from now, China time
    listing = {"instrument": 12, "batch_id": market, "tick": 5, "lot": T,
               "reference_price": PRICE, "trading_hours": f"{hour:02d}:00-{hour:02d}:30"}
    assert api.error("POST", "/v1/exchange/instruments", "exchange",
                     {**listing, "trading_hours": "15:00-09:30"}, 422) == "invalid_trading_hours"
    api.post("/v1/exchange/instruments", "exchange", listing, status=201)
    body = signed(acc, ex, "trader1", "sell", PRICE, T, 1, instrument=12)
    assert api.error("POST", "/v1/exchange/orders", None, body, 409) == "outside_trading_hours"


def test_a_snapshot_taken_in_the_background_restores_the_same_state(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, tmp_path: Path
) -> None:
    ex.service.snapshot_every = 3
    for n in range(1, 4):
        api.post("/v1/exchange/orders", None,
                 signed(acc, ex, "trader2", "buy", PRICE - 5 * n, T, 100 + n), status=201)
    deadline = time.monotonic() + 30
    while not list((tmp_path / "exchange").glob("snapshot-*.json")):
        assert time.monotonic() < deadline, "no snapshot was written"
        time.sleep(0.05)
    ex.service.close()  # waits for the snapshot being written
    snap = ex.service.journal.latest_snapshot()
    assert snap is not None and 3 <= snap[0] <= ex.service.journal.last_seq
    after = open_exchange(ledger, tmp_path / "exchange", acc["exchange"])
    try:
        assert after.service.state.engine.snapshot() == ex.service.state.engine.snapshot()
        assert {k: r.view() for k, r in after.service.state.orders.items()} == {
            k: r.view() for k, r in ex.service.state.orders.items()}
    finally:
        after.service.close()


def test_hand_encoded_balance_reads_agree_with_the_contracts(
    ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    sc = ex.chain
    for seat in ("trader1", "trader2", "trader3"):
        who = acc[seat].address
        assert sc.credit_balance(who.lower(), market) == ledger.balance(who, market)
        assert sc.cash_balance(who) == int(ledger.chain.call(
            sc.cash.functions.balanceOf(who)))
    assert sc.credit_balance(acc["trader1"].address, market) == 100 * T
    assert sc.cash_balance(acc["trader2"].address) == 500_000_00


def test_a_trader_cancels_with_a_signed_cancel_and_nobody_else_can(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    from exchange.signing import sign_cancel

    order = api.post("/v1/exchange/orders", None,
                     signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 1), status=201)
    digest = bytes.fromhex(order["order_hash"][2:])
    path = f"/v1/exchange/orders/{order['order_id']}/cancel"
    other = {"signature": "0x" + sign_cancel(acc["trader2"], digest, ex.chain.domain).hex()}
    assert api.error("POST", path, None, other, 401) == "bad_signature"
    assert ex.service.state.orders[order["order_id"]].status == "open"
    mine = {"signature": "0x" + sign_cancel(acc["trader1"], digest, ex.chain.domain).hex()}
    assert api.post(path, None, mine)["status"] == "cancelled"
    assert api.error("POST", path, None, mine, 409) == "order_not_open"  # replayed: no effect
    assert api.error("POST", "/v1/exchange/orders/999999/cancel", None, mine,
                     404) == "unknown_order"
    assert api.get(f"/v1/exchange/depth/{INSTRUMENT}")["asks"] == []


def _trade_at(api: Api, ex: Exchange, acc: dict[str, LocalAccount], price: int,
              nonce: int) -> None:
    far = int(time.time()) + 30 * 86_400
    api.post("/v1/exchange/orders", None,
             signed(acc, ex, "trader1", "sell", price, T, nonce, expiry=far), status=201)
    buy = api.post("/v1/exchange/orders", None,
                   signed(acc, ex, "trader2", "buy", price, T, nonce, expiry=far), status=201)
    assert buy["status"] == "filled"


def test_the_previous_close_becomes_the_next_days_reference_price(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, tmp_path: Path
) -> None:
    now = time.time()
    ex.service.clock = lambda: now
    close = PRICE + 5_000
    _trade_at(api, ex, acc, close, 1)
    far = int(now) + 30 * 86_400
    # 71,500 lies outside ±10 % of the listing's 60,000 but inside ±10 % of the 65,000 close
    high = signed(acc, ex, "trader1", "sell", 71_500, T, 2, expiry=far)
    assert api.error("POST", "/v1/exchange/orders", None, high, 422) == "outside_price_band"
    ex.service.clock = lambda: now + 86_400  # the next trading day
    assert api.post("/v1/exchange/orders", None, high, status=201)["status"] == "open"
    [row] = [i for i in api.get("/v1/exchange/instruments") if i["instrument"] == INSTRUMENT]
    assert row["reference_price"] == close
    ex.service.close()  # one process per journal: the old one stops first
    after = open_exchange(ledger, tmp_path / "exchange", acc["exchange"])
    try:  # the roll is journaled: replay (at any clock) comes back to the same reference
        assert after.service.reads.listings[INSTRUMENT].spec.reference_price == close
    finally:
        after.service.close()


def test_a_reference_the_exchange_sets_on_a_new_day_is_not_rolled_over(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    now = time.time()
    ex.service.clock = lambda: now
    _trade_at(api, ex, acc, PRICE + 5_000, 1)
    ex.service.clock = lambda: now + 86_400
    api.post(f"/v1/exchange/instruments/{INSTRUMENT}/status", "exchange",
             {"status": "open", "reference_price": PRICE})
    high = signed(acc, ex, "trader1", "sell", 71_500, T, 2, expiry=int(now) + 30 * 86_400)
    assert api.error("POST", "/v1/exchange/orders", None, high, 422) == "outside_price_band"
    assert ex.service.reads.listings[INSTRUMENT].spec.reference_price == PRICE


def _as_order(body: dict[str, object]) -> Order:
    o: dict[str, object] = body["order"]  # type: ignore[assignment]
    return Order(str(o["trader"]), 0 if o["side"] == "buy" else 1, int(o["instrument"]),  # type: ignore[call-overload]
                 int(o["price"]), int(o["quantity"]),  # type: ignore[call-overload]
                 ("gtc", "ioc", "fok").index(str(o["time_in_force"])),
                 int(o["nonce"]), int(o["expiry"]),  # type: ignore[call-overload]
                 bytes.fromhex(str(o["client_order_id"])[2:]),
                 batch_id=int(o["batch_id"]), max_fee_bps=int(o["max_fee_bps"]))  # type: ignore[call-overload]


def test_an_order_cancelled_on_chain_leaves_the_book_and_is_never_taken_again(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, tmp_path: Path
) -> None:
    body = signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 1)
    placed = api.post("/v1/exchange/orders", None, body, status=201)
    ledger.chain.send(ex.chain.settlement.functions.cancelOrder(_as_order(body).as_tuple()),
                      acc["trader1"])
    assert ex.worker.watch_once() == 1
    after = api.read(f"/v1/exchange/orders/{placed['order_id']}", "trader1")
    assert (after["status"], after["reason"]) == ("cancelled", "cancelled_on_chain")
    assert api.get(f"/v1/exchange/depth/{INSTRUMENT}")["asks"] == []
    assert ex.worker.watch_once() == 0  # each log is read once
    # an order its trader voided on chain before ever sending it is refused
    later = signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 2)
    ledger.chain.send(ex.chain.settlement.functions.cancelOrder(_as_order(later).as_tuple()),
                      acc["trader1"])
    assert ex.worker.watch_once() == 0
    assert api.error("POST", "/v1/exchange/orders", None, later,
                     409) == "order_cancelled_on_chain"


def test_raising_the_minimum_nonce_on_chain_voids_older_orders(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, tmp_path: Path
) -> None:
    old = api.post("/v1/exchange/orders", None,
                   signed(acc, ex, "trader2", "buy", PRICE - 100, T, 5), status=201)
    ledger.chain.send(ex.chain.settlement.functions.raiseMinNonce(10), acc["trader2"])
    assert ex.worker.watch_once() == 1
    assert api.read(f"/v1/exchange/orders/{old['order_id']}", "trader2")["status"] == "cancelled"
    assert api.error("POST", "/v1/exchange/orders", None,
                     signed(acc, ex, "trader2", "buy", PRICE - 100, T, 9),
                     409) == "order_cancelled_on_chain"
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE - 100, T, 10),
             status=201)
    ex.service.close()
    replayed = open_exchange(ledger, tmp_path / "exchange", acc["exchange"])
    try:  # the journal keeps what the chain said
        assert replayed.service.state.min_nonce == {acc["trader2"].address: 10}
        assert replayed.service.state.orders[old["order_id"]].status == "cancelled"
    finally:
        replayed.service.close()


def test_finished_history_moves_to_the_archive_and_is_still_answered(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, tmp_path: Path
) -> None:
    sell_body = signed(acc, ex, "trader1", "sell", PRICE, 5 * T, 1, client=7)
    sell = api.post("/v1/exchange/orders", None, sell_body, status=201)
    buy = api.post("/v1/exchange/orders", None,
                   signed(acc, ex, "trader2", "buy", PRICE, 2 * T, 1), status=201)
    done = api.post("/v1/exchange/orders", None,
                    signed(acc, ex, "trader2", "buy", PRICE, 3 * T, 2), status=201)
    rest = api.post("/v1/exchange/orders", None,
                    signed(acc, ex, "trader2", "buy", PRICE - 100, T, 3), status=201)
    assert ex.worker.run_once() == 2
    finished = {buy["order_id"]: api.read(f"/v1/exchange/orders/{buy['order_id']}", "trader2"),
                done["order_id"]: api.read(f"/v1/exchange/orders/{done['order_id']}", "trader2"),
                sell["order_id"]: api.read(f"/v1/exchange/orders/{sell['order_id']}", "trader1")}
    ex.service.snapshot()
    s = ex.service
    assert set(s.state.orders) == {rest["order_id"]} and s.state.trades == {}  # only what is live
    for oid, view in finished.items():  # the same answers, from the archive
        assert api.read(f"/v1/exchange/orders/{oid}", "regulator") == view
    again = api.post("/v1/exchange/orders", None, sell_body, status=201)
    assert (again["order_id"], again["replayed"]) == (sell["order_id"], True)
    other = signed(acc, ex, "trader1", "sell", PRICE, T, 9, client=7)
    assert api.error("POST", "/v1/exchange/orders", None, other,
                     409) == "duplicate_client_order_id"
    assert api.error("DELETE", f"/v1/exchange/orders/{sell['order_id']}", "trader1", None,
                     409) == "order_not_open"
    ex.service.close()
    after = open_exchange(ledger, tmp_path / "exchange", acc["exchange"])
    try:  # a restart starts from the slim snapshot; the archive still answers
        assert set(after.service.state.orders) == {rest["order_id"]}
        assert after.service.reads.order(sell["order_id"]) == finished[sell["order_id"]]
        assert after.service.reads.reserved_cash(acc["trader2"].address) == (
            ex.service.reads.reserved_cash(acc["trader2"].address))
    finally:
        after.service.close()


def test_an_order_still_open_keeps_its_settled_trades_in_memory(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    sell = api.post("/v1/exchange/orders", None,
                    signed(acc, ex, "trader1", "sell", PRICE, 5 * T, 1), status=201)
    buy = api.post("/v1/exchange/orders", None,
                   signed(acc, ex, "trader2", "buy", PRICE, 2 * T, 1), status=201)
    assert ex.worker.run_once() == 1
    ex.service.snapshot()
    assert sell["order_id"] in ex.service.state.orders  # 3 t still open
    assert buy["order_id"] not in ex.service.state.orders  # filled and settled: archived
    [trade] = api.read(f"/v1/exchange/orders/{sell['order_id']}", "trader1")["trades"]
    assert trade["settlement"] == "settled"
    assert api.read(f"/v1/exchange/orders/{buy['order_id']}", "trader2")["trades"] == [trade]


def test_a_crash_between_archiving_and_the_snapshot_loses_and_duplicates_nothing(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, tmp_path: Path
) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 1),
             status=201)
    buy = api.post("/v1/exchange/orders", None,
                   signed(acc, ex, "trader2", "buy", PRICE, 2 * T, 1), status=201)
    assert ex.worker.run_once() == 1
    s = ex.service
    orders, trades = s.state.finished()
    s.archive.put([(r.order_id, r.digest, r.order.trader, r.order.client_order_id,
                    s.state.view(r)) for r in orders],
                  [(t.trade.trade_id, t.view()) for t in trades])
    s.close()  # "crash": archived, but no snapshot written and nothing dropped
    after = open_exchange(ledger, tmp_path / "exchange", acc["exchange"])
    try:
        view = after.service.reads.order(buy["order_id"])  # replayed into memory, also archived
        assert view["status"] == "filled" and view["trades"][0]["settlement"] == "settled"
        after.service.snapshot()  # archiving the same rows again is harmless
        assert after.service.state.orders == {}
        assert after.service.reads.order(buy["order_id"]) == view
        assert after.service.archive.counts() == (2, 1)
    finally:
        after.service.close()


def test_a_block_trade_with_an_order_voided_on_chain_is_refused(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    price = PRICE * 125 // 100
    buy = signed(acc, ex, "trader2", "buy", price, 50 * T, 1)
    sell = signed(acc, ex, "trader1", "sell", price, 50 * T, 1)
    ledger.chain.send(ex.chain.settlement.functions.cancelOrder(_as_order(sell).as_tuple()),
                      acc["trader1"])
    ex.worker.watch_once()
    body = {"buy": buy, "sell": sell, "price": price, "quantity": 50 * T}
    before = ex.service.journal.last_seq
    assert api.error("POST", "/v1/exchange/block-trades", "exchange", body,
                     409) == "order_cancelled_on_chain"
    assert ex.service.journal.last_seq == before


def test_a_trader_lists_its_working_orders(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    a = api.post("/v1/exchange/orders", None,
                 signed(acc, ex, "trader2", "buy", PRICE - 100, T, 1), status=201)
    b = api.post("/v1/exchange/orders", None,
                 signed(acc, ex, "trader2", "buy", PRICE - 200, 2 * T, 2), status=201)
    api.call("DELETE", f"/v1/exchange/orders/{a['order_id']}", "trader2", None, 200)
    who = acc["trader2"].address
    listed = api.read(f"/v1/exchange/orders?trader={who.lower()}", "trader2")
    assert listed["trader"] == who
    assert [o["order_id"] for o in listed["items"]] == [b["order_id"]]
    assert api.read(f"/v1/exchange/orders?trader={who}&instrument={INSTRUMENT}",
                    "trader2")["items"] == listed["items"]
    assert api.read(f"/v1/exchange/orders?trader={acc['trader3'].address}",
                    "trader3")["items"] == []
    assert api.error("GET", f"/v1/exchange/orders?trader={who}&instrument=999", "trader2", None,
                     404) == "unknown_instrument"
    assert api.error("GET", "/v1/exchange/orders?trader=0x12", "trader2", None, 422)


def test_health_reports_the_exchange_journal_and_settlement_backlog(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 1),
             status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE, T, 1),
             status=201)
    status = api.get("/health")["exchange"]
    assert (status["open_orders"], status["pending_trades"], status["failed_trades"]) == (
        1, 1, 0)
    assert status["journal_seq"] == ex.service.journal.last_seq
    assert ex.worker.run_once() == 1
    assert api.get("/health")["exchange"]["pending_trades"] == 0


def test_a_lot_offered_on_a_busy_instrument_is_refused_and_journals_nothing(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE - 100, T, 1),
             status=201)  # a resting order: no single-lot auction now
    before = ex.service.journal.last_seq
    lot = signed(acc, ex, "trader1", "sell", PRICE, 20 * T, 1)
    assert api.error("POST", "/v1/exchange/lots", "exchange", lot, 409) == "instrument_busy"
    assert ex.service.journal.last_seq == before
    assert api.read("/v1/exchange/orders?trader=" + acc["trader1"].address,
                    "trader1")["items"] == []


@pytest.mark.parametrize("quantity", [0, -1])
def test_a_zero_or_negative_quantity_is_invalid_quantity(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount], quantity: int) -> None:
    body = signed(acc, ex, "trader1", "sell", PRICE, T, 1)
    body["order"]["quantity"] = quantity  # type: ignore[index]
    assert api.error("POST", "/v1/exchange/orders", None, body, 422) == "invalid_quantity"
    assert api.get(f"/v1/exchange/depth/{INSTRUMENT}")["asks"] == []


# -- what the trader signed is what happens ----------------------------------------------------


def test_a_buyer_without_cash_cannot_collect_credits_with_dust_orders(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    # lot 1 unit at 5,000 fen/t: 199-unit orders were worth 0.995 fen and cost nothing
    dusty = {"instrument": 13, "batch_id": market, "tick": 5_000, "lot": 1,
             "reference_price": 5_000}
    assert api.error("POST", "/v1/exchange/instruments", "exchange", dusty,
                     422) == "lot_tick_below_one_fen"
    assert "13" not in ex.service.reads.listings
    api.post("/v1/exchange/instruments", "exchange", {**dusty, "lot": 200}, status=201)
    api.post("/v1/exchange/orders", None,
             signed(acc, ex, "trader1", "sell", 5_000, 8_000, 1, instrument=13), status=201)
    for n in range(40):  # trader3 holds 0 fen: even one lot (1 fen) is refused
        body = signed(acc, ex, "trader3", "buy", 5_000, 200, n + 1, instrument=13)
        assert api.error("POST", "/v1/exchange/orders", None, body, 409) == (
            "insufficient_balance")
    ex.worker.run_once()
    assert ledger.balance(acc["trader3"].address, market) == 0


def test_an_instrument_listed_on_chain_cannot_be_re_pointed_through_the_api(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    other = Scenario(ledger, acc).batch(quantity=100 * T).batch_id
    ex.chain.list_instrument(acc["exchange"], 14, batch_id=market, tick=5)  # orders signed for it
    again = {"instrument": 14, "batch_id": other, "tick": 5, "lot": T, "reference_price": PRICE}
    assert api.error("POST", "/v1/exchange/instruments", "exchange", again,
                     409) == "chain_instrument_id_used"
    assert "14" not in ex.service.reads.listings
    onchain = ledger.chain.call(ex.chain.settlement.functions.instrumentOf(14))
    assert onchain[0] == market


def test_no_trader_pays_more_fee_than_its_order_signed(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    low = signed(acc, ex, "trader2", "buy", PRICE, T, 1, max_fee_bps=19)  # the fee is 20
    assert api.error("POST", "/v1/exchange/orders", None, low, 422) == "max_fee_too_low"
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, 4 * T, 1),
             status=201)
    buy = api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE, 4 * T, 2),
                   status=201)
    assert buy["status"] == "filled" and buy["max_fee_bps"] == 20
    ex.chain.set_fees(acc["exchange"], acc["exchange"].address, 500, 500)  # 5 % after signing
    assert ex.worker.run_once() == 1
    cash = 4 * PRICE
    assert ex.chain.cash_balance(acc["trader1"].address) == cash - cash * 20 // 10_000
    assert ex.chain.cash_balance(acc["trader2"].address) == (
        500_000_00 - cash - cash * 20 // 10_000)


def test_a_nonce_names_one_order_of_its_trader(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], market: int
) -> None:
    first = signed(acc, ex, "trader2", "buy", PRICE - 100, T, 5)
    placed = api.post("/v1/exchange/orders", None, first, status=201)
    other = signed(acc, ex, "trader2", "buy", PRICE - 200, T, 5)
    assert api.error("POST", "/v1/exchange/orders", None, other, 409) == "nonce_used"
    assert api.post("/v1/exchange/orders", None, first, status=201)["order_id"] == (
        placed["order_id"])  # the same order again is idempotent, not a reuse
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, T, 5),
             status=201)  # another trader's nonce 5
    api.call("DELETE", f"/v1/exchange/orders/{placed['order_id']}", "trader2", None, 200)
    ex.service.snapshot()  # the cancelled order moves to the archive
    assert placed["order_id"] not in ex.service.state.orders
    assert api.error("POST", "/v1/exchange/orders", None, other, 409) == "nonce_used"
    who = acc["trader2"].address
    assert api.read(f"/v1/exchange/nonces/{who}", "trader2") == {"trader": who, "next_nonce": 6}


def test_a_sell_signs_the_batch_it_delivers_and_a_buy_no_other_batch(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    unnamed = signed(acc, ex, "trader1", "sell", PRICE, T, 1, batch=0)
    assert api.error("POST", "/v1/exchange/orders", None, unnamed, 422) == (
        "delivery_batch_required")
    other = Scenario(ledger, acc).batch(quantity=100 * T).batch_id
    wrong = signed(acc, ex, "trader1", "sell", PRICE, T, 2, batch=other)
    assert api.error("POST", "/v1/exchange/orders", None, wrong, 422) == "ineligible_batch"
    picky = signed(acc, ex, "trader2", "buy", PRICE, T, 1, batch=other)
    assert api.error("POST", "/v1/exchange/orders", None, picky, 422) == "ineligible_batch"
    own = signed(acc, ex, "trader2", "buy", PRICE, T, 2, batch=market)  # the instrument's own
    assert api.post("/v1/exchange/orders", None, own, status=201)["batch_id"] == market


def test_a_custodial_order_is_signed_with_the_batch_the_fee_and_the_next_nonce(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], market: int
) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE + 5, T, 41),
             status=201)
    body = {"order": {"side": "sell", "instrument": INSTRUMENT, "price": PRICE, "quantity": T,
                      "expiry": int(time.time()) + 600}}
    placed = api.post("/v1/exchange/orders", "trader1", body, status=201)
    assert (placed["batch_id"], placed["max_fee_bps"], placed["nonce"]) == (market, 20, 42)
    again = api.post("/v1/exchange/orders", "trader1", body, status=201)
    assert again["nonce"] == 43
