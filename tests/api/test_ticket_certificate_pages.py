"""What a forest-ticket retirement's record, certificate and verification say, without a
browser: read from the chain and checked by ForestTickets.verifyRetirement, the parcel by its
forest-right certificate number and division name, the QR claims verifying (also by the
contract itself), a doctored or malformed claim refused, an unknown id 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from eth_account.signers.local import LocalAccount

from registry.ledger import Ledger
from tests.support.api import PUBLIC_URL, Api, ApiDatabase, api_database, open_api
from tests.support.compensation import qr_link_of
from tests.support.ticket_certificates import (
    RIGHTS_PREFIX,
    TICKET_BENEFICIARY,
    TICKET_CASE,
    forest_order,
    retire_ticket,
    retire_tickets_for_order,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("ticket-certificates")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def base(rid: int) -> str:
    return f"/v1/tickets/retirements/{rid}"


def test_the_record_is_read_from_the_chain_and_verified_by_the_contract(api: Api) -> None:
    rid = retire_ticket(api, tonnes=12)
    r = api.get(base(rid))
    assert (r["asset"], r["amount"], r["purpose"], r["beneficiary"], r["verified"]) == (
        "ticket", "12", "voluntary", TICKET_BENEFICIARY, True)
    assert (r["serial_start"], r["serial_end"]) == (1, 12_000_000)
    assert r["serial_range"] == f"TH-T{r['slot']:06d}-000000000001 … 000012000000"
    assert r["holder"] == api.acc["developer"].address and r["holder_name"]
    p = r["parcel"]
    assert p["rights_certificate"].startswith(RIGHTS_PREFIX)
    assert (p["division_code"], p["division_name"]["zh"]) == (350427, "福建省三明市")
    assert r["contract"] == api.ledger.deployment.address("ForestTickets")
    assert r["certificate_url"] == f"{PUBLIC_URL}{base(rid)}/certificate"
    assert r["order_id"] is None


def test_the_certificate_is_bilingual_and_shows_the_parcel_and_verification(api: Api) -> None:
    rid = retire_ticket(api)
    html = api.get(f"{base(rid)}/certificate")
    for text in ("林业碳票注销证明", "Forest Carbon Ticket Retirement Certificate",
                 f"TH-TR{rid:06d}", "林权证号", "Forest-right certificate", RIGHTS_PREFIX,
                 "福建省三明市", "行政区划代码 350427", "公顷 ha", "监测期",
                 "链上核验", "通过 Pass", "自愿注销", "Voluntary retirement"):
        assert text in html, text
    assert TICKET_BENEFICIARY.split()[0] in html


def test_a_retirement_for_an_order_names_the_case_and_the_order(api: Api) -> None:
    order_id = forest_order(api)
    rid = int(retire_tickets_for_order(api, order_id, "4")["retirement_id"])  # type: ignore[call-overload]
    html = api.get(f"{base(rid)}/certificate")
    assert TICKET_CASE in html and f"计入生态补偿令 #{order_id}" in html
    assert "生态环境损害赔偿（替代性修复）" in html


def test_the_qr_code_carries_the_record_and_the_contract_accepts_it(api: Api) -> None:
    rid = retire_ticket(api)
    link = qr_link_of(api.get(f"{base(rid)}/certificate"))
    assert link.startswith(f"{PUBLIC_URL}{base(rid)}/verify.html?")
    query = urlsplit(link).query
    v = api.get(f"{base(rid)}/verify?{query}")
    assert v["valid"] is True, [c for c in v["checks"] if not c["ok"]]
    assert {"retirement_recorded", "transaction_receipt", "serials_consumed", "contract_code",
            "claim_holder", "claim_token_id", "claim_slot", "claim_amount_units",
            "claim_serial_start", "claim_purpose", "claim_beneficiary",
            "claim_case_reference", "paper_record"} == {c["name"] for c in v["checks"]} - {
                "chain_id"}
    page = api.get(f"{base(rid)}/verify.html?{query}")
    assert "林业碳票注销证明核验" in page and 'data-valid="true"' in page


def test_a_doctored_amount_fails_its_line_and_the_contract_refuses_the_record(api: Api) -> None:
    rid = retire_ticket(api, tonnes=12)
    link = qr_link_of(api.get(f"{base(rid)}/certificate"))
    claims = dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))
    v = api.get(f"{base(rid)}/verify?{urlencode({**claims, 'amount': '120'})}")
    assert v["valid"] is False
    assert sorted(c["name"] for c in v["checks"] if not c["ok"]) == [
        "claim_amount_units", "paper_record"]


def test_malformed_claims_are_refused_with_stable_codes(api: Api) -> None:
    rid = retire_ticket(api)
    for query, code in (("purpose=charity", "invalid_purpose"),
                        ("holder=0x12", "invalid_address"),
                        ("serial_start=TH-B000001-000000000001", "invalid_serial"),
                        ("amount=abc", "invalid_amount"),
                        ("tx_hash=0x00", "invalid_hash")):
        r = api.http.get(f"{base(rid)}/verify?{query}")
        assert r.status_code == 422 and r.json()["error"]["code"] == code, (query, r.text)


def test_an_unknown_ticket_retirement_is_404(api: Api) -> None:
    for suffix in ("", "/certificate", "/certificate.pdf", "/verify"):
        r = api.http.get(f"{base(10**6)}{suffix}")
        assert r.status_code == 404 and r.json()["error"]["code"] == \
            "ticket_retirement_not_found", suffix
    r = api.http.get(f"{base(10**6)}/verify.html")
    assert r.status_code == 404 and 'data-valid="false"' in r.text
    assert api.http.get(f"{base(0)}").status_code == 422
