"""Registry decisions through the API beyond the happy path: rejections, deprecation, conflicts
of interest, monitoring-period rules, batch freezes and buffer cancellation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from devkit.scenario import BASE_TIME, PERIOD, Scenario
from registry.ledger import Ledger, MethodologyStatus, ProjectStatus, ReportStatus
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api

HASH = "0x" + "ef" * 32


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-registry")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def code(api: Api, method: str, path: str, seat: str, body: object = None) -> tuple[int, str]:
    r = api.raw(method, path, seat, body)
    return r.status_code, r.json()["error"]["code"]


def methodology_status(api: Api, mid: int) -> MethodologyStatus:
    raw = api.ledger.chain.call(api.ledger.c("MethodologyRegistry").functions.getMethodology(mid))
    return MethodologyStatus(raw[0])


def project_status(api: Api, pid: int) -> ProjectStatus:
    raw = api.ledger.chain.call(api.ledger.c("ProjectRegistry").functions.getProject(pid))
    return ProjectStatus(raw[2])


def test_methodology_rejection_and_deprecation(api: Api) -> None:
    s = Scenario(api.ledger, api.acc)
    rejected = s.methodology(approve=False)
    api.post(f"/v1/methodologies/{rejected}/reject", "regulator", {"reason_hash": HASH})
    assert methodology_status(api, rejected) == MethodologyStatus.REJECTED
    assert code(api, "POST", f"/v1/methodologies/{rejected}/approve", "regulator") == (
        409, "invalid_methodology_status")

    approved = s.methodology()
    out = api.post(f"/v1/methodologies/{approved}/deprecate", "regulator")
    assert out["status"] == "deprecated"
    project = {"name": "P", "methodology_id": approved, "division_code": 450702,
               "latitude": "21.7", "longitude": "108.5", "area_m2": 1, "boundary_hash": HASH,
               "crediting_start": 1, "crediting_end": 2}
    assert code(api, "POST", "/v1/projects", "developer", project) == (
        409, "methodology_not_approved")


def test_project_rejection_and_conflict_of_interest(api: Api) -> None:
    s = Scenario(api.ledger, api.acc)
    mid = s.methodology()
    own = s.project(mid, developer="verifier", stage="registered")
    assert code(api, "POST", f"/v1/projects/{own}/validate", "verifier",
                {"validation_report_hash": HASH}) == (409, "conflict_of_interest")
    assert code(api, "POST", f"/v1/projects/{own}/approve", "regulator", {}) == (
        409, "invalid_project_status")
    api.post(f"/v1/projects/{own}/reject", "regulator", {"reason_hash": HASH})
    assert project_status(api, own) == ProjectStatus.REJECTED


def test_monitoring_periods_must_have_ended_and_be_credited(api: Api) -> None:
    s = Scenario(api.ledger, api.acc)
    pid = s.project(s.methodology())
    body = {"project_id": pid, "period_start": BASE_TIME, "period_end": BASE_TIME + PERIOD,
            "merkle_root": HASH, "quantity": "10", "report_hash": HASH}
    now = api.ledger.chain.w3.eth.get_block("latest")["timestamp"]
    assert code(api, "POST", "/v1/reports/attest", "oracle1",
                {**body, "period_end": now + 86_400}) == (409, "period_not_ended")
    assert code(api, "POST", "/v1/reports/attest", "oracle1",
                {**body, "period_start": BASE_TIME - 1}) == (409, "period_outside_crediting")
    assert code(api, "POST", "/v1/reports/attest", "oracle1",
                {**body, "period_end": BASE_TIME}) == (422, "invalid_period")
    assert code(api, "POST", "/v1/reports/attest", "oracle1",
                {**body, "period_start": "2020-01-01"}) == (422, "invalid_request")

    api.post("/v1/reports/attest", "oracle1", body, status=201)
    again = api.raw("POST", "/v1/reports/attest", "oracle1", body)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "chain_already_attested")


def test_verification_is_capped_by_the_attested_quantity_and_reports_can_be_rejected(
    api: Api,
) -> None:
    s = Scenario(api.ledger, api.acc)
    pid = s.project(s.methodology())
    attested = s.report(pid, 10 * TONNE, stage="attested")
    assert code(api, "POST", f"/v1/reports/{attested}/verify", "verifier",
                {"verified_quantity": "10.000001", "verification_hash": HASH}) == (
        409, "quantity_above_attested")
    api.post(f"/v1/reports/{attested}/reject", "verifier", {"reason_hash": HASH})
    assert ReportStatus(api.ledger.report(attested).status) == ReportStatus.REJECTED
    assert code(api, "POST", "/v1/batches", "operator", {"report_id": attested}) == (
        409, "chain_report_not_verified")


def test_batch_freeze_and_buffer_cancellation(api: Api) -> None:
    batch = Scenario(api.ledger, api.acc).batch(quantity=100 * TONNE, buffer_bps=1_000)
    bid = batch.batch_id
    assert api.post(f"/v1/batches/{bid}/freeze", "regulator", {"reason_hash": HASH})["frozen"]
    assert api.ledger.batch(bid).frozen is True
    assert code(api, "POST", f"/v1/batches/{bid}/freeze", "regulator") == (
        409, "batch_already_frozen")
    api.post(f"/v1/batches/{bid}/unfreeze", "regulator")

    s = Scenario(api.ledger, api.acc)
    typhoon = s.disturbance(batch.project_id, 3 * TONNE)
    cancelled = api.post(f"/v1/batches/{bid}/cancel-buffer", "regulator",
                         {"amount": "2.5", "disturbance_id": typhoon}, status=201)
    assert (cancelled["serial_start"], cancelled["serial_end"]) == (1, 2_500_000)
    assert api.ledger.buffer_balance(bid) == 7_500_000
    assert api.ledger.batch(bid).cancelled == 2_500_000
    pending = s.disturbance(batch.project_id, TONNE, stage="attested")
    assert code(api, "POST", f"/v1/batches/{bid}/cancel-buffer", "regulator",
                {"amount": "1", "disturbance_id": pending}) == (409, "invalid_disturbance_status")


def test_retirement_serials_continue_after_a_cancellation(api: Api) -> None:
    s = Scenario(api.ledger, api.acc)
    batch = s.batch(quantity=100 * TONNE)
    typhoon = s.disturbance(batch.project_id, TONNE)
    api.ledger.cancel_buffer_for_disturbance(api.acc["regulator"], typhoon, batch.batch_id, TONNE)
    r = api.post("/v1/retirements", "developer", {
        "batch_id": batch.batch_id, "amount": "0.000001", "beneficiary": "一克 One gram",
        "purpose": "carbon_inclusive"}, status=201)
    assert (r["serial_start"], r["serial_end"]) == (TONNE + 1, TONNE + 1)
    assert api.get(f"/v1/retirements/{r['retirement_id']}/verify")["valid"] is True
