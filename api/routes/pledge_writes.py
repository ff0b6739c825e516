"""The pledge register (质押) written over HTTP: a holder pledges ticket value or credits to a
bank for a loan; the pledge's bank releases it on repayment or forecloses it from maturity on.

Like the ticket writes (api.routes.ticket_writes): the caller's custodial key, relayed; an
`Idempotency-Key`; pre-checks with precise codes (`already_pledged`, `not_ticket_owner`,
`insufficient_value`, `not_a_bank`, `self_pledge`, `maturity_in_past`, `not_pledge_bank`,
`pledge_not_active`, `not_matured`) and the contract's refusals mapped to the same codes.

The loan reference is the loan contract's number as text; the register stores its keccak256
(UTF-8), as `registry.pledges` and the contract expect. The loan amount is yuan as a decimal
string (`api.fields.Yuan`, stored in fen). `maturity` is unix seconds, or an ISO-8601 date
(`2027-06-30`: 00:00 China Standard Time, UTC+8, of that day) or date-time with an explicit
offset (`2027-06-30T12:00:00+08:00`).

The register moves the pledged value into escrow as an operator of the pledgor's tickets or
credits: if the caller has not approved it, the route approves it first (one transaction,
sent only once every pre-check has passed), then pledges.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from eth_utils import keccak
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from api import prechecks, reserved
from api import ticket_checks as checks
from api.auth import Caller, CallerDep, require_role
from api.deps import SessionDep, ViewDep, WriterDep
from api.errors import ApiError
from api.fields import MAX_TIME, STRICT, Address, Id, PathId, Tonnes, Yuan, text
from api.idempotency import Slot, idempotent
from api.onchain import ChainView
from api.routes.tickets import PledgeOut, pledge_out
from api.schemas import TxOut, tx
from chain.client import Sent
from core.units import format_units
from registry.ledger import Ledger
from registry.pledges import Pledges
from registry.tickets import Tickets

router = APIRouter(prefix="/v1", tags=["forest tickets and pledges"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="retry-safe key; same key + body = same result"),
]
CST = timezone(timedelta(hours=8))
MAX_FEN = 2**96 - 1  # the register's loan amount is 96 bits


def _maturity(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        try:
            if len(value) == 10:
                day = date.fromisoformat(value)
                seconds = int(datetime(day.year, day.month, day.day, tzinfo=CST).timestamp())
            else:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    raise ValueError("no offset")
                seconds = int(moment.timestamp())
        except (ValueError, OverflowError):
            raise PydanticCustomError(
                "invalid_maturity", "maturity is unix seconds, an ISO date (YYYY-MM-DD, China "
                "time) or an ISO date-time with its UTC offset") from None
    else:
        raise PydanticCustomError("invalid_maturity", "maturity is unix seconds or ISO-8601")
    if not 0 < seconds <= MAX_TIME:
        raise PydanticCustomError("invalid_maturity", "maturity is out of range")
    return seconds


Maturity = Annotated[
    int,
    BeforeValidator(_maturity),
    WithJsonSchema({"oneOf": [{"type": "integer"}, {"type": "string", "format": "date"},
                              {"type": "string", "format": "date-time"}],
                    "description": "unix seconds; YYYY-MM-DD (00:00 China time); or "
                    "date-time with offset"}),
]


class PledgeIn(BaseModel):
    model_config = STRICT

    asset: Literal["ticket", "credit"]
    token_id: Id | None = None
    batch_id: Id | None = None
    amount: Tonnes
    bank: Address
    loan_reference: Annotated[str, text(128)]
    loan_amount_yuan: Yuan
    maturity: Maturity

    @model_validator(mode="after")
    def _asset(self) -> PledgeIn:
        wanted = "token_id" if self.asset == "ticket" else "batch_id"
        given = {k for k in ("token_id", "batch_id") if getattr(self, k) is not None}
        if given != {wanted}:
            raise PydanticCustomError(
                "invalid_pledge_asset",
                "a ticket pledge names token_id, a credit pledge batch_id (exactly one)")
        if self.loan_amount_yuan > MAX_FEN:
            raise PydanticCustomError("amount_too_large", "the loan amount is too large")
        return self


class PledgeWriteOut(TxOut):
    pledge: PledgeOut
    approved_register: bool


class PledgeCloseOut(TxOut):
    pledge: PledgeOut


def loan_reference_hash(reference: str) -> bytes:
    """What the register stores for a loan contract's reference: keccak256 of its UTF-8."""
    return keccak(text=reference)


def _terms(view: ChainView, caller: Caller, body: PledgeIn) -> None:
    if body.bank == caller.address:
        raise ApiError(422, "self_pledge", "a bank cannot take its own assets as pledge",
                       {"bank": body.bank})
    if not view.has_role("BANK", body.bank):
        raise ApiError(422, "not_a_bank", f"{body.bank} is not an unfrozen bank-role member",
                       {"bank": body.bank})
    now = view.latest_timestamp()
    if body.maturity <= now:
        raise ApiError(422, "maturity_in_past", "the maturity must be in the future",
                       {"maturity": body.maturity, "chain_time": now})


def _asset(request: Request, view: ChainView, writer: Ledger, caller: Caller,
           body: PledgeIn) -> None:
    if body.token_id is not None:
        tickets, register = Tickets(writer), Pledges(writer).address
        t = checks.ticket(tickets, body.token_id)
        if t.owner == register:
            raise ApiError(409, "already_pledged",
                           f"ticket {body.token_id} is pledged already (the register holds "
                           "it): pledged value cannot be pledged a second time",
                           {"token_id": body.token_id})
        t = checks.own_ticket(tickets, register, caller.address, body.token_id)
        checks.value_at_most(t, body.token_id, body.amount)
        return
    assert body.batch_id is not None
    prechecks.movable_batch(view, body.batch_id)
    held = view.balance(caller.address, body.batch_id)
    if body.amount > held:
        raise ApiError(409, "insufficient_value",
                       f"holds {format_units(held)} t of batch {body.batch_id}, "
                       f"{format_units(body.amount)} t requested",
                       {"batch_id": body.batch_id, "available_units": held,
                        "requested_units": body.amount})
    reserved.require_free(request, caller.address, body.batch_id, body.amount, held)


def _approve(writer: Ledger, caller: Caller, body: PledgeIn) -> bool:
    """Approves the register as operator of the caller's tickets or credits if it is not."""
    pledges = Pledges(writer)
    contract = "ForestTickets" if body.asset == "ticket" else "CarbonCredits"
    fn = writer.c(contract).functions.isApprovedForAll(caller.address, pledges.address)
    if bool(writer.chain.call(fn)):
        return False
    if body.asset == "ticket":
        pledges.approve_tickets(caller.key())
    else:
        pledges.approve_credits(caller.key())
    return True


def _pledged(writer: Ledger, sent: Sent | None) -> int | None:
    if sent is None:
        return None
    events = writer.events_of(sent, "Pledged")
    return int(events[0].args["pledgeId"]) if events else None


def _send_pledge(request: Request, view: ChainView, writer: Ledger, caller: Caller,
                 body: PledgeIn, slot: Slot) -> tuple[Sent, bool]:
    approved = False
    if slot.landed is None:  # a landed approval of an earlier attempt needs no pre-checks
        prechecks.holder_not_frozen(view, caller.address)
        _terms(view, caller, body)
        _asset(request, view, writer, caller, body)
    with checks.ticket_reverts():
        approved = _approve(writer, caller, body)
        pledges = Pledges(writer)
        args = (body.amount, body.bank, loan_reference_hash(body.loan_reference),
                body.loan_amount_yuan, body.maturity)
        if body.token_id is not None:
            made = pledges.pledge_ticket(caller.key(), body.token_id, *args)
        else:
            assert body.batch_id is not None
            made = pledges.pledge_credits(caller.key(), body.batch_id, *args)
    if body.asset == "credit":
        reserved.moved(request, caller.address)
    return made.sent, approved


@router.post("/pledges", status_code=201, response_model=PledgeWriteOut)
def make_pledge(body: PledgeIn, request: Request, caller: CallerDep, session: SessionDep,
                view: ViewDep, writer: WriterDep, idempotency_key: IdempotencyKey = None,
                ) -> JSONResponse | dict[str, object]:
    """Pledges (质押) value of the caller's ticket, or credits of a batch it holds, to a bank
    for a loan; the value sits in the register's escrow until the bank releases or forecloses
    it. Any unfrozen member holding the asset; approves the register first if needed."""
    require_role(view, caller, "MEMBER")
    with idempotent(session, caller, "pledges", idempotency_key, body, writer.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        sent, approved = slot.landed, False
        pledge_id = _pledged(writer, sent)
        if sent is None or pledge_id is None:
            sent, approved = _send_pledge(request, view, writer, caller, body, slot)
            pledge_id = _pledged(writer, sent)
        assert pledge_id is not None
        result: dict[str, object] = {
            "pledge": pledge_out(Pledges(writer).pledge(pledge_id)),
            "approved_register": approved, **tx(sent)}
        slot.store(201, result)
    return result


def _close(action: Literal["release", "foreclose"], pledge_id: int, caller: Caller,
           session: Any, view: ChainView, writer: Ledger,
           idempotency_key: str | None) -> JSONResponse | dict[str, object]:
    require_role(view, caller, "MEMBER")
    pledges = Pledges(writer)
    with idempotent(session, caller, f"pledges.{action}.{pledge_id}", idempotency_key,
                    _Empty(), writer.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        sent = slot.landed
        if sent is None:
            p = checks.pledge(pledges, pledge_id)
            checks.bank_action(p, caller.address)
            now = view.latest_timestamp()
            if action == "foreclose" and now < p.maturity:
                raise ApiError(409, "not_matured",
                               f"pledge {pledge_id} matures at {p.maturity}: no foreclosure "
                               "before", {"pledge_id": pledge_id, "maturity": p.maturity,
                                          "chain_time": now})
            with checks.ticket_reverts():
                do = pledges.release if action == "release" else pledges.foreclose
                sent = do(caller.key(), pledge_id)
        result: dict[str, object] = {"pledge": pledge_out(pledges.pledge(pledge_id)),
                                     **tx(sent)}
        slot.store(200, result)
    return result


class _Empty(BaseModel):
    model_config = STRICT


@router.post("/pledges/{pledge_id}/release", response_model=PledgeCloseOut)
def release_pledge(pledge_id: PathId, caller: CallerDep, session: SessionDep, view: ViewDep,
                   writer: WriterDep, idempotency_key: IdempotencyKey = None,
                   ) -> JSONResponse | dict[str, object]:
    """Releases a pledge on repayment: the value goes back to the pledgor. The pledge's own
    bank only, at any time."""
    return _close("release", pledge_id, caller, session, view, writer, idempotency_key)


@router.post("/pledges/{pledge_id}/foreclose", response_model=PledgeCloseOut)
def foreclose_pledge(pledge_id: PathId, caller: CallerDep, session: SessionDep, view: ViewDep,
                     writer: WriterDep, idempotency_key: IdempotencyKey = None,
                     ) -> JSONResponse | dict[str, object]:
    """Forecloses a matured pledge on default: the value goes to the bank. The pledge's own
    bank only, from maturity on."""
    return _close("foreclose", pledge_id, caller, session, view, writer, idempotency_key)
