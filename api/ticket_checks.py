"""Checks on forest tickets and pledges made before anything is signed, and the contracts'
refusals of ticket and pledge calls as stable API codes.

The pre-checks read the chain (never the index) and give the common refusals a precise code:
an unknown ticket, a ticket of someone else, a ticket held in the pledge register's escrow,
more value than the ticket holds, a report issued already. Whatever they do not cover is still
refused by the contract when the call is simulated; `ticket_reverts` turns those custom errors
into the same codes, so a client sees one code per cause however it was caught.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from api.chain_errors import revert_details
from api.errors import ApiError, not_found
from chain.client import ChainRevert
from chain.structs import Ticket
from core.units import format_units
from registry.pledges import Pledge, Pledges, PledgeStatus
from registry.tickets import Tickets

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

# Custom error -> (status, stable code). Anything else keeps the generic `chain_*` mapping.
REVERT_CODES: dict[str, tuple[int, str]] = {
    "UnknownTicket": (404, "ticket_not_found"),
    "UnknownSlot": (404, "slot_not_found"),
    "UnknownPledge": (404, "pledge_not_found"),
    "InsufficientValue": (409, "insufficient_value"),
    "InsufficientHolding": (409, "insufficient_value"),
    "NotTicketOwner": (403, "not_ticket_owner"),
    "NotOwnerNorApproved": (403, "not_ticket_owner"),
    "WrongOwner": (403, "not_ticket_owner"),
    "ReportAlreadyClaimed": (409, "report_already_claimed"),
    "NotForestParcel": (409, "not_forest_parcel"),
    "ParcelInOtherProject": (409, "parcel_in_other_project"),
    "NotABank": (422, "not_a_bank"),
    "SelfPledge": (422, "self_pledge"),
    "NotPledgeBank": (403, "not_pledge_bank"),
    "NotMatured": (409, "not_matured"),
    "PledgeNotActive": (409, "pledge_not_active"),
    "MaturityInPast": (422, "maturity_in_past"),
    "SlotMismatch": (409, "slot_mismatch"),
    "OwnerMismatch": (409, "owner_mismatch"),
    "SameTicket": (422, "same_ticket"),
    "CaseHasOrder": (409, "case_has_order"),
}


@contextmanager
def ticket_reverts() -> Iterator[None]:
    """Re-raises a ChainRevert the table knows as its stable ApiError (details: the error and
    its arguments)."""
    try:
        yield
    except ChainRevert as exc:
        mapped = REVERT_CODES.get(exc.name)
        if mapped is None:
            raise
        raise ApiError(mapped[0], mapped[1], f"the ticket contracts refused the call: {exc.name}",
                       {"error": exc.name, "args": revert_details(exc)}) from None


def ticket(tickets: Tickets, token_id: int) -> Ticket:
    if not tickets.exists(token_id):
        raise not_found("ticket", token_id)
    return tickets.ticket(token_id)


def own_ticket(tickets: Tickets, register: str, caller: str, token_id: int) -> Ticket:
    """The caller's ticket, free to move: 404 ticket_not_found, 409 ticket_in_escrow (the
    pledge register holds it: pledged value cannot move, be split, retired or pledged again),
    403 not_ticket_owner."""
    t = ticket(tickets, token_id)
    if t.owner == register:
        raise ApiError(409, "ticket_in_escrow",
                       f"ticket {token_id} is held by the pledge register under an active "
                       "pledge: its value cannot move, be split, retired or pledged again",
                       {"token_id": token_id, "register": register})
    if t.owner != caller:
        raise ApiError(403, "not_ticket_owner", f"ticket {token_id} is not the caller's",
                       {"token_id": token_id, "owner": t.owner})
    return t


def value_at_most(t: Ticket, token_id: int, amount: int) -> None:
    if amount > t.value:
        raise ApiError(409, "insufficient_value",
                       f"ticket {token_id} holds {format_units(t.value)} t, "
                       f"{format_units(amount)} t requested",
                       {"token_id": token_id, "value_units": t.value,
                        "value": format_units(t.value), "requested_units": amount,
                        "requested": format_units(amount)})


def report_unclaimed(tickets: Tickets, report_id: int) -> None:
    claimant = tickets.claimant_of(report_id)
    if claimant != ZERO_ADDRESS:
        which = "tickets" if claimant == tickets.address else "credits"
        raise ApiError(409, "report_already_claimed",
                       f"report {report_id} was issued already (as {which}): a report is "
                       "issued once, in one register", {"report_id": report_id,
                                                        "issued_as": which})


def pledge(pledges: Pledges, pledge_id: int) -> Pledge:
    if not 1 <= pledge_id <= pledges.count():
        raise not_found("pledge", pledge_id)
    return pledges.pledge(pledge_id)


def bank_action(p: Pledge, caller: str) -> None:
    """Only the pledge's own bank closes an active pledge."""
    if p.status != PledgeStatus.ACTIVE:
        raise ApiError(409, "pledge_not_active",
                       f"pledge {p.pledge_id} is {p.status.name.lower()}",
                       {"pledge_id": p.pledge_id, "status": p.status.name.lower()})
    if p.bank != caller:
        raise ApiError(403, "not_pledge_bank",
                       f"only the pledge's bank {p.bank} may release or foreclose it",
                       {"pledge_id": p.pledge_id, "bank": p.bank})
