"""The fulfilment certificate of a compensation order, public and read from the chain: the page,
its one-page A4 PDF, and its verification as JSON and as the bilingual page its QR code opens.

Its own module because the certificate is a job apart from the orders (api.routes.compensation):
it reads the order and its counted retirements from the chain (api.fulfilment) and checks a
paper's claims (api.fulfilment_checks), never the index.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.certificate_checks import render_verification
from api.deps import CompensationDep, SettingsDep, ViewDep
from api.errors import ApiError, not_found
from api.fields import PathId
from api.fulfilment import (
    OrderFacts,
    certificate_json,
    certificate_number,
    certificate_of,
    read_order,
    render_fulfilment_certificate,
)
from api.fulfilment_checks import (
    FULFILMENT_PARAMS,
    parse_fulfilment_claims,
    verification_page,
    verify_fulfilment,
)
from api.onchain import ChainView
from api.pages import html_page, pdf_response
from registry.compensation import Compensation

router = APIRouter(prefix="/v1/compensation", tags=["ecological compensation"])


def _facts(view: ChainView, comp: Compensation, order_id: int) -> OrderFacts:
    facts = read_order(view, comp, order_id)
    if facts is None:
        raise not_found("order", order_id)
    return facts


@router.get("/orders/{order_id}/certificate", response_class=HTMLResponse)
def fulfilment_certificate(order_id: PathId, view: ViewDep, comp: CompensationDep,
                           settings: SettingsDep) -> HTMLResponse:
    """The bilingual (中文/English) fulfilment certificate a court clerk files, one A4 page when
    printed: the case, the authority and parties by name, required and fulfilled, and every
    retirement counted toward the order (serials, batch, project and its division, holder,
    transaction, date), all read from the chain. Titled 履行证明 only once the order is
    fulfilled, 履行进度 (progress) before. Its QR code opens the verification page carrying
    what the certificate states."""
    facts = _facts(view, comp, order_id)
    return html_page(render_fulfilment_certificate(certificate_of(facts), settings))


@router.get(
    "/orders/{order_id}/certificate.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}},
               503: {"description": "`pdf_unavailable`: no Chromium to print with now"}},
)
def fulfilment_certificate_pdf(order_id: PathId, view: ViewDep, comp: CompensationDep,
                               settings: SettingsDep) -> Response:
    """The fulfilment certificate as a one-page A4 PDF, printed by headless Chromium from the
    same page; 503 `pdf_unavailable` (details.reason) when Chromium cannot print now."""
    html = render_fulfilment_certificate(certificate_of(_facts(view, comp, order_id)), settings)
    return pdf_response(html, settings, f"{certificate_number(order_id)}.pdf")


ClaimText = Annotated[str | None, Query(max_length=8192)]
ClaimShort = Annotated[str | None, Query(max_length=80)]


@router.get("/orders/{order_id}/verify")
def verify_fulfilment_certificate(
    order_id: PathId, view: ViewDep, comp: CompensationDep,
    case_number: ClaimText = None, case_number_hash: ClaimShort = None,
    unit: ClaimShort = None, required: ClaimShort = None, fulfilled: ClaimShort = None,
    retirements: ClaimText = None, retirements_hash: ClaimShort = None,
    retirement_count: ClaimShort = None, tickets: ClaimText = None,
    tickets_hash: ClaimShort = None, ticket_count: ClaimShort = None,
) -> dict[str, Any]:
    """Re-reads the order and every retirement counted toward it from the chain and checks
    them, with the claims of a paper certificate as query parameters (as its QR code carries
    them): `case_number`, `unit`, `required`, `fulfilled`, `retirements` (`id:tonnes` pairs,
    comma-separated) or `retirements_hash` with `retirement_count`, and the forest-ticket
    retirements the same way (`tickets`, or `tickets_hash` with `ticket_count`). Each claim is
    a line, each check of the chain too; `valid` only when every line passes. A malformed claim
    is 422."""
    claims, problems = parse_fulfilment_claims({
        "case_number": case_number, "case_number_hash": case_number_hash, "unit": unit,
        "required": required, "fulfilled": fulfilled, "retirements": retirements,
        "retirements_hash": retirements_hash, "retirement_count": retirement_count,
        "tickets": tickets, "tickets_hash": tickets_hash, "ticket_count": ticket_count,
    })
    if problems:
        p = problems[0]
        raise ApiError(422, p.code, p.message, {p.name: p.value})
    facts = _facts(view, comp, order_id)
    lines, checks = verify_fulfilment(view, facts, claims, [])
    return {
        "valid": all(x.ok for x in [*lines, *checks]),
        "claims": [x.as_json() for x in lines],
        "checks": [x.as_json() for x in checks],
        "order": certificate_json(certificate_of(facts)),
    }


@router.get("/orders/{order_id}/verify.html", response_class=HTMLResponse)
def verify_fulfilment_page(order_id: PathId, request: Request, view: ViewDep,
                           comp: CompensationDep, settings: SettingsDep) -> HTMLResponse:
    """The verification as a bilingual page for people, where the certificate's QR code leads:
    each line the paper states, what the chain records and pass or fail, then the chain's own
    checks of the order and of each counted retirement. Malformed claims are failed lines; an
    unknown order is a page too (404)."""
    query = {k: v for k, v in request.query_params.items() if k in FULFILMENT_PARAMS}
    claims, problems = parse_fulfilment_claims(query)
    facts = read_order(view, comp, order_id)
    lines = verify_fulfilment(view, facts, claims, problems) if facts is not None else None
    page = verification_page(settings, order_id, facts, claims, problems, lines)
    return html_page(render_verification(page), status=200 if page.found else 404)
