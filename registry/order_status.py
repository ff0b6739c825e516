"""Order units and statuses as CompensationOrders numbers them (placeholder until the ledger's
typed records land)."""

from __future__ import annotations

from enum import IntEnum


class OrderUnit(IntEnum):
    TONNES = 0
    FEN = 1


class OrderStatus(IntEnum):
    NONE = 0
    OPEN = 1
    PARTLY_FULFILLED = 2
    FULFILLED = 3
    CLOSED = 4
    OVERDUE = 5  # read only: open or partly fulfilled past the deadline

    @property
    def key(self) -> str:
        return self.name.lower()
