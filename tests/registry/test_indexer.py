"""The SQL index follows the chain exactly, survives duplicate delivery and a hard kill, and
reads the same into SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector
from sqlalchemy import Engine, MetaData, select, text, update
from sqlalchemy.exc import OperationalError

from core.db import Base, session_factory
from core.paths import ROOT
from devkit.scenario import Scenario
from registry import queries
from registry.indexer import Indexer, IndexerError
from registry.ledger import Ledger, ReportStatus
from registry.models import INDEX_TABLES, Balance, IndexCursor
from tests.support.indexing import (
    TONNE,
    assert_index_matches_chain,
    canonical_dump,
    compensation_history,
    index_into,
    many_transfers,
    migrated,
    postgres_database,
    postgres_server_url,
    revert_to,
    scripted_history,
    snapshot,
    sqlite_url,
)
from tests.support.tickets import ticket_history


def head(ledger: Ledger) -> int:
    return int(ledger.chain.w3.eth.block_number)


# -- the index equals the chain ------------------------------------------------------------


def test_batches_balances_and_retirements_equal_the_chain(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    h = scripted_history(ledger, acc)
    engine = index_into(sqlite_url(tmp_path), ledger)
    pool = ledger.deployment.address("CarbonCredits")

    with session_factory(engine)() as s:
        for bid in h.batches:
            on_chain = ledger.batch(bid)
            row = queries.get_batch(s, bid)
            assert row is not None
            fields = ("issued", "buffer", "retired", "cancelled", "frozen")
            assert {k: row[k] for k in fields} == {k: getattr(on_chain, k) for k in fields}
            assert row["buffer_pool"] == ledger.buffer_balance(bid)
            for holder in [*h.holders, pool]:
                assert queries.balance_of(s, holder, bid) == ledger.balance(holder, bid)
        for rid in h.retirements:
            record = ledger.retirement(rid).retirement
            row = queries.get_retirement(s, rid)
            assert row is not None
            assert (row["holder"], row["batch_id"], row["amount"], row["serial_start"]) == (
                record.holder, record.batch_id, record.amount, record.serial_start)
            assert row["serial_end"] == row["serial_start"] + row["amount"] - 1


def test_retirement_keeps_purpose_beneficiary_and_case_reference(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    h = scripted_history(ledger, acc)
    engine = index_into(sqlite_url(tmp_path), ledger)
    with session_factory(engine)() as s:
        r = queries.get_retirement(s, h.retirements[0])
    assert r is not None
    assert (r["amount"], r["purpose"], r["beneficiary"], r["case_reference"]) == (
        326_400_000, "ecological_compensation", "福清市人民检察院 Fuqing Procuratorate",
        "(2025)闽0181民初123号",
    )
    block = ledger.chain.w3.eth.get_block(r["block_number"])
    assert r["block_timestamp"] == block["timestamp"]


def test_freezes_and_buffer_cancellation_are_indexed(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    h = scripted_history(ledger, acc)
    engine = index_into(sqlite_url(tmp_path), ledger)
    with session_factory(engine)() as s:
        frozen = queries.get_batch(s, h.frozen_batch)
        member = queries.get_member(s, h.frozen_account)
        cancellations = queries.list_buffer_cancellations(s, batch_id=h.batches[0])["items"]
    assert frozen is not None and frozen["frozen"] is True
    assert member is not None and member["frozen"] is True and member["active"] is True
    assert [(c["amount"], c["serial_start"]) for c in cancellations] == [
        (h.cancelled, 326_400_000 + 20 * TONNE + 1)
    ]


def test_reports_show_every_attestation_and_which_disagreed(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    h = scripted_history(ledger, acc)
    engine = index_into(sqlite_url(tmp_path), ledger)
    with session_factory(engine)() as s:
        disputed = queries.get_report(s, h.disputed_report)
        rejected = queries.get_report(s, h.rejected_report)
    assert disputed is not None and rejected is not None
    assert disputed["status"] == ReportStatus.ATTESTED.name.lower()
    assert disputed["submissions"] == ledger.report(h.disputed_report).submissions == 3
    by_node = {a["node"]: (a["agrees"], a["votes"]) for a in disputed["attestations"]}
    assert by_node == {
        acc["oracle1"].address: (True, 2),
        acc["oracle2"].address: (True, 2),
        acc["oracle3"].address: (False, 1),
    }
    assert rejected["status"] == "rejected" and rejected["attestations"][0]["agrees"] is None


def test_members_carry_their_roles(ledger: Ledger, tmp_path: Path,
                                   acc: dict[str, LocalAccount]) -> None:
    ledger.grant_role(acc["governance"], "BANK", acc["trader3"].address)
    ledger.revoke_role(acc["governance"], "ORACLE", acc["oracle3"].address)
    ledger.remove_member(acc["governance"], acc["trader2"].address)
    engine = index_into(sqlite_url(tmp_path), ledger)
    with session_factory(engine)() as s:
        roles = {m["address"]: (m["roles"], m["active"]) for m in queries.list_members(s)["items"]}
    assert roles[acc["governance"].address] == (["GOVERNANCE"], True)
    assert roles[acc["trader3"].address] == (["BANK"], True)
    assert roles[acc["oracle3"].address] == ([], True)
    assert roles[acc["trader2"].address] == ([], False)
    assert acc["outsider"].address not in roles


def test_sql_invariants_hold_and_catch_a_tampered_balance(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    h = scripted_history(ledger, acc)
    engine = index_into(sqlite_url(tmp_path), ledger)
    with session_factory(engine)() as s:
        assert queries.sql_invariants(s) == []
        s.execute(
            update(Balance)
            .where(Balance.address == acc["trader1"].address, Balance.batch_id == h.batches[0])
            .values(amount=Balance.amount + 1)
        )
        problems = queries.sql_invariants(s)
    assert len(problems) == 1 and problems[0].startswith(f"batch {h.batches[0]}: issued")


# -- delivery, resumption and crashes ------------------------------------------------------


def test_reapplying_a_range_changes_nothing(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    scripted_history(ledger, acc)
    engine = index_into(sqlite_url(tmp_path), ledger)
    before = canonical_dump(engine)
    indexer = Indexer(ledger.chain, ledger.deployment, engine, batch_blocks=7)
    assert indexer.replay(ledger.deployment.block, head(ledger)) == 0
    assert canonical_dump(engine) == before


def test_a_log_delivered_twice_in_one_range_is_applied_once(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    scripted_history(ledger, acc)
    expected = canonical_dump(index_into(sqlite_url(tmp_path, "once"), ledger))
    engine = migrated(sqlite_url(tmp_path, "twice"))
    indexer = Indexer(ledger.chain, ledger.deployment, engine)
    first, last = ledger.deployment.block, head(ledger)
    logs = indexer._fetch(first, last)
    applied = indexer.apply(first, last, [*logs, *reversed(logs)], head=last)
    assert applied == len(logs)
    assert canonical_dump(engine) == expected


def test_block_timestamps_are_fetched_when_logs_lack_them(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    scripted_history(ledger, acc)
    expected = canonical_dump(index_into(sqlite_url(tmp_path, "with"), ledger))
    engine = migrated(sqlite_url(tmp_path, "without"))
    indexer = Indexer(ledger.chain, ledger.deployment, engine)
    first, last = ledger.deployment.block, head(ledger)
    logs = [
        {k: v for k, v in lg.items() if k != "blockTimestamp"} for lg in indexer._fetch(first, last)
    ]
    indexer.apply(first, last, logs, head=last)
    assert canonical_dump(engine) == expected


def test_syncing_in_steps_equals_syncing_at_once(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    scripted_history(ledger, acc)
    expected = canonical_dump(index_into(sqlite_url(tmp_path, "once"), ledger))
    engine = migrated(sqlite_url(tmp_path, "steps"))
    indexer = Indexer(ledger.chain, ledger.deployment, engine, batch_blocks=3)
    middle = (ledger.deployment.block + head(ledger)) // 2
    first = indexer.sync(to_block=middle)
    with session_factory(engine)() as s:
        assert queries.index_status(s)["next_block"] == middle + 1
    rest = indexer.sync()
    assert indexer.sync() == 0
    assert first + rest == len(expected["event_journal"])
    assert canonical_dump(engine) == expected


def test_confirmations_keep_the_index_behind_the_head(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    Scenario(ledger, acc).batch()
    engine = migrated(sqlite_url(tmp_path))
    Indexer(ledger.chain, ledger.deployment, engine, confirmations=3).sync()
    with session_factory(engine)() as s:
        status = queries.index_status(s, head(ledger))
    assert status["indexed_to_block"] == head(ledger) - 3
    assert status["index_lag"] == 3


def test_a_database_indexing_another_deployment_is_refused(
    ledger: Ledger, tmp_path: Path
) -> None:
    engine = index_into(sqlite_url(tmp_path), ledger)
    with engine.begin() as conn:
        conn.execute(update(IndexCursor).values(registry_address="0x" + "11" * 20))
    with pytest.raises(IndexerError, match="use a fresh database"):
        Indexer(ledger.chain, ledger.deployment, engine).sync()


def test_run_follows_new_blocks_until_stopped(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    engine = migrated(sqlite_url(tmp_path))
    stop = threading.Event()
    indexer = Indexer(ledger.chain, ledger.deployment, engine)
    thread = threading.Thread(target=indexer.run, args=(stop, 0.02), daemon=True)
    thread.start()
    try:
        batch = Scenario(ledger, acc).batch()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with session_factory(engine)() as s:
                if queries.get_batch(s, batch.batch_id) is not None:
                    break
            time.sleep(0.02)
        else:
            pytest.fail("the running indexer did not pick up the new batch")
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def _cursor(engine: Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(IndexCursor.next_block)).scalar_one_or_none() or 0)
    except OperationalError:  # not migrated yet
        return 0


def _indexer_process(ledger: Ledger, record: Path, url: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "registry.indexer", "--rpc", ledger.chain.url,
        "--deployment", str(record), "--db", url, "--batch-blocks", "2", "--once",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_killed_indexer_restarts_to_the_same_state_as_an_uninterrupted_run(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    scenario = Scenario(ledger, acc)
    batch = scenario.batch(quantity=10_000 * TONNE)
    many_transfers(ledger, acc, batch.batch_id, 300)
    for k, holder in enumerate(("trader1", "trader2", "trader3")):
        ledger.retire(acc[holder], batch.batch_id, 500 + k, "killed-run check")
    record = tmp_path / "deployment.json"
    ledger.deployment.save(record)
    expected = canonical_dump(index_into(sqlite_url(tmp_path, "uninterrupted"), ledger))

    url = sqlite_url(tmp_path, "killed")
    first, last = ledger.deployment.block, head(ledger)
    watcher = migrated(url)
    for fraction in (0.3, 0.6):  # killed twice, at different depths
        proc = _indexer_process(ledger, record, url)
        kill_at = first + int((last - first) * fraction)
        deadline = time.monotonic() + 60
        while _cursor(watcher) <= kill_at and proc.poll() is None:
            assert time.monotonic() < deadline, "indexer made no progress"
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the indexer finished before it was killed"
        assert kill_at < _cursor(watcher) <= last
    proc = _indexer_process(ledger, record, url)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    watcher.dispose()

    assert canonical_dump(migrated(url)) == expected
    assert sum(len(rows) for rows in expected.values()) > 300


# -- schema and databases ------------------------------------------------------------------


def test_migration_creates_exactly_the_model_tables(tmp_path: Path) -> None:
    engine = migrated(sqlite_url(tmp_path))
    ours = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in INDEX_TABLES:
        table.to_metadata(ours)
    names = set(ours.tables)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _: kind != "table" or name in names,
            },
        )
        assert compare_metadata(context, ours) == []


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        base, server = postgres_server_url(tmp_path_factory.mktemp("pg"))
    except Exception as exc:  # no DATABASE_URL and no embedded server on this machine
        pytest.skip(f"no PostgreSQL available: {exc}")
    try:
        yield base
    finally:
        if server is not None:
            server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """An empty database of its own for each test."""
    with postgres_database(postgres_server) as url:
        yield url


@pytest.mark.postgres
def test_postgres_index_equals_sqlite_index(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, postgres_url: str
) -> None:
    ticket_history(ledger, acc)  # tickets, their retirements and pledges on both databases
    h = scripted_history(ledger, acc)  # (it freezes an account ticket_history moves tickets to)
    compensation_history(ledger, acc, h.batches[0])  # orders' JSON columns on both databases
    expected = canonical_dump(index_into(sqlite_url(tmp_path), ledger))
    engine = index_into(postgres_url, ledger, batch_blocks=5)
    try:
        assert engine.dialect.name == "postgresql"
        assert canonical_dump(engine) == expected
        with session_factory(engine)() as s:
            assert queries.sql_invariants(s) == []
            assert len(queries.list_retirements(s)["items"]) == len(h.retirements) + 1
            assert len(expected["compensation_orders"]) == 2
            assert len(expected["pledges"]) == 4 and expected["forest_tickets"]
            assert s.execute(text("select count(*) from event_journal")).scalar_one() == len(
                expected["event_journal"]
            )
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_index_rewinds_a_reorganisation_like_sqlite(
    ledger: Ledger, acc: dict[str, LocalAccount], postgres_url: str
) -> None:
    s = Scenario(ledger, acc)
    dev, t1, t2 = acc["developer"], acc["trader1"], acc["trader2"]
    batch = s.batch(quantity=1_000 * TONNE)
    ledger.transfer(dev, t1.address, batch.batch_id, 100 * TONNE)
    engine = migrated(postgres_url)
    try:
        assert engine.dialect.name == "postgresql"
        indexer = Indexer(ledger.chain, ledger.deployment, engine, batch_blocks=3)
        indexer.sync()
        fork = snapshot(ledger.chain)
        ledger.retire(t1, batch.batch_id, 10 * TONNE, "lost beneficiary")
        ledger.freeze_account(acc["regulator"], t2.address)
        s.batch(quantity=5 * TONNE, project_id=batch.project_id)
        indexer.sync()
        lost_head = head(ledger)
        revert_to(ledger.chain, fork)
        ledger.transfer(dev, t2.address, batch.batch_id, 20 * TONNE)
        while head(ledger) <= lost_head:
            ledger.transfer(t1, t2.address, batch.batch_id, 1)

        indexer.sync()

        with session_factory(engine)() as session:
            assert queries.index_status(session)["rewinds"] == 1
            assert queries.list_retirements(session)["total"] == 0
        assert_index_matches_chain(engine, ledger.chain, ledger.deployment)
    finally:
        engine.dispose()


# -- hostile input -------------------------------------------------------------------------


def test_a_beneficiary_that_is_not_utf8_cannot_stall_the_index(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    batch = Scenario(ledger, acc).batch()
    holder = acc["developer"]
    # Solidity does not check that `string` calldata is UTF-8; craft it below web3's encoder.
    selector = function_signature_to_4byte_selector("retire(uint256,uint256,string,uint8,string)")
    data = selector + abi_encode(
        ["uint256", "uint256", "bytes", "uint8", "bytes"],
        [batch.batch_id, 5, b"caf\xe9 \x00 ok", 0, b""],
    )
    tx = {"to": ledger.deployment.address("CarbonCredits"), "data": "0x" + data.hex(),
          "value": 0, "gas": 300_000, "gasPrice": ledger.chain.w3.eth.gas_price,
          "chainId": ledger.chain.chain_id}
    ledger.chain.wait(ledger.chain.send_raw(tx, holder))
    engine = index_into(sqlite_url(tmp_path), ledger)
    with session_factory(engine)() as s:
        (r,) = queries.list_retirements(s)["items"]
        assert r["beneficiary"] == "caf\ufffd \ufffd ok"
        assert queries.sql_invariants(s) == []


def test_word_by_word_decoding_equals_eth_abi_decoding(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    scripted_history(ledger, acc)
    indexer = Indexer(ledger.chain, ledger.deployment, migrated(sqlite_url(tmp_path)))
    decoder = indexer.decoder
    fast: set[str] = set()
    for lg in indexer._fetch(ledger.deployment.block, head(ledger)):
        spec = decoder._specs[lg["topics"][0]]
        if spec.words is not None:
            assert spec.decode_words(lg["topics"], lg["data"]) == decoder._decode_args(
                spec, lg["topics"], lg
            )
            fast.add(spec.name)
    assert fast >= {
        "RoleGranted", "MethodologyStatusChanged", "ProjectStatusChanged", "ReportOpened",
        "AttestationSubmitted", "ReportAttested", "ReportVerified", "ReportRejected",
        "BatchIssued", "TransferSingle", "BufferCancelled", "BatchFreezeChanged",
        "AccountFreezeChanged",
    }
