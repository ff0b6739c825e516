"""Forest carbon-stock increment from permanent sample plots (the 碳票 / afforestation case).

Per tally line (count trees of one species, DBH D cm, height H m, on a plot of A m²):

    stem volume        V  = volume equation(D, H)                       m³ per tree
    biomass            B  = V × wood density × BEF × (1 + root:shoot)   t dry matter
    carbon             C  = B × carbon fraction                         t C
    per hectare           × 10 000 / A
    CO2                   × 44/12

the IPCC 2006 Guidelines Vol. 4 ch. 2 stock-difference method with the volume-based biomass
equation (eq. 2.8 with BCEF = D × BEF). A plot's stock change is its remeasurement stock minus
its baseline stock; the project increment is the mean change per hectare over the plots times
the project area, credited at the lower 90 % confidence bound (oracle.quantities).

Parameters (the species table below; a methodology registered on chain may supply its own):

- Volume: Chinese fir uses the binary standing-tree volume equation of the 杉木立木二元材积表,
  V = 0.000058777042 · D^1.9699831 · H^0.89646157 (D = 10 cm, H = 8 m → 0.035 m³, as tabulated).
  Species without an equation here use the form-factor method V = π/4 · (D/100)² · H · f with
  f = 0.42, below the 0.45–0.50 breast-height form factor typical of plantation stems (测树学),
  so the default errs low.
- Wood density, biomass expansion factor (BEF) and root:shoot ratio: the national default table
  for China's main plantation species in 造林项目碳汇计量与监测指南 (State Forestry
  Administration, 2011; carried into CCER AR-CM-001-V01 碳汇造林项目方法学 and LY/T 2253-2014).
- Carbon fraction of dry matter 0.47: IPCC 2006 Guidelines Vol. 4 ch. 4 Table 4.3 default.

Plots are the sampling unit. A plot surveyed at baseline but with no tally at remeasurement
lost all its trees and counts as zero stock; a plot first seen at remeasurement has no baseline
and is left out (its whole stock would otherwise be credited as growth).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from oracle.canonical import decimal_text
from oracle.quantities import (
    Quantity,
    c_to_co2,
    calc_context,
    deduction_percent,
    mean,
    uncertainty_percent,
)
from oracle.schemas import PlotMeasurement

PI = Decimal("3.14159265358979323846264338327950288419716939937510")
M2_PER_HA = Decimal(10_000)
IPCC_CARBON_FRACTION = Decimal("0.47")
DEFAULT_FORM_FACTOR = Decimal("0.42")

_SFA_2011 = "造林项目碳汇计量与监测指南 (SFA 2011) / AR-CM-001-V01 default table"


@dataclass(frozen=True)
class PowerVolume:
    """Binary volume equation V = a · D^b · H^c (m³; D in cm, H in m)."""

    a: Decimal
    b: Decimal
    c: Decimal
    source: str

    def volume_m3(self, dbh_cm: Decimal, height_m: Decimal) -> Decimal:
        with localcontext(calc_context()):
            return self.a * dbh_cm**self.b * height_m**self.c

    def describe(self) -> str:
        return f"V = {self.a}·D^{self.b}·H^{self.c} ({self.source})"


@dataclass(frozen=True)
class FormFactorVolume:
    """V = π/4 · (D/100)² · H · f: basal area at breast height × height × form factor."""

    form_factor: Decimal
    source: str

    def volume_m3(self, dbh_cm: Decimal, height_m: Decimal) -> Decimal:
        with localcontext(calc_context()):
            d_m = dbh_cm / 100
            return PI / 4 * d_m * d_m * height_m * self.form_factor

    def describe(self) -> str:
        return f"V = π/4·D²·H·{self.form_factor} ({self.source})"


@dataclass(frozen=True)
class SpeciesParameters:
    """Everything needed to turn a tree's DBH and height into carbon."""

    latin: str
    volume: PowerVolume | FormFactorVolume
    wood_density: Decimal  # t dry matter per m³ of fresh stem volume
    bef: Decimal  # above-ground biomass / stem biomass
    root_shoot: Decimal  # below-ground / above-ground biomass
    factors_source: str
    carbon_fraction: Decimal = IPCC_CARBON_FRACTION

    def carbon_t_per_m3(self) -> Decimal:
        """t C per m³ of stem volume, whole tree including roots."""
        with localcontext(calc_context()):
            return self.wood_density * self.bef * (1 + self.root_shoot) * self.carbon_fraction


_FORM_FACTOR = FormFactorVolume(DEFAULT_FORM_FACTOR, "conservative default form factor")

SPECIES: dict[str, SpeciesParameters] = {
    "杉木": SpeciesParameters(
        "Cunninghamia lanceolata",
        PowerVolume(
            Decimal("0.000058777042"),
            Decimal("1.9699831"),
            Decimal("0.89646157"),
            "杉木立木二元材积表",
        ),
        Decimal("0.307"),
        Decimal("1.634"),
        Decimal("0.246"),
        _SFA_2011,
    ),
    "马尾松": SpeciesParameters(
        "Pinus massoniana",
        _FORM_FACTOR,
        Decimal("0.380"),
        Decimal("1.472"),
        Decimal("0.187"),
        _SFA_2011,
    ),
    "桉树": SpeciesParameters(
        "Eucalyptus spp.",
        _FORM_FACTOR,
        Decimal("0.578"),
        Decimal("1.263"),
        Decimal("0.221"),
        _SFA_2011,
    ),
}


def tally_t_co2(
    m: PlotMeasurement, species_table: Mapping[str, SpeciesParameters] = SPECIES
) -> Decimal:
    """t CO2 per hectare represented by one tally line."""
    p = species_table[m.species]
    with localcontext(calc_context()):
        volume = p.volume.volume_m3(m.dbh_cm, m.height_m) * m.count
        carbon = volume * p.carbon_t_per_m3() * M2_PER_HA / m.plot_area_m2
        return c_to_co2(carbon)


def plot_stocks(
    measurements: Sequence[PlotMeasurement],
    *,
    baseline_until: date,
    species_table: Mapping[str, SpeciesParameters] = SPECIES,
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Per-plot stock (t CO2/ha) at baseline (measured on or before `baseline_until`) and at
    remeasurement (after it)."""
    baseline: dict[str, Decimal] = {}
    remeasured: dict[str, Decimal] = {}
    with localcontext(calc_context()):
        for m in measurements:
            target = baseline if m.measured <= baseline_until else remeasured
            target[m.plot_id] = target.get(m.plot_id, Decimal(0)) + tally_t_co2(m, species_table)
    return baseline, remeasured


def forest_increment(
    measurements: Sequence[PlotMeasurement],
    area_ha: Decimal,
    *,
    baseline_until: date,
    species_table: Mapping[str, SpeciesParameters] = SPECIES,
    minimum_deduction_percent: Decimal = Decimal(0),
) -> Quantity:
    """Carbon-stock increment of a forest area between two plot inventories, in on-chain units."""
    baseline, remeasured = plot_stocks(
        measurements, baseline_until=baseline_until, species_table=species_table
    )
    plots = sorted(baseline)
    if len(plots) < 2:
        raise ValueError("at least two plots with a baseline survey are needed")
    with localcontext(calc_context()):
        changes = [remeasured.get(p, Decimal(0)) - baseline[p] for p in plots]
        mean_change = mean(changes)
        gross = mean_change * area_ha
    deduction = deduction_percent(changes, minimum_deduction_percent)
    used = sorted({m.species for m in measurements})
    params: dict[str, str] = {
        "method": "plot stock difference: V × D × BEF × (1+R) × CF × 44/12",
        "area_ha": decimal_text(area_ha),
        "plots": str(len(plots)),
        "plots_without_baseline": str(len(set(remeasured) - set(baseline))),
        "mean_change_t_co2_per_ha": f"{mean_change:.6f}",
        "sampling_uncertainty_percent": f"{uncertainty_percent(changes):.4f}",
        "deduction_percent": f"{deduction:.4f}",
    }
    for s in used:
        p = species_table[s]
        params[f"species.{s}"] = (
            f"{p.latin}: {p.volume.describe()}; wood density {p.wood_density}, "
            f"BEF {p.bef}, R {p.root_shoot} ({p.factors_source}); "
            f"CF {p.carbon_fraction} (IPCC 2006 V4 Table 4.3)"
        )
    return Quantity.of(gross, deduction, params)
