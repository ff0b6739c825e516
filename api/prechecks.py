"""Checks against current chain state made before a transaction is signed.

They give precise, stable codes for the common refusals (unknown batch, not enough credits,
frozen account) and keep doomed transactions off the chain. They read the chain, never the
index. Anything they do not cover is still caught by simulating the call (a `chain_*` code).
"""

from __future__ import annotations

from api.errors import ApiError, not_found
from api.onchain import ChainView
from chain.structs import BatchView, Disturbance, Methodology, Project, Report
from core.units import format_units
from registry.ledger import DisturbanceStatus, MethodologyStatus, ProjectStatus, ReportStatus


def methodology(view: ChainView, methodology_id: int) -> Methodology:
    m = view.methodology(methodology_id)
    if m is None:
        raise not_found("methodology", methodology_id)
    return m


def methodology_in(view: ChainView, methodology_id: int, *allowed: MethodologyStatus) -> None:
    status = MethodologyStatus(methodology(view, methodology_id).status)
    if status not in allowed:
        raise ApiError(
            409,
            "invalid_methodology_status",
            f"methodology {methodology_id} is {status.name.lower()}",
            {"methodology_id": methodology_id, "status": status.name.lower(),
             "allowed": [s.name.lower() for s in allowed]},
        )


def project(view: ChainView, project_id: int) -> Project:
    p = view.project(project_id)
    if p is None:
        raise not_found("project", project_id)
    return p


def project_in(view: ChainView, project_id: int, *allowed: ProjectStatus) -> Project:
    p = project(view, project_id)
    status = ProjectStatus(p.status)
    if status not in allowed:
        raise ApiError(
            409,
            "invalid_project_status",
            f"project {project_id} is {status.name.lower()}",
            {"project_id": project_id, "status": status.name.lower(),
             "allowed": [s.name.lower() for s in allowed]},
        )
    return p


def report_in(view: ChainView, report_id: int, *allowed: ReportStatus) -> Report:
    r = view.report(report_id)
    if r is None:
        raise not_found("report", report_id)
    status = ReportStatus(r.status)
    if status not in allowed:
        raise ApiError(
            409,
            "invalid_report_status",
            f"report {report_id} is {status.name.lower()}",
            {"report_id": report_id, "status": status.name.lower(),
             "allowed": [s.name.lower() for s in allowed]},
        )
    return r


def batch(view: ChainView, batch_id: int) -> BatchView:
    b = view.batch(batch_id)
    if b is None:
        raise not_found("batch", batch_id)
    return b


def confirmed_disturbance(view: ChainView, disturbance_id: int) -> Disturbance:
    """A disturbance a verifier confirmed: the only ground for cancelling buffer credits."""
    count = int(view.chain.call(view.ledger.c("DisturbanceReports").functions.disturbanceCount()))
    if not 0 < disturbance_id <= count:
        raise not_found("disturbance", disturbance_id)
    d = view.ledger.disturbance(disturbance_id)
    status = DisturbanceStatus(d.status)
    if status != DisturbanceStatus.CONFIRMED:
        raise ApiError(409, "invalid_disturbance_status",
                       f"disturbance {disturbance_id} is {status.name.lower()}, not confirmed",
                       {"disturbance_id": disturbance_id, "status": status.name.lower()})
    return d


def movable_batch(view: ChainView, batch_id: int) -> BatchView:
    b = batch(view, batch_id)
    if b.frozen:
        raise ApiError(409, "batch_frozen", f"batch {batch_id} is frozen by the regulator",
                       {"batch_id": batch_id})
    return b


def holder_not_frozen(view: ChainView, address: str) -> None:
    if view.is_frozen(address):
        raise ApiError(409, "account_frozen", f"account {address} is frozen by the regulator",
                       {"address": address})


def recipient(view: ChainView, address: str) -> None:
    if not view.is_member(address):
        raise ApiError(409, "recipient_not_member",
                       f"{address} is not an admitted member and cannot hold credits",
                       {"to": address})
    if view.is_frozen(address):
        raise ApiError(409, "recipient_frozen", f"recipient {address} is frozen",
                       {"to": address})


def balance(view: ChainView, address: str, batch_id: int, amount: int) -> None:
    held = view.balance(address, batch_id)
    if held < amount:
        raise ApiError(
            409,
            "insufficient_balance",
            f"holds {format_units(held)} t of batch {batch_id}, {format_units(amount)} t requested",
            {"batch_id": batch_id, "available_units": held, "available": format_units(held),
             "requested_units": amount, "requested": format_units(amount)},
        )


def member(view: ChainView, address: str) -> None:
    if not view.is_member(address):
        raise ApiError(409, "account_not_member", f"{address} is not an admitted member",
                       {"address": address})


def parcel_free(view: ChainView, certificate: str, project_id: int) -> None:
    """A forest-right certificate may join project `project_id`: no other non-rejected project
    holds it over an overlapping crediting period (ProjectRegistry's rule, read first so the
    refusal names the other project)."""
    mine = project(view, project_id)
    for other_id in view.ledger.projects_of_parcel(certificate):
        if other_id == project_id:
            continue
        other = project(view, other_id)
        if ProjectStatus(other.status) == ProjectStatus.REJECTED:
            continue
        if other.crediting_start < mine.crediting_end and \
                mine.crediting_start < other.crediting_end:
            raise ApiError(409, "parcel_in_other_project",
                           f"forest-right certificate {certificate} is project {other_id}'s "
                           "over overlapping years: a parcel is counted in one project only",
                           {"rights_certificate": certificate, "project_id": other_id})

