"""The fulfilment certificate of an ecological-compensation order, read from the chain and
rendered.

A court or procuratorate files it to close the case: the order (case number, authority, the
liable parties by name, what was required and what is fulfilled) and every retirement counted
toward it, each with its serial range, batch, project, location (division name and code),
holder and transaction. It is made like the retirement certificate (api.pages: the same A4
frame, bilingual labels, QR block, PDF printer), so it reads and prints like one. An order not
(yet) fulfilled gets the same sheet titled 履行进度 (progress), never 履行证明 (fulfilment),
and says what remains.

Everything comes from the contracts, never from the SQL index, so the paper can be checked
without trusting the registry's database:

- the order from `CompensationOrders.getOrder` / `statusOf` (registry.compensation);
- the retirements counted toward it from the contract's `RetirementCounted` logs, found by their
  indexed `orderId` topic (`ChainView.logs_by_id`), in chain order;
- each retirement's record as the retirement certificate reads it (api.certificate);
- forest-ticket retirements counted toward it likewise, from `TicketRetirementCounted` logs, each
  record as the ticket retirement certificate reads it (api.ticket_certificate). They are listed
  apart, labelled as forest carbon tickets with their slot's serial range and parcel, since
  ticket retirement ids are ForestTickets' own.

The QR code carries the paper's claims to the order's verification page (`fulfilment_claims`):
the case number, the unit, required and fulfilled as printed, and the counted retirements as
`id:tonnes` pairs in chain order (`retirements=7:200,8:126.4`), and the ticket retirements
the same way (`tickets=3:50`, only when there are any). Too long for a QR code (more than
api.pages.MAX_TEXT_CLAIM_BYTES URL-encoded), the case number travels as `case_number_hash` and
the list as `retirements_hash` (keccak-256 of the UTF-8 of what `retirements` would have been)
with `retirement_count` (`tickets_hash` with `ticket_count`). Reading the claims back and
checking them against the chain, line by line, is api.fulfilment_checks: this module reads and
prints, that one verifies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import quote

from eth_utils import keccak

from api.certificate import RetirementFacts, read_retirement, serial_range_label
from api.fulfilment_tickets import (
    FulfilmentTicketRetirement,
    TicketCountedLog,
    ticket_counted_logs,
    ticket_row,
)
from api.onchain import ChainView
from api.pages import MAX_TEXT_CLAIM_BYTES, Frame, claims_url, render_page
from api.ticket_certificate import TicketRetirementFacts, read_ticket_retirement
from core.config import Settings
from core.units import format_units
from registry.compensation import Compensation, CompensationOrder, OrderStatus, Unit

CST = timezone(timedelta(hours=8), "UTC+08:00")


# -- what the certificate shows ----------------------------------------------------------


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
    retired_at: int | None = None  # unix time of the retirement's block

    @property
    def serial_end(self) -> int:
        return self.serial_start + self.amount_units - 1

    @property
    def amount(self) -> str:
        return format_units(self.amount_units)

    @property
    def serial_range(self) -> str:
        return serial_range_label(self.batch_id, self.serial_start, self.serial_end)

    @property
    def retired_cst(self) -> str | None:
        """The retirement's date and time in China, as printed."""
        if self.retired_at is None:
            return None
        return f"{datetime.fromtimestamp(self.retired_at, CST):%Y-%m-%d %H:%M}"


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
    ticket_retirements: list[FulfilmentTicketRetirement] = field(default_factory=list)

    def quantity(self, value: int) -> str:
        """A value of the order's unit as printed: tonnes, or yuan from fen."""
        if self.unit == "tonnes":
            return f"{format_units(value)} t CO2e"
        yuan, fen = divmod(value, 100)
        return f"{yuan:,}.{fen:02d} 元 CNY"

    @property
    def is_fulfilled(self) -> bool:
        return self.status == "fulfilled"

    @property
    def remaining(self) -> int:
        return max(self.required - self.fulfilled, 0)

    @property
    def retired(self) -> str:
        """Tonnes retired for the order in all, credits and tickets (for a Fen order, what the
        money bought)."""
        return format_units(sum(r.amount_units for r in self.retirements)
                            + sum(t.amount_units for t in self.ticket_retirements))

    @property
    def retirement_count(self) -> int:
        return len(self.retirements) + len(self.ticket_retirements)


STATUS_LABELS = {
    "open": ("未履行", "Open"),
    "partly_fulfilled": ("部分履行", "Partly fulfilled"),
    "fulfilled": ("已履行完毕", "Fulfilled"),
    "closed": ("已关闭", "Closed"),
    "overdue": ("已逾期", "Overdue"),
}
UNIT_LABELS = {"tonnes": ("吨二氧化碳当量", "tonnes CO2e"), "cny": ("元人民币", "yuan CNY")}


def certificate_number(order_id: int) -> str:
    return f"TH-C{order_id:06d}"


def fulfilment_certificate_url(settings: Settings, order_id: int) -> str:
    return f"{settings.base_url}/v1/compensation/orders/{order_id}/certificate"


def fulfilment_certificate_pdf_url(settings: Settings, order_id: int) -> str:
    return f"{settings.base_url}/v1/compensation/orders/{order_id}/certificate.pdf"


def fulfilment_verify_url(settings: Settings, order_id: int) -> str:
    """The verification as JSON, for programs."""
    return f"{settings.base_url}/v1/compensation/orders/{order_id}/verify"


def fulfilment_verify_page_url(settings: Settings, order_id: int) -> str:
    """The verification as a bilingual page, for people: where the QR code leads."""
    return f"{settings.base_url}/v1/compensation/orders/{order_id}/verify.html"


def order_links(settings: Settings, order_id: int) -> dict[str, str]:
    """The order's certificate and verification URLs, as the order's JSON carries them."""
    return {
        "certificate_url": fulfilment_certificate_url(settings, order_id),
        "certificate_pdf_url": fulfilment_certificate_pdf_url(settings, order_id),
        "verify_page_url": fulfilment_verify_page_url(settings, order_id),
    }


def claim_unit(unit: str) -> str:
    """The API's spelling of an order's unit: `tonnes` or `cny`."""
    return "tonnes" if unit == "tonnes" else "cny"


def _amount_text(unit: str, value: int) -> str:
    """A value as the QR code carries it: tonnes ("326.4") or yuan ("50000.00")."""
    if unit == "tonnes":
        return format_units(value)
    return f"{value // 100}.{value % 100:02d}"


def quantity_text(unit: str, value: int) -> str:
    """A value of an order's unit (`tonnes`, or `fen`/`cny`) as a line shows it."""
    if unit == "tonnes":
        return f"{format_units(value)} t CO2e"
    return f"{value // 100:,}.{value % 100:02d} 元 CNY"


def retirements_text(pairs: list[tuple[int, int]]) -> str:
    """The counted retirements as the QR code carries them: `id:tonnes`, comma-separated."""
    return ",".join(f"{rid}:{format_units(amount)}" for rid, amount in pairs)


def text_hash(text: str) -> str:
    """keccak-256 of a text's UTF-8, as a claim too long for the QR code travels."""
    return "0x" + keccak(text=text).hex()


def _fits(text: str) -> bool:
    return len(quote(text, safe="")) <= MAX_TEXT_CLAIM_BYTES


def fulfilment_claims(c: FulfilmentCertificate) -> dict[str, str | int | None]:
    """What the paper states, carried by its QR code: the case, the unit, required and
    fulfilled as printed, and the retirements counted (ids with tonnes, in chain order), for
    the verification page to re-check on chain. Long texts travel as their hashes."""
    unit = claim_unit(c.unit)
    claims: dict[str, str | int | None] = {}
    if _fits(c.case_number):
        claims["case_number"] = c.case_number
    else:
        claims["case_number_hash"] = text_hash(c.case_number)
    claims["unit"] = unit
    claims["required"] = _amount_text(unit, c.required)
    claims["fulfilled"] = _amount_text(unit, c.fulfilled)
    listed = retirements_text([(r.retirement_id, r.amount_units) for r in c.retirements])
    if _fits(listed):
        claims["retirements"] = listed
    else:
        claims["retirements_hash"] = text_hash(listed)
        claims["retirement_count"] = len(c.retirements)
    if c.ticket_retirements:
        tickets = retirements_text([(t.retirement_id, t.amount_units)
                                    for t in c.ticket_retirements])
        if _fits(tickets):
            claims["tickets"] = tickets
        else:
            claims["tickets_hash"] = text_hash(tickets)
            claims["ticket_count"] = len(c.ticket_retirements)
    return claims


def _time(ts: int | None) -> str | None:
    if ts is None:
        return None
    return (f"{datetime.fromtimestamp(ts, CST):%Y-%m-%d %H:%M:%S} 北京时间 (UTC+8) · "
            f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%d %H:%M:%S} UTC")


def certificate_titles(c: FulfilmentCertificate) -> tuple[str, str]:
    """履行证明 only for a fulfilled order; anything else is a statement of progress."""
    if c.is_fulfilled:
        return ("生态环境损害赔偿履行证明",
                "Certificate of Fulfilment of an Ecological Compensation Order")
    return ("生态环境损害赔偿履行进度",
            "Statement of Progress on an Ecological Compensation Order")


def render_fulfilment_certificate(c: FulfilmentCertificate, settings: Settings) -> str:
    page_url = fulfilment_verify_page_url(settings, c.order_id)
    title_zh, title_en = certificate_titles(c)
    frame = Frame(
        title_zh=title_zh, title_en=title_en, number=certificate_number(c.order_id),
        verify_url=page_url, qr_url=claims_url(page_url, fulfilment_claims(c)),
    )
    return render_page("fulfilment_certificate.html", frame=frame, c=c,
                       status=STATUS_LABELS.get(c.status, (c.status, c.status)),
                       fulfilled_at=_time(c.fulfilled_at))


# -- reading the order from the chain ------------------------------------------------------


@dataclass(frozen=True)
class CountedLog:
    """One `RetirementCounted` log of the order: what the contract counted, and where."""

    retirement_id: int
    holder: str
    batch_id: int
    amount: int  # micro-tonnes retired
    value: int  # what it counted for, in the order's unit
    fulfilled: int  # the order's total after it
    tx_hash: str
    block_number: int
    log_index: int = 0


@dataclass(frozen=True)
class OrderFacts:
    """An order as the chain holds it, with every retirement counted toward it."""

    order: CompensationOrder
    status: OrderStatus  # as statusOf reads it now (overdue included)
    authority_name: str | None
    counted: list[CountedLog]
    records: dict[int, RetirementFacts | None]  # each counted one, as read_retirement reads it
    registered: bool  # one OrderRegistered log agrees with getOrder
    fulfilled_at: int | None
    chain_id: int
    contract: str
    ticket_counted: list[TicketCountedLog] = field(default_factory=list)
    ticket_records: dict[int, TicketRetirementFacts | None] = field(default_factory=dict)

    @property
    def order_id(self) -> int:
        return self.order.order_id

    @property
    def unit(self) -> str:
        return "tonnes" if self.order.terms.unit == Unit.TONNES else "fen"


def read_order(view: ChainView, comp: Compensation, order_id: int) -> OrderFacts | None:
    """The order and its counted retirements, from the contracts and their logs; None for an
    order the chain does not know."""
    if not 1 <= order_id <= comp.order_count():
        return None
    order = comp.order(order_id)
    logs = view.logs_by_id("CompensationOrders", "RetirementCounted", order_id)
    counted = [
        CountedLog(
            retirement_id=int(ev.args["retirementId"]), holder=str(ev.args["holder"]),
            batch_id=int(ev.args["batchId"]), amount=int(ev.args["amount"]),
            value=int(ev.args["value"]), fulfilled=int(ev.args["fulfilled"]),
            tx_hash=ev.tx_hash, block_number=ev.block_number, log_index=ev.log_index,
        )
        for ev in logs
    ]
    ticket_counted = ticket_counted_logs(view, order_id)
    registered = view.logs_by_id("CompensationOrders", "OrderRegistered", order_id)
    done = view.logs_by_id("CompensationOrders", "OrderFulfilled", order_id)
    return OrderFacts(
        order=order,
        status=comp.status_of(order_id),
        authority_name=view.member_name(order.authority),
        counted=counted,
        records={c.retirement_id: read_retirement(view, c.retirement_id) for c in counted},
        registered=len(registered) == 1
        and registered[0].args.get("caseNumber") == order.case_number
        and registered[0].args.get("authority") == order.authority,
        fulfilled_at=view.block_timestamp(done[0].block_number) if done else None,
        chain_id=view.chain.chain_id,
        contract=view.ledger.deployment.address("CompensationOrders"),
        ticket_counted=ticket_counted,
        ticket_records={t.retirement_id: read_ticket_retirement(view, t.retirement_id)
                        for t in ticket_counted},
    )


def certificate_of(facts: OrderFacts) -> FulfilmentCertificate:
    """The fulfilment certificate of an order, from what the chain holds."""
    o, t = facts.order, facts.order.terms
    rows = []
    for c in facts.counted:
        r = facts.records.get(c.retirement_id)
        project = r.project if r is not None else None
        rows.append(FulfilmentRetirement(
            retirement_id=c.retirement_id,
            holder=c.holder,
            holder_name=r.holder_name if r is not None else None,
            batch_id=c.batch_id,
            amount_units=c.amount,
            serial_start=r.serial_start if r is not None else 0,
            project_id=r.batch.project_id if r is not None and r.batch is not None else 0,
            project_name=r.project_name if r is not None else None,
            division_code=project.location.division_code if project is not None else 0,
            tx_hash=c.tx_hash,
            counted=c.value,
            retired_at=r.block_timestamp if r is not None else None,
        ))
    return FulfilmentCertificate(
        order_id=o.order_id, case_number=o.case_number, authority=o.authority,
        authority_name=facts.authority_name, party_names=list(t.party_names),
        unit="tonnes" if t.unit == Unit.TONNES else "fen",
        required=t.required, fulfilled=o.fulfilled, status=facts.status.name.lower(),
        document_hash="0x" + t.document_hash.hex(), chain_id=facts.chain_id,
        contract=facts.contract, retirements=rows, fulfilled_at=facts.fulfilled_at,
        ticket_retirements=[ticket_row(t, facts.ticket_records.get(t.retirement_id))
                            for t in facts.ticket_counted],
    )


def certificate_json(c: FulfilmentCertificate) -> dict[str, Any]:
    """What the certificate states, as JSON (the verification's `order`)."""
    unit = claim_unit(c.unit)
    return {
        "order_id": c.order_id, "certificate_number": certificate_number(c.order_id),
        "case_number": c.case_number, "authority": c.authority,
        "authority_name": c.authority_name, "party_names": c.party_names, "unit": unit,
        "required": _amount_text(unit, c.required), "required_units": c.required,
        "fulfilled": _amount_text(unit, c.fulfilled), "fulfilled_units": c.fulfilled,
        "remaining": _amount_text(unit, c.remaining), "status": c.status,
        "document_hash": c.document_hash, "chain_id": c.chain_id, "contract": c.contract,
        "fulfilled_at": c.fulfilled_at,
        "retirements": [
            {"retirement_id": r.retirement_id, "holder": r.holder, "holder_name": r.holder_name,
             "batch_id": r.batch_id, "amount": r.amount, "amount_units": r.amount_units,
             "counted": _amount_text(unit, r.counted), "counted_units": r.counted,
             "serial_start": r.serial_start, "serial_end": r.serial_end,
             "serial_range": r.serial_range, "project_id": r.project_id,
             "project_name": r.project_name, "division_code": r.division_code,
             "tx_hash": r.tx_hash, "retired_at": r.retired_at}
            for r in c.retirements
        ],
        "ticket_retirements": [
            {"asset": "ticket", "retirement_id": t.retirement_id, "holder": t.holder,
             "holder_name": t.holder_name, "slot": t.slot, "token_id": t.token_id,
             "amount": t.amount, "amount_units": t.amount_units,
             "counted": _amount_text(unit, t.counted), "counted_units": t.counted,
             "serial_start": t.serial_start, "serial_end": t.serial_end,
             "serial_range": t.serial_range, "rights_certificate": t.rights_certificate,
             "project_id": t.project_id, "project_name": t.project_name,
             "division_code": t.division_code, "period": t.period, "tx_hash": t.tx_hash,
             "retired_at": t.retired_at}
            for t in c.ticket_retirements
        ],
    }
