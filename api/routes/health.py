"""Health of the API and what it depends on (the chain node, the database, the index), split
the way orchestrators probe a service: `/health/live` (the process answers: restart it if
not), `/health/ready` (it can serve: route traffic to it), and `/health`, the same checks as
ready with every detail; the server's time at `/v1/time`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import RelayerDep, SessionDep, ViewDep
from api.onchain import ChainView
from core.version import VERSION
from registry import queries

router = APIRouter(tags=["health"])

# The index serves rows of blocks the chain does not have: reads would be wrong, not just late.
INDEX_UNHEALTHY = frozenset({"ahead_of_chain", "fork_detected"})


class LiveOut(BaseModel):
    status: str
    version: str


class TimeOut(BaseModel):
    server_time_ms: int
    iso: str


@router.get("/health/live", response_model=LiveOut)
def live() -> dict[str, str]:
    """200 while the process answers, whatever its dependencies do (nothing is called)."""
    return {"status": "alive", "version": VERSION}


@router.get("/v1/time", response_model=TimeOut)
def server_time() -> dict[str, object]:
    """The server's clock (UTC, milliseconds since the epoch and ISO 8601): what a trader's
    client compares its own clock with before signing expiries."""
    ms = time.time_ns() // 1_000_000
    return {"server_time_ms": ms,
            "iso": datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")}


@router.get("/health/ready")
def ready(request: Request, session: SessionDep, view: ViewDep,
          relayer: RelayerDep) -> JSONResponse:
    """200 when the API can serve (the checks of `/health`), 503 `degraded` otherwise."""
    return health(request, session, view, relayer)


@router.get("/health")
def health(request: Request, session: SessionDep, view: ViewDep,
           relayer: RelayerDep) -> JSONResponse:
    """200 when the chain answers, the database works and the index agrees with the chain
    (503 `degraded` otherwise), with the chain id, latest block, and how many blocks the SQL
    index is behind (`index_lag`; null before the first sync). `index_status` says how the
    index stands against the chain: `ok`, `behind` (still catching up: healthy),
    `ahead_of_chain` (the chain went backwards) or `fork_detected` (the chain has another block
    at the indexed height), judged by comparing the hash the index stored for its last block
    (`index_block_hash`) with the chain's (`chain_block_hash`); `not_indexed` before the first
    sync, `unknown` while the chain or the database does not answer. The indexer rewinds on its
    next poll (`index_rewinds` counts how often it did). With the exchange, its journal
    position, open orders and settlement backlog (`exchange`: null when this API runs
    without it)."""
    body: dict[str, Any] = {"status": "ok", "version": VERSION, "chain_reachable": False,
                            "chain_id": None,
                            "latest_block": None, "db_ok": False, "index_lag": None,
                            "indexed_to_block": None, "index_status": "unknown",
                            "index_block_hash": None, "chain_block_hash": None,
                            "index_rewinds": None,
                            "deployment_block": view.ledger.deployment.block,
                            "relayer": relayer.account.address if relayer.account else None}
    head = None
    try:
        head = int(view.chain.w3.eth.block_number)
        body.update(chain_reachable=True, chain_id=view.chain.chain_id, latest_block=head)
    except Exception as exc:  # the node is down or unreachable: report, do not fail
        body["chain_error"] = type(exc).__name__
    status = None
    try:
        session.execute(text("SELECT 1"))
        status = queries.index_status(session, head)
        body.update(db_ok=True, index_lag=status["index_lag"],
                    indexed_to_block=status["indexed_to_block"],
                    index_block_hash=status["indexed_block_hash"],
                    index_rewinds=status["rewinds"])
    except Exception as exc:  # database unreachable or not migrated
        body["db_error"] = type(exc).__name__
    if status is not None and head is not None:
        try:
            body.update(_agreement(view, status, head))
        except Exception as exc:  # the node stopped answering between the two calls
            body.update(chain_reachable=False, chain_error=type(exc).__name__)
    exchange = getattr(request.app.state, "exchange", None)
    body["exchange"] = exchange.reads.status() if exchange is not None else None
    healthy = (body["chain_reachable"] and body["db_ok"]
               and body["index_status"] not in INDEX_UNHEALTHY)
    body["status"] = "ok" if healthy else "degraded"
    return JSONResponse(body, status_code=200 if healthy else 503)


def _agreement(view: ChainView, status: dict[str, Any], head: int) -> dict[str, Any]:
    """The chain's hash of the indexed-to block (one eth_getBlockByNumber) and the verdict."""
    indexed_to = status["indexed_to_block"]
    chain_hash = None
    if indexed_to is not None and 0 <= indexed_to <= head:
        block = view.chain.rpc("eth_getBlockByNumber", hex(indexed_to), False)
        chain_hash = None if block is None else str(block["hash"]).lower()
    verdict = queries.chain_agreement(status, head, chain_hash, view.ledger.deployment.block)
    return {"index_status": verdict, "chain_block_hash": chain_hash}
