"""Exchange operations on trades: failing a stuck trade by hand (exchange/operator.py).

`POST /v1/exchange/trades/{trade_id}/fail` with the operator's reason: the trade, still pending,
is journaled as failed and both sides' reservations are released; a trade the chain has settled
(`Settlement.settled`) is journaled as settled instead and refused (409
`trade_settled_on_chain`). Exchange.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from api.auth import CallerDep, require_role
from api.deps import SettlementDep, ViewDep
from api.errors import ApiError
from api.fields import STRICT
from exchange.operator import MAX_REASON, fail_trade
from exchange.service import ExchangeService

router = APIRouter(prefix="/v1/exchange", tags=["exchange"])

TradeId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


class FailIn(BaseModel):
    model_config = STRICT

    reason: str = Field(min_length=1, max_length=MAX_REASON)


@router.post("/trades/{trade_id}/fail")
def fail(trade_id: TradeId, body: FailIn, request: Request, caller: CallerDep,
         view: ViewDep, settlement: SettlementDep) -> dict[str, Any]:
    """Fails a pending trade that must not settle, with the operator's reason. Exchange."""
    service: ExchangeService | None = getattr(request.app.state, "exchange", None)
    if service is None:
        raise ApiError(503, "exchange_unavailable", "this API runs without the exchange")
    require_role(view, caller, "EXCHANGE")
    return fail_trade(service, settlement, trade_id, body.reason)
