"""The audit as one call: scan the logs, fold them, read the chain at the scanned head, run the
named checks, and answer provenance and record-proof questions from the same state."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from chain.client import Chain
from chain.deploy import Deployment
from registry.audit.checks import CHECKS, Finding
from registry.audit.provenance import provenance
from registry.audit.reads import ChainReads
from registry.audit.scan import LogScanner, Progress
from registry.audit.state import Folded, fold


@dataclass
class AuditReport:
    """What an audit found: per check its failures; `ok` when none failed."""

    head: int
    events: int
    seconds: float
    checks: dict[str, list[Finding]]
    counts: dict[str, int] = field(default_factory=dict)
    index_diff: dict[str, Any] | None = None

    @property
    def failures(self) -> list[Finding]:
        return [x for found in self.checks.values() for x in found]

    @property
    def ok(self) -> bool:
        return not self.failures and (self.index_diff is None or bool(self.index_diff["clean"]))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "head": self.head, "events": self.events,
            "seconds": round(self.seconds, 3), "counts": self.counts,
            "checks": [{"name": n, "passed": not found,
                        "failures": [x.to_json() for x in found]}
                       for n, found in self.checks.items()],
            "index_diff": self.index_diff,
        }


def _counts(f: Folded) -> dict[str, int]:
    return {"batches": len(f.batches), "retirements": len(f.retirements),
            "slots": len(f.slots), "tickets": len(f.token_slot),
            "ticket_retirements": len(f.ticket_retirements), "trades": len(f.trades),
            "orders": len(f.orders), "pledges": len(f.pledges),
            "holdings": sum(len(h) for h in f.balances.values())}


class Auditor:
    """A deployment audited from a chain node alone."""

    def __init__(self, chain: Chain, deployment: Deployment, page_blocks: int = 5_000) -> None:
        self.chain = chain
        self.deployment = deployment
        self.scanner = LogScanner(chain, deployment, page_blocks)
        self._state: tuple[Folded, ChainReads] | None = None

    def load(self, progress: Progress | None = None) -> tuple[Folded, ChainReads]:
        """Scans and folds once (up to the head at the time); later calls reuse it."""
        if self._state is None:
            head = self.scanner.head()
            folded = fold(self.scanner.scan(head, progress))
            self._state = (folded, ChainReads(self.chain, self.deployment, head))
        return self._state

    def audit(self, progress: Progress | None = None, db_url: str | None = None) -> AuditReport:
        started = time.perf_counter()
        f, r = self.load(progress)
        found = {name: check(f, r) for name, check in CHECKS.items()}
        diff = None
        if db_url is not None:
            from registry.audit.sqldiff import diff_index
            diff = diff_index(self.chain, self.deployment, db_url)
        return AuditReport(r.block, len(f.events), time.perf_counter() - started, found,
                           _counts(f), diff)

    def provenance(self, kind: str, ident: int) -> dict[str, Any]:
        f, r = self.load()
        return provenance(f, r, kind, ident)

    def prove_record(self, report_id: int, record: bytes, proof: list[bytes]) -> dict[str, Any]:
        """Whether `record` (canonical bytes) is committed to by report `report_id`'s attested
        root: the contract's own `verifyRecord`, beside the root the attestations carried."""
        f, r = self.load()
        attested = f.report_attested.get(report_id)
        if attested is None:
            from registry.audit.provenance import UnknownObject
            raise UnknownObject("attested report", report_id)
        on_chain = bool(r.call("MonitoringReports", "verifyRecord", report_id, record, proof))
        return {"report_id": report_id, "merkle_root": attested.args["merkleRoot"],
                "leaf": "0x" + keccak(keccak(record)).hex(), "proof_length": len(proof),
                "verified": on_chain,
                "attested_by": [a.args["node"] for a in f.attestations.get(report_id, [])
                                if a.args["merkleRoot"] == attested.args["merkleRoot"]]}


def run_audit(chain: Chain, deployment: Deployment, db_url: str | None = None,
              progress: Progress | None = None) -> AuditReport:
    """Every check over the whole chain (and the SQL diff with `db_url`)."""
    return Auditor(chain, deployment).audit(progress, db_url)
