"""Conservation of the forward market under random trades and prices (hypothesis, real chain):
the cash the market holds equals members' margin plus its own accounts to the micro-fen, cash is
neither created nor destroyed, and positions net to zero per contract."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.forward_math import MICRO
from devkit.scenario import doc
from registry.forwards import DAY, Forwards
from registry.ledger import Ledger
from tests.support.forwards import HOUR, goto, terms, today, trade

SEATS = ("trader1", "trader2", "trader3", "developer")
CASH = 100_000_000


@pytest.fixture
def market(ledger: Ledger, acc: dict[str, LocalAccount]) -> Iterator[Forwards]:
    fw = Forwards(ledger)
    for seat in SEATS:
        ledger._send(acc["bank"], "CashToken", "deposit", acc[seat].address, CASH, doc("wire"))
        fw.allow_cash(acc[seat])
    yield fw


def _conserved(fw: Forwards, cid: int, members: list[str]) -> None:
    b = fw.books(cid)
    margins = sum(fw.account(cid, m).margin for m in members)
    assert fw.cash_held() * MICRO == (margins * MICRO + b.rounding + b.clearing
                                      + (b.escrow + b.short_pool + b.long_pool) * MICRO)
    assert sum(fw.account(cid, m).position for m in members) == 0


trades_st = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(-50, 50), st.integers(1, 9)),
    min_size=1, max_size=6)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(size=st.integers(1, 50_000_000), days=st.lists(trades_st, min_size=1, max_size=3))
def test_settlement_neither_creates_nor_destroys_cash(
    market: Forwards, acc: dict[str, LocalAccount], size: int,
    days: list[list[tuple[int, int, int, int]]],
) -> None:
    fw, chain = market, market.ledger.chain
    snap = chain.rpc("evm_snapshot")
    try:
        members = [acc[s].address for s in SEATS]
        d1 = today(chain) + 1
        fw.list_contract(acc["exchange"], 1, terms(1, (0, 2**40), d1 + len(days), d1 + 99,
                                                   size=size, tick=1, reference=6_000))
        total = sum(fw.ledger.chain.call(fw.ledger.c("CashToken").functions.balanceOf(m))
                    for m in members)
        goto(chain, d1 * DAY + HOUR)
        for s in SEATS:
            fw.deposit_margin(acc[s], 1, CASH // 2)
        for k, day_trades in enumerate(days):
            day = d1 + k
            goto(chain, day * DAY + 6 * HOUR + 1_800)
            price = fw.market(1).price
            for buyer, seller, ticks, qty in day_trades:
                if buyer != seller:
                    fw.record_trades(acc["exchange"], [trade(
                        fw, acc[SEATS[buyer]], acc[SEATS[seller]], 1, price + ticks, qty)])
                    _conserved(fw, 1, members)
            goto(chain, day * DAY + 8 * HOUR)
            fw.settle_day(acc["exchange"], 1, day, per_tx=2)
            _conserved(fw, 1, members)
            assert fw.books(1).clearing == 0  # every holder settled at the day's price
        held = fw.cash_held()
        wallets = sum(fw.ledger.chain.call(fw.ledger.c("CashToken").functions.balanceOf(m))
                      for m in members)
        assert wallets + held == total
    finally:
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()
