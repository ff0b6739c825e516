"""The k-of-n vote of the two oracle gates (monitoring reports and disturbances), which share one
bookkeeping (contracts/registry/OracleQuorum.sol): one vote per node and subject, votes counted
per digest, decided when one digest reaches k (the monitoring-report threshold for both), and
each gate's own errors and events, whose argument names clients decode."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.client import ChainRevert
from devkit.scenario import Scenario, doc
from registry.ledger import Ledger

TONNE = 1_000_000
TYPHOON = 2


def report_digest(root: bytes, quantity: int, report_hash: bytes) -> bytes:
    return keccak(root + quantity.to_bytes(32, "big") + report_hash)


def disturbance_digest(loss: int, evidence: bytes) -> bytes:
    return keccak(loss.to_bytes(32, "big") + evidence)


def test_a_node_votes_once_on_a_report_and_the_refusal_names_the_report(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    s = Scenario(ledger, acc)
    project = s.project(s.methodology())
    start, end = s.period(project)
    rid = ledger.attest(acc["oracle1"], project, start, end, doc("r1"), 5 * TONNE, doc("a")).id
    with pytest.raises(ChainRevert) as denied:
        ledger.attest(acc["oracle1"], project, start, end, doc("r2"), 6 * TONNE, doc("b"))
    assert (denied.value.name, denied.value.error and denied.value.error.args) == (
        "AlreadyAttested", {"reportId": rid, "node": acc["oracle1"].address})
    assert ledger.submission_of(rid, acc["oracle1"].address) == report_digest(
        doc("r1"), 5 * TONNE, doc("a"))


def test_a_node_votes_once_on_a_disturbance_and_the_refusal_names_the_disturbance(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    s = Scenario(ledger, acc)
    project = s.project(s.methodology())
    at = s.event_time()
    did = ledger.attest_disturbance(acc["oracle1"], project, TYPHOON, at, 7 * TONNE,
                                    doc("e1")).id
    with pytest.raises(ChainRevert) as denied:
        ledger.attest_disturbance(acc["oracle1"], project, TYPHOON, at, 8 * TONNE, doc("e2"))
    # Both gates declare AlreadyAttested(uint256, address): one selector, so the decoder (keyed
    # by selector) names the first argument as the monitoring gate does; the values are the
    # disturbance's.
    assert denied.value.name == "AlreadyAttested" and denied.value.error is not None
    assert list(denied.value.error.args.values()) == [did, acc["oracle1"].address]
    assert ledger.disturbance_submission_of(did, acc["oracle1"].address) == disturbance_digest(
        7 * TONNE, doc("e1"))


def test_disagreeing_votes_are_counted_apart_and_do_not_decide_a_report(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    s = Scenario(ledger, acc)
    project = s.project(s.methodology())
    start, end = s.period(project)
    rid = ledger.attest(acc["oracle1"], project, start, end, doc("r1"), 5 * TONNE, doc("a")).id
    ledger.attest(acc["oracle2"], project, start, end, doc("r2"), 5 * TONNE, doc("a"))
    votes = ledger.c("MonitoringReports").functions.votesFor
    assert [ledger.chain.call(votes(rid, report_digest(doc(r), 5 * TONNE, doc("a"))))
            for r in ("r1", "r2")] == [1, 1]
    report = ledger.report(rid)
    assert (report.status, report.submissions) == (1, 2)  # pending, two votes


def test_the_vote_reaching_k_decides_a_report_and_a_late_vote_is_only_counted(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    s = Scenario(ledger, acc)
    project = s.project(s.methodology())
    start, end = s.period(project)
    vote = (start, end, doc("root"), 5 * TONNE, doc("rep"))
    ledger.attest(acc["oracle1"], project, *vote)
    deciding = ledger.attest(acc["oracle2"], project, *vote)
    late = ledger.attest(acc["oracle3"], project, *vote)
    assert [e.args["votes"] for e in ledger.events_of(deciding.sent, "ReportAttested")] == [2]
    assert ledger.events_of(late.sent, "ReportAttested") == []
    digest = report_digest(doc("root"), 5 * TONNE, doc("rep"))
    votes = ledger.c("MonitoringReports").functions.votesFor(late.id, digest)
    assert ledger.chain.call(votes) == 3
    assert (ledger.report(late.id).status, ledger.report(late.id).submissions) == (2, 3)


def test_a_disturbance_needs_the_monitoring_report_threshold_of_agreeing_votes(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    s = Scenario(ledger, acc)
    project = s.project(s.methodology())
    ledger.set_threshold(acc["governance"], 3)
    at = s.event_time()
    sent = [ledger.attest_disturbance(acc[n], project, TYPHOON, at, 7 * TONNE, doc("e"))
            for n in ("oracle1", "oracle2", "oracle3")]
    decided = [bool(ledger.events_of(c.sent, "DisturbanceAttested")) for c in sent]
    assert decided == [False, False, True]
    d = ledger.disturbance(sent[-1].id)
    assert (d.status, d.submissions, d.attested_loss) == (2, 3, 7 * TONNE)
