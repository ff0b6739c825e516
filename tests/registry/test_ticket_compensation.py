"""Forest carbon tickets count toward ecological-compensation orders like credits: a party
retires ticket value for an order (ForestTickets.retireForOrder) and CompensationOrders judges
it by the ticket's slot (the parcel's sink category, division code and monitoring period) in the
same transaction, under the rules credits meet; ticket retirement ids are their own."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import ChainRevert
from chain.structs import TicketRetirement
from devkit.scenario import Scenario, doc
from registry.categories import SinkCategory
from registry.compensation import Compensation, OrderStatus, Terms, Unit
from registry.ledger import Ledger
from registry.tickets import TicketPurpose, Tickets

TONNE = 1_000_000
DAY = 86_400
CASE = "(2025)闽0402刑初88号"
SANMING = 350402  # 三明市三元区 Sanyuan District, Sanming: where these tickets' parcels lie


def now(ledger: Ledger) -> int:
    return int(ledger.chain.w3.eth.get_block("latest")["timestamp"])


def reverted(e: pytest.ExceptionInfo[ChainRevert]) -> tuple[str, dict[str, Any]]:
    return e.value.name, dict(e.value.error.args) if e.value.error else {}


def forest_terms(ledger: Ledger, acc: dict[str, LocalAccount], **changes: Any) -> Terms:
    """Forest tonnes, any region and vintage, trader1 liable, due in 30 days."""
    base = Terms(
        unit=Unit.TONNES, required=10 * TONNE, categories=(SinkCategory.FOREST,),
        deadline=now(ledger) + 30 * DAY, party_names=("林某某 Lin",),
        document_hash=doc("judgment"), parties=(acc["trader1"].address,),
    )
    return replace(base, **changes)


def ticket_of(ledger: Ledger, acc: dict[str, LocalAccount], to: str = "trader1",
              value: int = 20 * TONNE, division_code: int = SANMING) -> int:
    """A ticket of a forest parcel in `division_code`, `value` of it moved to `to`."""
    s = Scenario(ledger, acc)
    project = s.project(s.methodology(category=SinkCategory.FOREST), division_code=division_code)
    issued = s.ticket(100 * TONNE, project_id=project)
    return Tickets(ledger).transfer(acc["developer"], issued.token_id, acc[to].address, value)


@pytest.fixture
def comp(ledger: Ledger) -> Compensation:
    return Compensation(ledger)


@pytest.fixture
def tickets(ledger: Ledger) -> Tickets:
    return Tickets(ledger)


def test_a_ticket_retirement_counts_toward_the_order_and_cites_its_case(ledger, acc, comp,
                                                                        tickets):
    token = ticket_of(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, forest_terms(ledger, acc)).id
    counted = comp.retire_tickets_for_order(acc["trader1"], order_id, token, 4 * TONNE)
    r = counted.retirement
    assert (counted.value, counted.fulfilled, counted.order_fulfilled) == (4 * TONNE,
                                                                           4 * TONNE, False)
    order = comp.order(order_id)
    assert (order.fulfilled, order.retired_amount, order.status) == (
        4 * TONNE, 4 * TONNE, OrderStatus.PARTLY_FULFILLED)
    assert tickets.value_of(token) == 16 * TONNE
    ev = ledger.events_of(r.sent, "TicketRetirementCounted")[0].args
    assert (ev["orderId"], ev["retirementId"], ev["holder"], ev["slot"], ev["amount"],
            ev["serialStart"]) == (order_id, r.retirement_id, acc["trader1"].address, r.slot,
                                   4 * TONNE, 1)
    assert not ledger.events_of(r.sent, "RetirementCounted")
    # the record: ecological compensation, the case as case reference and (by default) beneficiary
    record = TicketRetirement(acc["trader1"].address, token, r.slot, 4 * TONNE, 1,
                              int(TicketPurpose.ECOLOGICAL_COMPENSATION), CASE, CASE)
    assert tickets.verify_retirement(r.retirement_id, record)


def test_credit_and_ticket_retirements_fulfil_one_order_together(ledger, acc, comp):
    s = Scenario(ledger, acc)
    project = s.project(s.methodology(category=SinkCategory.FOREST), division_code=SANMING)
    batch = s.batch(quantity=100 * TONNE, project_id=project).batch_id
    ledger.transfer(acc["developer"], acc["trader1"].address, batch, 6 * TONNE)
    token = ticket_of(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, forest_terms(ledger, acc)).id
    credit = comp.retire_for_order(acc["trader1"], order_id, batch, 6 * TONNE)
    ticket = comp.retire_tickets_for_order(acc["trader1"], order_id, token, 4 * TONNE)
    # both registers number their retirements from 1: the ids are apart
    assert credit.retirement.retirement_id == ticket.retirement.retirement_id == 1
    assert (ticket.fulfilled, ticket.order_fulfilled) == (10 * TONNE, True)
    assert comp.status_of(order_id) == OrderStatus.FULFILLED
    with pytest.raises(ChainRevert) as e:
        comp.retire_tickets_for_order(acc["trader1"], order_id, token, TONNE)
    assert e.value.name == "OrderNotOpen"


def test_a_ticket_retirement_past_the_requirement_is_refused_and_changes_nothing(
        ledger, acc, comp, tickets):
    token = ticket_of(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, forest_terms(ledger, acc)).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_tickets_for_order(acc["trader1"], order_id, token, 11 * TONNE)
    assert reverted(e) == ("ExceedsRequirement", {"orderId": order_id,
                                                  "remaining": 10 * TONNE})
    assert tickets.value_of(token) == 20 * TONNE
    assert tickets.retirement_count() == 0


def test_tickets_are_forest_carbon_and_do_not_count_toward_a_mangrove_order(ledger, acc, comp):
    token = ticket_of(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, forest_terms(
        ledger, acc, categories=(SinkCategory.MANGROVE,))).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_tickets_for_order(acc["trader1"], order_id, token, TONNE)
    assert reverted(e) == ("IneligibleCategory", {"orderId": order_id,
                                                  "category": int(SinkCategory.FOREST)})


@pytest.mark.parametrize(("regions", "eligible"), [((35,), True), ((3504,), True),
                                                   ((350402,), True), ((45,), False),
                                                   ((3505, 4507), False)])
def test_only_tickets_of_parcels_in_the_orders_regions_count(ledger, acc, comp, regions,
                                                             eligible):
    token = ticket_of(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE,
                                   forest_terms(ledger, acc, regions=regions)).id
    if eligible:
        assert comp.retire_tickets_for_order(acc["trader1"], order_id, token, TONNE).value == TONNE
        return
    with pytest.raises(ChainRevert) as e:
        comp.retire_tickets_for_order(acc["trader1"], order_id, token, TONNE)
    assert reverted(e) == ("IneligibleRegion", {"orderId": order_id, "divisionCode": SANMING})


def test_the_vintage_of_a_ticket_is_the_end_of_its_slots_monitoring_period(ledger, acc, comp,
                                                                           tickets):
    token = ticket_of(ledger, acc)
    period_end = tickets.slot(tickets.ticket(token).slot).period_end
    exact = comp.register_order(acc["procuratorate"], CASE, forest_terms(
        ledger, acc, vintage_from=period_end, vintage_to=period_end)).id
    assert comp.retire_tickets_for_order(acc["trader1"], exact, token, TONNE).value == TONNE
    later = comp.register_order(acc["procuratorate"], CASE + "之二", forest_terms(
        ledger, acc, vintage_from=period_end + 1)).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_tickets_for_order(acc["trader1"], later, token, TONNE)
    assert reverted(e) == ("IneligibleVintage", {"orderId": later, "periodEnd": period_end})


def test_only_a_party_of_the_order_or_its_paying_authority_retires_tickets_for_it(
        ledger, acc, comp, tickets):
    token = ticket_of(ledger, acc, to="trader2")
    order_id = comp.register_order(acc["procuratorate"], CASE, forest_terms(ledger, acc)).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_tickets_for_order(acc["trader2"], order_id, token, TONNE)
    assert reverted(e) == ("NotOrderParty", {"orderId": order_id,
                                             "holder": acc["trader2"].address})
    own = ticket_of(ledger, acc, to="procuratorate")
    paid = comp.register_order(acc["procuratorate"], CASE + "之二", forest_terms(
        ledger, acc, parties=(), authority_pays=True)).id
    assert comp.retire_tickets_for_order(acc["procuratorate"], paid, own, TONNE).value == TONNE


def test_only_the_tickets_owner_retires_it_for_an_order(ledger, acc, comp):
    token = ticket_of(ledger, acc, to="trader2")
    order_id = comp.register_order(acc["procuratorate"], CASE, forest_terms(ledger, acc)).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_tickets_for_order(acc["trader1"], order_id, token, TONNE)
    assert reverted(e) == ("NotTicketOwner", {"caller": acc["trader1"].address,
                                              "tokenId": token})


def test_a_cny_order_counts_no_ticket_retirement_without_a_venue_price(ledger, acc, comp):
    token = ticket_of(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, forest_terms(
        ledger, acc, unit=Unit.FEN, required=50_000_00)).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_tickets_for_order(acc["trader1"], order_id, token, TONNE)
    assert reverted(e) == ("PriceUnknown", {"orderId": order_id})


def test_a_plain_ticket_retirement_citing_a_case_with_an_order_is_still_refused(
        ledger, acc, comp, tickets):
    token = ticket_of(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, forest_terms(ledger, acc)).id
    with pytest.raises(ChainRevert) as e:
        tickets.retire(acc["trader1"], token, TONNE, "X", TicketPurpose.ECOLOGICAL_COMPENSATION,
                       CASE)
    assert reverted(e) == ("CaseHasOrder", {"orderId": order_id})


def test_only_forest_tickets_counts_a_ticket_retirement(ledger, acc):
    fn = ledger.c("CompensationOrders").functions.countTicketRetirement(1, 1,
                                                                        acc["trader1"].address,
                                                                        1, TONNE, 1)
    with pytest.raises(ChainRevert) as e:
        ledger.chain.send(fn, acc["trader1"])
    assert reverted(e) == ("NotTicketsContract", {"caller": acc["trader1"].address})


def test_a_frozen_party_retires_no_tickets_for_an_order(ledger, acc, comp):
    token = ticket_of(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, forest_terms(ledger, acc)).id
    ledger.freeze_account(acc["regulator"], acc["trader1"].address, doc("freeze"))
    with pytest.raises(ChainRevert) as e:
        comp.retire_tickets_for_order(acc["trader1"], order_id, token, TONNE)
    assert e.value.name == "AccountFrozen"
