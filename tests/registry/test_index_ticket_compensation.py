"""Forest-ticket retirements counted toward compensation orders in the SQL index: a table of
their own (ticket retirement ids are apart from credits'), the order's totals as the chain
counts them, and taken back out when a reorganisation loses their blocks."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from core.db import session_factory
from devkit.scenario import Scenario, doc
from registry import compensation_queries as cq
from registry.categories import SinkCategory
from registry.compensation import Compensation, Terms, Unit
from registry.indexer import Indexer
from registry.ledger import Ledger
from registry.models import OrderTicketRetirement
from registry.tickets import Tickets
from tests.support.indexing import (
    TONNE,
    assert_index_matches_chain,
    migrated,
    revert_to,
    snapshot,
    sqlite_url,
)

CASE = "（2026）闽04刑初12号"


def ticket_and_credit_retirements(ledger: Ledger, acc: dict[str, LocalAccount]) -> int:
    """A forest order fulfilled by trader1: 6 t of credits, then 4 t of a ticket; its id."""
    s = Scenario(ledger, acc)
    t1 = acc["trader1"]
    forest = s.methodology(category=SinkCategory.FOREST)
    batch = s.batch(100 * TONNE, project_id=s.project(forest)).batch_id
    ledger.transfer(acc["developer"], t1.address, batch, 6 * TONNE)
    issued = s.ticket(100 * TONNE, project_id=s.project(forest))
    token = Tickets(ledger).transfer(acc["developer"], issued.token_id, t1.address, 4 * TONNE)
    comp = Compensation(ledger)
    deadline = int(ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 365 * 86_400
    order = comp.register_order(acc["procuratorate"], CASE, Terms(
        unit=Unit.TONNES, required=10 * TONNE, categories=(SinkCategory.FOREST,),
        deadline=deadline, party_names=("林某某",), document_hash=doc("judgment"),
        parties=(t1.address,))).id
    comp.retire_for_order(t1, order, batch, 6 * TONNE)
    comp.retire_tickets_for_order(t1, order, token, 4 * TONNE)
    return order


def test_counted_ticket_retirements_are_indexed_apart_from_credits_as_the_chain_says(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    order = ticket_and_credit_retirements(ledger, acc)
    engine = migrated(sqlite_url(tmp_path))
    Indexer(ledger.chain, ledger.deployment, engine).sync()
    assert_index_matches_chain(engine, ledger.chain, ledger.deployment)
    with session_factory(engine)() as session:
        row = cq.get_order(session, order, 0)
        assert row is not None
        assert (row["status"], row["fulfilled"], row["retired_amount"]) == (
            "fulfilled", 10 * TONNE, 10 * TONNE)
        assert [s["kind"] for s in cq.order_timeline(session, order)] == \
            ["registered", "counted", "ticket_counted", "fulfilled"]
        # both registers' first retirement is number 1: each is listed once, in its own list
        assert [(c["retirement_id"], c["amount"]) for c in
                cq.counted_retirements(session, order)] == [(1, 6 * TONNE)]
        tickets = cq.counted_ticket_retirements(session, order)
        assert [(t["retirement_id"], t["amount"], t["serial_start"], t["serial_end"],
                 t["holder"]) for t in tickets] == [
            (1, 4 * TONNE, 1, 4 * TONNE, acc["trader1"].address)]


def test_a_counted_ticket_retirement_lost_to_a_reorganisation_leaves_the_index(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    fork = snapshot(ledger.chain)
    ticket_and_credit_retirements(ledger, acc)
    engine = migrated(sqlite_url(tmp_path))
    indexer = Indexer(ledger.chain, ledger.deployment, engine)
    indexer.sync()
    revert_to(ledger.chain, fork)
    for _ in range(40):  # the chain goes on past the lost blocks with other ones
        ledger.chain.rpc("evm_mine")
    indexer.sync()
    assert_index_matches_chain(engine, ledger.chain, ledger.deployment)
    with session_factory(engine)() as session:
        assert cq.order_of_case(session, CASE, 0) is None
        assert session.execute(select(OrderTicketRetirement)).first() is None
