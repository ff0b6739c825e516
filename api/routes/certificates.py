"""Public retirement records, certificates and their verification, all read from the chain.

No API key is needed: a certificate is meant to be shown to and checked by anyone (a court, an
auditor, the public) without trusting the registry's database.
"""

from __future__ import annotations

from typing import Annotated, Any

from eth_utils import is_address
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from api.certificate import (
    PURPOSE_BY_KEY,
    Claims,
    RetirementFacts,
    read_retirement,
    render_certificate,
    retirement_json,
    verify_retirement,
)
from api.certificate import parse_serial as _parse_serial
from api.deps import SettingsDep, ViewDep
from api.errors import ApiError, not_found
from api.fields import MAX_ID, PathId
from core.units import AmountError, to_units

router = APIRouter(prefix="/v1/retirements", tags=["certificates"])

# The certificate is self-contained: inline styles and an inline SVG, nothing fetched.
CERTIFICATE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _facts(view: ViewDep, retirement_id: int) -> RetirementFacts:
    facts = read_retirement(view, retirement_id)
    if facts is None:
        raise not_found("retirement", retirement_id)
    return facts


@router.get("/{retirement_id}")
def get_retirement(retirement_id: PathId, view: ViewDep, settings: SettingsDep) -> dict[str, Any]:
    """A retirement as the chain records it: holder, serials, beneficiary, purpose, case
    reference, transaction and block time, and the batch and project it came from."""
    return retirement_json(_facts(view, retirement_id), view, settings)


@router.get("/{retirement_id}/certificate", response_class=HTMLResponse)
def certificate(retirement_id: PathId, view: ViewDep, settings: SettingsDep) -> HTMLResponse:
    """The bilingual (中文/English) retirement certificate with a QR code to its verification."""
    html = render_certificate(_facts(view, retirement_id), view, settings)
    return HTMLResponse(html, headers={"Content-Security-Policy": CERTIFICATE_CSP})


def _serial(value: str | None, name: str) -> tuple[int | None, int | None]:
    if value is None:
        return None, None
    try:
        batch, serial = _parse_serial(value)
    except ValueError:
        raise ApiError(422, "invalid_serial", f"{name} must be a serial number or TH-B…-… label",
                       {name: value}) from None
    if serial > 2**128 or (batch is not None and batch > MAX_ID):
        raise ApiError(422, "invalid_serial", f"{name} is out of range", {name: value})
    return batch, serial


@router.get("/{retirement_id}/verify")
def verify(
    retirement_id: PathId,
    view: ViewDep,
    settings: SettingsDep,
    beneficiary: Annotated[str | None, Query(max_length=1024)] = None,
    amount: Annotated[str | None, Query(max_length=64, description="tonnes")] = None,
    serial_start: Annotated[str | None, Query(max_length=64)] = None,
    serial_end: Annotated[str | None, Query(max_length=64)] = None,
    batch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    holder: Annotated[str | None, Query(max_length=64)] = None,
    purpose: Annotated[str | None, Query(max_length=64)] = None,
    case_reference: Annotated[str | None, Query(max_length=1024)] = None,
    tx_hash: Annotated[str | None, Query(max_length=80)] = None,
) -> dict[str, Any]:
    """Re-reads the retirement from the chain and checks it (event in a successful receipt,
    agreeing with the stored record, serials consumed by the batch, contract code as deployed).
    Any claim given as a query parameter (as printed on a paper certificate) is checked too."""
    amount_units = None
    if amount is not None:
        try:
            amount_units = to_units(amount)
        except AmountError as exc:
            raise ApiError(422, exc.code, str(exc), {"amount": amount}) from None
    if holder is not None and not is_address(holder):
        raise ApiError(422, "invalid_address", "holder is not an address", {"holder": holder})
    if purpose is not None and purpose not in PURPOSE_BY_KEY:
        raise ApiError(422, "invalid_purpose", "unknown purpose",
                       {"purpose": purpose, "allowed": sorted(PURPOSE_BY_KEY)})
    start_batch, start = _serial(serial_start, "serial_start")
    end_batch, end = _serial(serial_end, "serial_end")
    labelled = {b for b in (start_batch, end_batch) if b is not None}
    if batch_id is not None:
        labelled.add(batch_id)
    if len(labelled) > 1:
        raise ApiError(422, "invalid_serial", "the serials and batch_id name different batches")
    facts = _facts(view, retirement_id)
    claims = Claims(
        beneficiary=beneficiary, amount_units=amount_units, serial_start=start, serial_end=end,
        batch_id=labelled.pop() if labelled else None, holder=holder, purpose=purpose,
        case_reference=case_reference, tx_hash=tx_hash,
    )
    checks = verify_retirement(view, facts, claims)
    return {
        "valid": all(c.ok for c in checks),
        "checks": [c.as_json() for c in checks],
        "retirement": retirement_json(facts, view, settings),
    }
