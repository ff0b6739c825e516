"""What the settlement worker reads from the exchange and reports back to it.

    SettlementFeed.pending_trades ─► settlement_worker.py ─► chain ─► mark_settled / mark_failed
    chain events (cancels, freezes) ─► apply_freezes / void_onchain ─► journal ─► state.py

The worker's one door into the exchange: everything it learns on chain comes back as a
journal entry run by the service (`ExchangeService.run`), so it is durable and replayed like
any command; what it reads is copied under the service's lock. `settling` is held while a
settlement is in flight (and by an operator failing a trade, operator.py), so a trade is never
failed while its settlement might still land.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from chain.signatures import checksum
from exchange.balances import Balances
from exchange.entries import (
    Entry,
    FrozenOnChain,
    TradesFailed,
    TradesRequeued,
    TradesSettled,
    VoidedOnChain,
)
from exchange.freezes import FreezeCache
from exchange.orders import Cancelled, Event
from exchange.records import OrderRecord, TradeRecord
from exchange.state import ExchangeState

Run = Callable[[Entry], list[Event]]


class SettlementFeed:
    """The settlement side of one exchange (service.py builds it as `service.settlement`)."""

    def __init__(self, state: ExchangeState, lock: threading.RLock, run: Run,
                 expire_due: Callable[[], int], balances: Balances,
                 freezes: FreezeCache | None) -> None:
        self._state, self._lock, self._run = state, lock, run
        self.expire_due = expire_due  # what is due leaves the book, every pass of the worker
        self._balances, self._freezes = balances, freezes
        self.settling = threading.Lock()

    def pending_trades(self, limit: int = 1_000) -> list[TradeRecord]:
        with self._lock:
            return [t for t in self._state.trades.values() if t.status == "pending"][:limit]

    def orders_of(self, t: TradeRecord) -> tuple[OrderRecord, OrderRecord]:
        """The signed buy and sell orders of a trade (kept in memory until it is final)."""
        return self._state.orders[t.buy_order], self._state.orders[t.sell_order]

    def mark_settled(self, trade_ids: Iterable[int], tx_hash: str) -> None:
        self._settlement(TradesSettled(tuple(trade_ids), tx_hash))

    def mark_failed(self, trade_ids: Iterable[int], reason: str, at_fault: str = "") -> None:
        """Trades that will never settle: both sides' reservations for them are released (the
        innocent side's cash or credits are free again at once); the orders are not put back
        in the book (docs/exchange.md, "When a trade fails settlement")."""
        self._settlement(TradesFailed(tuple(trade_ids), reason, at_fault))

    def requeue_lost(self, trade_ids: Iterable[int], reason: str) -> None:
        """Settled trades whose settlement the chain lost (its transaction vanished, was
        superseded or reverted when re-sent, and `Settlement.settled` is false) become pending
        again with their reservations back; the worker settles them anew. Their signed orders
        are still good: the fills were never written on chain."""
        ids = tuple(trade_ids)
        if ids:
            self._settlement(TradesRequeued(ids, reason))

    def _settlement(self, entry: TradesSettled | TradesFailed | TradesRequeued) -> None:
        """Journals what settlement learned; the next check of both sides reads the chain."""
        self._run(entry)
        with self._lock:
            traders = self._state.traders_of(entry.trade_ids)
        self._balances.forget(*traders)

    def unconfirmed_settlements(self) -> dict[str, list[int]]:
        """Settled trades by transaction hash ("" when the worker found them settled on chain
        without knowing the transaction), for those the chain has not made final yet."""
        with self._lock:
            return {tx: sorted(ids) for tx, ids in self._state.unconfirmed.items()}

    def confirm_settlement(self, tx_hash: str) -> None:
        """The chain made `tx_hash` final: its trades can no longer be lost (in memory only;
        a restart checks them again)."""
        with self._lock:
            self._state.unconfirmed.pop(tx_hash, None)

    def chain_cursors(self) -> tuple[int, int]:
        """The next blocks to read for (freezes, on-chain cancels)."""
        with self._lock:
            return self._state.frozen.cursor, self._state.chain_cursor

    def follow_chain_from(self, block: int) -> None:
        """Where the reading of freezes and on-chain cancels starts, if nothing was read."""
        with self._lock:
            if self._state.chain_cursor == 0:
                self._state.chain_cursor = block
            if self._state.frozen.cursor == 0:
                self._state.frozen.cursor = block

    def apply_freezes(self, accounts: dict[str, bool], batches: dict[int, bool],
                      to_block: int) -> int:
        """Journals the freezes the settlement worker read on chain (from the freeze cursor
        to `to_block`) and cancels the resting orders they stop; returns how many."""
        if self._freezes is not None:
            self._freezes.learned(accounts, batches)
        if not accounts and not batches:
            with self._lock:
                self._state.frozen.cursor = max(self._state.frozen.cursor, to_block + 1)
            return 0
        return _cancelled(self._run(FrozenOnChain(
            {checksum(a): bool(f) for a, f in accounts.items()},
            {int(b): bool(f) for b, f in batches.items()}, to_block)))

    def void_onchain(self, hashes: list[bytes], floors: dict[str, int], to_block: int) -> int:
        """Journals what the chain says traders voided (read by the settlement worker from
        the cancel cursor to `to_block`) and cancels those orders; returns how many."""
        if not hashes and not floors:
            with self._lock:  # nothing to keep
                self._state.chain_cursor = max(self._state.chain_cursor, to_block + 1)
            return 0
        return _cancelled(self._run(VoidedOnChain(
            tuple(hashes), {checksum(t): int(n) for t, n in floors.items()}, to_block)))


def _cancelled(events: list[Event]) -> int:
    """How many orders these events took out of the book."""
    return sum(1 for ev in events if isinstance(ev, Cancelled))
