"""Builders for chain fixtures used across tests: a methodology, an approved project, a
verified report and an issued batch, each made through the real contracts."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from registry.ledger import Ledger, Location

_codes = itertools.count(1)
_periods = itertools.count(0)

PERIOD = 30 * 86400
BASE_TIME = 1_577_836_800  # 2020-01-01


def h(tag: str) -> bytes:
    """A recognisable non-zero 32-byte hash for test documents."""
    from eth_utils import keccak

    return keccak(text=tag)


@dataclass
class Issued:
    methodology_id: int
    project_id: int
    report_id: int
    batch_id: int
    quantity: int
    buffer: int


def approved_methodology(ledger: Ledger, acc: dict[str, LocalAccount],
                         buffer_bps: int = 1000) -> int:
    m = ledger.register_methodology(acc["operator"], f"TEST-{next(_codes):04d}", "Test methodology",
                                    h("doc"), h("params"), buffer_bps)
    ledger.approve_methodology(acc["regulator"], m.id)
    return m.id


def approved_project(ledger: Ledger, acc: dict[str, LocalAccount], methodology_id: int,
                     developer: str = "developer") -> int:
    parcel = int(ledger.chain.call(ledger.c("ProjectRegistry").functions.projectCount())) + 1
    p = ledger.register_project(
        acc[developer], "钦州茅尾海红树林修复 Maowei Sea mangrove", methodology_id,
        Location(450702, 21_783_000, 108_562_000, 2_500_000, h(f"boundary/{parcel}")),
        BASE_TIME, BASE_TIME + 40 * 365 * 86400, h("pdd"),
    )
    ledger.validate_project(acc["verifier"], p.id, h("validation"))
    ledger.approve_project(acc["regulator"], p.id, h("approval"))
    return p.id


def verified_report(ledger: Ledger, acc: dict[str, LocalAccount], project_id: int,
                    quantity: int, verified: int | None = None) -> int:
    k = next(_periods)
    start, end = BASE_TIME + k * PERIOD, BASE_TIME + (k + 1) * PERIOD
    r = ledger.attest(acc["oracle1"], project_id, start, end, h(f"root{k}"), quantity, h(f"rep{k}"))
    ledger.attest(acc["oracle2"], project_id, start, end, h(f"root{k}"), quantity, h(f"rep{k}"))
    ledger.verify_report(acc["verifier"], r.id, verified or quantity, h(f"ver{k}"))
    return r.id


def issued_batch(ledger: Ledger, acc: dict[str, LocalAccount], quantity: int = 1_000_000_000,
                 buffer_bps: int = 1000) -> Issued:
    m = approved_methodology(ledger, acc, buffer_bps)
    p = approved_project(ledger, acc, m)
    r = verified_report(ledger, acc, p, quantity)
    b = ledger.issue(acc["operator"], r)
    batch = ledger.batch(b.id)
    return Issued(m, p, r, b.id, quantity, int(batch["buffer"]))
