"""The SQL index follows the chain backwards: blocks lost to a reorganisation (or to a node
that restarted from a stale state) leave the index, the blocks that reuse their numbers enter
it, and a rewind either happens whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select

import registry.indexer
from core.db import session_factory
from devkit.scenario import Batch, Scenario, doc
from registry import queries, reorg
from registry.indexer import Indexer
from registry.ledger import Ledger
from registry.models import IndexedBlock
from tests.support.indexing import (
    TONNE,
    assert_index_matches_chain,
    canonical_dump,
    indexed_to,
    migrated,
    revert_to,
    snapshot,
    sqlite_url,
)


def head(ledger: Ledger) -> int:
    return int(ledger.chain.w3.eth.block_number)


@dataclass
class Forked:
    """An index synced over blocks that the chain then lost (reverted to `fork`)."""

    engine: Engine
    indexer: Indexer
    batch: Batch
    fork_head: int
    lost_head: int
    lost_retirement: int
    lost_batch: int


def index_then_lose_blocks(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, batch_blocks: int = 2000
) -> Forked:
    """Issues a batch and moves some of it (indexed), then makes blocks with a transfer, a
    retirement, an account freeze, a role grant and a second batch (indexed too), and takes
    the chain back to before them."""
    s = Scenario(ledger, acc)
    dev, t1, t2, t3 = acc["developer"], acc["trader1"], acc["trader2"], acc["trader3"]
    batch = s.batch(quantity=1_000 * TONNE)
    ledger.transfer(dev, t1.address, batch.batch_id, 100 * TONNE)
    engine = migrated(sqlite_url(tmp_path))
    indexer = Indexer(ledger.chain, ledger.deployment, engine, batch_blocks=batch_blocks)
    indexer.sync()

    fork_head = head(ledger)
    fork = snapshot(ledger.chain)
    ledger.transfer(dev, t2.address, batch.batch_id, 50 * TONNE)
    lost = ledger.retire(t1, batch.batch_id, 10 * TONNE, "lost beneficiary")
    ledger.freeze_account(acc["regulator"], t3.address, doc("lost-freeze"))
    ledger.grant_role(acc["governance"], "BANK", t2.address)
    second = s.batch(quantity=5 * TONNE, project_id=batch.project_id)
    indexer.sync()
    with session_factory(engine)() as session:
        assert queries.get_retirement(session, lost.retirement_id) is not None
        assert queries.get_batch(session, second.batch_id) is not None
    lost_head = head(ledger)
    revert_to(ledger.chain, fork)
    return Forked(engine, indexer, batch, fork_head, lost_head, lost.retirement_id,
                  second.batch_id)


def make_new_blocks(ledger: Ledger, acc: dict[str, LocalAccount], batch: Batch,
                    past: int) -> int:
    """A retirement and transfers other than the lost ones, until the head is past block
    `past` (so the chain is longer than before and only the block hashes show the fork).
    Returns the retirement id."""
    dev, t1, t3 = acc["developer"], acc["trader1"], acc["trader3"]
    rid = ledger.retire(t1, batch.batch_id, 7 * TONNE, "new beneficiary").retirement_id
    ledger.transfer(dev, t3.address, batch.batch_id, 30 * TONNE)
    while head(ledger) <= past:
        ledger.transfer(dev, acc["trader2"].address, batch.batch_id, 1)
    return rid


def stored_block_hashes(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [(int(n), str(h)) for n, h in conn.execute(
            select(IndexedBlock.block_number, IndexedBlock.block_hash)
            .order_by(IndexedBlock.block_number))]


# -- a reorganisation ------------------------------------------------------------------------


def test_blocks_replaced_by_a_reorganisation_leave_the_index_and_their_successors_enter_it(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    f = index_then_lose_blocks(ledger, acc, tmp_path)
    new_retirement = make_new_blocks(ledger, acc, f.batch, past=f.lost_head)

    f.indexer.sync()

    bid = f.batch.batch_id
    with session_factory(f.engine)() as s:
        retirements = queries.list_retirements(s)["items"]
        assert [(r["id"], r["beneficiary"]) for r in retirements] == [
            (new_retirement, "new beneficiary")
        ]
        assert queries.get_batch(s, f.lost_batch) is None
        t2 = queries.get_member(s, acc["trader2"].address)
        t3 = queries.get_member(s, acc["trader3"].address)
        assert t2 is not None and "BANK" not in t2["roles"]
        assert t3 is not None and t3["frozen"] is False
        for seat in ("developer", "trader1", "trader2", "trader3"):
            address = acc[seat].address
            assert queries.balance_of(s, address, bid) == ledger.balance(address, bid)
        status = queries.index_status(s)
        assert (status["rewinds"], status["rewound_to_block"]) == (1, f.fork_head)
    assert_index_matches_chain(f.engine, ledger.chain, ledger.deployment)


def test_a_chain_that_went_backwards_rewinds_the_index_to_its_head(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    f = index_then_lose_blocks(ledger, acc, tmp_path)
    assert indexed_to(f.engine) == f.lost_head > head(ledger)

    assert f.indexer.sync() == 0

    assert indexed_to(f.engine) == head(ledger)
    with session_factory(f.engine)() as s:
        assert queries.get_retirement(s, f.lost_retirement) is None
    assert_index_matches_chain(f.engine, ledger.chain, ledger.deployment)


def test_a_reorganisation_in_the_middle_of_a_sync_is_rewound_within_it(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = Scenario(ledger, acc)
    batch = s.batch(quantity=1_000 * TONNE)
    ledger.transfer(acc["developer"], acc["trader1"].address, batch.batch_id, 100 * TONNE)
    engine = migrated(sqlite_url(tmp_path))
    indexer = Indexer(ledger.chain, ledger.deployment, engine, batch_blocks=2)
    indexer.sync()
    fork_head = head(ledger)
    fork = snapshot(ledger.chain)
    for k in range(6):
        ledger.transfer(acc["developer"], acc["trader1"].address, batch.batch_id, TONNE + k)
    lost_head = head(ledger)
    real_fetch = indexer._fetch
    reorganised: list[int] = []

    def fetch_then_reorganise(start: int, end: int) -> list[dict[str, object]]:
        logs = real_fetch(start, end)
        if not reorganised:  # the chain changes after the first range was read
            revert_to(ledger.chain, fork)
            make_new_blocks(ledger, acc, batch, past=lost_head)
            reorganised.append(start)
        return logs

    monkeypatch.setattr(indexer, "_fetch", fetch_then_reorganise)
    indexer.sync()

    with session_factory(engine)() as session:
        status = queries.index_status(session)
    assert (status["rewinds"], status["rewound_to_block"]) == (1, fork_head)
    assert indexed_to(engine) == lost_head
    assert_index_matches_chain(engine, ledger.chain, ledger.deployment)


def test_a_fork_deeper_than_the_kept_hashes_rebuilds_the_index_from_the_chain(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reorg, "HASH_HISTORY_BLOCKS", 1)
    f = index_then_lose_blocks(ledger, acc, tmp_path, batch_blocks=1)
    assert min(n for n, _ in stored_block_hashes(f.engine)) > head(ledger)
    make_new_blocks(ledger, acc, f.batch, past=f.lost_head)

    f.indexer.sync()

    with session_factory(f.engine)() as s:
        status = queries.index_status(s)
    assert status["rewound_to_block"] == ledger.deployment.block - 1
    assert_index_matches_chain(f.engine, ledger.chain, ledger.deployment)


def test_the_fork_point_is_found_with_few_block_lookups() -> None:
    chain = {n: f"h{n}" for n in range(0, 1_000)}
    chain.update({n: f"fork{n}" for n in range(900, 1_000)})
    stored = [(n, f"h{n}") for n in range(999, -1, -1)]
    probes: list[int] = []

    def lookup(n: int) -> str | None:
        probes.append(n)
        return chain.get(n)

    assert reorg.fork_point(stored, lookup) == 899
    assert len(probes) <= 2 * 10 + 2
    assert reorg.fork_point([(5, "x"), (3, "y")], lookup) is None


# -- crash safety ----------------------------------------------------------------------------


def test_a_rewind_that_fails_before_it_commits_leaves_the_index_as_it_was(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    f = index_then_lose_blocks(ledger, acc, tmp_path)
    make_new_blocks(ledger, acc, f.batch, past=f.lost_head)
    before = (canonical_dump(f.engine), stored_block_hashes(f.engine))
    real_rewind = registry.indexer.rewind

    def rewind_then_fail(*args: object, **kwargs: object) -> int:
        real_rewind(*args, **kwargs)  # type: ignore[arg-type]
        raise OSError("the database went away at the end of the rewind")

    monkeypatch.setattr(registry.indexer, "rewind", rewind_then_fail)
    with pytest.raises(OSError, match="end of the rewind"):
        f.indexer.sync()
    assert (canonical_dump(f.engine), stored_block_hashes(f.engine)) == before

    monkeypatch.undo()
    f.indexer.sync()
    assert_index_matches_chain(f.engine, ledger.chain, ledger.deployment)


def test_replaying_old_blocks_after_a_reorganisation_does_not_mix_the_forks(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    f = index_then_lose_blocks(ledger, acc, tmp_path)
    make_new_blocks(ledger, acc, f.batch, past=f.lost_head)

    f.indexer.replay(ledger.deployment.block, f.lost_head)

    assert_index_matches_chain(f.engine, ledger.chain, ledger.deployment)


@pytest.fixture
def fresh_index(tmp_path: Path) -> Iterator[Engine]:
    engine = migrated(sqlite_url(tmp_path, "fresh"))
    yield engine
    engine.dispose()


def test_an_index_without_stored_hashes_adopts_the_chains_and_then_follows_forks(
    ledger: Ledger, acc: dict[str, LocalAccount], fresh_index: Engine
) -> None:
    s = Scenario(ledger, acc)
    batch = s.batch()
    ledger.transfer(acc["developer"], acc["trader1"].address, batch.batch_id, 100 * TONNE)
    indexer = Indexer(ledger.chain, ledger.deployment, fresh_index)
    indexer.sync()
    with fresh_index.begin() as conn:  # as migrated from before hashes were kept
        conn.execute(IndexedBlock.__table__.delete())
    indexer.sync()
    assert [n for n, _ in stored_block_hashes(fresh_index)] == [indexed_to(fresh_index)]

    fork = snapshot(ledger.chain)
    ledger.transfer(acc["developer"], acc["trader1"].address, batch.batch_id, TONNE)
    indexer.sync()
    lost_head = head(ledger)
    revert_to(ledger.chain, fork)
    make_new_blocks(ledger, acc, batch, past=lost_head)
    indexer.sync()
    assert_index_matches_chain(fresh_index, ledger.chain, ledger.deployment)


def test_an_index_without_stored_hashes_that_is_off_the_chain_is_rebuilt(
    ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path
) -> None:
    f = index_then_lose_blocks(ledger, acc, tmp_path)
    with f.engine.begin() as conn:  # as migrated from before hashes were kept
        conn.execute(IndexedBlock.__table__.delete())
    make_new_blocks(ledger, acc, f.batch, past=f.lost_head)

    f.indexer.sync()

    with session_factory(f.engine)() as s:
        status = queries.index_status(s)
    assert status["rewound_to_block"] == ledger.deployment.block - 1
    assert_index_matches_chain(f.engine, ledger.chain, ledger.deployment)
