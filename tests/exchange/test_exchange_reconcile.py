"""The exchange against a chain that lost blocks: a trade journaled as settled whose transaction
the chain no longer has is pending again on start, with its reservations back, and settles
exactly once; one whose re-sent settlement reverts is sorted out by the worker as failed.

The loss is an `evm_revert` to a snapshot taken before the settlement: the chain comes back
shorter, exactly as the embedded anvil does when it restarts from an older state dump."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.outbox import Outbox
from devkit.scenario import Scenario, doc
from exchange.instruments import InstrumentSpec
from exchange.onchain import SettlementChain
from exchange.runtime import Exchange, open_exchange
from exchange.signing import Order, sign_order
from registry.ledger import Ledger

T = 1_000_000
PRICE = 60_000
INSTRUMENT = 21


@pytest.fixture
def batch(ledger: Ledger, acc: dict[str, LocalAccount]) -> int:
    """trader1 holds 100 t of a batch listed as the instrument, trader2 500,000 CNY."""
    sc = SettlementChain(ledger)
    b = Scenario(ledger, acc).batch(quantity=1_000 * T).batch_id
    ledger.transfer(acc["developer"], acc["trader1"].address, b, 100 * T)
    sc.deposit(acc["bank"], acc["trader2"].address, 500_000_00, doc("wire"))
    for seat in ("trader1", "trader2"):
        sc.approve_trading(acc[seat])
    sc.list_instrument(acc["exchange"], INSTRUMENT, batch_id=b, lot=T, tick=1)
    return b


def open_market(ledger: Ledger, acc: dict[str, LocalAccount], directory: Path,
                batch: int) -> Exchange:
    """The exchange on `directory` (a restart when it exists: journal replay, reconciliation)."""
    ex = open_exchange(ledger, directory, acc["exchange"], balance_ttl=0)
    if INSTRUMENT not in ex.service.reads.listings:
        ex.service.list_instrument(InstrumentSpec(INSTRUMENT, lot=T,
                                                  reference_price=PRICE), batch)
    return ex


def cross(ex: Exchange, acc: dict[str, LocalAccount], quantity: int, batch: int) -> int:
    """A resting sell and a buy that fills it; returns the trade id."""
    expiry = int(time.time()) + 3_600
    for seat, side in (("trader1", 1), ("trader2", 0)):
        o = Order(acc[seat].address, side, INSTRUMENT, PRICE, quantity, 0, 1, expiry,
                  batch_id=batch if side == 1 else 0)
        view = ex.service.submit(o, sign_order(acc[seat], o, ex.chain.domain))
    [trade] = view["trades"]
    return int(trade["trade_id"])


def reserved(ex: Exchange, acc: dict[str, LocalAccount], batch: int) -> tuple[int, int]:
    s = ex.service
    return (s.reads.reserved_credits(acc["trader1"].address, batch),
            s.reads.reserved_cash(acc["trader2"].address))


def settlements_of(ledger: Ledger, trade_id: int) -> int:
    logs = ledger.c("Settlement").events.TradeSettled().get_logs(
        from_block=ledger.deployment.block, argument_filters={"tradeId": trade_id})
    return len(logs)


def test_a_settled_trade_whose_transaction_is_gone_is_requeued_on_start_and_settles_once(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, batch: int) -> None:
    ex = open_market(ledger, acc, tmp_path / "exchange", batch)
    before = ledger.chain.rpc("evm_snapshot")
    tid = cross(ex, acc, 5 * T, batch)
    held = reserved(ex, acc, batch)
    assert held == (5 * T, ex.service.reads.cash_for(5 * T, PRICE))
    assert ex.worker.run_once() == 1
    tx = ex.service.state.trades[tid].tx_hash
    assert reserved(ex, acc, batch) == (0, 0)
    ex.stop()

    ledger.chain.rpc("evm_revert", before)  # the chain lost the settlement's block
    assert ledger.chain.receipt(tx) is None and not ex.chain.is_settled(tid)

    ex = open_market(ledger, acc, tmp_path / "exchange", batch)
    try:
        t = ex.service.state.trades[tid]
        assert (t.status, t.tx_hash) == ("pending", "")
        assert reserved(ex, acc, batch) == held
        assert ex.worker.run_once() == 1
        assert ex.service.state.trades[tid].status == "settled" and ex.chain.is_settled(tid)
        assert ledger.chain.receipt(ex.service.state.trades[tid].tx_hash) is not None
        assert settlements_of(ledger, tid) == 1
        assert ledger.balance(acc["trader2"].address, batch) == 5 * T
        assert ex.worker.reconcile(force=True) == 0 and ex.worker.run_once() == 0
    finally:
        ex.stop()
    # the re-queue is journaled: a second restart sees it settled, not pending
    ex = open_market(ledger, acc, tmp_path / "exchange", batch)
    try:
        assert ex.service.state.trades[tid].status == "settled"
        assert ex.service.settlement.pending_trades() == []
    finally:
        ex.stop()


def test_a_settlement_that_reverts_when_re_sent_is_requeued_then_failed_with_its_reason(
        ledger: Ledger, acc: dict[str, LocalAccount], tmp_path: Path, batch: int) -> None:
    # the exchange signs through an outbox, so the lost settlement is re-sent with its bytes
    chain = Chain(ledger.chain.url, outbox=Outbox(tmp_path / "outbox.db"))
    chain.errors = ledger.chain.errors
    durable = Ledger(chain, ledger.deployment)
    ex = open_market(durable, acc, tmp_path / "exchange", batch)
    before = ledger.chain.rpc("evm_snapshot")
    tid = cross(ex, acc, 5 * T, batch)
    assert ex.worker.run_once() == 1
    tx = ex.service.state.trades[tid].tx_hash
    ex.stop()

    ledger.chain.rpc("evm_revert", before)
    ledger.chain.reset_nonces()
    # meanwhile the buyer's cash left (a withdrawal the exchange did not see)
    SettlementChain(ledger).withdraw(acc["bank"], acc["trader2"].address, 500_000_00,
                                     doc("withdrawal"))

    ex = open_market(durable, acc, tmp_path / "exchange", batch)
    try:
        receipt = chain.receipt(tx)
        assert receipt is not None and receipt["status"] == 0  # re-sent, reverted
        assert ex.service.state.trades[tid].status == "pending"  # re-queued
        assert ex.worker.run_once() == 0
        t = ex.service.state.trades[tid]
        assert t.status == "failed" and t.reason
        assert not ex.chain.is_settled(tid) and settlements_of(ledger, tid) == 0
        assert reserved(ex, acc, batch) == (0, 0)
    finally:
        ex.stop()
