"""Sample forest parcels sized for a case's figures: the plots are as measured, the area is the
smallest (to 10⁻⁶ ha) whose increment reaches the target."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devkit.forest_parcels import _AREA_STEP, _parcel, forest_for_target
from devkit.sample_data import plots

TONNE = 1_000_000


def test_a_parcel_reaches_its_target_with_the_smallest_area() -> None:
    parcel = forest_for_target(8_214 * TONNE, seed=1)
    assert parcel.quantity_units >= 8_214 * TONNE
    smaller = Decimal(parcel.spec["area_ha"]) - _AREA_STEP
    assert _parcel("x", smaller, plots(1)).quantity_units < 8_214 * TONNE
    assert parcel.spec["calculator"] == "forest_increment"
    assert list(parcel.files) == ["plots.csv"]


def test_a_target_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError):
        forest_for_target(0)
