"""Every tonne counted once, through the API: a parcel is one active project's, a Merkle root is
one report's, a device key signs for one project, and a signed reading counts for one project's
period — each refused with a stable code, nothing half-stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.deploy import Deployment
from devkit.scenario import Scenario
from oracle.period import Period
from registry.ledger import Ledger
from tests.support.api import Api, api_database, open_api
from tests.support.oracle_inbox import YEAR, write_sample

HASH = "0x" + "5a" * 32
SPEC = {"code": "GX-QZ-MW-2024", "calculator": "blue_carbon", "area_ha": "253.3",
        "ecosystem": "mangrove", "land_class": "mangrove", "minimum_deduction_percent": "10"}


@dataclass(frozen=True)
class Prepared:
    """Two approved projects of one methodology, of two developers, and a monitoring period
    of the first that has ended."""

    methodology: int
    first: int
    second: int
    scenario: Scenario


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("sample"), days=2)


@pytest.fixture(scope="module")
def prepared(chain: Chain, deployment: Deployment,
             acc: dict[str, LocalAccount]) -> Iterator[Prepared]:
    snap = chain.rpc("evm_snapshot")
    try:
        s = Scenario(Ledger(chain, deployment), acc)
        m = s.methodology()
        yield Prepared(m, s.project(m), s.project(m, developer="trader3"), s)
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


@pytest.fixture
def api(tmp_path: Path, prepared: Prepared, ledger: Ledger,
        acc: dict[str, LocalAccount]) -> Iterator[Api]:
    """A fresh database and inbox for each test (the chain is reverted after each too)."""
    db = api_database(tmp_path, acc)
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


def devices(raw: Path) -> list[dict[str, Any]]:
    return list(json.loads((raw / "devices.json").read_text())["devices"])


def put_spec(api: Api, project: int, raw: Path, seat: str) -> httpx.Response:
    return api.http.put(f"/v1/oracle/projects/{project}/spec", headers=api.headers(seat),
                        json={**SPEC, "devices": devices(raw)})


def upload(api: Api, project: int, period: Period, raw: Path) -> httpx.Response:
    return api.http.put(
        f"/v1/oracle/projects/{project}/periods/{period.start}/{period.end}/files/readings.csv",
        content=(raw / "readings.csv").read_bytes(), headers=api.headers("developer"))


def stored(api: Api, project: int, period: Period) -> bool:
    inbox = api.db.settings.oracle_inbox / str(project) / f"{period.start}-{period.end}"
    return (inbox / "readings.csv").exists()


# -- parcels and roots (the chain) --------------------------------------------------------------


def project_body(prepared: Prepared) -> dict[str, Any]:
    return {"name": "茅尾海红树林 Maowei Sea mangrove", "methodology_id": prepared.methodology,
            "division_code": 450702, "latitude": "21.783", "longitude": "108.562",
            "area_m2": 2_500_000, "boundary_hash": HASH, "crediting_start": 1_577_836_800,
            "crediting_end": 2_524_608_000}


def test_a_second_project_on_the_same_parcel_is_refused(api: Api, prepared: Prepared) -> None:
    first = api.post("/v1/projects", "developer", project_body(prepared), status=201)
    r = api.raw("POST", "/v1/projects", "trader1", project_body(prepared))
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "chain_boundary_already_registered"
    assert error["details"]["args"]["projectId"] == first["project_id"]


def test_a_root_attested_for_one_report_is_refused_for_another(
    api: Api, prepared: Prepared
) -> None:
    s = prepared.scenario.fork()
    body = {"merkle_root": HASH, "quantity": "12.5", "report_hash": "0x" + "01" * 32}
    start, end = s.period(prepared.first)
    for seat in ("oracle1", "oracle2"):
        api.post("/v1/reports/attest", seat, {**body, "project_id": prepared.first,
                                              "period_start": start, "period_end": end},
                 status=201)
    start, end = s.period(prepared.second)
    again = {**body, "report_hash": "0x" + "02" * 32, "project_id": prepared.second,
             "period_start": start, "period_end": end}
    assert api.error("POST", "/v1/reports/attest", "oracle1", again, 409) == (
        "chain_already_attested_elsewhere")


# -- devices and readings (the registry database) -----------------------------------------------


def test_a_device_registered_for_one_project_is_refused_for_another(
    api: Api, prepared: Prepared, raw: Path
) -> None:
    assert put_spec(api, prepared.first, raw, "developer").status_code == 200
    r = put_spec(api, prepared.second, raw, "trader3")
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "device_registered_elsewhere"
    assert error["details"]["project_id"] == prepared.first
    assert not (api.db.settings.oracle_inbox / str(prepared.second) / "devices.json").exists()


def test_a_project_registers_its_own_devices_again(
    api: Api, prepared: Prepared, raw: Path
) -> None:
    assert put_spec(api, prepared.first, raw, "developer").status_code == 200
    assert put_spec(api, prepared.first, raw, "operator").status_code == 200


def test_readings_counted_for_one_period_are_refused_for_another(
    api: Api, prepared: Prepared, raw: Path
) -> None:
    assert put_spec(api, prepared.first, raw, "developer").status_code == 200
    assert upload(api, prepared.first, YEAR, raw).status_code == 201
    overlapping = Period(YEAR.start, YEAR.end + 86_400)
    r = upload(api, prepared.first, overlapping, raw)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "reading_counted_elsewhere"
    first = error["details"]["readings"][0]
    assert (first["project_id"], first["period_start"], first["period_end"]) == (
        prepared.first, YEAR.start, YEAR.end)
    assert error["details"]["total"] > 1_500
    assert not stored(api, prepared.first, overlapping)


def test_the_same_readings_for_the_same_period_are_a_harmless_repeat(
    api: Api, prepared: Prepared, raw: Path
) -> None:
    assert put_spec(api, prepared.first, raw, "developer").status_code == 200
    assert upload(api, prepared.first, YEAR, raw).status_code == 201
    again = upload(api, prepared.first, YEAR, raw)
    assert again.status_code == 201, again.text
    assert stored(api, prepared.first, YEAR)
