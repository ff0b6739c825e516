"""Forest carbon-ticket parcels (林业碳票) whose plot inventories give a chosen quantity: sample
monitoring data for scenarios that need the real figures of a case (e.g. Sanming's five parcels).

The forest calculator (oracle.forest) credits the mean stock change per hectare over the plots
times the parcel's area, less the sampling-uncertainty deduction: for fixed plots the quantity
grows linearly with the area. So the plots of one seed are kept as they were measured and only
the area (six decimals of a hectare, what the spec allows) is chosen, the smallest whose quantity
reaches the target — the verifier then signs the target itself, at or below what was attested.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

from devkit.sample_data import (
    FOREST_BASELINE_UNTIL,
    FOREST_END,
    FOREST_START,
    PLOT_HEADER,
    FarmData,
    plots,
)
from oracle.period import Period, date_start
from oracle.report import KINDS, ProjectSpec, calculate, validate_kind
from oracle.results import raw_records

FOREST_PERIOD = Period(date_start(FOREST_START), date_start(FOREST_END))
_AREA_STEP = Decimal("0.000001")


def _parcel(code: str, area_ha: Decimal, rows: list[list[str]]) -> FarmData:
    spec: dict[str, Any] = {"code": code, "calculator": "forest_increment",
                            "area_ha": str(area_ha),
                            "baseline_until": FOREST_BASELINE_UNTIL.isoformat()}
    kind = next(k for k in KINDS if "plots.csv".startswith(k))
    result = validate_kind(kind, raw_records([dict(zip(PLOT_HEADER, r, strict=True))
                                              for r in rows]),
                           registry=None, period=FOREST_PERIOD, now=FOREST_PERIOD.end)
    if result.rejected:
        raise ValueError(f"plots.csv: {result.rejected[0].reason}")
    q = calculate(ProjectSpec.from_json({"project_id": 0, **spec}), FOREST_PERIOD,
                  {kind: result})
    return FarmData(spec, FOREST_PERIOD, {"plots.csv": (PLOT_HEADER, rows)}, q.quantity_units)


def forest_for_target(target_units: int, *, seed: int = 2024,
                      code: str = "FJ-SM-FT") -> FarmData:
    """A forest parcel (2019 and 2024 inventories of 24 plots, seed `seed`) whose computed
    increment is at least `target_units`, with the smallest such area (to 10⁻⁶ ha)."""
    if target_units <= 0:
        raise ValueError("the target must be positive")
    rows = plots(seed)
    # the rate per hectare from a large area, so its rounding to a unit does not matter
    large = _parcel(code, Decimal(1_000_000), rows)
    if large.quantity_units <= 0:
        raise ValueError(f"the plots of seed {seed} show no increment")
    area = (Decimal(target_units) * 1_000_000 / Decimal(large.quantity_units)).quantize(
        _AREA_STEP, rounding=ROUND_CEILING)
    parcel = _parcel(code, area, rows)
    for _ in range(1_000):
        if parcel.quantity_units < target_units:
            area += _AREA_STEP
            parcel = _parcel(code, area, rows)
            continue
        smaller = _parcel(code, area - _AREA_STEP, rows)
        if smaller.quantity_units < target_units:
            return parcel
        area, parcel = area - _AREA_STEP, smaller
    raise AssertionError("the area did not settle on the target")  # pragma: no cover
