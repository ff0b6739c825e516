"""A compensation order's fulfilment certificate and its verification page as a person sees
them, in headless Chromium (Debian's, driven by Playwright), on the real chain: 中文 drawn in a
CJK font, 履行进度 for an order not yet fulfilled, the PDF one A4 page, the QR code's link
verifying a genuine paper and failing a doctored one on its line, and no request leaving the
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
from tests.support.compensation import (
    AUTHORITY_NAME,
    ORDER_CASE,
    TRADER1_NAME,
    fulfilled_order,
    register_order,
    retire_for_order,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("fulfilment-browser")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


@pytest.fixture
def browser(api: Api) -> Iterator[Browser]:
    with open_browser(api.http, PUBLIC_URL) as b:
        yield b
    assert b.outside == [], f"the pages fetched from outside the registry: {b.outside}"


def certificate_url(order_id: int) -> str:
    return f"{PUBLIC_URL}/v1/compensation/orders/{order_id}/certificate"


def test_the_fulfilment_certificate_draws_chinese_in_a_cjk_font(api: Api,
                                                                browser: Browser) -> None:
    order_id, (first, _) = fulfilled_order(api)
    browser.page.goto(certificate_url(order_id))
    browser.page.screenshot(path=artifact("fulfilment-certificate-fulfilled.png"),
                            full_page=True)
    assert browser.page.inner_text("h1") == "生态环境损害赔偿履行证明"
    fonts = browser.fonts_of("h1")
    assert fonts and all("CJK" in f["familyName"] for f in fonts), fonts
    body = browser.page.inner_text("body")
    for text in (ORDER_CASE, AUTHORITY_NAME.split()[0], TRADER1_NAME.split()[0],
                 "广西壮族自治区钦州市钦南区", "450702", f"TH-R{first:06d}", "已履行完毕"):
        assert text in body, text
    rows = browser.page.query_selector_all("table.counted tr[data-retirement]")
    assert len(rows) == 2 and all(r.is_visible() for r in rows)


def test_a_partly_fulfilled_order_shows_its_progress(api: Api, browser: Browser) -> None:
    order_id = register_order(api)
    retire_for_order(api, order_id, "trader1", "4")
    browser.page.goto(certificate_url(order_id))
    browser.page.screenshot(path=artifact("fulfilment-certificate-progress.png"),
                            full_page=True)
    assert browser.page.inner_text("h1") == "生态环境损害赔偿履行进度"
    remaining = browser.page.query_selector("tr.progress")
    assert remaining is not None and remaining.is_visible()
    assert "6 t CO2e" in remaining.inner_text()


def test_the_fulfilment_pdf_is_one_a4_page(api: Api) -> None:
    require_browser()
    order_id = register_order(api, required_tonnes="8")
    for seat in ("trader1", "trader2") * 4:  # eight rows still print on one sheet
        retire_for_order(api, order_id, seat, "1")
    r = api.http.get(f"/v1/compensation/orders/{order_id}/certificate.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    artifact("fulfilment-certificate-eight-retirements.pdf").write_bytes(r.content)
    assert pdf_is_one_a4_page(r.content)


def test_the_qr_code_of_a_genuine_fulfilment_certificate_verifies(api: Api,
                                                                  browser: Browser) -> None:
    order_id, retirements = fulfilled_order(api)
    browser.page.goto(certificate_url(order_id))
    link = qr_link(browser)
    assert set(dict(parse_qsl(urlsplit(link).query))) == {
        "case_number", "unit", "required", "fulfilled", "retirements"}
    browser.page.click("a.qr")
    browser.page.wait_for_load_state()
    assert browser.page.url == link
    browser.page.screenshot(path=artifact("fulfilment-verify-genuine.png"), full_page=True)
    assert verdict(browser) == "true"
    assert failed_lines(browser) == []
    assert len(browser.page.query_selector_all("table.claims tr[data-ok=true]")) == 6
    body = browser.page.inner_text("body")
    assert "核验通过" in body and "No counted retirement left out" in body
    assert all(f"Retirement TH-R{rid:06d}: record on chain" in body for rid in retirements)


def test_a_doctored_fulfilment_claim_fails_visibly_on_its_line(api: Api,
                                                               browser: Browser) -> None:
    order_id, (first, second) = fulfilled_order(api)
    browser.page.goto(certificate_url(order_id))
    claims = dict(parse_qsl(urlsplit(qr_link(browser)).query))
    doctored = {**claims, "retirements": f"{first}:4,{second}:60"}
    browser.page.goto(f"{PUBLIC_URL}/v1/compensation/orders/{order_id}/verify.html?"
                      f"{urlencode(doctored)}")
    browser.page.screenshot(path=artifact("fulfilment-verify-doctored.png"), full_page=True)
    assert verdict(browser) == "false"
    label = f"Retirement TH-R{second:06d}"
    assert failed_lines(browser) == [label]
    row = browser.page.query_selector(f"tr[data-line='{label}']")
    assert row is not None
    text = row.inner_text()
    assert "60 t CO2e" in text and "6 t CO2e" in text and "不符" in text
    assert "核验未通过" in browser.page.inner_text(".verdict")


def test_an_unknown_order_fails_visibly(api: Api, browser: Browser) -> None:
    order_id, _ = fulfilled_order(api)
    browser.page.goto(certificate_url(order_id))
    claims = urlsplit(qr_link(browser)).query
    answer = browser.page.goto(
        f"{PUBLIC_URL}/v1/compensation/orders/{order_id + 1000}/verify.html?{claims}")
    assert answer is not None and answer.status == 404
    browser.page.screenshot(path=artifact("fulfilment-verify-unknown.png"), full_page=True)
    assert verdict(browser) == "false"
    assert failed_lines(browser) == ["Order record"]
