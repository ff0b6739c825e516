"""Monitoring data and its proofs (Flow 3, 7 and 12): submit data files for a project's period,
see how every record was judged, follow a report's attestations on chain, fetch the Merkle proof
of any accepted record and check it against the root the oracle nodes attested.

Submitted files go through the oracle inbox (oracle/inbox.py, the same door as `tanhui oracle
ingest`), which the oracle nodes read; the API validates a file before storing it and reports
per-record reasons, but only the nodes attest. Every tonne is counted once (oracle.intake): a
device key belongs to one project, and a signed reading counted for one project's period is
refused for any other. Proofs are computed from the same files and are checked by the
MonitoringReports contract itself (`verifyRecord`), not by this server.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, field_validator

from api import prechecks
from api.auth import CallerDep, require_role
from api.deps import InboxDep, SessionDep, ViewDep, WriterDep
from api.errors import ApiError, not_found
from api.fields import STRICT, NonZeroHash32, PathId, Tonnes, b32
from api.limits import MAX_UPLOAD_BYTES
from api.onchain import ChainView
from api.schemas import TxOut, tx
from chain.structs import Disturbance, Project, Report
from oracle.devices import DeviceRegistry
from oracle.inbox import FILE_NAME, checked_period
from oracle.proofs import RecordProof
from oracle.report import ReportError
from registry.ledger import DisturbanceKind, DisturbanceStatus, ProjectStatus, ReportStatus

router = APIRouter(prefix="/v1/oracle", tags=["monitoring data and proofs"])

MAX_FILE_BYTES = MAX_UPLOAD_BYTES
MAX_PAGE = 1_000


# -- models -----------------------------------------------------------------------------------


class SpecIn(BaseModel):
    """How the project is monitored, plus its registered devices (public keys)."""

    model_config = STRICT

    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
    calculator: Literal["blue_carbon", "forest_increment", "kelp", "shellfish"]
    area_ha: Annotated[str, Field(pattern=r"^[0-9]{1,7}(\.[0-9]{1,6})?$")]
    ecosystem: Literal["mangrove", "salt_marsh", "seagrass"] = "mangrove"
    # the class of the scenes' `area_ha.<class>` columns that measures the project's
    # ecosystem; by default the ecosystem's own name (seagrass → area_ha.seagrass)
    land_class: str | None = Field(default=None, pattern=r"^[a-z_]{1,32}$")
    baseline_until: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    minimum_deduction_percent: Annotated[
        str, Field(pattern=r"^[0-9]{1,2}(\.[0-9]{1,4})?$")
    ] = "0"
    # the mariculture calculators' overridable factors (decimal strings, each within its
    # published bounds) and the components they credit; the report's spec parser checks both
    factors: dict[str, Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=16)
    components: list[Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")]] | None = Field(
        default=None, max_length=8)
    devices: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000)

    @field_validator("area_ha")
    @classmethod
    def _positive(cls, v: str) -> str:
        if Decimal(v) <= 0:
            raise ValueError("area_ha must be positive")
        return v


class SpecOut(BaseModel):
    project_id: int
    spec: dict[str, Any]
    devices: int


class FileOut(BaseModel):
    project_id: int
    period_start: int
    period_end: int
    file: str
    kind: str
    total: int
    accepted: int
    rejected: int
    by_reason: dict[str, int]
    rejections: list[dict[str, Any]]


class PeriodOut(BaseModel):
    project_id: int
    period_start: int
    period_end: int
    files: list[dict[str, Any]]
    counts: dict[str, Any]
    records: int
    merkle_root: str
    quantity_units: int
    report_hash: str
    report: dict[str, Any]
    rejections: list[dict[str, Any]]
    rejections_total: int
    report_id: int
    report_status: str


class AttestationOut(BaseModel):
    node: str
    digest: str
    merkle_root: str
    quantity_units: int
    report_hash: str
    agrees: bool | None
    tx_hash: str
    block: int


class AttestationsOut(BaseModel):
    report_id: int
    project_id: int
    period_start: int
    period_end: int
    status: str
    threshold: int
    submissions: int
    merkle_root: str | None
    attestations: list[AttestationOut]


class ProofOut(BaseModel):
    report_id: int
    record: str
    leaf: str
    proof: list[str]
    root: str
    verified_on_chain: bool


class VerifyRecordIn(BaseModel):
    model_config = STRICT

    record: str = Field(min_length=2, max_length=65_536)
    proof: list[NonZeroHash32] = Field(max_length=64)


class VerifyRecordOut(BaseModel):
    report_id: int
    verified_on_chain: bool
    root: str


class ConfirmIn(BaseModel):
    model_config = STRICT

    confirmed_loss: Tonnes
    statement_hash: NonZeroHash32


class CancelIn(BaseModel):
    model_config = STRICT

    batch_id: int = Field(ge=1, le=2**63 - 1)
    amount: Tonnes


class DisturbanceOut(BaseModel):
    disturbance_id: int
    project_id: int
    kind: str
    occurred_at: int
    status: str
    submissions: int
    attested_loss_units: int
    confirmed_loss_units: int
    applied_loss_units: int
    evidence_hash: str


# -- helpers ----------------------------------------------------------------------------------


def _may_submit(view: Any, caller: Any, project: Project) -> None:
    """The project's developer, the registry operator or an oracle node may submit data."""
    if project.developer.lower() == caller.address.lower():
        require_role(view, caller, "MEMBER")
        return
    require_role(view, caller, "REGISTRY_OPERATOR", "ORACLE")


async def _read_file(request: Request) -> bytearray:
    """The uploaded file, refused as soon as it passes MAX_FILE_BYTES (the edge middleware
    counts the same bytes; this keeps the route safe on its own)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_FILE_BYTES:
            raise ApiError(413, "file_too_large", f"files are at most {MAX_FILE_BYTES} bytes",
                           {"max_bytes": MAX_FILE_BYTES})
    return data  # not copied: a file may be 64 MiB


def _bytes(v: Any) -> bytes:
    """Event arguments come decoded as 0x-hex; contract calls return bytes."""
    return bytes.fromhex(v[2:]) if isinstance(v, str) else bytes(v)


def _hex(v: Any) -> str:
    return "0x" + _bytes(v).hex()


def _report_of(view: ChainView, report_id: int) -> Report:
    r = view.report(report_id)
    if r is None:
        raise not_found("report", report_id)
    return r


# -- routes: data -----------------------------------------------------------------------------


@router.put("/projects/{project_id}/spec", response_model=SpecOut)
def put_spec(project_id: PathId, body: SpecIn, caller: CallerDep, view: ViewDep,
             inbox: InboxDep, session: SessionDep) -> dict[str, Any]:
    """Sets how a project is monitored (calculator and its inputs) and its device registry.
    A device key already registered for another project is refused
    (`409 device_registered_elsewhere`). The project's developer or the registry operator."""
    p = prechecks.project_in(view, project_id, ProjectStatus.APPROVED, ProjectStatus.VALIDATED,
                             ProjectStatus.REGISTERED)
    if p.developer.lower() != caller.address.lower():
        require_role(view, caller, "REGISTRY_OPERATOR")
    try:
        registry = DeviceRegistry.from_json({"project": body.code, "devices": body.devices})
    except (ReportError, ValueError) as exc:
        raise ApiError(422, "invalid_spec", str(exc)) from None
    spec = inbox.install(session, project_id,
                         body.model_dump(exclude={"devices"}, exclude_none=True), registry)
    return {"project_id": project_id, "spec": spec.to_json(), "devices": len(registry.devices)}


@router.put("/projects/{project_id}/periods/{period_start}/{period_end}/files/{name}",
            response_model=FileOut, status_code=201)
async def put_file(project_id: PathId, period_start: int, period_end: int, name: str,
                   request: Request, caller: CallerDep, view: ViewDep,
                   inbox: InboxDep, session: SessionDep) -> dict[str, Any]:
    """Submits one data file (CSV or JSON; the name says the kind: readings…, scenes…,
    lab-samples… or cores…, plots…) for a project's period. The file is validated at once —
    every record accepted or rejected with its reason — and stored for the oracle nodes.
    Refused once the period's report is attested, and refused whole if an accepted reading was
    already counted for another project or period (`409 reading_counted_elsewhere`).
    Developer, registry operator or oracle."""
    period = checked_period(period_start, period_end)
    if not re.match(FILE_NAME, name):
        raise ApiError(422, "invalid_file_name", "file names are letters, digits, . _ - and end "
                       "in .csv or .json", {"name": name})
    p = prechecks.project(view, project_id)
    _may_submit(view, caller, p)
    body = await _read_file(request)
    stored = inbox.submit(session, project_id, period, name, body, view.latest_timestamp())
    return stored.summary(max_rejections=MAX_PAGE)


@router.get("/projects/{project_id}/periods/{period_start}/{period_end}",
            response_model=PeriodOut)
def get_period(project_id: PathId, period_start: int, period_end: int, view: ViewDep,
               inbox: InboxDep,
               offset: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> dict[str, Any]:
    """The period's monitoring report as the oracle nodes compute it: files, counts per kind
    and reason, every rejected record with its reason (paged), root, quantity and report hash,
    and the report's status on chain."""
    period = checked_period(period_start, period_end)
    prechecks.project(view, project_id)
    report = inbox.report(project_id, period, view.latest_timestamp())
    rejections = report.rejections()
    report_id = view.ledger.report_of(project_id, period.start, period.end)
    status = "none"
    if report_id:
        status = ReportStatus(_report_of(view, report_id).status).name.lower()
    return {
        "project_id": project_id, "period_start": period.start, "period_end": period.end,
        "files": report.summary()["files"], "counts": report.counts(),
        "records": len(report.tree), "merkle_root": _hex(report.root),
        "quantity_units": report.quantity_units, "report_hash": _hex(report.report_hash),
        "report": report.summary(), "rejections": rejections[offset:offset + limit],
        "rejections_total": len(rejections), "report_id": report_id, "report_status": status,
    }


# -- routes: reports on chain -----------------------------------------------------------------


@router.get("/reports/{report_id}/attestations", response_model=AttestationsOut)
def get_attestations(report_id: PathId, view: ViewDep) -> dict[str, Any]:
    """Every node's submission for a report, read from the chain: agreeing or not."""
    r = _report_of(view, report_id)
    status = ReportStatus(r.status)
    root = r.merkle_root
    attested_digest = None
    events = view.logs_by_id("MonitoringReports", "AttestationSubmitted", report_id)
    if status in (ReportStatus.ATTESTED, ReportStatus.VERIFIED):
        from eth_abi import encode

        from oracle.keccak import keccak256

        attested_digest = keccak256(encode(["bytes32", "uint256", "bytes32"], [
            root, r.attested_quantity, r.report_hash]))
    out = []
    for ev in events:
        a = ev.args
        digest = _bytes(a["digest"])
        out.append({
            "node": a["node"], "digest": _hex(digest), "merkle_root": _hex(a["merkleRoot"]),
            "quantity_units": int(a["quantity"]), "report_hash": _hex(a["reportHash"]),
            "agrees": None if attested_digest is None else digest == attested_digest,
            "tx_hash": ev.tx_hash, "block": ev.block_number,
        })
    threshold = int(view.ledger.chain.call(
        view.ledger.c("MonitoringReports").functions.threshold()))
    return {"report_id": report_id, "project_id": r.project_id,
            "period_start": r.period_start, "period_end": r.period_end,
            "status": status.name.lower(), "threshold": threshold,
            "submissions": r.submissions,
            "merkle_root": _hex(root) if any(root) else None, "attestations": out}


@router.get("/reports/{report_id}/proof", response_model=ProofOut)
def get_proof(report_id: PathId, view: ViewDep, inbox: InboxDep,
              file: Annotated[str, Query(pattern=FILE_NAME)],
              position: Annotated[int, Query(ge=0, le=10**9)]) -> dict[str, Any]:
    """The Merkle proof of one accepted record (by file and 0-based position in it), checked
    against the attested root by the contract."""
    _report_of(view, report_id)  # 404 for a report that does not exist
    proof = inbox.prove(report_id, file, position, view.latest_timestamp())
    ok = view.ledger.verify_record(report_id, proof.record, list(proof.proof))
    return {"report_id": report_id, **proof.to_json(), "verified_on_chain": ok}


@router.post("/reports/{report_id}/verify-record", response_model=VerifyRecordOut)
def verify_record(report_id: PathId, body: VerifyRecordIn, view: ViewDep) -> dict[str, Any]:
    """Checks a record and its proof against the report's attested root, on chain: anyone can
    hold a reading and its proof and ask the contract, without trusting this server's data."""
    r = _report_of(view, report_id)
    if ReportStatus(r.status) not in (ReportStatus.ATTESTED, ReportStatus.VERIFIED):
        raise ApiError(409, "report_not_attested", "only attested reports have a root",
                       {"status": ReportStatus(r.status).name.lower()})
    proof = RecordProof(body.record.encode(), b"", tuple(b32(p) for p in body.proof), b"")
    ok = view.ledger.verify_record(report_id, proof.record, list(proof.proof))
    return {"report_id": report_id, "verified_on_chain": ok, "root": _hex(r.merkle_root)}


# -- routes: disturbances ---------------------------------------------------------------------


def _disturbance(view: ChainView, disturbance_id: int) -> Disturbance:
    if not 0 < disturbance_id <= int(view.ledger.chain.call(
            view.ledger.c("DisturbanceReports").functions.disturbanceCount())):
        raise not_found("disturbance", disturbance_id)
    return view.ledger.disturbance(disturbance_id)


def _disturbance_out(disturbance_id: int, d: Disturbance) -> dict[str, Any]:
    return {"disturbance_id": disturbance_id, "project_id": d.project_id,
            "kind": DisturbanceKind(d.kind).name.lower(), "occurred_at": d.occurred_at,
            "status": DisturbanceStatus(d.status).name.lower(),
            "submissions": d.submissions, "attested_loss_units": d.attested_loss,
            "confirmed_loss_units": d.confirmed_loss,
            "applied_loss_units": d.applied_loss, "evidence_hash": _hex(d.evidence_hash)}


@router.get("/disturbances/{disturbance_id}", response_model=DisturbanceOut)
def get_disturbance(disturbance_id: PathId, view: ViewDep) -> dict[str, Any]:
    """A disturbance as the chain records it: attested, confirmed and applied losses."""
    return _disturbance_out(disturbance_id, _disturbance(view, disturbance_id))


@router.post("/disturbances/{disturbance_id}/confirm", response_model=TxOut)
def confirm_disturbance(disturbance_id: PathId, body: ConfirmIn, caller: CallerDep,
                        view: ViewDep, writer: WriterDep) -> dict[str, Any]:
    """Confirms the loss of an attested disturbance (at most the attested loss). Verifier."""
    require_role(view, caller, "VERIFIER")
    d = _disturbance(view, disturbance_id)
    if DisturbanceStatus(d.status) != DisturbanceStatus.ATTESTED:
        raise ApiError(409, "invalid_disturbance_status",
                       f"disturbance {disturbance_id} is "
                       f"{DisturbanceStatus(d.status).name.lower()}")
    if body.confirmed_loss > d.attested_loss:
        raise ApiError(409, "loss_above_attested", "the confirmed loss exceeds the attested loss",
                       {"attested_loss_units": d.attested_loss})
    sent = writer.confirm_disturbance(caller.key(), disturbance_id, body.confirmed_loss,
                                      b32(body.statement_hash))
    return tx(sent)


@router.post("/disturbances/{disturbance_id}/cancel-buffer", response_model=TxOut)
def cancel_for_disturbance(disturbance_id: PathId, body: CancelIn, caller: CallerDep,
                           view: ViewDep, writer: WriterDep) -> dict[str, Any]:
    """Cancels buffer credits of a batch of the disturbed project against the confirmed loss,
    never more than the loss in total. Regulator."""
    require_role(view, caller, "REGULATOR")
    d = _disturbance(view, disturbance_id)
    if DisturbanceStatus(d.status) != DisturbanceStatus.CONFIRMED:
        raise ApiError(409, "invalid_disturbance_status",
                       f"disturbance {disturbance_id} is not confirmed")
    b = prechecks.batch(view, body.batch_id)
    if b.project_id != d.project_id:
        raise ApiError(409, "disturbance_of_other_project",
                       "the batch belongs to another project than the disturbance")
    remaining = d.confirmed_loss - d.applied_loss
    if body.amount > remaining:
        raise ApiError(409, "loss_exceeded", "the amount exceeds the confirmed loss not yet "
                       "applied", {"remaining_units": remaining})
    created = writer.cancel_buffer_for_disturbance(caller.key(), disturbance_id, body.batch_id,
                                                   body.amount)
    return tx(created.sent)
