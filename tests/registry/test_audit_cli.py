"""`tanhui audit` from a terminal against the real chain: exit 0 and every check passing on a
sound chain, non-zero naming the invariant and the batch once a balance is altered in storage;
provenance and record proofs; refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path

from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from registry.ledger import Ledger
from tanhui import cli
from tanhui.audit_cli import app
from tests.support.audit import attested_records, demo_history, proof_json, set_balance

TONNE = 1_000_000
RECORDS = [f'{{"plot":"P-{i}","agb_t":{i * 3}}}'.encode() for i in range(5)]
runner = CliRunner()


def run(ledger: Ledger, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    record = tmp_path / "deployment.json"
    ledger.deployment.save(record)
    result = runner.invoke(app, ["--rpc", ledger.chain.url, "--deployment", str(record), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_audit_command_is_part_of_tanhui() -> None:
    assert "audit" in [g.name for g in cli.app.registered_groups]


def test_a_sound_chain_passes_with_exit_status_zero(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    demo_history(ledger, acc)
    code, out, _ = run(ledger, tmp_path, "--json")
    report = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and report["ok"] is True
    assert {c["name"] for c in report["checks"] if c["passed"]} >= {
        "batch_conservation", "balances_match", "ticket_conservation", "serial_ranges",
        "one_issuance_per_report", "one_settlement_per_trade", "order_totals"}
    code, out, _ = run(ledger, tmp_path)
    assert code == 0 and "batch_conservation" in out and "FAIL" not in out


def test_a_balance_altered_in_storage_exits_non_zero_naming_invariant_and_batch(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    demo = demo_history(ledger, acc)
    set_balance(ledger, demo.batch, acc["trader1"].address, 1)
    code, out, err = run(ledger, tmp_path)
    assert code == 1
    assert f"batch_conservation failed for batch {demo.batch}: issued 1000000000 ≠" in err
    assert f"balances_match failed for batch {demo.batch}" in err
    assert "FAIL" in out


def test_provenance_of_a_batch_as_json(ledger: Ledger, acc: dict[str, LocalAccount],
                                       tmp_path: Path) -> None:
    demo = demo_history(ledger, acc)
    code, out, _ = run(ledger, tmp_path, "provenance", "batch", str(demo.batch), "--json")
    found = json.loads(out)
    assert code == 0 and found["steps"][0]["step"] == "methodology"
    code, out, _ = run(ledger, tmp_path, "provenance", "order", str(demo.order))
    assert code == 0 and "Provenance of order" in out


def test_provenance_of_an_unknown_object_or_kind_is_refused(
        ledger: Ledger, tmp_path: Path) -> None:
    code, _, err = run(ledger, tmp_path, "provenance", "batch", "999")
    assert code == 1 and "the chain has no batch 999" in err
    code, _, err = run(ledger, tmp_path, "provenance", "forward", "1")
    assert code == 2 and "unknown kind 'forward'" in err


def test_prove_record_from_a_file_and_from_json(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    report = attested_records(ledger, acc, RECORDS)
    proof = proof_json(RECORDS, 2)
    path = tmp_path / "record.json"
    path.write_text(json.dumps(proof))
    code, out, _ = run(ledger, tmp_path, "prove-record", str(report), str(path), "--json")
    assert code == 0 and json.loads(out)["verified"] is True
    forged = {**proof, "record": proof["record"].replace("6", "7")}  # type: ignore[attr-defined]
    code, _, err = run(ledger, tmp_path, "prove-record", str(report), "--record",
                       json.dumps(forged))
    assert code == 1 and f"record_proof failed for report {report}" in err


def test_prove_record_refuses_malformed_input(ledger: Ledger, tmp_path: Path) -> None:
    code, _, err = run(ledger, tmp_path, "prove-record", "1", "--record", "{not json")
    assert code == 2 and "not JSON" in err
    code, _, err = run(ledger, tmp_path, "prove-record", "1", "--record",
                       json.dumps({"record": "x", "proof": ["zz"]}))
    assert code == 2 and "0x-hex" in err
    code, _, err = run(ledger, tmp_path, "prove-record", "1")
    assert code == 2 and "one of them" in err


def test_a_missing_deployment_record_exits_two(ledger: Ledger, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--rpc", ledger.chain.url, "--deployment",
                                 str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "no deployment record" in result.stderr
