"""The edge of compensation orders: request shapes refused with stable codes before any
transaction, and their translation into the contract's terms."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.compensation_terms import UINT64_MAX, OrderIn, cny, present, year_of, year_start
from core.config import Settings

HASH = "0x" + "ab" * 32
MEMBER = "0x" + "11" * 20
SETTINGS = Settings(public_url="https://registry.tanhui.example",
                    _env_file=None)  # type: ignore[call-arg]


def order(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "case_number": "（2025）浙0922刑初45号", "required_tonnes": "500",
        "categories": ["shellfish"], "regions": ["3309"], "deadline": 4_000_000_000,
        "parties": [MEMBER], "party_names": ["某养殖公司"], "document_hash": HASH,
    }
    body.update(over)
    return body


def code_of(body: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as err:
        OrderIn.model_validate(body)
    return str(err.value.errors()[0]["type"])


def test_an_order_without_an_eligible_category_is_refused() -> None:
    assert code_of(order(categories=[])) == "no_eligible_category"


def test_an_unknown_category_is_refused() -> None:
    assert code_of(order(categories=["coal"])) == "literal_error"


def test_a_cny_amount_with_a_fraction_of_a_fen_is_refused() -> None:
    assert code_of(order(required_tonnes=None, required_cny="50000.005")) == "amount_too_precise"


def test_a_cny_amount_in_yuan_becomes_fen() -> None:
    o = OrderIn.model_validate(order(required_tonnes=None, required_cny="50000.5"))
    assert o.required_cny == 5_000_050
    assert o.contract_terms()["unit"] == 1 and o.contract_terms()["required"] == 5_000_050


def test_tonnes_and_cny_together_are_refused() -> None:
    assert code_of(order(required_cny="100")) == "required_amount_missing"


def test_neither_tonnes_nor_cny_is_refused() -> None:
    assert code_of(order(required_tonnes=None)) == "required_amount_missing"


def test_an_order_with_no_member_party_needs_the_authority_to_pay() -> None:
    assert code_of(order(parties=[])) == "no_paying_party"
    OrderIn.model_validate(order(parties=[], authority_pays=True))


def test_a_region_is_a_two_four_or_six_digit_prefix() -> None:
    for bad in ("4", "450", "4507021", "0450", "guangxi"):
        assert code_of(order(regions=[bad])) == "invalid_division_prefix", bad
    o = OrderIn.model_validate(order(regions=["45", "4507", "450702"]))
    assert o.contract_terms()["regions"] == [45, 4507, 450702]


def test_a_reversed_vintage_window_is_refused() -> None:
    assert code_of(order(vintage_from=2025, vintage_to=2024)) == "invalid_vintage"


def test_a_vintage_window_covers_whole_china_time_years() -> None:
    t = OrderIn.model_validate(order(vintage_from=2024, vintage_to=2025)).contract_terms()
    assert t["vintageFrom"] == year_start(2024) and t["vintageTo"] == year_start(2026)
    assert year_of(year_start(2024)) == 2024 and year_of(year_start(2024) - 1) == 2023
    open_ = OrderIn.model_validate(order()).contract_terms()
    assert (open_["vintageFrom"], open_["vintageTo"]) == (0, UINT64_MAX)


def test_a_party_listed_twice_is_refused() -> None:
    assert code_of(order(parties=[MEMBER, MEMBER])) == "duplicate_party"


def test_presented_orders_give_amounts_in_their_unit() -> None:
    row = {"id": 1, "case_number": "c", "authority": MEMBER, "unit": "fen",
           "required": 5_000_000, "fulfilled": 1_234_567, "retired_amount": 12_345_670,
           "status": "partly_fulfilled", "category_mask": 1 << 5, "regions": [3309],
           "vintage_from": year_start(2024), "vintage_to": year_start(2026), "deadline": 1,
           "parties": [], "party_names": ["x"], "authority_pays": True, "document_hash": HASH}
    out = present(row, SETTINGS)
    assert (out["required"], out["fulfilled"], out["remaining"]) == \
        ("50000.00", "12345.67", "37654.33")
    assert out["retired"] == "12.34567" and out["categories"] == ["shellfish"]
    assert (out["vintage_from"], out["vintage_to"]) == (2024, 2025)
    assert cny(5) == "0.05"
    assert out["certificate_url"] == \
        "https://registry.tanhui.example/v1/compensation/orders/1/certificate"
