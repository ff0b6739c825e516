"""The chain-only auditor on a real chain: a demo-like history passes every named invariant;
state altered behind the contracts' backs (anvil_setStorageAt on a balance) fails the
invariants that name the batch; provenance runs from methodology to retirement; a monitoring
record is proven against its attested root; the SQL diff names a tampered index row."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import text

from registry.audit import Auditor
from registry.audit.checks import _ranges
from registry.audit.provenance import role_ids
from registry.ledger import Ledger
from tests.support.audit import (
    attested_records,
    balance_key,
    demo_history,
    proof_json,
    set_balance,
)
from tests.support.indexing import index_into, sqlite_url

TONNE = 1_000_000
RECORDS = [f'{{"device":"buoy-{i:02d}","co2_ppm":{400 + i}}}'.encode() for i in range(7)]


def audit(ledger: Ledger) -> Auditor:
    return Auditor(ledger.chain, ledger.deployment)


def test_a_demo_like_history_passes_every_check(ledger: Ledger,
                                                acc: dict[str, LocalAccount]) -> None:
    demo_history(ledger, acc)
    report = audit(ledger).audit()
    assert report.failures == []
    assert report.ok
    assert report.counts["trades"] == 1 and report.counts["pledges"] == 2
    assert report.counts["ticket_retirements"] == 2 and report.counts["orders"] == 1


def test_the_balance_key_from_the_storage_layout_holds_the_balance(
        ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    demo = demo_history(ledger, acc)
    holder = acc["trader1"].address
    stored = ledger.chain.rpc("eth_getStorageAt", ledger.deployment.address("CarbonCredits"),
                              balance_key(demo.batch, holder), "latest")
    assert int(stored, 16) == ledger.balance(holder, demo.batch) > 0


def test_a_balance_altered_in_storage_fails_conservation_naming_the_batch(
        ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    demo = demo_history(ledger, acc)
    set_balance(ledger, demo.other_batch, acc["trader2"].address, 11 * TONNE)
    lines = [f.line() for f in audit(ledger).audit().failures]
    assert any(line.startswith(f"batch_conservation failed for batch {demo.other_batch}: "
                               "issued 500000000 ≠ balances 501000000") for line in lines)
    assert any(line.startswith(f"balances_match failed for batch {demo.other_batch}: holder "
                               f"{acc['trader2'].address}") for line in lines)
    assert not any(f"batch {demo.batch}:" in line for line in lines)


def test_credits_moved_between_holders_in_storage_fail_balances_match_alone(
        ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    demo = demo_history(ledger, acc)
    dev, t2 = acc["developer"].address, acc["trader2"].address
    b = demo.other_batch
    set_balance(ledger, b, dev, ledger.balance(dev, b) - TONNE)
    set_balance(ledger, b, t2, ledger.balance(t2, b) + TONNE)
    found = audit(ledger).audit().checks
    assert found["batch_conservation"] == []  # the sum is intact: conservation alone misses it
    assert sorted(f.message.split(":")[0] for f in found["balances_match"]) == sorted(
        [f"holder {dev}", f"holder {t2}"])
    assert {f.object for f in found["balances_match"]} == {f"batch {b}"}


def test_serial_ranges_with_a_gap_or_an_overlap_are_named() -> None:
    gap = _ranges("batch", 4, [(1, 10, "retirement 1"), (12, 5, "retirement 2")], 16, "serial")
    overlap = _ranges("slot", 9, [(1, 10, "retirement 1"), (10, 5, "retirement 2")], 14, "serial")
    short = _ranges("batch", 4, [(1, 10, "retirement 1")], 11, "serial")
    assert [f.line() for f in gap] == [
        "serial failed for batch 4: retirement 2 starts at serial 12: "
        "leaves a gap before serial 11"]
    assert [f.line() for f in overlap] == [
        "serial failed for slot 9: retirement 2 starts at serial 10: overlaps serial 11"]
    assert [f.line() for f in short] == [
        "serial failed for batch 4: serials 1..10 used, but 11 consumed on chain"]
    assert _ranges("batch", 4, [(11, 5, "b"), (1, 10, "a")], 15, "serial") == []


def test_provenance_of_a_batch_runs_from_methodology_to_retirement(
        ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    demo = demo_history(ledger, acc)
    found = audit(ledger).provenance("batch", demo.batch)
    steps = [s["step"] for s in found["steps"]]
    assert steps[:5] == ["methodology", "project", "monitoring_report", "verification",
                         "issuance"]
    assert {"transfer", "settlement", "retirement"} <= set(steps)
    report = found["steps"][2]
    assert report["id"] == demo.report and report["votes"] == 2
    assert [a["node"] for a in report["attestations"]] == [acc["oracle1"].address,
                                                           acc["oracle2"].address]
    assert all(a["roles"] == ["ORACLE"] for a in report["attestations"])
    assert found["steps"][3]["verifier_roles"] == ["VERIFIER"]
    traded = [s for s in found["steps"] if s["step"] == "transfer" and s["trade_id"] == 1]
    assert [(t["from"], t["to"], t["amount"]) for t in traded] == [
        (acc["trader1"].address, acc["trader2"].address, 4 * TONNE)]
    serials = [(s["serial_start"], s["serial_end"]) for s in found["steps"]
               if s["step"] == "retirement"]
    assert serials == [(1, 20 * TONNE), (20 * TONNE + 1, 24 * TONNE)]


def test_provenance_of_a_retirement_proves_its_record_on_chain(
        ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    demo = demo_history(ledger, acc)
    found = audit(ledger).provenance("retirement", demo.retirement)
    assert found["record_verified_on_chain"] is True
    assert found["retirement"]["serial_start"] == 1 and found["batch_id"] == demo.batch


def test_provenance_of_a_ticket_a_pledge_and_an_order(
        ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    demo = demo_history(ledger, acc)
    a = audit(ledger)
    ticket = a.provenance("ticket", demo.ticket)
    assert ticket["slot"] == demo.slot and ticket["steps"][0]["step"] == "methodology"
    assert "TicketIssued" in [s["step"] for s in ticket["steps"]]
    pledge = a.provenance("pledge", demo.pledge)
    assert (pledge["status"], pledge["asset_kind"], pledge["asset_id"]) == (
        "active", "batch", demo.batch)
    order = a.provenance("order", demo.order)
    assert [c["retirement_id"] for c in order["counted"]] == [demo.order_retirement]
    assert order["counted"][0]["retirement"]["case_reference"] == order["case_number"]


def test_role_names_come_from_the_consortium_abi(ledger: Ledger) -> None:
    a = audit(ledger)
    _, reads = a.load()
    names = set(role_ids(reads).values())
    assert {"GOVERNANCE", "MEMBER", "ORACLE", "VERIFIER", "BANK", "FORESTRY"} <= names


def test_a_record_proves_against_the_attested_root_and_an_altered_one_does_not(
        ledger: Ledger, acc: dict[str, LocalAccount]) -> None:
    report = attested_records(ledger, acc, RECORDS)
    proof = proof_json(RECORDS, 3)
    hashes = [bytes.fromhex(p[2:]) for p in proof["proof"]]  # type: ignore[attr-defined]
    a = audit(ledger)
    good = a.prove_record(report, RECORDS[3], hashes)
    assert good["verified"] is True
    assert good["attested_by"] == [acc["oracle1"].address, acc["oracle2"].address]
    assert a.prove_record(report, RECORDS[3].replace(b"403", b"404"), hashes)["verified"] is False


def test_the_sql_diff_is_clean_for_a_faithful_index(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    demo_history(ledger, acc)
    url = sqlite_url(tmp_path)
    index_into(url, ledger).dispose()
    report = audit(ledger).audit(db_url=url)
    assert report.index_diff is not None and report.index_diff["clean"], report.index_diff
    assert report.ok


def test_the_sql_diff_names_a_tampered_deleted_and_invented_row(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    demo = demo_history(ledger, acc)
    url = sqlite_url(tmp_path)
    engine = index_into(url, ledger)
    with engine.begin() as conn:
        conn.execute(text("UPDATE balances SET amount = amount + 1 WHERE batch_id = :b AND "
                          "address = :a"), {"b": demo.batch, "a": acc["trader1"].address})
        conn.execute(text("DELETE FROM retirements WHERE id = :r"), {"r": demo.retirement})
    engine.dispose()
    report = audit(ledger).audit(db_url=url)
    assert report.failures == []  # the chain itself is sound
    assert report.index_diff is not None and not report.ok
    tables = {t["table"]: t for t in report.index_diff["tables"]}
    assert tables["balances"]["different"] == 1
    [change] = tables["balances"]["differences"]
    assert set(change["columns"]) == {"amount"}
    assert change["columns"]["amount"]["index"] == change["columns"]["amount"]["chain"] + 1
    assert tables["retirements"]["missing"] == 1
    assert tables["retirements"]["missing_keys"] == [demo.retirement]
