"""The forest-ticket retirement certificate and its verification page as a person sees them,
in headless Chromium: 中文 drawn in a CJK font, the PDF one A4 page, the QR code's link
verifying a genuine paper and failing a doctored one on its line, no request leaving the
registry. Screenshots and PDFs are saved in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from eth_account.signers.local import LocalAccount

from registry.ledger import Ledger
from tests.support.api import PUBLIC_URL, Api, ApiDatabase, api_database, open_api
from tests.support.browser import (
    Browser,
    artifact,
    failed_lines,
    open_browser,
    pdf_is_one_a4_page,
    qr_link,
    require_browser,
    verdict,
)
from tests.support.ticket_certificates import (
    RIGHTS_PREFIX,
    forest_order,
    retire_ticket,
    retire_tickets_for_order,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("ticket-certificate-browser")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


@pytest.fixture
def browser(api: Api) -> Iterator[Browser]:
    with open_browser(api.http, PUBLIC_URL) as b:
        yield b
    assert b.outside == [], f"the pages fetched from outside the registry: {b.outside}"


def certificate_url(rid: int) -> str:
    return f"{PUBLIC_URL}/v1/tickets/retirements/{rid}/certificate"


def test_the_ticket_certificate_draws_chinese_in_a_cjk_font(api: Api, browser: Browser) -> None:
    rid = retire_ticket(api)
    browser.page.goto(certificate_url(rid))
    browser.page.screenshot(path=artifact("ticket-retirement-certificate.png"), full_page=True)
    assert browser.page.inner_text("h1") == "林业碳票注销证明"
    fonts = browser.fonts_of("h1")
    assert fonts and all("CJK" in f["familyName"] for f in fonts), fonts
    body = browser.page.inner_text("body")
    assert RIGHTS_PREFIX in body and "福建省三明市" in body and "350427" in body
    assert "Forest Carbon Ticket Retirement Certificate" in body


def test_the_ticket_certificate_pdf_is_one_a4_page(api: Api) -> None:
    require_browser()
    rid = retire_ticket(api)
    r = api.http.get(f"/v1/tickets/retirements/{rid}/certificate.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    artifact("ticket-retirement-certificate.pdf").write_bytes(r.content)
    assert pdf_is_one_a4_page(r.content)


def test_the_qr_code_of_a_genuine_ticket_certificate_verifies(api: Api,
                                                              browser: Browser) -> None:
    rid = retire_ticket(api)
    browser.page.goto(certificate_url(rid))
    link = qr_link(browser)
    browser.page.click("a.qr")
    browser.page.wait_for_load_state()
    assert browser.page.url == link
    browser.page.screenshot(path=artifact("ticket-verify-genuine.png"), full_page=True)
    assert verdict(browser) == "true"
    assert failed_lines(browser) == []
    body = browser.page.inner_text("body")
    assert "林业碳票注销证明核验" in body
    assert "The record as stated, verified by the contract" in body


def test_a_doctored_ticket_certificate_fails_on_its_line(api: Api, browser: Browser) -> None:
    rid = retire_ticket(api, tonnes=12)
    browser.page.goto(certificate_url(rid))
    claims = dict(parse_qsl(urlsplit(qr_link(browser)).query, keep_blank_values=True))
    doctored = {**claims, "amount": "120"}
    browser.page.goto(f"{PUBLIC_URL}/v1/tickets/retirements/{rid}/verify.html?"
                      f"{urlencode(doctored)}")
    browser.page.screenshot(path=artifact("ticket-verify-doctored.png"), full_page=True)
    assert verdict(browser) == "false"
    assert failed_lines(browser) == ["Amount retired",
                                     "The record as stated, verified by the contract"]


def test_a_fulfilment_certificate_listing_tickets_is_one_a4_page(api: Api,
                                                                 browser: Browser) -> None:
    require_browser()
    order_id = forest_order(api)
    retire_tickets_for_order(api, order_id, "4")
    retire_tickets_for_order(api, order_id, "6")
    browser.page.goto(f"{PUBLIC_URL}/v1/compensation/orders/{order_id}/certificate")
    browser.page.screenshot(path=artifact("fulfilment-certificate-tickets.png"), full_page=True)
    assert browser.page.inner_text("h1") == "生态环境损害赔偿履行证明"
    assert len(browser.page.query_selector_all("tr[data-ticket-retirement]")) == 2
    r = api.http.get(f"/v1/compensation/orders/{order_id}/certificate.pdf")
    assert r.status_code == 200, r.text
    artifact("fulfilment-certificate-tickets.pdf").write_bytes(r.content)
    assert pdf_is_one_a4_page(r.content)
