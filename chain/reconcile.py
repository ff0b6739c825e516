"""Reconciling the outbox with the chain: what the chain lost is sent again, what can never
land is said so.

For every entry not yet final (chain/outbox.py), in the order first sent:
- a receipt is there: `mined`, and `final` once the chain's `Finality` says the block can no
  longer be lost (confirmations, and on the embedded anvil a state dump written after it);
- no receipt, and the sender's nonce on chain is at most the entry's: the transaction has not
  happened, so the same signed bytes are broadcast again. They can land at most once (same
  nonce), so re-sending is always safe, and running the reconciler twice, or in two processes
  at once, sends nothing twice;
- no receipt, and the nonce was used by another transaction: `dropped`. It can never land; its
  owner learns it from `fate_of` (the exchange re-queues its trades, an Idempotency-Key is
  released, an oracle node attests again) and from the listeners of the pass.

Re-sends follow the original global order, and one from another sender waits until the ones
before it are mined, so a transaction that depended on another one (a transfer on an issuance)
lands after it. When the head went backwards (lost blocks), the cached nonces are forgotten
after the re-sends, so new transactions take the next free nonce.

Where it runs: once before anything is served when the embedded anvil starts (tanhui/durable.py,
from `Runtime.start`), then periodically in the settlement worker's loop and in every oracle
node pass; an Idempotency-Key replay reconciles at once when its transaction is missing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hexbytes import HexBytes
from web3.exceptions import TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from chain.client import _ALREADY_KNOWN, Chain
from chain.outbox import LOST_STATES, Entry

log = logging.getLogger("tanhui.reconcile")

# A node refusing the same bytes this many times (not for their nonce) gives up on them.
MAX_REFUSALS = 5


@dataclass(frozen=True)
class Fate:
    """What became of one transaction.

    state: `final` (mined and can no longer be lost), `mined` (receipt present, block not yet
    final), `pending` (no receipt, but it can still land: the outbox holds it and its nonce is
    free, or the node holds it), `gone` (no receipt and it never will: superseded nonce, refused
    by the node, or unknown to the node and not in the outbox)."""

    tx_hash: str
    state: str
    success: bool | None = None
    block_number: int | None = None
    receipt: TxReceipt | None = field(default=None, repr=False)
    detail: str = ""

    @property
    def landed(self) -> bool:
        return self.state in ("final", "mined")

    @property
    def failed(self) -> bool:
        """It did not and will not take effect: reverted, or gone."""
        return self.state == "gone" or (self.landed and self.success is False)


@dataclass
class Report:
    """What one pass did."""

    rewound: bool = False
    checked: int = 0
    final: int = 0
    resent: list[str] = field(default_factory=list)
    lost: list[Entry] = field(default_factory=list)


def _receipt_fields(receipt: TxReceipt, entry: Entry | None, now: float) -> dict[str, Any]:
    fields: dict[str, Any] = {"state": "mined", "block_number": int(receipt["blockNumber"]),
                              "success": int(receipt["status"]) == 1}
    if entry is None or entry.mined_seen is None or entry.block_number != fields[
            "block_number"]:
        fields["mined_seen"] = now  # the durability clock starts when this block is seen
    return fields


def _observe(chain: Chain, entry: Entry, receipt: TxReceipt, head: int,
             now: float) -> dict[str, Any]:
    """An entry's new fields given its receipt: mined, or final when the block cannot be lost."""
    fields = _receipt_fields(receipt, entry, now)
    seen = fields.get("mined_seen", entry.mined_seen)
    if chain.finality.is_final(fields["block_number"], head, float(seen or now)):
        fields["state"] = "final"
    if entry.state == fields["state"] and entry.block_number == fields["block_number"] and (
            entry.success == fields["success"] and "mined_seen" not in fields):
        return {}
    return fields


def fate_of(chain: Chain, tx_hash: str) -> Fate:
    """What became of `tx_hash`, from the outbox and the chain (and the outbox brought up to
    date for it). A final entry costs no node call."""
    entry = chain.outbox.get(tx_hash) if chain.outbox is not None else None
    if entry is not None and entry.state == "final":
        return Fate(tx_hash, "final", entry.success, entry.block_number)
    if entry is not None and entry.state in LOST_STATES:
        return Fate(tx_hash, "gone", detail=f"{entry.state}: {entry.detail}")
    receipt = chain.receipt(tx_hash)
    now = time.time()
    if receipt is not None:
        success, block = int(receipt["status"]) == 1, int(receipt["blockNumber"])
        if entry is None:
            final = chain.finality.is_final(block, int(chain.w3.eth.block_number),
                                            chain.first_seen(tx_hash, block))
            return Fate(tx_hash, "final" if final else "mined", success, block, receipt)
        fields = _observe(chain, entry, receipt, int(chain.w3.eth.block_number), now)
        assert chain.outbox is not None
        chain.outbox.update([(entry.tx_hash, fields)])
        return Fate(tx_hash, fields.get("state", entry.state), success, block, receipt)
    if entry is None:
        try:
            chain.w3.eth.get_transaction(HexBytes(tx_hash))
            return Fate(tx_hash, "pending", detail="held by the node")
        except TransactionNotFound:  # nobody holds its bytes
            return Fate(tx_hash, "gone", detail="unknown to the node and not in the outbox")
    if _nonce(chain, entry.sender) > entry.nonce and chain.receipt(tx_hash) is None:
        detail = "its nonce was used by another transaction"
        assert chain.outbox is not None
        chain.outbox.update([(entry.tx_hash, {"state": "dropped", "detail": detail})])
        return Fate(tx_hash, "gone", detail=f"dropped: {detail}")
    return Fate(tx_hash, "pending", detail="in the outbox, to be sent again")


def _nonce(chain: Chain, sender: str) -> int:
    return int(chain.w3.eth.get_transaction_count(sender, "latest"))  # type: ignore[arg-type]


class Reconciler:
    """Brings the chain's outbox entries to their fate; `run_once` is safe at any time and in
    any number of processes."""

    def __init__(self, chain: Chain, grace: float = 2.0, wait_timeout: float = 15.0) -> None:
        if chain.outbox is None:
            raise ValueError("the chain has no outbox")
        self.chain = chain
        self.outbox = chain.outbox
        self.grace = grace  # younger entries are being broadcast by their sender right now
        self.wait_timeout = wait_timeout
        self.listeners: list[Callable[[Entry], None]] = []  # told of every lost entry
        self._running = threading.Lock()

    def run_once(self, replay: bool = False) -> Report:
        """One pass over the open entries. `replay` (at start, before serving) re-sends even
        the youngest entries and waits until every re-sent one is mined."""
        with self._running:
            report = self._pass(replay)
            if replay and report.resent:
                self._pass(replay=False)  # records the re-sent ones as mined
            return report

    def _pass(self, replay: bool) -> Report:
        chain = self.chain
        report = Report(rewound=chain.check_head(reset=False))
        now = time.time()
        head = int(chain.w3.eth.block_number)
        nonces: dict[str, int] = {}
        inflight: list[Entry] = []  # re-sent, not yet seen mined
        changes: list[tuple[str, dict[str, Any]]] = []
        stalled = False  # a re-sent transaction did not land: later ones may depend on it

        def lost(entry: Entry, state: str, detail: str, **more: Any) -> None:
            changes.append((entry.tx_hash, {"state": state, "detail": detail, **more}))
            report.lost.append(entry)

        for entry in self.outbox.open_entries(chain.chain_key):
            report.checked += 1
            receipt = chain.receipt(entry.tx_hash)
            if receipt is not None:
                fields = _observe(chain, entry, receipt, head, now)
                changes.append((entry.tx_hash, fields))
                report.final += fields.get("state", entry.state) == "final"
                continue
            if stalled or (not replay and now - entry.created < self.grace):
                continue
            if entry.sender not in nonces:
                nonces[entry.sender] = _nonce(chain, entry.sender)
            if nonces[entry.sender] <= entry.nonce:
                if inflight and inflight[-1].sender != entry.sender:
                    stalled = not self._await(inflight)  # what it may depend on lands first
                    inflight = []
                    if stalled:
                        continue
                outcome = self._resend(entry)
                if outcome == "sent":
                    inflight.append(entry)
                    report.resent.append(entry.tx_hash)
                    if entry.state == "mined":  # its block was lost: the clock restarts
                        changes.append((entry.tx_hash, {"state": "sent", "mined_seen": None,
                                                        "block_number": None}))
                    continue
                if outcome == "busy":  # another transaction holds its nonce in the pool
                    continue
                if outcome != "taken":
                    refusals = entry.refusals + 1
                    if refusals >= MAX_REFUSALS:
                        lost(entry, "rejected", outcome, refusals=refusals)
                    else:
                        changes.append((entry.tx_hash, {"refusals": refusals,
                                                        "detail": outcome}))
                    continue
            receipt = chain.receipt(entry.tx_hash)  # its nonce is used: by itself, since?
            if receipt is not None:
                changes.append((entry.tx_hash, _observe(chain, entry, receipt, head, now)))
            else:
                lost(entry, "dropped", "its nonce was used by another transaction")
        if replay and inflight:
            self._await(inflight)
        self.outbox.update(changes)
        if report.resent:
            log.warning("re-sent %d transactions the chain did not have", len(report.resent))
        if report.rewound:
            chain.reset_nonces()  # after the re-sends: new transactions follow them
        for entry in report.lost:
            log.warning("transaction %s (%s) can never land", entry.tx_hash, entry.purpose)
            for listener in self.listeners:
                listener(entry)
        return report

    def _resend(self, entry: Entry) -> str:
        """Broadcasts the entry's bytes again, holding its sender's lock so this process signs
        nothing for that sender meanwhile: "sent" (the node took them, or had them), "taken"
        (the nonce is used), "busy" (another transaction with that nonce waits in the pool),
        else the node's refusal."""
        assert entry.raw is not None
        with self.chain._lock(entry.sender):
            try:
                self.chain.w3.eth.send_raw_transaction(entry.raw)
            except Web3RPCError as exc:
                message = str(exc)
                lower = message.lower()
                if any(m in lower for m in _ALREADY_KNOWN):
                    return "sent"
                if "nonce too low" in lower or "nonce is too low" in lower:
                    return "taken"
                if "replacement" in lower or "underpriced" in lower:
                    return "busy"
                return message[:500]
        return "sent"

    def _await(self, entries: list[Entry]) -> bool:
        """Waits until every entry is mined; False if one is not within the time allowed."""
        deadline = time.monotonic() + self.wait_timeout
        for entry in entries:
            try:
                self.chain.w3.eth.wait_for_transaction_receipt(
                    HexBytes(entry.tx_hash), timeout=max(0.1, deadline - time.monotonic()),
                    poll_latency=0.01)
            except TimeExhausted:
                log.warning("re-sent transaction %s not mined within %.0fs", entry.tx_hash,
                            self.wait_timeout)
                return False
        return True

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Passes every `interval` seconds until `stop` (a thread's loop)."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # the node may be briefly unreachable: log and retry
                log.exception("outbox reconciliation failed")
            stop.wait(interval)


def settle_now(chain: Chain, tx_hash: str, timeout: float = 10.0) -> Fate:
    """The fate of `tx_hash` for a caller that must answer about it now (an Idempotency-Key
    replay), and the chain made ready for what the caller may sign next: if the transaction
    is missing, the outbox is re-sent at once and waited for (up to `timeout`); if the chain
    went backwards, the cached nonces are forgotten (after those re-sends)."""
    fate = fate_of(chain, tx_hash)
    if fate.state == "final":
        return fate
    if chain.outbox is None:
        chain.check_head()
        return fate
    Reconciler(chain, grace=0.0, wait_timeout=timeout).run_once(replay=fate.state == "pending")
    return fate_of(chain, tx_hash)
