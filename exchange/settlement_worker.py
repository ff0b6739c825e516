"""The settlement worker: matched trades → settle batches on chain → confirmed, exactly once.

Loop: take pending trades in trade-id order, build fills from the signed orders, estimate the
batch (a batch that would revert is never sent), send, wait for the receipt, journal the trade
ids as settled. If the estimate says a trade id is already settled (the worker died after the
chain confirmed but before the journal said so), the settled ones are found with `settled()` and
journaled as settled. A batch the contract refuses for another reason (an order cancelled on
chain by its trader, a balance gone, two trades that settle alone but not together) is bisected
(exchange/failures.py): the halves that settle are sent, and each trade that reverts alone is
marked failed with the contract's error and the side at fault; the others proceed, and the same
failing batch is never tried twice.

Reconciliation, on start and every `reconcile_interval`: the chain can lose a settlement after
it was journaled (the embedded anvil killed before its next state dump). First the outbox is
reconciled (chain/reconcile.py: a lost transaction is re-sent with the same bytes and lands
once); then every settled trade whose transaction is not yet final is checked: final and
successful → confirmed; mined but not final, or waiting to be re-sent → checked again later;
reverted when re-sent, superseded, or gone → the trades the contract does not hold as settled
(`Settlement.settled`) are re-queued (ExchangeService.requeue_lost) and settle in a later batch,
or are marked failed with the contract's reason if they no longer can.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from eth_account.signers.local import LocalAccount

from chain.client import ChainRevert
from chain.reconcile import Reconciler, fate_of
from exchange.failures import at_fault, isolate
from exchange.freezes import read_freezes
from exchange.onchain import Fill, SettlementChain
from exchange.records import TradeRecord
from exchange.settlement_feed import SettlementFeed

log = logging.getLogger("tanhui.settlement")


class SettlementWorker:
    def __init__(self, feed: SettlementFeed, chain: SettlementChain, account: LocalAccount,
                 batch_size: int = 100, reconcile_interval: float = 1.0) -> None:
        self.feed = feed
        self.sc = chain
        self.account = account
        self.batch_size = batch_size
        self.reconcile_interval = reconcile_interval
        self.outbox = Reconciler(chain.chain) if chain.chain.outbox is not None else None
        self._next_reconcile = 0.0

    def fill_of(self, t: TradeRecord) -> Fill:
        buy, sell = self.feed.orders_of(t)
        return Fill(t.trade.trade_id, t.batch_id, t.trade.quantity, t.trade.price,
                    t.trade.maker_order_id == t.buy_order, buy.order, buy.signature,
                    sell.order, sell.signature)

    def run_once(self) -> int:
        """Settles what is pending; returns how many trades were confirmed."""
        settled = 0
        with self.feed.settling:
            pending = self.feed.pending_trades()
            for i in range(0, len(pending), self.batch_size):
                chunk = pending[i:i + self.batch_size]
                reverted = self._attempt(chunk)
                if isinstance(reverted, int):
                    settled += reverted
                    continue
                settled += self._sort_out(chunk, reverted)
        return settled

    def _attempt(self, chunk: Sequence[TradeRecord]) -> int | ChainRevert:
        """Settles `chunk` as one batch: how many trades it confirmed, or why it would revert
        (estimated first, so nothing is sent; a batch that reverts when mined changed
        nothing either)."""
        fills = [self.fill_of(t) for t in chunk]
        try:
            gas = self.sc.estimate_settle(self.account.address, fills)
            tx_hash = self.sc.send_settle(self.account, fills, gas * 12 // 10 + 50_000)
            sent = self.sc.chain.wait(tx_hash)
        except ChainRevert as exc:
            return exc
        ids = [t.trade.trade_id for t in chunk]
        self.feed.mark_settled(ids, tx_hash)
        if self.sc.chain.finality.is_final(sent.block_number, sent.block_number, time.time()):
            self.feed.confirm_settlement(tx_hash)  # a finality chain: it stays
        log.info("settled %d trades in %s", len(ids), tx_hash)
        return len(ids)

    def _sort_out(self, chunk: list[TradeRecord], exc: ChainRevert) -> int:
        """A batch that reverts: the trades the chain settled already are journaled as
        settled; the rest is bisected (exchange/failures.py), so the trades that settle do
        and each guilty one fails with its revert reason. Returns how many settled."""
        done = [t.trade.trade_id for t in chunk if self.sc.is_settled(t.trade.trade_id)]
        if done:  # journaled with the transaction that settled them, so they are checked
            by_tx: dict[str, list[int]] = {}
            found = self.sc.settlement_txs(done)
            for tid in done:
                by_tx.setdefault(found.get(tid, ""), []).append(tid)
            for tx_hash, ids in by_tx.items():
                self.feed.mark_settled(ids, tx_hash)
        rest = [t for t in chunk if t.trade.trade_id not in done]
        settled = 0

        def attempt(batch: Sequence[TradeRecord]) -> ChainRevert | None:
            nonlocal settled
            result = self._attempt(batch)
            if isinstance(result, int):
                settled += result
                return None
            return result

        known = exc if not done else None  # without the settled ones it is another batch
        for t, why in isolate(rest, attempt, known):
            self.fail(t, why)
        return settled

    def fail(self, t: TradeRecord, why: ChainRevert) -> None:
        """Journals a trade that cannot settle, with the contract's error and the side it
        names (see docs: the innocent side's reservation is released with it)."""
        buy, sell = self.feed.orders_of(t)
        fault = at_fault(why.error.args if why.error else {}, t.trade.buyer, t.trade.seller,
                         buy.digest, sell.digest, buy.order.retire_for)
        self.feed.mark_failed([t.trade.trade_id], why.name or "reverted", fault)
        log.warning("trade %d cannot settle: %s (%s)", t.trade.trade_id, why, fault or "?")

    def reconcile(self, force: bool = False) -> int:
        """The outbox, then the settlements, at most every `reconcile_interval` (unless
        `force`); returns how many trades were re-queued."""
        now = time.monotonic()
        if not force and now < self._next_reconcile:
            return 0
        self._next_reconcile = now + self.reconcile_interval
        if self.outbox is not None:
            self.outbox.run_once(replay=force)
        else:
            self.sc.chain.check_head()  # lost blocks: cached nonces are too high
        return self.reconcile_settlements()

    def reconcile_settlements(self) -> int:
        """Settled trades checked against the chain; the lost ones re-queued (see above)."""
        requeued = 0
        for tx_hash, ids in self.feed.unconfirmed_settlements().items():
            if tx_hash:
                fate = fate_of(self.sc.chain, tx_hash)
                if fate.state == "final" and fate.success:
                    self.feed.confirm_settlement(tx_hash)
                    continue
                if not fate.failed:
                    continue  # mined but not final yet, or about to be re-sent
                why = f"{tx_hash} {fate.detail or 'reverted'}"
            else:
                why = "settled on chain by an unknown transaction"
            lost = [tid for tid in ids if not self.sc.is_settled(tid)]
            if lost:
                self.feed.requeue_lost(lost, why)
                requeued += len(lost)
                log.warning("re-queued %d trades: settlement lost (%s)", len(lost), why)
            if len(lost) < len(ids) or not tx_hash:
                self.feed.confirm_settlement(tx_hash)  # the rest is settled on chain
        return requeued

    def watch_once(self) -> int:
        """Cancels in the book what traders voided on chain since the last look, and the
        orders of accounts and batches the regulator froze (freezes.py), and expires what is
        due (expiry.py): those orders can never settle. Returns how many orders it took out."""
        freezes_from, cancels_from = self.feed.chain_cursors()
        accounts, batches, end = read_freezes(self.sc, freezes_from)
        out = self.feed.apply_freezes(accounts, batches, end)
        hashes, floors, end = self.sc.voided_orders(cancels_from)
        return out + self.feed.void_onchain(hashes, floors, end) + self.feed.expire_due()

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            try:
                self.reconcile()
                self.watch_once()
                self.run_once()
            except Exception:  # the chain may be briefly unreachable: log and retry
                log.exception("settlement pass failed")
            stop.wait(interval)
