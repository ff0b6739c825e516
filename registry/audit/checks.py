"""The auditor's invariants, each a named check over the folded events and the chain's views.

Every check returns the objects it found broken as `Finding`s naming the check, the object and
what differs; an empty list means the invariant holds for every object the chain has."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry.audit.reads import ChainReads
from registry.audit.state import Folded, Retirement

TICKET, CREDIT = 0, 1  # PledgeRegister.AssetKind


@dataclass(frozen=True)
class Finding:
    """One broken invariant on one object."""

    check: str
    object: str
    message: str

    def line(self) -> str:
        return f"{self.check} failed for {self.object}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "object": self.object, "message": self.message}


Check = Callable[[Folded, ChainReads], list[Finding]]


def batch_conservation(f: Folded, r: ChainReads) -> list[Finding]:
    """issued = Σ balances on chain (buffer pool and pledge escrow included, as CarbonCredits
    holds them as balances) + retired + cancelled, and the batch record agrees with the events."""
    out: list[Finding] = []
    pairs = [(h, b) for b in sorted(f.batches) for h in sorted(f.balances[b])]
    held = r.balances(pairs)
    for batch, ev in sorted(f.batches.items()):
        view = r.call("CarbonCredits", "getBatch", batch)
        issued = int(ev.args["issued"])
        balances = sum(held[(h, batch)] for h in f.balances[batch])
        retired = sum(x.amount for x in f.retirements.values() if x.asset == batch)
        cancelled = sum(int(c.args["amount"]) for c in f.cancellations[batch])
        buffer = held.get((r.deployment.address("CarbonCredits"), batch), 0)
        pledged = f.active_pledged(CREDIT, batch)
        if balances + retired + cancelled != issued:
            out.append(Finding("batch_conservation", f"batch {batch}",
                               f"issued {issued} ≠ balances {balances} + retired {retired} + "
                               f"cancelled {cancelled} (buffer {buffer}, pledged {pledged} "
                               "within balances)"))
        elif (int(view[4]), int(view[6]), int(view[7])) != (issued, retired, cancelled):
            out.append(Finding("batch_conservation", f"batch {batch}",
                               f"getBatch says issued {view[4]}, retired {view[6]}, cancelled "
                               f"{view[7]}; the events say {issued}, {retired}, {cancelled}"))
    return out


def balances_match(f: Folded, r: ChainReads) -> list[Finding]:
    """The balances rebuilt from TransferSingle/TransferBatch equal balanceOf on chain."""
    pairs = [(h, b) for b in sorted(f.balances) for h in sorted(f.balances[b])]
    held = r.balances(pairs)
    return [Finding("balances_match", f"batch {b}",
                    f"holder {h}: events give {f.balances[b][h]}, balanceOf is {held[(h, b)]}")
            for h, b in pairs if held[(h, b)] != f.balances[b][h]]


def ticket_conservation(f: Folded, r: ChainReads) -> list[Finding]:
    """For every slot: issued = Σ ticket values (the register's escrow included) + retired,
    each live ticket's value on chain equals its value from TransferValue events, and the slot
    record agrees."""
    out: list[Finding] = []
    for slot, ev in sorted(f.slots.items()):
        issued = int(ev.args["value"])
        tokens = [t for t, s in f.token_slot.items() if s == slot]
        values = {t: f.token_value[t] for t in tokens}
        for t, v in sorted(values.items()):
            if v and int(r.call("ForestTickets", "balanceOf", t)) != v:
                out.append(Finding("ticket_conservation", f"ticket {t}",
                                   f"events give value {v}, balanceOf says "
                                   f"{r.call('ForestTickets', 'balanceOf', t)}"))
        retired = sum(x.amount for x in f.ticket_retirements.values() if x.asset == slot)
        held = sum(values.values())
        pledged = f.active_pledged(TICKET, slot)
        info = r.call("ForestTickets", "getSlot", slot)
        if held + retired != issued:
            out.append(Finding("ticket_conservation", f"slot {slot}",
                               f"issued {issued} ≠ ticket values {held} + retired {retired} "
                               f"(pledged {pledged} within values)"))
        elif (int(info[4]), int(info[5])) != (issued, retired):
            out.append(Finding("ticket_conservation", f"slot {slot}",
                               f"getSlot says issued {info[4]}, retired {info[5]}; the events "
                               f"say {issued}, {retired}"))
    return out


def pledge_escrow(f: Folded, r: ChainReads) -> list[Finding]:
    """What the register says is pledged of each asset equals the active pledges' values, and
    the register holds at least that much of a batch."""
    out: list[Finding] = []
    register = r.deployment.address("PledgeRegister") if "PledgeRegister" in \
        r.deployment.contracts else None
    if register is None:
        return out
    assets = {(int(p.args["kind"]), int(p.args["assetId"])) for p in f.pledges.values()}
    for kind, asset in sorted(assets):
        expected = f.active_pledged(kind, asset)
        onchain = int(r.call("PledgeRegister", "pledgedOf", kind, asset))
        what = f"{'batch' if kind == CREDIT else 'slot'} {asset}"
        if onchain != expected:
            out.append(Finding("pledge_escrow", what,
                               f"pledgedOf says {onchain}, active pledges total {expected}"))
        elif kind == CREDIT and r.balances([(register, asset)])[(register, asset)] < expected:
            out.append(Finding("pledge_escrow", what,
                               f"the register holds less than the {expected} pledged"))
    return out


def one_issuance_per_report(f: Folded, r: ChainReads) -> list[Finding]:
    """A verified report is issued once: as a batch or as a ticket slot, never both, never twice."""
    out: list[Finding] = []
    for report, issued in sorted(f.issuances.items()):
        claims = f.report_claims.get(report, [])
        if len(issued) != 1 or len(claims) > 1:
            kinds = ", ".join(e.name for e in issued)
            out.append(Finding("one_issuance_per_report", f"report {report}",
                               f"{len(issued)} issuances ({kinds}), {len(claims)} claims"))
        elif report not in f.report_verified:
            out.append(Finding("one_issuance_per_report", f"report {report}",
                               "issued without a ReportVerified event"))
    return out


def one_settlement_per_trade(f: Folded, r: ChainReads) -> list[Finding]:
    """Each trade id settles once, and the contract knows it as settled."""
    out: list[Finding] = []
    for trade, settled in sorted(f.trades.items()):
        if len(settled) != 1:
            out.append(Finding("one_settlement_per_trade", f"trade {trade}",
                               f"settled {len(settled)} times"))
        elif not r.call("Settlement", "settled", trade):
            out.append(Finding("one_settlement_per_trade", f"trade {trade}",
                               "TradeSettled was emitted but settled() is false"))
    return out


def _ranges(kind: str, asset: int, spans: list[tuple[int, int, str]], consumed: int,
            check: str) -> list[Finding]:
    out: list[Finding] = []
    expected = 1
    for start, amount, what in sorted(spans):
        if start != expected:
            gap = "overlaps" if start < expected else "leaves a gap before"
            out.append(Finding(check, f"{kind} {asset}",
                               f"{what} starts at serial {start}: {gap} serial {expected}"))
        expected = max(expected, start + amount)
    if not out and expected - 1 != consumed:
        out.append(Finding(check, f"{kind} {asset}",
                           f"serials 1..{expected - 1} used, but {consumed} consumed on chain"))
    return out


def serial_ranges(f: Folded, r: ChainReads) -> list[Finding]:
    """Retirement (and cancellation) serial ranges of every batch and slot are disjoint and
    contiguous from 1, ending at what the contract counts as consumed."""
    out: list[Finding] = []
    by_batch: dict[int, list[tuple[int, int, str]]] = {b: [] for b in f.batches}
    for x in f.retirements.values():
        by_batch.setdefault(x.asset, []).append((x.serial_start, x.amount, f"retirement {x.id}"))
    for b, cancels in f.cancellations.items():
        for c in cancels:
            by_batch.setdefault(b, []).append((int(c.args["serialStart"]), int(c.args["amount"]),
                                               f"cancellation {c.args['cancellationId']}"))
    for b, spans in sorted(by_batch.items()):
        view = r.call("CarbonCredits", "getBatch", b)
        out += _ranges("batch", b, spans, int(view[6]) + int(view[7]), "serial_ranges")
    by_slot: dict[int, list[tuple[int, int, str]]] = {s: [] for s in f.slots}
    tickets: list[Retirement] = list(f.ticket_retirements.values())
    for x in tickets:
        by_slot.setdefault(x.asset, []).append((x.serial_start, x.amount,
                                                f"ticket retirement {x.id}"))
    for s, spans in sorted(by_slot.items()):
        info = r.call("ForestTickets", "getSlot", s)
        out += _ranges("slot", s, spans, int(info[5]), "serial_ranges")
    return out


def order_totals(f: Folded, r: ChainReads) -> list[Finding]:
    """Each compensation order's counted total equals the retirements that cite it: every
    RetirementCounted names a Retired of the same holder, batch and amount citing the order's
    case (every TicketRetirementCounted a TicketRetired of the same holder, slot and value),
    and the sums over both registers equal the order's `retiredAmount` and `fulfilled`."""
    out: list[Finding] = []
    for order, ev in sorted(f.orders.items()):
        view: Any = r.call("CompensationOrders", "getOrder", order)
        case = ev.args["caseNumber"]
        amount = value = 0
        for kind, counted, retired, asset in (
                ("retirement", f.counted.get(order, []), f.retirements, "batchId"),
                ("ticket retirement", f.ticket_counted.get(order, []), f.ticket_retirements,
                 "slot")):
            for c in counted:
                rid = int(c.args["retirementId"])
                ret = retired.get(rid)
                if ret is None or (ret.holder, ret.asset, ret.amount, ret.case_reference) != (
                        c.args["holder"], int(c.args[asset]), int(c.args["amount"]), case):
                    out.append(Finding("order_totals", f"order {order}",
                                       f"counted {kind} {rid} does not match a {kind} "
                                       f"citing case {case}"))
                amount += int(c.args["amount"])
                value += int(c.args["value"])
        if (amount, value) != (int(view[6]), int(view[5])):
            out.append(Finding("order_totals", f"order {order}",
                               f"retirements counted total {amount} units / value {value}, the "
                               f"order says retired {view[6]} / fulfilled {view[5]}"))
    return out


CHECKS: dict[str, Check] = {
    "batch_conservation": batch_conservation,
    "balances_match": balances_match,
    "ticket_conservation": ticket_conservation,
    "pledge_escrow": pledge_escrow,
    "one_issuance_per_report": one_issuance_per_report,
    "one_settlement_per_trade": one_settlement_per_trade,
    "serial_ranges": serial_ranges,
    "order_totals": order_totals,
}


def run_checks(f: Folded, r: ChainReads) -> dict[str, list[Finding]]:
    """Every check's findings, by check name (in CHECKS order)."""
    return {name: check(f, r) for name, check in CHECKS.items()}
