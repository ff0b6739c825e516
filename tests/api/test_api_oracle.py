"""Monitoring data through the HTTP API: upload, per-record validation results, attestations
on chain, Merkle proofs checked by the contract, and disturbances into buffer cancellation."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from devkit.scenario import Scenario, doc
from oracle.node import NodeState, OracleNode
from registry.ledger import Ledger
from tests.support.api import TONNE, Api, ApiDatabase, api_database, open_api
from tests.support.oracle_inbox import YEAR, write_sample

PERIOD = f"{YEAR.start}/{YEAR.end}"
SPEC = {"code": "GX-QZ-MW-2024", "calculator": "blue_carbon", "area_ha": "253.3",
        "ecosystem": "mangrove", "land_class": "mangrove", "minimum_deduction_percent": "10"}


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("sample"), days=2)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-oracle")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    shutil.rmtree(db.settings.oracle_inbox, ignore_errors=True)  # chain state was reverted too
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


@pytest.fixture
def scenario(ledger: Ledger, acc: dict[str, LocalAccount]) -> Scenario:
    return Scenario(ledger, acc)


@pytest.fixture
def project(scenario: Scenario) -> int:
    return scenario.project(scenario.methodology())


def put_spec(api: Api, project: int, raw: Path, seat: str = "developer") -> dict[str, object]:
    devices = json.loads((raw / "devices.json").read_text())["devices"]
    return api.call("PUT", f"/v1/oracle/projects/{project}/spec", seat,
                    {**SPEC, "devices": devices})


def upload(api: Api, project: int, name: str, content: bytes, seat: str | None = "developer",
           period: str = PERIOD) -> httpx.Response:
    return api.http.put(f"/v1/oracle/projects/{project}/periods/{period}/files/{name}",
                        content=content, headers=api.headers(seat))


def attest(api: Api, *seats: str) -> None:
    for seat in seats:
        state = NodeState(api.db.settings.data_dir / "nodes" / f"{seat}-{id(api)}.db")
        OracleNode(seat, api.acc[seat], api.ledger, api.db.settings.oracle_inbox, state).run_once()


def test_uploaded_data_is_validated_attested_proven_and_issued(
    api: Api, raw: Path, project: int
) -> None:
    assert put_spec(api, project, raw)["devices"] == 21  # 20 in service, 1 revoked
    r = upload(api, project, "readings.csv", (raw / "readings.csv").read_bytes())
    assert r.status_code == 201, r.text
    readings = r.json()
    assert readings["kind"] == "readings" and readings["accepted"] > 1_500
    assert readings["by_reason"]["bad_signature"] >= 1
    assert {x["reason"] for x in readings["rejections"]} >= {"duplicate_record", "bad_signature"}
    for name, src in (("scenes.json", "scenes.json"), ("lab-samples.csv", "cores.csv")):
        assert upload(api, project, name, (raw / src).read_bytes()).status_code == 201

    period = api.get(f"/v1/oracle/projects/{project}/periods/{PERIOD}")
    assert period["report_status"] == "none"
    assert period["rejections_total"] == sum(c["rejected"] for c in period["counts"].values())

    attest(api, "oracle1", "oracle3")
    period = api.get(f"/v1/oracle/projects/{project}/periods/{PERIOD}")
    report_id = period["report_id"]
    assert period["report_status"] == "attested"
    seen = api.get(f"/v1/oracle/reports/{report_id}/attestations")
    assert (seen["status"], seen["threshold"], seen["merkle_root"]) == (
        "attested", 2, period["merkle_root"])
    assert [a["agrees"] for a in seen["attestations"]] == [True, True]

    proof = api.get(f"/v1/oracle/reports/{report_id}/proof?file=readings.csv&position=1")
    assert proof["verified_on_chain"] is True
    assert proof["root"] == period["merkle_root"]
    check = {"record": proof["record"], "proof": proof["proof"]}
    assert api.post(f"/v1/oracle/reports/{report_id}/verify-record", None, check)[
        "verified_on_chain"] is True
    forged = proof["record"].replace('"value":"', '"value":"1', 1)
    assert api.post(f"/v1/oracle/reports/{report_id}/verify-record", None,
                    {**check, "record": forged})["verified_on_chain"] is False

    api.post(f"/v1/reports/{report_id}/verify", "verifier",
             {"verified_quantity": str(period["quantity_units"] / TONNE)[:8],
              "verification_hash": "0x" + "ab" * 32})
    batch = api.post("/v1/batches", "operator", {"report_id": report_id}, status=201)
    assert batch["batch_id"] >= 1


def test_data_uploads_are_refused_with_stable_codes(api: Api, raw: Path, project: int) -> None:
    readings = (raw / "readings.csv").read_bytes()

    def code(r: httpx.Response) -> tuple[int, str]:
        return r.status_code, r.json()["error"]["code"]

    assert code(upload(api, project, "readings.csv", readings)) == (409, "no_monitoring_spec")
    put_spec(api, project, raw)
    assert code(upload(api, project, "readings.csv", readings, seat=None)) == (
        401, "unauthenticated")
    assert code(upload(api, project, "readings.csv", readings, seat="trader1")) == (
        403, "forbidden_role")
    # (a path that names no route takes the default 64 KiB body cap)
    assert code(upload(api, project, "../etc.csv", readings[:1024])) == (404, "route_not_found")
    assert code(upload(api, project, "weather.csv", readings)) == (422, "unknown_data_kind")
    assert code(upload(api, project, "readings.txt", readings)) == (422, "invalid_file_name")
    assert code(upload(api, project, "readings.csv", b"")) == (422, "empty_file")
    assert code(upload(api, project, "readings.csv", b"\xff\xfe\x00bad")) == (
        422, "unreadable_file")
    assert code(upload(api, project, "readings.csv", readings,
                       period=f"{YEAR.end}/{YEAR.start}")) == (422, "invalid_period")
    assert code(upload(api, 999, "readings.csv", readings)) == (404, "project_not_found")
    # a truncated file is accepted as a submission, its broken rows refused one by one
    cut = readings[: len(readings) // 3]
    r = upload(api, project, "readings-cut.csv", cut)
    assert r.status_code == 201
    assert r.json()["rejections"][-1]["reason"] in ("truncated_row", "malformed_field")
    # once attested, a period's data is final
    upload(api, project, "scenes.json", (raw / "scenes.json").read_bytes())
    attest(api, "oracle1", "oracle2")
    assert code(upload(api, project, "readings-late.csv", readings)) == (409, "period_attested")
    assert code(api.raw("GET", "/v1/oracle/reports/99/attestations")) == (404, "report_not_found")


def test_a_disturbance_is_confirmed_and_drawn_from_the_buffer_through_the_api(
    api: Api, project: int, scenario: Scenario
) -> None:
    batch = scenario.batch(quantity=1_000 * TONNE, project_id=project).batch_id
    d = scenario.disturbance(project, 40 * TONNE, stage="attested")
    path = f"/v1/oracle/disturbances/{d}"
    assert api.get(path)["status"] == "attested"
    body = {"confirmed_loss": "30", "statement_hash": "0x" + "cd" * 32}
    assert api.error("POST", path + "/confirm", "regulator", body, 403) == "forbidden_role"
    assert api.error("POST", path + "/confirm", "verifier",
                     {**body, "confirmed_loss": "40.000001"}, 409) == "loss_above_attested"
    api.post(path + "/confirm", "verifier", body)
    cancel = {"batch_id": batch, "amount": "30.000001"}
    assert api.error("POST", path + "/cancel-buffer", "regulator", cancel, 409) == "loss_exceeded"
    assert api.error("POST", path + "/cancel-buffer", "verifier", cancel, 403) == "forbidden_role"
    api.post(path + "/cancel-buffer", "regulator", {**cancel, "amount": "30"})
    after = api.get(path)
    assert (after["confirmed_loss_units"], after["applied_loss_units"]) == (30 * TONNE,
                                                                            30 * TONNE)
    assert api.ledger.batch(batch).cancelled == 30 * TONNE
    assert api.error("GET", "/v1/oracle/disturbances/77", None, None, 404) == (
        "disturbance_not_found")
    assert doc("x")  # scenario documents are non-zero hashes
