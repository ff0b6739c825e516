"""The sample data set: deterministic, realistic faults, and end to end through the oracle core."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from devkit.sample_data import FOREST_AREA_HA, FOREST_BASELINE_UNTIL, main, write
from oracle.blue_carbon import Ecosystem, blue_carbon_removals, mapped_area_ha
from oracle.devices import DeviceRegistry
from oracle.forest import forest_increment
from oracle.loaders import load_records
from oracle.merkle import MerkleTree, verify_record
from oracle.period import Period
from oracle.readings import validate_readings
from oracle.records import (
    validate_kelp_harvests,
    validate_lab_samples,
    validate_plots,
    validate_scenes,
    validate_shellfish_harvests,
)
from oracle.report import ProjectSpec, calculate
from oracle.sediment import SedimentCore

DAYS = 8  # a week and a day: enough for outlier windows, quick to sign


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write(out, days=DAYS)
    return out


def test_the_generator_is_deterministic(dataset: Path, tmp_path: Path):
    main([str(tmp_path), "--days", str(DAYS)])
    for name in ("devices.json", "readings.csv", "scenes.json", "cores.csv", "plots.csv",
                 "kelp-harvests.csv", "shellfish-harvests.csv", "farm-cores.csv"):
        assert (tmp_path / name).read_bytes() == (dataset / name).read_bytes(), name


def test_a_clean_data_set_has_no_rejections(tmp_path: Path):
    manifest = write(tmp_path, days=2, faults=False)
    m = manifest["mangrove"]
    assert isinstance(m, dict)
    period = Period(*m["period"])
    result = validate_readings(
        load_records(tmp_path / "readings.csv"),
        registry=DeviceRegistry.load(tmp_path / "devices.json"),
        period=period,
        now=period.end,
    )
    assert result.reason_counts() == {}
    assert len(result.accepted) == 20 * 2 * 24 * 2


def test_readings_end_to_end_with_their_faults(dataset: Path):
    manifest = json.loads((dataset / "manifest.json").read_text())
    period = Period(*manifest["mangrove"]["period"])
    registry = DeviceRegistry.load(dataset / "devices.json")
    assert len([d for d in registry.devices.values() if d.active]) == 20
    result = validate_readings(
        load_records(dataset / "readings.csv"), registry=registry, period=period, now=period.end
    )
    counts = result.reason_counts()
    assert counts["revoked_device"] == 24
    assert counts["bad_signature"] == 2  # both metrics of one forged hour
    assert counts.get("statistical_outlier", 0) >= 15  # the biofouling spikes in these 8 days
    assert "duplicate_record" in counts
    assert result.total == manifest["mangrove"]["readings"]["records"]
    assert len(result.accepted) > 0.98 * 20 * 2 * 24 * DAYS
    tree = result.tree()
    some = result.records[len(result.records) // 2]
    assert verify_record(tree.record_proof(some), tree.root, some)


def test_calculators_on_the_sample_data(dataset: Path):
    year = Period.of_dates(date(2024, 1, 1), date(2025, 1, 1))
    cores = validate_lab_samples(load_records(dataset / "cores.csv"), period=year, now=year.end)
    scenes = validate_scenes(load_records(dataset / "scenes.json"), period=year, now=year.end)
    assert cores.reason_counts() == {} and scenes.reason_counts() == {}
    sections = [
        SedimentCore(
            s.core_id,
            s.depth_cm,
            str(s.accumulation_cm_per_yr),
            str(s.bulk_density_g_cm3),
            str(s.toc_percent),
            s.sampled.isoformat(),
        )
        for s in cores.accepted
    ]
    assert [c.canonical() for c in sections] == cores.records
    area = mapped_area_ha(scenes.accepted, "mangrove")
    mangrove = blue_carbon_removals(Ecosystem.MANGROVE, area, Decimal(1), cores=sections)
    # ≈ 1.4–1.8 t C/ha/yr over ≈ 250 ha: a plausible 1,100–1,700 t CO2e
    assert 1_100_000_000 < mangrove.quantity_units < 1_700_000_000

    manifest = json.loads((dataset / "manifest.json").read_text())
    forest = Period(*manifest["forest"]["period"])
    plots = validate_plots(load_records(dataset / "plots.csv"), period=forest, now=forest.end)
    assert plots.reason_counts() == {}
    q = forest_increment(plots.accepted, FOREST_AREA_HA, baseline_until=FOREST_BASELINE_UNTIL)
    per_ha_yr = q.gross_t_co2e / FOREST_AREA_HA / 5
    assert Decimal(8) < per_ha_yr < Decimal(25)  # a young southern plantation
    assert q.quantity_units > 0
    all_records = cores.records + scenes.records + plots.records
    tree = MerkleTree.of_records(all_records)
    assert all(verify_record(tree.record_proof(r), tree.root, r) for r in all_records[:50])


def test_the_sample_farms_validate_cleanly_and_give_plausible_tonnes(dataset: Path):
    manifest = json.loads((dataset / "manifest.json").read_text())
    period = Period(*manifest["kelp"]["period"])
    kelp = validate_kelp_harvests(load_records(dataset / "kelp-harvests.csv"), period=period,
                                  now=period.end)
    mussels = validate_shellfish_harvests(load_records(dataset / "shellfish-harvests.csv"),
                                          period=period, now=period.end)
    cores = validate_lab_samples(load_records(dataset / "farm-cores.csv"), period=period,
                                 now=period.end)
    assert kelp.reason_counts() == mussels.reason_counts() == cores.reason_counts() == {}
    kelp_spec = ProjectSpec.from_json({"project_id": 1, "code": manifest["kelp"]["project"],
                                       "calculator": "kelp",
                                       "area_ha": manifest["kelp"]["area_ha"]})
    q = calculate(kelp_spec, period, {"kelp-harvests": kelp})
    # ≈ 1,400 t of fresh kelp at ≈ 3.4 % C: ≈ 47 t C, of which ≈ 13 % in RDOC and sediment
    assert 15_000_000 < q.quantity_units < 30_000_000
    mussel_spec = ProjectSpec.from_json({"project_id": 2, "calculator": "shellfish",
                                         "code": manifest["shellfish"]["project"],
                                         "area_ha": manifest["shellfish"]["area_ha"]})
    q = calculate(mussel_spec, period, {"shellfish-harvests": mussels, "lab-samples": cores})
    # sediment under 667 ha (≈ 0.4–0.6 t C/ha/yr) dominates the shells' few hundred tonnes
    assert 800_000_000 < q.quantity_units < 1_600_000_000
