"""Kelp and shellfish farm calculators: hand-worked figures (the arithmetic is in the comments),
selection by a monitoring spec, refusals with stable reasons, and properties of the result."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st

from devkit.sample_data import (
    FARM_PERIOD,
    LIANJIANG_TARGET_UNITS,
    SHENGSI_TARGET_UNITS,
    farm_for_target,
)
from devkit.scenario import Scenario, doc
from oracle.kelp import KelpHarvest, kelp_farm_removals
from oracle.loaders import parse_csv_records, parse_json_records
from oracle.mariculture import FactorError
from oracle.records import validate_kelp_harvests, validate_shellfish_harvests
from oracle.report import ProjectSpec, ReportError, build_report
from oracle.results import raw_records
from oracle.schemas import KelpHarvestRecord, ShellfishHarvestRecord
from oracle.sediment import SedimentCore
from oracle.shellfish import ShellfishHarvest, shellfish_removals
from registry.ledger import Ledger, ReportStatus
from tests.support.oracle_inbox import node

D = Decimal
YEAR = FARM_PERIOD
ROUND_FACTORS = {"doc_share_of_npp_percent": D(20), "rdoc_share_of_doc_percent": D(40),
                 "burial_share_of_npp_percent": D(2)}
CORES = [SedimentCore("A", 10, "0.5", "0.9", "3.5"), SedimentCore("B", 10, "0.5", "0.9", "3.3")]


def two_kelp_lots() -> list[KelpHarvest]:
    # L1: 100 t × (12 % dry matter × 25 % C of dry) = 100 × 3.0 % = 3.0 t C
    # L2: 156.25 t × (10 % × 32 %) = 156.25 × 3.2 % = 5.0 t C;  C_h = 8.0 t C
    return [KelpHarvest("L1", "2024-04-01", D(100), D(12), D(25)),
            KelpHarvest("L2", "2024-04-20", D("156.25"), D(10), D(32))]


def two_bivalve_lots() -> list[ShellfishHarvest]:
    # L1 mussel: 100 t × 50 % shell × 12 % C (CaCO3 default) = 6.0 t C
    # L2 oyster: 100 t × 60 % shell × 11.5 % C (lab) = 6.9 t C;  shell C = 12.9 t
    return [ShellfishHarvest("L1", "2024-06-01", "mussel", D(100), D(50)),
            ShellfishHarvest("L2", "2024-06-02", "oyster", D(100), D(60), D("11.5"))]


# --- kelp -------------------------------------------------------------------------------------


def test_kelp_sediment_and_rdoc_hand_worked():
    # C_h = 8.0 t C; factors DOC 20 % of NPP, RDOC 40 % of DOC, burial 2 % of NPP:
    # NPP = 8.0 / (1 − 0.20) = 10 t C; RDOC = 10 × 0.20 × 0.40 = 0.8 t C; sediment = 0.2 t C
    # 1.0 t C × 44/12 = 3.6666… t CO2e; lot contents 3.0 and 3.2 % → deduction 20.3678 %
    # (6.314 × 0.1 / 3.1 × 100, rounded up); 3.6666… × 0.796322 = 2.9198473… t → 2,919,847
    q = kelp_farm_removals(two_kelp_lots(), years=D(1), area_ha=D(10), factors=ROUND_FACTORS)
    assert q.parameters["npp_carbon_t"] == "10.000000"
    assert q.parameters["rdoc_carbon_t"] == "0.800000"
    assert q.parameters["sediment_carbon_t"] == "0.200000"
    assert q.quantity_units == 2_919_847


def test_kelp_with_the_default_factors_and_an_unanalysed_lot():
    # 1000 t × 3.0 % (default content) = 30 t C; NPP = 30 / 0.763 = 39.3184796…
    # RDOC = NPP × 0.237 × 0.378 = 3.5223853…; sediment = NPP × 1.0 % = 0.3931847…
    # 3.9155701… t C × 44/12 = 14.3570904… t; less the 20 % default-content deduction
    # = 11.4856723… t → 11,485,672 units
    q = kelp_farm_removals([KelpHarvest("L1", "2024-04-01", D(1000))], years=D(1), area_ha=D(1))
    assert q.quantity_units == 11_485_672
    assert "Gao et al. 2021" in q.parameters["factor.doc_share_of_npp_percent"]
    assert "(default;" in q.parameters["factor.rdoc_share_of_doc_percent"]


def test_kelp_harvest_carbon_is_credited_only_when_the_spec_lists_it():
    # adding "harvest": 8.0 t C × 44/12 = 29.3333… t more gross at the same 20.3678 %
    # (3.6666… + 29.3333…) × 0.796322 = 33 × 0.796322 = 26.278626 t
    q = kelp_farm_removals(two_kelp_lots(), years=D(1), area_ha=D(10), factors=ROUND_FACTORS,
                           components=["harvest", "sediment", "rdoc"])
    assert q.quantity_units == 26_278_626


def test_kelp_sediment_from_cores_replaces_the_burial_share():
    # cores 1.575 and 1.485 t C/ha/yr: mean 1.53, deduction 18.5706 %; 10 ha × 1 yr × 44/12
    # = 56.1 t × 0.814294 = 45.6818934 t; RDOC 0.8 t C × 44/12 = 2.9333… t × 0.796322
    # = 2.3358778… t; total 48.0177712… t → 48,017,771 units
    q = kelp_farm_removals(two_kelp_lots(), years=D(1), area_ha=D(10), cores=CORES,
                           factors=ROUND_FACTORS)
    assert q.quantity_units == 48_017_771


# --- shellfish --------------------------------------------------------------------------------


def test_shell_carbon_net_of_calcification_hand_worked():
    # shell C 12.9 t × (1 − ψ 0.6) = 5.16 t C × 44/12 = 18.92 t CO2e
    # contents 6.0 and 6.9 % of fresh weight: mean 6.45, SE 0.45, 6.314 × 0.45 / 6.45 × 100
    # = 44.0511…% → 44.0512 %; 18.92 × 0.559488 = 10.58551296 t → 10,585,512 units
    q = shellfish_removals(two_bivalve_lots(), years=D(1), area_ha=D(10))
    assert q.quantity_units == 10_585_512
    assert q.parameters["sediment_source"].startswith("no cores")


def test_shellfish_sediment_and_rdoc_from_cores():
    # shell as above 10.58551296 t; sediment 56.1 t × 0.814294 = 45.6818934 t;
    # RDOC 10 % of sediment: 5.61 t × 0.814294 = 4.56818934 t; sum 60.8355957 t → 60,835,595
    q = shellfish_removals(two_bivalve_lots(), years=D(1), area_ha=D(10), cores=CORES,
                           factors={"rdoc_share_of_sediment_percent": D(10)})
    assert q.quantity_units == 60_835_595


def test_a_higher_calcification_ratio_credits_less_shell_carbon():
    # ψ 1.0: no shell carbon at all
    q = shellfish_removals(two_bivalve_lots(), years=D(1), area_ha=D(10),
                           factors={"calcification_release_ratio": D(1)})
    assert q.quantity_units == 0


# --- spec selection and reports ---------------------------------------------------------------


def write_project(tmp: Path, spec: Mapping[str, object], name: str, text: str) -> Path:
    project = tmp / "7"
    data = project / f"{YEAR.start}-{YEAR.end}"
    data.mkdir(parents=True)
    (project / "project.json").write_text(json.dumps({"project_id": 7, **spec}))
    (data / name).write_text(text)
    return project


def test_a_kelp_spec_selects_the_kelp_calculator_and_builds_a_report(tmp_path: Path):
    spec = {"code": "FJ-LJ-1", "calculator": "kelp", "area_ha": "10",
            "factors": {k: str(v) for k, v in ROUND_FACTORS.items()}}
    csv = ("lot_id,harvested,fresh_weight_t,dry_matter_percent,carbon_percent_dry\n"
           "L1,2024-04-01,100,12,25\nL2,2024-04-20,156.25,10,32\n")
    report = build_report(write_project(tmp_path, spec, "kelp-harvests.csv", csv), YEAR,
                          now=YEAR.end)
    assert report.quantity_units == 2_919_847
    assert len(report.root) == 32
    assert report.summary()["project"]["factors"]["doc_share_of_npp_percent"] == "20"
    record = report.records()[0]
    assert report.prove(record).verify(report.root)


def test_a_shellfish_spec_selects_the_shellfish_calculator_and_builds_a_report(tmp_path: Path):
    spec = {"code": "ZJ-SS-1", "calculator": "shellfish", "area_ha": "10",
            "components": ["shell"]}
    csv = ("lot_id,harvested,species,fresh_weight_t,shell_percent,shell_carbon_percent\n"
           "L1,2024-06-01,mussel,100,50,\nL2,2024-06-02,oyster,100,60,11.5\n")
    report = build_report(write_project(tmp_path, spec, "shellfish-harvests.csv", csv), YEAR,
                          now=YEAR.end)
    assert report.quantity_units == 10_585_512
    assert report.summary()["project"]["components"] == ["shell"]
    assert report.counts()["shellfish-harvests"]["accepted"] == 2


def test_the_lianjiang_farm_reaches_its_326_4_tonnes(tmp_path: Path):
    farm = farm_for_target("kelp", LIANJIANG_TARGET_UNITS)
    farm.write(tmp_path / "1", 1)
    report = build_report(tmp_path / "1", YEAR, now=YEAR.end)
    assert report.quantity_units == farm.quantity_units
    assert LIANJIANG_TARGET_UNITS <= report.quantity_units < LIANJIANG_TARGET_UNITS * 1001 // 1000


def test_the_shengsi_mussel_farm_reaches_its_500_tonnes(tmp_path: Path):
    farm = farm_for_target("shellfish", SHENGSI_TARGET_UNITS, cores=True,
                           components=["sediment", "rdoc"])
    farm.write(tmp_path / "2", 2)
    report = build_report(tmp_path / "2", YEAR, now=YEAR.end)
    assert report.quantity_units == farm.quantity_units >= SHENGSI_TARGET_UNITS
    shells = farm_for_target("shellfish", SHENGSI_TARGET_UNITS)  # from shells alone
    assert SHENGSI_TARGET_UNITS <= shells.quantity_units < SHENGSI_TARGET_UNITS * 1001 // 1000


@pytest.mark.parametrize(("calculator", "target"), [("kelp", LIANJIANG_TARGET_UNITS),
                                                    ("shellfish", SHENGSI_TARGET_UNITS)])
def test_two_nodes_attest_a_farm_report_on_chain_and_it_is_issued(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path,
    calculator: Literal["kelp", "shellfish"], target: int
) -> None:
    s = Scenario(ledger, acc)
    project = s.project(s.methodology())
    farm = farm_for_target(calculator, target)
    inbox = tmp_path / "inbox"
    farm.write(inbox / str(project), project)
    for seat in ("oracle1", "oracle2"):
        node(ledger, acc, seat, inbox, tmp_path / "state").run_once()
    report_id = ledger.report_of(project, YEAR.start, YEAR.end)
    report = ledger.report(report_id)
    expected = build_report(inbox / str(project), YEAR, now=YEAR.end)
    assert report.status == ReportStatus.ATTESTED
    assert bytes(report.merkle_root) == expected.root
    assert report.attested_quantity == farm.quantity_units >= target
    ledger.verify_report(acc["verifier"], report_id, farm.quantity_units, doc("v"))
    assert ledger.batch(ledger.issue(acc["operator"], report_id).id).issued == farm.quantity_units


@pytest.mark.parametrize(("spec", "category"), [
    ({"calculator": "kelp"}, "macroalgae"),
    ({"calculator": "shellfish"}, "shellfish"),
    ({"calculator": "blue_carbon", "ecosystem": "seagrass"}, "seagrass"),
    ({"calculator": "forest_increment", "baseline_until": "2019-12-31"}, "forest"),
])
def test_a_spec_names_the_sink_category_its_calculator_measures(spec: dict[str, object],
                                                                category: str):
    full = {"project_id": 1, "code": "X", "area_ha": "1", **spec}
    assert ProjectSpec.from_json(full).sink_category == category


def test_existing_specs_keep_their_report_document():
    spec = ProjectSpec.from_json({"project_id": 1, "code": "X", "calculator": "blue_carbon",
                                  "area_ha": "1"})
    assert set(spec.to_json()) == {"project_id", "code", "calculator", "area_ha",
                                   "minimum_deduction_percent", "ecosystem", "land_class"}


@pytest.mark.parametrize(("spec", "message"), [
    ({"calculator": "kelp", "factors": {"rdoc_share_of_doc_percent": "60"}},
     "factor rdoc_share_of_doc_percent = 60 % of DOC is outside [0, 48]"),
    ({"calculator": "shellfish", "factors": {"calcification_release_ratio": "0.5"}},
     "factor calcification_release_ratio = 0.5 mol CO2/mol CaCO3 is outside [0.6, 1]"),
    ({"calculator": "kelp", "factors": {"carbon_sink": "1"}}, "unknown factor 'carbon_sink'"),
    ({"calculator": "kelp", "factors": {"burial_share_of_npp_percent": 0.5}},
     "factor burial_share_of_npp_percent must be a decimal string"),
    ({"calculator": "kelp", "factors": {"burial_share_of_npp_percent": "NaN"}},
     "factor burial_share_of_npp_percent is not a decimal number"),
    ({"calculator": "shellfish", "components": ["shell", "tissue"]},
     "unknown component 'tissue'"),
    ({"calculator": "blue_carbon", "factors": {"x": "1"}}, "blue_carbon takes no factors"),
])
def test_specs_with_bad_factors_or_components_are_refused(spec: dict[str, object],
                                                          message: str):
    with pytest.raises(ReportError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ProjectSpec.from_json({"project_id": 1, "code": "X", "area_ha": "1", **spec})


# --- refused records --------------------------------------------------------------------------


@pytest.mark.parametrize(("row", "reason"), [
    ({"lot_id": "L1", "harvested": "2024-04-01", "fresh_weight_t": "10",
      "dry_matter_percent": "12", "carbon_percent_dry": ""}, "inconsistent_values"),
    ({"lot_id": "L1", "harvested": "2024-04-01", "fresh_weight_t": "-5"}, "out_of_range"),
    ({"lot_id": "L1", "harvested": "2024-04-01", "fresh_weight_t": "10",
      "dry_matter_percent": "80", "carbon_percent_dry": "30"}, "out_of_range"),
    ({"lot_id": "L1", "harvested": "2025-02-01", "fresh_weight_t": "10"}, "outside_period"),
    ({"lot_id": "L1", "harvested": "2024-04-01", "fresh_weight_t": 10.5}, "malformed_field"),
    ({"lot_id": "L1", "harvested": "2024-04-01"}, "missing_field"),
])
def test_bad_kelp_lots_are_refused_with_a_stable_reason(row: dict[str, object], reason: str):
    result = validate_kelp_harvests(raw_records([row]), period=YEAR, now=YEAR.end + 10**8)
    assert [str(r.reason) for r in result.rejected] == [reason]


@pytest.mark.parametrize(("row", "reason"), [
    ({"species": "scallop"}, "unknown_species"),
    ({"shell_percent": "0"}, "out_of_range"),
    ({"shell_carbon_percent": "30"}, "out_of_range"),
    ({"tissue_percent": "30"}, "unexpected_field"),
])
def test_bad_shellfish_lots_are_refused_with_a_stable_reason(row: dict[str, object],
                                                             reason: str):
    good = {"lot_id": "L1", "harvested": "2024-06-01", "species": "mussel",
            "fresh_weight_t": "10", "shell_percent": "55"}
    result = validate_shellfish_harvests(raw_records([{**good, **row}]), period=YEAR,
                                         now=YEAR.end)
    assert [str(r.reason) for r in result.rejected] == [reason]


def test_harvest_lots_read_alike_from_csv_and_json():
    csv = ("lot_id,harvested,fresh_weight_t,dry_matter_percent,carbon_percent_dry\n"
           "L1,2024-04-01,100.50,12,25\nL2,2024-04-20,80,,\n")
    text = ('[{"lot_id": "L1", "harvested": "2024-04-01", "fresh_weight_t": 100.5, '
            '"dry_matter_percent": 12, "carbon_percent_dry": "25"}, '
            '{"lot_id": "L2", "harvested": "2024-04-20", "fresh_weight_t": 80}]')
    a = validate_kelp_harvests(parse_csv_records(csv), period=YEAR, now=YEAR.end)
    b = validate_kelp_harvests(parse_json_records(text), period=YEAR, now=YEAR.end)
    assert a.records == b.records and len(a.records) == 2
    assert b'"fresh_weight_t":"100.5"' in a.records[0]
    assert [KelpHarvest("L1", "2024-04-01", D("100.5"), D(12), D(25)).canonical(),
            KelpHarvest("L2", "2024-04-20", D(80)).canonical()] == a.records


def test_harvest_schemas_publish_a_json_schema():
    for model in (KelpHarvestRecord, ShellfishHarvestRecord):
        schema = model.model_json_schema()
        assert schema["additionalProperties"] is False
        assert {"lot_id", "harvested", "fresh_weight_t"} <= set(schema["required"])


def test_one_lot_weighed_twice_differently_is_refused_as_conflicting():
    rows = [{"lot_id": "L1", "harvested": "2024-04-01", "fresh_weight_t": w} for w in ("10", "12")]
    result = validate_kelp_harvests(raw_records(rows), period=YEAR, now=YEAR.end)
    assert [str(r.reason) for r in result.rejected] == ["conflicting_record"] * 2


def test_a_farm_without_accepted_lots_makes_no_report(tmp_path: Path):
    spec = {"code": "FJ-LJ-1", "calculator": "kelp", "area_ha": "10"}
    csv = "lot_id,harvested,fresh_weight_t\nL1,2023-04-01,100\n"  # before the period
    with pytest.raises(ReportError, match="no record of the period was accepted"):
        build_report(write_project(tmp_path, spec, "kelp-harvests.csv", csv), YEAR, now=YEAR.end)


def test_calculators_refuse_what_they_cannot_estimate():
    with pytest.raises(ValueError, match="no harvest lots"):
        kelp_farm_removals([], years=D(1), area_ha=D(1))
    with pytest.raises(ValueError, match="at least two sediment cores"):
        shellfish_removals(two_bivalve_lots(), years=D(1), area_ha=D(1), cores=CORES[:1])
    with pytest.raises(FactorError):
        kelp_farm_removals(two_kelp_lots(), years=D(1), area_ha=D(1), components=[])


# --- properties -------------------------------------------------------------------------------

weights = st.decimals(min_value=D("0.001"), max_value=D(50_000), places=3)
lab = st.tuples(st.decimals(min_value=D(3), max_value=D(40), places=1),
                st.decimals(min_value=D(10), max_value=D(50), places=1))
kelp_lots = st.lists(st.tuples(weights, st.one_of(st.none(), lab)), min_size=1, max_size=6)
extra = st.decimals(min_value=D("0.001"), max_value=D(10_000), places=3)


def kelp_of(lots: list[tuple[Decimal, tuple[Decimal, Decimal] | None]]) -> list[KelpHarvest]:
    return [KelpHarvest(f"L{i}", "2024-04-01", w, *(a or (None, None)))
            for i, (w, a) in enumerate(lots)]


@settings(max_examples=150, deadline=None)
@given(lots=kelp_lots, more=extra, which=st.integers(min_value=0, max_value=5))
def test_kelp_units_are_non_negative_integers_and_monotone_in_harvest(lots, more, which):
    before = kelp_farm_removals(kelp_of(lots), years=D(1), area_ha=D(10))
    i = which % len(lots)
    grown = [*lots[:i], (lots[i][0] + more, lots[i][1]), *lots[i + 1:]]
    after = kelp_farm_removals(kelp_of(grown), years=D(1), area_ha=D(10))
    assert isinstance(before.quantity_units, int) and before.quantity_units >= 0
    assert after.quantity_units >= before.quantity_units


shell_lots = st.lists(st.tuples(weights, st.decimals(min_value=D(1), max_value=D(95), places=1),
                                st.one_of(st.none(), st.decimals(min_value=D(5), max_value=D(14),
                                                                 places=1))),
                      min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(lots=shell_lots, more=extra, which=st.integers(min_value=0, max_value=5),
       with_cores=st.booleans())
def test_shellfish_units_are_non_negative_integers_and_monotone_in_harvest(lots, more, which,
                                                                          with_cores):
    def run(ls: list[tuple[Decimal, Decimal, Decimal | None]]) -> int:
        return shellfish_removals(
            [ShellfishHarvest(f"L{i}", "2024-06-01", "mussel", w, s, c)
             for i, (w, s, c) in enumerate(ls)],
            years=D(1), area_ha=D(10), cores=CORES if with_cores else None).quantity_units

    i = which % len(lots)
    before = run(lots)
    after = run([*lots[:i], (lots[i][0] + more, *lots[i][1:]), *lots[i + 1:]])
    assert isinstance(before, int) and before >= 0
    assert after >= before
