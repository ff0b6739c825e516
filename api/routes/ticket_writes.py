"""Forest carbon tickets (林业碳票) written over HTTP: issue (制发), split, merge, transfer
(流转) and retire (抵消); and the lists of a parcel's and an owner's tickets from the index.

Every write is signed with the caller's custodial key and relayed (like credits), accepts an
`Idempotency-Key` (a retry with the same key and body answers the first result; a retry of an
attempt whose transaction landed finishes it from its receipt, without pre-checks or a second
transaction), and is pre-checked against the chain so the common refusals have precise codes
(api.ticket_checks): `ticket_not_found`, `not_ticket_owner`, `ticket_in_escrow` (the pledge
register holds the ticket), `insufficient_value`, `report_already_claimed`,
`parcel_in_other_project` (the forest-right certificate is another project's over overlapping
years, a credit project's included). What the pre-checks miss the contract refuses on simulation,
mapped to the same codes; nothing is sent then, so a refused request changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, model_validator
from pydantic_core import PydanticCustomError

from api import prechecks
from api import ticket_checks as checks
from api.auth import Caller, CallerDep, require_role
from api.certificate import PURPOSE_BY_KEY
from api.deps import SessionDep, ViewDep, WriterDep
from api.errors import ApiError, not_found
from api.fields import STRICT, Address, Id, PathId, Tonnes, checksum_path_address, text
from api.idempotency import idempotent
from api.routes.credits import PurposeName
from api.schemas import TxOut, tx
from chain.client import Sent
from core.units import format_units
from registry import ticket_queries as tq
from registry.ledger import Ledger, ReportStatus
from registry.pledges import Pledges
from registry.tickets import TicketPurpose, Tickets

router = APIRouter(prefix="/v1", tags=["forest tickets and pledges"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="retry-safe key; same key + body = same result"),
]


def ticket_certificate_url(retirement_id: int) -> str:
    """Where a ticket retirement's certificate is served (a path on this API)."""
    return f"/v1/tickets/retirements/{retirement_id}/certificate"


# -- shapes ----------------------------------------------------------------------------------


class IssueIn(BaseModel):
    model_config = STRICT

    report_id: Id
    rights_certificate: Annotated[str, text(128)]


class TicketWriteOut(TxOut):
    id: int
    slot: int
    owner: str
    value: str
    value_units: int


class IssueOut(TicketWriteOut):
    project_id: int


class SplitIn(BaseModel):
    model_config = STRICT

    amount: Tonnes


class SplitOut(TxOut):
    id: int
    new_id: int
    slot: int
    amount: str
    amount_units: int


class MergeIn(BaseModel):
    model_config = STRICT

    into: Id


class MergeOut(TxOut):
    merged: int
    into: int
    value: str
    value_units: int


class TransferIn(BaseModel):
    model_config = STRICT

    to: Address
    amount: Tonnes | None = None


class TransferOut(TxOut):
    id: int
    to: str
    new_id: int
    whole_ticket: bool
    amount: str
    amount_units: int


class TicketRetireIn(BaseModel):
    model_config = STRICT

    amount: Tonnes
    beneficiary: Annotated[str, text(256)]
    purpose: PurposeName
    case_reference: Annotated[str, text(128, allow_empty=True)] = ""

    @model_validator(mode="after")
    def _case(self) -> TicketRetireIn:
        if self.purpose == "ecological_compensation" and not self.case_reference.strip():
            raise PydanticCustomError(
                "case_reference_required",
                "an ecological-compensation retirement must cite its case reference",
            )
        return self


class TicketRetireOut(TxOut):
    retirement_id: int
    token_id: int
    slot: int
    holder: str
    amount: str
    amount_units: int
    purpose: str
    beneficiary: str
    case_reference: str
    serial_start: int
    serial_end: int
    serial_range: str
    certificate_url: str


class OwnedTicketOut(BaseModel):
    id: int
    slot: int
    project_id: int
    owner: str
    value: str
    value_units: int
    in_escrow: bool
    pledge_id: int | None


class ParcelTicketOut(BaseModel):
    id: int
    slot: int
    owner: str
    value: str
    value_units: int
    in_escrow: bool
    pledge_id: int | None


class ParcelSlotOut(BaseModel):
    slot: int
    period_start: int
    period_end: int
    rights_certificate: str
    division_code: int
    area_m2: int
    owner: str
    issued: str
    issued_units: int
    retired: str
    retired_units: int
    pledged: str
    pledged_units: int
    tickets: list[ParcelTicketOut]


class ParcelOut(BaseModel):
    project_id: int
    slots: list[ParcelSlotOut]


# -- helpers ---------------------------------------------------------------------------------


def _tickets(writer: Ledger) -> Tickets:
    return Tickets(writer)


def _register(writer: Ledger) -> str:
    return Pledges(writer).address


def _movable(view: Any, writer: Ledger, caller: Caller, token_id: int) -> Any:
    """The caller's own ticket, free of escrow, with the caller able to act."""
    prechecks.holder_not_frozen(view, caller.address)
    return checks.own_ticket(_tickets(writer), _register(writer), caller.address, token_id)


def serial_label(slot: int, serial: int) -> str:
    return f"TH-T{slot}-{serial:012d}"


def _retired_out(tickets: Tickets, sent: Sent, token_id: int, caller: Caller,
                 body: TicketRetireIn) -> dict[str, Any]:
    ev = tickets.ledger.events_of(sent, "TicketRetired")[0].args
    rid, slot, start = int(ev["retirementId"]), int(ev["slot"]), int(ev["serialStart"])
    end = start + body.amount - 1
    return {
        "retirement_id": rid, "token_id": token_id, "slot": slot, "holder": caller.address,
        "amount": format_units(body.amount), "amount_units": body.amount,
        "purpose": body.purpose, "beneficiary": body.beneficiary,
        "case_reference": body.case_reference, "serial_start": start, "serial_end": end,
        "serial_range": f"{serial_label(slot, start)} … {end:012d}",
        "certificate_url": ticket_certificate_url(rid), **tx(sent),
    }


# -- writes ----------------------------------------------------------------------------------


@router.post("/tickets", status_code=201, response_model=IssueOut)
def issue_ticket(body: IssueIn, caller: CallerDep, session: SessionDep, view: ViewDep,
                 writer: WriterDep, idempotency_key: IdempotencyKey = None,
                 ) -> JSONResponse | dict[str, object]:
    """Issues (制发) the ticket of a verified forest report to the parcel's owner, with the
    parcel's forest-right certificate number (林权证号). Forestry role."""
    require_role(view, caller, "FORESTRY")
    tickets = _tickets(writer)
    with idempotent(session, caller, "tickets.issue", idempotency_key, body,
                    writer.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        sent = slot.landed
        if sent is None:
            report = prechecks.report_in(view, body.report_id, ReportStatus.VERIFIED)
            checks.report_unclaimed(tickets, body.report_id)
            prechecks.parcel_free(view, body.rights_certificate, int(report.project_id))
            with checks.ticket_reverts():
                sent = tickets.issue(caller.key(), body.report_id, body.rights_certificate).sent
        ev = writer.events_of(sent, "TicketIssued")[0].args
        value = int(ev["value"])
        result: dict[str, object] = {
            "id": int(ev["tokenId"]), "slot": int(ev["slot"]), "owner": str(ev["owner"]),
            "project_id": int(ev["projectId"]), "value": format_units(value),
            "value_units": value, **tx(sent)}
        slot.store(201, result)
    return result


@router.post("/tickets/{token_id}/split", status_code=201, response_model=SplitOut)
def split_ticket(token_id: PathId, body: SplitIn, caller: CallerDep, session: SessionDep,
                 view: ViewDep, writer: WriterDep, idempotency_key: IdempotencyKey = None,
                 ) -> JSONResponse | dict[str, object]:
    """Splits `amount` off the caller's ticket into a new ticket of the same slot and owner."""
    require_role(view, caller, "MEMBER")
    tickets = _tickets(writer)
    with idempotent(session, caller, f"tickets.split.{token_id}", idempotency_key, body,
                    writer.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        sent = slot.landed
        if sent is None:
            t = _movable(view, writer, caller, token_id)
            checks.value_at_most(t, token_id, body.amount)
            with checks.ticket_reverts():
                sent = tickets.split_tx(caller.key(), token_id, body.amount)
        result: dict[str, object] = {
            "id": token_id, "new_id": tickets.new_token_of(sent, token_id),
            "slot": _slot_of(writer, sent, token_id), "amount": format_units(body.amount),
            "amount_units": body.amount, **tx(sent)}
        slot.store(201, result)
    return result


def _slot_of(writer: Ledger, sent: Sent, token_id: int) -> int:
    """The slot of the ticket a split or transfer created (from its SlotChanged event)."""
    for ev in writer.events_of(sent, "SlotChanged"):
        return int(ev.args["newSlot"])
    return int(_tickets(writer).ticket(token_id).slot)


@router.post("/tickets/{token_id}/merge", response_model=MergeOut)
def merge_ticket(token_id: PathId, body: MergeIn, caller: CallerDep, session: SessionDep,
                 view: ViewDep, writer: WriterDep, idempotency_key: IdempotencyKey = None,
                 ) -> JSONResponse | dict[str, object]:
    """Merges the caller's ticket into another of its tickets of the same slot (`into`): all
    the value moves and this ticket is burnt."""
    require_role(view, caller, "MEMBER")
    tickets = _tickets(writer)
    with idempotent(session, caller, f"tickets.merge.{token_id}", idempotency_key, body,
                    writer.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        sent = slot.landed
        if sent is None:
            if body.into == token_id:
                raise ApiError(422, "same_ticket", "a ticket cannot be merged into itself",
                               {"token_id": token_id})
            src = _movable(view, writer, caller, token_id)
            dst = checks.own_ticket(tickets, _register(writer), caller.address, body.into)
            if src.slot != dst.slot:
                raise ApiError(409, "slot_mismatch",
                               "only tickets of one slot (parcel and period) merge",
                               {"slot": src.slot, "into_slot": dst.slot})
            with checks.ticket_reverts():
                sent = tickets.merge(caller.key(), token_id, body.into)
        moved = sum(int(ev.args["value"]) for ev in writer.events_of(sent, "TransferValue")
                    if int(ev.args["fromTokenId"]) == token_id)
        result: dict[str, object] = {"merged": token_id, "into": body.into,
                                     "value": format_units(moved), "value_units": moved,
                                     **tx(sent)}
        slot.store(200, result)
    return result


@router.post("/tickets/{token_id}/transfer", status_code=201, response_model=TransferOut)
def transfer_ticket(token_id: PathId, body: TransferIn, caller: CallerDep, session: SessionDep,
                    view: ViewDep, writer: WriterDep, idempotency_key: IdempotencyKey = None,
                    ) -> JSONResponse | dict[str, object]:
    """Transfers (流转) `amount` of the caller's ticket to another member as a new ticket, or
    the whole ticket when `amount` is omitted (it keeps its id)."""
    require_role(view, caller, "MEMBER")
    tickets = _tickets(writer)
    with idempotent(session, caller, f"tickets.transfer.{token_id}", idempotency_key, body,
                    writer.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        sent = slot.landed
        if sent is None:
            t = _movable(view, writer, caller, token_id)
            prechecks.recipient(view, body.to)
            if body.amount is not None:
                checks.value_at_most(t, token_id, body.amount)
            with checks.ticket_reverts():
                if body.amount is None:
                    sent = tickets.transfer_ticket(caller.key(), caller.address, body.to,
                                                   token_id)
                else:
                    sent = tickets.transfer_tx(caller.key(), token_id, body.to, body.amount)
        whole = body.amount is None
        amount = body.amount if body.amount is not None else int(tickets.value_of(token_id))
        new_id = token_id if whole else tickets.new_token_of(sent, token_id)
        result: dict[str, object] = {
            "id": token_id, "to": body.to, "new_id": new_id, "whole_ticket": whole,
            "amount": format_units(amount), "amount_units": amount, **tx(sent)}
        slot.store(201, result)
    return result


@router.post("/tickets/{token_id}/retire", status_code=201, response_model=TicketRetireOut)
def retire_ticket(token_id: PathId, body: TicketRetireIn, caller: CallerDep,
                  session: SessionDep, view: ViewDep, writer: WriterDep,
                  idempotency_key: IdempotencyKey = None) -> JSONResponse | dict[str, object]:
    """Retires (抵消) `amount` of the caller's ticket for a beneficiary: the slot's next serial
    range; the certificate is at `certificate_url`."""
    require_role(view, caller, "MEMBER")
    tickets = _tickets(writer)
    with idempotent(session, caller, f"tickets.retire.{token_id}", idempotency_key, body,
                    writer.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        sent = slot.landed
        if sent is None:
            t = _movable(view, writer, caller, token_id)
            checks.value_at_most(t, token_id, body.amount)
            with checks.ticket_reverts():
                sent = tickets.retire(caller.key(), token_id, body.amount, body.beneficiary,
                                      TicketPurpose(int(PURPOSE_BY_KEY[body.purpose])),
                                      body.case_reference).sent
        result = _retired_out(tickets, sent, token_id, caller, body)
        slot.store(201, result)
    return result


# -- lists from the index --------------------------------------------------------------------


@router.get("/parcels/{project_id}/tickets", response_model=ParcelOut)
def parcel_tickets(project_id: PathId, session: SessionDep, view: ViewDep) -> dict[str, Any]:
    """A parcel's tickets: every slot (monitoring period) ticketed, its issued, retired and
    pledged totals, and its live tickets with owner and value (from the index)."""
    if not tq.parcel_known(session, project_id) and view.project(project_id) is None:
        raise not_found("parcel", project_id)
    return tq.parcel_tickets(session, project_id)


@router.get("/tickets", response_model=list[OwnedTicketOut])
def owned_tickets(session: SessionDep,
                  owner: Annotated[str, Query(max_length=42)]) -> list[dict[str, Any]]:
    """An owner's live tickets (from the index); those in the pledge register's escrow are
    listed under the register's address, flagged `in_escrow`."""
    return tq.tickets_of_owner(session, checksum_path_address(owner))

