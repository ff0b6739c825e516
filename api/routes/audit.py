"""The chain-only auditor over HTTP (registry.audit): invariants and provenance.

Answers are rebuilt from the chain node's logs and view calls on every request, never from the
SQL index, so they hold even when the database was altered. Public, like the chain itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import get_ledger
from api.errors import ApiError, not_found
from api.fields import PathId
from registry.audit import Auditor
from registry.audit.provenance import KINDS, UnknownObject

router = APIRouter(prefix="/v1/audit", tags=["audit"])


def _auditor(request: Request) -> Auditor:
    ledger = get_ledger(request)
    return Auditor(ledger.chain, ledger.deployment)


@router.get("/invariants")
def invariants(request: Request) -> dict[str, Any]:
    """Every named invariant over the whole chain: `ok` is false when any check failed, and
    each failing check lists the objects (batch, slot, trade, order, ...) and what differs."""
    return _auditor(request).audit().to_json()


@router.get("/provenance/{kind}/{ident}")
def provenance(kind: str, ident: PathId, request: Request) -> dict[str, Any]:
    """Where a batch, retirement, ticket, pledge or compensation order came from: methodology →
    project → monitoring report (root, attesting oracle nodes, verifier) → issuance →
    transfers and settlements → retirements with their serial ranges."""
    if kind not in KINDS:
        raise ApiError(422, "unknown_provenance_kind",
                       f"kind must be one of {', '.join(KINDS)}", {"kind": kind})
    try:
        return _auditor(request).provenance(kind, ident)
    except UnknownObject as exc:
        raise not_found(kind, exc.ident) from None
