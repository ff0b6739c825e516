"""Blue carbon — mangrove, salt marsh, seagrass: area × soil carbon accumulation rate.

    removal (t CO2e) = area (ha) × rate (t C/ha/yr) × years × 44/12 × (1 − deduction)

Rate, in order of preference:

1. Site-specific, from dated sediment cores (oracle.sediment): the mean of the per-core burial
   rates, credited at the lower bound of its 90 % confidence interval (oracle.quantities); the
   approach of the IPCC 2013 Wetlands Supplement, ch. 4, Tier 2/3 (country- or site-specific
   accumulation rates), and of the seeds' sediment-carbon projects (连江, 嵊泗).
2. Without cores, the Tier 1 default soil carbon accumulation rates of the IPCC 2013 Supplement
   to the 2006 IPCC Guidelines: Wetlands, Table 4.12 — mangrove 1.62, tidal (salt) marsh 0.91,
   seagrass 0.43 t C/ha/yr — taken at the lower end of their published 95 % ranges (1.3, 0.7,
   0.2), since a default says nothing about this site.

Only soil carbon accumulation is credited; above-ground biomass growth of mangroves is left out,
which is conservative. Area should come from remote sensing (`mapped_area_ha`: the smallest
area any scene in the period maps for the class, so a storm that strips a stand mid-year counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from enum import StrEnum

from oracle.canonical import decimal_text
from oracle.quantities import (
    Quantity,
    c_to_co2,
    calc_context,
    deduction_percent,
    mean,
    uncertainty_percent,
)
from oracle.schemas import RemoteSensingEstimate
from oracle.sediment import SedimentCore, burial_by_core


class Ecosystem(StrEnum):
    MANGROVE = "mangrove"
    SALT_MARSH = "salt_marsh"
    SEAGRASS = "seagrass"


@dataclass(frozen=True)
class DefaultRate:
    """A Tier 1 soil carbon accumulation rate, t C/ha/yr: central value and conservative lower
    bound of the published range."""

    central: Decimal
    lower: Decimal
    source: str


_IPCC_WETLANDS = "IPCC 2013 Wetlands Supplement, ch. 4, Table 4.12"
DEFAULT_RATES: dict[Ecosystem, DefaultRate] = {
    Ecosystem.MANGROVE: DefaultRate(Decimal("1.62"), Decimal("1.3"), _IPCC_WETLANDS),
    Ecosystem.SALT_MARSH: DefaultRate(Decimal("0.91"), Decimal("0.7"), _IPCC_WETLANDS),
    Ecosystem.SEAGRASS: DefaultRate(Decimal("0.43"), Decimal("0.2"), _IPCC_WETLANDS),
}


def mapped_area_ha(estimates: Sequence[RemoteSensingEstimate], land_class: str) -> Decimal:
    """The smallest area any scene maps for `land_class` (0 where a scene maps none of it)."""
    if not estimates:
        raise ValueError("no remote-sensing estimates to take an area from")
    return min(e.class_areas_ha.get(land_class, Decimal(0)) for e in estimates)


def blue_carbon_removals(
    ecosystem: Ecosystem,
    area_ha: Decimal,
    years: Decimal,
    *,
    cores: Sequence[SedimentCore] | None = None,
    minimum_deduction_percent: Decimal = Decimal(0),
) -> Quantity:
    """Soil carbon removals of a coastal wetland over `years`, in on-chain units."""
    if area_ha < 0 or years <= 0:
        raise ValueError("area must be non-negative and years positive")
    params: dict[str, str] = {
        "method": "area × soil carbon accumulation rate × 44/12",
        "ecosystem": str(ecosystem),
        "area_ha": decimal_text(area_ha),
        "years": decimal_text(years),
    }
    if cores:
        rates = list(burial_by_core(cores).values())
        if len(rates) < 2:
            raise ValueError("at least two cores are needed to estimate the burial rate")
        rate = mean(rates)
        deduction = deduction_percent(rates, minimum_deduction_percent)
        params.update(
            rate_t_c_per_ha_yr=f"{rate:.6f}",
            rate_source=f"site cores (n={len(rates)}), mean burial rate",
            sampling_uncertainty_percent=f"{uncertainty_percent(rates):.4f}",
        )
    else:
        default = DEFAULT_RATES[ecosystem]
        rate = default.lower
        deduction = minimum_deduction_percent
        params.update(
            rate_t_c_per_ha_yr=decimal_text(rate),
            rate_source=f"{default.source} (lower bound; central {default.central})",
        )
    with localcontext(calc_context()):
        gross = c_to_co2(area_ha * rate * years)
    params["deduction_percent"] = f"{deduction:.4f}"
    return Quantity.of(gross, deduction, params)
