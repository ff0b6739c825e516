"""Compensation orders through the HTTP API on the real chain: an authority registers, a party
retires for the order, the contract counts or refuses with the reason, offers are bought and
retired in one request, and the index serves lists, what a party owes and the timeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from devkit.scenario import Scenario
from registry.categories import SinkCategory
from registry.indexer import Indexer
from registry.ledger import Ledger
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api


def h(tag: str) -> str:
    return "0x" + keccak(text=tag).hex()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-compensation")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def chain_time(api: Api) -> int:
    return int(api.ledger.chain.w3.eth.get_block("latest")["timestamp"])


def order_body(api: Api, case: str, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_number": case, "required_tonnes": "10", "categories": ["mangrove"],
        "regions": ["4507"], "deadline": chain_time(api) + 90 * 86_400,
        "parties": [api.acc["trader1"].address], "party_names": ["广西北港新材料有限公司"],
        "document_hash": h(case),
    }
    body.update(over)
    return body


def holding(api: Api, seat: str, tonnes: int, category: SinkCategory = SinkCategory.MANGROVE,
            division: int = 450702) -> int:
    """A fresh batch of `category` in `division`; `tonnes` of it moved to `seat`."""
    s = Scenario(api.ledger, api.acc)
    mid = s.methodology(category=category)
    pid = s.project(mid, division_code=division)
    b = s.batch(100 * TONNE, project_id=pid)
    if seat != "developer":
        api.ledger.transfer(api.acc["developer"], api.acc[seat].address, b.batch_id,
                            tonnes * TONNE)
    return b.batch_id


def order_count(api: Api) -> int:
    c = api.ledger.c("CompensationOrders")
    return int(api.ledger.chain.call(c.functions.orderCount()))


def test_an_authority_registers_an_order_that_reads_back_from_the_chain(api: Api) -> None:
    out = api.post("/v1/compensation/orders", "procuratorate",
                   order_body(api, "（2026）桂07民初1号"), status=201)
    o = out["order"]
    assert (o["status"], o["required"], o["unit"], o["categories"], o["regions"]) == \
        ("open", "10", "tonnes", ["mangrove"], ["4507"])
    assert o["authority"] == api.acc["procuratorate"].address
    assert api.get(f"/v1/compensation/orders/{o['id']}") == o
    by_case = api.call("GET", "/v1/compensation/cases?number=（2026）桂07民初1号")
    assert by_case["id"] == o["id"]


def test_only_an_authority_registers_orders(api: Api) -> None:
    before = order_count(api)
    code = api.error("POST", "/v1/compensation/orders", "trader1",
                     order_body(api, "（2026）桂07民初2号"), 403)
    assert code == "forbidden_role" and order_count(api) == before


@pytest.mark.parametrize(("over", "status", "code"), [
    ({"categories": []}, 422, "no_eligible_category"),
    ({"required_tonnes": None, "required_cny": "100.001"}, 422, "amount_too_precise"),
    ({"parties": [], "authority_pays": False}, 422, "no_paying_party"),
    ({"regions": ["450"]}, 422, "invalid_division_prefix"),
    ({"deadline": 1}, 422, "deadline_past"),
    ({"parties": ["0x" + "77" * 20]}, 422, "party_not_member"),
])
def test_bad_orders_are_refused_with_a_stable_code_and_change_nothing(
        api: Api, over: dict[str, Any], status: int, code: str) -> None:
    before = order_count(api)
    body = {k: v for k, v in order_body(api, f"bad-{code}", **over).items() if v is not None}
    assert api.error("POST", "/v1/compensation/orders", "procuratorate", body, status) == code
    assert order_count(api) == before


def test_a_second_order_for_the_same_case_is_refused(api: Api) -> None:
    api.post("/v1/compensation/orders", "procuratorate", order_body(api, "dup-case"), status=201)
    assert api.error("POST", "/v1/compensation/orders", "procuratorate",
                     order_body(api, "dup-case"), 409) == "case_has_order"


def test_a_party_retires_eligible_credits_until_the_order_is_fulfilled(api: Api) -> None:
    o = api.post("/v1/compensation/orders", "procuratorate", order_body(api, "fulfil"),
                 status=201)["order"]
    bid = holding(api, "trader1", 11)
    first = api.post(f"/v1/compensation/orders/{o['id']}/retirements", "trader1",
                     {"batch_id": bid, "amount": "4"}, status=201)
    assert (first["value"], first["order"]["status"], first["order_fulfilled"]) == \
        ("4", "partly_fulfilled", False)
    last = api.post(f"/v1/compensation/orders/{o['id']}/retirements", "trader1",
                    {"batch_id": bid, "amount": "6"}, status=201)
    assert (last["order"]["status"], last["order"]["fulfilled"], last["order_fulfilled"]) == \
        ("fulfilled", "10", True)
    assert api.error("POST", f"/v1/compensation/orders/{o['id']}/retirements", "trader1",
                     {"batch_id": bid, "amount": "1"}, 409) == "chain_order_not_open"


def test_an_ineligible_retirement_is_refused_with_its_reason(api: Api) -> None:
    o = api.post("/v1/compensation/orders", "procuratorate", order_body(api, "eligibility"),
                 status=201)["order"]
    fujian = holding(api, "trader1", 5, division=350122)
    forest = holding(api, "trader1", 5, category=SinkCategory.FOREST)
    path = f"/v1/compensation/orders/{o['id']}/retirements"
    balance = api.ledger.balance(api.acc["trader1"].address, fujian)
    assert api.error("POST", path, "trader1", {"batch_id": fujian, "amount": "1"}, 409) == \
        "chain_ineligible_region"
    assert api.error("POST", path, "trader1", {"batch_id": forest, "amount": "1"}, 409) == \
        "chain_ineligible_category"
    assert api.ledger.balance(api.acc["trader1"].address, fujian) == balance
    outsider = holding(api, "trader2", 5)
    assert api.error("POST", path, "trader2", {"batch_id": outsider, "amount": "1"}, 409) == \
        "chain_not_order_party"


def test_only_the_orders_authority_amends_or_closes_it(api: Api) -> None:
    o = api.post("/v1/compensation/orders", "procuratorate", order_body(api, "close-me"),
                 status=201)["order"]
    assert api.error("POST", f"/v1/compensation/orders/{o['id']}/close", "trader1",
                     {}, 403) == "forbidden_role"
    closed = api.post(f"/v1/compensation/orders/{o['id']}/close", "procuratorate", {})
    assert closed["order"]["status"] == "closed"
    amended = api.error("POST", f"/v1/compensation/orders/{o['id']}/amend", "procuratorate",
                        {k: v for k, v in order_body(api, "x").items() if k != "case_number"},
                        409)
    assert amended == "chain_order_not_open"


def test_a_cny_order_counts_an_offer_taken_at_its_fixed_price(api: Api) -> None:
    o = api.post("/v1/compensation/orders", "procuratorate", order_body(
        api, "cny-offer", required_tonnes=None, required_cny="500.00", parties=[],
        authority_pays=True, party_names=["某养殖户（未入盟）"]), status=201)["order"]
    bid = holding(api, "trader2", 8)
    offer = api.post(f"/v1/compensation/orders/{o['id']}/offers", "trader2", {
        "batch_id": bid, "amount": "8", "price_fen_per_tonne": 10_000,
        "expiry": chain_time(api) + 86_400}, status=201)["offer"]
    from exchange.onchain import SettlementChain

    SettlementChain(api.ledger).deposit(api.acc["bank"], api.acc["procuratorate"].address,
                                        100_000, keccak(text="compensation funds"))
    seller_cash = api.ledger.chain.call(api.ledger.c("CashToken").functions.balanceOf(
        api.acc["trader2"].address))
    taken = api.post(f"/v1/compensation/offers/{offer['id']}/take", "procuratorate",
                     {"amount": "5"}, status=201)
    assert (taken["paid"], taken["value"], taken["order"]["fulfilled"]) == \
        ("500.00", "500.00", "500.00")
    assert taken["order"]["status"] == "fulfilled"
    assert api.ledger.chain.call(api.ledger.c("CashToken").functions.balanceOf(
        api.acc["trader2"].address)) == seller_cash + 50_000
    assert api.ledger.balance(api.acc["procuratorate"].address, bid) == 0


def test_lists_what_a_party_owes_and_the_timeline_come_from_the_index(api: Api) -> None:
    o = api.post("/v1/compensation/orders", "procuratorate", order_body(api, "indexed"),
                 status=201)["order"]
    bid = holding(api, "trader1", 3)
    api.post(f"/v1/compensation/orders/{o['id']}/retirements", "trader1",
             {"batch_id": bid, "amount": "3"}, status=201)
    Indexer(api.ledger.chain, api.ledger.deployment, api.db.engine).sync()
    owed = {x["id"]: x for x in api.read("/v1/compensation/owed", "trader1")}
    assert owed[o["id"]]["remaining"] == "7"
    mine = api.read("/v1/compensation/orders/mine", "procuratorate")
    assert o["id"] in {x["id"] for x in mine["items"]}
    steps = api.get(f"/v1/compensation/orders/{o['id']}/timeline")
    assert [s["kind"] for s in steps] == ["registered", "counted"]


def test_a_retried_retirement_for_an_order_is_answered_once(api: Api) -> None:
    o = api.post("/v1/compensation/orders", "procuratorate", order_body(api, "retry"),
                 status=201)["order"]
    bid = holding(api, "trader1", 2)
    path = f"/v1/compensation/orders/{o['id']}/retirements"
    key = {"Idempotency-Key": "retire-for-order-1"}
    first = api.post(path, "trader1", {"batch_id": bid, "amount": "2"}, 201, key)
    again = api.post(path, "trader1", {"batch_id": bid, "amount": "2"}, 201, key)
    assert again == first and first["order"]["fulfilled"] == "2"
    assert api.get(f"/v1/compensation/orders/{o['id']}")["fulfilled"] == "2"
    other = api.raw("POST", path, "trader1", {"batch_id": bid, "amount": "1"}, key)
    assert other.status_code == 422 or other.status_code == 409
