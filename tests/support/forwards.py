"""Helpers for forward-market tests: the chain clock by trading day and hour, signed trades."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.structs import ForwardBaseTerms
from registry.forwards import DAY, ForwardOrder, Forwards, ForwardTrade, Side, compact
from registry.ledger import Ledger

HOUR = 3_600
TONNE = 1_000_000
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
          mm: int = 500, limit: int = 1_000) -> ForwardBaseTerms:
    return ForwardBaseTerms(
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


# -- the roles matrix's forward market: every function in a state where it succeeds -----------

FORWARD_ORDER_ABI = "(address,uint8,uint64,uint64,uint64,uint64,uint64)"
FORWARD_TRADE_ABI = f"(uint64,uint64,uint64,{FORWARD_ORDER_ABI},(bytes32,bytes32)," \
                    f"{FORWARD_ORDER_ABI},(bytes32,bytes32))"
FORWARD_TERMS_ABI = "(uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint64,uint32,uint32," \
                    "uint32,uint32,uint16,uint16,uint16)"


@dataclass(frozen=True)
class ForwardWorld:
    """Forward contracts at each stage: `trading` (every member holds margin; a valid trade and
    an unposted closed `day`), `settling` (a day posted, holders unsettled), `close_out` (the
    forceClose arguments for a member past its call deadline), `shorts` / `longs` (every member
    short / long one contract in its delivery window) and `delivered` (window over)."""

    terms: tuple[Any, ...]
    trading: int
    day: int
    trade: tuple[Any, ...]
    settling: int
    close_out: tuple[Any, ...]
    shorts: int
    longs: int
    delivered: int

    def own_order(self, trader: str) -> tuple[Any, ...]:
        return ForwardOrder(trader, Side.BUY, self.trading, 6_000, 1, 77, FAR).as_tuple()


def forward_world(ledger: Ledger, acc: dict[str, LocalAccount],
                  methodology_id: int) -> ForwardWorld:
    from devkit.roster import SEATS, dev_account
    from devkit.scenario import doc

    fw, chain, ex = Forwards(ledger), ledger.chain, acc["exchange"]
    c = today(chain)
    members = [acc[s.key] for s in SEATS if s.key != "outsider"]
    maker = dev_account(len(SEATS) + 4)
    ledger.admit(acc["governance"], maker.address, "远期做市商 Forward market maker")
    chain.rpc("anvil_setBalance", maker.address, hex(10**20))
    ledger._send(acc["bank"], "CashToken", "deposit", maker.address, 10**9, doc("wire"))
    for m in [*members, maker]:
        fw.allow_cash(m, 10**12)
        fw.approve_credits(m)

    def listed(cid: int, ltd: int, delivery: int, window: int = 30 * DAY, mm: int = 500) -> int:
        fw.list_contract(ex, cid, terms(methodology_id, (0, 2**40), ltd, delivery,
                                        size=TONNE, tick=10, close=DAY, window=DAY,
                                        delivery_window=window, call_period=1, mm=mm))
        return cid

    trading, settling, close_out = listed(101, c + 30, c + 40), listed(102, c + 30, c + 40), \
        listed(103, c + 30, c + 40, mm=1_000)
    shorts, longs, delivered = listed(104, c, c + 1), listed(105, c, c + 1), \
        listed(106, c, c + 1, window=1)
    for m in members:
        fw.deposit_margin(m, trading, 1_000)
        fw.deposit_margin(m, shorts, 1_000)
        fw.deposit_margin(m, longs, 10_000)
    fw.deposit_margin(maker, shorts, 10**8)
    fw.deposit_margin(maker, longs, 10**8)
    t1, t2, t3 = acc["trader1"], acc["trader2"], acc["trader3"]
    for cid in (settling, close_out):
        fw.deposit_margin(t1, cid, 10_000)
        fw.deposit_margin(t2, cid, 10_000)
    fw.deposit_margin(t3, close_out, 1_200)
    fw.deposit_margin(acc["developer"], close_out, 10_000)
    fw.record_trades(ex, [trade(fw, maker, m, shorts, 6_000, 1) for m in members]
                     + [trade(fw, m, maker, longs, 6_000, 1) for m in members]
                     + [trade(fw, t1, t2, settling, 6_000, 1),
                        trade(fw, t3, acc["developer"], close_out, 6_600, 1),
                        trade(fw, t1, t2, close_out, 5_400, 3)])
    goto(chain, (c + 1) * DAY + 60)
    for cid in (shorts, longs, close_out):
        fw.settle_day(ex, cid, c)  # close_out at (6,600 + 3 × 5,400) / 4 = 5,700: t3 called
    fw.post_settlement(ex, delivered, c, 6_000)
    fw.post_settlement(ex, settling, c, 6_000)
    counter, sig = order(fw, t1, Side.BUY, close_out, 5_700, 1)
    return ForwardWorld(
        terms=terms(methodology_id, (0, 2**40), c + 30, c + 40).to_abi(),
        trading=trading, day=c,
        trade=trade(fw, t1, t2, trading, 6_000, 1).as_tuple(),
        settling=settling,
        close_out=(close_out, t3.address, counter.as_tuple(), compact(sig)),
        shorts=shorts, longs=longs, delivered=delivered)
