"""The fulfilment certificate of a compensation order and its verification, without a browser,
on the real chain: what the certificate says (read from the chain, not the index), progress for
an order not yet fulfilled, the claims its QR code carries, and each way a paper can differ from
the chain failing on its own line."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from api.fulfilment import fulfilment_claims
from core.db import session_factory
from registry import compensation_queries as cq
from registry.ledger import Ledger
from tests.support.api import PUBLIC_URL, Api, ApiDatabase, api_database, open_api
from tests.support.certificates import lianjiang_fulfilment, retire_for_case
from tests.support.compensation import (
    AUTHORITY_NAME,
    ORDER_CASE,
    PARTY_NAMES,
    TRADER1_NAME,
    TRADER2_NAME,
    break_retirement_record,
    cny_order_bought_through_an_offer,
    fulfilled_order,
    qr_link_of,
    register_order,
    retire_for_order,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("fulfilment-certificate")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def certificate(api: Api, order_id: int) -> str:
    return str(api.get(f"/v1/compensation/orders/{order_id}/certificate"))


def claims_of(api: Api, order_id: int) -> dict[str, str]:
    """The claims the certificate's QR code carries."""
    link = qr_link_of(certificate(api, order_id))
    assert link.startswith(f"{PUBLIC_URL}/v1/compensation/orders/{order_id}/verify.html?")
    return dict(parse_qsl(urlsplit(link).query))


def verify(api: Api, order_id: int, claims: dict[str, str]) -> dict[str, Any]:
    return dict(api.get(f"/v1/compensation/orders/{order_id}/verify?{urlencode(claims)}"))


def failed(result: dict[str, Any]) -> list[str]:
    return [x["name"] for x in [*result["claims"], *result["checks"]] if not x["ok"]]


def test_the_certificate_of_a_fulfilled_order_shows_the_order_and_each_retirement(
        api: Api) -> None:
    order_id, (first, second) = fulfilled_order(api)
    html = certificate(api, order_id)
    r1 = api.get(f"/v1/retirements/{first}")
    r2 = api.get(f"/v1/retirements/{second}")
    for text in ("生态环境损害赔偿履行证明", "Certificate of Fulfilment", f"TH-C{order_id:06d}",
                 ORDER_CASE, AUTHORITY_NAME, *PARTY_NAMES, "10 t CO2e", "已履行完毕",
                 "Fulfilled", f"TH-R{first:06d}", f"TH-R{second:06d}",
                 *r1["serial_range"].split(" … "), *r2["serial_range"].split(" … "),
                 f"Batch #{r1['batch_id']}", TRADER1_NAME, TRADER2_NAME,
                 "钦州茅尾海红树林修复", "广西壮族自治区钦州市钦南区", "行政区划代码 450702",
                 r1["tx_hash"], r2["tx_hash"], "(UTC+8)"):
        assert text in html, text
    assert "履行进度" not in html and "尚未履行" not in html


def test_a_partly_fulfilled_order_is_a_statement_of_progress(api: Api) -> None:
    order_id = register_order(api)
    retire_for_order(api, order_id, "trader1", "4")
    html = certificate(api, order_id)
    assert "生态环境损害赔偿履行进度" in html and "Statement of Progress" in html
    assert "履行证明" not in html
    assert "部分履行" in html and "尚未履行" in html and "6 t CO2e" in html
    assert "This document is not a certificate of fulfilment" in html
    assert claims_of(api, order_id)["fulfilled"] == "4"


def test_an_order_with_nothing_counted_yet_has_a_certificate_of_progress(api: Api) -> None:
    order_id = register_order(api)
    html = certificate(api, order_id)
    assert "履行进度" in html and "尚无计入本案的注销" in html
    v = verify(api, order_id, claims_of(api, order_id))
    assert v["valid"] is True, failed(v)


def test_a_cny_order_is_certified_in_yuan_with_the_tonnes_it_bought(api: Api) -> None:
    order_id, rid = cny_order_bought_through_an_offer(api)
    html = certificate(api, order_id)
    assert "生态环境损害赔偿履行证明" in html and "500.00 元 CNY" in html
    assert "计入 counted 500.00 元 CNY" in html and "5 t CO2e in total" in html
    assert "钦州市人民检察院" in html  # the authority paid, so it is the retiring member
    claims = claims_of(api, order_id)
    assert (claims["unit"], claims["required"], claims["fulfilled"], claims["retirements"]) \
        == ("cny", "500.00", "500.00", f"{rid}:5")
    v = verify(api, order_id, claims)
    assert v["valid"] is True, failed(v)
    assert v["order"]["retirements"][0]["counted"] == "500.00"
    assert failed(verify(api, order_id, {**claims, "fulfilled": "5"})) == ["fulfilled"]


def test_the_certificate_is_read_from_the_chain_not_the_index(api: Api) -> None:
    order_id, retirements = fulfilled_order(api)
    with session_factory(api.db.engine)() as session:
        assert cq.counted_retirements(session, order_id) == []  # never indexed here
    html = certificate(api, order_id)
    assert all(f"TH-R{rid:06d}" in html for rid in retirements)


def test_the_qr_code_carries_the_papers_claims_and_they_verify(api: Api) -> None:
    order_id, (first, second) = fulfilled_order(api)
    claims = claims_of(api, order_id)
    assert claims == {"case_number": ORDER_CASE, "unit": "tonnes", "required": "10",
                      "fulfilled": "10", "retirements": f"{first}:4,{second}:6"}
    v = verify(api, order_id, claims)
    assert v["valid"] is True, failed(v)
    names = [x["name"] for x in [*v["claims"], *v["checks"]]]
    assert names == ["case_number", "unit", "required", "fulfilled", f"retirement:{first}",
                     f"retirement:{second}", "order_recorded", "chain_id", "contract_code",
                     "counted_totals", "all_counted_listed", f"retirement_record:{first}",
                     f"retirement_record:{second}"]
    assert v["order"]["status"] == "fulfilled"
    page = api.http.get(f"/v1/compensation/orders/{order_id}/verify.html?{urlencode(claims)}")
    assert page.status_code == 200 and 'data-valid="true"' in page.text
    assert 'data-ok="false"' not in page.text


def test_the_order_links_its_certificate_and_verification_page(api: Api) -> None:
    order_id = register_order(api)
    o = api.get(f"/v1/compensation/orders/{order_id}")
    base = f"{PUBLIC_URL}/v1/compensation/orders/{order_id}"
    assert (o["certificate_url"], o["certificate_pdf_url"], o["verify_page_url"]) == (
        f"{base}/certificate", f"{base}/certificate.pdf", f"{base}/verify.html")


def test_an_altered_amount_fails_on_its_retirements_line(api: Api) -> None:
    order_id, (first, second) = fulfilled_order(api)
    claims = {**claims_of(api, order_id), "retirements": f"{first}:40,{second}:6"}
    v = verify(api, order_id, claims)
    assert v["valid"] is False and failed(v) == [f"retirement:{first}"]
    line = next(x for x in v["claims"] if x["name"] == f"retirement:{first}")
    assert line["stated"] == "40 t CO2e" and line["recorded"].startswith("4 t CO2e")
    assert "amount differs" in line["detail"]


def test_a_counted_retirement_left_off_the_paper_fails(api: Api) -> None:
    order_id, (first, second) = fulfilled_order(api)
    v = verify(api, order_id, {**claims_of(api, order_id), "retirements": f"{first}:4"})
    assert failed(v) == ["all_counted_listed"]
    check = next(x for x in v["checks"] if x["name"] == "all_counted_listed")
    assert f"TH-R{second:06d}" in check["detail"]


def test_a_retirement_not_counted_toward_this_order_fails_on_its_line(api: Api) -> None:
    order_id, (first, second) = fulfilled_order(api)
    other = register_order(api, "（2026）桂07民初89号")
    elsewhere = retire_for_order(api, other, "trader1", "1")
    plain = retire_for_case(api, amount="1", case_reference="（2026）桂07民初77号")
    listed = f"{first}:4,{second}:6,{elsewhere}:1,{plain}:1"
    v = verify(api, order_id, {**claims_of(api, order_id), "retirements": listed})
    assert failed(v) == [f"retirement:{elsewhere}", f"retirement:{plain}"]
    assert all("not counted toward this order" in x["detail"]
               for x in v["claims"] if not x["ok"])


def test_a_retirement_the_chain_does_not_have_fails_on_its_line(api: Api) -> None:
    order_id, (first, second) = fulfilled_order(api)
    v = verify(api, order_id, {**claims_of(api, order_id),
                               "retirements": f"{first}:4,{second + 1000}:6"})
    assert failed(v) == [f"retirement:{second + 1000}", "all_counted_listed"]
    line = next(x for x in v["claims"] if x["name"] == f"retirement:{second + 1000}")
    assert "no such retirement" in line["detail"]


@pytest.mark.parametrize(("name", "value"), [
    ("case_number", "（2026）桂07民初99号"),
    ("required", "5"),
    ("fulfilled", "100"),
    ("unit", "cny"),
])
def test_a_claim_that_differs_from_the_chain_fails_on_its_line(
        api: Api, name: str, value: str) -> None:
    order_id, _ = fulfilled_order(api)
    v = verify(api, order_id, {**claims_of(api, order_id), name: value})
    expected = {"unit": ["unit", "required", "fulfilled"]}.get(name, [name])
    assert failed(v) == expected


def test_a_record_that_no_longer_verifies_on_chain_fails_its_lines(api: Api) -> None:
    order_id, (_, second) = fulfilled_order(api)
    claims = claims_of(api, order_id)
    break_retirement_record(api.ledger, second)
    v = verify(api, order_id, claims)
    assert failed(v) == [f"retirement:{second}", f"retirement_record:{second}"]
    record = next(x for x in v["checks"] if x["name"] == f"retirement_record:{second}")
    assert "retirement_recorded" in record["detail"] and "verifyRetirement" in record["detail"]


def test_a_long_list_travels_as_its_hash_and_verifies(api: Api) -> None:
    many = lianjiang_fulfilment()
    rows = [replace(many.retirements[0], retirement_id=1000 + i) for i in range(40)]
    claims = fulfilment_claims(replace(many, retirements=rows))
    assert "retirements" not in claims and claims["retirement_count"] == 40
    order_id, (first, second) = fulfilled_order(api)
    digest = "0x" + keccak(text=f"{first}:4,{second}:6").hex()
    base = {k: v for k, v in claims_of(api, order_id).items() if k != "retirements"}
    v = verify(api, order_id, {**base, "retirements_hash": digest, "retirement_count": "2"})
    assert v["valid"] is True, failed(v)
    wrong = "0x" + keccak(text=f"{first}:4").hex()
    v = verify(api, order_id, {**base, "retirements_hash": wrong, "retirement_count": "1"})
    assert failed(v) == ["retirements_hash", "retirement_count"]


def test_a_long_case_number_travels_as_its_hash_and_verifies(api: Api) -> None:
    case = "（2026）桂07民初88号之一：钦州市茅尾海红树林生态环境损害赔偿案 " * 3
    order_id = register_order(api, case.strip())
    claims = claims_of(api, order_id)
    assert "case_number" not in claims
    assert claims["case_number_hash"] == "0x" + keccak(text=case.strip()).hex()
    assert verify(api, order_id, claims)["valid"] is True
    wrong = "0x" + keccak(text="another case").hex()
    assert failed(verify(api, order_id, {**claims, "case_number_hash": wrong})) == \
        ["case_number_hash"]


def test_a_closed_order_is_certified_as_progress_with_its_status(api: Api) -> None:
    order_id = register_order(api)
    retire_for_order(api, order_id, "trader1", "4")
    api.post(f"/v1/compensation/orders/{order_id}/close", "procuratorate", {})
    html = certificate(api, order_id)
    assert "履行进度" in html and "已关闭 Closed" in html and "履行证明" not in html
    assert verify(api, order_id, claims_of(api, order_id))["valid"] is True


def test_a_page_without_claims_asks_to_compare_the_chains_record(api: Api) -> None:
    order_id, _ = fulfilled_order(api)
    page = api.http.get(f"/v1/compensation/orders/{order_id}/verify.html")
    assert page.status_code == 200 and "This link carries no claims" in page.text
    assert ORDER_CASE in page.text and "table class=\"claims\"" not in page.text


def test_a_malformed_claim_is_refused_as_json_and_a_failed_line_on_the_page(api: Api) -> None:
    order_id, _ = fulfilled_order(api)
    query = urlencode({**claims_of(api, order_id), "retirements": "seven:4"})
    r = api.http.get(f"/v1/compensation/orders/{order_id}/verify?{query}")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_retirements"
    page = api.http.get(f"/v1/compensation/orders/{order_id}/verify.html?{query}")
    assert page.status_code == 200 and 'data-valid="false"' in page.text
    assert 'data-ok="false" data-line="Retirements counted"' in page.text


def test_an_unknown_order_is_404_everywhere(api: Api) -> None:
    order_id, _ = fulfilled_order(api)
    claims = urlencode(claims_of(api, order_id))
    unknown = order_id + 1000
    for path in ("certificate", "certificate.pdf", f"verify?{claims}"):
        r = api.http.get(f"/v1/compensation/orders/{unknown}/{path}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "order_not_found", path
    page = api.http.get(f"/v1/compensation/orders/{unknown}/verify.html?{claims}")
    assert page.status_code == 404 and 'data-valid="false"' in page.text
    assert f"The chain has no compensation order {unknown}" in page.text
