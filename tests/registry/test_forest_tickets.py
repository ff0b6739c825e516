"""Forest carbon tickets (林业碳票) on the real contracts: a forestry authority issues one ticket
per verified report of a forest parcel, never twice and never for a report issued as credits;
owners split, merge, transfer and retire ticket value; frozen accounts act in no role."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import ChainRevert
from chain.metatx import forward_request
from chain.structs import Ticket, TicketRetirement
from devkit.scenario import Scenario, doc, parcel
from registry.categories import SinkCategory
from registry.ledger import Ledger
from registry.tickets import TicketPurpose, Tickets, ticket_retirement_hash

TONNE = 1_000_000
ZERO_ADDRESS = "0x" + "00" * 20
CERTIFICATE = "闽(2021)三明市沙县区林权第0012345号"


@pytest.fixture
def s(ledger: Ledger, acc: dict[str, LocalAccount]) -> Scenario:
    return Scenario(ledger, acc)


@pytest.fixture
def tickets(ledger: Ledger) -> Tickets:
    return Tickets(ledger)


def reverts(name: str) -> pytest.RaisesContext[ChainRevert]:
    return pytest.raises(ChainRevert, match=name)


# -- issuance -----------------------------------------------------------------------------------


def test_a_ticket_carries_its_parcel_period_and_verified_tonnes(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    project, report = s.forest_report(5_943 * TONNE)
    issued = tickets.issue(acc["forestry"], report, CERTIFICATE)
    assert (issued.slot, issued.owner, issued.value) == (report, acc["developer"].address,
                                                         5_943 * TONNE)
    ticket = tickets.ticket(issued.token_id)
    assert (ticket.owner, ticket.slot, ticket.value) == (acc["developer"].address, report,
                                                         5_943 * TONNE)
    slot = tickets.slot(report)
    location = ledger.project(project).location
    r = ledger.report(report)
    assert (slot.project_id, slot.period_start, slot.period_end) == (project, r.period_start,
                                                                     r.period_end)
    assert (slot.division_code, slot.boundary_hash, slot.area_m2) == (
        location.division_code, location.boundary_hash, location.area_m2)
    assert (slot.issued, slot.retired, slot.rights_certificate) == (5_943 * TONNE, 0, CERTIFICATE)
    assert tickets.claimant_of(report) == tickets.address


def test_issuing_the_same_report_twice_reverts(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    _, report = s.forest_report(100 * TONNE)
    tickets.issue(acc["forestry"], report, CERTIFICATE)
    with pytest.raises(ChainRevert) as refused:
        tickets.issue(acc["forestry"], report, CERTIFICATE)
    assert refused.value.name == "ReportAlreadyClaimed"
    assert refused.value.error is not None
    assert refused.value.error.args == {"reportId": report, "register": tickets.address}


def test_a_report_issued_as_credits_cannot_be_ticketed(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    _, report = s.forest_report(100 * TONNE)
    ledger.issue(acc["operator"], report)
    with pytest.raises(ChainRevert) as refused:
        tickets.issue(acc["forestry"], report, CERTIFICATE)
    assert refused.value.error is not None
    assert (refused.value.name, refused.value.error.args) == (
        "ReportAlreadyClaimed",
        {"reportId": report, "register": ledger.c("CarbonCredits").address})
    assert tickets.token_count() == 0


def test_a_ticketed_report_cannot_be_issued_as_credits(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    _, report = s.forest_report(100 * TONNE)
    tickets.issue(acc["forestry"], report, CERTIFICATE)
    with pytest.raises(ChainRevert) as refused:
        ledger.issue(acc["operator"], report)
    assert refused.value.error is not None
    assert (refused.value.name, refused.value.error.args) == (
        "ReportAlreadyClaimed", {"reportId": report, "register": tickets.address})
    assert int(ledger.chain.call(ledger.c("CarbonCredits").functions.batchCount())) == 0


def test_a_report_of_a_project_that_is_not_forest_cannot_be_ticketed(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    mangrove = s.project(s.methodology())  # the default category: mangrove
    report = s.report(mangrove, 100 * TONNE)
    with reverts("NotForestParcel"):
        tickets.issue(acc["forestry"], report, CERTIFICATE)
    assert tickets.claimant_of(report) == "0x" + "00" * 20


def test_a_report_not_yet_verified_cannot_be_ticketed(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    project = s.forest_parcel()
    report = s.report(project, 100 * TONNE, stage="attested")
    with reverts("ReportNotVerified"):
        tickets.issue(acc["forestry"], report, CERTIFICATE)


def test_a_forest_right_certificate_stays_with_one_parcel(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    first = s.ticket(100 * TONNE, rights_certificate=CERTIFICATE)
    # the next period of the same parcel keeps its certificate
    s.ticket(80 * TONNE, project_id=tickets.slot(first.slot).project_id,
             rights_certificate=CERTIFICATE)
    _, other = s.forest_report(50 * TONNE)
    with reverts("ParcelInOtherProject"):
        tickets.issue(acc["forestry"], other, CERTIFICATE)
    with reverts("EmptyCertificate"):
        tickets.issue(acc["forestry"], other, "")


def test_a_parcel_inside_a_credit_project_cannot_be_ticketed_for_an_overlapping_period(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    # an afforestation credit project takes the parcel in; a ticket project is registered
    # over the same parcel (another boundary drawing) for the same years
    forest = s.methodology(category=SinkCategory.FOREST)
    credit_project = s.project(forest, parcels=(CERTIFICATE,))
    ticket_project = s.forest_parcel()
    report = s.report(ticket_project, 100 * TONNE)
    with pytest.raises(ChainRevert) as refused:
        tickets.issue(acc["forestry"], report, CERTIFICATE)
    assert refused.value.error is not None
    assert (refused.value.name, refused.value.error.args) == (
        "ParcelInOtherProject",
        {"rightsCertificate": CERTIFICATE, "projectId": credit_project})
    # nothing happened: the report is still unclaimed, no ticket exists
    assert tickets.claimant_of(report) == ZERO_ADDRESS
    assert tickets.token_count() == 0
    assert ledger.projects_of_parcel(CERTIFICATE) == [credit_project]


def test_a_ticketed_parcel_cannot_be_taken_into_a_credit_project_for_an_overlapping_period(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    issued = s.ticket(100 * TONNE, rights_certificate=CERTIFICATE)
    ticket_project = tickets.slot(issued.slot).project_id
    credit_project = s.project(s.methodology(category=SinkCategory.FOREST), stage="registered")
    with reverts("ParcelInOtherProject"):
        ledger.declare_parcels(acc["developer"], credit_project, [CERTIFICATE])
    assert ledger.projects_of_parcel(CERTIFICATE) == [ticket_project]


def test_a_parcel_is_free_again_after_its_project_is_rejected_or_its_period_ends(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    forest = s.methodology(category=SinkCategory.FOREST)
    rejected = s.project(forest, stage="registered", parcels=(CERTIFICATE,))
    ledger.reject_project(acc["regulator"], rejected, doc("rejection"))
    issued = s.ticket(100 * TONNE, rights_certificate=CERTIFICATE)
    ticket_project = tickets.slot(issued.slot).project_id
    # a credit project whose crediting starts when the ticket project's ends may take it in
    end = ledger.project(ticket_project).crediting_end
    later = ledger.register_project(acc["developer"], "三明 later afforestation", forest,
                                    parcel(999), end, end + 20 * 365 * 86_400, doc("pdd")).id
    ledger.declare_parcels(acc["developer"], later, [CERTIFICATE])
    assert ledger.projects_of_parcel(CERTIFICATE) == [rejected, ticket_project, later]


def test_only_a_registered_projects_developer_declares_its_parcels(
    s: Scenario, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    forest = s.methodology(category=SinkCategory.FOREST)
    registered = s.project(forest, stage="registered")
    with reverts("NotProjectDeveloper"):
        ledger.declare_parcels(acc["trader1"], registered, [CERTIFICATE])
    with reverts("EmptyCertificate"):
        ledger.declare_parcels(acc["developer"], registered, [])
    with reverts("EmptyCertificate"):
        ledger.declare_parcels(acc["developer"], registered, [CERTIFICATE, ""])
    validated = s.project(forest, stage="validated")
    with reverts("InvalidProjectStatus"):
        ledger.declare_parcels(acc["developer"], validated, [CERTIFICATE])
    ledger.freeze_account(acc["regulator"], acc["developer"].address, doc("freeze"))
    with reverts("AccountFrozen"):
        ledger.declare_parcels(acc["developer"], registered, [CERTIFICATE])
    assert ledger.projects_of_parcel(CERTIFICATE) == []


def test_only_the_forestry_authority_issues_and_a_frozen_one_issues_nothing(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    _, report = s.forest_report(100 * TONNE)
    with reverts("NotAuthorized"):
        tickets.issue(acc["operator"], report, CERTIFICATE)
    ledger.freeze_account(acc["regulator"], acc["forestry"].address, doc("freeze order"))
    with reverts("AccountFrozen"):
        tickets.issue(acc["forestry"], report, CERTIFICATE)


def test_no_ticket_is_issued_to_a_frozen_owner(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    _, report = s.forest_report(100 * TONNE, owner="trader3")
    ledger.freeze_account(acc["regulator"], acc["trader3"].address, doc("freeze order"))
    with reverts("AccountFrozen"):
        tickets.issue(acc["forestry"], report, CERTIFICATE)


# -- split, merge, transfer ----------------------------------------------------------------------


def test_split_moves_value_into_a_new_ticket_of_the_same_slot_and_owner(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    t = s.ticket(29_715 * TONNE)
    new = tickets.split(acc["developer"], t.token_id, 18_294 * TONNE)
    assert tickets.value_of(t.token_id) == 11_421 * TONNE
    assert tickets.ticket(new) == Ticket(owner=acc["developer"].address, slot=t.slot,
                                         value=18_294 * TONNE)
    with reverts("InsufficientValue"):
        tickets.split(acc["developer"], t.token_id, 11_421 * TONNE + 1)
    with reverts("ZeroValue"):
        tickets.split(acc["developer"], t.token_id, 0)


def test_merge_joins_tickets_of_one_slot_and_burns_the_merged_one(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    t = s.ticket(100 * TONNE)
    part = tickets.split(acc["developer"], t.token_id, 40 * TONNE)
    tickets.merge(acc["developer"], part, t.token_id)
    assert tickets.value_of(t.token_id) == 100 * TONNE
    assert not tickets.exists(part)
    with reverts("UnknownTicket"):
        tickets.value_of(part)
    other = s.ticket(10 * TONNE)
    with reverts("SlotMismatch"):
        tickets.merge(acc["developer"], other.token_id, t.token_id)
    given = tickets.transfer(acc["developer"], t.token_id, acc["trader1"].address, TONNE)
    with reverts("OwnerMismatch"):
        tickets.merge(acc["developer"], t.token_id, given)


def test_transfer_gives_a_member_a_new_ticket_of_the_value(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    t = s.ticket(29_715 * TONNE)
    got = tickets.transfer(acc["developer"], t.token_id, acc["trader1"].address, 2_723 * TONNE)
    assert tickets.ticket(got).owner == acc["trader1"].address
    assert tickets.value_of(got) == 2_723 * TONNE
    assert tickets.value_of(t.token_id) == (29_715 - 2_723) * TONNE
    # value into an existing ticket of the slot, and a whole ticket that keeps its id
    tickets.transfer_into(acc["developer"], t.token_id, got, 7 * TONNE)
    assert tickets.value_of(got) == 2_730 * TONNE
    tickets.transfer_ticket(acc["trader1"], acc["trader1"].address, acc["trader2"].address, got)
    assert tickets.owner_of(got) == acc["trader2"].address


def test_tickets_go_to_members_only(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    t = s.ticket(100 * TONNE)
    with reverts("NotMember"):
        tickets.transfer(acc["developer"], t.token_id, acc["outsider"].address, TONNE)
    with reverts("NotMember"):
        tickets.transfer_ticket(acc["developer"], acc["developer"].address,
                                acc["outsider"].address, t.token_id)


def test_only_the_owner_or_its_approved_operator_moves_a_ticket(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    t = s.ticket(100 * TONNE)
    with reverts("NotOwnerNorApproved"):
        tickets.transfer(acc["trader1"], t.token_id, acc["trader1"].address, TONNE)
    with reverts("NotOwnerNorApproved"):
        tickets.split(acc["trader1"], t.token_id, TONNE)
    tickets.set_approval_for_all(acc["developer"], acc["trader1"].address)
    got = tickets.transfer(acc["trader1"], t.token_id, acc["trader2"].address, TONNE)
    assert tickets.owner_of(got) == acc["trader2"].address
    with reverts("NotTicketOwner"):  # an operator moves, only the owner retires
        tickets.retire(acc["trader1"], t.token_id, TONNE, "三明市沙县区 Shaxian")


def test_a_contract_that_does_not_accept_tickets_receives_none(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    t = s.ticket(100 * TONNE)
    settlement = ledger.c("Settlement").address  # a member contract without the receiver hook
    with pytest.raises(ChainRevert):
        tickets.transfer(acc["developer"], t.token_id, settlement, TONNE)
    assert tickets.value_of(t.token_id) == 100 * TONNE


# -- retirement ---------------------------------------------------------------------------------


def test_retirements_consume_the_slots_serials_in_order_and_keep_their_record_hash(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    t = s.ticket(100 * TONNE)
    part = tickets.transfer(acc["developer"], t.token_id, acc["trader1"].address, 30 * TONNE)
    first = tickets.retire(acc["developer"], t.token_id, 10 * TONNE,
                           "三明市公共机构 Sanming agencies", TicketPurpose.CARBON_INCLUSIVE)
    second = tickets.retire(acc["trader1"], part, 5 * TONNE, "福建省林业局 Fujian Forestry",
                            TicketPurpose.ECOLOGICAL_COMPENSATION, "(2024)闽0427刑初12号")
    assert (first.serial_start, first.serial_end) == (1, 10 * TONNE)
    assert (second.serial_start, second.serial_end) == (10 * TONNE + 1, 15 * TONNE)
    assert tickets.slot(t.slot).retired == 15 * TONNE
    assert tickets.value_of(part) == 25 * TONNE
    record = TicketRetirement(holder=acc["trader1"].address, token_id=part, slot=t.slot,
                              value=5 * TONNE, serial_start=10 * TONNE + 1,
                              purpose=int(TicketPurpose.ECOLOGICAL_COMPENSATION),
                              beneficiary="福建省林业局 Fujian Forestry",
                              case_reference="(2024)闽0427刑初12号")
    assert tickets.verify_retirement(second.retirement_id, record)
    assert tickets.retirement_hash(second.retirement_id) == ticket_retirement_hash(record)
    ev = tickets.ledger.events_of(second.sent, "TicketRetired")[0].args
    assert (ev["beneficiary"], ev["caseReference"], ev["tokenId"]) == (
        record.beneficiary, record.case_reference, part)
    assert not tickets.verify_retirement(second.retirement_id, replace(record, value=6 * TONNE))


def test_a_retirement_needs_a_beneficiary_a_valid_purpose_and_a_case_for_compensation(
    s: Scenario, tickets: Tickets, acc: dict[str, LocalAccount]
) -> None:
    t = s.ticket(100 * TONNE)
    dev = acc["developer"]
    with reverts("EmptyBeneficiary"):
        tickets.retire(dev, t.token_id, TONNE, "")
    with reverts("CaseReferenceRequired"):
        tickets.retire(dev, t.token_id, TONNE, "某公司 A company",
                       TicketPurpose.ECOLOGICAL_COMPENSATION)
    with reverts("InsufficientValue"):
        tickets.retire(dev, t.token_id, 100 * TONNE + 1, "某公司 A company")
    with reverts("NotTicketOwner"):
        tickets.retire(acc["trader1"], t.token_id, TONNE, "某公司 A company")


def test_a_frozen_owner_cannot_move_split_merge_or_retire_its_tickets_nor_receive_any(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    t = s.ticket(100 * TONNE)
    part = tickets.split(acc["developer"], t.token_id, TONNE)
    other = s.ticket(100 * TONNE, owner="trader1")
    tickets.set_approval_for_all(acc["developer"], acc["trader1"].address)
    ledger.freeze_account(acc["regulator"], acc["developer"].address, doc("freeze order"))
    dev = acc["developer"]
    for attempt in (
        lambda: tickets.transfer(dev, t.token_id, acc["trader1"].address, TONNE),
        lambda: tickets.split(dev, t.token_id, TONNE),
        lambda: tickets.merge(dev, part, t.token_id),
        lambda: tickets.retire(dev, t.token_id, TONNE, "某公司 A company"),
        lambda: tickets.set_approval_for_all(dev, acc["trader2"].address),
        # its approved operator cannot move them either
        lambda: tickets.transfer(acc["trader1"], t.token_id, acc["trader1"].address, TONNE),
        # nor does it receive any
        lambda: tickets.transfer(acc["trader1"], other.token_id, dev.address, TONNE),
    ):
        with reverts("AccountFrozen"):
            attempt()
    assert tickets.value_of(t.token_id) == 99 * TONNE



def test_an_owner_relays_a_signed_ticket_transfer_through_the_forwarder(
    s: Scenario, tickets: Tickets, ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    t = s.ticket(10 * TONNE)
    forwarder = ledger.c("TanhuiForwarder")
    fn = ledger.c("ForestTickets").get_function_by_signature(
        "transferFrom(uint256,address,uint256)")(t.token_id, acc["trader1"].address, TONNE)
    request = forward_request(ledger.chain, forwarder, acc["developer"], fn)
    ledger.chain.send(forwarder.functions.execute(request), acc["exchange"])  # the relayer pays
    assert tickets.value_of(t.token_id) == 9 * TONNE
    got = tickets.token_count()
    assert tickets.ticket(got).owner == acc["trader1"].address
