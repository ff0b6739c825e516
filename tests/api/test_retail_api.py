"""The carbon supermarket over real HTTP (a served app) on a real chain: a retail seat stocks
its shelf, sells 0.5 t of a ticket and 1 kg of credits to people without chain accounts (retired
at once, with a certificate URL), and anyone reads its sales per buyer reference and its shelf."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from devkit.scenario import Scenario, doc
from registry.ledger import Ledger
from registry.tickets import Tickets
from tests.support.api import TONNE, ApiDatabase, api_database, served_api
from tests.support.api import HttpApi as Api

SALES = "/v1/retail/sales"
BUYER = "恩施市民 张三 Zhang San"
RECEIPT = "ES-2025-05-000123"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("retail")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with served_api(db, ledger, acc) as served:
        yield served


@dataclass
class Stocked:
    shelf_ticket: int
    batch: int


@pytest.fixture
def stocked(api: Api) -> Stocked:
    """The retail seat holds a 10 t ticket and 5 t of a batch, and has stocked all of both."""
    s = Scenario(api.ledger, api.acc)
    ticket = s.ticket(10 * TONNE, owner="retail").token_id
    batch = s.batch(quantity=100 * TONNE).batch_id
    api.ledger.transfer(api.acc["developer"], api.acc["retail"].address, batch, 5 * TONNE)
    t = api.post("/v1/retail/stock", "retail",
                 {"asset": "ticket", "token_id": ticket, "amount": "10"}, 201)
    assert t["shelf_token_id"] == ticket
    api.post("/v1/retail/stock", "retail", {"asset": "credit", "batch_id": batch, "amount": "5"},
             201)
    return Stocked(ticket, batch)


def sale(asset: str, asset_id: int, amount: str, **extra: str) -> dict[str, object]:
    key = "token_id" if asset == "ticket" else "batch_id"
    return {"asset": asset, key: asset_id, "amount": amount, "beneficiary": BUYER,
            "buyer_reference": RECEIPT, "price_yuan": "7.50", **extra}


def test_half_a_tonne_of_ticket_is_retired_at_once_with_a_certificate(
        api: Api, stocked: Stocked) -> None:
    r = api.post(SALES, "retail", sale("ticket", stocked.shelf_ticket, "0.5"), 201)
    assert (r["amount"], r["price_fen"], r["serial_start"], r["serial_end"]) == (
        "0.5", 7_50, 1, TONNE // 2)
    assert r["certificate_url"].endswith(
        f"/v1/tickets/retirements/{r['retirement_id']}/certificate")
    slot = Tickets(api.ledger).ticket(stocked.shelf_ticket).slot
    assert r["serial_range"] == f"TH-S{slot:06d}-000000000001 … 000000500000"
    assert Tickets(api.ledger).value_of(stocked.shelf_ticket) == 10 * TONNE - TONNE // 2


def test_one_kilogram_of_credits_is_retired_with_the_credit_certificate(
        api: Api, stocked: Stocked) -> None:
    r = api.post(SALES, "retail", sale("credit", stocked.batch, "0.001", price_yuan="0.02"), 201)
    assert r["certificate_url"].endswith(f"/v1/retirements/{r['retirement_id']}/certificate")
    record = api.ledger.retirement(r["retirement_id"])
    assert (record.retirement.beneficiary, record.retirement.amount, record.matches) == (
        BUYER, 1_000, True)


def test_sales_are_read_per_buyer_reference_from_the_chain(api: Api, stocked: Stocked) -> None:
    api.post(SALES, "retail", sale("ticket", stocked.shelf_ticket, "0.5"), 201)
    api.post(SALES, "retail", sale("credit", stocked.batch, "0.003", buyer_reference="other"), 201)
    seat = api.acc["retail"].address
    got = api.get(f"{SALES}?seat={seat}&buyer_reference={RECEIPT}")
    assert [s["amount"] for s in got["sales"]] == ["0.5"]
    assert (got["total_amount_units"], got["total_price_fen"]) == (TONNE // 2, 7_50)
    assert len(api.get(f"{SALES}?seat={seat}")["sales"]) == 2
    shelf = api.get(f"/v1/retail/shelf?seat={seat}")["lots"]
    assert [(lot["asset"], lot["sold_units"]) for lot in shelf] == [
        ("ticket", TONNE // 2), ("credit", 3_000)]


def test_withdrawn_stock_returns_to_the_seat(api: Api, stocked: Stocked) -> None:
    r = api.post("/v1/retail/withdraw", "retail",
                 {"asset": "credit", "batch_id": stocked.batch, "amount": "2"}, 201)
    assert r["amount_units"] == 2 * TONNE
    assert api.ledger.balance(api.acc["retail"].address, stocked.batch) == 2 * TONNE


@pytest.mark.parametrize(("amount", "code"), [("0.0005", "below_minimum_retail"),
                                              ("0.0015", "not_whole_kg")])
def test_retail_amounts_are_whole_kilograms_from_one(api: Api, stocked: Stocked, amount: str,
                                                     code: str) -> None:
    assert api.error("POST", SALES, "retail", sale("credit", stocked.batch, amount), 422) == code


def test_a_member_without_a_retail_seat_is_refused(api: Api, stocked: Stocked) -> None:
    assert api.error("POST", SALES, "trader1", sale("credit", stocked.batch, "0.001"),
                     403) == "not_retail_seat"


def test_more_than_the_shelf_holds_is_refused_and_nothing_changes(
        api: Api, stocked: Stocked) -> None:
    before = api.ledger.batch(stocked.batch).retired
    assert api.error("POST", SALES, "retail", sale("credit", stocked.batch, "6"),
                     409) == "insufficient_stock"
    assert api.ledger.batch(stocked.batch).retired == before


def test_a_frozen_seat_is_refused(api: Api, stocked: Stocked) -> None:
    api.ledger.freeze_account(api.acc["regulator"], api.acc["retail"].address, doc("freeze"))
    assert api.error("POST", SALES, "retail", sale("credit", stocked.batch, "0.001"),
                     409) == "account_frozen"


def test_a_ticket_and_a_batch_together_is_refused(api: Api, stocked: Stocked) -> None:
    body = {**sale("ticket", stocked.shelf_ticket, "1"), "batch_id": stocked.batch}
    assert api.error("POST", SALES, "retail", body, 422) == "invalid_asset"


def test_a_retried_sale_with_its_key_retires_once(api: Api, stocked: Stocked) -> None:
    key = {"Idempotency-Key": "receipt-ES-2025-05-000123"}
    first = api.post(SALES, "retail", sale("credit", stocked.batch, "0.002"), 201, key)
    again = api.post(SALES, "retail", sale("credit", stocked.batch, "0.002"), 201, key)
    assert again["retirement_id"] == first["retirement_id"]
    seat = api.acc["retail"].address
    assert len(api.get(f"{SALES}?seat={seat}")["sales"]) == 1


def test_stocking_a_ticket_the_seat_does_not_own_is_refused(api: Api) -> None:
    other = Scenario(api.ledger, api.acc).ticket(TONNE).token_id
    assert api.error("POST", "/v1/retail/stock", "retail",
                     {"asset": "ticket", "token_id": other, "amount": "1"}, 409) == \
        "not_ticket_owner"


def test_a_withdrawn_part_of_a_shelf_ticket_comes_back_as_a_new_ticket(
        api: Api, stocked: Stocked) -> None:
    r = api.post("/v1/retail/withdraw", "retail",
                 {"asset": "ticket", "token_id": stocked.shelf_ticket, "amount": "4"}, 201)
    back = Tickets(api.ledger).ticket(r["shelf_token_id"])
    assert (back.owner, back.value) == (api.acc["retail"].address, 4 * TONNE)
    assert api.error("POST", "/v1/retail/withdraw", "retail",
                     {"asset": "ticket", "token_id": stocked.shelf_ticket, "amount": "7"},
                     409) == "insufficient_stock"
