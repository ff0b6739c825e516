"""The issue's acceptance for the auditor: `tanhui audit` against the chain the demo produced
reports no failure and no difference from the SQL index; a row of the index tampered with shows
in the diff while the chain's checks pass; a balance altered in storage behind the contracts'
backs makes the audit exit non-zero naming the invariant and the batch."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from core.config import Settings
from devkit.demo import Demo, oracle_pass
from devkit.roster import dev_accounts
from registry.audit.sqldiff import indexed_to
from tanhui.audit_cli import app
from tanhui.services import Runtime, provision_dev_api_keys
from tests.support.audit import set_balance

runner = CliRunner()


def test_the_demo_chain_audits_clean_until_tampered(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path}/d.db"
    settings = Settings(data_dir=tmp_path, rpc_url=None, database_url=db_url,
                        api_port=0)
    rt = Runtime.start(settings)
    try:
        rt.start_indexer()
        assert rt.start_exchange()
        url = rt.serve_in_background(0)
        keys = provision_dev_api_keys(rt)
        addresses = {k: a.address for k, a in dev_accounts().items()}
        nodes = oracle_pass(settings.oracle_inbox, tmp_path / "oracle", rt.ledger)
        result = Demo(url, keys, addresses, nodes).run()
        assert result.verified
        head = int(rt.chain.rpc("eth_blockNumber"), 16)
        deadline = time.monotonic() + 60
        while (indexed_to(rt.engine) or 0) < head:
            assert time.monotonic() < deadline, "the index did not reach the head"
            time.sleep(0.2)
        args = ["--rpc", rt.chain.url, "--deployment",
                str(tmp_path / f"deployment-{rt.chain.chain_id}.json")]

        clean = runner.invoke(app, [*args, "--json", "--db", db_url])
        report = json.loads(clean.stdout.strip().splitlines()[-1])
        assert clean.exit_code == 0, clean.stderr
        assert report["ok"] and report["index_diff"]["clean"]
        assert report["counts"]["trades"] >= 1 and report["counts"]["orders"] == 1

        with rt.engine.begin() as conn:
            conn.execute(text("UPDATE retirements SET beneficiary = 'someone else' WHERE id = 1"))
        tampered = runner.invoke(app, [*args, "--db", db_url])
        assert tampered.exit_code == 1
        assert "index_diff failed for table retirements: 0 missing, 0 extra, 1 different" in \
            tampered.stderr
        assert "batch_conservation failed" not in tampered.stderr  # the chain itself is sound

        holder = addresses["trader3"]
        held = rt.ledger.balance(holder, result.batch_id)
        set_balance(rt.ledger, result.batch_id, holder, held + 1)
        broken = runner.invoke(app, args)
        assert broken.exit_code == 1
        assert f"batch_conservation failed for batch {result.batch_id}: issued" in broken.stderr
        assert f"balances_match failed for batch {result.batch_id}: holder {holder}" in \
            broken.stderr
    finally:
        rt.stop()
