"""What the exchange keeps per instrument, order and trade, and how each reads to a client.

The service's state is made of these records; the engine keeps its own (book.py). A record's
`view` is its one spelling for the API, the archive and the journal's readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exchange.instruments import InstrumentClass, InstrumentSpec, TicketClass
from exchange.orders import Side, Trade
from exchange.signing import Order


@dataclass(frozen=True)
class MemberLimits:
    """Per-member pre-trade limits (the same for every member; 0 = no limit)."""

    max_order_quantity: int = 0  # credit units per order
    max_open_orders: int = 0  # resting orders per member across instruments


@dataclass
class Listing:
    """An instrument as the exchange trades it: engine spec + what settles on chain."""

    spec: InstrumentSpec
    batch_id: int  # the batch delivered (spot per batch); 0 for a class
    # a class: any eligible batch delivers (a TicketClass: any eligible forest ticket, whose
    # token id stands for the batch in orders, records and fills)
    credit_class: InstrumentClass | None = None
    # the previous close: the last price of continuous trading or an auction (block trades
    # do not count), and the China-time trading day it traded on; `reference_day` is the day
    # the reference was last set (listing, the exchange's status call, or the daily roll)
    last_price: int = 0
    last_day: int = 0
    reference_day: int = 0
    # the trade that set the close (0: from before the trades in memory), and the close before
    # the trades in memory: where the close goes back to if its trades fail settlement
    last_trade: int = 0
    base_price: int = 0
    base_day: int = 0

    @property
    def tickets(self) -> bool:
        """Whether the instrument delivers forest tickets (its batch ids are ticket ids)."""
        return isinstance(self.credit_class, TicketClass)

    def credit_batch(self, batch_id: int) -> int:
        """`batch_id` where a credit batch is meant (freezes), 0 for a ticket instrument."""
        return 0 if self.tickets else batch_id


Finished = tuple[list["OrderRecord"], list["TradeRecord"]]  # (orders, trades) to archive


@dataclass(frozen=True)
class Held:
    """What the chain says a trader holds for one order (read before the lock)."""

    ready: bool  # approved the settlement contract for credits and cash
    cash: int  # for a buy
    credits: dict[int, int]  # for a sell: balance of each batch it could deliver
    frozen: str | None = None  # account_frozen | batch_frozen: the chain says so


@dataclass
class OrderRecord:
    order_id: int
    order: Order
    signature: bytes
    digest: bytes
    otype: str
    status: str = "new"  # new | open | filled | cancelled | expired | rejected
    filled: int = 0
    reason: str = ""
    resting: bool = False
    batch_id: int = 0  # a sell's delivery batch (the instrument's, or chosen in its class)

    def view(self) -> dict[str, Any]:
        o = self.order
        return {"order_id": self.order_id, "trader": o.trader, "instrument": o.instrument,
                "side": "buy" if o.side == Side.BUY else "sell", "batch_id": o.batch_id,
                "price": o.price, "quantity": o.quantity, "max_fee_bps": o.max_fee_bps,
                "retire_for": o.retire_for,
                "time_in_force": ("gtc", "ioc", "fok")[o.time_in_force],
                "type": self.otype, "nonce": o.nonce, "expiry": o.expiry,
                "client_order_id": "0x" + o.client_order_id.hex(),
                "order_hash": "0x" + self.digest.hex(), "status": self.status,
                "filled": self.filled, "remaining": o.quantity - self.filled if (
                    self.status in ("new", "open")) else 0, "reason": self.reason,
                "delivery_batch": self.batch_id if o.side == Side.SELL else None}


@dataclass
class TradeRecord:
    trade: Trade
    batch_id: int
    buy_order: int
    sell_order: int
    status: str = "pending"  # pending | settled | failed
    tx_hash: str = ""
    reason: str = ""  # why it failed: the contract's error, or the operator's reason
    at_fault: str = ""  # the side that error names ("buyer", "seller"), "" if neither

    def view(self) -> dict[str, Any]:
        t = self.trade
        return {"trade_id": t.trade_id, "instrument": int(t.instrument), "price": t.price,
                "quantity": t.quantity, "buyer": t.buyer, "seller": t.seller,
                "taker_side": "buy" if t.taker_side == Side.BUY else "sell",
                "buy_order": self.buy_order, "sell_order": self.sell_order, "ts": t.ts,
                "kind": t.kind, "batch_id": self.batch_id, "settlement": self.status,
                "tx_hash": self.tx_hash, "reason": self.reason, "at_fault": self.at_fault}
