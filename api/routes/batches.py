"""Credit batches (Flows 4 and 7): issuance against a verified report, freezes, and buffer
cancellation against a verifier-confirmed disturbance (the only cancellation there is)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api import prechecks
from api.auth import CallerDep, require_role
from api.deps import ViewDep, WriterDep
from api.errors import ApiError, not_found
from api.fields import STRICT, Id, PathId, Tonnes, b32
from api.schemas import OptionalReason, ReasonIn, TxOut, tx
from core.units import format_units

router = APIRouter(prefix="/v1/batches", tags=["batches"])


class IssueIn(BaseModel):
    model_config = STRICT

    report_id: Id


class BatchOut(TxOut):
    batch_id: int
    report_id: int
    project_id: int
    developer: str
    issued_units: int
    issued: str
    buffer_units: int
    buffer: str


class FreezeOut(TxOut):
    batch_id: int
    frozen: bool


class CancelIn(BaseModel):
    model_config = STRICT

    amount: Tonnes
    disturbance_id: Id


class CancelOut(TxOut):
    cancellation_id: int
    batch_id: int
    amount_units: int
    amount: str
    serial_start: int
    serial_end: int


@router.post("", status_code=201, response_model=BatchOut)
def issue(body: IssueIn, caller: CallerDep, view: ViewDep, writer: WriterDep) -> dict[str, object]:
    """Issues a batch against a verified report, once per report; the methodology's buffer
    share goes to the buffer pool. Registry operator."""
    require_role(view, caller, "REGISTRY_OPERATOR")
    if view.report(body.report_id) is None:
        raise not_found("report", body.report_id)
    created = writer.issue(caller.key(), body.report_id)
    ev = writer.events_of(created.sent, "BatchIssued")[0].args
    issued, buffer = int(ev["issued"]), int(ev["buffer"])
    return {
        "batch_id": created.id,
        "report_id": body.report_id,
        "project_id": int(ev["projectId"]),
        "developer": ev["developer"],
        "issued_units": issued,
        "issued": format_units(issued),
        "buffer_units": buffer,
        "buffer": format_units(buffer),
        **tx(created.sent),
    }


def _set_frozen(batch_id: int, frozen: bool, body: ReasonIn | None, caller: CallerDep,
                view: ViewDep, writer: WriterDep) -> dict[str, object]:
    require_role(view, caller, "REGULATOR")
    b = prechecks.batch(view, batch_id)
    if b.frozen == frozen:
        code = "batch_already_frozen" if frozen else "batch_not_frozen"
        raise ApiError(409, code, f"batch {batch_id} is {'already' if frozen else 'not'} frozen",
                       {"batch_id": batch_id})
    reason = b32((body or ReasonIn()).reason_hash)
    if frozen:
        sent = writer.freeze_batch(caller.key(), batch_id, reason)
    else:
        sent = writer.unfreeze_batch(caller.key(), batch_id, reason)
    return {"batch_id": batch_id, "frozen": frozen, **tx(sent)}


@router.post("/{batch_id}/freeze", response_model=FreezeOut)
def freeze_batch(batch_id: PathId, caller: CallerDep, view: ViewDep, writer: WriterDep,
                 body: OptionalReason = None) -> dict[str, object]:
    """Freezes a batch: no transfer or retirement until unfrozen. Regulator."""
    return _set_frozen(batch_id, True, body, caller, view, writer)


@router.post("/{batch_id}/unfreeze", response_model=FreezeOut)
def unfreeze_batch(batch_id: PathId, caller: CallerDep, view: ViewDep, writer: WriterDep,
                   body: OptionalReason = None) -> dict[str, object]:
    """Lifts a batch freeze. Regulator."""
    return _set_frozen(batch_id, False, body, caller, view, writer)


@router.post("/{batch_id}/cancel-buffer", status_code=201, response_model=CancelOut)
def cancel_buffer(batch_id: PathId, body: CancelIn, caller: CallerDep, view: ViewDep,
                  writer: WriterDep) -> dict[str, object]:
    """Cancels buffer-pool credits of a batch against a verifier-confirmed disturbance of its
    project, never more than the disturbance's confirmed loss not yet applied. Regulator."""
    require_role(view, caller, "REGULATOR")
    b = prechecks.batch(view, batch_id)
    d = prechecks.confirmed_disturbance(view, body.disturbance_id)
    if b.project_id != d.project_id:
        raise ApiError(409, "disturbance_of_other_project",
                       "the batch belongs to another project than the disturbance",
                       {"batch_id": batch_id, "disturbance_id": body.disturbance_id})
    remaining = d.confirmed_loss - d.applied_loss
    if body.amount > remaining:
        raise ApiError(409, "loss_exceeded", "the amount exceeds the confirmed loss not yet "
                       "applied", {"remaining_units": remaining,
                                   "remaining": format_units(remaining)})
    available = view.buffer_balance(batch_id)
    if body.amount > available:
        raise ApiError(409, "insufficient_buffer",
                       f"the buffer pool holds {format_units(available)} t of batch {batch_id}",
                       {"batch_id": batch_id, "available_units": available,
                        "available": format_units(available), "requested_units": body.amount,
                        "requested": format_units(body.amount)})
    created = writer.cancel_buffer_for_disturbance(caller.key(), body.disturbance_id, batch_id,
                                                   body.amount)
    ev = writer.events_of(created.sent, "BufferCancelled")[0].args
    return {
        "cancellation_id": created.id,
        "batch_id": batch_id,
        "amount_units": body.amount,
        "amount": format_units(body.amount),
        "serial_start": int(ev["serialStart"]),
        "serial_end": int(ev["serialEnd"]),
        **tx(created.sent),
    }
