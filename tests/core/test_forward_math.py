"""The forward market's shared arithmetic (core.forward_math, mirrored by ForwardMath.sol)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.forward_math import (
    WindowTrade,
    pro_rata,
    requirement,
    settlement_price,
    split_fen,
    variation_micro,
    vwap_to_tick,
)


def test_no_window_trade_keeps_the_previous_price() -> None:
    assert settlement_price([], tick=10, previous=6_070) == 6_070


def test_the_vwap_rounds_to_the_nearest_tick() -> None:
    trades = [WindowTrade(2, 6_000), WindowTrade(1, 6_030)]  # 6,010 exactly
    assert settlement_price(trades, tick=10, previous=5_000) == 6_010
    assert vwap_to_tick(3 * 6_013, 3, 10, 5_000) == 6_010
    assert vwap_to_tick(3 * 6_016, 3, 10, 5_000) == 6_020


def test_half_way_rounds_towards_the_previous_price() -> None:
    half = [WindowTrade(5, 6_100), WindowTrade(5, 6_050)]  # 6,075
    assert settlement_price(half, tick=10, previous=6_000) == 6_070
    assert settlement_price(half, tick=10, previous=6_200) == 6_080


def test_variation_margin_rounds_down_for_either_side() -> None:
    gain = variation_micro(1, 6_001, 6_000, 1_500_000)  # +1.5 fen
    loss = variation_micro(-1, 6_001, -6_000, 1_500_000)  # −1.5 fen
    assert split_fen(gain) == (1, 500_000)
    assert split_fen(loss) == (-2, 500_000)


def test_requirements_round_up() -> None:
    assert requirement(1, 6_001, 1_000_000, 1_000) == 601  # 600.1 fen


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=30), st.integers(0, 10**12))
def test_pro_rata_shares_add_up_exactly(weights: list[int], amount: int) -> None:
    total, before, shares = sum(weights), 0, []
    for w in weights:
        shares.append(pro_rata(before, w, total, amount))
        before += w
    assert sum(shares) == (amount if total else 0)
    assert all(s >= 0 for s in shares)


@given(st.integers(-10**9, 10**9), st.integers(1, 10**5), st.integers(-10**14, 10**14),
       st.integers(1, 10**9))
def test_split_never_loses_a_micro_fen(pos: int, price: int, basis: int, size: int) -> None:
    micro = variation_micro(pos, price, basis, size)
    fen, rest = split_fen(micro)
    assert fen * 1_000_000 + rest == micro and 0 <= rest < 1_000_000
