"""The registry's whole flow through the HTTP API, as its members use it: methodology, project,
two oracle attestations, verification, issuance, transfer, retirement, then the bilingual
certificate and its verification against the chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from devkit.scenario import BASE_TIME, PERIOD
from registry.ledger import Ledger
from tests.support.api import PUBLIC_URL, TONNE, Api, ApiDatabase, api_database, open_api


def h(tag: str) -> str:
    return "0x" + keccak(text=tag).hex()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-flow")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


CASE = "钦检民公〔2025〕7号"
BENEFICIARY = "钦州市人民检察院 生态环境损害替代性修复 Qinzhou Procuratorate substitute restoration"


def run_flow(api: Api) -> dict[str, int]:
    m = api.post("/v1/methodologies", "operator", {
        "code": "CCER-14-002-V01", "name": "红树林营造 Mangrove vegetation restoration",
        "document_hash": h("methodology"), "parameters_hash": h("params"), "buffer_bps": 1000,
        "category": "mangrove",
    }, status=201)
    mid = m["methodology_id"]
    api.post(f"/v1/methodologies/{mid}/approve", "regulator", {})
    p = api.post("/v1/projects", "developer", {
        "name": "广西钦州茅尾海红树林修复项目 Maowei Sea Mangrove Restoration",
        "methodology_id": mid, "division_code": 450702, "latitude": "21.783",
        "longitude": "108.562000", "area_m2": 2_533_000, "boundary_hash": h("boundary"),
        "crediting_start": BASE_TIME, "crediting_end": BASE_TIME + 40 * 365 * 86400,
        "document_hash": h("pdd"),
    }, status=201)
    pid = p["project_id"]
    assert p["developer"] == api.acc["developer"].address
    api.post(f"/v1/projects/{pid}/validate", "verifier", {"validation_report_hash": h("val")})
    api.post(f"/v1/projects/{pid}/approve", "regulator")  # no body at all is fine too

    attestation = {
        "project_id": pid, "period_start": BASE_TIME, "period_end": BASE_TIME + PERIOD,
        "merkle_root": h("root"), "quantity": "1000.5", "report_hash": h("report"),
    }
    first = api.post("/v1/reports/attest", "oracle1", attestation, status=201)
    assert (first["status"], first["submissions"]) == ("pending", 1)
    second = api.post("/v1/reports/attest", "oracle2", attestation, status=201)
    assert (second["report_id"], second["status"]) == (first["report_id"], "attested")
    rid = second["report_id"]
    api.post(f"/v1/reports/{rid}/verify", "verifier",
             {"verified_quantity": "1000", "verification_hash": h("verification")})

    b = api.post("/v1/batches", "operator", {"report_id": rid}, status=201)
    assert (b["issued"], b["buffer"], b["issued_units"]) == ("1000", "100", 1000 * TONNE)
    bid = b["batch_id"]

    t = api.post("/v1/transfers", "developer",
                 {"to": api.acc["trader1"].address.lower(), "batch_id": bid, "amount": "500"},
                 status=201)
    assert (t["from"], t["to"], t["amount_units"]) == (
        api.acc["developer"].address, api.acc["trader1"].address, 500 * TONNE)

    r = api.post("/v1/retirements", "trader1", {
        "batch_id": bid, "amount": "326.4", "beneficiary": BENEFICIARY,
        "purpose": "ecological_compensation", "case_reference": CASE,
    }, status=201)
    assert (r["serial_start"], r["serial_end"]) == (1, 326_400_000)
    assert r["serial_range"] == f"TH-B{bid:06d}-000000000001 … 000326400000"
    rid_ = r["retirement_id"]
    assert r["certificate_url"] == f"{PUBLIC_URL}/v1/retirements/{rid_}/certificate"
    assert r["verify_url"] == f"{PUBLIC_URL}/v1/retirements/{rid_}/verify"
    return {"batch": bid, "retirement": rid_, "project": pid, "report": rid}


def test_the_whole_flow_moves_credits_on_chain(api: Api) -> None:
    ids = run_flow(api)
    ledger, acc = api.ledger, api.acc
    assert ledger.balance(acc["developer"].address, ids["batch"]) == 400 * TONNE
    assert ledger.balance(acc["trader1"].address, ids["batch"]) == 173_600_000
    assert ledger.retirement(ids["retirement"]).retirement.holder == acc["trader1"].address
    batch = ledger.batch(ids["batch"])
    assert (batch.issued, batch.buffer, batch.retired) == (
        1000 * TONNE, 100 * TONNE, 326_400_000)
    # the members acted as themselves, without spending gas: the relayer paid
    w3 = ledger.chain.w3
    assert w3.eth.get_balance(acc["trader1"].address) == w3.eth.get_balance(
        acc["trader1"].address, block_identifier=ledger.deployment.block)


def test_the_certificate_is_bilingual_with_serials_and_a_qr_code(api: Api) -> None:
    ids = run_flow(api)
    html = api.get(f"/v1/retirements/{ids['retirement']}/certificate")
    for text in ("碳汇注销证明", "Carbon Credit Retirement Certificate",
                 f"TH-B{ids['batch']:06d}-000000000001", "000326400000",
                 "1 serial = 1 g CO2e", "326.4 t CO2e", "生态环境损害赔偿",
                 "Ecological compensation", CASE, "Maowei Sea Mangrove Restoration", "450702",
                 "2020", "CCER-14-002-V01", "253.3",
                 f"{PUBLIC_URL}/v1/retirements/{ids['retirement']}/verify",
                 api.ledger.deployment.address("CarbonCredits")):
        assert text in html, text
    assert "<svg" in html and "<path" in html  # inline vector QR code
    assert BENEFICIARY in html


def test_the_certificate_escapes_what_members_wrote(api: Api) -> None:
    ids = run_flow(api)
    r = api.post("/v1/retirements", "trader1", {
        "batch_id": ids["batch"], "amount": "1", "beneficiary": "<script>alert(1)</script>",
        "purpose": "voluntary"}, status=201)
    html = api.raw("GET", f"/v1/retirements/{r['retirement_id']}/certificate")
    assert "<script>" not in html.text and "&lt;script&gt;" in html.text
    assert "default-src 'none'" in html.headers["content-security-policy"]


def test_the_certificate_shows_text_sent_past_the_api_instead_of_obeying_it(api: Api) -> None:
    ids = run_flow(api)
    # a member may retire straight on chain, where no API checks the text
    tricky = "Qinzhou \u202eetarucorP\u200b"
    result = api.ledger.retire(api.acc["trader1"], ids["batch"], 1, tricky)
    html = api.get(f"/v1/retirements/{result.retirement_id}/certificate")
    assert "\u202e" not in html and "\u200b" not in html
    assert "<bdi>Qinzhou ⟦U+202E⟧etarucorP⟦U+200B⟧</bdi>" in html


def test_a_retirement_verifies_against_the_chain(api: Api) -> None:
    ids = run_flow(api)
    rid = ids["retirement"]
    v = api.get(f"/v1/retirements/{rid}/verify")
    assert v["valid"] is True, v["checks"]
    names = {c["name"] for c in v["checks"]}
    assert {"retirement_recorded", "retired_event", "transaction_receipt", "serials_consumed",
            "contract_code", "chain_id"} <= names
    record = v["retirement"]
    assert (record["beneficiary"], record["case_reference"]) == (BENEFICIARY, CASE)
    assert (record["amount"], record["holder"]) == ("326.4", api.acc["trader1"].address)
    assert record["project"]["name"].startswith("广西钦州茅尾海")
    assert record["retirement_id"] == rid and record["block_timestamp"] > 0
    assert api.get(f"/v1/retirements/{rid}") == record


def test_claims_from_a_paper_certificate_are_checked(api: Api) -> None:
    ids = run_flow(api)
    rid, bid = ids["retirement"], ids["batch"]
    base = f"/v1/retirements/{rid}/verify"
    tx = api.get(f"/v1/retirements/{rid}")["tx_hash"]
    good = api.http.get(base, params={
        "beneficiary": BENEFICIARY, "amount": "326.400",
        "serial_start": f"TH-B{bid:06d}-000000000001",
        "serial_end": "326400000", "purpose": "ecological_compensation", "case_reference": CASE,
        "holder": api.acc["trader1"].address.lower(), "tx_hash": tx.upper().replace("0X", "0x"),
    }).json()
    assert good["valid"] is True, good["checks"]
    assert sum(c["name"].startswith("claim_") for c in good["checks"]) == 9

    forged = api.http.get(base, params={"beneficiary": "Someone else", "amount": "500"}).json()
    assert forged["valid"] is False
    failed = {c["name"] for c in forged["checks"] if not c["ok"]}
    assert failed == {"claim_beneficiary", "claim_amount_units"}

    other_batch = api.http.get(base, params={"serial_start": f"TH-B{bid + 1:06d}-000000000001"})
    assert other_batch.json()["valid"] is False
    bad = api.http.get(base, params={"amount": "0.0000001"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "amount_too_precise")


def test_unknown_retirements_are_404(api: Api) -> None:
    for suffix in ("", "/certificate", "/verify"):
        r = api.raw("GET", f"/v1/retirements/999{suffix}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "retirement_not_found"


def test_health_reports_chain_database_and_index(api: Api) -> None:
    health = api.get("/health")
    assert health["status"] == "ok" and health["chain_reachable"] and health["db_ok"]
    assert health["chain_id"] == 31337
    assert health["latest_block"] >= api.ledger.deployment.block
    assert health["index_lag"] is None  # nothing indexed into this database
    assert "swagger" in api.http.get("/docs").text.lower()
    assert api.http.get("/openapi.json").json()["info"]["title"] == "Tanhui 碳汇 Registry API"


def test_verification_fails_when_registry_code_is_not_the_deployed_code(api: Api) -> None:
    ids = run_flow(api)
    chain, deployment = api.ledger.chain, api.ledger.deployment
    other = chain.w3.eth.get_code(deployment.address("TanhuiForwarder"))
    chain.rpc("anvil_setCode", deployment.address("Consortium"), "0x" + bytes(other).hex())
    v = api.get(f"/v1/retirements/{ids['retirement']}/verify")
    assert v["valid"] is False
    failed = [c for c in v["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["contract_code"]
    assert "Consortium" in failed[0]["detail"]
