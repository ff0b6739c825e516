"""An operator fails a stuck trade explicitly (POST /v1/exchange/trades/{id}/fail, Exchange):
journaled, reservations released, refused for a trade already settled (on chain or in the
journal), for an unknown trade, and for any other role."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from exchange.runtime import Exchange, open_exchange
from registry.ledger import Ledger
from tests.support.api import Api
from tests.support.exchange import PRICE, T, signed


def _cross(api: Api, ex: Exchange, acc: dict[str, LocalAccount], quantity: int,
           nonce: int) -> int:
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, quantity,
                                                 nonce), status=201)
    buy = api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE,
                                                       quantity, nonce), status=201)
    return int(buy["trades"][0]["trade_id"])


def test_an_operator_fails_a_pending_trade_and_its_reservations_are_released(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int,
        tmp_path: Path) -> None:
    tid = _cross(api, ex, acc, 5 * T, 1)
    assert ex.service.reads.reserved_cash(acc["trader2"].address) > 0
    out = api.post(f"/v1/exchange/trades/{tid}/fail", "exchange", {"reason": "disputed"})
    assert (out["settlement"], out["reason"]) == ("failed", "operator: disputed")
    assert ex.service.reads.reserved_cash(acc["trader2"].address) == 0
    assert ex.service.reads.reserved_credits(acc["trader1"].address, market) == 0
    assert ex.worker.run_once() == 0 and not ex.chain.is_settled(tid)
    assert ledger.balance(acc["trader2"].address, market) == 0
    # journaled: a replay of the journal has it failed
    ex.service.close()
    again = open_exchange(ledger, ex.service.journal.directory, acc["exchange"], balance_ttl=0)
    try:
        assert again.service.state.trades[tid].reason == "operator: disputed"
        assert again.service.reads.reserved_cash(acc["trader2"].address) == 0
    finally:
        again.stop()
        ex.service = again.service  # closed already: the fixture's stop closes nothing twice


def test_a_settled_trade_cannot_be_failed(api: Api, ex: Exchange,
                                          acc: dict[str, LocalAccount]) -> None:
    tid = _cross(api, ex, acc, 5 * T, 1)
    assert ex.worker.run_once() == 1
    assert api.error("POST", f"/v1/exchange/trades/{tid}/fail", "exchange",
                     {"reason": "late"}, 409) == "trade_not_pending"


def test_a_trade_the_chain_settled_behind_the_journal_is_journaled_settled_not_failed(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount]) -> None:
    tid = _cross(api, ex, acc, 5 * T, 1)
    [t] = ex.service.settlement.pending_trades()
    ex.chain.settle(acc["exchange"], [ex.worker.fill_of(t)])  # the journal did not see it
    assert api.error("POST", f"/v1/exchange/trades/{tid}/fail", "exchange",
                     {"reason": "stuck"}, 409) == "trade_settled_on_chain"
    assert ex.service.state.trades[tid].status == "settled"
    assert ex.service.state.trades[tid].tx_hash


def test_failing_a_trade_is_for_the_exchange_only_and_names_a_known_trade(
        api: Api, ex: Exchange, acc: dict[str, LocalAccount]) -> None:
    tid = _cross(api, ex, acc, 5 * T, 1)
    assert api.error("POST", f"/v1/exchange/trades/{tid}/fail", "trader1",
                     {"reason": "mine"}, 403) == "forbidden_role"
    assert api.error("POST", "/v1/exchange/trades/999999/fail", "exchange",
                     {"reason": "x"}, 404) == "unknown_trade"
    assert api.error("POST", f"/v1/exchange/trades/{tid}/fail", "exchange",
                     {"reason": ""}, 422) != ""
    assert ex.service.state.trades[tid].status == "pending"
