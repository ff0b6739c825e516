"""Contract records are read by the names the compiled ABI gives their fields, nested structs
included, so a struct changed in Solidity can never be read into the wrong names."""

from __future__ import annotations

import pytest

from chain.records import named, outputs_of
from devkit.scenario import Scenario
from registry.ledger import Ledger

LOCATION = {"name": "location", "type": "tuple", "components": [
    {"name": "divisionCode", "type": "uint32"}, {"name": "areaM2", "type": "uint64"}]}
PROJECT = [{"name": "", "type": "tuple", "components": [
    {"name": "developer", "type": "address"}, LOCATION]}]


def test_a_struct_and_its_nested_struct_come_back_by_name() -> None:
    assert named(PROJECT, ("0xabc", (450702, 2_500_000))) == {
        "developer": "0xabc", "location": {"divisionCode": 450702, "areaM2": 2_500_000}}


def test_an_array_of_structs_comes_back_as_a_list_of_records() -> None:
    outputs = [{"name": "", "type": "tuple[]", "components": LOCATION["components"]}]
    assert named(outputs, [(1, 2), (3, 4)]) == [{"divisionCode": 1, "areaM2": 2},
                                                 {"divisionCode": 3, "areaM2": 4}]


def test_a_record_of_another_shape_is_refused_rather_than_misread() -> None:
    with pytest.raises(ValueError):
        named(PROJECT, ("0xabc", (450702, 2_500_000, b"extra")))


def test_a_function_that_is_not_in_the_abi_is_named() -> None:
    with pytest.raises(KeyError, match="getNothing"):
        outputs_of([], "getNothing")


def test_the_ledger_reads_a_project_by_the_contracts_own_field_names(
    ledger: Ledger, acc: dict
) -> None:
    s = Scenario(ledger, acc)
    project = ledger.read("ProjectRegistry", "getProject", s.project(s.methodology()))
    abi = outputs_of(ledger.deployment.abis["ProjectRegistry"], "getProject")[0]
    assert list(project) == [c["name"] for c in abi["components"]]
    assert project["developer"] == acc["developer"].address
    assert project["location"]["divisionCode"] == 450702
