"""Monitoring reports (Flow 3): oracle nodes attest (root, quantity, report hash) for a
project's period; k agreeing attestations make it attested; a verifier signs the verified
quantity.

Periods are unix seconds (UTC): `period_start` inclusive, `period_end` exclusive.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, model_validator
from pydantic_core import PydanticCustomError

from api import prechecks
from api.auth import CallerDep, require_role
from api.deps import ViewDep, WriterDep
from api.errors import ApiError
from api.fields import STRICT, Id, NonZeroHash32, PathId, Tonnes, UnixTime, b32
from api.schemas import OptionalReason, ReasonIn, TxOut, tx
from core.units import format_units
from registry.ledger import ProjectStatus, ReportStatus

router = APIRouter(prefix="/v1/reports", tags=["monitoring reports"])


class AttestIn(BaseModel):
    model_config = STRICT

    project_id: Id
    period_start: UnixTime
    period_end: UnixTime
    merkle_root: NonZeroHash32
    quantity: Tonnes
    report_hash: NonZeroHash32

    @model_validator(mode="after")
    def _period(self) -> AttestIn:
        if self.period_start >= self.period_end:
            raise PydanticCustomError("invalid_period", "period_start must be before period_end")
        return self


class AttestOut(TxOut):
    report_id: int
    status: str
    submissions: int


class VerifyIn(BaseModel):
    model_config = STRICT

    verified_quantity: Tonnes
    verification_hash: NonZeroHash32


class ReportStatusOut(TxOut):
    report_id: int
    status: str


@router.post("/attest", status_code=201, response_model=AttestOut)
def attest(
    body: AttestIn, caller: CallerDep, view: ViewDep, writer: WriterDep
) -> dict[str, object]:
    """Submits this oracle node's attestation of a project's monitoring period. Oracle."""
    require_role(view, caller, "ORACLE")
    p = prechecks.project_in(view, body.project_id, ProjectStatus.APPROVED)
    if body.period_start < p.crediting_start or body.period_end > p.crediting_end:
        raise ApiError(409, "period_outside_crediting",
                       "the period is outside the project's crediting period",
                       {"crediting_start": p.crediting_start, "crediting_end": p.crediting_end})
    if body.period_end > view.latest_timestamp():
        raise ApiError(409, "period_not_ended", "the monitoring period has not ended yet",
                       {"period_end": body.period_end})
    created = writer.attest(
        caller.key(), body.project_id, body.period_start, body.period_end,
        b32(body.merkle_root), body.quantity, b32(body.report_hash),
    )
    report = view.report(created.id)
    return {
        "report_id": created.id,
        "status": ReportStatus(report.status if report else 0).name.lower(),
        "submissions": report.submissions if report else 0,
        **tx(created.sent),
    }


@router.post("/{report_id}/verify", response_model=ReportStatusOut)
def verify_report(
    report_id: PathId, body: VerifyIn, caller: CallerDep, view: ViewDep, writer: WriterDep
) -> dict[str, object]:
    """Signs the verified quantity (at most the attested one) of an attested report. Verifier."""
    require_role(view, caller, "VERIFIER")
    r = prechecks.report_in(view, report_id, ReportStatus.ATTESTED)
    attested = r.attested_quantity
    if body.verified_quantity > attested:
        raise ApiError(409, "quantity_above_attested",
                       f"verified quantity exceeds the attested {format_units(attested)} t",
                       {"attested_units": attested, "attested": format_units(attested)})
    sent = writer.verify_report(caller.key(), report_id, body.verified_quantity,
                                b32(body.verification_hash))
    return {"report_id": report_id, "status": "verified", **tx(sent)}


@router.post("/{report_id}/reject", response_model=ReportStatusOut)
def reject_report(
    report_id: PathId, caller: CallerDep, view: ViewDep, writer: WriterDep,
    body: OptionalReason = None,
) -> dict[str, object]:
    """Rejects a pending or attested report; its period may then be attested afresh.
    Verifier."""
    require_role(view, caller, "VERIFIER")
    prechecks.report_in(view, report_id, ReportStatus.PENDING, ReportStatus.ATTESTED)
    reason = b32((body or ReasonIn()).reason_hash)
    sent = writer.reject_report(caller.key(), report_id, reason)
    return {"report_id": report_id, "status": "rejected", **tx(sent)}
