"""A trade that fails settlement never counts in market data (real chain, HTTP API): not in
recent trades, candles, 24-hour statistics or the close the next day's reference price comes
from; and a restarted service (journal replay, from a snapshot too) gives the same figures.

Each test settles a first trade at PRICE - 50, then matches a second at PRICE + 100 and makes
it fail on chain by freezing the seller before the worker settles it."""

from __future__ import annotations

import time

from eth_account.signers.local import LocalAccount

from devkit.scenario import doc
from exchange.runtime import Exchange
from registry.ledger import Ledger
from tests.support.api import Api
from tests.support.exchange import INSTRUMENT, PRICE, T, place, reopened, signed

GOOD, BAD = PRICE - 50, PRICE + 100
EXPIRY = int(time.time()) + 5 * 86_400  # orders outlive the moved clock


def _settled_then_matched(api: Api, ex: Exchange, acc: dict[str, LocalAccount]) -> None:
    place(api, signed(acc, ex, "trader1", "sell", GOOD, T, 1, expiry=EXPIRY))
    place(api, signed(acc, ex, "trader2", "buy", GOOD, T, 1, expiry=EXPIRY))
    assert ex.worker.run_once() == 1
    place(api, signed(acc, ex, "trader1", "sell", BAD, 2 * T, 2, expiry=EXPIRY))
    place(api, signed(acc, ex, "trader2", "buy", BAD, 2 * T, 2, expiry=EXPIRY))


def _fail_it(ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger) -> None:
    ledger.freeze_account(acc["regulator"], acc["trader1"].address, doc("inquiry"))
    assert ex.worker.run_once() == 0
    assert [t.status for t in ex.service.state.trades.values()][-1] == "failed"


def _market(api: Api) -> tuple[object, ...]:
    stats = api.get(f"/v1/exchange/stats/{INSTRUMENT}")
    candles = api.get(f"/v1/exchange/candles/{INSTRUMENT}?interval=1d")
    trades = api.get(f"/v1/exchange/trades/{INSTRUMENT}")
    return ((stats["trades"], stats["volume"], stats["last"], stats["high"]),
            [(c["volume"], c["close"], c["high"], c["trades"]) for c in candles],
            [t["price"] for t in trades])


def test_a_failed_trade_is_not_in_last_price_candles_or_24h_stats(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    _settled_then_matched(api, ex, acc)
    _fail_it(ex, acc, ledger)
    assert _market(api) == ((1, T, GOOD, GOOD), [(T, GOOD, GOOD, 1)], [GOOD])
    assert ex.service.reads.listings[INSTRUMENT].last_price == GOOD


def test_a_failed_trade_does_not_set_the_next_days_reference_price(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    _settled_then_matched(api, ex, acc)
    _fail_it(ex, acc, ledger)
    tomorrow = time.time() + 86_400
    ex.service.clock = lambda: tomorrow
    place(api, signed(acc, ex, "trader2", "buy", GOOD, T, 3, expiry=EXPIRY))  # rolls the day
    [listed] = [i for i in api.get("/v1/exchange/instruments") if i["instrument"] == INSTRUMENT]
    assert listed["reference_price"] == GOOD


def test_market_data_after_replay_and_snapshot_leaves_failed_trades_out(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger
) -> None:
    _settled_then_matched(api, ex, acc)
    ex.service.snapshot()  # the settled trade may be archived; the matched one is kept
    first = reopened(ex, ledger, acc)
    try:
        assert list(first.service.state.trades) == [2]  # the settled one is archived: out of memory
        _fail_it(first, acc, ledger)
        assert first.service.reads.listings[INSTRUMENT].last_price == GOOD
        first.service.snapshot()
        again = reopened(first, ledger, acc)
        try:
            assert again.service.reads.listings[INSTRUMENT].last_price == GOOD
            assert BAD not in [t.price for t in again.service.state.market.recent(INSTRUMENT)]
        finally:
            again.service.close()
    finally:
        first.service.close()
