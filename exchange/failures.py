"""Sorting out a settlement batch that reverts: which trades are guilty, and whose fault it is.

The contract settles a batch all or nothing, so one trade that can no longer settle (its
seller moved the credits away, its buyer was frozen, its order expired) reverts the whole
batch. Retrying the batch would revert forever and keep every innocent trade pending; trying
each trade alone misses trades that settle alone but not together (a seller who sold the same
credits twice inside the balance cache). So a reverting batch is bisected: each half is tried
as its own batch, a half that settles is sent, a half that reverts is split again, and a single
trade that reverts is failed with the contract's reason. Halves are tried in trade-id order,
so of two trades competing for the same credits the earlier match settles and the later one
fails: the same rule a sequential settlement would apply.

A failing batch of n trades with k guilty ones costs at most about 2·k·log2(n) tries and never
tries the same batch twice, so settlement cannot stall on it.

`isolate` is pure (the chain is behind `attempt`); `at_fault` reads a decoded revert.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Item = TypeVar("Item")
Reason = TypeVar("Reason")


def isolate(items: Sequence[Item], attempt: Callable[[Sequence[Item]], Reason | None],
            known: Reason | None = None) -> list[tuple[Item, Reason]]:
    """Settles what can be settled of `items` by bisection. `attempt(batch)` settles the batch
    and returns None, or returns why it reverts (and nothing moved). Returns the guilty
    items, each with the reason it reverted alone, in order. `known` is the reason `items` as
    a whole is already known to revert with (so that batch is not tried again)."""
    if not items:
        return []
    reason = known if known is not None else attempt(items)
    if reason is None:
        return []
    if len(items) == 1:
        return [(items[0], reason)]
    mid = len(items) // 2
    return isolate(items[:mid], attempt) + isolate(items[mid:], attempt)


def at_fault(args: dict[str, Any], buyer: str, seller: str, buy_hash: bytes,
             sell_hash: bytes, retire_for: int = 0) -> str:
    """"buyer" or "seller" when the decoded revert names one side (its account, e.g.
    ERC1155InsufficientBalance(sender…), AccountFrozen(account), or its order's hash, e.g.
    OrderExpired(orderHash…)), else "" (the contract does not say). A buy that retires for a
    compensation order (`retire_for`) is at fault when the revert is that order's refusal
    (its `orderId`: not open, past its deadline, the batch not eligible, the requirement met):
    the buyer chose the order, and its later fills would be refused the same way."""
    sides = {buyer.lower(): "buyer", seller.lower(): "seller",
             "0x" + buy_hash.hex(): "buyer", "0x" + sell_hash.hex(): "seller"}
    for value in args.values():
        key = ("0x" + bytes(value).hex()) if isinstance(value, bytes | bytearray) else (
            str(value).lower())
        if key in sides:
            return sides[key]
    if retire_for and args.get("orderId") == retire_for:
        return "buyer"
    return ""
