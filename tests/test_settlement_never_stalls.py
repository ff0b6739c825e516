"""Property, on the real service and chain: random orders, registry transfers through the API
and transfers made on chain outside it, with settlement passes in between. A trade fails
settlement only when its seller moved the credits away on chain, outside the API, after the
exchange accepted the sell (its last look at that balance: a resting sell is matched later
without another look); the API refuses to move reserved credits, so its transfers never fail a
trade. After the worker's pass nothing stays pending.

Balances are read fresh (no cache): the one other way a trade can fail, a sell accepted on a
balance cached before an on-chain transfer, is the bisection test's subject
(tests/test_settlement_failures.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from api.app import create_app
from devkit.scenario import doc
from exchange.errors import ExchangeError
from exchange.onchain import SettlementChain
from exchange.runtime import Exchange
from registry.ledger import Ledger
from tests.support.api import ApiDatabase
from tests.support.failures import PRICE, T, cached_market
from tests.support.failures import place as submit

INSTRUMENT = 33
SELLERS = ("trader1", "trader3")
BUYERS = ("trader2", "trader3")

order_st = st.tuples(st.just("order"), st.sampled_from(("buy", "sell")), st.integers(0, 1),
                     st.integers(1, 40), st.sampled_from((-2, -1, 0, 1, 2)))
api_transfer_st = st.tuples(st.just("api_transfer"), st.integers(0, 1), st.integers(1, 60))
# keeps that many tonnes and moves the rest (what a seller emptying its account does)
chain_transfer_st = st.tuples(st.just("chain_transfer"), st.integers(0, 1), st.integers(0, 40))
cross_st = st.tuples(st.just("cross"), st.integers(0, 1), st.integers(0, 1), st.integers(1, 40))
settle_st = st.tuples(st.just("settle"))
steps_st = st.lists(st.one_of(cross_st, cross_st, order_st, api_transfer_st, chain_transfer_st,
                              chain_transfer_st, settle_st), min_size=1, max_size=16)


@dataclass
class Run:
    accepted_at: dict[int, int] = field(default_factory=dict)  # order id → step
    moved_on_chain: dict[str, list[int]] = field(default_factory=dict)  # seller → steps
    nonces: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def stocked(ledger: Ledger, acc: dict[str, LocalAccount], market: int) -> int:
    """trader3 trades both ways: it holds 50 t and 100,000 CNY too (once per test; each
    example starts from this state)."""
    ledger.transfer(acc["developer"], acc["trader3"].address, market, 50 * T)
    SettlementChain(ledger).deposit(acc["bank"], acc["trader3"].address, 100_000_00,
                                    doc("wire-3"))
    return market


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=steps_st)
def test_a_trade_fails_settlement_only_for_what_happened_after_it_matched_and_none_stays_pending(
        steps: list[tuple[object, ...]], ledger: Ledger, acc: dict[str, LocalAccount],
        db: ApiDatabase, stocked: int, tmp_path_factory: pytest.TempPathFactory) -> None:
    chain, market = ledger.chain, stocked
    snap = chain.rpc("evm_snapshot")
    directory = tmp_path_factory.mktemp("stall")
    ex = cached_market(ledger, acc, directory / "exchange", market, INSTRUMENT, balance_ttl=0)
    run = Run()
    try:
        app = create_app(db.settings, ledger, db.engine, ex.service, relayer=acc["governance"])
        with TestClient(app) as http:
            for i, step in enumerate(steps):
                _do(step, i, run, ex, http, db, ledger, acc, market)
            ex.worker.run_once()
        trades = ex.service.trades
        event(f"trades failed: {sum(t.status == 'failed' for t in trades.values()) > 0}")
        assert ex.service.pending_trades() == []  # settlement never stalls
        for tid, t in trades.items():
            if t.status == "failed":
                since = run.accepted_at[t.sell_order]
                later = [s for s in run.moved_on_chain.get(t.trade.seller, []) if s > since]
                assert later and t.at_fault == "seller", (tid, t.reason, run)
            else:
                assert t.status == "settled" and ex.chain.is_settled(tid)
    finally:
        ex.stop()
        chain.rpc("evm_revert", snap)
        chain.reset_nonces()


def _do(step: tuple[object, ...], i: int, run: Run, ex: Exchange, http: TestClient,
        db: ApiDatabase, ledger: Ledger, acc: dict[str, LocalAccount], market: int) -> None:
    kind = step[0]
    if kind == "order":
        _, side, who, tonnes, ticks = step
        seat = (SELLERS if side == "sell" else BUYERS)[int(str(who))]
        nonce = run.nonces.get(seat, 0) + 1
        run.nonces[seat] = nonce
        try:
            view = submit(ex, acc, seat, str(side), int(str(tonnes)) * T, nonce, INSTRUMENT,
                          market, price=PRICE + int(str(ticks)))
        except ExchangeError:
            return  # refused (not enough free balance, self-trade…): nothing to settle
        run.accepted_at[int(str(view["order_id"]))] = i
    elif kind == "cross":  # a sell, then a buy that takes it at its price
        _, who, whom, tonnes = step
        seller, buyer = SELLERS[int(str(who))], BUYERS[int(str(whom))]
        for seat, side in ((seller, "sell"), (buyer, "buy")):
            _do(("order", side, (SELLERS if side == "sell" else BUYERS).index(seat), tonnes,
                 0), i, run, ex, http, db, ledger, acc, market)
    elif kind == "api_transfer":
        _, who, tonnes = step
        seat = SELLERS[int(str(who))]
        r = http.post("/v1/transfers", headers={"Authorization": f"Bearer {db.keys[seat]}"},
                      json={"to": acc["developer"].address, "batch_id": market,
                            "amount": str(tonnes)})
        assert r.status_code in (201, 409), r.text
    elif kind == "chain_transfer":
        _, who, keep = step
        seat = SELLERS[int(str(who))]
        amount = ledger.balance(acc[seat].address, market) - int(str(keep)) * T
        if amount > 0:
            ledger.transfer(acc[seat], acc["developer"].address, market, amount)
            run.moved_on_chain.setdefault(acc[seat].address, []).append(i)
    else:
        ex.worker.run_once()
