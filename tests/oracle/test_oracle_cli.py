"""The shipped sample data end to end, as separate processes: `tanhui up` runs the chain and
API; the data is ingested with `tanhui oracle ingest`; three oracle node processes attest with
k = 2 (two under the scheduler, one single pass); the verifier verifies; a batch is issued; and
`tanhui oracle prove` proves a reading against the on-chain root."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from devkit import sample_data
from devkit.roster import dev_accounts
from devkit.scenario import Scenario, doc
from registry.ledger import ReportStatus
from tanhui.services import connect
from tests.support.oracle_inbox import YEAR
from tests.support.processes import TANHUI, tanhui_up


def run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TANHUI, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    with tanhui_up(tmp_path / "data") as env:
        yield env, tmp_path / "data"


def test_sample_data_goes_from_files_to_an_issued_batch_through_the_cli(
    stack: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, data = stack
    raw = tmp_path / "sample"
    sample_data.write(raw, days=2)
    conn = connect(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    acc = dev_accounts()
    s = Scenario(conn.ledger, acc)
    project = s.project(s.methodology())
    spec = tmp_path / "project.json"
    spec.write_text(json.dumps({
        "project_id": project, "code": sample_data.MANGROVE_PROJECT, "calculator": "blue_carbon",
        "area_ha": str(sample_data.MANGROVE_AREA_HA), "minimum_deduction_percent": "10"}))
    (raw / "lab-samples.csv").write_bytes((raw / "cores.csv").read_bytes())

    ingest = run("oracle", "ingest", str(raw / "readings.csv"), str(raw / "scenes.json"),
                 str(raw / "lab-samples.csv"), "--project", str(project),
                 "--start", str(YEAR.start), "--end", str(YEAR.end), "--spec", str(spec),
                 "--devices", str(raw / "devices.json"), env=env)
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    assert "bad_signature" in ingest.stdout and "duplicate_record" in ingest.stdout

    nodes = [subprocess.Popen([*TANHUI, "oracle", "run", "--node", seat, "--interval", "1",
                               "--stop-after", "4"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
             for seat in ("oracle1", "oracle2")]
    once = run("oracle", "attest", "--node", "oracle3", env=env)
    for p in nodes:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out
    assert once.returncode == 0, once.stdout + once.stderr

    report_id = conn.ledger.report_of(project, YEAR.start, YEAR.end)
    report = conn.ledger.report(report_id)
    assert (report.status, report.submissions) == (ReportStatus.ATTESTED, 3)
    conn.ledger.verify_report(acc["verifier"], report_id, report.attested_quantity, doc("v"))
    batch = conn.ledger.issue(acc["operator"], report_id).id
    assert conn.ledger.batch(batch).issued == report.attested_quantity

    again = run("oracle", "attest", "--node", "oracle1", env=env)
    assert again.returncode == 0 and "already" in again.stdout
    proof = run("oracle", "prove", "--report", str(report_id), "--file", "readings.csv",
                "--position", "3", env=env)
    assert proof.returncode == 0, proof.stdout + proof.stderr
    assert '"verified_on_chain": true' in proof.stdout
