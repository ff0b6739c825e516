"""Moving credits (Flows 5 and 6): transfers between members and retirements.

Both accept an `Idempotency-Key` header: a retry with the same key and body returns the first
result (header `Idempotent-Replayed: true`) instead of moving credits again. A retry of an
attempt that never answered but whose transaction landed (`slot.landed`) finishes that attempt
from its receipt: no pre-checks (the credits have moved already) and no second transaction.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from api import prechecks, reserved
from api.auth import CallerDep, require_role
from api.certificate import PURPOSE_BY_KEY, certificate_url, serial_range_label, verify_url
from api.deps import SessionDep, SettingsDep, ViewDep, WriterDep
from api.fields import STRICT, Address, Id, Tonnes, text
from api.idempotency import idempotent
from api.schemas import TxOut, tx
from core.units import format_units

router = APIRouter(prefix="/v1", tags=["transfers and retirements"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="retry-safe key; same key + body = same result"),
]
PurposeName = Literal["voluntary", "compliance", "ecological_compensation", "carbon_inclusive"]


class TransferIn(BaseModel):
    model_config = STRICT

    to: Address
    batch_id: Id
    amount: Tonnes


class TransferOut(TxOut):
    from_: str = Field(alias="from")
    to: str
    batch_id: int
    amount_units: int
    amount: str


class RetireIn(BaseModel):
    model_config = STRICT

    batch_id: Id
    amount: Tonnes
    beneficiary: Annotated[str, text(256)]
    purpose: PurposeName
    case_reference: Annotated[str, text(128, allow_empty=True)] = ""

    @model_validator(mode="after")
    def _case(self) -> RetireIn:
        if self.purpose == "ecological_compensation" and not self.case_reference.strip():
            raise PydanticCustomError(
                "case_reference_required",
                "an ecological-compensation retirement must cite its case reference",
            )
        return self


class RetireOut(TxOut):
    retirement_id: int
    holder: str
    batch_id: int
    amount_units: int
    amount: str
    purpose: str
    beneficiary: str
    case_reference: str
    serial_start: int
    serial_end: int
    serial_range: str
    certificate_url: str
    verify_url: str


@router.post("/transfers", status_code=201, response_model=TransferOut,
             responses={201: {"headers": {"Idempotent-Replayed": {"schema": {"type": "string"}}}}})
def transfer(
    body: TransferIn, request: Request, caller: CallerDep, session: SessionDep, view: ViewDep,
    writer: WriterDep, idempotency_key: IdempotencyKey = None,
) -> JSONResponse | dict[str, object]:
    """Transfers the caller's credits of a batch to another member, never those the exchange
    has reserved (409 reserved_by_exchange). Any unfrozen member."""
    require_role(view, caller, "MEMBER")
    with idempotent(session, caller, "transfers", idempotency_key, body, writer.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        sent = slot.landed
        if sent is None:
            prechecks.movable_batch(view, body.batch_id)
            prechecks.holder_not_frozen(view, caller.address)
            prechecks.recipient(view, body.to)
            prechecks.balance(view, caller.address, body.batch_id, body.amount)
            reserved.require_free(request, caller.address, body.batch_id, body.amount,
                                  view.balance(caller.address, body.batch_id))
            sent = writer.transfer(caller.key(), body.to, body.batch_id, body.amount)
            reserved.moved(request, caller.address)
        result: dict[str, object] = {
            "from": caller.address, "to": body.to, "batch_id": body.batch_id,
            "amount_units": body.amount, "amount": format_units(body.amount), **tx(sent),
        }
        slot.store(201, result)
    return result


@router.post("/retirements", status_code=201, response_model=RetireOut)
def retire(
    body: RetireIn, request: Request, caller: CallerDep, session: SessionDep,
    settings: SettingsDep, view: ViewDep, writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse | dict[str, object]:
    """Retires the caller's credits for a beneficiary; returns the serial range and the
    certificate and verification URLs. Never credits the exchange has reserved (409
    reserved_by_exchange). Any unfrozen member holding the credits."""
    require_role(view, caller, "MEMBER")
    with idempotent(session, caller, "retirements", idempotency_key, body, writer.chain) as slot:
        if slot.replay is not None:
            return slot.replay
        if slot.landed is not None:
            done = writer.retirement_of(slot.landed, body.batch_id, body.amount)
        else:
            prechecks.movable_batch(view, body.batch_id)
            prechecks.holder_not_frozen(view, caller.address)
            prechecks.balance(view, caller.address, body.batch_id, body.amount)
            reserved.require_free(request, caller.address, body.batch_id, body.amount,
                                  view.balance(caller.address, body.batch_id))
            done = writer.retire(caller.key(), body.batch_id, body.amount, body.beneficiary,
                                 PURPOSE_BY_KEY[body.purpose], body.case_reference)
            reserved.moved(request, caller.address)
        result: dict[str, object] = {
            "retirement_id": done.retirement_id,
            "holder": caller.address,
            "batch_id": body.batch_id,
            "amount_units": body.amount,
            "amount": format_units(body.amount),
            "purpose": body.purpose,
            "beneficiary": body.beneficiary,
            "case_reference": body.case_reference,
            "serial_start": done.serial_start,
            "serial_end": done.serial_end,
            "serial_range": serial_range_label(body.batch_id, done.serial_start, done.serial_end),
            "certificate_url": certificate_url(settings, done.retirement_id),
            "verify_url": verify_url(settings, done.retirement_id),
            **tx(done.sent),
        }
        slot.store(201, result)
    return result
