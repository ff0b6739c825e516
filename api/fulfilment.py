"""The fulfilment certificate of an ecological-compensation order: the page, and the context it
is rendered from.

A court or procuratorate files it to close the case: the order (case number, authority, the
liable parties by name, what was required) and every retirement counted toward it, each with its
serial range, project, location (division name and code) and transaction. It is made like the
retirement certificate (api.pages: the same A4 frame, bilingual labels, QR block, PDF printer),
so it reads and prints like one.

This module is the contract between the page and whoever reads the order from the chain
(CompensationOrders, COMP_SPEC.md): build a `FulfilmentCertificate` from `getOrder` and the
`RetirementCounted` events (with each retirement read as api.certificate.read_retirement does),
then `render_fulfilment_certificate` for the page, and `api.pages.pdf_response` on that page
for the PDF. `fulfilment_claims` is what the QR code carries to the order's verification page
(`fulfilment_verify_page_url`), which re-checks those claims against the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from api.pages import Frame, claims_url, render_page
from core.config import Settings
from core.units import format_units

CST = timezone(timedelta(hours=8), "UTC+08:00")


@dataclass(frozen=True)
class FulfilmentRetirement:
    """One retirement counted toward the order, as the certificate lists it."""

    retirement_id: int
    holder: str  # the retiring account (a party, or the authority when it pays)
    holder_name: str | None  # its name on the roster (ChainView.member_name)
    batch_id: int
    amount_units: int  # micro-tonnes retired
    serial_start: int
    project_id: int
    project_name: str | None
    division_code: int  # the project's location; the page shows its name (core.divisions)
    tx_hash: str
    counted: int  # what it counted toward the order: micro-tonnes, or fen for a Fen order

    @property
    def serial_end(self) -> int:
        return self.serial_start + self.amount_units - 1

    @property
    def amount(self) -> str:
        return format_units(self.amount_units)


@dataclass(frozen=True)
class FulfilmentCertificate:
    """Everything the fulfilment certificate shows, read from the chain (the context key is
    `c` in templates/fulfilment_certificate.html)."""

    order_id: int
    case_number: str
    authority: str  # the authority's account
    authority_name: str | None  # its name on the roster
    party_names: list[str]  # Terms.partyNames: every liable party, member or not
    unit: Literal["tonnes", "fen"]  # Terms.unit
    required: int  # micro-tonnes, or fen
    fulfilled: int  # same unit
    status: str  # fulfilled | partly_fulfilled | open | closed | overdue
    document_hash: str  # Terms.documentHash: the judgment or decision
    chain_id: int
    contract: str  # the CompensationOrders address
    retirements: list[FulfilmentRetirement] = field(default_factory=list)
    fulfilled_at: int | None = None  # unix time of OrderFulfilled's block

    def quantity(self, value: int) -> str:
        """A value of the order's unit as printed: tonnes, or yuan from fen."""
        if self.unit == "tonnes":
            return f"{format_units(value)} t CO2e"
        yuan, fen = divmod(value, 100)
        return f"{yuan:,}.{fen:02d} 元 CNY"

    @property
    def retired(self) -> str:
        """Tonnes retired for the order in all (for a Fen order, what the money bought)."""
        return format_units(sum(r.amount_units for r in self.retirements))


STATUS_LABELS = {
    "open": ("未履行", "Open"),
    "partly_fulfilled": ("部分履行", "Partly fulfilled"),
    "fulfilled": ("已履行完毕", "Fulfilled"),
    "closed": ("已关闭", "Closed"),
    "overdue": ("已逾期", "Overdue"),
}


def fulfilment_certificate_url(settings: Settings, order_id: int) -> str:
    return f"{settings.base_url}/v1/compensation/orders/{order_id}/certificate"


def fulfilment_verify_page_url(settings: Settings, order_id: int) -> str:
    return f"{settings.base_url}/v1/compensation/orders/{order_id}/verify.html"


def fulfilment_claims(c: FulfilmentCertificate) -> dict[str, str | int | None]:
    """What the paper states, carried by its QR code: the case, the amount fulfilled and the
    retirements counted (ids, in order), for the verification page to re-check on chain."""
    return {
        "case_number": c.case_number,
        "fulfilled": str(c.fulfilled),
        "unit": c.unit,
        "retirements": ",".join(str(r.retirement_id) for r in c.retirements),
    }


def _time(ts: int | None) -> str | None:
    if ts is None:
        return None
    return (f"{datetime.fromtimestamp(ts, CST):%Y-%m-%d %H:%M:%S} 北京时间 (UTC+8) · "
            f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%d %H:%M:%S} UTC")


def render_fulfilment_certificate(c: FulfilmentCertificate, settings: Settings) -> str:
    page_url = fulfilment_verify_page_url(settings, c.order_id)
    frame = Frame(
        title_zh="生态环境损害赔偿履行证明",
        title_en="Certificate of Fulfilment of an Ecological Compensation Order",
        number=f"TH-C{c.order_id:06d}",
        verify_url=page_url, qr_url=claims_url(page_url, fulfilment_claims(c)),
    )
    return render_page("fulfilment_certificate.html", frame=frame, c=c,
                       status=STATUS_LABELS.get(c.status, (c.status, c.status)),
                       fulfilled_at=_time(c.fulfilled_at))
