"""The public event feed: engine events told to listeners (market data streams) in commit
order, once durable, without member addresses.

Why a stage between commit and listeners: orders are committed in one order under the
service's lock, but each committing thread (or coroutine) learns that its journal entry is on
disk on its own, after a group fsync that wakes many at once. Had each told the listeners of its
own events then, a stream would see `…68, 79, 69…` under load, and its clients take a gap for a
lost message. So every commit stages its events here, in journal order (under the service
lock), and whoever learns that entry `seq` is durable releases everything staged up to `seq`,
under one lock, oldest first. Everything up to a durable seq is durable (the journal is one
file, fsynced to its end), so nothing is told before it is on disk, and each listener receives
the events of an instrument in strictly increasing `seq`.

Public market data is anonymous: events carry order ids, sides, prices and quantities, never
the member (`member`, `buyer`, `seller` are dropped). Who traded with whom is for the parties,
the regulator and settlement (the order routes, authenticated), not for the tape.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from exchange.orders import Event

Listener = Callable[[int, dict[str, Any]], None]

# fields of engine events that name a member
PRIVATE_FIELDS = frozenset({"member", "buyer", "seller"})


def public_event(ev: Event) -> dict[str, Any]:
    """An engine event as the public stream carries it: integers as numbers, enums as their
    names, and no member addresses."""
    out: dict[str, Any] = {"event": type(ev).__name__.lower()}
    for k, v in ev._asdict().items():
        if k not in PRIVATE_FIELDS:
            out[k] = int(v) if isinstance(v, int) else str(v)
    return out


class Fanout:
    """Events staged in commit order and released to listeners once durable, in that order."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self._staged: deque[tuple[int, list[Event]]] = deque()
        self._release = threading.Lock()

    def stage(self, seq: int, events: list[Event]) -> None:
        """Journal entry `seq` produced `events`. Call in commit order (under the service
        lock), so the stage stays sorted by seq."""
        if events:
            self._staged.append((seq, events))

    def release(self, durable: int) -> None:
        """Tells the listeners every staged event of entries up to `durable` (now on disk),
        oldest first. Concurrent callers take turns; a later one finds the earlier entries
        already told, so every event is told once."""
        with self._release:
            staged = self._staged
            while staged and staged[0][0] <= durable:
                _, events = staged.popleft()
                listeners = list(self.listeners)
                for ev in events:
                    body = public_event(ev)
                    for listener in listeners:
                        try:
                            listener(ev.instrument, body)
                        except Exception:  # a consumer's failure is its own
                            # (a closed connection's loop, say): it stops hearing, the order
                            # that released these events and the other streams go on
                            self._drop(listener)

    def _drop(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):  # its stream may be removing it too
            self.listeners.remove(listener)
