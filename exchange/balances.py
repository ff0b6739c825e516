"""What the chain says traders hold, cached for the risk check of every order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class StaleCache:
    """Values read from the node, kept and served stale while a fresh read runs.

    A value older than `ttl` is still answered while a background thread fetches a fresh one,
    so the order path never waits for the node (only a key's very first read does). `put`
    replaces a value at once (what an event told), `forget` drops keys.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._refreshing: set[tuple[Any, ...]] = set()
        self._guard = threading.Lock()

    def get(self, key: tuple[Any, ...], fn: Callable[[], Any], ttl: float) -> Any:
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is None or ttl <= 0:
            value = fn()
            self._cache[key] = (now, value)
            return value
        if now - hit[0] >= ttl:
            with self._guard:
                start = key not in self._refreshing
                self._refreshing.add(key)
            if start:
                threading.Thread(target=self._refresh, args=(key, fn), daemon=True).start()
        return hit[1]

    def peek(self, key: tuple[Any, ...]) -> Any:
        """The cached value (None if there is none), without reading the node."""
        hit = self._cache.get(key)
        return None if hit is None else hit[1]

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        self._cache[key] = (time.monotonic(), value)

    def forget(self, match: Callable[[tuple[Any, ...]], bool]) -> None:
        for key in [k for k in list(self._cache) if match(k)]:
            self._cache.pop(key, None)

    def _refresh(self, key: tuple[Any, ...], fn: Callable[[], Any]) -> None:
        try:
            self._cache[key] = (time.monotonic(), fn())
        except Exception:  # the node is unreachable: keep the old value, retry next time
            pass
        finally:
            with self._guard:
                self._refreshing.discard(key)


class Balances:
    """What the chain says a trader holds, cached: risk reads it on every order.

    Stale-while-revalidate: a value older than `ttl` is still used while a background thread
    fetches a fresh one, so order entry never waits for the node (only a trader's very first
    order does). A balance that fell on chain since (credits moved away outside the exchange)
    can therefore let an order through for up to about `ttl`; its trade then fails settlement
    and is marked failed, nothing moves.
    """

    def __init__(self, credits: Callable[[str, int], int], cash: Callable[[str], int],
                 ready: Callable[[str], bool], ttl: float = 1.0,
                 tickets: Callable[[str, int], int] | None = None,
                 tickets_ready: Callable[[str], bool] | None = None) -> None:
        self._credits, self._cash, self._ready, self.ttl = credits, cash, ready, ttl
        self._tickets = tickets or (lambda _trader, _ticket: 0)
        self._tickets_ready = tickets_ready or (lambda _trader: False)
        self._cache = StaleCache()

    def credits(self, trader: str, batch_id: int) -> int:
        return int(self._cache.get(("c", trader, batch_id),
                                   lambda: self._credits(trader, batch_id), self.ttl))

    def ticket(self, trader: str, ticket_id: int) -> int:
        """A forest ticket's value if `trader` owns it, else 0 (another's, burnt, or pledged:
        the pledge register holds a pledged ticket, so pledged value is never offered)."""
        return int(self._cache.get(("t", trader, ticket_id),
                                   lambda: self._tickets(trader, ticket_id), self.ttl))

    def tickets_ready(self, trader: str) -> bool:
        """Whether settlement may move the trader's tickets (its approved operator)."""
        ttl = 30 * self.ttl if self._cache.peek(("rt", trader)) else 0.0
        return bool(self._cache.get(("rt", trader), lambda: self._tickets_ready(trader), ttl))

    def cash(self, trader: str) -> int:
        return int(self._cache.get(("m", trader), lambda: self._cash(trader), self.ttl))

    def ready(self, trader: str) -> bool:
        """Approvals change rarely: a positive answer is revalidated 30 times less often."""
        ttl = 30 * self.ttl if self._cache.peek(("r", trader)) else 0.0
        return bool(self._cache.get(("r", trader), lambda: self._ready(trader), ttl))

    def forget(self, *traders: str) -> None:
        """After a settlement: the next read of these traders goes to the node."""
        self._cache.forget(lambda key: key[1] in traders)
