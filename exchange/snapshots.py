"""Snapshots of the exchange's state: typed, versioned, readable by every later version.

    service._capture (under the lock) ─► encode (no lock) ─► journal.write_snapshot
    journal.latest_snapshot ─► decode ─► service._restore, then the journal after it

A snapshot names what it holds (version 2): every order and trade is an object whose members
say what they are, so a field added later is read by name, and a snapshot of an earlier
version (1: orders and trades as positional lists) still restores. The signed order is spelled
as the journal spells it (`Order.to_json`), so there is one spelling of an order on disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exchange.orders import Side, Trade
from exchange.records import OrderRecord, TradeRecord
from exchange.signing import Order

SNAPSHOT_VERSION = 2


@dataclass(frozen=True)
class SavedOrder:
    """An order as a snapshot keeps it (its signature, and what changed since it came)."""

    order_id: int
    order: Order
    signature: bytes
    otype: str
    status: str
    filled: int
    reason: str
    batch_id: int | None  # None: a version-1 snapshot of a sell before class instruments


@dataclass(frozen=True)
class SavedTrade:
    trade: Trade
    batch_id: int
    buy_order: int
    sell_order: int
    status: str
    tx_hash: str
    reason: str
    at_fault: str


def encode(captured: Mapping[str, Any]) -> dict[str, Any]:
    """The snapshot as plain data, from what the service captured under its lock: orders as
    (record, status, filled, reason), trades as (record, status, tx hash, reason, at fault)."""
    return {
        **captured,
        "version": SNAPSHOT_VERSION,
        "orders": [_order(r, status, filled, reason)
                   for r, status, filled, reason in captured["orders"]],
        "trades": [_trade(t, status, tx, reason, fault)
                   for t, status, tx, reason, fault in captured["trades"]],
    }


def orders_of(state: Mapping[str, Any]) -> list[SavedOrder]:
    if state.get("version", 1) >= 2:
        return [SavedOrder(int(o["order_id"]), Order.from_json(o["order"]),
                           bytes.fromhex(o["signature"][2:]), o["type"], o["status"],
                           int(o["filled"]), o["reason"], int(o["batch_id"]))
                for o in state["orders"]]
    saved = []
    for oid, o, sig, otype, status, filled, reason, *rest in state["orders"]:
        saved.append(SavedOrder(oid, Order.from_json(o), bytes.fromhex(sig), otype, status,
                                filled, reason, rest[0] if rest else None))
    return saved


def trades_of(state: Mapping[str, Any]) -> list[SavedTrade]:
    if state.get("version", 1) >= 2:
        return [SavedTrade(_trade_of(t["trade"]), int(t["batch_id"]), int(t["buy_order"]),
                           int(t["sell_order"]), t["status"], t["tx_hash"], t["reason"],
                           t["at_fault"]) for t in state["trades"]]
    saved = []
    for t, batch_id, buy, sell, status, tx, reason, *fault in state["trades"]:
        trade = Trade(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], Side(t[9]),
                      t[10], t[11])
        saved.append(SavedTrade(trade, batch_id, buy, sell, status, tx, reason,
                                fault[0] if fault else ""))
    return saved


def _order(r: OrderRecord, status: str, filled: int, reason: str) -> dict[str, Any]:
    return {"order_id": r.order_id, "order": r.order.to_json(),
            "signature": "0x" + r.signature.hex(), "type": r.otype, "status": status,
            "filled": filled, "reason": reason, "batch_id": r.batch_id}


def _trade(t: TradeRecord, status: str, tx: str, reason: str, fault: str) -> dict[str, Any]:
    return {"trade": {**t.trade._asdict(), "taker_side": int(t.trade.taker_side)},
            "batch_id": t.batch_id, "buy_order": t.buy_order, "sell_order": t.sell_order,
            "status": status, "tx_hash": tx, "reason": reason, "at_fault": fault}


def _trade_of(raw: Mapping[str, Any]) -> Trade:
    return Trade(**{**raw, "taker_side": Side(int(raw["taker_side"]))})
