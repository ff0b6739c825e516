"""The forest-ticket part of a fulfilment certificate (api.fulfilment): the ticket
retirements counted toward an order, read from CompensationOrders' `TicketRetirementCounted`
logs, and how the certificate lists each one (the ticket's slot and serial range, the parcel by
its forest-right certificate number and division, the monitoring period). Apart from
api.fulfilment so that module stays about the order, and because ticket retirements are
numbered apart from credit retirements (ForestTickets' own ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from api.onchain import ChainView
from api.ticket_certificate import TicketRetirementFacts, ticket_serial_range_label
from core.units import format_units

CST = timezone(timedelta(hours=8), "UTC+08:00")


@dataclass(frozen=True)
class FulfilmentTicketRetirement:
    """One forest-ticket retirement counted toward the order, as the certificate lists it:
    the ticket's slot (a parcel's verified report) and its serials, the parcel."""

    retirement_id: int  # ForestTickets' retirement id
    holder: str
    holder_name: str | None
    slot: int
    token_id: int
    amount_units: int
    serial_start: int
    rights_certificate: str | None  # the parcel's forest-right certificate number (林权证号)
    project_id: int
    project_name: str | None
    division_code: int
    period: str | None  # the slot's monitoring period, as printed
    tx_hash: str
    counted: int
    retired_at: int | None = None

    @property
    def serial_end(self) -> int:
        return self.serial_start + self.amount_units - 1

    @property
    def amount(self) -> str:
        return format_units(self.amount_units)

    @property
    def serial_range(self) -> str:
        return ticket_serial_range_label(self.slot, self.serial_start, self.serial_end)

    @property
    def retired_cst(self) -> str | None:
        if self.retired_at is None:
            return None
        return f"{datetime.fromtimestamp(self.retired_at, CST):%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class TicketCountedLog:
    """One `TicketRetirementCounted` log of the order: a forest-ticket retirement counted."""

    retirement_id: int  # ForestTickets' retirement id
    holder: str
    slot: int
    amount: int
    serial_start: int
    value: int
    fulfilled: int
    tx_hash: str
    block_number: int
    log_index: int


def ticket_counted_logs(view: ChainView, order_id: int) -> list[TicketCountedLog]:
    """The order's `TicketRetirementCounted` logs (by their indexed `orderId`), in chain order."""
    return [
        TicketCountedLog(
            retirement_id=int(ev.args["retirementId"]), holder=str(ev.args["holder"]),
            slot=int(ev.args["slot"]), amount=int(ev.args["amount"]),
            serial_start=int(ev.args["serialStart"]), value=int(ev.args["value"]),
            fulfilled=int(ev.args["fulfilled"]), tx_hash=ev.tx_hash,
            block_number=ev.block_number, log_index=ev.log_index,
        )
        for ev in view.logs_by_id("CompensationOrders", "TicketRetirementCounted", order_id)
    ]


def ticket_row(c: TicketCountedLog,
                r: TicketRetirementFacts | None) -> FulfilmentTicketRetirement:
    s = r.slot if r is not None else None
    period = None
    if s is not None:
        start = datetime.fromtimestamp(s.period_start, CST)
        end = datetime.fromtimestamp(max(s.period_start, s.period_end - 1), CST)
        period = f"{start:%Y-%m-%d} – {end:%Y-%m-%d}"
    return FulfilmentTicketRetirement(
        retirement_id=c.retirement_id, holder=c.holder,
        holder_name=r.holder_name if r is not None else None, slot=c.slot,
        token_id=r.record.token_id if r is not None else 0, amount_units=c.amount,
        serial_start=c.serial_start,
        rights_certificate=s.rights_certificate if s is not None else None,
        project_id=s.project_id if s is not None else 0,
        project_name=r.project_name if r is not None else None,
        division_code=s.division_code if s is not None else 0, period=period,
        tx_hash=c.tx_hash, counted=c.value,
        retired_at=r.block_timestamp if r is not None else None,
    )
