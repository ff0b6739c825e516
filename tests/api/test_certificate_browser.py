"""Certificates and their verification pages as a person sees them, in headless Chromium
(Debian's, driven by Playwright): 中文 drawn in a CJK font, the PDF one A4 page, the QR code's
link verifying a genuine paper and failing, line by line, a doctored one or an unknown id, and
no request leaving the registry. Screenshots and PDFs are saved in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from eth_account.signers.local import LocalAccount

from api.fulfilment import render_fulfilment_certificate
from api.pages import SHEET_MARGIN_MM
from api.pdf import page_count, render_pdf
from registry.ledger import Ledger
from tests.support.api import PUBLIC_URL, Api, ApiDatabase, api_database, open_api
from tests.support.browser import (
    Browser,
    artifact,
    failed_lines,
    open_browser,
    qr_link,
    require_browser,
    verdict,
)
from tests.support.certificates import HOLDER_NAME, lianjiang_fulfilment, retire_for_case


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("certificate-browser")), acc)


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
    return f"{PUBLIC_URL}/v1/retirements/{rid}/certificate"


def test_the_certificate_draws_chinese_in_a_cjk_font(api: Api, browser: Browser) -> None:
    rid = retire_for_case(api)
    browser.page.goto(certificate_url(rid))
    browser.page.screenshot(path=artifact("retirement-certificate.png"), full_page=True)
    assert browser.page.inner_text("h1") == "碳汇注销证明"
    fonts = browser.fonts_of("h1")
    # every glyph of the title came from a CJK font: no box (tofu), no Latin fallback
    assert fonts and all("CJK" in f["familyName"] for f in fonts), fonts
    # and drawn as glyphs: a missing glyph is one box (tofu) whatever the character, so two
    # ideographs drawn alike, or like a character no font has, would be boxes
    drawn = browser.page.evaluate("""() => {
        const family = getComputedStyle(document.querySelector('h1')).fontFamily;
        const canvas = document.createElement('canvas');
        canvas.width = canvas.height = 120;
        const g = canvas.getContext('2d');
        const pixels = (ch) => {
            g.clearRect(0, 0, 120, 120);
            g.font = `100px ${family}`; g.textBaseline = 'top'; g.fillText(ch, 10, 10);
            return Array.from(g.getImageData(0, 0, 120, 120).data).join(',');
        };
        return {tan: pixels('碳'), hui: pixels('汇'), none: pixels('\\u{10FFFD}'),
                width: (g.font = `100px ${family}`, g.measureText('碳汇注销').width)};
    }""")
    assert drawn["tan"] != drawn["hui"] and drawn["tan"] != drawn["none"]
    assert round(drawn["width"]) == 400  # full-width: one em per ideograph
    body = browser.page.inner_text("body")
    assert HOLDER_NAME.split()[0] in body
    assert "广西壮族自治区钦州市钦南区" in body and "450702" in body


def test_the_pdf_certificate_is_one_a4_page(api: Api) -> None:
    require_browser()
    rid = retire_for_case(api)
    r = api.http.get(f"/v1/retirements/{rid}/certificate.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    artifact("retirement-certificate.pdf").write_bytes(r.content)
    assert r.content.startswith(b"%PDF-")
    assert page_count(r.content) == 1
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]", r.content)
    assert box is not None
    # A4 is 595.28 × 841.89 pt (Chromium rounds to its own pixel grid)
    assert abs(float(box.group(1)) - 595.3) < 2 and abs(float(box.group(2)) - 841.9) < 2


def test_a_long_text_written_on_chain_still_prints_on_one_page(api: Api) -> None:
    require_browser()
    rid = retire_for_case(api, amount="1")
    batch = api.get(f"/v1/retirements/{rid}")["batch_id"]
    # straight on chain, where no API limits the text
    long = "连江县黄岐半岛海域大型海藻养殖区生态修复 " * 60
    result = api.ledger.retire(api.acc["developer"], batch, 1, long)
    pdf = api.http.get(f"/v1/retirements/{result.retirement_id}/certificate.pdf")
    assert pdf.status_code == 200, pdf.text
    artifact("retirement-certificate-long-text.pdf").write_bytes(pdf.content)
    assert page_count(pdf.content) == 1


def test_the_qr_code_of_a_genuine_certificate_verifies(api: Api, browser: Browser) -> None:
    rid = retire_for_case(api)
    browser.page.goto(certificate_url(rid))
    link = qr_link(browser)
    claims = dict(parse_qsl(urlsplit(link).query))
    assert {"holder", "batch_id", "amount", "serial_start", "purpose", "beneficiary",
            "case_reference"} <= set(claims)
    browser.page.click("a.qr")  # on screen the QR code is a link to the page it encodes
    browser.page.wait_for_load_state()
    assert browser.page.url == link
    browser.page.screenshot(path=artifact("verify-genuine.png"), full_page=True)
    assert verdict(browser) == "true"
    assert failed_lines(browser) == []
    lines = browser.page.query_selector_all("table.claims tr[data-ok=true]")
    assert len(lines) == 7
    body = browser.page.inner_text("body")
    assert "核验通过" in body and "Verified" in body
    assert "The record as stated, verified by the contract" in body


def test_a_doctored_amount_fails_on_its_line(api: Api, browser: Browser) -> None:
    rid = retire_for_case(api)
    browser.page.goto(certificate_url(rid))
    claims = dict(parse_qsl(urlsplit(qr_link(browser)).query))
    assert claims["amount"] == "326.4"
    doctored = {**claims, "amount": "3264"}
    browser.page.goto(f"{PUBLIC_URL}/v1/retirements/{rid}/verify.html?{urlencode(doctored)}")
    browser.page.screenshot(path=artifact("verify-doctored-amount.png"), full_page=True)
    assert verdict(browser) == "false"
    assert failed_lines(browser) == ["Amount retired",
                                     "The record as stated, verified by the contract"]
    row = browser.page.query_selector("tr[data-line='Amount retired']")
    assert row is not None
    text = row.inner_text()
    assert "3264 t CO2e" in text and "326.4 t CO2e" in text and "不符" in text
    assert "核验未通过" in browser.page.inner_text(".verdict")


def test_an_unknown_retirement_fails_visibly(api: Api, browser: Browser) -> None:
    rid = retire_for_case(api)
    browser.page.goto(certificate_url(rid))
    claims = urlsplit(qr_link(browser)).query
    answer = browser.page.goto(f"{PUBLIC_URL}/v1/retirements/{rid + 1000}/verify.html?{claims}")
    assert answer is not None and answer.status == 404
    browser.page.screenshot(path=artifact("verify-unknown-id.png"), full_page=True)
    assert verdict(browser) == "false"
    assert "Retirement record" in failed_lines(browser)
    assert f"The chain has no retirement {rid + 1000}" in browser.page.inner_text("body")


def test_the_fulfilment_certificate_prints_in_the_same_frame(api: Api, browser: Browser) -> None:
    html = render_fulfilment_certificate(lianjiang_fulfilment(), api.db.settings)
    browser.page.set_content(html)
    browser.page.screenshot(path=artifact("fulfilment-certificate.png"), full_page=True)
    assert browser.page.inner_text("h1") == "生态环境损害赔偿履行证明"
    assert all("CJK" in f["familyName"] for f in browser.fonts_of("h1"))


def test_the_fulfilment_certificate_is_one_a4_page(api: Api) -> None:
    require_browser()
    html = render_fulfilment_certificate(lianjiang_fulfilment(), api.db.settings)
    pdf = render_pdf(html, margin_mm=SHEET_MARGIN_MM)
    artifact("fulfilment-certificate.pdf").write_bytes(pdf)
    assert page_count(pdf) == 1
