"""Retirement certificates, read from the chain and rendered.

Everything on a certificate comes from the contracts: the `Retired` event (the full record:
holder, batch, amount, serials, purpose, beneficiary, case reference), the hash of that record
the contract stores (one slot per retirement), the batch, the project and its
`ProjectRegistered` event (the name), the methodology. The certificate's QR code carries what
the paper states (`paper_claims`) to its verification page; the verification itself, which
re-reads all of it from the chain, is api.certificate_checks, kept apart so that reading and
printing a certificate stay small and the checks can grow on their own.

Serials: batch N's serial space is 1..issued, one serial per unit (1 g CO2e); a serial is
printed `TH-B000001-000000000001` (batch, serial).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from eth_utils import keccak

from api.onchain import ChainView
from api.pages import MAX_TEXT_CLAIM_BYTES, Frame, claims_url, render_page
from chain.abi import DecodedEvent
from chain.structs import BatchView, Project
from core.config import Settings
from core.divisions import division_name
from core.units import format_units
from registry.ledger import Purpose

CST = timezone(timedelta(hours=8), "UTC+08:00")


@dataclass(frozen=True)
class PurposeLabel:
    key: str
    zh: str
    en: str


PURPOSES: dict[int, PurposeLabel] = {
    Purpose.VOLUNTARY: PurposeLabel("voluntary", "自愿注销", "Voluntary retirement"),
    Purpose.COMPLIANCE: PurposeLabel("compliance", "履约抵销", "Compliance offsetting"),
    Purpose.ECOLOGICAL_COMPENSATION: PurposeLabel(
        "ecological_compensation",
        "生态环境损害赔偿（替代性修复）",
        "Ecological compensation (substitute restoration)",
    ),
    Purpose.CARBON_INCLUSIVE: PurposeLabel("carbon_inclusive", "碳普惠", "Carbon-inclusive"),
}
PURPOSE_BY_KEY = {p.key: code for code, p in PURPOSES.items()}

_SERIAL = re.compile(r"TH-B([0-9]+)-([0-9]+)")


def serial_label(batch_id: int, serial: int) -> str:
    return f"TH-B{batch_id:06d}-{serial:012d}"


def serial_range_label(batch_id: int, start: int, end: int) -> str:
    return f"{serial_label(batch_id, start)} … {end:012d}"


def parse_serial(text: str) -> tuple[int | None, int]:
    """`TH-B000001-000000000001` -> (1, 1); a bare number -> (None, n). ValueError otherwise."""
    m = _SERIAL.fullmatch(text.strip())
    if m:
        return int(m.group(1)), int(m.group(2))
    if text.strip().isdigit():
        return None, int(text.strip())
    raise ValueError(text)


def certificate_url(settings: Settings, retirement_id: int) -> str:
    return f"{settings.base_url}/v1/retirements/{retirement_id}/certificate"


def certificate_pdf_url(settings: Settings, retirement_id: int) -> str:
    return f"{settings.base_url}/v1/retirements/{retirement_id}/certificate.pdf"


def verify_url(settings: Settings, retirement_id: int) -> str:
    """The verification as JSON, for programs."""
    return f"{settings.base_url}/v1/retirements/{retirement_id}/verify"


def verify_page_url(settings: Settings, retirement_id: int) -> str:
    """The verification as a bilingual page, for people: where the QR code leads."""
    return f"{settings.base_url}/v1/retirements/{retirement_id}/verify.html"


def timestamp_text(ts: int, tz: timezone) -> str:
    """A unix time as the certificate and its verification page print it, in `tz`."""
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")


def _date(ts: int) -> str:
    return datetime.fromtimestamp(ts, CST).strftime("%Y-%m-%d")


def _degrees(e6: int) -> str:
    sign = "-" if e6 < 0 else ""
    whole, frac = divmod(abs(e6), 1_000_000)
    return f"{sign}{whole}.{frac:06d}"


@dataclass
class RetirementFacts:
    """A retirement as the chain records it, with what a certificate shows about it."""

    retirement_id: int
    holder: str
    batch_id: int
    purpose: int
    serial_start: int
    amount: int
    event: DecodedEvent | None
    block_timestamp: int | None
    record_matches: bool
    batch: BatchView | None
    project: Project | None
    project_name: str | None
    methodology: dict[str, Any] | None = field(default=None)
    holder_name: str | None = None

    @property
    def serial_end(self) -> int:
        return self.serial_start + self.amount - 1

    @property
    def beneficiary(self) -> str | None:
        return str(self.event.args["beneficiary"]) if self.event else None

    @property
    def case_reference(self) -> str | None:
        return str(self.event.args["caseReference"]) if self.event else None


def read_retirement(view: ChainView, retirement_id: int) -> RetirementFacts | None:
    """Everything about a retirement, from the contracts and their logs; None if unknown."""
    record = view.retirement(retirement_id)
    if record is None:
        return None
    r = record.retirement
    batch_id = r.batch_id
    events = view.logs_by_id("CarbonCredits", "Retired", retirement_id)
    event = events[0] if len(events) == 1 else None
    batch = view.batch(batch_id)
    project_id = batch.project_id if batch is not None else 0
    project = view.project(project_id) if project_id else None
    project_name = None
    methodology = None
    if project is not None:
        registered = view.logs_by_id("ProjectRegistry", "ProjectRegistered", project_id)
        project_name = str(registered[0].args["name"]) if registered else None
        mid = project.methodology_id
        m_events = view.logs_by_id("MethodologyRegistry", "MethodologyRegistered", mid)
        if m_events:
            methodology = {"id": mid, "code": m_events[0].args["code"],
                           "name": m_events[0].args["name"]}
    return RetirementFacts(
        retirement_id=retirement_id,
        holder=r.holder,
        batch_id=batch_id,
        purpose=r.purpose,
        serial_start=r.serial_start,
        amount=r.amount,
        event=event,
        block_timestamp=view.block_timestamp(event.block_number) if event else None,
        record_matches=record.matches,
        batch=batch,
        project=project,
        project_name=project_name,
        methodology=methodology,
        holder_name=view.member_name(r.holder, event.block_number if event else None),
    )


def retirement_json(facts: RetirementFacts, view: ChainView, settings: Settings) -> dict[str, Any]:
    """The public JSON of a retirement (GET /v1/retirements/{id})."""
    purpose = PURPOSES[facts.purpose]
    b, p = facts.batch, facts.project
    ts = facts.block_timestamp
    return {
        "retirement_id": facts.retirement_id,
        "holder": facts.holder,
        "holder_name": facts.holder_name,
        "batch_id": facts.batch_id,
        "amount_units": facts.amount,
        "amount": format_units(facts.amount),
        "serial_start": facts.serial_start,
        "serial_end": facts.serial_end,
        "serial_range": serial_range_label(facts.batch_id, facts.serial_start, facts.serial_end),
        "purpose": purpose.key,
        "purpose_label": {"zh": purpose.zh, "en": purpose.en},
        "beneficiary": facts.beneficiary,
        "case_reference": facts.case_reference,
        "tx_hash": facts.event.tx_hash if facts.event else None,
        "block_number": facts.event.block_number if facts.event else None,
        "block_timestamp": ts,
        "retired_at": datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None,
        "chain_id": view.chain.chain_id,
        "contract": view.ledger.deployment.address("CarbonCredits"),
        "batch": {
            "batch_id": facts.batch_id,
            "project_id": b.project_id if b else None,
            "report_id": b.report_id if b else None,
            "period_start": b.period_start if b else None,
            "period_end": b.period_end if b else None,
            "issued_units": b.issued if b else None,
            "issued": format_units(b.issued if b else 0),
        },
        "project": None if p is None else {
            "project_id": b.project_id if b else None,
            "name": facts.project_name,
            "developer": p.developer,
            "methodology_id": p.methodology_id,
            "division_code": p.location.division_code,
            "division_name": _division(p.location.division_code),
            "latitude": _degrees(p.location.latitude_e6),
            "longitude": _degrees(p.location.longitude_e6),
            "area_m2": p.location.area_m2,
        },
        "methodology": facts.methodology,
        "certificate_url": certificate_url(settings, facts.retirement_id),
        "certificate_pdf_url": certificate_pdf_url(settings, facts.retirement_id),
        "verify_url": verify_url(settings, facts.retirement_id),
        "verify_page_url": verify_page_url(settings, facts.retirement_id),
    }


def _division(code: int) -> dict[str, str] | None:
    name = division_name(code)
    return None if name is None else {"zh": name.zh, "en": name.en, "matched": name.matched}


def paper_claims(facts: RetirementFacts) -> dict[str, str | int | None]:
    """The lines a paper certificate states, as the verification page's query: the seven fields
    of the record the contract hashed (`CarbonCredits.Retirement`), so the page can ask the
    contract itself whether the paper's record is the one retired. A text too long for a QR
    code travels as its keccak-256 hash (`beneficiary_hash`, `case_reference_hash`)."""
    claims: dict[str, str | int | None] = {
        "holder": facts.holder,
        "batch_id": facts.batch_id,
        "amount": format_units(facts.amount),
        "serial_start": facts.serial_start,
        "purpose": PURPOSES[facts.purpose].key,
    }
    for name, text in (("beneficiary", facts.beneficiary or ""),
                       ("case_reference", facts.case_reference or "")):
        if len(quote(text, safe="")) <= MAX_TEXT_CLAIM_BYTES:
            claims[name] = text
        else:
            claims[f"{name}_hash"] = "0x" + keccak(text=text).hex()
    return claims


def _vintage(start: int, end: int) -> str:
    first = datetime.fromtimestamp(start, CST).year
    last = datetime.fromtimestamp(max(start, end - 1), CST).year
    return str(first) if first == last else f"{first}–{last}"


def render_certificate(facts: RetirementFacts, view: ChainView, settings: Settings) -> str:
    """The retirement certificate (templates/retirement_certificate.html in the shared A4
    frame), its QR code carrying the paper's claims to the verification page."""
    data = retirement_json(facts, view, settings)
    b = facts.batch
    p = data["project"]
    ts = facts.block_timestamp
    page_url = verify_page_url(settings, facts.retirement_id)
    frame = Frame(
        title_zh="碳汇注销证明", title_en="Carbon Credit Retirement Certificate",
        number=f"TH-R{facts.retirement_id:06d}",
        verify_url=page_url, qr_url=claims_url(page_url, paper_claims(facts)),
    )
    return render_page(
        "retirement_certificate.html",
        frame=frame,
        r=data,
        purpose=PURPOSES[facts.purpose],
        serial_first=serial_label(facts.batch_id, facts.serial_start),
        serial_last=f"{facts.serial_end:012d}",
        period=f"{_date(b.period_start)} – {_date(b.period_end - 1)}" if b else None,
        vintage=_vintage(b.period_start, b.period_end) if b else None,
        area_ha=format_units(int(p["area_m2"]) * 100) if p else None,  # m² -> ha, exact
        retired_cst=timestamp_text(ts, CST) if ts is not None else None,
        retired_utc=timestamp_text(ts, UTC) if ts is not None else None,
    )
