"""Contract records are read into the typed classes of chain.structs, by the names the compiled
ABI gives their fields, nested structs included, so a struct changed in Solidity can never be
read into the wrong names."""

from __future__ import annotations

import dataclasses

import pytest

from chain.records import StaleRecord, named, outputs_of
from chain.structs import Location, Project, Report
from chain.structs_gen import snake_case
from devkit.scenario import Scenario
from registry.ledger import Ledger, ReportStatus

LOCATION = {"name": "location", "type": "tuple", "internalType": "struct ProjectRegistry.Location",
            "components": [{"name": n, "type": t} for n, t in (
                ("divisionCode", "uint32"), ("latitudeE6", "int32"), ("longitudeE6", "int32"),
                ("areaM2", "uint64"), ("boundaryHash", "bytes32"))]}
RAW_LOCATION = (450702, 21_500_000, -109_100_000, 2_500_000, b"\x01" * 32)


def test_a_struct_comes_back_as_its_typed_record() -> None:
    assert named([LOCATION], RAW_LOCATION) == Location(
        division_code=450702, latitude_e6=21_500_000, longitude_e6=-109_100_000,
        area_m2=2_500_000, boundary_hash=b"\x01" * 32)


def test_an_array_of_structs_comes_back_as_a_tuple_of_records() -> None:
    outputs = [{**LOCATION, "type": "tuple[]",
                "internalType": "struct ProjectRegistry.Location[]"}]
    assert named(outputs, [RAW_LOCATION, RAW_LOCATION]) == (named([LOCATION], RAW_LOCATION),) * 2


def test_a_record_of_another_shape_is_refused_rather_than_misread() -> None:
    with pytest.raises(ValueError):
        named([LOCATION], (*RAW_LOCATION, b"extra"))
    renamed = {**LOCATION, "components": [{"name": "code", "type": "uint32"},
                                          *LOCATION["components"][1:]]}
    with pytest.raises(StaleRecord, match="structs_gen"):
        named([renamed], RAW_LOCATION)
    with pytest.raises(StaleRecord, match="structs_gen"):
        named([{**LOCATION, "internalType": "struct ProjectRegistry.Nowhere"}], RAW_LOCATION)


def test_a_function_that_is_not_in_the_abi_is_named() -> None:
    with pytest.raises(KeyError, match="getNothing"):
        outputs_of([], "getNothing")


def test_the_records_json_is_keyed_by_the_contracts_own_names() -> None:
    location = named([LOCATION], RAW_LOCATION)
    assert location.to_json() == {"divisionCode": 450702, "latitudeE6": 21_500_000,
                                  "longitudeE6": -109_100_000, "areaM2": 2_500_000,
                                  "boundaryHash": b"\x01" * 32}


def test_a_record_gives_back_the_tuple_a_call_takes() -> None:
    assert named([LOCATION], RAW_LOCATION).to_abi() == RAW_LOCATION


def test_the_ledger_reads_a_project_with_the_abis_fields(ledger: Ledger, acc: dict) -> None:
    s = Scenario(ledger, acc)
    project = ledger.project(s.project(s.methodology()))
    abi = outputs_of(ledger.deployment.abis["ProjectRegistry"], "getProject")[0]
    assert isinstance(project, Project) and isinstance(project.location, Location)
    assert [f.name for f in dataclasses.fields(project)] == [
        snake_case(c["name"]) for c in abi["components"]]
    assert project.developer == acc["developer"].address
    assert project.location.division_code == 450702
    assert list(project.to_json()) == [c["name"] for c in abi["components"]]


def test_a_report_read_from_the_chain_has_the_abis_fields_and_real_types(
    ledger: Ledger, acc: dict
) -> None:
    batch = Scenario(ledger, acc).batch()
    report = ledger.report(batch.report_id)
    abi = outputs_of(ledger.deployment.abis["MonitoringReports"], "getReport")[0]
    assert isinstance(report, Report)
    assert abi["internalType"] == Report.ABI_TYPE
    assert tuple(c["name"] for c in abi["components"]) == Report.ABI_NAMES
    assert [f.name for f in dataclasses.fields(report)] == [
        snake_case(c["name"]) for c in abi["components"]]
    assert report.status == ReportStatus.VERIFIED and report.project_id == batch.project_id
    assert type(report.merkle_root) is bytes and len(report.merkle_root) == 32
    assert type(report.verifier) is str and report.verifier == acc["verifier"].address
    assert type(report.verified_quantity) is int and report.verified_quantity > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.status = 0  # type: ignore[misc]
