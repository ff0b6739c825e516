"""A market for settlement failures: an exchange whose balance cache never expires by itself
(as within its 1 s TTL in production), so a seller who moves credits away outside the exchange
can sell them again, and helpers that place signed orders directly on the service."""

from __future__ import annotations

import time
from pathlib import Path

from eth_account.signers.local import LocalAccount

from exchange.instruments import InstrumentSpec
from exchange.onchain import SettlementChain
from exchange.runtime import Exchange, open_exchange
from exchange.signing import Order, sign_order
from registry.ledger import Ledger

T = 1_000_000
PRICE = 60_000
CACHED = 3_600.0  # seconds: the balances read first stay in use for the whole test


def cached_market(ledger: Ledger, acc: dict[str, LocalAccount], directory: Path, batch: int,
                  instrument: int, balance_ttl: float = CACHED) -> Exchange:
    """The exchange on `directory` (a restart when it exists), `instrument` listed on chain
    and in the exchange the first time."""
    if not (directory / "journal").exists() and not directory.exists():
        SettlementChain(ledger).list_instrument(acc["exchange"], instrument, batch_id=batch,
                                                lot=T, tick=1)
    ex = open_exchange(ledger, directory, acc["exchange"], balance_ttl=balance_ttl)
    if instrument not in ex.service.reads.listings:
        ex.service.list_instrument(InstrumentSpec(instrument, lot=T, tick=1,
                                                  reference_price=PRICE), batch)
    return ex


def place(ex: Exchange, acc: dict[str, LocalAccount], seat: str, side: str, quantity: int,
          nonce: int, instrument: int, batch: int, price: int = PRICE,
          expiry: int | None = None, retire_for: int = 0) -> dict[str, object]:
    """A signed limit order (GTC) submitted to the service; its view with its trades
    (`retire_for`: a buy's compensation order)."""
    o = Order(acc[seat].address, 0 if side == "buy" else 1, instrument, price, quantity, 0,
              nonce, expiry if expiry is not None else int(time.time()) + 3_600,
              batch_id=batch if side == "sell" else 0, max_fee_bps=100, retire_for=retire_for)
    return ex.service.submit(o, sign_order(acc[seat], o, ex.chain.domain))


def trade_ids(view: dict[str, object]) -> list[int]:
    trades = view["trades"]
    assert isinstance(trades, list)
    return [int(t["trade_id"]) for t in trades]
