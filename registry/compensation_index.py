"""How CompensationOrders and CompensationOffers events change the SQL index.

The handlers take the block range's `RangeWriter` (registry.events) like the others: orders and
offers are entities events overwrite; timeline steps and counted retirements are rows appended
in chain order, credits' and forest tickets' in tables of their own (the two registers number
their retirements apart). An order's `fulfilled` total is the contract's own running total,
copied from each `RetirementCounted` or `TicketRetirementCounted`, never summed here, so the
index cannot drift from the chain.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection

from chain.abi import DecodedEvent
from registry.compensation import OrderStatus
from registry.compensation import Unit as OrderUnit
from registry.index_values import BIGINT_MAX, Entities


class RangeWriter(Protocol):
    """What these handlers use of registry.events.RangeWriter (named here so that the two
    modules do not import each other)."""

    @property
    def conn(self) -> Connection: ...
    @property
    def orders(self) -> Entities: ...
    @property
    def offers(self) -> Entities: ...
    @property
    def order_events(self) -> list[dict[str, Any]]: ...
    @property
    def order_retirements(self) -> list[dict[str, Any]]: ...
    @property
    def order_ticket_retirements(self) -> list[dict[str, Any]]: ...




def _terms(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "unit": OrderUnit(int(t["unit"])).name.lower(),
        "required": int(t["required"]),
        "category_mask": int(t["categoryMask"]),
        "regions": [int(r) for r in t["regions"]],
        "vintage_from": int(t["vintageFrom"]),
        "vintage_to": None if int(t["vintageTo"]) > BIGINT_MAX else int(t["vintageTo"]),
        "deadline": int(t["deadline"]),
        "parties": list(t["parties"]),
        "party_names": [str(n) for n in t["partyNames"]],
        "authority_pays": bool(t["authorityPays"]),
        "document_hash": t["documentHash"],
    }


def _step(w: RangeWriter, ev: DecodedEvent, ts: int, order_id: int, kind: str,
          details: dict[str, Any]) -> None:
    w.order_events.append(
        {
            "block_number": ev.block_number,
            "log_index": ev.log_index,
            "order_id": order_id,
            "kind": kind,
            "details": details,
            "tx_hash": ev.tx_hash,
            "block_timestamp": ts,
        }
    )


def order_registered(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    oid = int(a["orderId"])
    w.orders.create(
        oid,
        {
            "id": oid,
            "case_number": str(a["caseNumber"]),
            "case_hash": a["caseHash"],
            "authority": a["authority"],
            **_terms(a["terms"]),
            "fulfilled": 0,
            "retired_amount": 0,
            "status": OrderStatus.OPEN.name.lower(),
            "tx_hash": ev.tx_hash,
            "block_number": ev.block_number,
            "block_timestamp": ts,
        },
    )
    _step(w, ev, ts, oid, "registered", dict(a))


def order_amended(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    oid = int(a["orderId"])
    w.orders.require(w.conn, oid, ev).update(_terms(a["terms"]))
    _step(w, ev, ts, oid, "amended", dict(a))


def order_closed(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    oid = int(a["orderId"])
    w.orders.require(w.conn, oid, ev)["status"] = OrderStatus.CLOSED.name.lower()
    _step(w, ev, ts, oid, "closed", dict(a))


def retirement_counted(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    oid = int(a["orderId"])
    order = w.orders.require(w.conn, oid, ev)
    order["fulfilled"] = int(a["fulfilled"])
    order["retired_amount"] += int(a["amount"])
    if order["status"] == OrderStatus.OPEN.name.lower():
        order["status"] = OrderStatus.PARTLY_FULFILLED.name.lower()
    w.order_retirements.append(
        {
            "retirement_id": int(a["retirementId"]),
            "order_id": oid,
            "holder": a["holder"],
            "batch_id": int(a["batchId"]),
            "amount": int(a["amount"]),
            "value": int(a["value"]),
            "tx_hash": ev.tx_hash,
            "block_number": ev.block_number,
            "block_timestamp": ts,
        }
    )
    _step(w, ev, ts, oid, "counted", dict(a))


def ticket_retirement_counted(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    """A forest-ticket retirement counted: the order's totals as for credits, the row in its
    own table (ticket retirement ids are ForestTickets', apart from credits')."""
    a = ev.args
    oid = int(a["orderId"])
    order = w.orders.require(w.conn, oid, ev)
    order["fulfilled"] = int(a["fulfilled"])
    order["retired_amount"] += int(a["amount"])
    if order["status"] == OrderStatus.OPEN.name.lower():
        order["status"] = OrderStatus.PARTLY_FULFILLED.name.lower()
    w.order_ticket_retirements.append(
        {
            "retirement_id": int(a["retirementId"]),
            "order_id": oid,
            "holder": a["holder"],
            "slot": int(a["slot"]),
            "amount": int(a["amount"]),
            "serial_start": int(a["serialStart"]),
            "value": int(a["value"]),
            "tx_hash": ev.tx_hash,
            "block_number": ev.block_number,
            "block_timestamp": ts,
        }
    )
    _step(w, ev, ts, oid, "ticket_counted", dict(a))


def order_fulfilled(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    oid = int(a["orderId"])
    w.orders.require(w.conn, oid, ev)["status"] = OrderStatus.FULFILLED.name.lower()
    _step(w, ev, ts, oid, "fulfilled", dict(a))


def offer_made(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    fid = int(a["offerId"])
    w.offers.create(
        fid,
        {
            "id": fid,
            "order_id": int(a["orderId"]),
            "seller": a["seller"],
            "batch_id": int(a["batchId"]),
            "amount": int(a["amount"]),
            "remaining": int(a["amount"]),
            "price_fen_per_tonne": int(a["priceFenPerTonne"]),
            "expiry": int(a["expiry"]),
            "status": "open",
            "tx_hash": ev.tx_hash,
            "block_number": ev.block_number,
        },
    )
    _step(w, ev, ts, int(a["orderId"]), "offer_made", dict(a))


def offer_withdrawn(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    fid = int(ev.args["offerId"])
    offer = w.offers.require(w.conn, fid, ev)
    offer["status"] = "withdrawn"
    _step(w, ev, ts, int(offer["order_id"]), "offer_withdrawn", dict(ev.args))


def offer_taken(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    fid = int(a["offerId"])
    offer = w.offers.require(w.conn, fid, ev)
    offer["remaining"] -= int(a["amount"])
    if offer["remaining"] == 0:
        offer["status"] = "taken"
    _step(w, ev, ts, int(offer["order_id"]), "offer_taken", dict(a))


HANDLERS = {
    ("CompensationOrders", "OrderRegistered"): order_registered,
    ("CompensationOrders", "OrderAmended"): order_amended,
    ("CompensationOrders", "OrderClosed"): order_closed,
    ("CompensationOrders", "RetirementCounted"): retirement_counted,
    ("CompensationOrders", "TicketRetirementCounted"): ticket_retirement_counted,
    ("CompensationOrders", "OrderFulfilled"): order_fulfilled,
    ("CompensationOffers", "OfferMade"): offer_made,
    ("CompensationOffers", "OfferWithdrawn"): offer_withdrawn,
    ("CompensationOffers", "OfferTaken"): offer_taken,
}
