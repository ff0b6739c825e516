"""Signed orders and fills for settlement tests: trader2 buys, trader1 sells."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import ChainRevert
from exchange.onchain import Fill, SettlementChain
from exchange.signing import Order, sign_order

T = 1_000_000
PRICE = 60_000  # fen per tonne: 600.00 CNY
FAR = 2**40
FEE_CAP = 20  # basis points every order here signs unless told otherwise


def orders(acc: dict[str, LocalAccount], batch: int, qty: int = 10 * T, price: int = PRICE,
           nonce: int = 1, expiry: int = FAR, instrument: int = 7, max_fee_bps: int = FEE_CAP,
           buy_batch: int = 0, retire_for: int = 0) -> tuple[Order, Order]:
    """A buy of trader2 (accepting `buy_batch`, 0 = any; retiring what it buys for compensation
    order `retire_for`, 0 = delivered) and a sell of trader1 delivering `batch`, both at `price`
    for `qty`."""
    buy = Order(acc["trader2"].address, 0, instrument, price, qty, 0, nonce, expiry,
                batch_id=buy_batch, max_fee_bps=max_fee_bps, retire_for=retire_for)
    sell = Order(acc["trader1"].address, 1, instrument, price, qty, 0, nonce, expiry,
                 batch_id=batch, max_fee_bps=max_fee_bps)
    return buy, sell


def fill(sc: SettlementChain, acc: dict[str, LocalAccount], buy: Order, sell: Order,
         trade_id: int, qty: int, batch: int, price: int = PRICE,
         buyer_is_maker: bool = True) -> Fill:
    return Fill(trade_id, batch, qty, price, buyer_is_maker, buy,
                sign_order(acc["trader2"], buy, sc.domain), sell,
                sign_order(acc["trader1"], sell, sc.domain))


def refused(fn: Callable[[], object]) -> str:
    """The custom error a call reverts with."""
    with pytest.raises(ChainRevert) as exc:
        fn()
    return str(exc.value.name)
