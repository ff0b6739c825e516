"""Test helpers: a monitoring inbox filled with the shipped sample data for a project on chain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from eth_account.signers.local import LocalAccount

from devkit import sample_data
from oracle.node import NodeState, OracleNode
from oracle.period import Period, date_start
from registry.ledger import Ledger

# The sample year (2024) as one monitoring period; tests use a few days of its readings.
YEAR = Period(date_start(sample_data.YEAR_START), date_start(sample_data.YEAR_START) + 366 * 86400)


def write_sample(raw: Path, days: int = 2) -> Path:
    sample_data.write(raw, days=days)
    return raw


def fill_inbox(inbox: Path, raw: Path, project_id: int, period: Period = YEAR,
               files: tuple[str, ...] = ("readings.csv", "scenes.json", "cores.csv")) -> Path:
    """The mangrove project's spec, devices and the period's data files under inbox/<id>/."""
    project_dir = inbox / str(project_id)
    data = project_dir / f"{period.start}-{period.end}"
    data.mkdir(parents=True, exist_ok=True)
    shutil.copy(raw / "devices.json", project_dir / "devices.json")
    spec = {"project_id": project_id, "code": sample_data.MANGROVE_PROJECT,
            "calculator": "blue_carbon", "ecosystem": "mangrove", "land_class": "mangrove",
            "area_ha": str(sample_data.MANGROVE_AREA_HA), "minimum_deduction_percent": "10"}
    (project_dir / "project.json").write_text(json.dumps(spec))
    for name in files:
        target = "lab-samples.csv" if name == "cores.csv" else name
        shutil.copy(raw / name, data / target)
    return project_dir


def node(ledger: Ledger, acc: dict[str, LocalAccount], seat: str, inbox: Path,
         state_dir: Path) -> OracleNode:
    return OracleNode(seat, acc[seat], ledger, inbox, NodeState(state_dir / f"{seat}.db"))
