"""Division names (GB/T 2260) by the longest known prefix of a code."""

from __future__ import annotations

import pytest

from core.divisions import DIVISIONS, division_name, lineage, prefix_of


def test_a_county_is_named_with_its_prefecture_and_province() -> None:
    name = division_name(350122)
    assert name is not None
    assert (name.zh, name.en) == ("福建省福州市连江县", "Lianjiang County, Fuzhou, Fujian")
    assert name.exact and name.matched == "350122"


def test_an_unknown_county_is_named_by_its_longest_known_prefix() -> None:
    name = division_name(450799)
    assert name is not None
    assert (name.matched, name.zh, name.exact) == ("4507", "广西壮族自治区钦州市", False)
    assert name.en == "Qinzhou, Guangxi Zhuang Autonomous Region"


def test_prefixes_and_padded_codes_name_the_same_division() -> None:
    assert prefix_of(450000) == "45" and prefix_of(450700) == "4507" and prefix_of("4507") == "4507"
    for code in (45, "45", 450000):
        found = division_name(code)
        assert found is not None and found.zh == "广西壮族自治区" and found.exact


def test_every_case_region_has_a_name() -> None:
    for code, zh in ((4507, "钦州市"), (4505, "北海市"), (4506, "防城港市"), (350181, "福清市"),
                     (330922, "嵊泗县"), (3309, "舟山市"), (64, "宁夏回族自治区"),
                     (3502, "厦门市"), (46, "海南省"), (4403, "深圳市"),
                     (4228, "恩施土家族苗族自治州"), (3504, "三明市")):
        assert lineage(code)[-1].zh == zh


def test_all_34_province_level_divisions_are_known() -> None:
    provinces = [d for code, d in DIVISIONS.items() if len(code) == 2]
    assert len(provinces) == 34
    # every prefecture or county sits under a known province and prefecture
    for code in DIVISIONS:
        assert len(lineage(code)) == len(code) // 2, code


@pytest.mark.parametrize("code", [99, 990101, "4", "45x", 1234567, ""])
def test_unknown_or_malformed_codes_have_no_name(code: object) -> None:
    assert division_name(code) is None  # type: ignore[arg-type]
