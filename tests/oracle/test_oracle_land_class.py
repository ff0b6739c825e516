"""Which scene class measures a blue-carbon project: by default its own ecosystem's, and a class
no scene maps is a configuration error, not a measured zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oracle.period import Period
from oracle.report import ProjectSpec, ReportError, build_report

PERIOD = Period(1_704_067_200, 1_704_067_200 + 366 * 86_400)  # 2024
SCENES = [
    {"scene_id": f"S2A-2024{m:02d}15", "sensor": "Sentinel-2 MSI", "acquired": f"2024-{m:02d}-15",
     "model_id": "seagrass-rf-v1", "class_areas_ha": {"seagrass": "84.2", "water": "40"}}
    for m in (3, 9)
]


def project(tmp_path: Path, **spec: str) -> Path:
    directory = tmp_path / "7"
    data = directory / f"{PERIOD.start}-{PERIOD.end}"
    data.mkdir(parents=True)
    (directory / "devices.json").write_text(json.dumps({"project": "HP-SG", "devices": []}))
    (directory / "project.json").write_text(json.dumps({
        "project_id": 7, "code": "HP-SG", "calculator": "blue_carbon", "area_ha": "100",
        "ecosystem": "seagrass", **spec}))
    (data / "scenes.json").write_text(json.dumps(SCENES))
    return directory


def test_the_land_class_defaults_to_the_projects_ecosystem() -> None:
    spec = ProjectSpec.from_json({"project_id": 1, "code": "X", "calculator": "blue_carbon",
                                  "area_ha": "1", "ecosystem": "seagrass"})
    assert spec.land_class == "seagrass"


def test_a_seagrass_project_is_measured_on_its_seagrass_area(tmp_path: Path) -> None:
    report = build_report(project(tmp_path), PERIOD, now=2_000_000_000)
    assert report.quantity_units > 0
    assert report.summary()["project"]["land_class"] == "seagrass"


def test_a_land_class_no_scene_maps_makes_no_report(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no scene maps land class 'mangrove'"):
        build_report(project(tmp_path, land_class="mangrove"), PERIOD, now=2_000_000_000)
