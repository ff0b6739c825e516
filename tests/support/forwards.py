"""Helpers for forward-market tests: the chain clock by trading day and hour, signed trades."""

from __future__ import annotations

import itertools

from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.structs import ForwardMarketTerms
from registry.forwards import DAY, ForwardOrder, Forwards, ForwardTrade, Side

HOUR = 3_600
FAR = 2**40
_ids = itertools.count(1_000)


def now(chain: Chain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def goto(chain: Chain, at: int) -> None:
    """Moves the chain clock forward to `at` (unix seconds); the next block is at or after it."""
    delta = at - now(chain)
    assert delta > 0, "the clock only moves forward"
    chain.rpc("evm_increaseTime", delta)
    chain.rpc("evm_mine")


def today(chain: Chain) -> int:
    return now(chain) // DAY


def terms(methodology_id: int, vintage: tuple[int, int], last_trading_day: int,
          delivery_day: int, *, size: int = 100_000_000, tick: int = 10,
          reference: int = 6_000, close: int = 7 * HOUR, window: int = HOUR,
          delivery_window: int = DAY, call_period: int = 12 * HOUR, im: int = 1_000,
          mm: int = 500, limit: int = 1_000) -> ForwardMarketTerms:
    return ForwardMarketTerms(
        methodology_id=methodology_id, vintage_from=vintage[0], vintage_to=vintage[1],
        size=size, tick=tick, last_trading_day=last_trading_day, delivery_day=delivery_day,
        reference_price=reference, close_offset=close, vwap_window=window,
        delivery_window=delivery_window, call_period=call_period, initial_margin_bps=im,
        maintenance_margin_bps=mm, price_limit_bps=limit)


def order(fw: Forwards, trader: LocalAccount, side: Side, contract_id: int, price: int,
          quantity: int) -> tuple[ForwardOrder, bytes]:
    o = ForwardOrder(trader.address, side, contract_id, price, quantity, next(_ids), FAR)
    return o, fw.sign(trader, o)


def trade(fw: Forwards, buyer: LocalAccount, seller: LocalAccount, contract_id: int,
          price: int, quantity: int) -> ForwardTrade:
    """A trade of `quantity` contracts at `price`, each side's order signed at that price."""
    buy, bs = order(fw, buyer, Side.BUY, contract_id, price, quantity)
    sell, ss = order(fw, seller, Side.SELL, contract_id, price, quantity)
    return ForwardTrade(next(_ids), price, quantity, buy, bs, sell, ss)
