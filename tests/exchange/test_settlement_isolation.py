"""Bisection of a reverting settlement batch (exchange/failures.py), against a model ledger
whose batches settle all or nothing: every trade settles once or fails, a failed trade really
could not settle alone when it was tried, the earlier of two competing trades wins, and the
number of tries stays bounded (the same failing batch is never tried twice)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.failures import at_fault, isolate

Trade = tuple[int, int, int]  # (id, seller, quantity)


class ModelLedger:
    """Sellers' balances; a batch settles iff every seller covers its trades in the batch."""

    def __init__(self, balances: dict[int, int]) -> None:
        self.balances = dict(balances)
        self.settled: list[int] = []
        self.tries: list[tuple[int, ...]] = []

    def attempt(self, batch: Sequence[Trade]) -> str | None:
        self.tries.append(tuple(t[0] for t in batch))
        need: dict[int, int] = {}
        for _, seller, qty in batch:
            need[seller] = need.get(seller, 0) + qty
        if any(self.balances.get(s, 0) < q for s, q in need.items()):
            return "InsufficientBalance"
        for tid, seller, qty in batch:
            self.balances[seller] -= qty
            self.settled.append(tid)
        return None


trades_st = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5)), max_size=40).map(
    lambda xs: [(i, s, q) for i, (s, q) in enumerate(xs)])
balances_st = st.dictionaries(st.integers(0, 3), st.integers(0, 30))


@settings(max_examples=200)
@given(trades_st, balances_st)
def test_bisection_settles_or_fails_every_trade_once_and_fails_only_what_cannot_settle(
        trades: list[Trade], balances: dict[int, int]) -> None:
    ledger = ModelLedger(balances)
    failed = isolate(trades, ledger.attempt)
    failed_ids = [t[0] for t, _ in failed]
    assert sorted(ledger.settled + failed_ids) == [t[0] for t in trades]
    assert len(set(ledger.settled)) == len(ledger.settled)
    # a failed trade could not settle alone on what was left (balances only go down)
    for (_, seller, qty), why in failed:
        assert ledger.balances.get(seller, 0) < qty and why == "InsufficientBalance"
    assert len(set(ledger.tries)) == len(ledger.tries)  # no batch tried twice
    n, k = max(len(trades), 1), len(failed)
    assert len(ledger.tries) <= 1 + 2 * k * (math.ceil(math.log2(n)) + 1)


def test_a_batch_that_settles_is_tried_once_and_fails_nothing() -> None:
    ledger = ModelLedger({0: 10})
    assert isolate([(0, 0, 4), (1, 0, 6)], ledger.attempt) == []
    assert ledger.tries == [(0, 1)]


def test_of_two_trades_that_settle_alone_but_not_together_the_later_one_fails() -> None:
    ledger = ModelLedger({0: 6, 1: 10})
    trades = [(0, 1, 1), (1, 0, 4), (2, 1, 1), (3, 0, 4), (4, 1, 1)]
    failed = isolate(trades, ledger.attempt)
    assert [t[0] for t, _ in failed] == [3]
    assert sorted(ledger.settled) == [0, 1, 2, 4]


def test_a_batch_known_to_revert_is_not_tried_again() -> None:
    ledger = ModelLedger({0: 5})
    failed = isolate([(0, 0, 9)], ledger.attempt, known="InsufficientBalance")
    assert failed == [((0, 0, 9), "InsufficientBalance")] and ledger.tries == []


def test_the_side_at_fault_is_the_one_the_revert_names() -> None:
    buyer, seller = "0x" + "aa" * 20, "0x" + "bB" * 20
    buy_hash, sell_hash = b"\x01" * 32, b"\x02" * 32
    assert at_fault({"sender": seller.upper().replace("0X", "0x"), "balance": 0},
                    buyer, seller, buy_hash, sell_hash) == "seller"
    assert at_fault({"account": buyer}, buyer, seller, buy_hash, sell_hash) == "buyer"
    assert at_fault({"orderHash": sell_hash, "expiry": 1}, buyer, seller, buy_hash,
                    sell_hash) == "seller"
    assert at_fault({"tradeId": 7}, buyer, seller, buy_hash, sell_hash) == ""


def test_a_compensation_orders_refusal_is_the_buyer_who_signed_for_that_order() -> None:
    buyer, seller = "0x" + "aa" * 20, "0x" + "bb" * 20
    buy_hash, sell_hash = b"\x01" * 32, b"\x02" * 32
    refusal = {"orderId": 4, "category": 5}  # IneligibleCategory(orderId, category)
    assert at_fault(refusal, buyer, seller, buy_hash, sell_hash, retire_for=4) == "buyer"
    assert at_fault(refusal, buyer, seller, buy_hash, sell_hash, retire_for=3) == ""
    assert at_fault(refusal, buyer, seller, buy_hash, sell_hash) == ""
