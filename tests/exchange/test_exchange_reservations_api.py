"""Registry transfers, retirements, relayed calls and cash withdrawals never spend what the
exchange has reserved (open sells, unsettled sales, open buys, unsettled purchases): 409
reserved_by_exchange with the free and needed amounts, and nothing moves. The same holds for an
API that does not run the exchange (`tanhui up --no-exchange` beside `tanhui exchange run`):
it reads the reservations the exchange process shares through the database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from exchange.instruments import InstrumentSpec
from exchange.reservations import SharedReservations
from exchange.runtime import Exchange, open_exchange
from exchange.signing import Order, sign_order
from registry.ledger import Ledger
from tests.support.api import Api, ApiDatabase, open_api, relay_body
from tests.support.exchange import PRICE, T, signed

RETIRE = {"amount": "0", "beneficiary": "Acme", "purpose": "voluntary"}


def _transfer(api: Api, batch: int, tonnes: str, status: int) -> dict[str, object]:
    return api.call("POST", "/v1/transfers", "trader1",  # type: ignore[no-any-return]
                    {"to": api.acc["trader3"].address, "batch_id": batch, "amount": tonnes},
                    status=status)


def test_a_transfer_may_not_take_credits_reserved_by_an_open_sell(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger,
        market: int) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, 70 * T, 1),
             status=201)
    refused = _transfer(api, market, "31", 409)["error"]
    assert isinstance(refused, dict) and refused["code"] == "reserved_by_exchange"
    assert (refused["details"]["free"], refused["details"]["needed"]) == (30 * T, 31 * T)
    assert ledger.balance(acc["trader1"].address, market) == 100 * T
    _transfer(api, market, "30", 201)  # the free part moves
    assert ledger.balance(acc["trader3"].address, market) == 30 * T


def test_a_retirement_may_not_take_credits_of_an_unsettled_sale(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger,
        market: int) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, 80 * T, 1),
             status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE, 80 * T, 1),
             status=201)  # sold, not settled yet
    body = {**RETIRE, "batch_id": market, "amount": "21"}
    assert api.error("POST", "/v1/retirements", "trader1", body, 409) == "reserved_by_exchange"
    assert ledger.balance(acc["trader1"].address, market) == 100 * T
    api.post("/v1/retirements", "trader1", {**body, "amount": "20"}, status=201)
    assert ex.worker.run_once() == 1  # the sale still settles


def test_a_relayed_transfer_may_not_take_reserved_credits(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger,
        market: int) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, 90 * T, 1),
             status=201)
    seller = acc["trader1"]
    fn = keccak(text="safeTransferFrom(address,address,uint256,uint256,bytes)")[:4]
    data = fn + encode(["address", "address", "uint256", "uint256", "bytes"],
                       [seller.address, acc["trader3"].address, market, 11 * T, b""])
    r = api.raw("POST", "/v1/relay", "trader1", relay_body(api, seller, "CarbonCredits", data))
    assert r.status_code == 409 and r.json()["error"]["code"] == "reserved_by_exchange"
    assert ledger.balance(seller.address, market) == 100 * T


def test_a_relayed_retirement_may_not_take_reserved_credits(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger,
        market: int) -> None:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, 95 * T, 1),
             status=201)
    seller = acc["trader1"]
    fn = keccak(text="retire(uint256,uint256,string,uint8,string)")[:4]
    data = fn + encode(["uint256", "uint256", "string", "uint8", "string"],
                       [market, 6 * T, "Acme", 0, ""])
    r = api.raw("POST", "/v1/relay", "trader1", relay_body(api, seller, "CarbonCredits", data))
    assert r.status_code == 409 and r.json()["error"]["code"] == "reserved_by_exchange"
    assert r.json()["error"]["details"]["free"] == 5 * T
    ok = fn + encode(["uint256", "uint256", "string", "uint8", "string"],
                     [market, 5 * T, "Acme", 0, ""])
    r = api.raw("POST", "/v1/relay", "trader1", relay_body(api, seller, "CarbonCredits", ok))
    assert r.status_code == 200, r.text
    assert ledger.balance(seller.address, market) == 95 * T


def test_a_relayed_cash_transfer_may_not_take_cash_reserved_by_an_open_buy(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount]) -> None:
    buyer = acc["trader2"]
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE, 100 * T, 1),
             status=201)
    free = api.read(f"/v1/exchange/cash/{buyer.address}", "trader2")["free_fen"]
    fn = keccak(text="transfer(address,uint256)")[:4]
    data = fn + encode(["address", "uint256"], [acc["trader3"].address, free + 1])
    r = api.raw("POST", "/v1/relay", "trader2", relay_body(api, buyer, "CashToken", data))
    assert r.status_code == 409 and r.json()["error"]["code"] == "reserved_by_exchange"
    assert api.read(f"/v1/exchange/cash/{buyer.address}", "trader2")["free_fen"] == free


def test_a_withdrawal_may_not_take_cash_of_an_unsettled_purchase(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount]) -> None:
    who = acc["trader2"].address
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, 10 * T, 1),
             status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE, 10 * T, 1),
             status=201)
    c = api.read(f"/v1/exchange/cash/{who}", "trader2")
    assert c["reserved_fen"] == ex.service.reads.cash_for(10 * T, PRICE)
    body = {"account": who, "amount_fen": c["balance_fen"], "reference": "payout-all"}
    assert api.error("POST", "/v1/exchange/cash/withdrawals", "bank", body,
                     409) == "reserved_by_exchange"
    assert ex.worker.run_once() == 1


# -- the exchange in its own process, the API beside it -----------------------------------------


@pytest.fixture
def beside(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path,
           market: int) -> Iterator[tuple[Exchange, Api]]:
    """An exchange sharing its reservations through the API's database, and an API without
    the exchange on that database (what `tanhui up --no-exchange` serves)."""
    e = open_exchange(ledger, tmp_path / "exchange", acc["exchange"], balance_ttl=0,
                      shared=SharedReservations(db.engine))
    e.chain.list_instrument(acc["exchange"], 41, batch_id=market, lot=T, tick=1)
    e.service.list_instrument(InstrumentSpec(41, lot=T, tick=1, reference_price=PRICE),
                              market)
    try:
        yield e, open_api(db, ledger, acc)
    finally:
        e.stop()


def test_an_api_without_the_exchange_sees_its_reservations_through_the_database(
        beside: tuple[Exchange, Api], acc: dict[str, LocalAccount], ledger: Ledger,
        market: int) -> None:
    ex, api = beside
    ex.service.submit(*_order(ex, acc, "trader1", 1, 60 * T))
    assert api.error("POST", "/v1/transfers", "trader1",
                     {"to": acc["trader3"].address, "batch_id": market, "amount": "41"},
                     409) == "reserved_by_exchange"
    who = acc["trader2"].address
    ex.service.submit(*_order(ex, acc, "trader2", 0, 10 * T))  # buys 10 t: unsettled
    cash = api.read(f"/v1/exchange/cash/{who}", "trader2")
    assert cash["reserved_fen"] == ex.service.reads.cash_for(10 * T, PRICE)
    assert ex.worker.run_once() == 1  # settled: reservations shrink in the table too
    assert api.read(f"/v1/exchange/cash/{who}", "trader2")["reserved_fen"] == 0
    api.post("/v1/transfers", "trader1",
             {"to": acc["trader3"].address, "batch_id": market, "amount": "40"}, status=201)
    assert ledger.balance(acc["trader1"].address, market) == 50 * T


def test_a_restarted_exchange_shares_the_reservations_its_journal_rebuilt(
        beside: tuple[Exchange, Api], db: ApiDatabase, ledger: Ledger,
        acc: dict[str, LocalAccount], market: int) -> None:
    ex, _ = beside
    ex.service.submit(*_order(ex, acc, "trader1", 1, 60 * T))
    directory = ex.service.journal.directory
    ex.service.close()
    SharedReservations(db.engine).replace_all({})  # whatever the table held is replaced
    again = open_exchange(ledger, directory, acc["exchange"], balance_ttl=0,
                          shared=SharedReservations(db.engine))
    try:
        assert SharedReservations(db.engine).reserved(acc["trader1"].address, market) == 60 * T
    finally:
        again.stop()
        ex.service = again.service


def _order(ex: Exchange, acc: dict[str, LocalAccount], seat: str, side: int,
           quantity: int) -> tuple[Order, bytes]:
    """A signed GTC order on instrument 41 at PRICE."""
    o = Order(acc[seat].address, side, 41, PRICE, quantity, 0, 7 + side,
              int(time.time()) + 3_600, batch_id=ex.service.reads.listings[41].batch_id if side
              else 0, max_fee_bps=100)
    return o, sign_order(acc[seat], o, ex.chain.domain)
