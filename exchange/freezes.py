"""Regulator freezes, as the exchange follows them: a frozen account or batch does not trade.

The chain refuses to move anything of a frozen account (Consortium.freeze: AccountFrozen) or
of a frozen batch (CarbonCredits.freezeBatch: BatchFrozen). An order the book matched for
either would fail settlement and use up its counterparty's order, so the exchange keeps such
orders out of the book, in two ways:

- at entry, from the chain: `FreezeCache` reads `Consortium.isFrozen(trader)` and the delivery
  batch's `frozen` flag, cached like balances (stale-while-revalidate, `ttl`), and is told at
  once of every freeze the watcher sees, so a cached "not frozen" is replaced without waiting
  for its `ttl`;
- in the book, from events: the settlement worker reads `AccountFreezeChanged` and
  `BatchFreezeChanged` since `FreezeState.cursor` each pass (`read_freezes`); the service
  journals the net change (a `frozen` entry), cancels the resting orders it hits (reason
  `account_frozen` / `batch_frozen`) and refuses later orders from the journaled state too.
  An unfreeze lifts the refusal. Replaying the journal reproduces the same cancellations.

What a frozen batch stops: sells that deliver it, and every order of a per-batch instrument
listing it (nothing else can deliver it); a class instrument keeps trading its other batches
(a frozen batch is never chosen or accepted as a sell's delivery).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chain.abi import selector_of
from chain.signatures import checksum
from exchange.balances import StaleCache
from exchange.onchain import SettlementChain

ACCOUNT_FROZEN = "account_frozen"
BATCH_FROZEN = "batch_frozen"


@dataclass
class FreezeState:
    """The freezes the exchange has journaled, and the next block to read for more."""

    accounts: set[str] = field(default_factory=set)  # checksummed
    batches: set[int] = field(default_factory=set)
    cursor: int = 0

    def apply(self, accounts: dict[str, bool], batches: dict[int, bool], to_block: int) -> None:
        for account, frozen in accounts.items():
            (self.accounts.add if frozen else self.accounts.discard)(checksum(account))
        for batch, frozen in batches.items():
            (self.batches.add if frozen else self.batches.discard)(int(batch))
        self.cursor = max(self.cursor, to_block + 1)

    def stops(self, trader: str, side: int, batch_id: int, listing_batch: int) -> str | None:
        """Why a journaled freeze stops this order (None: it does not): its trader is frozen,
        or the batch a sell delivers, or the batch its per-batch instrument lists
        (`listing_batch`, 0 for a class instrument)."""
        batches = self.batches
        return refusal(trader in self.accounts, (side == 1 and batch_id in batches)
                       or listing_batch in batches)

    def dump(self) -> dict[str, Any]:
        return {"accounts": sorted(self.accounts), "batches": sorted(self.batches),
                "cursor": self.cursor}

    def load(self, raw: dict[str, Any] | None) -> None:
        if raw:
            self.accounts = {checksum(a) for a in raw["accounts"]}
            self.batches = {int(b) for b in raw["batches"]}
            self.cursor = int(raw["cursor"])


def refusal(trader_frozen: bool, batch_frozen: bool) -> str | None:
    """The error code an order gets, if any (the account is named first: it is the broader)."""
    if trader_frozen:
        return ACCOUNT_FROZEN
    if batch_frozen:
        return BATCH_FROZEN
    return None


class FreezeCache:
    """What the chain says is frozen, for order entry (see the module docstring)."""

    def __init__(self, account: Callable[[str], bool], batch: Callable[[int], bool],
                 ttl: float = 1.0) -> None:
        self._account, self._batch, self.ttl = account, batch, ttl
        self._cache = StaleCache()

    def account(self, trader: str) -> bool:
        trader = checksum(trader)
        return bool(self._cache.get(("a", trader), lambda: self._account(trader), self.ttl))

    def batch(self, batch_id: int) -> bool:
        batch_id = int(batch_id)
        return bool(self._cache.get(("b", batch_id), lambda: self._batch(batch_id), self.ttl))

    def learned(self, accounts: dict[str, bool], batches: dict[int, bool]) -> None:
        """Freezes and unfreezes seen in events: they replace what was cached."""
        for account, frozen in accounts.items():
            self._cache.put(("a", checksum(account)), frozen)
        for batch, frozen in batches.items():
            self._cache.put(("b", int(batch)), frozen)


def chain_cache(sc: SettlementChain, ttl: float) -> FreezeCache:
    """A FreezeCache reading the deployment's Consortium and CarbonCredits."""
    consortium = str(sc.ledger.c("Consortium").address)
    is_frozen = selector_of(sc.ledger.deployment.abis["Consortium"], "isFrozen")

    def account(trader: str) -> bool:
        return bool(sc.chain.call_words(consortium, is_frozen, trader))

    def batch(batch_id: int) -> bool:
        try:
            return sc.ledger.batch(batch_id).frozen
        except Exception:  # an unknown batch: order entry refuses it for its own reasons
            return False

    return FreezeCache(account, batch, ttl)


def read_freezes(sc: SettlementChain, start: int) -> tuple[dict[str, bool], dict[int, bool], int]:
    """Freezes and unfreezes since block `start`: (account → frozen, batch → frozen, the last
    block read), each the state after the last event of the range (events in chain order)."""
    end = int(sc.chain.w3.eth.block_number)
    if end < start:
        return {}, {}, start - 1
    params = {"fromBlock": hex(start), "toBlock": hex(end),
              "address": [str(sc.ledger.c("Consortium").address), sc.credits_address],
              "topics": [[sc.account_freeze_topic, sc.batch_freeze_topic]]}
    logs = sorted(sc.chain.rpc("eth_getLogs", params),
                  key=lambda lg: (int(lg["blockNumber"], 16), int(lg["logIndex"], 16)))
    accounts: dict[str, bool] = {}
    batches: dict[int, bool] = {}
    for lg in logs:
        frozen = bool(int(lg["data"][2:66], 16))
        subject = lg["topics"][1]
        if lg["topics"][0] == sc.account_freeze_topic:
            accounts[checksum("0x" + subject[-40:])] = frozen
        else:
            batches[int(subject, 16)] = frozen
    return accounts, batches, end
