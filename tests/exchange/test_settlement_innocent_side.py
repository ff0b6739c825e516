"""What happens to each side of a trade that fails settlement (docs/exchange.md): the innocent
side's cash or credits for it are free again at once, its order is not put back in the book
(a resting remainder keeps its place), and the order of the side at fault is cancelled if it
still rests (`settlement_failed`), so it cannot fail more counterparties. All of it is in the
journal: a restart reproduces it."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from devkit.scenario import doc
from exchange.onchain import SettlementChain
from registry.ledger import Ledger
from tests.support.failures import PRICE, T, cached_market, place, trade_ids

INSTRUMENT = 32


def test_a_seller_at_fault_loses_its_resting_order_and_the_buyer_its_reservation(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, market: int) -> None:
    seller, buyer = acc["trader1"].address, acc["trader2"].address
    ex = cached_market(ledger, acc, tmp_path / "exchange", market, INSTRUMENT)
    try:
        ex.service.balances.credits(seller, market)  # the exchange has read 100 t
        ledger.transfer(acc["trader1"], acc["developer"].address, market, 60 * T)
        sell = place(ex, acc, "trader1", "sell", 90 * T, 1, INSTRUMENT, market)
        buy = place(ex, acc, "trader2", "buy", 50 * T, 1, INSTRUMENT, market)
        [tid] = trade_ids(buy)
        ex.worker.run_once()
        t = ex.service.state.trades[tid]
        assert (t.status, t.at_fault) == ("failed", "seller")
        guilty = ex.service.reads.order(int(str(sell["order_id"])))
        assert (guilty["status"], guilty["reason"]) == ("cancelled", "settlement_failed")
        assert ex.service.reads.depth(INSTRUMENT)["asks"] == []
        innocent = ex.service.reads.order(int(str(buy["order_id"])))
        assert innocent["status"] == "filled"  # matched once; not put back in the book
        assert ex.service.reads.depth(INSTRUMENT)["bids"] == []
        assert ex.service.reads.reserved_cash(buyer) == 0
        assert ex.service.reads.reserved_credits(seller, market) == 0
    finally:
        ex.stop()
    ex = cached_market(ledger, acc, tmp_path / "exchange", market, INSTRUMENT)
    try:  # the journal replays the same outcome
        assert ex.service.reads.order(int(str(sell["order_id"])))["reason"] == "settlement_failed"
        assert ex.service.state.trades[tid].at_fault == "seller"
        assert ex.service.reads.depth(INSTRUMENT)["asks"] == []
        reads = ex.service.reads
        assert (reads.reserved_cash(buyer), reads.reserved_credits(seller, market)) == (0, 0)
    finally:
        ex.stop()


def test_an_innocent_sellers_resting_remainder_keeps_its_place_and_only_the_failed_part_frees(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, market: int) -> None:
    seller, buyer = acc["trader1"].address, acc["trader2"].address
    ex = cached_market(ledger, acc, tmp_path / "exchange", market, INSTRUMENT)
    try:
        sell = place(ex, acc, "trader1", "sell", 30 * T, 1, INSTRUMENT, market)
        [tid] = trade_ids(place(ex, acc, "trader2", "buy", 10 * T, 1, INSTRUMENT, market))
        buy = place(ex, acc, "trader2", "buy", 5 * T, 2, INSTRUMENT, market, price=PRICE - 5)
        SettlementChain(ledger).withdraw(acc["bank"], buyer, 500_000_00, doc("payout"))
        ex.worker.run_once()
        t = ex.service.state.trades[tid]
        assert (t.status, t.at_fault) == ("failed", "buyer")
        assert t.reason == "ERC20InsufficientBalance"
        innocent = ex.service.reads.order(int(str(sell["order_id"])))
        assert (innocent["status"], innocent["remaining"]) == ("open", 20 * T)
        assert ex.service.reads.depth(INSTRUMENT)["asks"] == [[PRICE, 20 * T, 1]]
        assert ex.service.reads.reserved_credits(seller, market) == 20 * T  # 10 t free again
        # only the order whose trade failed is cancelled: the buyer's other buy still rests
        other = ex.service.reads.order(int(str(buy["order_id"])))
        assert (other["status"], other["reason"]) == ("open", "")
        assert ex.service.reads.reserved_cash(buyer) == ex.service.reads.cash_for(5 * T, PRICE - 5)
    finally:
        ex.stop()


def test_a_buyer_at_fault_loses_the_resting_remainder_of_the_order_that_failed(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, market: int) -> None:
    seller, buyer = acc["trader1"].address, acc["trader2"].address
    ex = cached_market(ledger, acc, tmp_path / "exchange", market, INSTRUMENT)
    try:
        place(ex, acc, "trader1", "sell", 10 * T, 1, INSTRUMENT, market)
        buy = place(ex, acc, "trader2", "buy", 30 * T, 1, INSTRUMENT, market)
        [tid] = trade_ids(buy)
        SettlementChain(ledger).withdraw(acc["bank"], buyer, 500_000_00, doc("payout"))
        ex.worker.run_once()
        assert ex.service.state.trades[tid].at_fault == "buyer"
        guilty = ex.service.reads.order(int(str(buy["order_id"])))
        assert (guilty["status"], guilty["reason"]) == ("cancelled", "settlement_failed")
        assert ex.service.reads.depth(INSTRUMENT)["bids"] == []
        assert ex.service.reads.reserved_cash(buyer) == 0
        assert ex.service.reads.reserved_credits(seller, market) == 0  # the seller's 10 t are free
        assert ledger.balance(seller, market) == 100 * T
    finally:
        ex.stop()
