"""Verification of a fulfilment certificate against the chain, and its verification page.

The paper's claims come back as the query its QR code carries (api.fulfilment
`fulfilment_claims`): the case number (or its hash), the unit, required and fulfilled as
printed, the counted retirements as `id:tonnes` pairs (or their hash and count). Each is
parsed, then checked against the order the chain holds; the chain's own checks follow: the
order is as registered, the chain and contract code are the deployment's, the counted logs add
up to the order's total, and every counted retirement's record verifies as a retirement
certificate's does (api.certificate_checks, and `CarbonCredits.verifyRetirement`).

Apart from api.fulfilment (reading and printing) because checking a paper is a job of its own,
with its own parsing and its own page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.certificate import serial_range_label
from api.certificate_checks import Claims as RetirementClaims
from api.certificate_checks import contract_code_check, verify_retirement
from api.fulfilment import (
    STATUS_LABELS,
    UNIT_LABELS,
    CountedLog,
    FulfilmentCertificate,
    OrderFacts,
    certificate_number,
    certificate_of,
    claim_unit,
    fulfilment_certificate_url,
    quantity_text,
    retirements_text,
    text_hash,
)
from api.fulfilment_tickets import TicketCountedLog
from api.onchain import ChainView
from api.pages import Line, VerificationPage
from api.ticket_certificate import ticket_serial_range_label
from api.ticket_certificate_checks import counted_ticket_problems
from core.config import Settings
from core.divisions import division_name
from core.units import AmountError, format_units, to_units
from registry.ledger import Purpose

# -- the paper's claims ----------------------------------------------------------------------

FULFILMENT_PARAMS = ("case_number", "case_number_hash", "unit", "required", "fulfilled",
                     "retirements", "retirements_hash", "retirement_count", "tickets",
                     "tickets_hash", "ticket_count")
MAX_LISTED = 256  # retirements a query may list (a longer list travels as its hash)
QUERY_TEXT_MAX = 8192  # longest claim a query may carry
_DECIMAL = re.compile(r"[0-9]{1,30}(\.[0-9]{1,30})?")
_PAIR = re.compile(r"([1-9][0-9]{0,29}):([0-9]{1,30}(?:\.[0-9]{1,30})?)")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class FulfilmentClaims:
    """What a paper fulfilment certificate states; each given field is checked on chain.
    Amounts are kept as printed and read in the stated unit (or the order's, if none is
    stated) when compared."""

    case_number: str | None = None
    case_number_hash: str | None = None
    unit: str | None = None  # tonnes | cny
    required: str | None = None
    fulfilled: str | None = None
    retirements: tuple[tuple[int, int], ...] | None = None  # (retirement id, micro-tonnes)
    retirements_hash: str | None = None
    retirement_count: int | None = None
    # forest-ticket retirements (ForestTickets' ids), as the credits' are listed
    tickets: tuple[tuple[int, int], ...] | None = None
    tickets_hash: str | None = None
    ticket_count: int | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, f) is None for f in FULFILMENT_PARAMS)


@dataclass(frozen=True)
class ClaimProblem:
    """A claim that is not even well formed (the JSON route answers 422 with `code`)."""

    name: str
    code: str
    message: str
    value: str


def parse_fulfilment_claims(
    query: Mapping[str, str | None],
) -> tuple[FulfilmentClaims, list[ClaimProblem]]:
    """The claims of a verification query, and what is malformed in it (the JSON route refuses
    a malformed claim, 422; the page shows it as a failed line)."""
    problems: list[ClaimProblem] = []
    out: dict[str, Any] = {}

    def problem(name: str, code: str, message: str) -> None:
        problems.append(ClaimProblem(name, code, message, str(query.get(name))[:200]))

    def text(name: str) -> str | None:
        v = query.get(name)
        if v is None:
            return None
        if len(v) > QUERY_TEXT_MAX:
            problem(name, "invalid_text", f"{name} is longer than {QUERY_TEXT_MAX} characters")
            return None
        return v

    case = text("case_number")
    if case is not None:
        out["case_number"] = case
    for name in ("case_number_hash", "retirements_hash", "tickets_hash"):
        v = text(name)
        if v is None:
            continue
        if _HASH.fullmatch(v):
            out[name] = v.lower()
        else:
            problem(name, "invalid_hash", f"{name} is not a 32-byte hex hash")
    unit = text("unit")
    if unit is not None:
        if unit in UNIT_LABELS:
            out["unit"] = unit
        else:
            problem("unit", "invalid_unit", "unit must be tonnes or cny")
    for name in ("required", "fulfilled"):
        v = text(name)
        if v is None:
            continue
        if _DECIMAL.fullmatch(v):
            out[name] = v
        else:
            problem(name, "invalid_amount", f"{name} is not a decimal amount")
    for name in ("retirement_count", "ticket_count"):
        count = text(name)
        if count is not None:
            if count.isdigit() and len(count) <= 9:
                out[name] = int(count)
            else:
                problem(name, "invalid_count", f"{name} is not a count")
    for name in ("retirements", "tickets"):
        listed = text(name)
        if listed is not None:
            pairs = _pairs(listed)
            if isinstance(pairs, str):
                problem(name, f"invalid_{name}", pairs)
            else:
                out[name] = pairs
    return FulfilmentClaims(**out), problems


def _pairs(text: str) -> tuple[tuple[int, int], ...] | str:
    """`7:200,8:126.4` -> ((7, 200_000_000), (8, 126_400_000)); a message when malformed."""
    if text == "":
        return ()
    items = text.split(",")
    if len(items) > MAX_LISTED:
        return f"more than {MAX_LISTED} retirements listed (use retirements_hash)"
    out: list[tuple[int, int]] = []
    for item in items:
        m = _PAIR.fullmatch(item.strip())
        if m is None:
            return "retirements must be id:tonnes pairs separated by commas, e.g. 7:200,8:126.4"
        try:
            amount = to_units(m.group(2))
        except AmountError as exc:
            return f"retirement {m.group(1)}: {exc}"
        out.append((int(m.group(1)), amount))
    ids = [rid for rid, _ in out]
    if len(set(ids)) != len(ids):
        return "a retirement is listed twice"
    return tuple(out)


def _parse_amount(unit: str, text: str) -> int | None:
    """A stated amount in `unit` (micro-tonnes, or fen); None if it cannot be one."""
    if unit == "tonnes":
        try:
            return to_units(text)
        except AmountError as exc:  # nothing fulfilled yet is "0", which to_units refuses
            return 0 if exc.code == "amount_not_positive" else None
    whole, _, frac = text.partition(".")
    if len(frac) > 2 and frac[2:].strip("0"):
        return None
    return int(whole) * 100 + int((frac + "00")[:2])


# -- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyLine:
    """One line of the verification: a claim of the paper (with what it states and what the
    chain records) or a check of the chain's own, with a stable `name` for programs."""

    name: str
    label_zh: str
    label_en: str
    ok: bool
    stated: str | None = None
    recorded: str | None = None
    detail: str = ""

    def line(self) -> Line:
        return Line(self.label_zh, self.label_en, ok=self.ok, stated=self.stated,
                    recorded=self.recorded, detail=self.detail)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ok": self.ok, "detail": self.detail}
        if self.stated is not None or self.recorded is not None:
            out["stated"], out["recorded"] = self.stated, self.recorded
        return out


MATCHES = "与链上记录一致 · matches the chain"
DIFFERS = "与链上记录不符 · differs from the chain"


def _retirement_label(rid: int) -> tuple[str, str]:
    return f"注销 TH-R{rid:06d}", f"Retirement TH-R{rid:06d}"


def record_problems(view: ChainView, facts: OrderFacts, c: CountedLog) -> list[str]:
    """What is wrong with a counted retirement's record on chain (empty: it verifies): the
    retirement certificate's checks, the contract's own verdict on the record
    (CarbonCredits.verifyRetirement), and agreement with what the order counted."""
    r = facts.records.get(c.retirement_id)
    if r is None:
        return ["链上没有此注销记录 · the chain has no such retirement"]
    out = [f"{check.name}: {check.detail}"
           for check in verify_retirement(view, r, RetirementClaims())
           if not check.ok and check.name not in ("chain_id", "contract_code")]
    record = view.retirement(c.retirement_id)
    if record is None or not view.ledger.verify_retirement(c.retirement_id, record.retirement):
        out.append("CarbonCredits.verifyRetirement 拒绝此记录 · refuses the record")
    differs = [name for name, chain, counted in (
        ("holder", r.holder, c.holder), ("batch", r.batch_id, c.batch_id),
        ("amount", r.amount, c.amount)) if chain != counted]
    if differs:
        out.append("与计入事件不符 · differs from RetirementCounted: " + ", ".join(differs))
    if r.case_reference != facts.order.case_number:
        out.append("案号不符 · the record cites another case")
    if r.purpose != Purpose.ECOLOGICAL_COMPENSATION:
        out.append("用途不是生态环境损害赔偿 · not retired for ecological compensation")
    return out


def verify_fulfilment(view: ChainView, facts: OrderFacts, claims: FulfilmentClaims,
                      problems: list[ClaimProblem]) -> tuple[list[VerifyLine], list[VerifyLine]]:
    """Each claim of the paper against the chain, then the chain's own checks of the order and
    of every retirement counted toward it: (claims, checks). Valid when every line passes."""
    o = facts.order
    chain_unit = claim_unit(facts.unit)
    claim_lines: list[VerifyLine] = [
        VerifyLine(p.name, *CLAIM_LABELS.get(p.name, (p.name, p.name)), ok=False,
                   stated=p.value, detail=p.message)
        for p in problems
    ]

    def claim(name: str, stated: str, recorded: str, ok: bool, detail: str = "") -> None:
        claim_lines.append(VerifyLine(name, *CLAIM_LABELS[name], ok=ok, stated=stated,
                                      recorded=recorded,
                                      detail=detail or (MATCHES if ok else DIFFERS)))

    if claims.case_number is not None:
        claim("case_number", claims.case_number, o.case_number,
              claims.case_number == o.case_number)
    if claims.case_number_hash is not None:
        claim("case_number_hash", claims.case_number_hash, text_hash(o.case_number),
              claims.case_number_hash == text_hash(o.case_number))
    unit = claims.unit or chain_unit
    if claims.unit is not None:
        claim("unit", " ".join(UNIT_LABELS[claims.unit]), " ".join(UNIT_LABELS[chain_unit]),
              claims.unit == chain_unit)
    for name, recorded in (("required", o.terms.required), ("fulfilled", o.fulfilled)):
        text = getattr(claims, name)
        if text is None:
            continue
        value = _parse_amount(unit, text)
        stated = quantity_text(unit, value) if value is not None else text
        if value is None:
            claim(name, stated, quantity_text(chain_unit, recorded), False,
                  f"不是有效的{UNIT_LABELS[unit][0]}数额 · not an amount of {UNIT_LABELS[unit][1]}")
        else:
            claim(name, stated, quantity_text(chain_unit, recorded),
                  unit == chain_unit and value == recorded)

    counted = {c.retirement_id: c for c in facts.counted}
    bad_records = {c.retirement_id: record_problems(view, facts, c) for c in facts.counted}
    if claims.retirements is not None:
        for rid, amount in claims.retirements:
            claim_lines.append(_listed_line(view, facts, counted, bad_records, rid, amount))
    chain_list = retirements_text([(c.retirement_id, c.amount) for c in facts.counted])
    if claims.retirements_hash is not None:
        claim("retirements_hash", claims.retirements_hash, text_hash(chain_list),
              claims.retirements_hash == text_hash(chain_list))
    if claims.retirement_count is not None:
        claim("retirement_count", str(claims.retirement_count), str(len(facts.counted)),
              claims.retirement_count == len(facts.counted))
    bad_tickets = {t.retirement_id: counted_ticket_problems(
        view, facts.ticket_records.get(t.retirement_id), o.case_number, t.holder, t.slot,
        t.amount, t.serial_start) for t in facts.ticket_counted}
    tickets = {t.retirement_id: t for t in facts.ticket_counted}
    for rid, amount in claims.tickets or ():
        claim_lines.append(_listed_ticket_line(tickets, bad_tickets, rid, amount))
    ticket_list = retirements_text([(t.retirement_id, t.amount) for t in facts.ticket_counted])
    if claims.tickets_hash is not None:
        claim("tickets_hash", claims.tickets_hash, text_hash(ticket_list),
              claims.tickets_hash == text_hash(ticket_list))
    if claims.ticket_count is not None:
        claim("ticket_count", str(claims.ticket_count), str(len(facts.ticket_counted)),
              claims.ticket_count == len(facts.ticket_counted))

    return claim_lines, _checks(view, facts, claims, bad_records, bad_tickets)


def _ticket_label(rid: int) -> tuple[str, str]:
    return f"林业碳票注销 TH-TR{rid:06d}", f"Forest ticket retirement TH-TR{rid:06d}"


def _listed_ticket_line(tickets: dict[int, TicketCountedLog], bad: dict[int, list[str]],
                        rid: int, amount: int) -> VerifyLine:
    """A ticket retirement the paper lists: counted toward this order, verifying, of the
    amount the paper states."""
    label, stated = _ticket_label(rid), f"{format_units(amount)} t CO2e"
    t = tickets.get(rid)
    if t is None:
        return VerifyLine(f"ticket:{rid}", *label, ok=False, stated=stated, recorded="—",
                          detail="该林业碳票注销未计入本案 · not counted toward this order")
    serials = ticket_serial_range_label(t.slot, t.serial_start, t.serial_start + t.amount - 1)
    recorded = f"{format_units(t.amount)} t CO2e · {serials}"
    problems = []
    if amount != t.amount:
        problems.append("数量不符 · the amount differs from the chain")
    if bad[rid]:
        problems.append("链上记录未通过核验 · its record on the chain does not verify")
    return VerifyLine(f"ticket:{rid}", *label, ok=not problems, stated=stated,
                      recorded=recorded,
                      detail="；".join(problems) if problems else
                      "已计入本案，记录经合约核验 · counted toward this order; its record verifies")


def _listed_line(view: ChainView, facts: OrderFacts, counted: dict[int, CountedLog],
                 bad_records: dict[int, list[str]], rid: int, amount: int) -> VerifyLine:
    """A retirement the paper lists: it must exist, be counted toward this order, verify, and
    be the amount the paper states."""
    label = _retirement_label(rid)
    stated = f"{format_units(amount)} t CO2e"
    c = counted.get(rid)
    if c is None:
        exists = view.retirement(rid) is not None
        detail = ("该注销未计入本案 · not counted toward this order" if exists
                  else "链上没有此注销记录 · the chain has no such retirement")
        return VerifyLine(f"retirement:{rid}", *label, ok=False, stated=stated,
                          recorded="—", detail=detail)
    r = facts.records.get(rid)
    recorded = f"{format_units(c.amount)} t CO2e"
    if r is not None:
        recorded += f" · {serial_range_label(r.batch_id, r.serial_start, r.serial_end)}"
    problems = []
    if amount != c.amount:
        problems.append("数量不符 · the amount differs from the chain")
    if bad_records[rid]:
        problems.append("链上记录未通过核验 · its record on the chain does not verify")
    detail = ("已计入本案，记录经合约核验 · counted toward this order; its record verifies"
              if not problems else "；".join(problems))
    return VerifyLine(f"retirement:{rid}", *label, ok=not problems, stated=stated,
                      recorded=recorded, detail=detail)


def _checks(view: ChainView, facts: OrderFacts, claims: FulfilmentClaims,
            bad_records: dict[int, list[str]],
            bad_tickets: dict[int, list[str]]) -> list[VerifyLine]:
    o = facts.order
    deployment = view.ledger.deployment
    code = contract_code_check(view)
    checks = [
        VerifyLine("order_recorded", *CHECK_LABELS["order_recorded"], ok=facts.registered,
                   detail=f"OrderRegistered({o.order_id}) at {facts.contract} agrees with "
                   "getOrder" if facts.registered
                   else "no single OrderRegistered log agrees with the order the chain holds"),
        VerifyLine("chain_id", *CHECK_LABELS["chain_id"],
                   ok=view.chain.chain_id == deployment.chain_id,
                   detail=f"chain {view.chain.chain_id}, deployment record for chain "
                   f"{deployment.chain_id}"),
        VerifyLine("contract_code", *CHECK_LABELS["contract_code"], ok=code.ok,
                   detail=code.detail),
    ]
    # credit and ticket counts interleave in chain order; each log carries the running total
    logs: list[CountedLog | TicketCountedLog] = sorted(
        [*facts.counted, *facts.ticket_counted], key=lambda c: (c.block_number, c.log_index))
    total_value = sum(c.value for c in logs)
    total_amount = sum(c.amount for c in logs)
    running, steady = 0, True
    for c in logs:
        running += c.value
        steady = steady and c.fulfilled == running
    ok = total_value == o.fulfilled and total_amount == o.retired_amount and steady
    unit = facts.unit
    checks.append(VerifyLine(
        "counted_totals", *CHECK_LABELS["counted_totals"], ok=ok,
        detail=f"{len(facts.counted)} RetirementCounted and {len(facts.ticket_counted)} "
        "TicketRetirementCounted logs add up to "
        f"{quantity_text(unit, total_value)} ({format_units(total_amount)} t retired), as the "
        "order records" if ok else f"the logs add up to {quantity_text(unit, total_value)} "
        f"({format_units(total_amount)} t), the order records "
        f"{quantity_text(unit, o.fulfilled)} ({format_units(o.retired_amount)} t)"))
    if claims.retirements is not None:
        listed = {rid for rid, _ in claims.retirements}
        missing = [c.retirement_id for c in facts.counted if c.retirement_id not in listed]
        checks.append(VerifyLine(
            "all_counted_listed", *CHECK_LABELS["all_counted_listed"], ok=not missing,
            detail="证书列出了计入本案的每一笔注销 · the paper lists every retirement counted"
            if not missing else "证书遗漏了计入本案的注销 · the paper leaves out "
            + ", ".join(f"TH-R{rid:06d}" for rid in missing)))
    for c in facts.counted:
        bad = bad_records[c.retirement_id]
        zh, en = _retirement_label(c.retirement_id)
        checks.append(VerifyLine(
            f"retirement_record:{c.retirement_id}", f"{zh} 链上记录", f"{en}: record on chain",
            ok=not bad,
            detail="记录哈希、注销事件、交易回执、序列号均经核验，合约 verifyRetirement 接受 · "
            "record hash, Retired event, receipt and serials check out; "
            "CarbonCredits.verifyRetirement accepts it" if not bad else "；".join(bad)))
    if claims.tickets is not None:
        listed = {rid for rid, _ in claims.tickets}
        missing = [t.retirement_id for t in facts.ticket_counted if t.retirement_id not in listed]
        checks.append(VerifyLine(
            "all_tickets_listed", *CHECK_LABELS["all_tickets_listed"], ok=not missing,
            detail="证书列出了计入本案的每一笔林业碳票注销 · the paper lists every ticket "
            "retirement counted" if not missing else "证书遗漏了计入本案的林业碳票注销 · the "
            "paper leaves out " + ", ".join(f"TH-TR{rid:06d}" for rid in missing)))
    for t in facts.ticket_counted:
        bad = bad_tickets[t.retirement_id]
        zh, en = _ticket_label(t.retirement_id)
        checks.append(VerifyLine(
            f"ticket_record:{t.retirement_id}", f"{zh} 链上记录", f"{en}: record on chain",
            ok=not bad,
            detail="注销事件、交易回执、序列号均经核验，合约 verifyRetirement 接受 · "
            "TicketRetired event, receipt and serials check out; "
            "ForestTickets.verifyRetirement accepts it" if not bad else "；".join(bad)))
    return checks


CLAIM_LABELS: dict[str, tuple[str, str]] = {
    "case_number": ("案号", "Case number"),
    "case_number_hash": ("案号（哈希）", "Case number (hash)"),
    "unit": ("计量单位", "Unit"),
    "required": ("履行要求", "Required"),
    "fulfilled": ("已履行", "Fulfilled"),
    "retirements": ("计入的注销", "Retirements counted"),
    "retirements_hash": ("计入的注销（哈希）", "Retirements counted (hash)"),
    "retirement_count": ("计入的注销笔数", "Number of retirements counted"),
    "tickets": ("计入的林业碳票注销", "Forest ticket retirements counted"),
    "tickets_hash": ("计入的林业碳票注销（哈希）", "Forest ticket retirements counted (hash)"),
    "ticket_count": ("计入的林业碳票注销笔数", "Number of forest ticket retirements counted"),
}
CHECK_LABELS: dict[str, tuple[str, str]] = {
    "order": ("本案订单", "Order record"),
    "order_recorded": ("订单登记事件与链上订单一致", "The order is as registered"),
    "chain_id": ("区块链", "Chain"),
    "contract_code": ("合约代码与部署记录一致", "Contract code is the deployed code"),
    "counted_totals": ("计入合计与订单一致", "Counted retirements add up to the order's total"),
    "all_counted_listed": ("无遗漏的计入注销", "No counted retirement left out"),
    "all_tickets_listed": ("无遗漏的林业碳票注销", "No counted ticket retirement left out"),
}


def _record_rows(c: FulfilmentCertificate) -> list[tuple[str, str, str]]:
    status = STATUS_LABELS.get(c.status, (c.status, c.status))
    authority = f"{c.authority_name} · {c.authority}" if c.authority_name else c.authority
    rows = [
        ("案号", "Case number", c.case_number),
        ("决定机关", "Authority", authority),
        ("赔偿义务人", "Liable parties", "；".join(c.party_names)),
        ("履行要求", "Required", c.quantity(c.required)),
        ("已履行", "Fulfilled", c.quantity(c.fulfilled)),
        ("尚余", "Remaining", c.quantity(c.remaining)),
        ("状态", "Status", f"{status[0]} {status[1]}"),
    ]
    for r in c.retirements:
        name = division_name(r.division_code)
        place = f"{name.zh} {name.en} ({r.division_code})" if name else str(r.division_code)
        who = f"{r.holder_name} · {r.holder}" if r.holder_name else r.holder
        rows.append((*_retirement_label(r.retirement_id),
                     f"{r.amount} t CO2e · {r.serial_range} · {who} · "
                     f"{r.project_name or '—'} · {place} · {r.tx_hash}"))
    for t in c.ticket_retirements:
        name = division_name(t.division_code)
        place = f"{name.zh} {name.en} ({t.division_code})" if name else str(t.division_code)
        who = f"{t.holder_name} · {t.holder}" if t.holder_name else t.holder
        rows.append((*_ticket_label(t.retirement_id),
                     f"林业碳票 forest carbon ticket · {t.amount} t CO2e · {t.serial_range} · "
                     f"{who} · {t.rights_certificate or '—'} · {place} · {t.tx_hash}"))
    return rows


def verification_page(settings: Settings, order_id: int, facts: OrderFacts | None,
                      claims: FulfilmentClaims, problems: list[ClaimProblem],
                      lines: tuple[list[VerifyLine], list[VerifyLine]] | None,
                      ) -> VerificationPage:
    """The bilingual verification page of an order's fulfilment certificate."""
    title = ("生态环境损害赔偿履行证明核验", "Compensation fulfilment certificate verification")
    number = certificate_number(order_id)
    if facts is None or lines is None:
        malformed = [Line(*CLAIM_LABELS.get(p.name, (p.name, p.name)), ok=False, stated=p.value,
                          detail=p.message) for p in problems]
        missing = Line(*CHECK_LABELS["order"], ok=False,
                       detail=f"链上没有编号为 {order_id} 的赔偿订单 · The chain has no "
                       f"compensation order {order_id}")
        return VerificationPage(*title, number=number, found=False, claims=malformed,
                                checks=[missing], record=[])
    claim_lines, checks = lines
    note = ("", "")
    if claims.empty and not problems:
        note = ("此链接未携带证书内容，请将下方链上记录与纸质证书逐项核对。",
                "This link carries no claims: compare the chain's record below with the paper, "
                "line by line.")
    return VerificationPage(
        *title, number=number, found=True, claims=[x.line() for x in claim_lines],
        checks=[x.line() for x in checks], record=_record_rows(certificate_of(facts)),
        certificate_url=fulfilment_certificate_url(settings, order_id),
        note_zh=note[0], note_en=note[1],
    )
