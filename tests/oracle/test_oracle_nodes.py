"""Oracle nodes on a real chain: monitoring data in an inbox becomes a k-of-n attested report
that the registry issues against, and every accepted record stays provable against the root.

The deployment's threshold is 2 of the 3 development oracle seats.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import ChainRevert
from devkit.scenario import Scenario, doc
from oracle.node import (
    DisturbanceDoc,
    NodeState,
    OracleNode,
    Outcome,
    report_subject,
    schedule,
)
from oracle.report import build_report
from registry.categories import SinkCategory
from registry.ledger import Ledger, ReportStatus
from tests.support.oracle_inbox import YEAR, fill_inbox, node, write_sample

TONNE = 1_000_000


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("sample"), days=2)


@pytest.fixture
def scenario(ledger: Ledger, acc: dict[str, LocalAccount]) -> Scenario:
    return Scenario(ledger, acc)


@pytest.fixture
def project(scenario: Scenario) -> int:
    return scenario.project(scenario.methodology(buffer_bps=1_000))


@pytest.fixture
def inbox(tmp_path: Path, raw: Path, project: int) -> Path:
    fill_inbox(tmp_path / "inbox", raw, project)
    return tmp_path / "inbox"


def nodes(ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path,
          tmp_path: Path, *seats: str) -> list[OracleNode]:
    return [node(ledger, acc, seat, inbox, tmp_path / "state") for seat in seats]


def test_two_of_three_nodes_attest_and_the_verified_report_is_issued(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int
) -> None:
    expected = build_report(inbox / str(project), YEAR, now=2_000_000_000)
    first, second = nodes(ledger, acc, inbox, tmp_path, "oracle1", "oracle2")
    [o1] = first.run_once()
    assert o1.status == "attested"
    assert ledger.report(o1.onchain_id).status == ReportStatus.PENDING
    [o2] = second.run_once()
    report = ledger.report(o2.onchain_id)
    assert (o2.status, o2.onchain_id) == ("attested", o1.onchain_id)
    assert report.status == ReportStatus.ATTESTED
    assert bytes(report.merkle_root) == expected.root
    assert report.attested_quantity == expected.quantity_units
    assert bytes(report.report_hash) == expected.report_hash

    ledger.verify_report(acc["verifier"], o1.onchain_id, expected.quantity_units, doc("v"))
    batch = ledger.issue(acc["operator"], o1.onchain_id).id
    issued = ledger.batch(batch)
    assert issued.issued == expected.quantity_units
    buffer = -(-expected.quantity_units * 1_000 // 10_000)  # rounded up, to the pool
    assert issued.buffer == buffer
    assert ledger.balance(acc["developer"].address, batch) == expected.quantity_units - buffer


def test_every_accepted_record_proves_on_chain_and_a_tampered_one_does_not(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int
) -> None:
    for n in nodes(ledger, acc, inbox, tmp_path, "oracle1", "oracle2"):
        n.run_once()
    report_id = ledger.report_of(project, YEAR.start, YEAR.end)
    report = build_report(inbox / str(project), YEAR, now=2_000_000_000)
    for record in report.records()[:: max(1, len(report.records()) // 25)]:
        proof = report.prove(record)
        assert proof.verify()
        assert ledger.verify_record(report_id, record, list(proof.proof))
        # one character changed anywhere in the record
        i = len(record) // 2
        tampered = record[:i] + bytes([record[i] ^ 0x01]) + record[i + 1 :]
        assert not ledger.verify_record(report_id, tampered, list(proof.proof))
        assert not type(proof)(tampered, proof.leaf, proof.proof, proof.root).verify()


def test_tampering_with_the_data_after_attestation_is_detected(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int
) -> None:
    for n in nodes(ledger, acc, inbox, tmp_path, "oracle1", "oracle2"):
        n.run_once()
    report_id = ledger.report_of(project, YEAR.start, YEAR.end)
    readings = inbox / str(project) / f"{YEAR.start}-{YEAR.end}" / "lab-samples.csv"
    lines = readings.read_text().splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    row[header.index("toc_percent")] = "9.99"  # one accepted lab record, edited
    readings.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")

    again = build_report(inbox / str(project), YEAR, now=2_000_000_000)
    assert again.root != bytes(ledger.report(report_id).merkle_root)
    edited = next(r for r in again.records() if b'"toc_percent":"9.99"' in r)
    proof = again.prove(edited)
    assert not ledger.verify_record(report_id, edited, list(proof.proof))


def test_one_node_offline_the_report_still_reaches_k_of_n(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int
) -> None:
    for n in nodes(ledger, acc, inbox, tmp_path, "oracle1", "oracle3"):  # oracle2 is down
        n.run_once()
    report_id = ledger.report_of(project, YEAR.start, YEAR.end)
    assert ledger.report(report_id).status == ReportStatus.ATTESTED


def test_nodes_with_different_roots_do_not_attest_until_k_agree(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, raw: Path, tmp_path: Path,
    project: int
) -> None:
    # oracle3 was given a different data set: one scene is missing from its inbox.
    other = tmp_path / "other-inbox"
    fill_inbox(other, raw, project, files=("readings.csv", "cores.csv"))
    honest = node(ledger, acc, "oracle1", inbox, tmp_path / "state")
    divergent = node(ledger, acc, "oracle3", other, tmp_path / "state")
    [a] = honest.run_once()
    [b] = divergent.run_once()
    assert b.status == "attested"
    report = ledger.report(a.onchain_id)
    assert (report.status, report.submissions) == (ReportStatus.PENDING, 2)
    digests = {ledger.submission_of(a.onchain_id, acc[s].address) for s in ("oracle1", "oracle3")}
    assert len(digests) == 2  # the disagreement is visible on chain
    [c] = node(ledger, acc, "oracle2", inbox, tmp_path / "state").run_once()
    report = ledger.report(c.onchain_id)
    assert report.status == ReportStatus.ATTESTED
    assert bytes(report.merkle_root) == build_report(
        inbox / str(project), YEAR, now=2_000_000_000).root


def test_rerunning_a_period_never_attests_twice(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int
) -> None:
    n = node(ledger, acc, "oracle1", inbox, tmp_path / "state")
    [first] = n.run_once()
    [again] = n.run_once()
    assert (first.status, again.status) == ("attested", "already")
    # Even with its state lost, the node finds its submission on chain and does not resend.
    amnesiac = node(ledger, acc, "oracle1", inbox, tmp_path / "fresh-state")
    [third] = amnesiac.run_once()
    assert (third.status, third.detail) == ("already", "found on chain")
    assert ledger.report(first.onchain_id).submissions == 1


def test_a_node_restarted_between_send_and_receipt_resumes_without_resending(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int
) -> None:
    report = build_report(inbox / str(project), YEAR, now=2_000_000_000)
    fn = ledger.c("MonitoringReports").functions.attest(
        project, YEAR.start, YEAR.end, report.root, report.quantity_units, report.report_hash
    )
    tx_hash = ledger.chain.send_nowait(fn, acc["oracle1"])  # ... and the node dies here
    state = NodeState(tmp_path / "state" / "oracle1.db")
    state.put(report_subject(project, YEAR), project, status="sent", tx_hash=tx_hash)
    [outcome] = OracleNode("oracle1", acc["oracle1"], ledger, inbox, state).run_once()
    assert outcome.status in ("attested", "already")
    assert ledger.report(outcome.onchain_id).submissions == 1


def test_a_node_restarted_while_its_attestation_is_pending_waits_for_it(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int
) -> None:
    report = build_report(inbox / str(project), YEAR, now=2_000_000_000)
    fn = ledger.c("MonitoringReports").functions.attest(
        project, YEAR.start, YEAR.end, report.root, report.quantity_units, report.report_hash
    )
    oracle = acc["oracle1"].address
    sent_before = ledger.chain.w3.eth.get_transaction_count(oracle)
    ledger.chain.rpc("evm_setAutomine", False)
    outcomes: list[list[Outcome]] = []
    try:
        tx_hash = ledger.chain.send_nowait(fn, acc["oracle1"])  # pending when the node died
        state = NodeState(tmp_path / "state" / "oracle1.db")
        state.put(report_subject(project, YEAR), project, status="sent", tx_hash=tx_hash)
        restarted = OracleNode("oracle1", acc["oracle1"], ledger, inbox, state)
        t = threading.Thread(target=lambda: outcomes.append(restarted.run_once()))
        t.start()
        t.join(timeout=1.5)  # the restarted node is waiting, not sending
        assert ledger.chain.rpc("txpool_content")["pending"].get(oracle.lower(), {}).keys() == {
            str(sent_before)}
    finally:
        ledger.chain.rpc("evm_setAutomine", True)  # the pending attestation is mined
    t.join(timeout=60)
    [[outcome]] = outcomes
    assert (outcome.status, outcome.tx_hash) == ("attested", tx_hash)  # the CLI exits 0
    assert ledger.chain.w3.eth.get_transaction_count(oracle) == sent_before + 1
    assert ledger.report(outcome.onchain_id).submissions == 1


def test_bad_input_is_refused_per_record_and_only_good_records_are_attested(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int
) -> None:
    data = inbox / str(project) / f"{YEAR.start}-{YEAR.end}"
    lines = (data / "readings.csv").read_text().splitlines()
    header = lines[0].split(",")
    good = lines[1].split(",")
    wrong_unit = list(good)
    wrong_unit[header.index("unit")] = "furlong"
    forged = list(good)
    forged[header.index("value")] = "19.99"  # the device never signed this value
    truncated = lines[2][: lines[2].rindex(",")]  # the signature cell is cut off
    extra = [",".join(wrong_unit), ",".join(forged), lines[1], truncated]
    # a second file of the period (files are read in name order: readings.csv first)
    (data / "readings2.csv").write_text("\n".join([lines[0], *extra]) + "\n")

    report = build_report(inbox / str(project), YEAR, now=2_000_000_000)
    late = [r for r in report.rejections() if r["file"] == "readings2.csv"]
    assert [r["reason"] for r in late] == [
        "unknown_unit", "bad_signature", "duplicate_record", "truncated_row"
    ]
    assert [r["position"] for r in late] == [0, 1, 2, 3]
    for n in nodes(ledger, acc, inbox, tmp_path, "oracle1", "oracle2"):
        [outcome] = n.run_once()
    onchain = ledger.report(outcome.onchain_id)
    assert bytes(onchain.merkle_root) == report.root
    forged_sig = forged[header.index("signature")].encode()
    assert not [r for r in report.records() if forged_sig in r and b'"value":"19.99"' in r]


def test_a_confirmed_disturbance_bounds_the_buffer_cancellation(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int,
    scenario: Scenario
) -> None:
    s = scenario
    batch = s.batch(quantity=1_000 * TONNE, project_id=project)
    other = s.batch(quantity=1_000 * TONNE)  # another project's batch
    dist = inbox / str(project) / "disturbances"
    dist.mkdir()
    doc_ = {"kind": "typhoon", "occurred_at": 1_725_840_000, "affected_area_ha": "12.5",
            "loss_t_co2e_per_ha": "3.2", "evidence": {"scene": "S2B-20240910", "name": "摩羯"}}
    (dist / "yagi-2024.json").write_text(json.dumps(doc_, ensure_ascii=False))
    loss = DisturbanceDoc.load(dist / "yagi-2024.json").loss_units
    assert loss == 40 * TONNE
    outcomes = [n.run_once() for n in nodes(ledger, acc, inbox, tmp_path, "oracle1", "oracle2")]
    disturbance_id = next(o.onchain_id for o in outcomes[1] if o.subject.startswith("disturb"))
    ledger.confirm_disturbance(acc["verifier"], disturbance_id, 30 * TONNE, doc("confirmed"))

    with pytest.raises(ChainRevert) as refused:
        ledger.cancel_buffer_for_disturbance(acc["regulator"], disturbance_id, other.batch_id,
                                             TONNE)
    assert refused.value.name == "DisturbanceOfOtherProject"
    ledger.cancel_buffer_for_disturbance(acc["regulator"], disturbance_id, batch.batch_id,
                                         20 * TONNE)
    with pytest.raises(ChainRevert) as refused:
        ledger.cancel_buffer_for_disturbance(acc["regulator"], disturbance_id, batch.batch_id,
                                             10 * TONNE + 1)
    assert refused.value.name == "LossExceeded"
    ledger.cancel_buffer_for_disturbance(acc["regulator"], disturbance_id, batch.batch_id,
                                         10 * TONNE)
    assert ledger.batch(batch.batch_id).cancelled == 30 * TONNE
    assert ledger.disturbance(disturbance_id).applied_loss == 30 * TONNE


def test_an_unconfirmed_disturbance_cancels_nothing(
    ledger: Ledger, acc: dict[str, LocalAccount], project: int, scenario: Scenario
) -> None:
    s = scenario
    batch = s.batch(quantity=1_000 * TONNE, project_id=project)
    attested = s.disturbance(project, 5 * TONNE, stage="attested")
    with pytest.raises(ChainRevert) as refused:
        ledger.cancel_buffer_for_disturbance(acc["regulator"], attested, batch.batch_id, TONNE)
    assert refused.value.name == "InvalidDisturbanceStatus"


def test_the_scheduler_runs_each_nodes_jobs_until_stopped(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int
) -> None:
    n = node(ledger, acc, "oracle2", inbox, tmp_path / "state")
    t = threading.Thread(target=schedule, args=(n, 0.5), kwargs={"stop_after": 2.0})
    t.start()
    t.join(timeout=30)
    assert not t.is_alive()
    rows = {r.subject: r.status for r in n.outcomes()}
    assert rows == {report_subject(project, YEAR): "attested"}


def test_a_period_without_data_or_not_yet_over_is_not_attested(
    ledger: Ledger, acc: dict[str, LocalAccount], inbox: Path, tmp_path: Path, project: int
) -> None:
    shutil.rmtree(inbox / str(project) / f"{YEAR.start}-{YEAR.end}")
    (inbox / str(project) / f"{YEAR.start}-{YEAR.end}").mkdir()
    (inbox / str(project) / "4000000000-4000086400").mkdir()
    outcomes = {o.status for o in node(ledger, acc, "oracle1", inbox, tmp_path / "s").run_once()}
    assert outcomes == {"skipped", "waiting"}
    assert ledger.report_of(project, YEAR.start, YEAR.end) == 0


def test_a_forest_ticket_area_is_attested_from_its_plot_inventories(
    ledger: Ledger, acc: dict[str, LocalAccount], raw: Path, tmp_path: Path, scenario: Scenario
) -> None:
    from decimal import Decimal

    from devkit import sample_data
    from devkit.scenario import MAOWEI
    from oracle.forest import forest_increment
    from oracle.period import Period

    manifest = json.loads((raw / "manifest.json").read_text())["forest"]
    period = Period(*manifest["period"])
    # a 杉木 plantation parcel whose crediting period covers both inventories (2019 and 2024)
    project = ledger.register_project(
        acc["developer"], "融安杉木碳票 Rong'an forest carbon ticket",
        scenario.methodology(category=SinkCategory.FOREST), MAOWEI, period.start,
        period.start + 30 * 365 * 86_400, doc("forest pdd")).id
    ledger.validate_project(acc["verifier"], project, doc("forest validation"))
    ledger.approve_project(acc["regulator"], project, doc("forest approval"))
    project_dir = tmp_path / "inbox" / str(project)
    (project_dir / f"{period.start}-{period.end}").mkdir(parents=True)
    (project_dir / "project.json").write_text(json.dumps({
        "project_id": project, "code": sample_data.FOREST_PROJECT,
        "calculator": "forest_increment", "area_ha": manifest["area_ha"],
        "baseline_until": manifest["baseline_until"]}))
    shutil.copy(raw / "plots.csv", project_dir / f"{period.start}-{period.end}" / "plots.csv")
    report = build_report(project_dir, period, now=2_000_000_000)
    plots = report.results["plots"]
    expected = forest_increment(plots.accepted, Decimal(manifest["area_ha"]),
                                baseline_until=sample_data.FOREST_BASELINE_UNTIL)
    assert report.quantity_units == expected.quantity_units > 0
    for seat in ("oracle2", "oracle3"):
        [outcome] = node(ledger, acc, seat, tmp_path / "inbox", tmp_path / "state").run_once()
    onchain = ledger.report(outcome.onchain_id)
    assert (onchain.status, onchain.attested_quantity) == (ReportStatus.ATTESTED,
                                                                 expected.quantity_units)
