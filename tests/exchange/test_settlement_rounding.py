"""The settlement rounding rule, as properties of the real contract on anvil: whatever the
quantity, price and fees, the buyer never pays less than the exact value, the rounding
remainder (under 1 fen) goes to the seller and never to the exchange that chose the fills, no
side pays more fee than its order signed (fees round down), and cash is neither created nor
destroyed (what leaves the buyer reaches the seller and the fee account)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.client import Chain, ChainRevert
from chain.deploy import Deployment
from devkit.scenario import Scenario, doc
from exchange.onchain import SettlementChain
from registry.ledger import Ledger
from tests.support.fills import T, fill, orders

MAX_FEE_BPS = 500
CASH = 10**13  # fen the buyer holds


@dataclass(frozen=True)
class Desk:
    chain: Chain
    sc: SettlementChain
    ledger: Ledger
    acc: dict[str, LocalAccount]
    batch: int


@pytest.fixture(scope="module")
def desk(chain: Chain, deployment: Deployment, acc: dict[str, LocalAccount]) -> Iterator[Desk]:
    """trader1 holds 10,000 t, trader2 10^13 fen, both approved; rolled back afterwards."""
    snap = chain.rpc("evm_snapshot")
    try:
        ledger = Ledger(chain, deployment)
        sc = SettlementChain(ledger)
        batch = Scenario(ledger, acc).batch(quantity=20_000 * T).batch_id
        ledger.transfer(acc["developer"], acc["trader1"].address, batch, 10_000 * T)
        sc.deposit(acc["bank"], acc["trader2"].address, CASH, doc("wire"))
        for seat in ("trader1", "trader2"):
            sc.approve_trading(acc[seat])
        yield Desk(chain, sc, ledger, acc, batch)
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


fee = st.integers(min_value=0, max_value=MAX_FEE_BPS)
cap = st.integers(min_value=0, max_value=MAX_FEE_BPS + 100)


@settings(max_examples=150, deadline=None)
@given(quantity=st.integers(min_value=1, max_value=10**15),
       price=st.integers(min_value=1, max_value=10**12), buyer_bps=fee, seller_bps=fee)
def test_quoted_amounts_round_against_the_traders_and_fees_down(
    desk: Desk, quantity: int, price: int, buyer_bps: int, seller_bps: int
) -> None:
    fn = desk.sc.settlement.functions.quote(quantity, price, buyer_bps, seller_bps)
    exact = Fraction(quantity * price, 1_000_000)
    if exact < 1:
        with pytest.raises(ChainRevert) as dust:
            desk.chain.call(fn)
        assert dust.value.name == "DustFill"
        return
    paid, received = desk.chain.call(fn)
    whole_up = -(-exact.numerator // exact.denominator)  # what the buyer owes the seller
    buyer_fee, seller_fee = paid - whole_up, whole_up - received
    assert paid >= exact  # the buyer never pays less than the value
    assert whole_up - exact < 1  # and the seller gets that rounding, not the fee account
    assert buyer_fee == int(exact * buyer_bps / 10_000)  # fees rounded down
    assert seller_fee == int(exact * seller_bps / 10_000)


@settings(max_examples=20, deadline=None)
@given(lot=st.integers(min_value=1, max_value=10**7), lots=st.integers(min_value=1, max_value=50),
       ticks=st.integers(min_value=1, max_value=50), extra_tick=st.integers(0, 10**4),
       maker_bps=fee, taker_bps=fee, buy_cap=cap, sell_cap=cap, buyer_is_maker=st.booleans())
def test_a_settled_fill_conserves_cash_and_charges_no_side_beyond_its_signed_cap(
    desk: Desk, lot: int, lots: int, ticks: int, extra_tick: int, maker_bps: int,
    taker_bps: int, buy_cap: int, sell_cap: int, buyer_is_maker: bool
) -> None:
    tick = -(-1_000_000 // lot) + extra_tick  # the listing rule: lot × tick ≥ 1 fen
    quantity, price = lot * lots, tick * ticks
    if quantity > 1_000 * T:
        return
    sc, acc, ex = desk.sc, desk.acc, desk.acc["exchange"]
    snap = desk.chain.rpc("evm_snapshot")
    try:
        sc.set_fees(ex, ex.address, maker_bps, taker_bps)
        sc.list_instrument(ex, 30, batch_id=desk.batch, lot=lot, tick=tick)
        buy, sell = orders(acc, desk.batch, qty=quantity, price=price, instrument=30)
        buy, sell = replace(buy, max_fee_bps=buy_cap), replace(sell, max_fee_bps=sell_cap)
        parties = (acc["trader2"].address, acc["trader1"].address, ex.address)
        before = [sc.cash_balance(a) for a in parties]
        sent = sc.settle(ex, [fill(sc, acc, buy, sell, 1, quantity, desk.batch, price=price,
                                   buyer_is_maker=buyer_is_maker)])
        after = [sc.cash_balance(a) for a in parties]
        paid, received, fees = before[0] - after[0], after[1] - before[1], after[2] - before[2]
        assert paid == received + fees  # nothing created or destroyed
        assert sc.cash_balance(sc.settlement.address) == 0
        exact = Fraction(quantity * price, 1_000_000)
        assert paid >= exact
        buyer_bps = min(maker_bps if buyer_is_maker else taker_bps, buy_cap)
        seller_bps = min(taker_bps if buyer_is_maker else maker_bps, sell_cap)
        whole_up = -(-exact.numerator // exact.denominator)
        assert paid - whole_up <= exact * buyer_bps / 10_000 <= exact * buy_cap / 10_000
        assert whole_up - received <= exact * seller_bps / 10_000 <= exact * sell_cap / 10_000
        # the exchange that chose the fill gets its fees rounded down and no remainder
        assert fees == int(exact * buyer_bps / 10_000) + int(exact * seller_bps / 10_000)
        [ev] = desk.ledger.events_of(sent, "TradeSettled")
        assert (ev.args["buyerPaid"], ev.args["sellerReceived"]) == (paid, received)
        assert desk.ledger.balance(acc["trader2"].address, desk.batch) == quantity
    finally:
        desk.chain.rpc("evm_revert", snap)
        desk.chain.reset_nonces()
