"""Public reads of compensation orders: the list, one order, an order by its case number, and
its timeline. A court's order is a public record, so no API key is needed. One order is read
from the chain (no index lag); lists and timelines from the index.

Its own module because reading orders is a job apart from acting on them
(api.routes.compensation); it is included after the orders' and offers' routers, as these
routes always came after theirs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.compensation_terms import OrderOut, present
from api.deps import CompensationDep, SessionDep, SettingsDep, ViewDep
from api.errors import ApiError
from api.fields import PathId, checksum_path_address
from api.routes.compensation import OrdersPage, StatusName, chain_now, order_out, require_order
from registry import compensation_queries as cq

router = APIRouter(prefix="/v1/compensation", tags=["ecological compensation"])


class TimelineStep(BaseModel):
    kind: str
    block_number: int
    log_index: int
    tx_hash: str
    block_timestamp: int
    details: dict[str, Any]


@router.get("/orders", response_model=OrdersPage)
def list_orders(
    session: SessionDep, view: ViewDep, settings: SettingsDep,
    authority: str | None = Query(None, max_length=42),
    status: StatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> dict[str, Any]:
    """Registered orders, newest first, optionally of one authority or in one status (from the
    index). Orders are public: a court's order is a public record."""
    who = checksum_path_address(authority) if authority is not None else None
    page = cq.list_orders(session, chain_now(view), authority=who, status=status, limit=limit,
                          offset=offset)
    page["items"] = [present(r, settings) for r in page["items"]]
    return dict(page)


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: PathId, comp: CompensationDep, settings: SettingsDep) -> dict[str, Any]:
    """One order as the chain holds it now, with its status (overdue once past the deadline
    unfulfilled), and the links to its fulfilment certificate and verification page."""
    return order_out(comp, order_id, settings)


@router.get("/cases", response_model=OrderOut)
def order_of_case(
    comp: CompensationDep, settings: SettingsDep,
    number: Annotated[str, Query(min_length=1, max_length=128)],
) -> dict[str, Any]:
    """Looks an order up by its case number, e.g. `（2026）桂07民初123号`."""
    order_id = comp.order_of_case(number)
    if not order_id:
        raise ApiError(404, "case_not_found", f"no order is registered for case {number}",
                       {"case_number": number})
    return order_out(comp, order_id, settings)


@router.get("/orders/{order_id}/timeline", response_model=list[TimelineStep])
def timeline(order_id: PathId, session: SessionDep, comp: CompensationDep) -> list[dict[str, Any]]:
    """Every step of the order in chain order: registered, amended, each retirement counted,
    offers, fulfilled or closed (from the index)."""
    require_order(comp, order_id)
    return cq.order_timeline(session, order_id)
