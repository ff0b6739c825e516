"""What a certificate and its verification page say, without a browser: the retiring member's
name and the project's division by name, the claims the QR code carries and their verification
(also by the contract itself), malformed claims as failed lines, no URL but the registry's own,
a long text carried as a hash, 503 `pdf_unavailable` without Chromium, and the warning a server
gives when certificates would point at localhost."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.app import create_app
from api.fulfilment import render_fulfilment_certificate
from api.pages import TEMPLATES
from registry.ledger import Ledger
from tests.support.api import PUBLIC_URL, Api, ApiDatabase, api_database, open_api
from tests.support.certificates import (
    BENEFICIARY,
    CASE,
    HOLDER_NAME,
    lianjiang_fulfilment,
    retire_for_case,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("certificate-pages")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def qr_link(html: str) -> str:
    m = re.search(r'<a class="qr" href="([^"]+)"', html)
    assert m is not None
    return m.group(1).replace("&amp;", "&")


def outside_links(html: str) -> list[str]:
    return [u for u in re.findall(r"https?://[^\s\"'<>)]+", html)
            if not u.startswith(PUBLIC_URL + "/")]


def test_the_certificate_names_the_member_and_the_division(api: Api) -> None:
    rid = retire_for_case(api)
    html = api.get(f"/v1/retirements/{rid}/certificate")
    assert HOLDER_NAME in html
    assert "广西壮族自治区钦州市钦南区" in html and "Qinnan District, Qinzhou" in html
    assert "行政区划代码 450702" in html
    record = api.get(f"/v1/retirements/{rid}")
    assert record["holder_name"] == HOLDER_NAME
    assert record["project"]["division_name"]["zh"] == "广西壮族自治区钦州市钦南区"
    assert record["verify_page_url"] == f"{PUBLIC_URL}/v1/retirements/{rid}/verify.html"
    assert record["certificate_pdf_url"] == f"{PUBLIC_URL}/v1/retirements/{rid}/certificate.pdf"


def test_the_qr_code_carries_the_record_and_the_contract_accepts_it(api: Api) -> None:
    rid = retire_for_case(api)
    link = qr_link(api.get(f"/v1/retirements/{rid}/certificate"))
    assert link.startswith(f"{PUBLIC_URL}/v1/retirements/{rid}/verify.html?")
    claims = dict(parse_qsl(urlsplit(link).query))
    assert (claims["beneficiary"], claims["case_reference"], claims["amount"]) == (
        BENEFICIARY, CASE, "326.4")
    v = api.get(f"/v1/retirements/{rid}/verify?{urlsplit(link).query}")
    assert v["valid"] is True, v["checks"]
    assert {"claim_holder", "claim_batch_id", "claim_amount_units", "claim_serial_start",
            "claim_purpose", "claim_beneficiary", "claim_case_reference",
            "paper_record"} <= {c["name"] for c in v["checks"]}


def test_a_doctored_record_is_refused_by_the_contract_too(api: Api) -> None:
    rid = retire_for_case(api)
    claims = dict(parse_qsl(urlsplit(qr_link(api.get(f"/v1/retirements/{rid}/certificate")))
                            .query))
    v = api.get(f"/v1/retirements/{rid}/verify?{urlencode({**claims, 'case_reference': 'X'})}")
    failed = {c["name"] for c in v["checks"] if not c["ok"]}
    assert v["valid"] is False and failed == {"claim_case_reference", "paper_record"}


def test_malformed_claims_are_failed_lines_on_the_page(api: Api) -> None:
    rid = retire_for_case(api)
    r = api.http.get(f"/v1/retirements/{rid}/verify.html",
                     params={"amount": "lots", "holder": "nobody", "serial_start": "1"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'data-valid="false"' in r.text
    assert r.text.count('data-ok="false"') == 2 and 'data-line="Amount retired"' in r.text
    # the JSON route refuses the same query with the code the field has
    j = api.http.get(f"/v1/retirements/{rid}/verify", params={"amount": "lots"})
    assert (j.status_code, j.json()["error"]["code"]) == (422, "invalid_amount")


def test_a_page_without_claims_asks_to_compare_the_record(api: Api) -> None:
    rid = retire_for_case(api)
    html = api.get(f"/v1/retirements/{rid}/verify.html")
    assert 'data-valid="true"' in html and "compare the chain" in html
    assert HOLDER_NAME in html and BENEFICIARY in html


def test_pages_link_nowhere_but_the_registry(api: Api) -> None:
    rid = retire_for_case(api)
    cert = api.get(f"/v1/retirements/{rid}/certificate")
    pages = [
        cert,
        api.http.get(qr_link(cert).removeprefix(PUBLIC_URL)).text,
        api.http.get(f"/v1/retirements/{rid}/verify.html", params={"amount": "1"}).text,
        api.http.get(f"/v1/retirements/{rid + 99}/verify.html").text,
        render_fulfilment_certificate(lianjiang_fulfilment(), api.db.settings),
    ]
    for template in TEMPLATES.glob("*.html"):
        assert re.search(r"https?://", template.read_text()) is None, template.name
    for html in pages:
        assert "<html" in html and outside_links(html) == []
        assert "@import" not in html and "url(" not in html and "<link" not in html
        assert "<script" not in html


def test_a_text_too_long_for_a_qr_code_is_carried_as_its_hash(api: Api) -> None:
    rid = retire_for_case(api, beneficiary="连江县海洋生态修复 " * 25)
    link = qr_link(api.get(f"/v1/retirements/{rid}/certificate"))
    claims = dict(parse_qsl(urlsplit(link).query))
    assert "beneficiary" not in claims and claims["beneficiary_hash"].startswith("0x")
    assert len(link) < 800
    v = api.get(f"/v1/retirements/{rid}/verify?{urlsplit(link).query}")
    assert v["valid"] is True and "paper_record" in {c["name"] for c in v["checks"]}
    forged = {**claims, "beneficiary_hash": "0x" + "00" * 32}
    v = api.get(f"/v1/retirements/{rid}/verify?{urlencode(forged)}")
    assert {c["name"] for c in v["checks"] if not c["ok"]} == {"claim_beneficiary_hash"}


def test_without_chromium_the_pdf_is_503_pdf_unavailable(
        api: Api, tmp_path: Path, ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    rid = retire_for_case(api)
    settings = api.db.settings.model_copy(update={"chromium_path": tmp_path / "no-chromium"})
    with TestClient(create_app(settings, ledger, api.db.engine, relayer=acc["governance"])) as c:
        r = c.get(f"/v1/retirements/{rid}/certificate.pdf")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "pdf_unavailable"
    assert r.json()["error"]["details"] == {"reason": "chromium_missing"}


def test_a_server_without_a_public_url_warns(
        api: Api, ledger: Ledger, acc: dict[str, LocalAccount],
        caplog: pytest.LogCaptureFixture) -> None:
    local = api.db.settings.model_copy(update={"public_url": None})
    with caplog.at_level(logging.WARNING, logger="tanhui.api"):
        create_app(local, ledger, api.db.engine, relayer=acc["governance"])
    assert any("TANHUI_PUBLIC_URL is unset" in r.getMessage() and "127.0.0.1" in r.getMessage()
               for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tanhui.api"):
        create_app(api.db.settings, ledger, api.db.engine, relayer=acc["governance"])
    assert not any("TANHUI_PUBLIC_URL" in r.getMessage() for r in caplog.records)


def test_the_fulfilment_certificate_names_parties_places_and_serials(api: Api) -> None:
    html = render_fulfilment_certificate(lianjiang_fulfilment(), api.db.settings)
    for text in ("生态环境损害赔偿履行证明", "Certificate of Fulfilment", "TH-C000003", CASE,
                 "福清市人民检察院", "连江某水产养殖有限公司", "林某某", "陈某某", "326.4 t CO2e",
                 "福建省福州市连江县", "行政区划代码 350122", "TH-B000004-000200000001",
                 "TH-R000008", "0x" + "ab" * 32):
        assert text in html, text
    link = qr_link(html)
    assert link.startswith(f"{PUBLIC_URL}/v1/compensation/orders/3/verify.html?")
    assert dict(parse_qsl(urlsplit(link).query))["retirements"] == "7:200,8:126.4"
