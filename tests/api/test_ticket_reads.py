"""The pledge register and forest tickets read over HTTP straight from the chain: a second
lender sees the lien a first one holds, by asset, by bank and by pledgor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from devkit.scenario import Scenario
from registry.ledger import Ledger
from registry.pledges import Pledges
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("ticket-reads")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def test_a_pledged_ticket_shows_its_lien_to_anyone(api: Api) -> None:
    ledger, acc = api.ledger, api.acc
    issued = Scenario(ledger, acc).ticket(29_715 * TONNE)
    pledges = Pledges(ledger)
    pledges.approve_tickets(acc["developer"])
    maturity = int(ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 365 * 86_400
    made = pledges.pledge_ticket(acc["developer"], issued.token_id, 18_294 * TONNE,
                                 acc["bank"].address, keccak(text="loan"), 500_000_000, maturity)
    t = api.get(f"/v1/tickets/{issued.token_id}")
    assert (t["owner"], t["value"]) == (acc["developer"].address, "11421")
    slot = t["slot"]
    assert (slot["issued"], slot["pledged"], slot["rights_certificate"]) == \
        ("29715", "18294", f"闽(2024)三明市林权第{slot['project_id']:07d}号")
    assert slot["division_zh"] and [lien["id"] for lien in slot["liens"]] == [made.pledge_id]
    lien = api.get(f"/v1/pledges/{made.pledge_id}")
    assert (lien["bank"], lien["status"], lien["amount_fen"], lien["value"]) == \
        (acc["bank"].address, "active", 500_000_000, "18294")
    by_bank = api.get(f"/v1/pledges?bank={acc['bank'].address.lower()}")
    by_slot = api.get(f"/v1/pledges?ticket_slot={issued.slot}")
    by_pledgor = api.get(f"/v1/pledges?pledgor={acc['developer'].address}")
    assert [p["id"] for p in by_bank] == [p["id"] for p in by_slot] == \
        [p["id"] for p in by_pledgor] == [made.pledge_id]


def test_reads_of_the_register_refuse_ambiguous_or_unknown_requests(api: Api) -> None:
    assert api.error("GET", "/v1/pledges", None, None, 422) == "invalid_request"
    assert api.error("GET", "/v1/pledges?batch_id=1&ticket_slot=1", None, None, 422) == \
        "invalid_request"
    assert api.error("GET", "/v1/pledges?bank=0x12", None, None, 422) == "invalid_address"
    assert api.error("GET", "/v1/pledges/999999", None, None, 404) == "pledge_not_found"
    assert api.error("GET", "/v1/tickets/999999", None, None, 404) == "ticket_not_found"
