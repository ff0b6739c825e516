"""Sediment-core accounting against hand-worked numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oracle.blue_carbon import Ecosystem, blue_carbon_removals
from oracle.merkle import MerkleTree, leaf_hash, verify_proof
from oracle.quantities import Quantity
from oracle.sediment import SedimentCore, burial_by_core


def mangrove(cores: list[SedimentCore], area_ha: int, years: int = 1) -> Quantity:
    """Mangrove soil-carbon removals from site cores with the 10 % minimum deduction."""
    return blue_carbon_removals(Ecosystem.MANGROVE, Decimal(area_ha), Decimal(years),
                                cores=cores, minimum_deduction_percent=Decimal(10))


def test_burial_rate_of_one_section():
    # 0.5 cm/yr × 0.9 g/cm³ × 3.5 % = 0.01575 g C/cm²/yr = 1.575 t C/ha/yr
    core = SedimentCore("C1", 50, "0.5", "0.9", "3.5")
    assert core.burial_t_c_per_ha_yr() == Decimal("1.575")


def test_two_cores_with_the_ten_percent_minimum():
    # C1: 0.5 × 0.9 × 3.5 % × 100 = 1.575 t C/ha/yr; C2: 0.5 × 0.9 × 3.48 % × 100 = 1.566
    # mean 1.5705; with two cores SE = |a − b| / 2 = 0.0045; t(0.95, 1) = 6.314
    # uncertainty = 6.314 × 0.0045 / 1.5705 = 1.809 % < 10 %, so the 10 % minimum applies
    # 1.5705 × 100 ha × 1 yr × 44/12 = 575.85 t CO2e; less 10 % = 518.265 t = 518,265,000 units
    cores = [
        SedimentCore("C1", 50, "0.5", "0.9", "3.5"),
        SedimentCore("C2", 50, "0.5", "0.9", "3.48"),
    ]
    result = mangrove(cores, 100)
    assert Decimal(result.parameters["rate_t_c_per_ha_yr"]) == Decimal("1.5705")
    assert result.quantity_units == 518_265_000


def test_spread_between_cores_raises_the_deduction():
    # C1 1.575, C2: 0.5 × 0.9 × 3.3 % × 100 = 1.485; mean 1.53; SE = 0.09 / 2 = 0.045
    # uncertainty = 6.314 × 0.045 / 1.53 × 100 = 18.5705882…% → rounded up to 18.5706 %
    # 1.53 × 100 × 44/12 = 561 t; × (100 − 18.5706) / 100 = 561 × 0.814294 = 456.818934 t
    cores = [
        SedimentCore("C1", 50, "0.5", "0.9", "3.5"),
        SedimentCore("C2", 50, "0.5", "0.9", "3.3"),
    ]
    result = mangrove(cores, 100)
    assert result.deduction_percent == Decimal("18.5706")
    assert result.quantity_units == 456_818_934


def test_quantity_is_floored_to_whole_units():
    # C1: 0.123 × 0.77 × 3.33 % × 100 = 0.3153843; C2: 0.123 × 0.77 × 3.34 % × 100 = 0.3163314
    # mean 0.31585785 t C/ha/yr; SE = 0.0009471 / 2 = 0.00047355
    # uncertainty = 6.314 × 0.00047355 / 0.31585785 × 100 = 0.9466…% → the 10 % minimum
    # 0.31585785 × 1 ha × 44/12 = 1.158145450 t; less 10 % = 1.042330905 t
    # = 1,042,330.905 g, floored to 1,042,330 units
    cores = [
        SedimentCore("C1", 50, "0.123", "0.77", "3.33"),
        SedimentCore("C2", 50, "0.123", "0.77", "3.34"),
    ]
    assert mangrove(cores, 1).quantity_units == 1_042_330


def test_sections_of_one_core_are_averaged_before_the_cores():
    # core A: sections 1.575 and 1.485 → 1.53; core B: one section 1.53 → mean 1.53, spread 0
    sections = [
        SedimentCore("A", 10, "0.5", "0.9", "3.5"),
        SedimentCore("A", 30, "0.5", "0.9", "3.3"),
        SedimentCore("B", 10, "0.5", "0.9", "3.4"),
    ]
    assert burial_by_core(sections) == {"A": Decimal("1.53"), "B": Decimal("1.53")}


def test_a_single_core_cannot_say_how_uncertain_it_is():
    with pytest.raises(ValueError, match="two cores"):
        mangrove([SedimentCore("C1", 50, "0.5", "0.9", "3.5")], 1)


def test_every_core_has_a_proof_against_the_root():
    cores = [SedimentCore(f"C{i}", 50, "0.5", "0.9", f"3.{i}") for i in range(7)]
    tree = MerkleTree.of_records([c.canonical() for c in cores])
    for c in cores:
        assert verify_proof(
            tree.record_proof(c.canonical()), tree.root, leaf_hash(c.canonical())
        )
    tampered = SedimentCore("C0", 50, "0.5", "0.9", "9.9").canonical()
    assert not verify_proof(
        tree.record_proof(cores[0].canonical()), tree.root, leaf_hash(tampered)
    )
