"""The matching engine, one behaviour per test: price-time priority, order types, self-trade
prevention, rules, auctions, block trades and snapshots. Pure: no chain, no database."""

from __future__ import annotations

import pytest

from exchange.auction import clearing_price
from exchange.engine import Engine
from exchange.instruments import InstrumentSpec, Status, check_price
from exchange.orders import (
    Accepted,
    BlockTrade,
    Cancel,
    CancelAll,
    Cancelled,
    CancelReason,
    Event,
    Move,
    OrderType,
    Place,
    Reject,
    Rejected,
    Rested,
    SelfTrade,
    SetStatus,
    Side,
    TimeInForce,
    Trade,
    Uncross,
)

T = 1_000_000  # one tonne
SYM = 1  # the instrument id, as on chain
BUY, SELL = Side.BUY, Side.SELL


def engine(**spec: object) -> Engine:
    return Engine([InstrumentSpec(SYM, tick=5, lot=T, reference_price=60_000, **spec)])  # type: ignore[arg-type]


def place(e: Engine, oid: int, member: str, side: Side, price: int, qty: int,
          tif: TimeInForce = TimeInForce.GTC, otype: OrderType = OrderType.LIMIT) -> list[Event]:
    return e.process(Place(SYM, oid, member, side, price, qty * T, tif, otype, ts=oid))


def trades(events: list[Event]) -> list[tuple[int, int, int, int]]:
    """(maker, taker, price, tonnes) of each trade."""
    return [(t.maker_order_id, t.taker_order_id, t.price, t.quantity // T)
            for t in events if isinstance(t, Trade)]


def of(events: list[Event], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, kind)]


def test_better_price_fills_first_then_earlier_time():
    e = engine()
    place(e, 1, "a", SELL, 60_100, 5)
    place(e, 2, "b", SELL, 60_000, 5)
    place(e, 3, "c", SELL, 60_000, 5)
    out = place(e, 4, "d", BUY, 60_100, 12)
    assert trades(out) == [(2, 4, 60_000, 5), (3, 4, 60_000, 5), (1, 4, 60_100, 2)]


def test_a_partial_fill_leaves_the_rest_resting_at_its_limit():
    e = engine()
    place(e, 1, "a", SELL, 60_000, 3)
    out = place(e, 2, "b", BUY, 60_050, 10)
    assert trades(out) == [(1, 2, 60_000, 3)]
    assert of(out, Rested)[-1][2:6] == (2, BUY, 60_050, 7 * T)
    assert e.books[SYM].best(BUY) == 60_050


def test_trades_happen_at_the_resting_orders_price():
    e = engine()
    place(e, 1, "a", BUY, 60_200, 1)
    out = place(e, 2, "b", SELL, 59_900, 1)
    assert trades(out) == [(1, 2, 60_200, 1)]
    t = of(out, Trade)[0]
    assert (t.buyer, t.seller, t.taker_side) == ("a", "b", SELL)


def test_ioc_remainder_is_cancelled():
    e = engine()
    place(e, 1, "a", SELL, 60_000, 2)
    out = place(e, 2, "b", BUY, 60_000, 5, TimeInForce.IOC)
    assert trades(out) == [(1, 2, 60_000, 2)]
    c = of(out, Cancelled)[0]
    assert (c.order_id, c.quantity, c.reason) == (2, 3 * T, CancelReason.IOC_REMAINDER)
    assert e.books[SYM].best(BUY) is None


def test_fok_fills_completely_or_not_at_all():
    e = engine()
    place(e, 1, "a", SELL, 60_000, 2)
    place(e, 2, "a", SELL, 60_100, 2)
    killed = place(e, 3, "b", BUY, 60_100, 5, TimeInForce.FOK)
    assert trades(killed) == []
    assert of(killed, Cancelled)[0].reason == CancelReason.FOK_UNFILLED
    filled = place(e, 4, "b", BUY, 60_100, 4, TimeInForce.FOK)
    assert trades(filled) == [(1, 4, 60_000, 2), (2, 4, 60_100, 2)]


def test_a_market_order_never_trades_through_its_protection_price():
    e = engine()
    place(e, 1, "a", SELL, 60_000, 1)
    place(e, 2, "a", SELL, 61_000, 1)
    out = place(e, 3, "b", BUY, 60_500, 5, otype=OrderType.MARKET)
    assert trades(out) == [(1, 3, 60_000, 1)]
    assert of(out, Cancelled)[0].reason == CancelReason.MARKET_PROTECTION
    assert e.books[SYM].best(SELL) == 61_000


def test_self_trade_cancels_the_incoming_remainder_by_default():
    e = engine()
    place(e, 1, "a", SELL, 60_000, 1)
    place(e, 2, "m", SELL, 60_000, 1)
    out = place(e, 3, "m", BUY, 60_000, 2)
    assert trades(out) == [(1, 3, 60_000, 1)]
    assert of(out, Cancelled)[0][2:6] == (3, "m", T, CancelReason.SELF_TRADE)
    assert 2 in e.books[SYM].orders  # the member's resting order stays


@pytest.mark.parametrize(("mode", "maker_left", "taker_filled"), [
    (SelfTrade.CANCEL_MAKER, False, 2), (SelfTrade.CANCEL_BOTH, False, 1)])
def test_self_trade_modes(mode: SelfTrade, maker_left: bool, taker_filled: int):
    e = Engine([InstrumentSpec(SYM, tick=5, lot=T)], self_trade=mode)
    place(e, 1, "a", SELL, 60_000, 1)
    place(e, 2, "m", SELL, 60_000, 1)
    place(e, 3, "a", SELL, 60_000, 1)
    out = place(e, 4, "m", BUY, 60_000, 2)
    assert sum(t[3] for t in trades(out)) == taker_filled
    assert (2 in e.books[SYM].orders) is maker_left


def test_cancel_and_cancel_all_remove_only_the_members_orders():
    e = engine()
    for i, m in enumerate(("a", "a", "b"), 1):
        place(e, i, m, BUY, 59_000 + i * 5, 1)
    assert of(e.process(Cancel(SYM, 3, "a")), Rejected)[0].reason == Reject.NOT_ORDER_OWNER
    assert of(e.process(Cancel(SYM, 9, "a")), Rejected)[0].reason == Reject.UNKNOWN_ORDER
    out = e.process(CancelAll(SYM, "a"))
    assert sorted(c.order_id for c in of(out, Cancelled)) == [1, 2]
    assert list(e.books[SYM].orders) == [3]


def test_a_move_loses_time_priority_and_can_trade():
    e = engine()
    place(e, 1, "a", BUY, 60_000, 1)
    place(e, 2, "b", BUY, 60_000, 1)
    e.process(Move(SYM, 1, "a", 60_000))
    assert [o.order_id for o in e.books[SYM].resting(BUY)] == [2, 1]
    place(e, 3, "c", SELL, 60_100, 1)
    out = e.process(Move(SYM, 1, "a", 60_100))
    assert trades(out) == [(3, 1, 60_100, 1)]


@pytest.mark.parametrize(("price", "qty", "code"), [
    (60_003, T, Reject.TICK_VIOLATION),
    (60_000, T + 1, Reject.LOT_VIOLATION),
    (60_000, 0, Reject.INVALID_QUANTITY),
    (66_005, T, Reject.OUTSIDE_PRICE_BAND),
    (53_995, T, Reject.OUTSIDE_PRICE_BAND),
    (0, T, Reject.INVALID_PRICE),
])
def test_orders_breaking_the_rules_are_rejected(price: int, qty: int, code: Reject):
    e = engine()
    out = e.process(Place(SYM, 1, "a", BUY, price, qty))
    assert [type(x) for x in out] == [Rejected] and out[0].reason == code
    assert not e.books[SYM].orders


def test_band_edges_are_inside_and_on_the_tick_grid():
    spec = InstrumentSpec(SYM, tick=5, lot=T, reference_price=60_003)
    assert spec.band(1_000) == (54_005, 66_000)
    assert check_price(spec, 54_005) is None and check_price(spec, 54_000) is not None


def test_a_halted_instrument_refuses_orders_but_allows_cancels():
    e = engine()
    place(e, 1, "a", BUY, 60_000, 1)
    e.process(SetStatus(SYM, "halted"))
    assert of(place(e, 2, "b", SELL, 60_000, 1), Rejected)[0].reason == Reject.INSTRUMENT_HALTED
    assert of(e.process(Cancel(SYM, 1, "a")), Cancelled)
    unknown = e.process(Place(999, 3, "a", BUY, 1, T))
    assert unknown[0].reason == Reject.UNKNOWN_INSTRUMENT  # type: ignore[union-attr]


def test_a_duplicate_order_id_is_rejected():
    e = engine()
    place(e, 1, "a", BUY, 60_000, 1)
    assert of(place(e, 1, "b", BUY, 60_000, 1), Rejected)[0].reason == Reject.DUPLICATE_ORDER_ID


def test_opening_auction_clears_at_the_volume_maximising_price():
    # bids 10@60_100, 10@60_000; asks 5@59_900, 10@60_000, 10@60_200 (tonnes)
    # at 60_000: demand 20, supply 15 → 15; at 60_100: demand 10, supply 15 → 10
    e = engine(status=Status.AUCTION)
    for oid, m, side, p, q in [(1, "a", BUY, 60_100, 10), (2, "b", BUY, 60_000, 10),
                               (3, "c", SELL, 59_900, 5), (4, "d", SELL, 60_000, 10),
                               (5, "e", SELL, 60_200, 10)]:
        assert not trades(place(e, oid, m, side, p, q))
    out = e.process(Uncross(SYM))
    assert {t.price for t in of(out, Trade)} == {60_000}
    assert sum(t.quantity for t in of(out, Trade)) == 15 * T
    assert e.specs[SYM].status == Status.OPEN and e.specs[SYM].reference_price == 60_000
    assert e.books[SYM].best(BUY) == 60_000 and e.books[SYM].best(SELL) == 60_200
    assert not e.books[SYM].is_crossed()


def test_auction_ties_go_to_least_imbalance_then_nearest_the_reference():
    # volume 10 at 60_000..60_100; imbalance equal; reference 60_050 → 60_050 is not a
    # candidate; 60_000 and 60_100 are 50 away → the lower price
    assert clearing_price([(60_100, 10)], [(60_000, 10)], 60_050).price == 60_000  # type: ignore[union-attr]
    assert clearing_price([(60_100, 10)], [(60_000, 10)], 60_090).price == 60_100  # type: ignore[union-attr]
    # imbalance decides first: at 60_000 demand 15 vs supply 10; at 60_100 demand 5
    c = clearing_price([(60_100, 5), (60_000, 10)], [(60_000, 10)], 60_100)
    assert (c.price, c.volume, c.imbalance) == (60_000, 10, 5)  # type: ignore[union-attr]


def test_a_single_lot_auction_goes_to_the_best_bid_at_or_above_the_reserve():
    e = Engine([InstrumentSpec(SYM, tick=100, lot=T, status=Status.SINGLE_LOT,
                               lot_seller="shellfish-coop", lot_quantity=2_000 * T,
                               reserve_price=10_000)])
    assert of(place(e, 1, "a", BUY, 9_900, 2_000), Rejected)  # below the reserve
    assert of(place(e, 2, "a", BUY, 10_000, 1_000), Rejected)  # not the whole lot
    place(e, 3, "a", BUY, 10_500, 2_000)
    place(e, 4, "b", BUY, 10_800, 2_000)
    place(e, 5, "c", BUY, 10_800, 2_000)
    out = e.process(Uncross(SYM))
    [t] = of(out, Trade)
    assert (t.buyer, t.seller, t.price, t.quantity, t.kind) == (
        "b", "shellfish-coop", 10_800, 2_000 * T, "single_lot")
    assert sorted(c.order_id for c in of(out, Cancelled)) == [3, 5]
    assert e.specs[SYM].status == Status.CLOSED


def test_a_block_trade_inside_the_block_band_bypasses_the_book():
    e = engine()
    place(e, 1, "a", SELL, 60_000, 1)
    out = e.process(BlockTrade(SYM, 77, "x", "y", 75_000, 500 * T))  # +25 %: block band ±30 %
    [t] = of(out, Trade)
    assert (t.buyer, t.seller, t.price, t.kind) == ("x", "y", 75_000, "block")
    assert list(e.books[SYM].orders) == [1]
    too_far = e.process(BlockTrade(SYM, 78, "x", "y", 78_005, T))
    assert of(too_far, Rejected)[0].reason == Reject.OUTSIDE_PRICE_BAND
    assert of(e.process(BlockTrade(SYM, 79, "x", "x", 60_000, T)), Rejected)[0].reason == (
        Reject.SELF_TRADE)


def test_sequence_numbers_and_trade_ids_increase_without_gaps():
    e = engine()
    events = place(e, 1, "a", SELL, 60_000, 3) + place(e, 2, "b", BUY, 60_000, 1) + \
        place(e, 3, "c", BUY, 60_000, 1)
    assert [x.seq for x in events] == list(range(1, len(events) + 1))
    assert [t.trade_id for t in of(events, Trade)] == [1, 2]
    assert isinstance(events[0], Accepted)


def test_a_restored_snapshot_continues_exactly_like_the_original():
    a = engine()
    place(a, 1, "a", SELL, 60_100, 3)
    place(a, 2, "b", SELL, 60_100, 2)
    place(a, 3, "c", BUY, 59_900, 4)
    place(a, 4, "d", BUY, 60_100, 1)
    b = Engine.restore(a.snapshot())
    more = [Place(SYM, 5, "e", BUY, 60_100, 3 * T), Move(SYM, 3, "c", 60_100),
            Cancel(SYM, 2, "b")]
    assert [a.process(c) for c in more] == [b.process(c) for c in more]
    assert a.snapshot() == b.snapshot()
