"""GET /health says whether the SQL index agrees with the chain: degraded (503) while the index
holds blocks the chain went back from or replaced, ok again once the indexer has rewound."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

import registry.indexer
from devkit.scenario import Batch, Scenario
from registry.indexer import Indexer
from registry.ledger import Ledger
from tests.support.api import Api, api_database, open_api
from tests.support.indexing import TONNE, revert_to, snapshot


@dataclass
class Indexed:
    api: Api
    indexer: Indexer
    batch: Batch


@pytest.fixture
def indexed(tmp_path: Path, ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Indexed]:
    """The API over a database its indexer has synced, after a batch and one transfer."""
    db = api_database(tmp_path, acc)
    batch = Scenario(ledger, acc).batch(quantity=1_000 * TONNE)
    ledger.transfer(acc["developer"], acc["trader1"].address, batch.batch_id, 100 * TONNE)
    indexer = Indexer(ledger.chain, ledger.deployment, db.engine)
    indexer.sync()
    with open_api(db, ledger, acc).http as http:
        yield Indexed(Api(http, db, ledger, acc), indexer, batch)
    db.engine.dispose()


def health(ix: Indexed, status: int) -> Any:
    r = ix.api.raw("GET", "/health")
    assert r.status_code == status, r.text
    return r.json()


def lose_blocks(ix: Indexed, n: int) -> int:
    """Makes `n` transfers, indexes them, and takes the chain back to before them; returns the
    head the index had reached."""
    ledger, acc = ix.api.ledger, ix.api.acc
    fork = snapshot(ledger.chain)
    for k in range(n):
        ledger.transfer(acc["developer"], acc["trader2"].address, ix.batch.batch_id, TONNE + k)
    ix.indexer.sync()
    lost_head = int(ledger.chain.w3.eth.block_number)
    revert_to(ledger.chain, fork)
    return lost_head


def test_health_is_ok_when_the_index_is_at_the_chain_head(indexed: Indexed) -> None:
    h = health(indexed, 200)
    assert (h["status"], h["index_status"], h["index_lag"]) == ("ok", "ok", 0)
    assert h["index_block_hash"] == h["chain_block_hash"] is not None
    assert h["index_rewinds"] == 0


def test_health_says_behind_but_stays_ok_while_new_blocks_wait_to_be_indexed(
    indexed: Indexed,
) -> None:
    ledger, acc = indexed.api.ledger, indexed.api.acc
    ledger.transfer(acc["developer"], acc["trader3"].address, indexed.batch.batch_id, TONNE)
    h = health(indexed, 200)
    assert (h["status"], h["index_status"], h["index_lag"]) == ("ok", "behind", 1)


def test_health_is_degraded_while_the_index_is_ahead_of_the_chain_and_ok_after_the_rewind(
    indexed: Indexed,
) -> None:
    lost_head = lose_blocks(indexed, 3)

    h = health(indexed, 503)
    assert (h["status"], h["index_status"]) == ("degraded", "ahead_of_chain")
    assert h["indexed_to_block"] == lost_head > h["latest_block"]
    assert h["chain_reachable"] and h["db_ok"]

    indexed.indexer.sync()
    h = health(indexed, 200)
    assert (h["status"], h["index_status"], h["index_rewinds"]) == ("ok", "ok", 1)
    assert h["indexed_to_block"] == h["latest_block"]


def test_health_is_degraded_while_the_index_holds_blocks_the_chain_replaced(
    indexed: Indexed,
) -> None:
    ledger, acc = indexed.api.ledger, indexed.api.acc
    lost_head = lose_blocks(indexed, 2)
    while int(ledger.chain.w3.eth.block_number) < lost_head + 1:
        ledger.transfer(acc["developer"], acc["trader3"].address, indexed.batch.batch_id, 5)

    h = health(indexed, 503)
    assert (h["status"], h["index_status"]) == ("degraded", "fork_detected")
    assert h["indexed_to_block"] == lost_head
    assert h["index_block_hash"] != h["chain_block_hash"]

    indexed.indexer.sync()
    h = health(indexed, 200)
    assert (h["status"], h["index_status"]) == ("ok", "ok")
    assert h["index_block_hash"] == h["chain_block_hash"]


def test_a_failed_rewind_leaves_health_degraded_until_a_rewind_succeeds(
    indexed: Indexed, monkeypatch: pytest.MonkeyPatch
) -> None:
    lose_blocks(indexed, 2)
    real_rewind = registry.indexer.rewind

    def rewind_then_fail(*args: Any, **kwargs: Any) -> int:
        real_rewind(*args, **kwargs)
        raise OSError("the database went away at the end of the rewind")

    monkeypatch.setattr(registry.indexer, "rewind", rewind_then_fail)
    with pytest.raises(OSError):
        indexed.indexer.sync()
    h = health(indexed, 503)
    assert (h["index_status"], h["index_rewinds"]) == ("ahead_of_chain", 0)

    monkeypatch.undo()
    indexed.indexer.sync()
    h = health(indexed, 200)
    assert (h["index_status"], h["index_rewinds"]) == ("ok", 1)


def test_liveness_answers_without_its_dependencies_and_readiness_checks_them(
        indexed: Indexed) -> None:
    from core.version import VERSION

    live = indexed.api.raw("GET", "/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "alive", "version": VERSION})
    assert health(indexed, 200)["version"] == VERSION
    lose_blocks(indexed, 2)  # the index now holds blocks the chain no longer has
    assert indexed.api.raw("GET", "/health/ready").status_code == 503
    assert indexed.api.raw("GET", "/health/live").status_code == 200


def test_server_time_is_the_clock_in_milliseconds_and_iso(indexed: Indexed) -> None:
    import time
    from datetime import datetime

    before = time.time_ns() // 1_000_000
    out = indexed.api.get("/v1/time")
    after = time.time_ns() // 1_000_000
    assert before <= out["server_time_ms"] <= after
    assert datetime.fromisoformat(out["iso"]).timestamp() * 1000 == out["server_time_ms"]
