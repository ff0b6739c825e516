"""When a resting order stops trading: a safety margin before its signed expiry.

The contract refuses to settle an order once `block.timestamp > expiry` (Settlement:
OrderExpired). A trade is settled a moment after it is matched (the worker's next pass, one
block), so an order matched in its last second would trade in the book and then fail on
chain, using up its counterparty's order for nothing. The exchange therefore treats an order
as expired `EXPIRY_MARGIN_S` seconds before its signed expiry: it is refused at entry from then
on (`order_expired`) and a resting order leaves the book then (status `expired`).

Expiry is decided by the service's clock and journaled (an `expire` entry naming the orders),
so replay cancels exactly the same orders at the same point, whatever the clock says when the
journal is read again. `ExpiryQueue` is the in-memory index that finds the orders due without
scanning the book: a heap of (expiry, order id), rebuilt from the journal on start; entries of
orders that left the book meanwhile are skipped lazily.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

EXPIRY_MARGIN_S = 10  # seconds before the signed expiry an order stops trading


def expires_by(expiry: int, now: float) -> bool:
    """Whether an order signed to expire at `expiry` (unix seconds) may no longer trade at
    `now`: it is within the margin of, or past, its expiry."""
    return expiry <= now + EXPIRY_MARGIN_S


class ExpiryQueue:
    """Resting orders by signed expiry (heap; stale entries dropped when reached)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int]] = []

    def add(self, expiry: int, order_id: int) -> None:
        heapq.heappush(self._heap, (expiry, order_id))

    def clear(self) -> None:
        self._heap.clear()

    def due(self, now: float, is_open: Callable[[int], bool]) -> list[int]:
        """Ids of the open orders that expire by `now` (ascending expiry, then id); orders no
        longer open are dropped from the queue on the way."""
        out: list[int] = []
        while self._heap and expires_by(self._heap[0][0], now):
            _, order_id = heapq.heappop(self._heap)
            if is_open(order_id):
                out.append(order_id)
        return out
