"""Retirement certificates, read from and verified against the chain.

Everything on a certificate comes from the contracts: the `Retired` event (the full record:
holder, batch, amount, serials, purpose, beneficiary, case reference), the hash of that record
the contract stores (one slot per retirement), the batch, the project and its
`ProjectRegistered` event (the name), the methodology. Verification re-reads all of it from the
chain, never from the SQL index, so anyone can check a certificate without trusting the
registry's database: the event's record must hash to the stored hash (what
`CarbonCredits.verifyRetirement` checks), sit in a successful transaction's receipt, use serials
the batch has actually consumed, and come from contracts whose code is the code in the
deployment record.

Serials: batch N's serial space is 1..issued, one serial per unit (1 g CO2e); a serial is
printed `TH-B000001-000000000001` (batch, serial).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.onchain import ChainView
from api.text import visible
from chain.abi import DecodedEvent
from chain.compile import Artifact, compile_contracts
from chain.deploy import CONTRACTS
from chain.structs import BatchView, Project
from core.config import Settings
from core.units import format_units
from registry.ledger import Purpose

CST = timezone(timedelta(hours=8), "UTC+08:00")
TEMPLATES = Path(__file__).resolve().parent / "templates"


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


def verify_url(settings: Settings, retirement_id: int) -> str:
    return f"{settings.base_url}/v1/retirements/{retirement_id}/verify"


def _time(ts: int, tz: timezone) -> str:
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
    )


def retirement_json(facts: RetirementFacts, view: ChainView, settings: Settings) -> dict[str, Any]:
    """The public JSON of a retirement (GET /v1/retirements/{id})."""
    purpose = PURPOSES[facts.purpose]
    b, p = facts.batch, facts.project
    ts = facts.block_timestamp
    return {
        "retirement_id": facts.retirement_id,
        "holder": facts.holder,
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
            "latitude": _degrees(p.location.latitude_e6),
            "longitude": _degrees(p.location.longitude_e6),
            "area_m2": p.location.area_m2,
        },
        "methodology": facts.methodology,
        "certificate_url": certificate_url(settings, facts.retirement_id),
        "verify_url": verify_url(settings, facts.retirement_id),
    }


def qr_svg(data: str) -> str:
    """An inline SVG QR code (vector; no raster imaging library involved)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg: str = image.to_string(encoding="unicode")
    return svg


@functools.cache
def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
        trim_blocks=True, lstrip_blocks=True,
    )
    # text read from the chain is shown, never obeyed (api.text); pages wrap it in <bdi>
    env.filters["visible"] = visible
    return env


def _vintage(start: int, end: int) -> str:
    first = datetime.fromtimestamp(start, CST).year
    last = datetime.fromtimestamp(max(start, end - 1), CST).year
    return str(first) if first == last else f"{first}–{last}"


def render_certificate(facts: RetirementFacts, view: ChainView, settings: Settings) -> str:
    data = retirement_json(facts, view, settings)
    b = facts.batch
    p = data["project"]
    ts = facts.block_timestamp
    context = {
        "r": data,
        "purpose": PURPOSES[facts.purpose],
        "serial_first": serial_label(facts.batch_id, facts.serial_start),
        "serial_last": f"{facts.serial_end:012d}",
        "period": (
            f"{_date(b.period_start)} – {_date(b.period_end - 1)}" if b else None
        ),
        "vintage": _vintage(b.period_start, b.period_end) if b else None,
        "area_ha": (
            format_units(int(p["area_m2"]) * 100) if p else None  # m² -> ha, exact
        ),
        "retired_cst": _time(ts, CST) if ts is not None else None,
        "retired_utc": _time(ts, UTC) if ts is not None else None,
        "qr": qr_svg(data["verify_url"]),
    }
    return _templates().get_template("certificate.html").render(**context)


# -- verification -----------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class Claims:
    """What a paper certificate states; each given field is checked against the chain."""

    beneficiary: str | None = None
    amount_units: int | None = None
    serial_start: int | None = None
    serial_end: int | None = None
    batch_id: int | None = None
    holder: str | None = None
    purpose: str | None = None
    case_reference: str | None = None
    tx_hash: str | None = None


@functools.cache
def _artifacts() -> dict[str, Artifact]:
    return compile_contracts()


def _code_check(view: ChainView) -> Check:
    deployment = view.ledger.deployment
    try:
        artifacts = _artifacts()
    except Exception as exc:  # no compiler output to compare with: the check cannot pass
        return Check("contract_code", False, f"compiled artifacts unavailable: {exc}")
    bad = []
    for name in CONTRACTS:
        rec = deployment.contracts[name]
        code = bytes(view.chain.w3.eth.get_code(rec.address))  # type: ignore[arg-type]
        if not code or artifacts[name].code_hash(code) != rec.code_hash:
            bad.append(f"{name} at {rec.address}")
    if bad:
        return Check("contract_code", False, "code differs from the deployment record: "
                     + ", ".join(bad))
    return Check("contract_code", True, "every registry contract's code matches the "
                 "deployment record's code hash")


def _event_matches(ev: DecodedEvent, facts: RetirementFacts) -> list[str]:
    expected = {
        "retirementId": facts.retirement_id,
        "batchId": facts.batch_id,
        "holder": facts.holder,
        "amount": facts.amount,
        "serialStart": facts.serial_start,
        "purpose": facts.purpose,
    }
    return [k for k, v in expected.items() if ev.args.get(k) != v]


def _claim_checks(facts: RetirementFacts, claims: Claims) -> list[Check]:
    actual: dict[str, Any] = {
        "beneficiary": facts.beneficiary,
        "amount_units": facts.amount,
        "serial_start": facts.serial_start,
        "serial_end": facts.serial_end,
        "batch_id": facts.batch_id,
        "holder": facts.holder.lower(),
        "purpose": PURPOSES[facts.purpose].key,
        "case_reference": facts.case_reference,
        "tx_hash": facts.event.tx_hash.lower() if facts.event else None,
    }
    out = []
    for name, claimed in vars(claims).items():
        if claimed is None:
            continue
        if name in ("holder", "tx_hash"):
            claimed = str(claimed).lower()
        ok = claimed == actual[name]
        shown = format_units(actual[name]) + " t" if name == "amount_units" else actual[name]
        out.append(Check(f"claim_{name}", ok,
                         "matches the chain" if ok else f"the chain records {shown!r}"))
    return out


def verify_retirement(view: ChainView, facts: RetirementFacts, claims: Claims) -> list[Check]:
    """Independent checks of a retirement against the chain; valid when all pass."""
    deployment = view.ledger.deployment
    contract = deployment.address("CarbonCredits")
    checks = [
        Check("retirement_recorded", facts.record_matches,
              f"the Retired event's full record hashes to CarbonCredits.retirementHash("
              f"{facts.retirement_id}) at {contract}" if facts.record_matches
              else "the Retired event's record does not hash to what the chain stores"),
        Check("chain_id", view.chain.chain_id == deployment.chain_id,
              f"chain {view.chain.chain_id}, deployment record for chain {deployment.chain_id}"),
        _code_check(view),
    ]
    ev = facts.event
    if ev is None:
        checks.append(Check("retired_event", False,
                            "no single Retired event for this id in the contract's logs"))
    else:
        mismatched = _event_matches(ev, facts)
        checks.append(Check("retired_event", not mismatched,
                            f"Retired event in block {ev.block_number}" if not mismatched
                            else "event differs from the stored retirement: "
                            + ", ".join(mismatched)))
        receipt, events = view.receipt_events(ev.tx_hash)
        in_receipt = [
            e for e in events
            if e.name == "Retired" and e.address == contract
            and e.args.get("retirementId") == facts.retirement_id
        ]
        ok = int(receipt["status"]) == 1 and len(in_receipt) == 1 and not _event_matches(
            in_receipt[0], facts
        ) and in_receipt[0].args == ev.args
        checks.append(Check("transaction_receipt", ok,
                            f"successful transaction {ev.tx_hash} carries the event" if ok
                            else f"transaction {ev.tx_hash} does not carry this retirement"))
    b = facts.batch
    consumed = b.retired + b.cancelled if b else 0
    ok = b is not None and facts.serial_start >= 1 and facts.serial_end <= consumed <= b.issued
    checks.append(Check(
        "serials_consumed", ok,
        f"serials {facts.serial_start}–{facts.serial_end} within the {consumed} consumed of "
        f"batch {facts.batch_id}" if ok else "serial range is not within the batch's consumed "
        "serials",
    ))
    return checks + _claim_checks(facts, claims)
