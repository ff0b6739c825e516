"""Invariants of the matching engine under random command streams (hypothesis)."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.auction import clearing_price
from exchange.engine import Engine
from exchange.instruments import InstrumentSpec
from exchange.orders import (
    Cancel,
    CancelAll,
    Cancelled,
    Command,
    Move,
    OrderType,
    Place,
    Rested,
    Side,
    TimeInForce,
    Trade,
)

SYM = 1
MEMBERS = ["a", "b", "c", "d"]


def commands() -> st.SearchStrategy[list[Command]]:
    place = st.builds(
        lambda m, side, p, q, tif, mkt: ("place", m, side, p, q, tif, mkt),
        st.sampled_from(MEMBERS), st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(95, 105), st.integers(1, 8),
        st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
        st.booleans(),
    )
    other = st.tuples(st.sampled_from(["cancel", "move", "cancel_all"]),
                      st.integers(0, 40), st.integers(95, 105), st.sampled_from(MEMBERS))
    return st.lists(st.one_of(place, place, other), min_size=1, max_size=60).map(_materialise)


def _materialise(raw: list[tuple]) -> list[Command]:  # type: ignore[type-arg]
    out: list[Command] = []
    owners: dict[int, str] = {}
    oid = 0
    for i, r in enumerate(raw):
        if r[0] == "place":
            oid += 1
            _, m, side, p, q, tif, mkt = r
            otype = OrderType.MARKET if mkt else OrderType.LIMIT
            out.append(Place(SYM, oid, m, side, p, q, tif, otype, ts=i))
            owners[oid] = m
        elif owners:
            kind, k, p, m = r
            target = sorted(owners)[k % len(owners)]
            if kind == "cancel":
                out.append(Cancel(SYM, target, owners[target], ts=i))
            elif kind == "move":
                out.append(Move(SYM, target, owners[target], p, ts=i))
            else:
                out.append(CancelAll(SYM, m, ts=i))
    return out


def new_engine() -> Engine:
    return Engine([InstrumentSpec(SYM, tick=1, lot=1)])


@settings(max_examples=300, deadline=None)
@given(commands())
def test_the_book_is_never_crossed_at_rest(cmds: list[Command]) -> None:
    e = new_engine()
    for c in cmds:
        e.process(c)
        assert not e.books[SYM].is_crossed()


@settings(max_examples=300, deadline=None)
@given(commands())
def test_quantity_is_conserved_for_every_order(cmds: list[Command]) -> None:
    e = new_engine()
    placed: dict[int, int] = {}
    filled: dict[int, int] = defaultdict(int)
    cancelled: dict[int, int] = defaultdict(int)
    for c in cmds:
        if isinstance(c, Place):
            placed.setdefault(c.order_id, c.quantity)
        for ev in e.process(c):
            if isinstance(ev, Trade):
                filled[ev.maker_order_id] += ev.quantity
                filled[ev.taker_order_id] += ev.quantity
            elif isinstance(ev, Cancelled) and ev.reason != "moved":
                cancelled[ev.order_id] += ev.quantity
    resting = {o.order_id: o.remaining for o in e.books[SYM].orders.values()}
    for oid, qty in placed.items():
        assert qty == filled[oid] + resting.get(oid, 0) + cancelled[oid], oid


@settings(max_examples=300, deadline=None)
@given(commands())
def test_makers_are_filled_in_price_time_priority(cmds: list[Command]) -> None:
    e = new_engine()
    book = e.books[SYM]
    for c in cmds:
        if isinstance(c, Place):
            opposite = Side.SELL if c.side == Side.BUY else Side.BUY
            queue = [o.order_id for o in book.resting(opposite)]
        else:
            queue = []
        events = e.process(c)
        makers = [t.maker_order_id for t in events if isinstance(t, Trade)]
        if isinstance(c, Place) and makers:
            # the makers are the head of the opposite side's priority queue, in order
            distinct = list(dict.fromkeys(makers))
            assert distinct == queue[: len(distinct)]


@settings(max_examples=300, deadline=None)
@given(commands())
def test_ioc_and_fok_never_rest_and_fok_fills_all_or_nothing(cmds: list[Command]) -> None:
    e = new_engine()
    for c in cmds:
        events = e.process(c)
        if isinstance(c, Place) and c.tif != TimeInForce.GTC:
            assert c.order_id not in e.books[SYM].orders
            assert not any(isinstance(x, Rested) and x.order_id == c.order_id for x in events)
            got = sum(t.quantity for t in events if isinstance(t, Trade)
                      and t.taker_order_id == c.order_id)
            if c.tif == TimeInForce.FOK:
                assert got in (0, c.quantity)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(90, 110), st.integers(1, 20)), min_size=1, max_size=12),
       st.lists(st.tuples(st.integers(90, 110), st.integers(1, 20)), min_size=1, max_size=12),
       st.integers(85, 115))
def test_the_auction_price_maximises_volume(bids: list[tuple[int, int]],
                                            asks: list[tuple[int, int]], ref: int) -> None:
    def volume(p: int) -> int:
        return min(sum(q for b, q in bids if b >= p), sum(q for a, q in asks if a <= p))

    best = max(volume(p) for p in range(80, 121))
    c = clearing_price(bids, asks, ref)
    if best == 0:
        assert c is None
    else:
        assert c is not None and c.volume == volume(c.price) == best


@settings(max_examples=200, deadline=None)
@given(commands(), st.integers(0, 60))
def test_replay_from_a_snapshot_gives_the_same_events(cmds: list[Command], cut: int) -> None:
    a = new_engine()
    for c in cmds[:cut]:
        a.process(c)
    b = Engine.restore(a.snapshot())
    assert [a.process(c) for c in cmds[cut:]] == [b.process(c) for c in cmds[cut:]]
