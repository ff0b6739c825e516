"""Forest tickets and pledges in the SQL index: what the chain's events say (live owner and
value of every ticket, slot totals, retirements, pledges and where they stand), rebuilt
identically by a fresh index, and taken back out when a reorganisation loses their blocks."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from core.db import session_factory
from registry import ticket_queries as tq
from registry.indexer import Indexer
from registry.ledger import Ledger
from registry.models import ForestTicket, PledgeRow, TicketRetirementRow
from registry.pledges import Pledges
from registry.tickets import Tickets
from tests.support.indexing import (
    assert_index_matches_chain,
    migrated,
    revert_to,
    snapshot,
    sqlite_url,
)
from tests.support.tickets import TONNE, ticket_history


def test_every_ticket_and_pledge_is_indexed_as_the_chain_holds_it(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    h = ticket_history(ledger, acc)
    engine = migrated(sqlite_url(tmp_path))
    Indexer(ledger.chain, ledger.deployment, engine).sync()
    assert_index_matches_chain(engine, ledger.chain, ledger.deployment)
    tickets, pledges = Tickets(ledger), Pledges(ledger)
    with session_factory(engine)() as session:
        rows = {t.id: t for t in session.execute(select(ForestTicket)).scalars()}
        assert len(rows) == tickets.token_count()
        for token_id, row in rows.items():
            if tickets.exists(token_id):
                t = tickets.ticket(token_id)
                assert (row.owner, row.slot, row.value, row.burnt) == \
                    (t.owner, t.slot, t.value, False)
            else:
                assert (row.value, row.burnt) == (0, True)
        for p in session.execute(select(PledgeRow)).scalars():
            chain = pledges.pledge(p.id)
            assert (p.status, p.value, p.bank, p.token_id) == \
                (chain.status.name.lower(), chain.value, chain.bank, chain.token_id)
        retired = session.execute(select(TicketRetirementRow)).scalars().one()
        assert (retired.value, retired.serial_start, retired.serial_end) == \
            (50 * TONNE, 1, 50 * TONNE)
        parcel = tq.parcel_tickets(session, h.project_id)
        assert [s["slot"] for s in parcel["slots"]] == h.slots


def test_the_index_keeps_issued_equal_to_values_plus_retired_per_slot(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    h = ticket_history(ledger, acc)
    engine = migrated(sqlite_url(tmp_path))
    Indexer(ledger.chain, ledger.deployment, engine, batch_blocks=3).sync()
    with session_factory(engine)() as session:
        for slot in tq.parcel_tickets(session, h.project_id)["slots"]:
            live = sum(t["value_units"] for t in slot["tickets"])
            assert slot["issued_units"] == live + slot["retired_units"]
            assert slot["pledged_units"] == sum(
                t["value_units"] for t in slot["tickets"] if t["in_escrow"])


def test_tickets_and_pledges_lost_to_a_reorganisation_leave_the_index(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    fork = snapshot(ledger.chain)
    ticket_history(ledger, acc)
    engine = migrated(sqlite_url(tmp_path))
    indexer = Indexer(ledger.chain, ledger.deployment, engine)
    indexer.sync()
    revert_to(ledger.chain, fork)
    for _ in range(60):  # the chain goes on past the lost blocks with other ones
        ledger.chain.rpc("evm_mine")
    indexer.sync()
    assert_index_matches_chain(engine, ledger.chain, ledger.deployment)
    with session_factory(engine)() as session:
        assert session.execute(select(ForestTicket)).first() is None
        assert session.execute(select(PledgeRow)).first() is None


def test_a_reorganisation_within_the_history_rewinds_to_the_chain(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path) -> None:
    h = ticket_history(ledger, acc)
    engine = migrated(sqlite_url(tmp_path))
    indexer = Indexer(ledger.chain, ledger.deployment, engine)
    indexer.sync()
    fork = snapshot(ledger.chain)
    tickets = Tickets(ledger)
    tickets.retire(acc["trader2"], h.tickets[1], 10 * TONNE, "lost beneficiary")
    Pledges(ledger).release(acc["bank"], h.pledges[2])
    indexer.sync()
    lost_head = int(ledger.chain.w3.eth.block_number)
    revert_to(ledger.chain, fork)
    tickets.split(acc["trader2"], h.tickets[1], 5 * TONNE)
    while int(ledger.chain.w3.eth.block_number) <= lost_head:
        ledger.chain.rpc("evm_mine")
    indexer.sync()
    assert_index_matches_chain(engine, ledger.chain, ledger.deployment)
    with session_factory(engine)() as session:
        assert len(session.execute(select(TicketRetirementRow)).all()) == 1
        assert session.get(PledgeRow, h.pledges[2]).status == "active"  # type: ignore[union-attr]
