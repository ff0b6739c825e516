"""Verification of a retirement certificate against the chain, and its verification page.

Verification re-reads everything from the chain, never from the SQL index, so anyone can check
a certificate without trusting the registry's database: the event's record must hash to the
stored hash (what `CarbonCredits.verifyRetirement` checks), sit in a successful transaction's
receipt, use serials the batch has actually consumed, and come from contracts whose code is the
code in the deployment record. A paper's claims (the query its QR code carries, api.certificate
`paper_claims`) are parsed here and compared line by line; when the paper states the whole
record, the contract itself is asked whether it is the one retired.

Apart from api.certificate (reading and printing) because it is a job of its own: the
fulfilment certificate's checks (api.fulfilment_checks) reuse it, record by record.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from eth_utils import is_address, keccak, to_checksum_address

from api.certificate import (
    CST,
    PURPOSE_BY_KEY,
    PURPOSES,
    RetirementFacts,
    certificate_url,
    parse_serial,
    serial_label,
    serial_range_label,
    timestamp_text,
)
from api.fields import MAX_ID
from api.onchain import ChainView
from api.pages import Line, VerificationPage, render_page
from chain.abi import DecodedEvent
from chain.compile import Artifact, compile_contracts
from chain.deploy import CONTRACTS
from chain.structs import Retirement
from core.config import Settings
from core.divisions import division_name
from core.units import AmountError, format_units, to_units


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

    holder: str | None = None
    batch_id: int | None = None
    amount_units: int | None = None
    serial_start: int | None = None
    serial_end: int | None = None
    purpose: str | None = None
    beneficiary: str | None = None
    case_reference: str | None = None
    # a text too long for the QR code is carried as keccak-256 of its UTF-8 (paper_claims)
    beneficiary_hash: str | None = None
    case_reference_hash: str | None = None
    tx_hash: str | None = None

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class ClaimProblem:
    """A claim that is not even well formed (the JSON route answers 422 with `code`)."""

    name: str  # the query parameter
    code: str
    message: str
    value: str


_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
QUERY_TEXT_MAX = 1024  # longest text claim a query may carry


def parse_claims(query: Mapping[str, str | int | None]) -> tuple[Claims, list[ClaimProblem]]:
    """The claims of a verification query (the query parameters of `/verify` and of the page
    the QR code opens), and what is malformed in it. The JSON route refuses a malformed claim
    (422); the page shows it as a failed line, since a person holds that paper."""
    problems: list[ClaimProblem] = []
    out: dict[str, Any] = {}

    def problem(name: str, code: str, message: str) -> None:
        problems.append(ClaimProblem(name, code, message, str(query[name])))

    def text(name: str) -> str | None:
        v = query.get(name)
        return None if v is None else str(v)

    for name in ("beneficiary", "case_reference"):
        out[name] = text(name)
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
    batches: set[int] = set()
    batch_id = query.get("batch_id")
    if batch_id is not None:
        if str(batch_id).isdigit() and 1 <= int(batch_id) <= MAX_ID:
            batches.add(int(batch_id))
        else:
            problem("batch_id", "invalid_batch_id", "batch_id is not a batch number")
    for name in ("serial_start", "serial_end"):
        value = text(name)
        if value is None:
            continue
        try:
            batch, serial = parse_serial(value)
        except ValueError:
            problem(name, "invalid_serial", f"{name} must be a serial number or TH-B…-… label")
            continue
        if serial > 2**128 or (batch is not None and batch > MAX_ID):
            problem(name, "invalid_serial", f"{name} is out of range")
            continue
        out[name] = serial
        if batch is not None:
            batches.add(batch)
    if len(batches) > 1:
        problems.append(ClaimProblem("batch_id", "invalid_serial",
                                     "the serials and batch_id name different batches",
                                     ", ".join(str(b) for b in sorted(batches))))
    elif batches:
        out["batch_id"] = batches.pop()
    for name in ("tx_hash", "beneficiary_hash", "case_reference_hash"):
        value = text(name)
        if value is None:
            continue
        if _HASH.fullmatch(value):
            out[name] = value
        else:
            problem(name, "invalid_hash", f"{name} is not a 32-byte hex hash")
    for name in ("beneficiary", "case_reference"):
        if out[name] is not None and len(out[name]) > QUERY_TEXT_MAX:
            problem(name, "invalid_text", f"{name} is longer than {QUERY_TEXT_MAX} characters")
            out[name] = None
    return Claims(**out), problems


def _keccak_text(text: str | None) -> str | None:
    return None if text is None else "0x" + keccak(text=text).hex()


@dataclass(frozen=True)
class ClaimLine:
    """One line of a paper compared with the chain: what the paper states, what the chain
    records (both as printed), and whether they agree."""

    name: str  # the Claims field
    stated: str
    recorded: str
    ok: bool


def _shown(name: str, value: Any, batch_id: int) -> str:
    if value is None:
        return "—"
    if name == "amount_units":
        return f"{format_units(value)} t CO2e"
    if name in ("serial_start", "serial_end"):
        return serial_label(batch_id, value)
    if name == "purpose" and value in PURPOSE_BY_KEY:
        label = PURPOSES[PURPOSE_BY_KEY[value]]
        return f"{label.zh} {label.en}"
    if name == "batch_id":
        return f"#{value}"
    return str(value)


def claim_lines(facts: RetirementFacts, claims: Claims) -> list[ClaimLine]:
    """Each given claim against what the chain records for the retirement."""
    actual: dict[str, Any] = {
        "beneficiary": facts.beneficiary,
        "amount_units": facts.amount,
        "serial_start": facts.serial_start,
        "serial_end": facts.serial_end,
        "batch_id": facts.batch_id,
        "holder": facts.holder,
        "purpose": PURPOSES[facts.purpose].key,
        "case_reference": facts.case_reference,
        "tx_hash": facts.event.tx_hash if facts.event else None,
        "beneficiary_hash": _keccak_text(facts.beneficiary),
        "case_reference_hash": _keccak_text(facts.case_reference),
    }
    caseless = {"holder", "tx_hash", "beneficiary_hash", "case_reference_hash"}
    out = []
    for name, claimed in claims.given().items():
        recorded = actual[name]
        if name in caseless:
            ok = recorded is not None and str(claimed).lower() == str(recorded).lower()
        else:
            ok = claimed == recorded
        shown = _shown(name, recorded, facts.batch_id)
        if name == "holder" and facts.holder_name:
            shown = f"{facts.holder_name} · {shown}"
        out.append(ClaimLine(name, _shown(name, claimed, facts.batch_id), shown, ok))
    return out


def paper_record(facts: RetirementFacts, claims: Claims) -> Retirement | None:
    """The full record the paper states, when it states all of it (with a long text given by
    its hash standing for the chain's text of that hash); None when a field is missing."""
    def text(plain: str | None, digest: str | None, chain_text: str | None) -> str | None:
        if plain is not None:
            return plain
        if digest is not None and chain_text is not None and \
                digest.lower() == _keccak_text(chain_text):
            return chain_text
        return None

    beneficiary = text(claims.beneficiary, claims.beneficiary_hash, facts.beneficiary)
    case = text(claims.case_reference, claims.case_reference_hash, facts.case_reference)
    if None in (claims.holder, claims.batch_id, claims.amount_units, claims.serial_start,
                claims.purpose, beneficiary, case):
        return None
    assert claims.holder is not None and claims.batch_id is not None
    assert claims.amount_units is not None and claims.serial_start is not None
    assert claims.purpose is not None and beneficiary is not None and case is not None
    return Retirement(
        holder=to_checksum_address(claims.holder), batch_id=claims.batch_id,
        amount=claims.amount_units,
        serial_start=claims.serial_start, purpose=PURPOSE_BY_KEY[claims.purpose],
        beneficiary=beneficiary, case_reference=case,
    )


@functools.cache
def _artifacts() -> dict[str, Artifact]:
    return compile_contracts()


def contract_code_check(view: ChainView) -> Check:
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


def _claim_checks(view: ChainView, facts: RetirementFacts, claims: Claims) -> list[Check]:
    out = [
        Check(f"claim_{line.name}", line.ok,
              "matches the chain" if line.ok else f"the chain records {line.recorded!r}")
        for line in claim_lines(facts, claims)
    ]
    record = paper_record(facts, claims)
    if record is not None:
        # the contract's own verdict on the whole record as printed (CarbonCredits.verifyRetirement)
        ok = view.ledger.verify_retirement(facts.retirement_id, record)
        out.append(Check("paper_record", ok,
                         "CarbonCredits.verifyRetirement accepts the record as stated" if ok
                         else "CarbonCredits.verifyRetirement refuses the record as stated"))
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
        contract_code_check(view),
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
    return checks + _claim_checks(view, facts, claims)


# -- the verification page (where the QR code leads) --------------------------------------

CLAIM_LABELS: dict[str, tuple[str, str]] = {
    "holder": ("注销账户", "Retiring account"),
    "batch_id": ("批次", "Credit batch"),
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
    "retired_event": ("注销事件", "Retired event"),
    "transaction_receipt": ("交易回执", "Transaction receipt"),
    "serials_consumed": ("序列号已由批次消耗", "Serials consumed by the batch"),
}


def _record_rows(facts: RetirementFacts) -> list[tuple[str, str, str]]:
    purpose = PURPOSES[facts.purpose]
    holder = f"{facts.holder_name} · {facts.holder}" if facts.holder_name else facts.holder
    rows = [
        ("注销账户", "Retiring account", holder),
        ("注销数量", "Amount retired", f"{format_units(facts.amount)} t CO2e"),
        ("序列号", "Serial numbers",
         serial_range_label(facts.batch_id, facts.serial_start, facts.serial_end)),
        ("注销用途", "Purpose", f"{purpose.zh} {purpose.en}"),
        ("受益方", "Beneficiary", facts.beneficiary or "—"),
        ("案号", "Case reference", facts.case_reference or "—"),
    ]
    if facts.project is not None:
        code = facts.project.location.division_code
        name = division_name(code)
        place = f"{name.zh} {name.en} ({code})" if name else str(code)
        rows.append(("项目", "Project", f"{facts.project_name or '—'} · {place}"))
    if facts.block_timestamp is not None:
        rows.append(("注销时间", "Retired at",
                     f"{timestamp_text(facts.block_timestamp, CST)} (UTC+8)"))
    if facts.event is not None:
        rows.append(("交易", "Transaction", facts.event.tx_hash))
    return rows


def verification_page(
    settings: Settings, retirement_id: int, facts: RetirementFacts | None,
    claims: Claims, problems: list[ClaimProblem], checks: list[Check],
) -> VerificationPage:
    """The bilingual verification page of a retirement: each claim the QR code carried, as the
    paper states it and as the chain records it, then the chain's own checks."""
    number = f"TH-R{retirement_id:06d}"
    title = ("碳汇注销证明核验", "Retirement certificate verification")
    malformed = [
        Line(*CLAIM_LABELS.get(p.name, (p.name, p.name)), ok=False, stated=p.value,
             recorded=None, detail=p.message)
        for p in problems
    ]
    if facts is None:
        missing = Line("注销记录", "Retirement record", ok=False,
                       detail=f"链上没有编号为 {retirement_id} 的注销记录 · The chain has no "
                       f"retirement {retirement_id}")
        unmatched = [
            Line(*CLAIM_LABELS[name], ok=False, stated=_shown(name, v, claims.batch_id or 0),
                 recorded="—", detail="链上无此记录 · not on the chain")
            for name, v in claims.given().items()
        ]
        return VerificationPage(*title, number=number, found=False,
                                claims=[*malformed, *unmatched], checks=[missing], record=[])
    lines = [
        Line(*CLAIM_LABELS[c.name], ok=c.ok, stated=c.stated, recorded=c.recorded,
             detail="与链上记录一致 · matches the chain" if c.ok
             else "与链上记录不符 · differs from the chain")
        for c in claim_lines(facts, claims)
    ]
    check_lines = [
        Line(*CHECK_LABELS.get(c.name, (c.name, c.name)), ok=c.ok, detail=c.detail)
        for c in checks if not c.name.startswith("claim_")
    ]
    given = claims.given()
    note = ("", "")
    if not given and not problems:
        note = ("此链接未携带证书内容，请将下方链上记录与纸质证书逐项核对。",
                "This link carries no claims: compare the chain's record below with the paper, "
                "line by line.")
    elif paper_record(facts, claims) is None:
        note = ("此链接未携带完整的证书内容，仅核验所载各项。",
                "This link carries only part of the certificate; only those lines are checked.")
    return VerificationPage(
        *title, number=number, found=True, claims=[*malformed, *lines], checks=check_lines,
        record=_record_rows(facts), certificate_url=certificate_url(settings, retirement_id),
        note_zh=note[0], note_en=note[1],
    )


def render_verification(page: VerificationPage) -> str:
    return render_page("verification.html", page=page)
