"""Projects (Flow 2): registered by their developer, validated by a verifier, approved by the
regulator. A forest project's developer also declares the forest-right certificates (林权证号)
its boundary takes in, before validation: a certificate belongs to one project over any stretch
of time, so a parcel in a credit project is never also ticketed for an overlapping period
(Flow 10), nor the other way round."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from api import prechecks
from api.auth import CallerDep, require_role
from api.deps import ViewDep, WriterDep
from api.errors import ApiError
from api.fields import (
    STRICT,
    ZERO_HASH,
    Hash32,
    Id,
    Latitude,
    Longitude,
    NonZeroHash32,
    PathId,
    UnixTime,
    b32,
    text,
)
from api.schemas import OptionalDecision, OptionalReason, ReasonIn, TxOut, tx
from chain.structs import Location
from registry.ledger import MethodologyStatus, ProjectStatus

router = APIRouter(prefix="/v1/projects", tags=["projects"])


class ProjectIn(BaseModel):
    """Where and what the project is; the caller becomes its developer and receives its
    credits."""

    model_config = STRICT

    name: Annotated[str, text(200)]
    methodology_id: Id
    division_code: Annotated[int, Field(ge=1, le=2**32 - 1,
                                        description="administrative-division code, e.g. 450702")]
    latitude: Latitude
    longitude: Longitude
    area_m2: Annotated[int, Field(ge=1, le=2**64 - 1)]
    boundary_hash: NonZeroHash32
    crediting_start: UnixTime
    crediting_end: UnixTime
    document_hash: Hash32 = ZERO_HASH

    @model_validator(mode="after")
    def _period(self) -> ProjectIn:
        if self.crediting_start >= self.crediting_end:
            raise PydanticCustomError(
                "invalid_period", "crediting_start must be before crediting_end"
            )
        return self


class ProjectOut(TxOut):
    project_id: int
    developer: str


class ValidateIn(BaseModel):
    model_config = STRICT

    validation_report_hash: NonZeroHash32


class ProjectStatusOut(TxOut):
    project_id: int
    status: str


RightsCertificate = Annotated[str, text(64)]


class ParcelsIn(BaseModel):
    model_config = STRICT

    rights_certificates: Annotated[list[RightsCertificate], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _distinct(self) -> ParcelsIn:
        if len(set(self.rights_certificates)) != len(self.rights_certificates):
            raise PydanticCustomError("duplicate_certificate",
                                      "each certificate number is given once")
        return self


class ParcelsOut(TxOut):
    project_id: int
    rights_certificates: list[str]


class ParcelProjectOut(BaseModel):
    project_id: int
    status: str
    crediting_start: int
    crediting_end: int


class ParcelOut(BaseModel):
    rights_certificate: str
    projects: list[ParcelProjectOut]


@router.post("", status_code=201, response_model=ProjectOut)
def register_project(
    body: ProjectIn, caller: CallerDep, view: ViewDep, writer: WriterDep
) -> dict[str, object]:
    """Registers a project under an approved methodology. Any member; the caller is the
    developer."""
    require_role(view, caller, "MEMBER")
    m = prechecks.methodology(view, body.methodology_id)
    if MethodologyStatus(m.status) != MethodologyStatus.APPROVED:
        raise ApiError(409, "methodology_not_approved",
                       f"methodology {body.methodology_id} is not approved",
                       {"methodology_id": body.methodology_id,
                        "status": MethodologyStatus(m.status).name.lower()})
    location = Location(body.division_code, body.latitude, body.longitude, body.area_m2,
                        b32(body.boundary_hash))
    created = writer.register_project(
        caller.key(), body.name, body.methodology_id, location, body.crediting_start,
        body.crediting_end, b32(body.document_hash),
    )
    return {"project_id": created.id, "developer": caller.address, **tx(created.sent)}


@router.post("/{project_id}/parcels", response_model=ParcelsOut)
def declare_parcels(
    project_id: PathId, body: ParcelsIn, caller: CallerDep, view: ViewDep, writer: WriterDep
) -> dict[str, object]:
    """Declares the forest-right certificates a registered project's boundary takes in. Its
    developer, before validation; `parcel_in_other_project` when a certificate is
    another non-rejected project's over an overlapping crediting period."""
    require_role(view, caller, "MEMBER")
    p = prechecks.project_in(view, project_id, ProjectStatus.REGISTERED)
    if p.developer != caller.address:
        raise ApiError(403, "not_project_developer",
                       f"only project {project_id}'s developer declares its parcels",
                       {"project_id": project_id, "developer": p.developer})
    for certificate in body.rights_certificates:
        prechecks.parcel_free(view, certificate, project_id)
    sent = writer.declare_parcels(caller.key(), project_id, body.rights_certificates)
    return {"project_id": project_id, "rights_certificates": body.rights_certificates,
            **tx(sent)}


@router.get("/parcels/by-certificate", response_model=ParcelOut)
def parcel_projects(view: ViewDep, certificate: Annotated[str, Query(min_length=1,
                                                                      max_length=64)]
                    ) -> dict[str, object]:
    """Every project a forest-right certificate was bound to — declared by a project's
    developer or ticketed — with its status and crediting period, read from the chain: who
    else counts this parcel, before a ticket or a loan is made on it."""
    projects = []
    for pid in view.ledger.projects_of_parcel(certificate):
        p = view.ledger.project(pid)
        projects.append({"project_id": pid, "status": ProjectStatus(p.status).name.lower(),
                         "crediting_start": p.crediting_start,
                         "crediting_end": p.crediting_end})
    return {"rights_certificate": certificate, "projects": projects}


@router.post("/{project_id}/validate", response_model=ProjectStatusOut)
def validate_project(
    project_id: PathId, body: ValidateIn, caller: CallerDep, view: ViewDep, writer: WriterDep
) -> dict[str, object]:
    """Records an independent validation of a registered project. Verifier (not its
    developer)."""
    require_role(view, caller, "VERIFIER")
    p = prechecks.project_in(view, project_id, ProjectStatus.REGISTERED)
    if p.developer == caller.address:
        raise ApiError(409, "conflict_of_interest", "a verifier cannot validate its own project",
                       {"project_id": project_id})
    sent = writer.validate_project(caller.key(), project_id, b32(body.validation_report_hash))
    return {"project_id": project_id, "status": "validated", **tx(sent)}


@router.post("/{project_id}/approve", response_model=ProjectStatusOut)
def approve_project(
    project_id: PathId, caller: CallerDep, view: ViewDep, writer: WriterDep,
    body: OptionalDecision = None,
) -> dict[str, object]:
    """Approves a validated project. Regulator."""
    require_role(view, caller, "REGULATOR")
    prechecks.project_in(view, project_id, ProjectStatus.VALIDATED)
    decision = b32(body.decision_hash) if body else bytes(32)
    sent = writer.approve_project(caller.key(), project_id, decision)
    return {"project_id": project_id, "status": "approved", **tx(sent)}


@router.post("/{project_id}/reject", response_model=ProjectStatusOut)
def reject_project(
    project_id: PathId, caller: CallerDep, view: ViewDep, writer: WriterDep,
    body: OptionalReason = None,
) -> dict[str, object]:
    """Rejects a project that is not yet approved. Regulator."""
    require_role(view, caller, "REGULATOR")
    prechecks.project_in(view, project_id, ProjectStatus.REGISTERED, ProjectStatus.VALIDATED)
    reason = b32((body or ReasonIn()).reason_hash)
    sent = writer.reject_project(caller.key(), project_id, reason)
    return {"project_id": project_id, "status": "rejected", **tx(sent)}
