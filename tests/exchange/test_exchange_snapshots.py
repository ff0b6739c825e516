"""Snapshots are typed and versioned (exchange/snapshots.py): what a snapshot holds is read by
name, and a snapshot written by the earlier version (positional lists) restores the same."""

from __future__ import annotations

from eth_utils import to_checksum_address

from exchange import snapshots
from exchange.orders import Side, Trade
from exchange.records import OrderRecord, TradeRecord
from exchange.signing import Order

TRADER = to_checksum_address("0x" + "ab" * 20)
ORDER = Order(TRADER, 1, 11, 60_000, 5_000_000, 0, 7, 1_800_000_000, b"\x01" * 32, batch_id=3,
              max_fee_bps=20)
RECORD = OrderRecord(4, ORDER, b"\x02" * 65, b"\x03" * 32, "limit", batch_id=3)
TRADE = TradeRecord(Trade("11", 9, 2, 60_000, 1_000_000, 4, 5, "0x" + "cd" * 20, ORDER.trader,
                          Side.BUY, 1_700_000_000_000, "continuous"), 3, 5, 4)


def captured() -> dict[str, object]:
    return {"orders": [(RECORD, "open", 1_000_000, "")],
            "trades": [(TRADE, "failed", "", "ERC1155InsufficientBalance", "seller")]}


def test_a_snapshot_says_its_version_and_names_its_members() -> None:
    state = snapshots.encode(captured())
    assert state["version"] == snapshots.SNAPSHOT_VERSION
    [order] = state["orders"]  # type: ignore[misc]
    assert order["order"]["client_order_id"] == "0x" + "01" * 32 and order["status"] == "open"


def test_orders_and_trades_come_back_as_they_were_saved() -> None:
    state = snapshots.encode(captured())
    [o] = snapshots.orders_of(state)
    [t] = snapshots.trades_of(state)
    assert (o.order_id, o.order, o.signature, o.filled, o.batch_id) == (
        4, ORDER, b"\x02" * 65, 1_000_000, 3)
    assert (t.trade, t.status, t.reason, t.at_fault) == (
        TRADE.trade, "failed", "ERC1155InsufficientBalance", "seller")


def test_a_snapshot_of_the_earlier_positional_version_still_restores() -> None:
    v1 = {"orders": [[4, {**vars(ORDER), "client_order_id": ORDER.client_order_id.hex()},
                      (b"\x02" * 65).hex(), "limit", "open", 1_000_000, "", 3]],
          "trades": [[list(TRADE.trade), 3, 5, 4, "failed", "", "ERC1155InsufficientBalance",
                      "seller"]]}
    assert snapshots.orders_of(v1) == snapshots.orders_of(snapshots.encode(captured()))
    assert snapshots.trades_of(v1) == snapshots.trades_of(snapshots.encode(captured()))
