"""Tonne amounts convert to on-chain units exactly or not at all."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.units import AmountError, format_units, to_units


@pytest.mark.parametrize(("text", "units"), [("326.4", 326_400_000), ("483.88", 483_880_000),
                                             ("0.000001", 1), ("500", 500_000_000)])
def test_seed_case_amounts_are_exact(text, units):
    assert to_units(text) == units


@pytest.mark.parametrize(("text", "code"), [("0", "amount_not_positive"),
                                            ("-1", "amount_not_positive"),
                                            ("0.0000001", "amount_too_precise"),
                                            ("abc", "invalid_amount"), ("NaN", "invalid_amount"),
                                            ("1e30", "amount_too_large")])
def test_bad_amounts_are_rejected_with_a_code(text, code):
    with pytest.raises(AmountError) as e:
        to_units(text)
    assert e.value.code == code


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_format_then_parse_round_trips(units):
    assert to_units(format_units(units)) == units
