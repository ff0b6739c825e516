"""The registry's state as its events alone tell it: one fold over the logs, no SQL.

Everything here is what the chain *said* happened; `checks` holds it against what the chain's
storage *says now* (calls), so a log that was never emitted for a change (storage altered behind
the contracts' backs) shows up as a difference."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from registry.audit.scan import Event

ZERO = "0x0000000000000000000000000000000000000000"


@dataclass
class Retirement:
    """A credit or ticket retirement: which serials of which batch or slot it consumed."""

    id: int
    asset: int  # batch id, or ticket slot
    holder: str
    amount: int
    serial_start: int
    purpose: int
    beneficiary: str
    case_reference: str
    event: Event
    token_id: int = 0  # tickets only

    @property
    def serial_end(self) -> int:
        return self.serial_start + self.amount - 1


@dataclass
class Folded:
    """Per-object indexes of the events, built in one pass in chain order."""

    events: list[Event] = field(default_factory=list)
    methodologies: dict[int, Event] = field(default_factory=dict)
    projects: dict[int, Event] = field(default_factory=dict)
    report_opened: dict[int, Event] = field(default_factory=dict)
    attestations: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    report_attested: dict[int, Event] = field(default_factory=dict)
    report_verified: dict[int, Event] = field(default_factory=dict)
    report_claims: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    batches: dict[int, Event] = field(default_factory=dict)
    issuances: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    balances: dict[int, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    transfers: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    retirements: dict[int, Retirement] = field(default_factory=dict)
    cancellations: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    trades: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    orders: dict[int, Event] = field(default_factory=dict)
    counted: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    ticket_counted: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    slots: dict[int, Event] = field(default_factory=dict)
    token_slot: dict[int, int] = field(default_factory=dict)
    token_value: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    token_owner: dict[int, str] = field(default_factory=dict)
    token_events: dict[int, list[Event]] = field(default_factory=lambda: defaultdict(list))
    ticket_retirements: dict[int, Retirement] = field(default_factory=dict)
    pledges: dict[int, Event] = field(default_factory=dict)
    pledge_ends: dict[int, Event] = field(default_factory=dict)

    def active_pledged(self, kind: int, asset: int) -> int:
        return sum(int(p.args["value"]) for i, p in self.pledges.items()
                   if i not in self.pledge_ends and int(p.args["kind"]) == kind
                   and int(p.args["assetId"]) == asset)


def _credit_move(f: Folded, e: Event, ids: list[int], values: list[int]) -> None:
    frm, to = e.args["from"], e.args["to"]
    for batch, value in zip(ids, values, strict=True):
        if frm != ZERO:
            f.balances[batch][frm] -= value
        if to != ZERO:
            f.balances[batch][to] += value
        f.transfers[batch].append(e)


def _retirement(e: Event, asset_key: str, amount_key: str) -> Retirement:
    a = e.args
    return Retirement(int(a["retirementId"]), int(a[asset_key]), a["holder"], int(a[amount_key]),
                      int(a["serialStart"]), int(a["purpose"]), a["beneficiary"],
                      a["caseReference"], e, int(a.get("tokenId", 0)))


def _credits(f: Folded, e: Event) -> None:
    a = e.args
    if e.name == "BatchIssued":
        f.batches[int(a["batchId"])] = e
        f.issuances[int(a["reportId"])].append(e)
    elif e.name == "TransferSingle":
        _credit_move(f, e, [int(a["id"])], [int(a["value"])])
    elif e.name == "TransferBatch":
        _credit_move(f, e, [int(i) for i in a["ids"]], [int(v) for v in a["values"]])
    elif e.name == "Retired":
        r = _retirement(e, "batchId", "amount")
        f.retirements[r.id] = r
    elif e.name == "BufferCancelled":
        f.cancellations[int(a["batchId"])].append(e)


def _tickets(f: Folded, e: Event) -> None:
    a = e.args
    if e.name == "TicketIssued":
        f.slots[int(a["slot"])] = e
        f.issuances[int(a["slot"])].append(e)
        f.token_slot[int(a["tokenId"])] = int(a["slot"])
        f.token_events[int(a["tokenId"])].append(e)
    elif e.name == "SlotChanged":
        f.token_slot[int(a["tokenId"])] = int(a["newSlot"])
    elif e.name == "TransferValue":
        frm, to, value = int(a["fromTokenId"]), int(a["toTokenId"]), int(a["value"])
        if frm:
            f.token_value[frm] -= value
            f.token_events[frm].append(e)
        if to:
            f.token_value[to] += value
            f.token_events[to].append(e)
    elif e.name == "TicketTransferred":
        token = int(a["tokenId"])
        f.token_owner[token] = a["to"]
        f.token_events[token].append(e)
    elif e.name == "TicketRetired":
        r = _retirement(e, "slot", "value")
        f.ticket_retirements[r.id] = r


def _registry(f: Folded, e: Event) -> None:
    a = e.args
    if e.name == "MethodologyRegistered":
        f.methodologies[int(a["methodologyId"])] = e
    elif e.name == "ProjectRegistered":
        f.projects[int(a["projectId"])] = e
    elif e.name == "ReportOpened":
        f.report_opened[int(a["reportId"])] = e
    elif e.name == "AttestationSubmitted":
        f.attestations[int(a["reportId"])].append(e)
    elif e.name == "ReportAttested":
        f.report_attested[int(a["reportId"])] = e
    elif e.name == "ReportVerified":
        f.report_verified[int(a["reportId"])] = e
    elif e.name == "ReportClaimed":
        f.report_claims[int(a["reportId"])].append(e)


def _others(f: Folded, e: Event) -> None:
    a = e.args
    if e.name == "TradeSettled":
        f.trades[int(a["tradeId"])].append(e)
    elif e.name == "OrderRegistered":
        f.orders[int(a["orderId"])] = e
    elif e.name == "RetirementCounted":
        f.counted[int(a["orderId"])].append(e)
    elif e.name == "TicketRetirementCounted":
        f.ticket_counted[int(a["orderId"])].append(e)
    elif e.name == "Pledged":
        f.pledges[int(a["pledgeId"])] = e
    elif e.name in ("PledgeReleased", "PledgeForeclosed"):
        f.pledge_ends[int(a["pledgeId"])] = e


_FOLDS: dict[str, Any] = {
    "CarbonCredits": _credits,
    "ForestTickets": _tickets,
    "MethodologyRegistry": _registry,
    "ProjectRegistry": _registry,
    "MonitoringReports": _registry,
}


def fold(events: list[Event]) -> Folded:
    """The per-object view of `events` (in chain order)."""
    f = Folded(events=events)
    for e in events:
        _FOLDS.get(e.contract, _others)(f, e)
    return f
