"""Forest tickets and pledges written over HTTP on a real chain: every route's happy path, and
every refusal answered 4xx with its stable code while the chain stays exactly as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from api.custody import create_api_account
from core.db import session_factory
from devkit.scenario import Scenario
from registry.indexer import Indexer
from registry.ledger import Ledger
from registry.pledges import Pledges
from registry.tickets import Tickets
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api
from tests.support.tickets import (
    YEAR,
    admit_other_bank,
    chain_now,
    chain_tickets,
    later,
    other_bank_account,
)

BENEFICIARY = "三明市生态环境局 Sanming Ecology and Environment Bureau"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    d = api_database(Path(tmp_path_factory.mktemp("ticket-writes")), acc)
    with session_factory(d.engine)() as session:
        d.keys["other_bank"] = create_api_account(session, d.settings, "兴业银行三明分行",
                                                  account=other_bank_account())
        session.commit()
    return d


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def issued(api: Api, tonnes: int = 29_715, project_id: int | None = None,
           s: Scenario | None = None) -> dict[str, Any]:
    """A ticket issued over HTTP by the forestry seat from a new verified forest report (of
    the parcel's next period when `s`, the builder that made the last one, is given)."""
    s = s or Scenario(api.ledger, api.acc)
    project, report = s.forest_report(tonnes * TONNE, project_id)
    body = {"report_id": report, "rights_certificate": f"闽(2024)三明市林权第{project:07d}号"}
    return dict(api.post("/v1/tickets", "forestry", body, 201))


def refused(api: Api, path: str, seat: str, body: Any, status: int) -> str:
    """The code of a refused call, asserting that no ticket, slot or pledge changed."""
    before = chain_tickets(api.ledger)
    code = api.error("POST", path, seat, body, status)
    assert chain_tickets(api.ledger) == before, f"{path} changed the chain though refused"
    return code


def pledge_body(api: Api, token_id: int, tonnes: str, **over: Any) -> dict[str, Any]:
    body = {"asset": "ticket", "token_id": token_id, "amount": tonnes,
            "bank": api.acc["bank"].address, "loan_reference": "三明农商银行 林票质押 2024-018",
            "loan_amount_yuan": "5000000", "maturity": chain_now(api.ledger) + YEAR}
    return {**body, **over}


# -- issue ---------------------------------------------------------------------------------


def test_a_forestry_authority_issues_a_ticket_of_a_verified_forest_report(api: Api) -> None:
    t = issued(api)
    assert (t["owner"], t["value"], t["value_units"]) == \
        (api.acc["developer"].address, "29715", 29_715 * TONNE)
    chain = Tickets(api.ledger).ticket(t["id"])
    assert (chain.owner, chain.slot, chain.value) == (t["owner"], t["slot"], t["value_units"])


def test_only_the_forestry_role_issues_tickets(api: Api) -> None:
    _, report = Scenario(api.ledger, api.acc).forest_report(5 * TONNE)
    body = {"report_id": report, "rights_certificate": "闽(2024)三明市林权第9999999号"}
    assert refused(api, "/v1/tickets", "operator", body, 403) == "forbidden_role"


def test_a_report_is_ticketed_once(api: Api) -> None:
    t = issued(api)
    body = {"report_id": t["slot"], "rights_certificate": "闽(2024)三明市林权第0000001号"}
    assert refused(api, "/v1/tickets", "forestry", body, 409) == "report_already_claimed"


def test_a_report_issued_as_credits_is_never_ticketed(api: Api) -> None:
    s = Scenario(api.ledger, api.acc)
    _, report = s.forest_report(5 * TONNE)
    api.ledger.issue(api.acc["operator"], report)
    body = {"report_id": report, "rights_certificate": "闽(2024)三明市林权第0000002号"}
    assert refused(api, "/v1/tickets", "forestry", body, 409) == "report_already_claimed"


def test_a_parcel_that_is_not_forest_is_not_ticketed(api: Api) -> None:
    s = Scenario(api.ledger, api.acc)
    report = s.report(s.project(s.methodology()), 5 * TONNE)  # mangroves
    body = {"report_id": report, "rights_certificate": "闽(2024)三明市林权第0000003号"}
    assert refused(api, "/v1/tickets", "forestry", body, 409) == "not_forest_parcel"


def test_a_certificate_number_stays_with_its_parcel(api: Api) -> None:
    t = issued(api)
    first = Tickets(api.ledger).slot(t["slot"]).rights_certificate
    _, report = Scenario(api.ledger, api.acc).forest_report(5 * TONNE)
    body = {"report_id": report, "rights_certificate": first}
    assert refused(api, "/v1/tickets", "forestry", body, 409) == "parcel_in_other_project"


def test_issuing_an_unknown_report_is_not_found(api: Api) -> None:
    body = {"report_id": 999_999, "rights_certificate": "x"}
    assert refused(api, "/v1/tickets", "forestry", body, 404) == "report_not_found"


# -- split, merge, transfer ------------------------------------------------------------------


def test_an_owner_splits_a_ticket_and_merges_it_back(api: Api) -> None:
    t = issued(api, 100)
    split = api.post(f"/v1/tickets/{t['id']}/split", "developer", {"amount": "30.5"}, 201)
    tickets = Tickets(api.ledger)
    assert tickets.value_of(split["new_id"]) == 30_500_000
    assert tickets.value_of(t["id"]) == 69_500_000
    merged = api.post(f"/v1/tickets/{split['new_id']}/merge", "developer",
                      {"into": t["id"]}, 200)
    assert merged["value_units"] == 30_500_000
    assert tickets.value_of(t["id"]) == 100 * TONNE and not tickets.exists(split["new_id"])


def test_splitting_more_than_the_value_is_refused(api: Api) -> None:
    t = issued(api, 10)
    assert refused(api, f"/v1/tickets/{t['id']}/split", "developer", {"amount": "10.000001"},
                   409) == "insufficient_value"


def test_only_the_owner_splits_its_ticket(api: Api) -> None:
    t = issued(api, 10)
    assert refused(api, f"/v1/tickets/{t['id']}/split", "trader1", {"amount": "1"},
                   403) == "not_ticket_owner"


def test_an_unknown_ticket_is_not_found(api: Api) -> None:
    assert refused(api, "/v1/tickets/999999/split", "developer", {"amount": "1"},
                   404) == "ticket_not_found"


def test_tickets_of_two_slots_do_not_merge(api: Api) -> None:
    a, b = issued(api, 10), issued(api, 10)
    assert refused(api, f"/v1/tickets/{a['id']}/merge", "developer", {"into": b["id"]},
                   409) == "slot_mismatch"


def test_a_transfer_of_part_makes_a_new_ticket_and_of_all_keeps_the_id(api: Api) -> None:
    t = issued(api, 100)
    to = api.acc["trader1"].address
    part = api.post(f"/v1/tickets/{t['id']}/transfer", "developer",
                    {"to": to, "amount": "40"}, 201)
    tickets = Tickets(api.ledger)
    assert not part["whole_ticket"] and tickets.owner_of(part["new_id"]) == to
    whole = api.post(f"/v1/tickets/{t['id']}/transfer", "developer", {"to": to}, 201)
    assert whole["whole_ticket"] and whole["new_id"] == t["id"]
    assert (tickets.owner_of(t["id"]), whole["amount_units"]) == (to, 60 * TONNE)


def test_transferring_more_than_the_value_is_refused(api: Api) -> None:
    t = issued(api, 10)
    body = {"to": api.acc["trader1"].address, "amount": "11"}
    assert refused(api, f"/v1/tickets/{t['id']}/transfer", "developer", body,
                   409) == "insufficient_value"


# -- retire ----------------------------------------------------------------------------------


def test_an_owner_retires_ticket_value_with_a_serial_range_and_certificate(api: Api) -> None:
    t = issued(api, 100)
    body = {"amount": "2.5", "beneficiary": BENEFICIARY, "purpose": "voluntary"}
    r = api.post(f"/v1/tickets/{t['id']}/retire", "developer", body, 201)
    assert (r["slot"], r["serial_start"], r["serial_end"]) == (t["slot"], 1, 2_500_000)
    assert r["certificate_url"] == f"/v1/tickets/retirements/{r['retirement_id']}/certificate"
    assert Tickets(api.ledger).slot(t["slot"]).retired == 2_500_000


def test_retiring_more_than_the_value_is_refused(api: Api) -> None:
    t = issued(api, 1)
    body = {"amount": "2", "beneficiary": BENEFICIARY, "purpose": "voluntary"}
    assert refused(api, f"/v1/tickets/{t['id']}/retire", "developer", body,
                   409) == "insufficient_value"


def test_a_retry_with_the_same_key_retires_once(api: Api) -> None:
    t = issued(api, 10)
    body = {"amount": "1", "beneficiary": BENEFICIARY, "purpose": "voluntary"}
    key = {"Idempotency-Key": f"retire-{t['id']}-{chain_now(api.ledger)}"}
    first = api.raw("POST", f"/v1/tickets/{t['id']}/retire", "developer", body, key)
    again = api.raw("POST", f"/v1/tickets/{t['id']}/retire", "developer", body, key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert Tickets(api.ledger).value_of(t["id"]) == 9 * TONNE


# -- pledges ---------------------------------------------------------------------------------


def test_pledged_value_cannot_move_be_split_retired_or_pledged_again(api: Api) -> None:
    t = issued(api)
    p = api.post("/v1/pledges", "developer", pledge_body(api, t["id"], "18294"), 201)
    assert p["approved_register"] and p["pledge"]["status"] == "active"
    assert p["pledge"]["amount_fen"] == 500_000_000
    escrow = p["pledge"]["token_id"]
    assert Tickets(api.ledger).owner_of(escrow) == Pledges(api.ledger).address
    retire = {"amount": "1", "beneficiary": BENEFICIARY, "purpose": "voluntary"}
    move = {"to": api.acc["trader1"].address, "amount": "1"}
    for path, body in ((f"/v1/tickets/{escrow}/split", {"amount": "1"}),
                       (f"/v1/tickets/{escrow}/transfer", move),
                       (f"/v1/tickets/{escrow}/retire", retire),
                       (f"/v1/tickets/{t['id']}/merge", {"into": escrow})):
        assert refused(api, path, "developer", body, 409) == "ticket_in_escrow", path
    assert refused(api, "/v1/pledges", "developer", pledge_body(api, escrow, "1"),
                   409) == "already_pledged"


def test_a_pledge_names_a_bank_and_a_future_maturity(api: Api) -> None:
    t = issued(api, 10)
    outsider = pledge_body(api, t["id"], "1", bank=api.acc["trader1"].address)
    assert refused(api, "/v1/pledges", "developer", outsider, 422) == "not_a_bank"
    past = pledge_body(api, t["id"], "1", maturity="2020-01-01")
    assert refused(api, "/v1/pledges", "developer", past, 422) == "maturity_in_past"
    vague = pledge_body(api, t["id"], "1", maturity="2030-01-01T00:00:00")
    assert refused(api, "/v1/pledges", "developer", vague, 422) == "invalid_maturity"
    both = pledge_body(api, t["id"], "1", batch_id=1)
    assert refused(api, "/v1/pledges", "developer", both, 422) == "invalid_pledge_asset"
    more = pledge_body(api, t["id"], "11")
    assert refused(api, "/v1/pledges", "developer", more, 409) == "insufficient_value"


def test_a_maturity_date_is_midnight_china_time(api: Api) -> None:
    t = issued(api, 10)
    p = api.post("/v1/pledges", "developer",
                 pledge_body(api, t["id"], "1", maturity="2099-06-30"), 201)
    utc_midnight = 4_086_460_800  # 2099-06-30T00:00:00Z
    assert p["pledge"]["maturity"] == utc_midnight - 8 * 3_600


def test_only_the_pledges_own_bank_releases_it(api: Api) -> None:
    admit_other_bank(api.ledger, api.acc)
    t = issued(api, 10)
    p = api.post("/v1/pledges", "developer", pledge_body(api, t["id"], "4"), 201)["pledge"]
    path = f"/v1/pledges/{p['id']}/release"
    assert refused(api, path, "other_bank", None, 403) == "not_pledge_bank"
    assert refused(api, path, "developer", None, 403) == "not_pledge_bank"
    done = api.post(path, "bank", None, 200)
    assert done["pledge"]["status"] == "released"
    assert Tickets(api.ledger).owner_of(p["token_id"]) == api.acc["developer"].address
    assert refused(api, path, "bank", None, 409) == "pledge_not_active"


def test_a_bank_forecloses_only_from_maturity_on_and_takes_the_ticket(api: Api) -> None:
    t = issued(api, 10)
    body = pledge_body(api, t["id"], "10", maturity=chain_now(api.ledger) + 30 * 86_400)
    p = api.post("/v1/pledges", "developer", body, 201)["pledge"]
    path = f"/v1/pledges/{p['id']}/foreclose"
    assert refused(api, path, "bank", None, 409) == "not_matured"
    later(api.ledger, 31 * 86_400)
    done = api.post(path, "bank", None, 200)
    assert done["pledge"]["status"] == "foreclosed"
    assert Tickets(api.ledger).owner_of(t["id"]) == api.acc["bank"].address


def test_credits_are_pledged_and_released_like_tickets(api: Api) -> None:
    b = Scenario(api.ledger, api.acc).batch(100 * TONNE)
    body = {**pledge_body(api, 0, "20", asset="credit", batch_id=b.batch_id), "token_id": None}
    p = api.post("/v1/pledges", "developer", body, 201)["pledge"]
    assert (p["asset"], p["asset_id"], p["value_units"]) == ("credit", b.batch_id, 20 * TONNE)
    too_much = {**body, "amount": "1000"}
    assert refused(api, "/v1/pledges", "developer", too_much, 409) == "insufficient_value"
    api.post(f"/v1/pledges/{p['id']}/release", "bank", None, 200)


def test_an_unknown_pledge_is_not_found(api: Api) -> None:
    assert refused(api, "/v1/pledges/999999/release", "bank", None, 404) == "pledge_not_found"


# -- lists from the index --------------------------------------------------------------------


def test_a_parcels_tickets_and_an_owners_tickets_come_from_the_index(api: Api) -> None:
    s = Scenario(api.ledger, api.acc)
    t = issued(api, 100, s=s)
    project = Tickets(api.ledger).slot(t["slot"]).project_id
    second = issued(api, 50, project_id=project, s=s)
    api.post(f"/v1/tickets/{t['id']}/transfer", "developer",
             {"to": api.acc["trader1"].address, "amount": "30"}, 201)
    api.post("/v1/pledges", "developer", pledge_body(api, t["id"], "20"), 201)
    api.post(f"/v1/tickets/{second['id']}/retire", "developer",
             {"amount": "5", "beneficiary": BENEFICIARY, "purpose": "voluntary"}, 201)
    Indexer(api.ledger.chain, api.ledger.deployment, api.db.engine).sync()
    parcel = api.get(f"/v1/parcels/{project}/tickets")
    assert [s["slot"] for s in parcel["slots"]] == [t["slot"], second["slot"]]
    first, other = parcel["slots"]
    assert (first["pledged"], first["retired"], other["retired"]) == ("20", "0", "5")
    assert sorted(x["value"] for x in first["tickets"]) == ["20", "30", "50"]
    mine = api.get(f"/v1/tickets?owner={api.acc['trader1'].address}")
    assert [(x["value"], x["project_id"]) for x in mine] == [("30", project)]
    assert api.error("GET", "/v1/parcels/999999/tickets", None, None, 404) == \
        "parcel_not_found"
    assert api.error("GET", "/v1/tickets?owner=0x12", None, None, 422) == "invalid_address"
