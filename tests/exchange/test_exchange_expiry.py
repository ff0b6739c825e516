"""Signed expiry in the book, on a real chain through the HTTP API: an order stops trading
EXPIRY_MARGIN_S seconds before its signed expiry (so a trade matched before then still settles
on chain), leaves the book as `expired` with its reservation released, is never matched after,
and the journal replays the expiry exactly. The service's clock is moved; nothing sleeps."""

from __future__ import annotations

import time

from eth_account.signers.local import LocalAccount

from exchange.expiry import EXPIRY_MARGIN_S
from exchange.runtime import Exchange
from registry.ledger import Ledger
from tests.support.api import Api
from tests.support.exchange import INSTRUMENT, PRICE, T, place, refusal, reopened, signed


def test_an_order_arriving_within_the_margin_of_its_expiry_is_refused(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    expiry = int(time.time()) + EXPIRY_MARGIN_S
    assert refusal(api, signed(acc, ex, "trader1", "sell", PRICE, T, 1, expiry=expiry)) == (
        422, "order_expired")


def test_a_resting_order_past_its_expiry_less_the_margin_is_expired_and_never_matched(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    now = int(time.time())
    sell = place(api, signed(acc, ex, "trader1", "sell", PRICE, 5 * T, 1, expiry=now + 60))
    ex.service.clock = lambda: float(now + 60 - EXPIRY_MARGIN_S)
    buy = place(api, signed(acc, ex, "trader2", "buy", PRICE, 5 * T, 1, expiry=now + 3_600))
    assert (buy["status"], buy["trades"]) == ("open", [])
    view = api.read(f"/v1/exchange/orders/{sell['order_id']}", "regulator")
    assert (view["status"], view["reason"], view["remaining"]) == ("expired", "expired", 0)
    assert ex.service.reads.reserved_credits(acc["trader1"].address, view["delivery_batch"]) == 0
    assert api.get(f"/v1/exchange/depth/{INSTRUMENT}")["asks"] == []


def test_the_worker_expires_resting_orders_when_nothing_else_happens(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    now = int(time.time())
    buy = place(api, signed(acc, ex, "trader2", "buy", PRICE, 5 * T, 1, expiry=now + 60))
    assert ex.worker.watch_once() == 0
    ex.service.clock = lambda: float(now + 60 - EXPIRY_MARGIN_S)
    assert ex.worker.watch_once() == 1
    assert api.read(f"/v1/exchange/orders/{buy['order_id']}", "regulator")["status"] == "expired"
    assert ex.service.reads.reserved_cash(acc["trader2"].address) == 0
    assert ex.service.risk.open_orders == {}


def test_a_trade_matched_just_before_the_margin_settles_on_chain(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    now = int(time.time())
    place(api, signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 1, expiry=now + 60))
    ex.service.clock = lambda: float(now + 60 - EXPIRY_MARGIN_S - 1)
    buy = place(api, signed(acc, ex, "trader2", "buy", PRICE, 2 * T, 1, expiry=now + 3_600))
    assert buy["status"] == "filled"
    assert ex.worker.run_once() == 1
    assert ledger.balance(acc["trader2"].address, market) == 2 * T


def test_the_journal_replays_an_expiry_whatever_the_clock_says_then(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    now = int(time.time())
    sell = place(api, signed(acc, ex, "trader1", "sell", PRICE, 5 * T, 1, expiry=now + 60))
    ex.service.clock = lambda: float(now + 60)
    assert ex.service.expire_due() == 1
    after = reopened(ex, ledger, acc)  # its clock is the wall clock: before the expiry
    try:
        view = after.service.reads.order(int(sell["order_id"]))  # type: ignore[call-overload]
        assert (view["status"], view["reason"]) == ("expired", "expired")
        assert after.service.state.engine.snapshot() == ex.service.state.engine.snapshot()
        assert after.service.risk.open_orders == {}
    finally:
        after.service.close()
