"""Class instruments: a standardized credit class (one methodology, a vintage window) trades as
one book; each sell signs one eligible batch its seller holds (a custodial sell: the server
picks it before signing), and that batch is what settles on chain."""


from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from devkit.scenario import Batch, Scenario, doc
from exchange.runtime import Exchange, open_exchange
from registry.ledger import Ledger
from tests.support.api import Api
from tests.support.exchange import PRICE, T, signed

CLASS = 21


@pytest.fixture
def vintages(ledger: Ledger, acc: dict[str, LocalAccount], market: int) -> list[Batch]:
    """Three consecutive vintages of one project (the class admits the first two) and a batch
    of another methodology; trader1 holds 3 t, 5 t, 10 t and 10 t of them."""
    sc = Scenario(ledger, acc)
    first = sc.batch(quantity=100 * T)
    second = sc.batch(quantity=100 * T, project_id=first.project_id)
    third = sc.batch(quantity=100 * T, project_id=first.project_id)
    other = sc.batch(quantity=100 * T)
    for b, qty in ((first, 3), (second, 5), (third, 10), (other, 10)):
        ledger.transfer(acc["developer"], acc["trader1"].address, b.batch_id, qty * T)
    return [first, second, third, other]


@pytest.fixture
def listed(api: Api, ledger: Ledger, vintages: list[Batch]) -> dict[str, int]:
    first, second = (ledger.batch(b.batch_id) for b in vintages[:2])
    klass = {"methodology_id": vintages[0].methodology_id,
             "vintage_from": int(first.period_start),
             "vintage_to": int(second.period_end)}
    api.post("/v1/exchange/instruments", "exchange",
             {"instrument": CLASS, "credit_class": klass, "tick": 5, "lot": T,
              "reference_price": PRICE}, status=201)
    return klass


def test_a_class_instrument_is_listed_with_its_methodology_and_vintage_window(
    api: Api, listed: dict[str, int]
) -> None:
    [row] = [i for i in api.get("/v1/exchange/instruments") if i["instrument"] == CLASS]
    assert row["batch_id"] is None and row["credit_class"] == listed


def custodial_sell(qty: int) -> dict[str, object]:
    return {"order": {"side": "sell", "instrument": CLASS, "price": PRICE, "quantity": qty,
                      "expiry": int(time.time()) + 600}}


def test_a_custodial_class_sell_is_signed_for_the_eligible_batch_with_most_free_credits(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger,
    vintages: list[Batch], listed: dict[str, int]
) -> None:
    second = vintages[1].batch_id
    sell = api.post("/v1/exchange/orders", "trader1", custodial_sell(4 * T), status=201)
    assert sell["delivery_batch"] == sell["batch_id"] == second  # 5 t free, 3 t in the first
    buy = api.post("/v1/exchange/orders", None,
                   signed(acc, ex, "trader2", "buy", PRICE, 4 * T, 1, instrument=CLASS),
                   status=201)
    [trade] = buy["trades"]
    assert trade["batch_id"] == second
    assert ex.worker.run_once() == 1
    assert ledger.balance(acc["trader2"].address, second) == 4 * T
    assert ledger.balance(acc["trader1"].address, second) == T


def test_a_class_sell_must_fit_in_one_batch(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], vintages: list[Batch],
    listed: dict[str, int]
) -> None:
    # 8 t eligible in all (3 + 5), but one trade settles one batch; the third vintage and
    # the other methodology's batch do not count
    r = api.raw("POST", "/v1/exchange/orders", "trader1", custodial_sell(6 * T))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "insufficient_balance")
    assert r.json()["error"]["details"] == {"free": 5 * T, "needed": 6 * T,
                                            "batch_id": vintages[1].batch_id}


def test_reservations_move_the_next_class_sell_to_another_batch(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], vintages: list[Batch],
    listed: dict[str, int]
) -> None:
    first, second = vintages[0].batch_id, vintages[1].batch_id
    a = api.post("/v1/exchange/orders", "trader1", custodial_sell(4 * T), status=201)
    b = api.post("/v1/exchange/orders", "trader1", custodial_sell(3 * T), status=201)
    assert (a["delivery_batch"], b["delivery_batch"]) == (second, first)
    r = api.raw("POST", "/v1/exchange/orders", "trader1", custodial_sell(2 * T))
    assert r.json()["error"]["code"] == "insufficient_balance"  # 1 t left in the second


def test_a_class_sell_signs_an_eligible_batch_and_a_class_buy_names_none(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], vintages: list[Batch],
    listed: dict[str, int]
) -> None:
    first, third = vintages[0].batch_id, vintages[2].batch_id
    named = signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 1, instrument=CLASS, batch=first)
    assert api.post("/v1/exchange/orders", None, named, status=201)["delivery_batch"] == first
    wrong = signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 2, instrument=CLASS, batch=third)
    assert api.error("POST", "/v1/exchange/orders", None, wrong, 422) == "ineligible_batch"
    unnamed = signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 3, instrument=CLASS)
    assert api.error("POST", "/v1/exchange/orders", None, unnamed, 422) == (
        "delivery_batch_required")
    buy = signed(acc, ex, "trader2", "buy", PRICE, T, 1, instrument=CLASS, batch=first)
    assert api.error("POST", "/v1/exchange/orders", None, buy, 422) == "ineligible_batch"


def test_a_listing_names_a_batch_or_a_class_not_both(
    api: Api, vintages: list[Batch], listed: dict[str, int]
) -> None:
    both = {"instrument": 22, "batch_id": vintages[0].batch_id, "credit_class": listed}
    assert api.error("POST", "/v1/exchange/instruments", "exchange", both,
                     422) == "invalid_instrument"
    assert api.error("POST", "/v1/exchange/instruments", "exchange", {"instrument": 22},
                     422) == "invalid_instrument"
    backwards = {"instrument": 22, "credit_class": {**listed, "vintage_to": 1}}
    assert api.error("POST", "/v1/exchange/instruments", "exchange", backwards,
                     422) == "invalid_instrument"


def test_class_listings_and_delivery_batches_survive_a_restart(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, tmp_path: Path,
    vintages: list[Batch], listed: dict[str, int]
) -> None:
    sell = api.post("/v1/exchange/orders", None,
                    signed(acc, ex, "trader1", "sell", PRICE, 2 * T, 1, instrument=CLASS,
                           batch=vintages[1].batch_id), status=201)
    ex.service.close()  # one process per journal: the old one stops first
    after = open_exchange(ledger, tmp_path / "exchange", acc["exchange"])
    try:
        assert after.service.reads.listings[CLASS].credit_class == (
            ex.service.reads.listings[CLASS].credit_class)
        assert after.service.state.orders[sell["order_id"]].view() == (
            ex.service.state.orders[sell["order_id"]].view())
        assert after.service.risk.credits == ex.service.risk.credits
    finally:
        after.service.close()


def test_a_frozen_batch_is_never_chosen_or_accepted_for_a_class_sell(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger,
    vintages: list[Batch], listed: dict[str, int]
) -> None:
    first, second = vintages[0].batch_id, vintages[1].batch_id
    ledger.freeze_batch(acc["regulator"], second, doc("inquiry"))
    sell = api.post("/v1/exchange/orders", "trader1", custodial_sell(3 * T), status=201)
    assert sell["delivery_batch"] == first  # the second has more free credits, but is frozen
    r = api.raw("POST", "/v1/exchange/orders", None, signed(
        acc, ex, "trader1", "sell", PRICE, T, 50, instrument=CLASS, batch=second))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "batch_frozen")
    buy = api.post("/v1/exchange/orders", None, signed(
        acc, ex, "trader2", "buy", PRICE, 3 * T, 1, instrument=CLASS), status=201)
    assert buy["trades"][0]["batch_id"] == first  # the class still trades its other batches
