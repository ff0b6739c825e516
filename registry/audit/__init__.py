"""The chain-only auditor: rebuilds the registry's state from the contracts' events and calls,
with no SQL index and no API in between, and checks it (docs: README, "Auditing").

`scan` reads the logs, `state` folds them, `checks` names each invariant, `provenance` traces
one object back to its methodology, `sqldiff` compares the chain with an SQL index, and
`run_audit` ties them together."""

from registry.audit.checks import CHECKS, Finding, run_checks
from registry.audit.runner import Auditor, AuditReport, run_audit

__all__ = ["CHECKS", "AuditReport", "Auditor", "Finding", "run_audit", "run_checks"]
