"""Read routes served from the SQL index (registry.queries), not from the chain.

Every quantity appears twice: `<name>_units` (integer, 1 t = 1,000,000 units, exact) and
`<name>` (tonnes as a decimal string, "326.4"), so clients never need floats. Lists are pages
(`items`, `total`, `limit` <= 500, `offset`). Unknown ids answer 404 `<kind>_not_found`;
malformed addresses and other malformed parameters 422 (`invalid_address`, ...).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from eth_utils import is_address, to_checksum_address
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import get_session
from api.errors import ApiError, not_found
from core.units import format_units
from registry import queries

router = APIRouter(prefix="/v1", tags=["registry (indexed)"])

T = TypeVar("T")

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=2**63 - 1)]
OptId = Annotated[int | None, Query(ge=1, le=2**63 - 1)]
SessionDep = Annotated[Session, Depends(get_session)]

MethodologyStatus = Literal["registered", "approved", "rejected", "deprecated"]
ProjectStatus = Literal["registered", "validated", "approved", "rejected"]
ReportStatus = Literal["pending", "attested", "verified", "rejected"]
TransferKind = Literal["mint", "transfer", "burn"]
Purpose = Literal["voluntary", "compliance", "ecological_compensation", "carbon_inclusive"]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class MethodologyOut(BaseModel):
    id: int
    code: str
    name: str
    document_hash: str
    parameters_hash: str
    buffer_bps: int
    registrant: str
    status: MethodologyStatus
    status_reason_hash: str | None
    tx_hash: str
    block_number: int


class LocationOut(BaseModel):
    division_code: int
    latitude_e6: int
    longitude_e6: int
    latitude: str
    longitude: str
    area_m2: int
    boundary_hash: str


class ProjectOut(BaseModel):
    id: int
    name: str
    developer: str
    methodology_id: int
    location: LocationOut
    crediting_start: int
    crediting_end: int
    document_hash: str
    status: ProjectStatus
    validator: str | None
    status_evidence_hash: str | None
    tx_hash: str
    block_number: int


class AttestationOut(BaseModel):
    node: str
    digest: str
    merkle_root: str
    quantity_units: int | None
    quantity: str | None
    report_hash: str
    votes: int
    agrees: bool | None
    tx_hash: str
    block_number: int


class ReportOut(BaseModel):
    id: int
    project_id: int
    period_start: int
    period_end: int
    status: ReportStatus
    submissions: int
    merkle_root: str | None
    report_hash: str | None
    attested_quantity_units: int | None
    attested_quantity: str | None
    votes: int | None
    verified_quantity_units: int | None
    verified_quantity: str | None
    verifier: str | None
    verification_hash: str | None
    rejection_hash: str | None
    batch_id: int | None
    tx_hash: str
    block_number: int


class ReportDetailOut(ReportOut):
    attestations: list[AttestationOut]


class BatchOut(BaseModel):
    id: int
    project_id: int
    report_id: int
    developer: str
    issued_units: int
    issued: str
    buffer_units: int
    buffer: str
    buffer_pool_units: int
    buffer_pool: str
    retired_units: int
    retired: str
    cancelled_units: int
    cancelled: str
    frozen: bool
    period_start: int
    period_end: int
    tx_hash: str
    block_number: int
    block_timestamp: int


class HolderOut(BaseModel):
    address: str
    amount_units: int
    amount: str
    buffer_pool: bool


class BalanceOut(BaseModel):
    batch_id: int
    project_id: int
    amount_units: int
    amount: str
    frozen: bool
    period_start: int
    period_end: int


class TransferOut(BaseModel):
    block_number: int
    log_index: int
    seq: int
    tx_hash: str
    kind: TransferKind
    batch_id: int
    from_address: str
    to_address: str
    amount_units: int
    amount: str
    operator: str
    block_timestamp: int


class RetirementOut(BaseModel):
    id: int
    batch_id: int
    holder: str
    amount_units: int
    amount: str
    serial_start: int
    serial_end: int
    purpose: Purpose
    beneficiary: str
    case_reference: str
    tx_hash: str
    block_number: int
    block_timestamp: int


class IndexStatusOut(BaseModel):
    chain_id: int | None
    registry_address: str | None
    next_block: int | None
    indexed_to_block: int | None
    head_block: int | None
    index_lag: int | None
    events: int
    invariant_violations: list[str] | None = None


# -- shaping -------------------------------------------------------------------------------


def _tonnes(row: dict[str, Any], *names: str) -> dict[str, Any]:
    """Renames each quantity `name` to `name_units` and adds `name` as a tonne string."""
    out = dict(row)
    for name in names:
        units = out.pop(name)
        out[f"{name}_units"] = units
        out[name] = None if units is None else format_units(int(units))
    return out


def _degrees(e6: int) -> str:
    return format(Decimal(e6).scaleb(-6).normalize(), "f")


def _project(row: dict[str, Any]) -> ProjectOut:
    loc_keys = ("division_code", "latitude_e6", "longitude_e6", "area_m2", "boundary_hash")
    loc = {k: row.pop(k) for k in loc_keys}
    location = LocationOut(
        **loc, latitude=_degrees(loc["latitude_e6"]), longitude=_degrees(loc["longitude_e6"])
    )
    return ProjectOut(**row, location=location)


def _report(row: dict[str, Any]) -> dict[str, Any]:
    return _tonnes(row, "attested_quantity", "verified_quantity")


def _batch(row: dict[str, Any]) -> BatchOut:
    return BatchOut(**_tonnes(row, "issued", "buffer", "buffer_pool", "retired", "cancelled"))


def _address(value: str, what: str = "address") -> str:
    if not is_address(value):
        raise ApiError(422, "invalid_address", f"{what} is not a 20-byte hex address: {value!r}")
    return to_checksum_address(value)


def _opt_address(value: str | None, what: str) -> str | None:
    return None if value is None else _address(value, what)


def _page(page: queries.Page, shape: Any) -> dict[str, Any]:
    return {**page, "items": [shape(r) for r in page["items"]]}


# -- routes --------------------------------------------------------------------------------


@router.get("/methodologies", response_model=Page[MethodologyOut])
def list_methodologies(
    session: SessionDep,
    status: MethodologyStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    page = queries.list_methodologies(session, status=status, limit=limit, offset=offset)
    return _page(page, MethodologyOut.model_validate)


@router.get("/methodologies/{methodology_id}", response_model=MethodologyOut)
def get_methodology(methodology_id: Id, session: SessionDep) -> MethodologyOut:
    row = queries.get_methodology(session, methodology_id)
    if row is None:
        raise not_found("methodology", methodology_id)
    return MethodologyOut.model_validate(row)


@router.get("/projects", response_model=Page[ProjectOut])
def list_projects(
    session: SessionDep,
    status: ProjectStatus | None = None,
    developer: str | None = None,
    methodology_id: OptId = None,
    division_code: Annotated[int | None, Query(ge=1, le=2**32 - 1)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    page = queries.list_projects(
        session,
        status=status,
        developer=_opt_address(developer, "developer"),
        methodology_id=methodology_id,
        division_code=division_code,
        limit=limit,
        offset=offset,
    )
    return _page(page, _project)


@router.get("/projects/{project_id}", response_model=ProjectOut)
def get_project(project_id: Id, session: SessionDep) -> ProjectOut:
    row = queries.get_project(session, project_id)
    if row is None:
        raise not_found("project", project_id)
    return _project(row)


@router.get("/reports", response_model=Page[ReportOut])
def list_reports(
    session: SessionDep,
    project_id: OptId = None,
    status: ReportStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    page = queries.list_reports(
        session, project_id=project_id, status=status, limit=limit, offset=offset
    )
    return _page(page, _report)


@router.get("/reports/{report_id}", response_model=ReportDetailOut)
def get_report(report_id: Id, session: SessionDep) -> dict[str, Any]:
    """A report with every oracle node's submission; `agrees` is false for a node whose
    (root, quantity, report hash) differs from the attested one."""
    row = queries.get_report(session, report_id)
    if row is None:
        raise not_found("report", report_id)
    row["attestations"] = [_tonnes(a, "quantity") for a in row["attestations"]]
    return _report(row)


@router.get("/batches", response_model=Page[BatchOut])
def list_batches(
    session: SessionDep,
    project_id: OptId = None,
    developer: str | None = None,
    frozen: bool | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    page = queries.list_batches(
        session,
        project_id=project_id,
        developer=_opt_address(developer, "developer"),
        frozen=frozen,
        limit=limit,
        offset=offset,
    )
    return _page(page, _batch)


@router.get("/batches/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: Id, session: SessionDep) -> BatchOut:
    row = queries.get_batch(session, batch_id)
    if row is None:
        raise not_found("batch", batch_id)
    return _batch(row)


@router.get("/batches/{batch_id}/holders", response_model=Page[HolderOut])
def batch_holders(
    batch_id: Id, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    if queries.get_batch(session, batch_id) is None:
        raise not_found("batch", batch_id)
    page = queries.batch_holders(session, batch_id, limit=limit, offset=offset)
    return _page(page, lambda r: _tonnes(r, "amount"))


@router.get("/accounts/{address}/balances", response_model=Page[BalanceOut])
def account_balances(
    address: str, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> dict[str, Any]:
    page = queries.account_balances(session, _address(address), limit=limit, offset=offset)
    return _page(page, lambda r: _tonnes(r, "amount"))


@router.get("/transfers", response_model=Page[TransferOut])
def list_transfers(
    session: SessionDep,
    address: str | None = None,
    batch_id: OptId = None,
    kind: TransferKind | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Credit movements, newest first; `address` matches sender or recipient."""
    page = queries.list_transfers(
        session,
        address=_opt_address(address, "address"),
        batch_id=batch_id,
        kind=kind,
        limit=limit,
        offset=offset,
    )
    return _page(page, lambda r: _tonnes(r, "amount"))


@router.get("/retirements", response_model=Page[RetirementOut])
def list_retirements(
    session: SessionDep,
    holder: str | None = None,
    batch_id: OptId = None,
    purpose: Purpose | None = None,
    case_reference: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Retirements, newest first, by holder, batch, purpose or case reference."""
    page = queries.list_retirements(
        session,
        holder=_opt_address(holder, "holder"),
        batch_id=batch_id,
        purpose=purpose,
        case_reference=case_reference,
        limit=limit,
        offset=offset,
    )
    return _page(page, lambda r: _tonnes(r, "amount"))


@router.get("/index/status", response_model=IndexStatusOut)
def index_status(
    request: Request, session: SessionDep, invariants: bool = False
) -> dict[str, Any]:
    """How far the index is behind the chain (in blocks) and, with `invariants=true`, what the
    SQL invariant checks find (an empty list means every batch balances)."""
    head: int | None = None
    ledger = getattr(request.app.state, "ledger", None)
    if ledger is not None:
        try:
            head = int(ledger.chain.w3.eth.block_number)
        except Exception:  # the node is down: report the head the indexer last saw
            head = None
    status = queries.index_status(session, head)
    if invariants:
        status["invariant_violations"] = queries.sql_invariants(session)
    return status
