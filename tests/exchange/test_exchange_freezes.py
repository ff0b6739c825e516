"""Regulator freezes on a real chain, through the HTTP API: a frozen account or batch never
trades. Orders are refused at entry (read from the chain); freezes made while orders rest are
followed from the chain's events, cancel those orders and are journaled; an unfreeze lifts the
refusal; and a trade that still fails settlement leaves its innocent side whole."""

from __future__ import annotations

import time

from eth_account.signers.local import LocalAccount

from devkit.scenario import doc
from exchange.runtime import Exchange
from registry.ledger import Ledger
from tests.support.api import Api
from tests.support.exchange import INSTRUMENT, PRICE, T, place, refusal, reopened, signed


def test_a_frozen_traders_order_is_refused_at_entry(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    ledger.freeze_account(acc["regulator"], acc["trader1"].address, doc("inquiry"))
    assert refusal(api, signed(acc, ex, "trader1", "sell", PRICE, T, 1)) == (
        409, "account_frozen")
    assert ex.service.state.orders == {}  # nothing journaled for it


def test_orders_for_a_frozen_batch_are_refused_at_entry(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    ledger.freeze_batch(acc["regulator"], market, doc("inquiry"))
    assert refusal(api, signed(acc, ex, "trader1", "sell", PRICE, T, 1)) == (
        409, "batch_frozen")
    # the instrument delivers only that batch: a buy could never settle either
    assert refusal(api, signed(acc, ex, "trader2", "buy", PRICE, T, 1)) == (
        409, "batch_frozen")


def test_a_custodial_sell_of_a_frozen_batch_is_refused_with_its_reason(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    ledger.freeze_batch(acc["regulator"], market, doc("inquiry"))
    r = api.raw("POST", "/v1/exchange/orders", "trader1", {"order": {
        "side": "sell", "instrument": INSTRUMENT, "price": PRICE, "quantity": T,
        "expiry": int(time.time()) + 600}})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "batch_frozen")
    assert r.json()["error"]["details"] == {"batch_id": market}


def test_a_resting_order_of_an_account_frozen_on_chain_is_cancelled_and_not_traded_against(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    sell = place(api, signed(acc, ex, "trader1", "sell", PRICE, 5 * T, 1))
    ledger.freeze_account(acc["regulator"], acc["trader1"].address, doc("inquiry"))
    assert ex.worker.watch_once() == 1
    view = api.read(f"/v1/exchange/orders/{sell['order_id']}", "regulator")
    assert (view["status"], view["reason"], view["remaining"]) == (
        "cancelled", "account_frozen", 0)
    assert ex.service.reads.reserved_credits(acc["trader1"].address, view["delivery_batch"]) == 0
    buy = place(api, signed(acc, ex, "trader2", "buy", PRICE, 5 * T, 1))
    assert (buy["status"], buy["trades"]) == ("open", [])
    assert api.get(f"/v1/exchange/depth/{INSTRUMENT}")["asks"] == []


def test_a_resting_sell_of_a_batch_frozen_on_chain_is_cancelled(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    sell = place(api, signed(acc, ex, "trader1", "sell", PRICE, 5 * T, 1))
    buy = place(api, signed(acc, ex, "trader2", "buy", PRICE - 50, T, 1))
    ledger.freeze_batch(acc["regulator"], market, doc("inquiry"))
    assert ex.worker.watch_once() == 2  # the instrument's only batch: both sides stop
    for order in (sell, buy):
        view = api.read(f"/v1/exchange/orders/{order['order_id']}", "regulator")
        assert (view["status"], view["reason"]) == ("cancelled", "batch_frozen")
    assert ex.service.reads.reserved_cash(acc["trader2"].address) == 0


def test_an_unfreeze_on_chain_lifts_the_refusal(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    trader = acc["trader1"].address
    ledger.freeze_account(acc["regulator"], trader, doc("inquiry"))
    ex.worker.watch_once()
    assert trader in ex.service.state.frozen.accounts
    assert refusal(api, signed(acc, ex, "trader1", "sell", PRICE, T, 1)) == (
        409, "account_frozen")
    ledger.unfreeze_account(acc["regulator"], trader, doc("lifted"))
    ex.worker.watch_once()
    assert trader not in ex.service.state.frozen.accounts
    assert place(api, signed(acc, ex, "trader1", "sell", PRICE, T, 2))["status"] == "open"


def test_the_journal_replays_freezes_and_their_cancellations(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    sell = place(api, signed(acc, ex, "trader1", "sell", PRICE, 5 * T, 1))
    ledger.freeze_account(acc["regulator"], acc["trader1"].address, doc("inquiry"))
    ex.worker.watch_once()
    before = ex.service.state.orders[int(sell["order_id"])].view()  # type: ignore[call-overload]
    after = reopened(ex, ledger, acc)
    try:
        assert after.service.state.orders[before["order_id"]].view() == before
        assert after.service.state.frozen == ex.service.state.frozen
        assert after.service.state.engine.snapshot() == ex.service.state.engine.snapshot()
    finally:
        after.service.close()


def test_the_innocent_side_of_a_trade_that_fails_settlement_is_left_whole(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    """The seller is frozen between the match and its settlement (a freeze the exchange has
    not read yet): the trade fails with the contract's reason; nothing moves on chain, the
    buyer's cash is free again, and the part of its order used by the trade is not given back
    (it signs a new order to buy again)."""
    buyer = acc["trader2"].address
    cash = ex.chain.cash_balance(buyer)
    place(api, signed(acc, ex, "trader1", "sell", PRICE, 5 * T, 1))
    buy = place(api, signed(acc, ex, "trader2", "buy", PRICE, 5 * T, 1))
    ledger.freeze_account(acc["regulator"], acc["trader1"].address, doc("inquiry"))
    assert ex.worker.run_once() == 0
    [trade] = api.read(f"/v1/exchange/orders/{buy['order_id']}", "regulator")["trades"]
    assert (trade["settlement"], trade["reason"]) == ("failed", "AccountFrozen")
    assert ex.chain.cash_balance(buyer) == cash
    assert ledger.balance(buyer, market) == 0
    assert ex.service.reads.reserved_cash(buyer) == 0
    assert api.read(f"/v1/exchange/orders/{buy['order_id']}", "regulator")["status"] == "filled"
    again = place(api, signed(acc, ex, "trader2", "buy", PRICE, 5 * T, 2))
    assert again["status"] == "open"


def test_a_snapshot_keeps_the_freezes_followed(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    ledger.freeze_account(acc["regulator"], acc["trader1"].address, doc("inquiry"))
    ex.worker.watch_once()
    ex.service.snapshot()
    after = reopened(ex, ledger, acc)
    try:
        assert after.service.state.frozen == ex.service.state.frozen
        assert acc["trader1"].address in after.service.state.frozen.accounts
    finally:
        after.service.close()
