"""Public retirement records, certificates and their verification, all read from the chain.

No API key is needed: a certificate is meant to be shown to and checked by anyone (a court, an
auditor, the public) without trusting the registry's database. A certificate comes as a page
(`/certificate`) and as a one-page A4 PDF (`/certificate.pdf`); its QR code opens the bilingual
verification page (`/verify.html`) with the paper's claims in the query, and programs verify
with the same query as JSON (`/verify`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.certificate import (
    PURPOSE_BY_KEY,
    RetirementFacts,
    read_retirement,
    render_certificate,
    retirement_json,
)
from api.certificate_checks import (
    ClaimProblem,
    parse_claims,
    render_verification,
    verification_page,
    verify_retirement,
)
from api.deps import SettingsDep, ViewDep
from api.errors import ApiError, not_found
from api.fields import MAX_ID, PathId
from api.pages import html_page, pdf_response

router = APIRouter(prefix="/v1/retirements", tags=["certificates"])

# The query of a verification, as a paper certificate (or its QR code) states it.
Beneficiary = Annotated[str | None, Query(max_length=1024)]
Amount = Annotated[str | None, Query(max_length=64, description="tonnes")]
Serial = Annotated[str | None, Query(max_length=64)]
BatchId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Short = Annotated[str | None, Query(max_length=64)]
Hash = Annotated[str | None, Query(max_length=80)]


def _facts(view: ViewDep, retirement_id: int) -> RetirementFacts:
    facts = read_retirement(view, retirement_id)
    if facts is None:
        raise not_found("retirement", retirement_id)
    return facts


@router.get("/{retirement_id}")
def get_retirement(retirement_id: PathId, view: ViewDep, settings: SettingsDep) -> dict[str, Any]:
    """A retirement as the chain records it: holder (with its name on the roster), serials,
    beneficiary, purpose, case reference, transaction and block time, and the batch and project
    (with its division's name) it came from."""
    return retirement_json(_facts(view, retirement_id), view, settings)


@router.get("/{retirement_id}/certificate", response_class=HTMLResponse)
def certificate(retirement_id: PathId, view: ViewDep, settings: SettingsDep) -> HTMLResponse:
    """The bilingual (中文/English) retirement certificate, one A4 page when printed, with a QR
    code that opens its verification page carrying what the certificate states."""
    return html_page(render_certificate(_facts(view, retirement_id), view, settings))


@router.get(
    "/{retirement_id}/certificate.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}},
               503: {"description": "`pdf_unavailable`: no Chromium to print with now"}},
)
def certificate_pdf(retirement_id: PathId, view: ViewDep, settings: SettingsDep) -> Response:
    """The certificate as a one-page A4 PDF, printed by headless Chromium from the same page;
    503 `pdf_unavailable` (details.reason) when Chromium is missing, busy or failing."""
    html = render_certificate(_facts(view, retirement_id), view, settings)
    return pdf_response(html, settings, f"TH-R{retirement_id:06d}.pdf")


def _refuse(problem: ClaimProblem) -> ApiError:
    details: dict[str, Any] = {problem.name: problem.value}
    if problem.code == "invalid_purpose":
        details["allowed"] = sorted(PURPOSE_BY_KEY)
    return ApiError(422, problem.code, problem.message, details)


@router.get("/{retirement_id}/verify")
def verify(
    retirement_id: PathId,
    view: ViewDep,
    settings: SettingsDep,
    beneficiary: Beneficiary = None,
    amount: Amount = None,
    serial_start: Serial = None,
    serial_end: Serial = None,
    batch_id: BatchId = None,
    holder: Short = None,
    purpose: Short = None,
    case_reference: Beneficiary = None,
    tx_hash: Hash = None,
    beneficiary_hash: Hash = None,
    case_reference_hash: Hash = None,
) -> dict[str, Any]:
    """Re-reads the retirement from the chain and checks it (event in a successful receipt,
    agreeing with the stored record, serials consumed by the batch, contract code as deployed).
    Any claim given as a query parameter (as printed on a paper certificate) is checked too;
    all seven fields of the record together are also checked by the contract itself
    (`paper_record`, CarbonCredits.verifyRetirement)."""
    claims, problems = parse_claims({
        "beneficiary": beneficiary, "amount": amount, "serial_start": serial_start,
        "serial_end": serial_end, "batch_id": batch_id, "holder": holder, "purpose": purpose,
        "case_reference": case_reference, "tx_hash": tx_hash,
        "beneficiary_hash": beneficiary_hash, "case_reference_hash": case_reference_hash,
    })
    if problems:
        raise _refuse(problems[0])
    facts = _facts(view, retirement_id)
    checks = verify_retirement(view, facts, claims)
    return {
        "valid": all(c.ok for c in checks),
        "checks": [c.as_json() for c in checks],
        "retirement": retirement_json(facts, view, settings),
    }


VERIFY_PARAMS = ("beneficiary", "amount", "serial_start", "serial_end", "batch_id", "holder",
                 "purpose", "case_reference", "tx_hash", "beneficiary_hash",
                 "case_reference_hash")


@router.get("/{retirement_id}/verify.html", response_class=HTMLResponse)
def verify_page(retirement_id: PathId, request: Request, view: ViewDep,
                settings: SettingsDep) -> HTMLResponse:
    """The verification as a bilingual page for people, where a certificate's QR code leads:
    each line the paper states (carried in the query, as for `/verify`), what the chain records
    and pass or fail, then the chain's own checks. Malformed claims are failed lines, not
    errors; an unknown retirement is a page too (404)."""
    query = {k: v[:1024] for k, v in request.query_params.items() if k in VERIFY_PARAMS}
    claims, problems = parse_claims(query)
    facts = read_retirement(view, retirement_id)
    checks = verify_retirement(view, facts, claims) if facts is not None else []
    page = verification_page(settings, retirement_id, facts, claims, problems, checks)
    return html_page(render_verification(page), status=200 if page.found else 404)

