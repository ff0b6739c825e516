"""The worked examples in docs/oracle-data.md are what the code computes, so an outsider who
follows the docs reproduces every hash (a drift between the two fails here)."""

from __future__ import annotations

import re
from pathlib import Path

from oracle.canonical import canonical_json
from oracle.loaders import load_records
from oracle.node import DisturbanceDoc
from oracle.period import Period
from oracle.records import validate_scenes

DOC = (Path(__file__).resolve().parents[2] / "docs" / "oracle-data.md").read_text()


def block_after(marker: str, lang: str = "") -> str:
    start = DOC.index(marker)
    m = re.compile(r"```" + lang + r"\n(.*?)```", re.S).search(DOC, start)
    assert m is not None, marker
    return m.group(1)


def section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end]


def test_the_documented_disturbance_evidence_hash_is_the_nodes(tmp_path: Path) -> None:
    text = section("## 12. Disturbances and reversals")
    document = re.search(r"```json\n(.*?)```", text, re.S)
    printed = re.search(r"```\n(\{.*?\})\nevidence hash (0x[0-9a-f]{64})\n```", text, re.S)
    assert document is not None and printed is not None
    path = tmp_path / "typhoon.json"
    path.write_text(document.group(1), encoding="utf-8")
    doc = DisturbanceDoc.load(path)
    assert canonical_json(doc.to_json()).decode() == printed.group(1)
    assert "0x" + doc.evidence_hash.hex() == printed.group(2)


def test_the_documented_canonical_scene_is_the_validators(tmp_path: Path) -> None:
    csv = block_after("### 1.3 Remote-sensing estimates", "csv")
    canonical = block_after("Canonical form (§3) of the row above", "json").strip()
    path = tmp_path / "scenes.csv"
    path.write_text(csv, encoding="utf-8")
    period = Period(1_704_067_200, 1_735_689_600)  # 2024
    result = validate_scenes(load_records(path), period=period, now=2_000_000_000)
    [scene] = result.accepted
    assert scene.canonical().decode() == canonical


def test_a_scene_without_index_statistics_is_encoded_with_an_empty_object(tmp_path: Path) -> None:
    path = tmp_path / "scenes.csv"
    path.write_text("scene_id,sensor,acquired,model_id,area_ha.mangrove\n"
                    "S1,GF-1 WFV,2024-05-01,m-v1,10\n", encoding="utf-8")
    period = Period(1_704_067_200, 1_735_689_600)
    [scene] = validate_scenes(load_records(path), period=period, now=2_000_000_000).accepted
    assert b'"index_stats":{}' in scene.canonical()
