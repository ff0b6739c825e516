"""Methodology calculators against hand-worked examples (the arithmetic is in the comments)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from oracle.blue_carbon import Ecosystem, blue_carbon_removals, mapped_area_ha
from oracle.forest import SPECIES, PowerVolume, SpeciesParameters, forest_increment
from oracle.kelp import KelpHarvest, kelp_removals
from oracle.quantities import deduction_percent, floor_units, t_critical, uncertainty_percent
from oracle.schemas import PlotMeasurement, RemoteSensingEstimate
from oracle.sediment import SedimentCore

# --- shared arithmetic ------------------------------------------------------------------------


def test_units_are_floored_grams_and_never_negative():
    assert floor_units(Decimal("326.4")) == 326_400_000
    assert floor_units(Decimal("0.0000019")) == 1
    assert floor_units(Decimal("-5")) == 0


def test_uncertainty_of_two_samples():
    # mean 1.53, SE = |1.575 − 1.485| / 2 = 0.045, t(1) = 6.314
    # 6.314 × 0.045 / 1.53 × 100 = 18.5705882…%, rounded up to 18.5706
    samples = [Decimal("1.575"), Decimal("1.485")]
    assert round(uncertainty_percent(samples), 6) == Decimal("18.570588")
    assert deduction_percent(samples, Decimal(0)) == Decimal("18.5706")
    assert deduction_percent(samples, Decimal(25)) == Decimal(25)


def test_t_values_round_degrees_of_freedom_down():
    assert t_critical(3) == Decimal("2.353")
    assert t_critical(35) == t_critical(30) == Decimal("1.697")
    assert t_critical(500) == Decimal("1.658")


# --- forest -----------------------------------------------------------------------------------

# A made-up species with round numbers so the example can be worked by hand:
# V = 0.0001 · D² · H; carbon per m³ = 0.5 × 1.2 × (1 + 0.25) × 0.4 = 0.3 t C.
TEST_SPECIES = {
    "T": SpeciesParameters(
        "Testus",
        PowerVolume(Decimal("0.0001"), Decimal(2), Decimal(1), "test"),
        Decimal("0.5"),
        Decimal("1.2"),
        Decimal("0.25"),
        "test",
        Decimal("0.4"),
    )
}


def plot(plot_id: str, measured: str, count: int, dbh: str, height: str) -> PlotMeasurement:
    return PlotMeasurement.model_validate(
        {
            "plot_id": plot_id,
            "plot_area_m2": "1000",
            "measured": measured,
            "species": "T",
            "dbh_cm": dbh,
            "height_m": height,
            "count": str(count),
        }
    )


def test_forest_increment_hand_worked():
    # Every plot at baseline: 10 trees, D 10 cm, H 10 m: V = 0.0001 × 100 × 10 = 0.1 m³ each,
    # 1.0 m³ per 1000 m² plot = 10 m³/ha → 10 × 0.3 = 3 t C/ha → × 44/12 = 11 t CO2/ha.
    # Remeasured, plots 1–3: 10 trees of 10 cm × 22 m → 0.22 m³ each = 2.2 m³ → 24.2 t CO2/ha;
    # plot 4 lost a tree: 9 of 10 cm × 20 m → 1.8 m³ → 19.8 t CO2/ha.
    # Changes 13.2, 13.2, 13.2, 8.8: mean 12.1; deviations 1.1, 1.1, 1.1, −3.3;
    # s² = (3 × 1.21 + 10.89) / 3 = 4.84, s = 2.2, SE = 2.2 / √4 = 1.1; t(3) = 2.353
    # uncertainty = 2.353 × 1.1 / 12.1 × 100 = 21.390909…% → 21.3910 %
    # gross = 12.1 t/ha × 100 ha = 1210 t; net = 1210 × 0.78609 = 951.1689 t
    measurements = [plot(p, "2019-11-04", 10, "10", "10") for p in ("P1", "P2", "P3", "P4")]
    measurements += [plot(p, "2024-11-04", 10, "10", "22") for p in ("P1", "P2", "P3")]
    measurements.append(plot("P4", "2024-11-06", 9, "10", "20"))
    q = forest_increment(
        measurements, Decimal(100), baseline_until=date(2019, 12, 31), species_table=TEST_SPECIES
    )
    assert q.gross_t_co2e == Decimal("1210")
    assert q.deduction_percent == Decimal("21.3910")
    assert q.quantity_units == 951_168_900


def test_a_plot_that_burnt_counts_as_zero_and_a_new_plot_is_left_out():
    # P1, P2 grow 11 → 24.2 (Δ 13.2); P3 has no remeasurement tally: 11 → 0 (Δ −11);
    # P9 appears only at remeasurement and is ignored.
    measurements = [plot(p, "2019-11-04", 10, "10", "10") for p in ("P1", "P2", "P3")]
    measurements += [plot(p, "2024-11-04", 10, "10", "22") for p in ("P1", "P2", "P9")]
    q = forest_increment(
        measurements, Decimal(1), baseline_until=date(2019, 12, 31), species_table=TEST_SPECIES
    )
    assert q.parameters["plots"] == "3"
    assert q.parameters["plots_without_baseline"] == "1"
    # mean change (13.2 + 13.2 − 11) / 3 = 5.1333… t/ha
    assert q.parameters["mean_change_t_co2_per_ha"] == "5.133333"


def test_chinese_fir_volume_equation_reproduces_the_published_table():
    # 杉木立木二元材积表: D 10 cm, H 8 m → 0.035 m³ (three decimals, as tabulated)
    v = SPECIES["杉木"].volume.volume_m3(Decimal(10), Decimal(8))
    assert round(v, 3) == Decimal("0.035")


def test_species_parameters_cite_their_sources():
    q = forest_increment(
        [
            PlotMeasurement.model_validate(
                {"plot_id": p, "plot_area_m2": "600", "measured": d, "species": "杉木",
                 "dbh_cm": dbh, "height_m": "10", "count": "50"}
            )
            for p in ("A", "B") for d, dbh in (("2019-11-04", "10"), ("2024-11-04", "14"))
        ],
        Decimal(10),
        baseline_until=date(2019, 12, 31),
    )  # fmt: skip
    assert "IPCC 2006" in q.parameters["species.杉木"]
    assert "造林项目碳汇计量与监测指南" in q.parameters["species.杉木"]
    assert q.quantity_units > 0


# --- blue carbon ------------------------------------------------------------------------------


def test_mangrove_default_rate_is_the_lower_ipcc_bound():
    # 1.3 t C/ha/yr (IPCC 2013 Wetlands Table 4.12 lower bound) × 100 ha × 1 yr × 44/12
    # = 476.666… t CO2e → 476,666,666 units (floored)
    q = blue_carbon_removals(Ecosystem.MANGROVE, Decimal(100), Decimal(1))
    assert q.quantity_units == 476_666_666


def test_seagrass_default_over_two_years_with_a_minimum_deduction():
    # 0.2 × 10 ha × 2 yr × 44/12 = 14.666… t; less 5 % = 13.9333… t → 13,933,333 units
    q = blue_carbon_removals(
        Ecosystem.SEAGRASS, Decimal(10), Decimal(2), minimum_deduction_percent=Decimal(5)
    )
    assert q.quantity_units == 13_933_333


def test_salt_marsh_from_cores():
    # cores 1.575 and 1.485 t C/ha/yr (see test_uncertainty_of_two_samples): mean 1.53,
    # deduction 18.5706 %; 1.53 × 50 ha × 1 yr × 44/12 = 280.5 t; × 0.814294 = 228.409467 t
    cores = [
        SedimentCore("A", 10, "0.5", "0.9", "3.5"),
        SedimentCore("B", 10, "0.5", "0.9", "3.3"),
    ]
    q = blue_carbon_removals(Ecosystem.SALT_MARSH, Decimal(50), Decimal(1), cores=cores)
    assert q.quantity_units == 228_409_467


def test_area_comes_from_the_smallest_mapped_extent():
    scenes = [
        RemoteSensingEstimate.model_validate(
            {
                "scene_id": f"S{i}",
                "sensor": "Sentinel-2 MSI",
                "acquired": f"2024-0{i}-01",
                "model_id": "m1",
                "class_areas_ha": areas,
            }
        )
        for i, areas in enumerate(({"mangrove": "253.3"}, {"mangrove": "248.9"}, {"water": "9"}), 1)
    ]
    assert mapped_area_ha(scenes[:2], "mangrove") == Decimal("248.9")
    assert mapped_area_ha(scenes, "mangrove") == Decimal(0)


# --- kelp -------------------------------------------------------------------------------------


def test_kelp_hand_worked():
    # lot 1: 100 t fresh, 12 % dry matter × 25 % C of dry = 3.0 % C of fresh → 3.0 t C
    # lot 2: 200 t fresh, 10 % × 32 % = 3.2 % → 6.4 t C; total 9.4 t C × 44/12 = 34.4666… t
    # contents 3.0, 3.2: mean 3.1, SE 0.1; 6.314 × 0.1 / 3.1 × 100 = 20.367741…% → 20.3678 %
    # 34.4666… × 0.796322 = 27.4465649… t → 27,446,564 units
    q = kelp_removals(
        [
            KelpHarvest("L1", "2024-04-01", Decimal(100), Decimal(12), Decimal(25)),
            KelpHarvest("L2", "2024-04-20", Decimal(200), Decimal(10), Decimal(32)),
        ]
    )
    assert q.deduction_percent == Decimal("20.3678")
    assert q.quantity_units == 27_446_564


def test_kelp_without_lab_analysis_uses_the_default_and_a_20_percent_deduction():
    # 500 t × 3.0 % = 15 t C × 44/12 = 55 t CO2; less 20 % = 44 t → 44,000,000 units
    q = kelp_removals([KelpHarvest("L1", "2024-04-01", Decimal(500))])
    assert q.quantity_units == 44_000_000


def test_calculators_refuse_what_they_cannot_estimate():
    with pytest.raises(ValueError):
        kelp_removals([])
    with pytest.raises(ValueError):
        blue_carbon_removals(
            Ecosystem.MANGROVE, Decimal(1), Decimal(1), cores=[SedimentCore("A", 5, "1", "1", "1")]
        )
    with pytest.raises(ValueError):
        forest_increment(
            [plot("P1", "2019-11-04", 1, "10", "10")],
            Decimal(1),
            baseline_until=date(2019, 12, 31),
            species_table=TEST_SPECIES,
        )
