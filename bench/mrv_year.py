"""A year of the sample data end to end: generate → ingest → validate → three nodes attest
(k = 2) → verify → issue, on a fresh local chain.

The shipped sample set (devkit.sample_data): 20 buoys and soil sensors at the Maowei Sea
mangrove site, hourly through 2024 with field faults, four Sentinel-2 scenes and 24 sediment
cores. Each node builds the report itself (every device signature checked), so the timing per
node is the real cost of one node's yearly job. The last line of output is one JSON object.

Run: .venv/bin/python bench/mrv_year.py [--days N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devkit import sample_data
from devkit.local import local_registry
from devkit.scenario import Scenario, doc
from oracle.node import NodeState, OracleNode
from oracle.period import Period, date_start
from registry.categories import SinkCategory
from registry.ledger import ReportStatus


def run(days: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp, local_registry() as (_, ledger, acc):
        work = Path(tmp)
        t0 = time.perf_counter()
        manifest = sample_data.write(work / "raw", days=days)
        generate_s = time.perf_counter() - t0
        s = Scenario(ledger, acc)
        project = s.project(s.methodology(category=SinkCategory.MANGROVE))

        start = date_start(sample_data.YEAR_START)
        period = Period(start, start + 366 * 86_400)
        inbox = work / "inbox"
        pdir = inbox / str(project)
        data = pdir / f"{period.start}-{period.end}"
        data.mkdir(parents=True)
        (pdir / "project.json").write_text(json.dumps({
            "project_id": project, "code": sample_data.MANGROVE_PROJECT,
            "calculator": "blue_carbon", "area_ha": str(sample_data.MANGROVE_AREA_HA),
            "minimum_deduction_percent": "10"}))
        (pdir / "devices.json").write_bytes((work / "raw" / "devices.json").read_bytes())
        for src, dst in (("readings.csv", "readings.csv"), ("scenes.json", "scenes.json"),
                         ("cores.csv", "lab-samples.csv")):
            (data / dst).write_bytes((work / "raw" / src).read_bytes())

        per_node: dict[str, dict[str, object]] = {}
        outcome = None
        for seat in ("oracle1", "oracle2", "oracle3"):
            node = OracleNode(seat, acc[seat], ledger, inbox, NodeState(work / f"{seat}.db"))
            t = time.perf_counter()
            [outcome] = node.run_once()
            per_node[seat] = {"seconds": round(time.perf_counter() - t, 2),
                              "status": outcome.status}
        assert outcome is not None
        report = ledger.report(outcome.onchain_id)
        assert report.status == ReportStatus.ATTESTED
        ledger.verify_report(acc["verifier"], outcome.onchain_id, report.attested_quantity,
                             doc("verification"))
        batch = ledger.issue(acc["operator"], outcome.onchain_id).id
        issued = ledger.batch(batch)
        row = NodeState(work / "oracle1.db").all()[0]
        counts = json.loads(row.detail)
        records = sum(int(c["total"]) for c in counts.values())
        return {
            "days": days,
            "readings_in_files": manifest["mangrove"]["readings"]["records"],  # type: ignore[index]
            "records": records,
            "accepted": sum(int(c["accepted"]) for c in counts.values()),
            "rejected_by_reason": {k: c["by_reason"] for k, c in counts.items()},
            "generate_seconds": round(generate_s, 2),
            "nodes": per_node,
            "records_per_s_per_node": round(records / float(per_node["oracle1"]["seconds"]),
                                            0),  # type: ignore[arg-type]
            "attested_quantity_t": int(report.attested_quantity) / 1_000_000,
            "batch": batch,
            "issued_units": int(issued.issued),
            "buffer_units": int(issued.buffer),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=366)
    result = run(parser.parse_args().days)
    for k, v in result.items():
        print(f"{k:<24} {v}", file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
