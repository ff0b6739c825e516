"""Carbon forwards (碳远期) on the real ForwardMarket: margin in cash tokens, the daily settlement
price the contract recomputes from its own trades, variation margin, a margin call and forced
close-out, and delivery in which one seller defaults; hostile paths change nothing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import ChainRevert
from devkit.scenario import BASE_TIME, Scenario, doc
from registry.forwards import DAY, Forwards, ForwardTrade, Side
from registry.ledger import Ledger
from tests.support.forwards import HOUR, goto, order, terms, today, trade

TONNE = 1_000_000
CID = 7
CASH = 10_000_000  # fen each member starts with
VINTAGE = (BASE_TIME, BASE_TIME + 10 * 365 * DAY)


def reverts(name: str) -> pytest.RaisesContext[ChainRevert]:
    return pytest.raises(ChainRevert, match=name)


@dataclass
class Desk:
    ledger: Ledger
    fw: Forwards
    acc: dict[str, LocalAccount]
    batch: int
    other_batch: int
    d1: int  # first trading day

    def a(self, seat: str) -> LocalAccount:
        return self.acc[seat]

    @property
    def ex(self) -> LocalAccount:
        return self.acc["exchange"]

    def at(self, day: int, hours: float) -> None:
        goto(self.ledger.chain, day * DAY + int(hours * HOUR))

    def record(self, *trades: ForwardTrade) -> None:
        self.fw.record_trades(self.ex, list(trades))

    def cash(self, seat: str) -> int:
        return self.ledger.chain.call(
            self.ledger.c("CashToken").functions.balanceOf(self.acc[seat].address))

    def margin(self, seat: str) -> int:
        return self.fw.account(CID, self.acc[seat].address).margin

    def position(self, seat: str) -> int:
        return self.fw.account(CID, self.acc[seat].address).position


SEATS = ("trader1", "trader2", "trader3", "developer")


def make_desk(ledger: Ledger, acc: dict[str, LocalAccount]) -> Desk:
    s = Scenario(ledger, acc)
    b = s.batch(quantity=2_000 * TONNE)
    other = s.batch(quantity=2_000 * TONNE)  # another methodology: outside the class
    fw = Forwards(ledger)
    ledger.transfer(acc["developer"], acc["trader2"].address, b.batch_id, 1_000 * TONNE)
    for seat in SEATS:
        ledger._send(acc["bank"], "CashToken", "deposit", acc[seat].address, CASH, doc("wire"))
        fw.allow_cash(acc[seat])
        fw.approve_credits(acc[seat])
    d1 = today(ledger.chain) + 1
    fw.list_contract(acc["exchange"], CID,
                     terms(b.methodology_id, VINTAGE, last_trading_day=d1 + 2,
                           delivery_day=d1 + 4))
    return Desk(ledger, fw, acc, b.batch_id, other.batch_id, d1)


@pytest.fixture
def desk(ledger: Ledger, acc: dict[str, LocalAccount]) -> Desk:
    return make_desk(ledger, acc)


# A = trader1, B = trader2, C = trader3, D = developer. Size 100 t, tick 10 fen/t, IM 10 %,
# MM 5 %, limit ±10 %, reference 6,000 fen/t; the day closes at 07:00 UTC, window 06:00–07:00.
#
# day 1: T1 A buys 10 from B @6,000 (02:00, outside the window); T2 C buys 5 from D @6,100 and
#        T3 C buys 5 from B @6,050 (in the window). VWAP 6,075 is half-way between ticks 6,070
#        and 6,080: rounded towards the previous price 6,000 → 6,070.
#        VM: A +70,000  B −80,000  C −5,000  D +15,000
# day 2: T4 B buys 2 from A @5,470 (in the window, the lowest price the ±10 % limit allows is
#        5,463). Price 5,470. VM: A −600,000  B +900,000  C −600,000  D +300,000.
#        C's margin 75,000 < maintenance 273,500: called for 547,000 − 75,000 = 472,000.
# day 3: C did not top up; at 02:00 the exchange closes C's 10 long at 5,470 against B's signed
#        buy of 10 (B short 13 → 3). No window trade: price stays 5,470 (the final price).
# delivery (day 5): B delivers 300 t; A (long 8) pays 8 × 100 × 5,470 = 4,376,000 after topping
#        up 4,000,000; D (short 5) fails and defaults: its margin 715,000 is seized. A receives
#        the 300 t delivered (3/8 of its 800 t), a refund of 4,376,000 − 1,641,000 = 2,735,000
#        and all of D's 715,000 as compensation; B is paid 1,641,000.
DEPOSITS = {"trader1": 1_000_000, "trader2": 1_300_000, "trader3": 680_000, "developer": 400_000}
MARGIN_AFTER_DAY1 = {"trader1": 1_070_000, "trader2": 1_220_000, "trader3": 675_000,
                     "developer": 415_000}
MARGIN_AFTER_DAY2 = {"trader1": 470_000, "trader2": 2_120_000, "trader3": 75_000,
                     "developer": 715_000}
MARGIN_AFTER_DELIVERY = {"trader1": 3_544_000, "trader2": 3_761_000, "trader3": 75_000,
                         "developer": 0}
# cash after everyone withdrew its margin, and credits of the delivered batch
FINAL_CASH = {"trader1": CASH - 1_456_000, "trader2": CASH + 2_461_000,
              "trader3": CASH - 605_000, "developer": CASH - 400_000}
FINAL_CREDITS = {"trader1": 300 * TONNE, "trader2": 700 * TONNE}


def test_the_issue_scenario_ends_at_the_hand_computed_balances(desk: Desk) -> None:
    fw, a, d1, ex = desk.fw, desk.a, desk.d1, desk.ex
    A, B, C, D = (a(s) for s in SEATS)
    desk.at(d1, 1)
    for seat, fen in DEPOSITS.items():
        fw.deposit_margin(a(seat), CID, fen)
    desk.at(d1, 2)
    desk.record(trade(fw, A, B, CID, 6_000, 10))
    desk.at(d1, 6.25)
    desk.record(trade(fw, C, D, CID, 6_100, 5))
    desk.at(d1, 6.5)
    desk.record(trade(fw, C, B, CID, 6_050, 5))
    desk.at(d1, 8)
    assert fw.day_sums(CID, d1) == (5 * 6_100 + 5 * 6_050, 10)
    with reverts("SettlementPriceMismatch"):
        fw.post_settlement(ex, CID, d1, 6_080)  # the half-way tick away from the previous price
    fw.settle_day(ex, CID, d1)
    assert fw.market(CID).price == 6_070
    assert {s: desk.margin(s) for s in SEATS} == MARGIN_AFTER_DAY1

    desk.at(d1 + 1, 6.5)
    desk.record(trade(fw, B, A, CID, 5_470, 2))
    desk.at(d1 + 1, 8)
    sent = fw.settle_day(ex, CID, d1 + 1)
    assert fw.market(CID).price == 5_470
    assert {s: desk.margin(s) for s in SEATS} == MARGIN_AFTER_DAY2
    calls = [e.args for tx in sent for e in desk.ledger.events_of(tx, "MarginCall")]
    assert [(c["member"], c["shortfall"]) for c in calls] == [(C.address, 472_000)]

    desk.at(d1 + 2, 2)
    counter, sig = order(fw, B, Side.BUY, CID, 5_470, 10)
    closed = fw.force_close(ex, CID, C.address, counter, sig)
    ev = desk.ledger.events_of(closed, "ForcedClose")[0].args
    assert (ev["member"], ev["counterparty"], ev["position"], ev["price"]) == (
        C.address, B.address, 10, 5_470)
    assert (desk.position("trader3"), desk.position("trader2")) == (0, -3)
    desk.at(d1 + 2, 8)
    fw.settle_day(ex, CID, d1 + 2)  # no window trade: the previous price
    assert fw.market(CID).price == 5_470

    desk.at(d1 + 4, 1)
    fw.deliver(B, CID, desk.batch)
    fw.deposit_margin(A, CID, 4_000_000)
    fw.pay(A, CID)
    desk.at(d1 + 5, 1)
    done = fw.complete_delivery(ex, CID)
    defaults = [e.args for tx in done for e in desk.ledger.events_of(tx, "Defaulted")]
    assert [(e["member"], e["position"], e["seized"]) for e in defaults] == [
        (D.address, -5, 715_000)]
    assert {s: desk.margin(s) for s in SEATS} == MARGIN_AFTER_DELIVERY
    assert fw.books(CID).rounding == 0 and fw.books(CID).escrow == 0
    for seat in SEATS:
        if desk.margin(seat):
            fw.withdraw_margin(a(seat), CID, desk.margin(seat))
    assert {s: desk.cash(s) for s in SEATS} == FINAL_CASH
    assert fw.cash_held() == 0
    assert {s: desk.ledger.balance(a(s).address, desk.batch)
            for s in ("trader1", "trader2")} == FINAL_CREDITS


# -- hostile paths: each refused, nothing changes ---------------------------------------------


def _margined(desk: Desk) -> None:
    desk.at(desk.d1, 1)
    for seat in SEATS:
        desk.fw.deposit_margin(desk.a(seat), CID, 1_000_000)


def _unchanged(desk: Desk) -> None:
    assert desk.fw.holders(CID) == []
    assert desk.fw.market(CID).open_interest == 0
    assert desk.fw.day_sums(CID, desk.d1) == (0, 0)


def test_an_order_beyond_the_price_limit_is_refused(desk: Desk) -> None:
    _margined(desk)
    with reverts("PriceOutsideLimit"):
        desk.record(trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_610, 1))
    _unchanged(desk)


def test_margin_from_a_non_member_is_refused(desk: Desk) -> None:
    with reverts("NotMember"):
        desk.fw.deposit_margin(desk.a("outsider"), CID, 1_000)
    assert desk.fw.cash_held() == 0


def test_a_trade_needs_initial_margin(desk: Desk) -> None:
    desk.at(desk.d1, 1)
    desk.fw.deposit_margin(desk.a("trader1"), CID, 1_000_000)
    desk.fw.deposit_margin(desk.a("trader2"), CID, 59_999)  # one fen under 1 contract's IM
    with reverts("InsufficientMargin"):
        desk.record(trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 1))
    _unchanged(desk)


def test_margin_backing_a_position_cannot_be_withdrawn(desk: Desk) -> None:
    _margined(desk)
    desk.record(trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 10))
    with reverts("InsufficientMargin"):
        desk.fw.withdraw_margin(desk.a("trader1"), CID, 400_001)  # leaves 599,999 < 600,000
    desk.fw.withdraw_margin(desk.a("trader1"), CID, 400_000)
    assert desk.margin("trader1") == 600_000


def test_trading_after_the_last_trading_day_is_refused(desk: Desk) -> None:
    _margined(desk)
    desk.at(desk.d1 + 3, 1)
    with reverts("TradingClosed"):
        desk.record(trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 1))
    assert desk.fw.holders(CID) == []


def test_trading_after_the_close_is_refused(desk: Desk) -> None:
    _margined(desk)
    desk.at(desk.d1, 7.5)
    with reverts("TradingClosed"):
        desk.record(trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 1))


def test_a_forged_signature_is_refused(desk: Desk) -> None:
    _margined(desk)
    t = trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 1)
    forged = ForwardTrade(t.trade_id, t.price, t.quantity, t.buy,
                          desk.fw.sign(desk.a("trader3"), t.buy), t.sell, t.sell_signature)
    with reverts("InvalidSignature"):
        desk.record(forged)
    _unchanged(desk)


def test_an_order_is_never_filled_beyond_what_it_signed(desk: Desk) -> None:
    _margined(desk)
    buy, bs = order(desk.fw, desk.a("trader1"), Side.BUY, CID, 6_000, 3)
    s1, ss1 = order(desk.fw, desk.a("trader2"), Side.SELL, CID, 6_000, 2)
    s2, ss2 = order(desk.fw, desk.a("trader3"), Side.SELL, CID, 6_000, 2)
    desk.record(ForwardTrade(1, 6_000, 2, buy, bs, s1, ss1))
    with reverts("Overfill"):
        desk.record(ForwardTrade(2, 6_000, 2, buy, bs, s2, ss2))
    assert desk.fw.filled(buy) == 2 and desk.position("trader1") == 2


def test_a_trade_id_is_recorded_once(desk: Desk) -> None:
    _margined(desk)
    t = trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 1)
    desk.record(t)
    again = trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 1)
    with reverts("TradeIdUsed"):
        desk.record(ForwardTrade(t.trade_id, again.price, again.quantity, again.buy,
                                 again.buy_signature, again.sell, again.sell_signature))


def test_a_settlement_price_that_is_not_the_vwap_is_refused(desk: Desk) -> None:
    _margined(desk)
    desk.at(desk.d1, 6.5)
    desk.record(trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_100, 1))
    desk.at(desk.d1, 8)
    with reverts("SettlementPriceMismatch"):
        desk.fw.post_settlement(desk.ex, CID, desk.d1, 6_000)
    assert desk.fw.market(CID).price == 6_000 and not desk.fw.market(CID).settling
    desk.fw.post_settlement(desk.ex, CID, desk.d1, 6_100)


def test_a_day_is_settled_only_after_its_close(desk: Desk) -> None:
    _margined(desk)
    desk.at(desk.d1, 6.5)
    with reverts("DayNotClosed"):
        desk.fw.post_settlement(desk.ex, CID, desk.d1, 6_000)


def test_delivering_credits_outside_the_class_is_refused(desk: Desk) -> None:
    _margined(desk)
    desk.at(desk.d1, 2)
    desk.record(trade(desk.fw, desk.a("trader1"), desk.a("developer"), CID, 6_000, 1))
    for day in (desk.d1, desk.d1 + 1, desk.d1 + 2):
        desk.at(day, 8)
        desk.fw.settle_day(desk.ex, CID, day)
    desk.at(desk.d1 + 4, 1)
    with reverts("IneligibleBatch"):
        desk.fw.deliver(desk.a("developer"), CID, desk.other_batch)
    assert desk.fw.delivery(CID).delivered == 0
    assert desk.ledger.balance(desk.fw.address, desk.other_batch) == 0
    desk.fw.deliver(desk.a("developer"), CID, desk.batch)
    assert desk.ledger.balance(desk.fw.address, desk.batch) == 100 * TONNE


def test_trading_halts_while_a_settlement_is_in_progress(desk: Desk) -> None:
    _margined(desk)
    desk.at(desk.d1, 2)
    desk.record(trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 1))
    desk.at(desk.d1, 8)
    desk.fw.post_settlement(desk.ex, CID, desk.d1, 6_000)
    desk.fw.settle_batch(desk.ex, CID, 1)  # one of two holders
    desk.at(desk.d1 + 1, 1)
    with reverts("SettlementInProgress"):
        desk.record(trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 1))
    desk.fw.settle_batch(desk.ex, CID, 1)
    desk.record(trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 1))


def test_a_position_is_force_closed_only_after_its_call_deadline(desk: Desk) -> None:
    _margined(desk)
    desk.at(desk.d1, 2)
    desk.record(trade(desk.fw, desk.a("trader1"), desk.a("trader2"), CID, 6_000, 1))
    counter, sig = order(desk.fw, desk.a("trader3"), Side.SELL, CID, 6_000, 1)
    with reverts("NoMarginCallDue"):
        desk.fw.force_close(desk.ex, CID, desk.a("trader1").address, counter, sig)


def test_a_listed_contract_id_is_never_reused(desk: Desk) -> None:
    with reverts("ContractIdUsed"):
        desk.fw.list_contract(desk.ex, CID, desk.fw.terms(CID))


def test_the_forward_order_table_is_the_contracts_type(desk: Desk) -> None:
    from chain.eip712 import FORWARD_ORDER

    c = desk.ledger.c("ForwardMarket")
    assert bytes(desk.ledger.chain.call(c.functions.FORWARD_ORDER_TYPEHASH())) == \
        FORWARD_ORDER.typehash
    o, _ = order(desk.fw, desk.a("trader1"), Side.SELL, CID, 6_000, 3)
    assert bytes(desk.ledger.chain.call(c.functions.hashOrder(o.as_tuple()))) == \
        desk.fw.order_digest(o)


def test_a_partial_delivery_is_shared_pro_rata_and_its_rounding_has_a_home(desk: Desk) -> None:
    """Size 1,000,001 units, price 6,070: longs A (1) and C (2) pay 6,071 and 12,141 (rounded
    up); B delivers its 2, D (short 1) defaults with 10,000 fen of margin. Holder order A, B,
    C, D. A receives ⌊2,000,002 / 3⌋ = 666,667 units for ⌈4,046.67⌉ = 4,047 (refund 2,024) and
    ⌊10,000 / 3⌋ = 3,333; C the other 1,333,335 units for 8,094 (refund 4,047) and 6,667; B is
    paid ⌊12,140.01⌋ = 12,140. The escrow keeps 18,212 − 18,211 = 1 fen: the rounding account."""
    fw, a, ex, cid, d1 = desk.fw, desk.a, desk.ex, 8, desk.d1
    fw.list_contract(ex, cid, terms(desk.fw.terms(CID).methodology_id, VINTAGE, d1 + 2, d1 + 4,
                                    size=1_000_001, reference=6_070))
    A, B, C, D = (a(s) for s in SEATS)
    desk.at(d1, 1)
    for m in (A, B, C):
        fw.deposit_margin(m, cid, 100_000)
    fw.deposit_margin(D, cid, 10_000)
    desk.at(d1, 2)
    fw.record_trades(ex, [trade(fw, A, B, cid, 6_070, 1), trade(fw, C, B, cid, 6_070, 1),
                          trade(fw, C, D, cid, 6_070, 1)])
    assert fw.holders(cid) == [A.address, B.address, C.address, D.address]
    for day in (d1, d1 + 1, d1 + 2):
        desk.at(day, 8)
        fw.settle_day(ex, cid, day)
    desk.at(d1 + 4, 1)
    fw.deliver(B, cid, desk.batch)
    fw.pay(A, cid)
    fw.pay(C, cid)
    assert (fw.account(cid, A.address).margin, fw.account(cid, C.address).margin) == (
        100_000 - 6_071, 100_000 - 12_141)
    desk.at(d1 + 5, 1)
    fw.complete_delivery(ex, cid, per_tx=3)
    margins = {m.address: fw.account(cid, m.address).margin for m in (A, B, C, D)}
    assert margins == {A.address: 100_000 - 6_071 + 2_024 + 3_333,
                       B.address: 100_000 + 12_140,
                       C.address: 100_000 - 12_141 + 4_047 + 6_667,
                       D.address: 0}
    assert fw.books(cid).rounding == 1_000_000 and fw.books(cid).escrow == 0
    assert fw.cash_held() * 1_000_000 == sum(margins.values()) * 1_000_000 \
        + fw.books(cid).rounding
    assert desk.ledger.balance(A.address, desk.batch) == 666_667
    assert desk.ledger.balance(C.address, desk.batch) == 1_333_335
    assert desk.ledger.balance(fw.address, desk.batch) == 0
