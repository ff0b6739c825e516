"""Public forest-ticket retirement records, certificates and their verification, all read from
the chain (林业碳票注销证明).

Like the credit retirements' routes (api.routes.certificates), no API key is needed: a
certificate is shown to and checked by anyone. A certificate comes as a page (`/certificate`)
and a one-page A4 PDF (`/certificate.pdf`); its QR code opens the bilingual verification page
(`/verify.html`) with the paper's claims in the query, and programs verify with the same query
as JSON (`/verify`). Ticket retirement ids are ForestTickets' own, apart from credits'.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.certificate import PURPOSE_BY_KEY
from api.certificate_checks import ClaimProblem, render_verification
from api.deps import SettingsDep, ViewDep
from api.errors import ApiError
from api.fields import MAX_ID, PathId
from api.pages import html_page, pdf_response
from api.ticket_certificate import (
    TicketRetirementFacts,
    certificate_number,
    read_ticket_retirement,
    render_ticket_certificate,
    ticket_retirement_json,
)
from api.ticket_certificate_checks import (
    VERIFY_PARAMS,
    parse_ticket_claims,
    ticket_verification_page,
    verify_ticket_retirement,
)

router = APIRouter(prefix="/v1/tickets/retirements", tags=["forest tickets and pledges"])

Text = Annotated[str | None, Query(max_length=1024)]
Amount = Annotated[str | None, Query(max_length=64, description="tonnes")]
Serial = Annotated[str | None, Query(max_length=64)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Short = Annotated[str | None, Query(max_length=64)]
Hash = Annotated[str | None, Query(max_length=80)]


def _facts(view: ViewDep, retirement_id: int) -> TicketRetirementFacts:
    facts = read_ticket_retirement(view, retirement_id)
    if facts is None:
        raise ApiError(404, "ticket_retirement_not_found",
                       f"the chain has no forest-ticket retirement {retirement_id}",
                       {"retirement_id": retirement_id})
    return facts


@router.get("/{retirement_id}")
def get_ticket_retirement(retirement_id: PathId, view: ViewDep,
                          settings: SettingsDep) -> dict[str, Any]:
    """A forest-ticket retirement as the chain records it (the `TicketRetired` event, checked
    by ForestTickets.verifyRetirement: `verified`): holder (with its roster name), ticket, slot
    and serials, beneficiary, purpose, case reference and the compensation order it counted
    toward, transaction and block time, and the parcel (forest-right certificate number,
    division code and name, area, monitoring period)."""
    return ticket_retirement_json(_facts(view, retirement_id), view, settings)


@router.get("/{retirement_id}/certificate", response_class=HTMLResponse)
def ticket_certificate(retirement_id: PathId, view: ViewDep,
                       settings: SettingsDep) -> HTMLResponse:
    """The bilingual (中文/English) forest-ticket retirement certificate, one A4 page when
    printed, with a QR code that opens its verification page carrying what it states."""
    return html_page(render_ticket_certificate(_facts(view, retirement_id), view, settings))


@router.get(
    "/{retirement_id}/certificate.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}},
               503: {"description": "`pdf_unavailable`: no Chromium to print with now"}},
)
def ticket_certificate_pdf(retirement_id: PathId, view: ViewDep,
                           settings: SettingsDep) -> Response:
    """The certificate as a one-page A4 PDF, printed by headless Chromium from the same page;
    503 `pdf_unavailable` (details.reason) when Chromium is missing, busy or failing."""
    html = render_ticket_certificate(_facts(view, retirement_id), view, settings)
    return pdf_response(html, settings, f"{certificate_number(retirement_id)}.pdf")


def _refuse(problem: ClaimProblem) -> ApiError:
    details: dict[str, Any] = {problem.name: problem.value}
    if problem.code == "invalid_purpose":
        details["allowed"] = sorted(PURPOSE_BY_KEY)
    return ApiError(422, problem.code, problem.message, details)


@router.get("/{retirement_id}/verify")
def verify_ticket(
    retirement_id: PathId,
    view: ViewDep,
    settings: SettingsDep,
    holder: Short = None,
    token_id: IdQuery = None,
    slot: IdQuery = None,
    amount: Amount = None,
    serial_start: Serial = None,
    serial_end: Serial = None,
    purpose: Short = None,
    beneficiary: Text = None,
    case_reference: Text = None,
    tx_hash: Hash = None,
    beneficiary_hash: Hash = None,
    case_reference_hash: Hash = None,
) -> dict[str, Any]:
    """Re-reads the ticket retirement from the chain and checks it (ForestTickets
    .verifyRetirement on the event's record, the event in a successful receipt, serials the
    slot consumed, contract code as deployed). Any claim given as a query parameter (as printed
    on a paper certificate) is checked too; all eight fields of the record together are also
    checked by the contract itself (`paper_record`)."""
    claims, problems = parse_ticket_claims({
        "holder": holder, "token_id": token_id, "slot": slot, "amount": amount,
        "serial_start": serial_start, "serial_end": serial_end, "purpose": purpose,
        "beneficiary": beneficiary, "case_reference": case_reference, "tx_hash": tx_hash,
        "beneficiary_hash": beneficiary_hash, "case_reference_hash": case_reference_hash,
    })
    if problems:
        raise _refuse(problems[0])
    facts = _facts(view, retirement_id)
    checks = verify_ticket_retirement(view, facts, claims)
    return {
        "valid": all(c.ok for c in checks),
        "checks": [c.as_json() for c in checks],
        "retirement": ticket_retirement_json(facts, view, settings),
    }


@router.get("/{retirement_id}/verify.html", response_class=HTMLResponse)
def verify_ticket_page(retirement_id: PathId, request: Request, view: ViewDep,
                       settings: SettingsDep) -> HTMLResponse:
    """The verification as a bilingual page for people, where the certificate's QR code leads:
    each line the paper states, what the chain records and pass or fail, then the chain's own
    checks. Malformed claims are failed lines, not errors; an unknown retirement is a page
    too (404)."""
    query = {k: v[:1024] for k, v in request.query_params.items() if k in VERIFY_PARAMS}
    claims, problems = parse_ticket_claims(query)
    facts = read_ticket_retirement(view, retirement_id)
    checks = verify_ticket_retirement(view, facts, claims) if facts is not None else []
    page = ticket_verification_page(settings, retirement_id, facts, claims, problems, checks)
    return html_page(render_verification(page), status=200 if page.found else 404)
