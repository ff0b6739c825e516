"""Methodologies (Flow 1): registered by the registry operator, decided by the regulator."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api import prechecks
from api.auth import CallerDep, require_role
from api.deps import ViewDep, WriterDep
from api.errors import ApiError
from api.fields import STRICT, ZERO_HASH, Hash32, NonZeroHash32, PathId, b32, text
from api.schemas import OptionalReason, ReasonIn, TxOut, tx
from registry.categories import SinkCategory
from registry.ledger import MethodologyStatus

router = APIRouter(prefix="/v1/methodologies", tags=["methodologies"])

MAX_BUFFER_BPS = 5_000

# registry.categories.SinkCategory, as the API spells it
SinkCategoryName = Literal["mangrove", "seagrass", "salt_marsh", "macroalgae", "shellfish",
                           "forest", "soil_water_conservation"]


class MethodologyIn(BaseModel):
    model_config = STRICT

    code: Annotated[str, text(64)]
    name: Annotated[str, text(200)]
    document_hash: NonZeroHash32
    parameters_hash: Hash32 = ZERO_HASH
    buffer_bps: Annotated[int, Field(ge=0, le=MAX_BUFFER_BPS,
                                     description="share of each issuance held as buffer, 1/10000")]
    category: Annotated[SinkCategoryName, Field(description="what the credits sequester in")]


class MethodologyOut(TxOut):
    methodology_id: int
    code: str


class MethodologyStatusOut(TxOut):
    methodology_id: int
    status: str


@router.post("", status_code=201, response_model=MethodologyOut)
def register_methodology(
    body: MethodologyIn, caller: CallerDep, view: ViewDep, writer: WriterDep
) -> dict[str, object]:
    """Registers a methodology with its document hash and buffer share. Registry operator."""
    require_role(view, caller, "REGISTRY_OPERATOR")
    existing = view.methodology_of_code(body.code)
    if existing:
        raise ApiError(409, "methodology_code_exists",
                       f"methodology code {body.code!r} is already registered",
                       {"methodology_id": existing})
    created = writer.register_methodology(
        caller.key(), body.code, body.name, b32(body.document_hash), b32(body.parameters_hash),
        body.buffer_bps, SinkCategory.of(body.category),
    )
    return {"methodology_id": created.id, "code": body.code, **tx(created.sent)}


@router.post("/{methodology_id}/approve", response_model=MethodologyStatusOut)
def approve_methodology(
    methodology_id: PathId, caller: CallerDep, view: ViewDep, writer: WriterDep
) -> dict[str, object]:
    """Approves a registered methodology for new projects. Regulator."""
    require_role(view, caller, "REGULATOR")
    prechecks.methodology_in(view, methodology_id, MethodologyStatus.REGISTERED)
    sent = writer.approve_methodology(caller.key(), methodology_id)
    return {"methodology_id": methodology_id, "status": "approved", **tx(sent)}


@router.post("/{methodology_id}/reject", response_model=MethodologyStatusOut)
def reject_methodology(
    methodology_id: PathId, caller: CallerDep, view: ViewDep, writer: WriterDep,
    body: OptionalReason = None,
) -> dict[str, object]:
    """Rejects a registered methodology. Regulator."""
    require_role(view, caller, "REGULATOR")
    prechecks.methodology_in(view, methodology_id, MethodologyStatus.REGISTERED)
    reason = b32((body or ReasonIn()).reason_hash)
    sent = writer.reject_methodology(caller.key(), methodology_id, reason)
    return {"methodology_id": methodology_id, "status": "rejected", **tx(sent)}


@router.post("/{methodology_id}/deprecate", response_model=MethodologyStatusOut)
def deprecate_methodology(
    methodology_id: PathId, caller: CallerDep, view: ViewDep, writer: WriterDep,
    body: OptionalReason = None,
) -> dict[str, object]:
    """Closes an approved methodology to new projects; existing ones keep issuing. Regulator."""
    require_role(view, caller, "REGULATOR")
    prechecks.methodology_in(view, methodology_id, MethodologyStatus.APPROVED)
    reason = b32((body or ReasonIn()).reason_hash)
    sent = writer.deprecate_methodology(caller.key(), methodology_id, reason)
    return {"methodology_id": methodology_id, "status": "deprecated", **tx(sent)}
