"""Forest tickets for compensation orders over HTTP, on the real chain: a liable party retires
ticket value for an order and it counts like credits; ineligible tickets are refused with the
codes credits get and change nothing; the order's retirements, timeline and fulfilment
certificate list the ticket retirements, labelled as forest carbon tickets, and the
certificate's QR claims verify."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from eth_account.signers.local import LocalAccount

from registry.indexer import Indexer
from registry.ledger import Ledger
from registry.tickets import Tickets
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api
from tests.support.compensation import holding, qr_link_of, register_order, retire_for_order
from tests.support.ticket_certificates import (
    RIGHTS_PREFIX,
    TICKET_CASE,
    forest_order,
    retire_tickets_for_order,
    ticket_for,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("ticket-compensation")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def retire_path(order_id: int) -> str:
    return f"/v1/compensation/orders/{order_id}/ticket-retirements"


def test_a_party_retires_tickets_for_an_order_and_they_count(api: Api) -> None:
    order_id = forest_order(api)
    out = retire_tickets_for_order(api, order_id, "4")
    assert (out["asset"], out["amount"], out["value"], out["order_fulfilled"]) == (
        "ticket", "4", "4", False)
    assert out["order"]["fulfilled"] == "4" and out["order"]["status"] == "partly_fulfilled"
    rid = out["retirement_id"]
    assert str(out["serial_range"]).startswith(f"TH-T{out['slot']:06d}-000000000001")
    assert str(out["certificate_url"]).endswith(f"/v1/tickets/retirements/{rid}/certificate")
    record = api.get(f"/v1/tickets/retirements/{rid}")
    assert (record["purpose"], record["case_reference"], record["order_id"],
            record["verified"]) == ("ecological_compensation", TICKET_CASE, order_id, True)
    assert record["parcel"]["rights_certificate"].startswith(RIGHTS_PREFIX)


@pytest.mark.parametrize(("over", "code"), [
    ({"categories": ["mangrove"]}, "chain_ineligible_category"),
    ({"regions": ["45"]}, "chain_ineligible_region"),
    ({"vintage_from": 2100}, "chain_ineligible_vintage"),
    ({"required_tonnes": None, "required_cny": "50000"}, "chain_price_unknown"),
])
def test_an_ineligible_ticket_is_refused_with_the_credits_code_and_nothing_moves(
        api: Api, over: dict[str, object], code: str) -> None:
    order_id = forest_order(api, **over)
    held = ticket_for(api, "trader1")
    tickets = Tickets(api.ledger)
    before = (tickets.value_of(held.token_id), tickets.retirement_count())
    assert api.error("POST", retire_path(order_id), "trader1",
                     {"token_id": held.token_id, "amount": "1"}, 409) == code
    assert (tickets.value_of(held.token_id), tickets.retirement_count()) == before


def test_someone_elses_or_an_unknown_ticket_is_refused_before_signing(api: Api) -> None:
    order_id = forest_order(api)
    theirs = ticket_for(api, "trader2")
    assert api.error("POST", retire_path(order_id), "trader1",
                     {"token_id": theirs.token_id, "amount": "1"}, 409) == "not_ticket_owner"
    assert api.error("POST", retire_path(order_id), "trader1",
                     {"token_id": 10**9, "amount": "1"}, 404) == "ticket_not_found"
    mine = ticket_for(api, "trader1", tonnes=2)
    assert api.error("POST", retire_path(order_id), "trader1",
                     {"token_id": mine.token_id, "amount": "3"},
                     409) == "insufficient_ticket_value"
    assert api.error("POST", retire_path(order_id), "trader2",
                     {"token_id": theirs.token_id, "amount": "1"},
                     409) == "chain_not_order_party"
    assert api.error("POST", retire_path(order_id), "trader1",
                     {"token_id": mine.token_id, "amount": "0.0000001"},
                     422) == "amount_too_precise"


def test_a_retry_with_the_same_key_retires_once(api: Api) -> None:
    order_id = forest_order(api)
    held = ticket_for(api, "trader1")
    body = {"token_id": held.token_id, "amount": "2"}
    key = {"Idempotency-Key": "ticket-retire-1"}
    first = api.post(retire_path(order_id), "trader1", body, status=201, headers=key)
    again = api.post(retire_path(order_id), "trader1", body, status=201, headers=key)
    assert first["retirement_id"] == again["retirement_id"]
    assert Tickets(api.ledger).value_of(held.token_id) == 48 * TONNE


def test_the_orders_retirements_list_credits_and_tickets_by_asset(api: Api) -> None:
    order_id = register_order(api, "（2026）闽04民初7号", categories=["mangrove", "forest"],
                              regions=[])
    credit = retire_for_order(api, order_id, "trader1", "3",
                              batch_id=holding(api, "trader1", 5))
    ticket = retire_tickets_for_order(api, order_id, "2")
    Indexer(api.ledger.chain, api.ledger.deployment, api.db.engine).sync()
    rows = api.get(f"/v1/compensation/orders/{order_id}/retirements")
    assert [(r["asset"], r["retirement_id"], r["amount"]) for r in rows] == [
        ("credit", credit, "3"), ("ticket", ticket["retirement_id"], "2")]
    assert rows[1]["asset_label"] == {"zh": "林业碳票", "en": "forest carbon ticket"}
    assert rows[1]["slot"] == ticket["slot"] and rows[1]["serial_range"] == ticket["serial_range"]
    kinds = [s["kind"] for s in api.get(f"/v1/compensation/orders/{order_id}/timeline")]
    assert kinds == ["registered", "counted", "ticket_counted"]


def test_the_fulfilment_certificate_lists_the_tickets_and_its_claims_verify(api: Api) -> None:
    order_id = register_order(api, "（2026）闽04民初8号", categories=["mangrove", "forest"],
                              regions=[])
    retire_for_order(api, order_id, "trader1", "6", batch_id=holding(api, "trader1", 6))
    ticket = retire_tickets_for_order(api, order_id, "4")
    html = api.get(f"/v1/compensation/orders/{order_id}/certificate")
    assert "生态环境损害赔偿履行证明" in html  # fulfilled: 6 t of credits + 4 t of tickets
    assert "计入本案的林业碳票注销" in html and RIGHTS_PREFIX in html
    assert f"TH-TR{ticket['retirement_id']:06d}" in html
    link = qr_link_of(html)
    claims = dict(parse_qsl(urlsplit(link).query))
    assert claims["tickets"] == f"{ticket['retirement_id']}:4"
    v = api.get(f"/v1/compensation/orders/{order_id}/verify?{urlsplit(link).query}")
    assert v["valid"] is True, [c for c in v["claims"] + v["checks"] if not c["ok"]]
    names = {c["name"] for c in v["claims"] + v["checks"]}
    assert {f"ticket:{ticket['retirement_id']}", "all_tickets_listed",
            f"ticket_record:{ticket['retirement_id']}", "counted_totals"} <= names
    # a paper that leaves the ticket retirement out does not verify
    left_out = urlencode({k: v for k, v in claims.items() if k != "tickets"} | {"tickets": ""})
    v = api.get(f"/v1/compensation/orders/{order_id}/verify?{left_out}")
    assert v["valid"] is False
    assert [c["name"] for c in v["claims"] + v["checks"] if not c["ok"]] == \
        ["all_tickets_listed"]
