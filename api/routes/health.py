"""Liveness of what the API depends on: the chain node, the database and the index."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import RelayerDep, SessionDep, ViewDep
from registry import queries

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request, session: SessionDep, view: ViewDep,
           relayer: RelayerDep) -> JSONResponse:
    """200 when the chain answers and the database works (503 otherwise), with the chain id,
    latest block, and how many blocks the SQL index is behind (`index_lag`; null before the
    first sync); with the exchange, its journal position, open orders and settlement backlog
    (`exchange`: null when this API runs without it)."""
    body: dict[str, Any] = {"status": "ok", "chain_reachable": False, "chain_id": None,
                            "latest_block": None, "db_ok": False, "index_lag": None,
                            "indexed_to_block": None,
                            "deployment_block": view.ledger.deployment.block,
                            "relayer": relayer.account.address if relayer.account else None}
    head = None
    try:
        head = int(view.chain.w3.eth.block_number)
        body.update(chain_reachable=True, chain_id=view.chain.chain_id, latest_block=head)
    except Exception as exc:  # the node is down or unreachable: report, do not fail
        body["chain_error"] = type(exc).__name__
    try:
        session.execute(text("SELECT 1"))
        status = queries.index_status(session, head)
        body.update(db_ok=True, index_lag=status["index_lag"],
                    indexed_to_block=status["indexed_to_block"])
    except Exception as exc:  # database unreachable or not migrated
        body["db_error"] = type(exc).__name__
    exchange = getattr(request.app.state, "exchange", None)
    body["exchange"] = exchange.status() if exchange is not None else None
    healthy = body["chain_reachable"] and body["db_ok"]
    body["status"] = "ok" if healthy else "degraded"
    return JSONResponse(body, status_code=200 if healthy else 503)
