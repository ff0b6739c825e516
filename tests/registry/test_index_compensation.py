"""Compensation orders in the SQL index: what the chain's events say, rebuilt identically by a
fresh index, and taken back out when a reorganisation loses their blocks."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from core.db import session_factory
from devkit.scenario import Scenario
from registry import compensation_queries as cq
from registry.indexer import Indexer
from registry.ledger import Ledger
from registry.models import CompensationOffer, OrderRetirement
from tests.support.indexing import (
    TONNE,
    assert_index_matches_chain,
    compensation_history,
    migrated,
    revert_to,
    snapshot,
    sqlite_url,
)

FAR = 2**40


def holding(ledger: Ledger, acc: dict[str, LocalAccount]) -> int:
    s = Scenario(ledger, acc)
    b = s.batch(100 * TONNE, project_id=s.project(s.methodology()))
    ledger.transfer(acc["developer"], acc["trader1"].address, b.batch_id, 10 * TONNE)
    return b.batch_id


def test_orders_offers_and_counted_retirements_are_indexed_as_the_chain_says(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    compensation_history(ledger, acc, holding(ledger, acc))
    engine = migrated(sqlite_url(tmp_path))
    Indexer(ledger.chain, ledger.deployment, engine).sync()
    assert_index_matches_chain(engine, ledger.chain, ledger.deployment)
    with session_factory(engine)() as session:
        fulfilling = cq.order_of_case(session, "（2026）桂07民初88号", 0)
        closed = cq.order_of_case(session, "（2026）桂07民初89号", 0)
        assert fulfilling is not None and closed is not None
        assert (fulfilling["status"], fulfilling["fulfilled"], fulfilling["remaining"]) == \
            ("partly_fulfilled", 4 * TONNE, 6 * TONNE)
        assert (closed["status"], closed["required"]) == ("closed", 12 * TONNE)
        assert [s["kind"] for s in cq.order_timeline(session, fulfilling["id"])] == \
            ["registered", "counted", "offer_made", "offer_withdrawn"]
        assert [s["kind"] for s in cq.order_timeline(session, closed["id"])] == \
            ["registered", "amended", "closed"]
        assert cq.order_of_case(session, "（2026）桂07民初88号", FAR)["status"] == "overdue"
        offer = session.execute(select(CompensationOffer)).scalars().one()
        assert (offer.status, offer.remaining) == ("withdrawn", 2 * TONNE)
        counted = cq.counted_retirements(session, fulfilling["id"])
        assert [(c["amount"], c["holder"]) for c in counted] == \
            [(4 * TONNE, acc["trader1"].address)]


def test_a_counted_retirement_lost_to_a_reorganisation_leaves_the_index(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    batch = holding(ledger, acc)
    fork = snapshot(ledger.chain)
    compensation_history(ledger, acc, batch)
    engine = migrated(sqlite_url(tmp_path))
    indexer = Indexer(ledger.chain, ledger.deployment, engine)
    indexer.sync()
    revert_to(ledger.chain, fork)
    for _ in range(40):  # the chain goes on past the lost blocks with other ones
        ledger.chain.rpc("evm_mine")
    indexer.sync()
    assert_index_matches_chain(engine, ledger.chain, ledger.deployment)
    with session_factory(engine)() as session:
        assert cq.order_of_case(session, "（2026）桂07民初88号", 0) is None
        assert session.execute(select(OrderRetirement)).first() is None
