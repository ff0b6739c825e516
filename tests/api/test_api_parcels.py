"""Forest-right certificates (林权证号) over HTTP: a developer declares the parcels its project
takes in before validation, and anyone reads which projects count a parcel, from the chain — a
parcel inside a credit project is never ticketed for the same years."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from devkit.scenario import Scenario
from registry.categories import SinkCategory
from registry.ledger import Ledger
from tests.support.api import Api, ApiDatabase, api_database, open_api

CERTIFICATE = "闽(2021)将乐县林权第0000417号"
OTHER = "闽(2021)将乐县林权第0000418号"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, acc: dict[str, LocalAccount]) -> ApiDatabase:
    return api_database(Path(tmp_path_factory.mktemp("api-parcels")), acc)


@pytest.fixture
def api(db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Api]:
    with open_api(db, ledger, acc).http as http:
        yield Api(http, db, ledger, acc)


@pytest.fixture
def s(api: Api) -> Scenario:
    return Scenario(api.ledger, api.acc)


def by_certificate(api: Api, certificate: str) -> list[tuple[int, str]]:
    out = api.get(f"/v1/projects/parcels/by-certificate?certificate={certificate}")
    assert out["rights_certificate"] == certificate
    return [(p["project_id"], p["status"]) for p in out["projects"]]


def test_a_developer_declares_its_parcels_and_anyone_sees_them(api: Api, s: Scenario) -> None:
    project = s.project(s.methodology(category=SinkCategory.FOREST), stage="registered")
    out = api.post(f"/v1/projects/{project}/parcels", "developer",
                   {"rights_certificates": [CERTIFICATE, OTHER]})
    assert (out["project_id"], out["rights_certificates"]) == (project, [CERTIFICATE, OTHER])
    assert by_certificate(api, CERTIFICATE) == by_certificate(api, OTHER) == [
        (project, "registered")]
    assert by_certificate(api, "闽(2021)无此林权") == []


def test_a_parcel_another_project_counts_is_refused_and_nothing_is_declared(
        api: Api, s: Scenario) -> None:
    forest = s.methodology(category=SinkCategory.FOREST)
    first = s.project(forest, parcels=(CERTIFICATE,))
    second = s.project(forest, stage="registered")
    body = {"rights_certificates": [OTHER, CERTIFICATE]}
    r = api.raw("POST", f"/v1/projects/{second}/parcels", "developer", body)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "parcel_in_other_project"
    assert r.json()["error"]["details"]["project_id"] == first
    assert by_certificate(api, OTHER) == []  # the whole declaration was refused
    assert by_certificate(api, CERTIFICATE) == [(first, "approved")]


def test_parcels_are_declared_only_by_the_developer_of_a_registered_project(
        api: Api, s: Scenario) -> None:
    forest = s.methodology(category=SinkCategory.FOREST)
    registered = s.project(forest, stage="registered")
    validated = s.project(forest, stage="validated")
    body = {"rights_certificates": [CERTIFICATE]}
    assert api.error("POST", f"/v1/projects/{registered}/parcels", "trader1", body, 403) == \
        "not_project_developer"
    assert api.error("POST", f"/v1/projects/{validated}/parcels", "developer", body, 409) == \
        "invalid_project_status"
    assert api.error("POST", "/v1/projects/99999/parcels", "developer", body, 404) == \
        "project_not_found"
    for bad in ([], [""], [CERTIFICATE, CERTIFICATE], ["x" * 65]):
        api.error("POST", f"/v1/projects/{registered}/parcels", "developer",
                  {"rights_certificates": bad}, 422)
    assert api.error("GET", "/v1/projects/parcels/by-certificate", None, None, 422) == \
        "invalid_request"
    assert by_certificate(api, CERTIFICATE) == []
