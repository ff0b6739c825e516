"""Property: whatever parties, holders and amounts try to retire credits or forest tickets for
an order, in any order, every tonne is counted once — the order's total is the sum of the credit
and ticket retirements the contract counted for it, each retirement counted at most once (credit
and ticket retirement ids are apart), never past a tonne requirement, and a refused retirement
moves nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.client import Chain, ChainRevert
from chain.deploy import Deployment
from devkit.scenario import Scenario, doc
from registry.categories import SinkCategory
from registry.compensation import Compensation, OrderStatus, Terms, Unit
from registry.ledger import Ledger
from registry.tickets import Tickets
from tests.support.indexing import TONNE, revert_to, snapshot

SEATS = ("trader1", "trader2", "trader3")
PARTIES = ("trader1", "trader2")  # trader3 holds credits but is no party
REQUIRED = 20 * TONNE


@dataclass
class Base:
    ledger: Ledger
    acc: dict[str, LocalAccount]
    eligible: int
    ineligible: int
    # per seat: a ticket of a Guangxi forest parcel (eligible) and of a Fujian one (not)
    tickets: dict[str, tuple[int, int]]


@pytest.fixture(scope="module")
def base(chain: Chain, deployment: Deployment, acc: dict[str, LocalAccount]) -> Iterator[Base]:
    """A mangrove batch and a seagrass batch, 30 t of each held by each trader, and 30 t
    tickets of a Guangxi (450702) and of a Fujian (350402) forest parcel in each trader's
    hands; the order admits mangrove and forest carbon of Guangxi."""
    start = snapshot(chain)
    ledger = Ledger(chain, deployment)
    s = Scenario(ledger, acc)
    batches = []
    for category in (SinkCategory.MANGROVE, SinkCategory.SEAGRASS):
        b = s.batch(200 * TONNE, project_id=s.project(s.methodology(category=category)))
        for seat in SEATS:
            ledger.transfer(acc["developer"], acc[seat].address, b.batch_id, 30 * TONNE)
        batches.append(b.batch_id)
    tickets = Tickets(ledger)
    forest = s.methodology(category=SinkCategory.FOREST)
    held: dict[str, list[int]] = {seat: [] for seat in SEATS}
    for division in (450702, 350402):
        issued = s.ticket(200 * TONNE, project_id=s.project(forest, division_code=division))
        for seat in SEATS:
            held[seat].append(tickets.transfer(acc["developer"], issued.token_id,
                                               acc[seat].address, 30 * TONNE))
    yield Base(ledger, acc, batches[0], batches[1],
               {seat: (t[0], t[1]) for seat, t in held.items()})
    revert_to(chain, start)


attempts = st.lists(
    st.tuples(st.sampled_from(SEATS), st.sampled_from(("credit", "ticket")), st.booleans(),
              st.integers(min_value=1, max_value=9)),
    min_size=1, max_size=8,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attempts)
def test_every_tonne_counts_once_and_never_past_the_requirement(
        base: Base, tries: list[tuple[str, str, bool, int]]) -> None:
    ledger, acc = base.ledger, base.acc
    snap = snapshot(ledger.chain)
    try:
        comp = Compensation(ledger)
        tickets = Tickets(ledger)
        deadline = int(ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 86_400
        order = comp.register_order(acc["procuratorate"], "（2026）桂07民初900号", Terms(
            unit=Unit.TONNES, required=REQUIRED,
            categories=(SinkCategory.MANGROVE, SinkCategory.FOREST), regions=(45,),
            deadline=deadline, party_names=("甲", "乙"), document_hash=doc("judgment"),
            parties=tuple(acc[p].address for p in PARTIES))).id
        counted: dict[str, list[tuple[int, int]]] = {"credit": [], "ticket": []}
        for seat, asset, eligible, tonnes in tries:
            if asset == "credit":
                batch = base.eligible if eligible else base.ineligible
                before = ledger.balance(acc[seat].address, batch)
            else:
                token = base.tickets[seat][0 if eligible else 1]
                before = tickets.value_of(token)
            try:
                c = (comp.retire_for_order(acc[seat], order, batch, tonnes * TONNE)
                     if asset == "credit" else
                     comp.retire_tickets_for_order(acc[seat], order, token, tonnes * TONNE))
            except ChainRevert as exc:
                assert exc.name in {"NotOrderParty", "IneligibleCategory", "IneligibleRegion",
                                    "ExceedsRequirement", "OrderNotOpen"}, exc.name
                after = (ledger.balance(acc[seat].address, batch) if asset == "credit"
                         else tickets.value_of(token))
                assert after == before
                continue
            assert seat in PARTIES and eligible
            counted[asset].append((c.retirement.retirement_id, c.value))
        o = comp.order(order)
        for rows in counted.values():
            ids = [r for r, _ in rows]
            assert len(ids) == len(set(ids))
        total = sum(v for rows in counted.values() for _, v in rows)
        assert o.fulfilled == total == o.retired_amount <= REQUIRED
        orders = ledger.c("CompensationOrders").events
        for asset, event in (("credit", orders.RetirementCounted),
                             ("ticket", orders.TicketRetirementCounted)):
            logs = event.get_logs(from_block=0, argument_filters={"orderId": order})
            assert sorted((int(e.args.retirementId), int(e.args.value)) for e in logs) == \
                sorted(counted[asset])
        expected = OrderStatus.FULFILLED if o.fulfilled == REQUIRED else (
            OrderStatus.PARTLY_FULFILLED if total else OrderStatus.OPEN)
        assert o.status == expected
    finally:
        revert_to(ledger.chain, snap)
