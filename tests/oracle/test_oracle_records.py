"""Remote-sensing estimates, field plots and lab samples: schemas, CSV/JSON, reasons."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from oracle.canonical import canonical_json
from oracle.loaders import LoadError, parse_csv_records, parse_json_records
from oracle.period import Period, date_start
from oracle.reasons import Reason
from oracle.records import validate_lab_samples, validate_plots, validate_scenes
from oracle.results import raw_records
from oracle.schemas import LabSample, PlotMeasurement, RemoteSensingEstimate, rejection_of
from oracle.sediment import SedimentCore

YEAR = Period.of_dates(date(2024, 1, 1), date(2025, 1, 1))
NOW = YEAR.end

SCENE = {
    "scene_id": "S2A-20240428-T49QBE",
    "sensor": "Sentinel-2 MSI",
    "acquired": "2024-04-28",
    "model_id": "mangrove-rf-v3",
    "class_areas_ha": {"mangrove": "253.3", "mudflat": "61.8"},
    "index_stats": {"ndvi": {"mean": "0.68", "std": "0.1", "min": "-0.05", "max": "0.91"}},
}
SCENE_CSV = (
    "scene_id,sensor,acquired,model_id,area_ha.mangrove,area_ha.mudflat,"
    "ndvi.mean,ndvi.std,ndvi.min,ndvi.max\n"
    "S2A-20240428-T49QBE,Sentinel-2 MSI,2024-04-28,mangrove-rf-v3,253.3,61.8,"
    "0.68,0.1,-0.05,0.91\n"
)


def test_a_scene_loads_alike_from_json_and_csv():
    from_json = validate_scenes(parse_json_records(json.dumps([SCENE])), period=YEAR, now=NOW)
    from_csv = validate_scenes(parse_csv_records(SCENE_CSV), period=YEAR, now=NOW)
    assert from_json.records == from_csv.records
    assert from_json.accepted[0].class_areas_ha["mangrove"] == Decimal("253.3")
    assert from_json.records[0] == canonical_json(
        {
            "schema": "tanhui.remote-sensing.v1",
            **SCENE,
            "index_stats": {"ndvi": {"mean": "0.68", "std": "0.1", "min": "-0.05", "max": "0.91"}},
        }
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"class_areas_ha": {"mangrove": "-1"}}, Reason.OUT_OF_RANGE),
        ({"class_areas_ha": {}}, Reason.MISSING_FIELD),
        (
            {"index_stats": {"ndvi": {"mean": "0.9", "std": "0.1", "min": "0", "max": "0.8"}}},
            Reason.INCONSISTENT,
        ),
        (
            {"index_stats": {"ndvi": {"mean": "1.2", "std": "0.1", "min": "0", "max": "1.3"}}},
            Reason.OUT_OF_RANGE,
        ),
        (
            {"index_stats": {"bai": {"mean": "1", "std": "0", "min": "1", "max": "1"}}},
            Reason.UNKNOWN_METRIC,
        ),
        ({"acquired": "2023-12-31"}, Reason.OUTSIDE_PERIOD),
        ({"acquired": "28/04/2024"}, Reason.MALFORMED_FIELD),
        ({"cloud": "3"}, Reason.UNEXPECTED_FIELD),
    ],
)
def test_scene_reasons(change, reason):
    result = validate_scenes(raw_records([{**SCENE, **change}]), period=YEAR, now=NOW)
    assert [r.reason for r in result.rejected] == [reason]


def test_scene_classes_cannot_exceed_the_project():
    result = validate_scenes(
        raw_records([SCENE]), period=YEAR, now=NOW, project_area_ha=Decimal(300)
    )
    assert result.reason_counts() == {"inconsistent_values": 1}


def test_the_same_scene_twice_is_a_duplicate_and_two_versions_conflict():
    other = {**SCENE, "class_areas_ha": {"mangrove": "250"}}
    assert validate_scenes(raw_records([SCENE, SCENE]), period=YEAR, now=NOW).reason_counts() == {
        "duplicate_record": 1
    }
    assert validate_scenes(raw_records([SCENE, other]), period=YEAR, now=NOW).reason_counts() == {
        "conflicting_record": 2
    }


FOREST = Period.of_dates(date(2019, 11, 1), date(2024, 12, 1))
PLOT = {
    "plot_id": "RA-P01",
    "plot_area_m2": "600",
    "measured": "2024-11-04",
    "species": "杉木",
    "dbh_cm": "14",
    "height_m": "12",
    "count": "7",
}


def test_plot_tallies_from_csv():
    text = "plot_id,plot_area_m2,measured,species,dbh_cm,height_m,count\n"
    text += "RA-P01,600,2019-11-04,杉木,10,9,12\nRA-P01,600,2024-11-04,杉木,14,12,7\n"
    text += "RA-P02,600,2024-11-04,杉木,14\n"
    result = validate_plots(parse_csv_records(text), period=FOREST, now=NOW)
    assert len(result.accepted) == 2
    assert result.reason_counts() == {"truncated_row": 1}
    assert result.accepted[1].count == 7
    assert "杉木".encode() in result.records[0]  # UTF-8 as is, not \\u escapes


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"species": "银杏"}, Reason.UNKNOWN_SPECIES),
        ({"dbh_cm": "0"}, Reason.OUT_OF_RANGE),
        ({"dbh_cm": "350"}, Reason.OUT_OF_RANGE),
        ({"height_m": "-2"}, Reason.OUT_OF_RANGE),
        ({"count": "0"}, Reason.OUT_OF_RANGE),
        ({"count": "2.5"}, Reason.MALFORMED_FIELD),
        ({"plot_area_m2": "50"}, Reason.OUT_OF_RANGE),
        ({"measured": "2024-12-02"}, Reason.OUTSIDE_PERIOD),
        ({"species": ""}, Reason.MISSING_FIELD),
    ],
)
def test_plot_reasons(change, reason):
    result = validate_plots(raw_records([{**PLOT, **change}]), period=FOREST, now=NOW)
    assert [r.reason for r in result.rejected] == [reason]


def test_plot_in_the_future():
    result = validate_plots(raw_records([PLOT]), period=FOREST, now=date_start(date(2024, 6, 1)))
    assert result.reason_counts() == {"future_timestamp": 1}


def test_a_tally_line_entered_twice_differently_conflicts():
    rows = [PLOT, {**PLOT, "count": "8"}, {**PLOT, "dbh_cm": "16"}]
    result = validate_plots(raw_records(rows), period=FOREST, now=NOW)
    assert result.reason_counts() == {"conflicting_record": 2}
    assert len(result.accepted) == 1


SAMPLE = {
    "core_id": "MW-2024-C01",
    "sampled": "2024-05-06",
    "depth_cm": "5",
    "toc_percent": "3.70",
    "bulk_density_g_cm3": "0.86",
    "accumulation_cm_per_yr": "0.41",
}


def test_a_lab_sample_and_its_sediment_core_encode_identically():
    result = validate_lab_samples(raw_records([SAMPLE]), period=YEAR, now=NOW)
    core = SedimentCore("MW-2024-C01", 5, "0.41", "0.86", "3.7", "2024-05-06")
    assert result.records == [core.canonical()]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"toc_percent": "0"}, Reason.OUT_OF_RANGE),
        ({"toc_percent": "75"}, Reason.OUT_OF_RANGE),
        ({"bulk_density_g_cm3": "3.1"}, Reason.OUT_OF_RANGE),
        ({"accumulation_cm_per_yr": "12"}, Reason.OUT_OF_RANGE),
        ({"depth_cm": "-5"}, Reason.MALFORMED_FIELD),
        ({"depth_cm": "5.5"}, Reason.MALFORMED_FIELD),
        ({"toc_percent": 3.7}, Reason.MALFORMED_FIELD),
    ],
)
def test_lab_sample_reasons(change, reason):
    result = validate_lab_samples(raw_records([{**SAMPLE, **change}]), period=YEAR, now=NOW)
    assert [r.reason for r in result.rejected] == [reason]


def test_replays_of_earlier_submissions():
    result = validate_lab_samples(
        raw_records([SAMPLE]), period=YEAR, now=NOW, seen={("MW-2024-C01", 5)}
    )
    assert result.reason_counts() == {"replayed_record": 1}


def test_schema_errors_map_to_reason_codes():
    with pytest.raises(ValidationError) as e:
        PlotMeasurement.model_validate({**PLOT, "count": True})
    assert rejection_of(e.value)[:2] == (Reason.MALFORMED_FIELD, "count")
    with pytest.raises(ValidationError) as e:
        LabSample.model_validate({k: v for k, v in SAMPLE.items() if k != "sampled"})
    assert rejection_of(e.value)[:2] == (Reason.MISSING_FIELD, "sampled")


def test_schemas_publish_a_json_schema():
    for model in (RemoteSensingEstimate, PlotMeasurement, LabSample):
        schema = model.model_json_schema()
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) <= set(schema["properties"])


def test_unreadable_files_are_load_errors_not_crashes():
    with pytest.raises(LoadError):
        parse_json_records("{not json")
    with pytest.raises(LoadError):
        parse_csv_records("")
    with pytest.raises(LoadError):
        parse_csv_records("a,a\n1,2\n")
    items = parse_json_records('[1, {"a": 2}]')
    assert items[0].problem is not None and items[0].problem[0] is Reason.MALFORMED_FIELD
