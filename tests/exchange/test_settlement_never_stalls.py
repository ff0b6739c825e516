"""Property, on the real service and chain: random orders, registry transfers through the API
and transfers made on chain outside it, account freezes by the regulator, and orders that
expire while time moves on, with settlement passes in between. A trade fails settlement only
by something that happened on chain after the exchange accepted the order of the side at
fault: its seller moved the credits away outside the API (a resting sell is matched later
without another look at the balance), or the regulator froze that side's account (the worker
follows freezes at its next pass; a match before it fails). The API refuses to move reserved
credits, so its transfers never fail a trade, and an order never trades past its expiry, so
no trade fails `OrderExpired`. After the worker's pass nothing stays pending.

Balances are read fresh (no cache): the one other way a trade can fail, a sell accepted on a
balance cached before an on-chain transfer, is the bisection test's subject
(tests/exchange/test_settlement_failures.py)."""

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
freeze_st = st.tuples(st.just("freeze"), st.sampled_from(("trader1", "trader2", "trader3")))
# a cross of orders that expire 11-20 s after the exchange's clock (their margin is 10 s)
short_st = st.tuples(st.just("short"), st.integers(0, 1), st.integers(0, 1),
                     st.integers(1, 40), st.integers(11, 20))
advance_st = st.tuples(st.just("advance"), st.integers(1, 15))  # the exchange's clock, seconds
steps_st = st.lists(st.one_of(cross_st, cross_st, order_st, api_transfer_st, chain_transfer_st,
                              chain_transfer_st, settle_st, freeze_st, short_st, advance_st),
                    min_size=1, max_size=16)


@dataclass
class Run:
    accepted_at: dict[int, int] = field(default_factory=dict)  # order id → step
    moved_on_chain: dict[str, list[int]] = field(default_factory=dict)  # seller → steps
    frozen_at: dict[str, list[int]] = field(default_factory=dict)  # account → steps
    nonces: dict[str, int] = field(default_factory=dict)
    now: list[float] = field(default_factory=lambda: [0.0])  # the exchange's clock


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
    # the exchange's clock starts at the chain's and moves only by `advance` steps
    run.now[0] = float(chain.w3.eth.get_block("latest")["timestamp"])
    ex.service.clock = lambda: run.now[0]
    try:
        app = create_app(db.settings, ledger, db.engine, ex.service, relayer=acc["governance"])
        with TestClient(app) as http:
            for i, step in enumerate(steps):
                _do(step, i, run, ex, http, db, ledger, acc, market)
            ex.worker.run_once()
        trades = ex.service.state.trades
        event(f"trades failed: {sum(t.status == 'failed' for t in trades.values()) > 0}")
        assert ex.service.settlement.pending_trades() == []  # settlement never stalls
        for tid, t in trades.items():
            if t.status == "failed":
                assert "OrderExpired" not in t.reason, (tid, t.reason, run)
                assert t.at_fault in ("buyer", "seller"), (tid, t.reason, run)
                side = t.trade.seller if t.at_fault == "seller" else t.trade.buyer
                since = run.accepted_at[t.sell_order if t.at_fault == "seller"
                                        else t.buy_order]
                events = run.frozen_at.get(side, []) + (
                    run.moved_on_chain.get(side, []) if t.at_fault == "seller" else [])
                assert any(s > since for s in events), (tid, t.reason, run)
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
        _, side, who, tonnes, ticks, *life = step
        seat = (SELLERS if side == "sell" else BUYERS)[int(str(who))]
        nonce = run.nonces.get(seat, 0) + 1
        run.nonces[seat] = nonce
        expiry = int(run.now[0]) + (int(str(life[0])) if life else 3_600)
        try:
            view = submit(ex, acc, seat, str(side), int(str(tonnes)) * T, nonce, INSTRUMENT,
                          market, price=PRICE + int(str(ticks)), expiry=expiry)
        except ExchangeError:
            return  # refused (not enough free balance, self-trade…): nothing to settle
        run.accepted_at[int(str(view["order_id"]))] = i
    elif kind == "cross":  # a sell, then a buy that takes it at its price
        _, who, whom, tonnes = step
        seller, buyer = SELLERS[int(str(who))], BUYERS[int(str(whom))]
        for seat, side in ((seller, "sell"), (buyer, "buy")):
            _do(("order", side, (SELLERS if side == "sell" else BUYERS).index(seat), tonnes,
                 0), i, run, ex, http, db, ledger, acc, market)
    elif kind == "short":  # a cross of orders that expire soon after
        _, who, whom, tonnes, life = step
        seller, buyer = SELLERS[int(str(who))], BUYERS[int(str(whom))]
        for seat, side in ((seller, "sell"), (buyer, "buy")):
            _do(("order", side, (SELLERS if side == "sell" else BUYERS).index(seat), tonnes,
                 0, life), i, run, ex, http, db, ledger, acc, market)
    elif kind == "advance":
        run.now[0] += int(str(step[1]))
        ex.service.expire_due()
    elif kind == "freeze":
        account = acc[str(step[1])].address
        if not ledger.is_frozen(account):
            ledger.freeze_account(acc["regulator"], account)
        run.frozen_at.setdefault(account, []).append(i)
    elif kind == "api_transfer":
        _, who, tonnes = step
        seat = SELLERS[int(str(who))]
        r = http.post("/v1/transfers", headers={"Authorization": f"Bearer {db.keys[seat]}"},
                      json={"to": acc["developer"].address, "batch_id": market,
                            "amount": str(tonnes)})
        assert r.status_code in (201, 403, 409), r.text  # 403/409: reserved, or frozen
    elif kind == "chain_transfer":
        _, who, keep = step
        seat = SELLERS[int(str(who))]
        amount = ledger.balance(acc[seat].address, market) - int(str(keep)) * T
        if amount > 0 and not ledger.is_frozen(acc[seat].address):
            ledger.transfer(acc[seat], acc["developer"].address, market, amount)
            run.moved_on_chain.setdefault(acc[seat].address, []).append(i)
    else:
        ex.worker.run_once()
