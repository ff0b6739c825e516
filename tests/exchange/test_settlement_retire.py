"""Buying and retiring in one settlement for an ecological-compensation order (Flow 8 and 11): a
buy that signs `retireFor` settles into a retirement counted toward that order, from the
seller's balance, never through the buyer's; the order's refusal reverts the trade, which the
exchange then fails as the buyer's; the operator can neither strip nor add `retireFor`; a sell
cannot sign one, at entry or on chain."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from devkit.scenario import doc
from exchange.onchain import SettlementChain
from exchange.runtime import Exchange
from exchange.signing import sign_order
from registry.categories import SinkCategory
from registry.compensation import Compensation, Terms, Unit
from registry.ledger import Ledger
from tests.support.api import Api
from tests.support.exchange import INSTRUMENT as INSTRUMENT_API
from tests.support.exchange import refusal, signed
from tests.support.failures import cached_market, place, trade_ids
from tests.support.fills import PRICE, T, fill, orders, refused

INSTRUMENT = 7  # on chain, for the contract-level tests
BOOK = 33  # in the exchange, for the worker test


def register_order(ledger: Ledger, acc: dict[str, LocalAccount], case: str,
                   category: SinkCategory = SinkCategory.MANGROVE, required: int = 50 * T,
                   parties: tuple[str, ...] = ("trader2",)) -> int:
    """A Tonnes compensation order the procuratorate registers for `case`: `required` of sink
    `category`, any region and vintage, a year to fulfil it, `parties` liable; its id."""
    now = int(ledger.chain.w3.eth.get_block("latest")["timestamp"])
    terms = Terms(unit=Unit.TONNES, required=required, categories=(category,),
                  deadline=now + 365 * 86_400, party_names=("案件当事人 Case party",),
                  document_hash=doc(f"judgment/{case}"),
                  parties=tuple(acc[p].address for p in parties))
    return Compensation(ledger).register_order(acc["procuratorate"], case, terms).id


def fulfilled(ledger: Ledger, order_id: int) -> int:
    return Compensation(ledger).order(order_id).fulfilled


@pytest.fixture
def sc(ledger: Ledger) -> SettlementChain:
    return SettlementChain(ledger)


@pytest.fixture
def listed(ledger: Ledger, acc: dict[str, LocalAccount], sc: SettlementChain,
           market: int) -> int:
    """The exchange harness's market (trader1 100 t of a mangrove batch, trader2 cash, fees
    10/20 bps) with the batch listed on chain as instrument 7."""
    sc.list_instrument(acc["exchange"], INSTRUMENT, batch_id=market)
    return market


def test_a_buy_signed_for_an_order_settles_into_a_retirement_counted_toward_it(
        ledger: Ledger, acc: dict[str, LocalAccount], sc: SettlementChain, listed: int) -> None:
    batch, buyer, seller = listed, acc["trader2"].address, acc["trader1"].address
    order_id = register_order(ledger, acc, "（2026）桂0702刑初1号")
    cash_before = {a: sc.cash_balance(a) for a in (buyer, seller, acc["exchange"].address)}
    buy, sell = orders(acc, batch, qty=20 * T, retire_for=order_id)

    sent = sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 1, 4 * T, batch)])

    [counted] = ledger.events_of(sent, "RetirementCounted")
    assert (counted.args["orderId"], counted.args["holder"], counted.args["batchId"],
            counted.args["amount"]) == (order_id, buyer, batch, 4 * T)
    [retired] = ledger.events_of(sent, "Retired")
    assert retired.args["retirementId"] == counted.args["retirementId"]
    assert (retired.args["holder"], retired.args["amount"], retired.args["caseReference"]) == (
        buyer, 4 * T, "（2026）桂0702刑初1号")  # the buyer's retirement, citing the case
    # no credit ever reached the buyer, not even for a moment inside the transaction
    assert all(ev.args["to"] != buyer for ev in ledger.events_of(sent, "TransferSingle"))
    assert ledger.balance(buyer, batch) == 0  # never in the buyer's balance
    assert ledger.balance(seller, batch) == 96 * T
    value = 4 * PRICE
    buyer_fee, seller_fee = value * 10 // 10_000, value * 20 // 10_000  # the buyer was maker
    assert sc.cash_balance(buyer) == cash_before[buyer] - value - buyer_fee
    assert sc.cash_balance(seller) == cash_before[seller] + value - seller_fee
    assert sc.cash_balance(acc["exchange"].address) == (
        cash_before[acc["exchange"].address] + buyer_fee + seller_fee)
    [settled] = ledger.events_of(sent, "TradeSettled")
    assert (settled.args["buyerPaid"], settled.args["sellerReceived"]) == (
        value + buyer_fee, value - seller_fee)
    assert sc.is_settled(1)
    assert fulfilled(ledger, order_id) == 4 * T


def test_a_buy_for_an_order_the_batch_is_ineligible_for_reverts_with_the_orders_reason(
        ledger: Ledger, acc: dict[str, LocalAccount], sc: SettlementChain, listed: int) -> None:
    order_id = register_order(ledger, acc, "（2026）浙0922刑初2号",
                              category=SinkCategory.SHELLFISH)
    buy, sell = orders(acc, listed, retire_for=order_id)
    trade = fill(sc, acc, buy, sell, 1, T, listed)
    assert refused(lambda: sc.settle(acc["exchange"], [trade])) == "IneligibleCategory"
    assert not sc.is_settled(1)
    assert ledger.balance(acc["trader1"].address, listed) == 100 * T


def test_the_settlement_worker_fails_a_trade_the_order_refuses_as_the_buyers(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, market: int) -> None:
    """The worker bisects the batch as for any revert: the refused trade fails with the
    order's reason and the buyer at fault (its resting remainder is cancelled, it would be
    refused again), the seller's credits are free again, the other trade settles."""
    order_id = register_order(ledger, acc, "（2026）闽0181刑初3号",
                              category=SinkCategory.SHELLFISH)
    ex = cached_market(ledger, acc, tmp_path / "exchange", market, BOOK)
    try:
        seller, buyer = acc["trader1"].address, acc["trader2"].address
        place(ex, acc, "trader1", "sell", 5 * T, 1, BOOK, market)
        ordinary = trade_ids(place(ex, acc, "trader2", "buy", 5 * T, 1, BOOK, market))
        place(ex, acc, "trader1", "sell", 3 * T, 2, BOOK, market)
        view = place(ex, acc, "trader2", "buy", 10 * T, 2, BOOK, market, retire_for=order_id)
        [refused_trade] = trade_ids(view)
        assert view["retire_for"] == order_id

        ex.worker.run_once()

        t = ex.service.state.trades[refused_trade]
        assert (t.status, t.reason, t.at_fault) == ("failed", "IneligibleCategory", "buyer")
        assert ex.service.state.trades[ordinary[0]].status == "settled"
        assert ex.service.state.orders[int(str(view["order_id"]))].status == "cancelled"
        assert ex.service.settlement.pending_trades() == []
        assert ex.service.reads.reserved_credits(seller, market) == 0
        assert ex.service.reads.reserved_cash(buyer) == 0
        assert ledger.balance(seller, market) == 95 * T
    finally:
        ex.stop()


def test_the_operator_cannot_strip_or_add_retire_for(
        ledger: Ledger, acc: dict[str, LocalAccount], sc: SettlementChain, listed: int) -> None:
    order_id = register_order(ledger, acc, "（2026）厦行执4号")
    bought_for, sell = orders(acc, listed, retire_for=order_id)
    stripped = fill(sc, acc, bought_for, sell, 1, T, listed)
    stripped = replace(stripped, buy=replace(bought_for, retire_for=0))  # delivered instead
    assert refused(lambda: sc.settle(acc["exchange"], [stripped])) == "InvalidSignature"
    plain, _ = orders(acc, listed)
    added = replace(fill(sc, acc, plain, sell, 2, T, listed),
                    buy=replace(plain, retire_for=order_id))  # retired for another party
    assert refused(lambda: sc.settle(acc["exchange"], [added])) == "InvalidSignature"
    assert ledger.balance(acc["trader1"].address, listed) == 100 * T


def test_a_sell_that_signs_retire_for_is_refused_on_chain(
        ledger: Ledger, acc: dict[str, LocalAccount], sc: SettlementChain, listed: int) -> None:
    order_id = register_order(ledger, acc, "（2026）桂0702刑初5号")
    buy, sell = orders(acc, listed)
    sell = replace(sell, retire_for=order_id)
    trade = replace(fill(sc, acc, buy, sell, 1, T, listed),
                    sell_signature=sign_order(acc["trader1"], sell, sc.domain))
    assert refused(lambda: sc.settle(acc["exchange"], [trade])) == "MismatchedOrders"


def test_a_sell_that_signs_retire_for_is_refused_at_entry(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount]) -> None:
    body = signed(acc, ex, "trader1", "sell", PRICE, T, 1, retire_for=3)
    assert refusal(api, body) == (422, "sell_retire_for")
    assert ex.service.reads.depth(INSTRUMENT_API, 5)["asks"] == []


def test_a_custodial_buy_for_an_order_placed_over_the_api_is_retired_when_it_settles(
        api: Api, ex: Exchange, ledger: Ledger, acc: dict[str, LocalAccount],
        market: int) -> None:
    """A party without its own key: the server signs its buy, `retire_for` included."""
    order_id = register_order(ledger, acc, "（2026）桂0702刑初6号")
    api.post("/v1/exchange/orders", None,
             signed(acc, ex, "trader1", "sell", PRICE, 10 * T, 1), status=201)
    body = {"order": {"side": "buy", "instrument": INSTRUMENT_API, "price": PRICE,
                      "quantity": 4 * T, "expiry": int(time.time()) + 600,
                      "retire_for": order_id}}
    bought = api.post("/v1/exchange/orders", "trader2", body, status=201)
    assert (bought["retire_for"], bought["status"]) == (order_id, "filled")

    assert ex.worker.run_once() == 1

    assert ledger.balance(acc["trader2"].address, market) == 0
    assert ledger.balance(acc["trader1"].address, market) == 96 * T
    assert fulfilled(ledger, order_id) == 4 * T
    view = api.read(f"/v1/exchange/orders/{bought['order_id']}", "trader2")
    assert (view["retire_for"], view["trades"][0]["settlement"]) == (order_id, "settled")
