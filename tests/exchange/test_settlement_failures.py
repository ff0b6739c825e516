"""A settlement batch that reverts is bisected on the real chain: the guilty trade fails with
the contract's reason and the side at fault, every other trade of the batch settles, nothing
stays pending, and the innocent side's reservation is released."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from devkit.scenario import doc
from exchange.onchain import SettlementChain
from registry.ledger import Ledger
from tests.support.failures import T, cached_market, place, trade_ids

INSTRUMENT = 31


def test_two_trades_that_settle_alone_but_not_together_fail_only_the_later_one(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, market: int) -> None:
    ledger.transfer(acc["developer"], acc["trader3"].address, market, 50 * T)
    ex = cached_market(ledger, acc, tmp_path / "exchange", market, INSTRUMENT)
    try:
        seller = acc["trader1"].address
        place(ex, acc, "trader3", "sell", 5 * T, 1, INSTRUMENT, market)
        innocent = trade_ids(place(ex, acc, "trader2", "buy", 5 * T, 1, INSTRUMENT, market))
        place(ex, acc, "trader1", "sell", 40 * T, 1, INSTRUMENT, market)
        first = trade_ids(place(ex, acc, "trader2", "buy", 40 * T, 2, INSTRUMENT, market))
        # the seller moves 40 t away outside the exchange (the registry ignores its orders)
        ledger.transfer(acc["trader1"], acc["developer"].address, market, 40 * T)
        # ...and sells 40 t again: the exchange's cached balance still says 100 t
        place(ex, acc, "trader1", "sell", 40 * T, 2, INSTRUMENT, market)
        second = trade_ids(place(ex, acc, "trader2", "buy", 40 * T, 3, INSTRUMENT, market))
        place(ex, acc, "trader3", "sell", 5 * T, 2, INSTRUMENT, market)
        innocent += trade_ids(place(ex, acc, "trader2", "buy", 5 * T, 4, INSTRUMENT, market))
        assert len(innocent + first + second) == 4

        ex.worker.run_once()

        trades = ex.service.state.trades
        assert ex.service.settlement.pending_trades() == []
        assert [trades[t].status for t in innocent + first] == ["settled"] * 3
        [guilty] = second
        assert (trades[guilty].status, trades[guilty].at_fault) == ("failed", "seller")
        assert trades[guilty].reason == "ERC1155InsufficientBalance"
        assert not ex.chain.is_settled(guilty)
        assert all(ex.chain.is_settled(t) for t in innocent + first)
        assert ledger.balance(seller, market) == 20 * T
        # the innocent buyer's cash for the failed trade is free again
        assert ex.service.reads.reserved_cash(acc["trader2"].address) == 0
        assert ex.service.reads.reserved_credits(seller, market) == 0
    finally:
        ex.stop()


def test_a_trade_failed_by_bisection_stays_failed_with_its_reason_after_a_restart(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, market: int) -> None:
    ex = cached_market(ledger, acc, tmp_path / "exchange", market, INSTRUMENT)
    try:
        place(ex, acc, "trader1", "sell", 60 * T, 1, INSTRUMENT, market)
        place(ex, acc, "trader2", "buy", 60 * T, 1, INSTRUMENT, market)
        ledger.transfer(acc["trader1"], acc["developer"].address, market, 30 * T)
        place(ex, acc, "trader1", "sell", 40 * T, 2, INSTRUMENT, market)
        [tid] = trade_ids(place(ex, acc, "trader2", "buy", 40 * T, 2, INSTRUMENT, market))
        ex.worker.run_once()
        assert ex.service.state.trades[tid].status == "failed"
    finally:
        ex.stop()
    ex = cached_market(ledger, acc, tmp_path / "exchange", market, INSTRUMENT)
    try:
        t = ex.service.state.trades[tid]
        assert (t.status, t.reason, t.at_fault) == ("failed", "ERC1155InsufficientBalance",
                                                    "seller")
        assert ex.service.settlement.pending_trades() == []
        assert ex.service.reads.reserved_cash(acc["trader2"].address) == 0
        assert ex.worker.run_once() == 0
    finally:
        ex.stop()


def test_a_batch_of_trades_that_each_revert_alone_fails_each_with_the_side_it_names(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, market: int) -> None:
    """The buyer's cash leaves (a withdrawal the exchange did not see): its trades fail as
    the buyer's fault, the ones of another buyer settle."""
    ex = cached_market(ledger, acc, tmp_path / "exchange", market, INSTRUMENT)
    try:
        sc = SettlementChain(ledger)
        sc.deposit(acc["bank"], acc["trader3"].address, 100_000_00, doc("wire3"))
        place(ex, acc, "trader1", "sell", 30 * T, 1, INSTRUMENT, market)
        broke = trade_ids(place(ex, acc, "trader2", "buy", 10 * T, 1, INSTRUMENT, market))
        fine = trade_ids(place(ex, acc, "trader3", "buy", 10 * T, 1, INSTRUMENT, market))
        broke += trade_ids(place(ex, acc, "trader2", "buy", 10 * T, 2, INSTRUMENT, market))
        sc.withdraw(acc["bank"], acc["trader2"].address, 500_000_00, doc("payout"))
        ex.worker.run_once()
        trades = ex.service.state.trades
        assert [(trades[t].status, trades[t].at_fault) for t in broke] == [
            ("failed", "buyer")] * 2
        assert trades[fine[0]].status == "settled"
        assert ledger.balance(acc["trader3"].address, market) == 10 * T
        assert ex.service.reads.reserved_credits(acc["trader1"].address, market) == 0
    finally:
        ex.stop()
