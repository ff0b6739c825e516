"""Verification of a forest-ticket retirement certificate against the chain, and its page.

The same discipline as the credit certificate's checks (api.certificate_checks, whose contract
code check and page frame this reuses): everything is re-read from the chain, never from the SQL
index. The `TicketRetired` event's record must be what ForestTickets stores the hash of
(`verifyRetirement`), sit in a successful transaction's receipt, use serials the slot has
actually consumed, and come from contracts whose code is the deployment record's. A paper's
claims (the query its QR code carries, api.ticket_certificate `ticket_paper_claims`) are
compared line by line; when the paper states the whole record, the contract itself is asked
whether it is the one retired.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from eth_utils import is_address, keccak, to_checksum_address

from api.certificate import CST, PURPOSE_BY_KEY, PURPOSES, timestamp_text
from api.certificate_checks import QUERY_TEXT_MAX, Check, ClaimProblem, contract_code_check
from api.fields import MAX_ID
from api.onchain import ChainView
from api.pages import Line, VerificationPage
from api.ticket_certificate import (
    TicketRetirementFacts,
    certificate_number,
    parse_ticket_serial,
    ticket_certificate_url,
    ticket_serial_label,
)
from chain.structs import TicketRetirement
from core.config import Settings
from core.divisions import division_name
from core.units import AmountError, format_units, to_units
from registry.tickets import Tickets

VERIFY_PARAMS = ("holder", "token_id", "slot", "amount", "serial_start", "serial_end",
                 "purpose", "beneficiary", "case_reference", "tx_hash", "beneficiary_hash",
                 "case_reference_hash")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class TicketClaims:
    """What a paper ticket certificate states; each given field is checked against the chain."""

    holder: str | None = None
    token_id: int | None = None
    slot: int | None = None
    amount_units: int | None = None
    serial_start: int | None = None
    serial_end: int | None = None
    purpose: str | None = None
    beneficiary: str | None = None
    case_reference: str | None = None
    beneficiary_hash: str | None = None
    case_reference_hash: str | None = None
    tx_hash: str | None = None

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


def parse_ticket_claims(
        query: Mapping[str, str | int | None]) -> tuple[TicketClaims, list[ClaimProblem]]:
    """The claims of a verification query and what is malformed in it (the JSON route refuses
    a malformed claim with 422 and its code; the page shows it as a failed line)."""
    problems: list[ClaimProblem] = []
    out: dict[str, Any] = {}

    def text(name: str) -> str | None:
        v = query.get(name)
        return None if v is None else str(v)

    def problem(name: str, code: str, message: str) -> None:
        problems.append(ClaimProblem(name, code, message, str(query[name])))

    for name in ("beneficiary", "case_reference"):
        value = text(name)
        if value is not None and len(value) > QUERY_TEXT_MAX:
            problem(name, "invalid_text", f"{name} is longer than {QUERY_TEXT_MAX} characters")
        else:
            out[name] = value
    amount = text("amount")
    if amount is not None:
        try:
            out["amount_units"] = to_units(amount)
        except AmountError as exc:
            problem("amount", exc.code, str(exc))
    holder = text("holder")
    if holder is not None:
        if is_address(holder):
            out["holder"] = holder
        else:
            problem("holder", "invalid_address", "holder is not an address")
    purpose = text("purpose")
    if purpose is not None:
        if purpose in PURPOSE_BY_KEY:
            out["purpose"] = purpose
        else:
            problem("purpose", "invalid_purpose", "unknown purpose")
    for name, code in (("token_id", "invalid_token_id"), ("slot", "invalid_slot")):
        value = text(name)
        if value is None:
            continue
        if value.isdigit() and 1 <= int(value) <= MAX_ID:
            out[name] = int(value)
        else:
            problem(name, code, f"{name} is not a positive id")
    slots = {out["slot"]} if "slot" in out else set()
    for name in ("serial_start", "serial_end"):
        value = text(name)
        if value is None:
            continue
        try:
            slot, serial = parse_ticket_serial(value)
        except ValueError:
            problem(name, "invalid_serial", f"{name} must be a serial number or TH-T…-… label")
            continue
        if serial > 2**128 or (slot is not None and slot > MAX_ID):
            problem(name, "invalid_serial", f"{name} is out of range")
            continue
        out[name] = serial
        if slot is not None:
            slots.add(slot)
    if len(slots) > 1:
        problems.append(ClaimProblem("slot", "invalid_serial",
                                     "the serials and slot name different slots",
                                     ", ".join(str(s) for s in sorted(slots))))
    elif slots:
        out["slot"] = slots.pop()
    for name in ("tx_hash", "beneficiary_hash", "case_reference_hash"):
        value = text(name)
        if value is None:
            continue
        if _HASH.fullmatch(value):
            out[name] = value
        else:
            problem(name, "invalid_hash", f"{name} is not a 32-byte hex hash")
    return TicketClaims(**out), problems


def _keccak_text(text: str) -> str:
    return "0x" + keccak(text=text).hex()


def _shown(name: str, value: Any, slot: int) -> str:
    if value is None:
        return "—"
    if name == "amount_units":
        return f"{format_units(value)} t CO2e"
    if name in ("serial_start", "serial_end"):
        return ticket_serial_label(slot, value)
    if name == "purpose" and value in PURPOSE_BY_KEY:
        label = PURPOSES[PURPOSE_BY_KEY[value]]
        return f"{label.zh} {label.en}"
    if name in ("token_id", "slot"):
        return f"#{value}"
    return str(value)


@dataclass(frozen=True)
class ClaimLine:
    name: str
    stated: str
    recorded: str
    ok: bool


def claim_lines(facts: TicketRetirementFacts, claims: TicketClaims) -> list[ClaimLine]:
    """Each given claim against what the chain records for the retirement."""
    r = facts.record
    actual: dict[str, Any] = {
        "holder": r.holder, "token_id": r.token_id, "slot": r.slot, "amount_units": r.value,
        "serial_start": r.serial_start, "serial_end": facts.serial_end,
        "purpose": PURPOSES[r.purpose].key, "beneficiary": r.beneficiary,
        "case_reference": r.case_reference, "tx_hash": facts.event.tx_hash,
        "beneficiary_hash": _keccak_text(r.beneficiary),
        "case_reference_hash": _keccak_text(r.case_reference),
    }
    caseless = {"holder", "tx_hash", "beneficiary_hash", "case_reference_hash"}
    out = []
    for name, claimed in claims.given().items():
        recorded = actual[name]
        ok = (str(claimed).lower() == str(recorded).lower() if name in caseless
              else claimed == recorded)
        shown = _shown(name, recorded, r.slot)
        if name == "holder" and facts.holder_name:
            shown = f"{facts.holder_name} · {shown}"
        out.append(ClaimLine(name, _shown(name, claimed, r.slot), shown, ok))
    return out


def paper_record(facts: TicketRetirementFacts, claims: TicketClaims) -> TicketRetirement | None:
    """The full record the paper states, when it states all of it (a long text given by its
    hash stands for the chain's text of that hash); None when a field is missing."""
    def text(plain: str | None, digest: str | None, chain_text: str) -> str | None:
        if plain is not None:
            return plain
        if digest is not None and digest.lower() == _keccak_text(chain_text):
            return chain_text
        return None

    beneficiary = text(claims.beneficiary, claims.beneficiary_hash, facts.record.beneficiary)
    case = text(claims.case_reference, claims.case_reference_hash, facts.record.case_reference)
    if claims.holder is None or claims.token_id is None or claims.slot is None or \
            claims.amount_units is None or claims.serial_start is None or \
            claims.purpose is None or beneficiary is None or case is None:
        return None
    return TicketRetirement(
        holder=to_checksum_address(claims.holder), token_id=claims.token_id, slot=claims.slot,
        value=claims.amount_units, serial_start=claims.serial_start,
        purpose=PURPOSE_BY_KEY[claims.purpose], beneficiary=beneficiary, case_reference=case,
    )


def verify_ticket_retirement(view: ChainView, facts: TicketRetirementFacts,
                             claims: TicketClaims) -> list[Check]:
    """Independent checks of a ticket retirement against the chain; valid when all pass."""
    deployment = view.ledger.deployment
    contract = deployment.address("ForestTickets")
    r, ev = facts.record, facts.event
    checks = [
        Check("retirement_recorded", facts.record_matches,
              f"ForestTickets.verifyRetirement({facts.retirement_id}) at {contract} accepts "
              "the TicketRetired event's record" if facts.record_matches
              else "the TicketRetired event's record does not hash to what the chain stores"),
        Check("chain_id", view.chain.chain_id == deployment.chain_id,
              f"chain {view.chain.chain_id}, deployment record for chain {deployment.chain_id}"),
        contract_code_check(view),
    ]
    receipt, events = view.receipt_events(ev.tx_hash)
    in_receipt = [e for e in events if e.name == "TicketRetired" and e.address == contract
                  and e.args.get("retirementId") == facts.retirement_id]
    ok = int(receipt["status"]) == 1 and len(in_receipt) == 1 and in_receipt[0].args == ev.args
    checks.append(Check("transaction_receipt", ok,
                        f"successful transaction {ev.tx_hash} carries the event" if ok
                        else f"transaction {ev.tx_hash} does not carry this retirement"))
    s = facts.slot
    ok = s is not None and r.serial_start >= 1 and facts.serial_end <= s.retired <= s.issued
    checks.append(Check(
        "serials_consumed", ok,
        f"serials {r.serial_start}–{facts.serial_end} within the {s.retired} retired of slot "
        f"{r.slot}" if ok and s is not None else "serial range is not within the slot's "
        "retired serials"))
    for line in claim_lines(facts, claims):
        checks.append(Check(f"claim_{line.name}", line.ok, "matches the chain" if line.ok
                            else f"the chain records {line.recorded!r}"))
    record = paper_record(facts, claims)
    if record is not None:
        ok = Tickets(view.ledger).verify_retirement(facts.retirement_id, record)
        checks.append(Check("paper_record", ok,
                            "ForestTickets.verifyRetirement accepts the record as stated" if ok
                            else "ForestTickets.verifyRetirement refuses the record as stated"))
    return checks


# -- the verification page (where the QR code leads) --------------------------------------

CLAIM_LABELS: dict[str, tuple[str, str]] = {
    "holder": ("注销账户", "Retiring account"),
    "token_id": ("碳票", "Ticket"),
    "slot": ("监测报告（碳票批次）", "Monitoring report (ticket slot)"),
    "amount_units": ("注销数量", "Amount retired"),
    "amount": ("注销数量", "Amount retired"),
    "serial_start": ("起始序列号", "First serial"),
    "serial_end": ("终止序列号", "Last serial"),
    "purpose": ("注销用途", "Purpose"),
    "beneficiary": ("受益方", "Beneficiary"),
    "beneficiary_hash": ("受益方（哈希）", "Beneficiary (hash)"),
    "case_reference": ("案号", "Case reference"),
    "case_reference_hash": ("案号（哈希）", "Case reference (hash)"),
    "tx_hash": ("交易哈希", "Transaction hash"),
}
CHECK_LABELS: dict[str, tuple[str, str]] = {
    "paper_record": ("证书所载记录经合约核验", "The record as stated, verified by the contract"),
    "retirement_recorded": ("注销记录与链上哈希一致", "The record hashes to what the chain stores"),
    "chain_id": ("区块链", "Chain"),
    "contract_code": ("合约代码与部署记录一致", "Contract code is the deployed code"),
    "transaction_receipt": ("交易回执", "Transaction receipt"),
    "serials_consumed": ("序列号已由碳票批次消耗", "Serials consumed by the ticket slot"),
}


def _record_rows(facts: TicketRetirementFacts) -> list[tuple[str, str, str]]:
    r = facts.record
    purpose = PURPOSES[r.purpose]
    holder = f"{facts.holder_name} · {r.holder}" if facts.holder_name else r.holder
    rows = [
        ("注销账户", "Retiring account", holder),
        ("注销数量", "Amount retired", f"{format_units(r.value)} t CO2e"),
        ("序列号", "Serial numbers", facts.serial_range),
        ("注销用途", "Purpose", f"{purpose.zh} {purpose.en}"),
        ("受益方", "Beneficiary", r.beneficiary or "—"),
        ("案号", "Case reference", r.case_reference or "—"),
    ]
    if facts.slot is not None:
        code = facts.slot.division_code
        name = division_name(code)
        place = f"{name.zh} {name.en} ({code})" if name else str(code)
        rows.append(("林地", "Forest parcel",
                     f"{facts.slot.rights_certificate} · {facts.project_name or '—'} · {place}"))
    rows.append(("注销时间", "Retired at", f"{timestamp_text(facts.block_timestamp, CST)} (UTC+8)"))
    rows.append(("交易", "Transaction", facts.event.tx_hash))
    return rows


def ticket_verification_page(
    settings: Settings, retirement_id: int, facts: TicketRetirementFacts | None,
    claims: TicketClaims, problems: list[ClaimProblem], checks: list[Check],
) -> VerificationPage:
    """The bilingual verification page of a ticket retirement, in the shared page frame."""
    title = ("林业碳票注销证明核验", "Forest carbon ticket retirement certificate verification")
    number = certificate_number(retirement_id)
    malformed = [Line(*CLAIM_LABELS.get(p.name, (p.name, p.name)), ok=False, stated=p.value,
                      recorded=None, detail=p.message) for p in problems]
    if facts is None:
        missing = Line("注销记录", "Retirement record", ok=False,
                       detail=f"链上没有编号为 {retirement_id} 的林业碳票注销记录 · The chain "
                       f"has no ticket retirement {retirement_id}")
        unmatched = [Line(*CLAIM_LABELS[name], ok=False,
                          stated=_shown(name, v, claims.slot or 0), recorded="—",
                          detail="链上无此记录 · not on the chain")
                     for name, v in claims.given().items()]
        return VerificationPage(*title, number=number, found=False,
                                claims=[*malformed, *unmatched], checks=[missing], record=[])
    lines = [Line(*CLAIM_LABELS[c.name], ok=c.ok, stated=c.stated, recorded=c.recorded,
                  detail="与链上记录一致 · matches the chain" if c.ok
                  else "与链上记录不符 · differs from the chain")
             for c in claim_lines(facts, claims)]
    check_lines = [Line(*CHECK_LABELS.get(c.name, (c.name, c.name)), ok=c.ok, detail=c.detail)
                   for c in checks if not c.name.startswith("claim_")]
    note = ("", "")
    if not claims.given() and not problems:
        note = ("此链接未携带证书内容，请将下方链上记录与纸质证书逐项核对。",
                "This link carries no claims: compare the chain's record below with the paper, "
                "line by line.")
    elif paper_record(facts, claims) is None:
        note = ("此链接未携带完整的证书内容，仅核验所载各项。",
                "This link carries only part of the certificate; only those lines are checked.")
    return VerificationPage(
        *title, number=number, found=True, claims=[*malformed, *lines], checks=check_lines,
        record=_record_rows(facts),
        certificate_url=ticket_certificate_url(settings, retirement_id),
        note_zh=note[0], note_en=note[1],
    )


# -- a ticket retirement counted toward a compensation order (api.fulfilment_checks) --------


def counted_ticket_problems(view: ChainView, facts: TicketRetirementFacts | None,
                            case_number: str, holder: str, slot: int, amount: int,
                            serial_start: int) -> list[str]:
    """What is wrong with a ticket retirement an order counted (empty: it verifies): the ticket
    certificate's checks, agreement with `TicketRetirementCounted`, the order's case cited and
    ecological compensation as purpose."""
    if facts is None:
        return ["链上没有此林业碳票注销记录 · the chain has no such ticket retirement"]
    out = [f"{check.name}: {check.detail}"
           for check in verify_ticket_retirement(view, facts, TicketClaims())
           if not check.ok and check.name not in ("chain_id", "contract_code")]
    r = facts.record
    differs = [name for name, chain, counted in (
        ("holder", r.holder, holder), ("slot", r.slot, slot), ("amount", r.value, amount),
        ("serial_start", r.serial_start, serial_start)) if chain != counted]
    if differs:
        out.append("与计入事件不符 · differs from TicketRetirementCounted: " + ", ".join(differs))
    if r.case_reference != case_number:
        out.append("案号不符 · the record cites another case")
    if r.purpose != PURPOSE_BY_KEY["ecological_compensation"]:
        out.append("用途不是生态环境损害赔偿 · not retired for ecological compensation")
    return out
