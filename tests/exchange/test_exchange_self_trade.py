"""Self-trade prevention at entry: an order that would meet its trader's own resting order is
refused whole with `409 self_trade`; nothing is journaled, reserved or traded."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from devkit.scenario import doc
from exchange.onchain import SettlementChain
from exchange.runtime import Exchange
from registry.ledger import Ledger
from tests.support.api import Api
from tests.support.exchange import INSTRUMENT, PRICE, T, signed


@pytest.fixture
def both_sides(ledger: Ledger, acc: dict[str, LocalAccount], market: int) -> None:
    """trader1 (credits) gets cash too, trader3 credits: each can buy and sell."""
    SettlementChain(ledger).deposit(acc["bank"], acc["trader1"].address, 100_000_00,
                                    doc("wire-t1"))
    ledger.transfer(acc["developer"], acc["trader3"].address, market, 10 * T)


def test_an_order_crossing_its_traders_own_resting_order_is_refused_and_changes_nothing(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], both_sides: None
) -> None:
    s = ex.service
    rest = api.post("/v1/exchange/orders", None,
                    signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 1), status=201)
    before = (s.journal.last_seq, s.reads.depth(INSTRUMENT),
              s.reads.reserved_cash(acc["trader1"].address))
    r = api.raw("POST", "/v1/exchange/orders", None,
                signed(acc, ex, "trader1", "buy", PRICE, T, 2))
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "self_trade"
    assert r.json()["error"]["details"]["resting_order_id"] == rest["order_id"]
    assert (s.journal.last_seq, s.reads.depth(INSTRUMENT),
            s.reads.reserved_cash(acc["trader1"].address)) == before
    # nothing was used up: the same nonce places a non-crossing buy
    api.post("/v1/exchange/orders", None,
             signed(acc, ex, "trader1", "buy", PRICE - 5, T, 2), status=201)


def test_an_order_that_would_fill_against_others_first_and_then_meet_its_own_is_refused(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], both_sides: None
) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader3", "sell", PRICE, T, 1),
             status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE + 5, T, 1),
             status=201)
    code = api.error("POST", "/v1/exchange/orders", None,
                     signed(acc, ex, "trader1", "buy", PRICE + 5, 2 * T, 2), 409)
    assert code == "self_trade"
    assert ex.service.state.trades == {}  # not even the fill against trader3 happened
    assert api.get(f"/v1/exchange/depth/{INSTRUMENT}")["asks"] == [[PRICE, T, 1],
                                                                 [PRICE + 5, T, 1]]


def test_an_order_filled_by_others_before_it_reaches_its_own_is_accepted(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], both_sides: None
) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader3", "sell", PRICE, T, 1),
             status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE + 5, T, 1),
             status=201)
    buy = api.post("/v1/exchange/orders", None,
                   signed(acc, ex, "trader1", "buy", PRICE + 5, T, 2), status=201)
    assert buy["status"] == "filled" and buy["trades"][0]["price"] == PRICE


def test_a_custodial_order_crossing_its_own_is_refused_the_same_way(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], both_sides: None
) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "buy", PRICE, T, 1),
             status=201)
    body = {"order": {"side": "sell", "instrument": INSTRUMENT, "price": PRICE - 5,
                      "quantity": T, "expiry": 2**40}}
    assert api.error("POST", "/v1/exchange/orders", "trader1", body, 409) == "self_trade"
