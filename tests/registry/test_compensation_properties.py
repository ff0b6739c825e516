"""Property: whatever parties, holders and amounts try to retire for an order, in any order,
every tonne is counted once — the order's total is the sum of the retirements the contract
counted for it, each retirement counted at most once, never past a tonne requirement, and a
refused retirement moves nothing."""

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


@pytest.fixture(scope="module")
def base(chain: Chain, deployment: Deployment, acc: dict[str, LocalAccount]) -> Iterator[Base]:
    """A mangrove batch and a forest batch, 30 t of each held by each trader."""
    start = snapshot(chain)
    ledger = Ledger(chain, deployment)
    s = Scenario(ledger, acc)
    batches = []
    for category in (SinkCategory.MANGROVE, SinkCategory.FOREST):
        b = s.batch(200 * TONNE, project_id=s.project(s.methodology(category=category)))
        for seat in SEATS:
            ledger.transfer(acc["developer"], acc[seat].address, b.batch_id, 30 * TONNE)
        batches.append(b.batch_id)
    yield Base(ledger, acc, batches[0], batches[1])
    revert_to(chain, start)


attempts = st.lists(
    st.tuples(st.sampled_from(SEATS), st.booleans(), st.integers(min_value=1, max_value=9)),
    min_size=1, max_size=8,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attempts)
def test_every_tonne_counts_once_and_never_past_the_requirement(
        base: Base, tries: list[tuple[str, bool, int]]) -> None:
    ledger, acc = base.ledger, base.acc
    snap = snapshot(ledger.chain)
    try:
        comp = Compensation(ledger)
        deadline = int(ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 86_400
        order = comp.register_order(acc["procuratorate"], "（2026）桂07民初900号", Terms(
            unit=Unit.TONNES, required=REQUIRED, categories=(SinkCategory.MANGROVE,),
            deadline=deadline, party_names=("甲", "乙"), document_hash=doc("judgment"),
            parties=tuple(acc[p].address for p in PARTIES))).id
        counted: list[tuple[int, int]] = []
        for seat, eligible, tonnes in tries:
            batch = base.eligible if eligible else base.ineligible
            before = ledger.balance(acc[seat].address, batch)
            try:
                c = comp.retire_for_order(acc[seat], order, batch, tonnes * TONNE)
            except ChainRevert as exc:
                assert exc.name in {"NotOrderParty", "IneligibleCategory", "ExceedsRequirement",
                                    "OrderNotOpen"}, exc.name
                assert ledger.balance(acc[seat].address, batch) == before
                continue
            assert seat in PARTIES and eligible
            counted.append((c.retirement.retirement_id, c.value))
        o = comp.order(order)
        ids = [r for r, _ in counted]
        assert len(ids) == len(set(ids))
        assert o.fulfilled == sum(v for _, v in counted) == o.retired_amount <= REQUIRED
        events = ledger.c("CompensationOrders").events.RetirementCounted.get_logs(
            from_block=0, argument_filters={"orderId": order})
        assert sorted((int(e.args.retirementId), int(e.args.value)) for e in events) == \
            sorted(counted)
        expected = OrderStatus.FULFILLED if o.fulfilled == REQUIRED else (
            OrderStatus.PARTLY_FULFILLED if counted else OrderStatus.OPEN)
        assert o.status == expected
    finally:
        revert_to(ledger.chain, snap)
