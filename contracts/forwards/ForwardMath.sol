// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ForwardMath
/// @notice The pure arithmetic of the forward market, in one place so that the contract, the
/// Python mirror (registry/forward_math.py) and the tests share one definition.
///
/// Units: prices in fen per tonne; positions in contracts; a contract is `size` credit units
/// (1 t = 1,000,000 units). position × price × size is therefore in micro-fen (10⁻⁶ fen).
library ForwardMath {
    uint256 internal constant UNITS_PER_TONNE = 1_000_000;
    uint256 internal constant BPS = 10_000;

    /// @notice ⌊a / b⌋ rounded towards −∞ (b > 0): a member's variation margin in fen is always
    /// rounded down, against the member, whichever side it is on.
    function floorDiv(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && a < 0) --q;
    }

    /// @notice ⌈a / b⌉ for b > 0.
    function ceilDiv(uint256 a, uint256 b) internal pure returns (uint256) {
        return a == 0 ? 0 : (a - 1) / b + 1;
    }

    /// @notice The daily settlement price: the volume-weighted average of the window's trades,
    /// `valueSum` = Σ quantity × price over `qtySum` = Σ quantity, rounded to the nearest
    /// multiple of `tick`; exactly half-way it rounds towards `previous` (the last settlement
    /// price). With no trade in the window the price is `previous`.
    function vwapToTick(uint256 valueSum, uint256 qtySum, uint256 tick, uint256 previous)
        internal
        pure
        returns (uint256)
    {
        if (qtySum == 0) return previous;
        uint256 step = tick * qtySum;
        uint256 lower = (valueSum / step) * tick;
        uint256 twiceRest = 2 * (valueSum - lower * qtySum);
        if (twiceRest < step) return lower;
        if (twiceRest > step) return lower + tick;
        return previous <= lower ? lower : lower + tick;
    }

    /// @notice A margin requirement in fen, rounded up (against the member):
    /// ⌈|position| × price × size × bps / (10,000 × 1,000,000)⌉.
    function requirement(uint256 absPosition, uint256 price, uint256 size, uint256 bps)
        internal
        pure
        returns (uint256)
    {
        return ceilDiv(absPosition * price * size * bps, BPS * UNITS_PER_TONNE);
    }

    /// @notice Variation margin in micro-fen: (position × price − basis) × size, where basis is
    /// Σ signed quantity × price of the position since its last mark.
    function variation(int256 position, uint256 price, int256 basis, uint256 size)
        internal
        pure
        returns (int256)
    {
        return (position * int256(price) - basis) * int256(size);
    }

    /// @notice One member's share of `amount` split pro rata to weights, by cumulative floors:
    /// ⌊(before + weight) × amount / total⌋ − ⌊before × amount / total⌋, where `before` is the
    /// weight of the members served before it (in the contract's holder order, which no party
    /// chooses). The shares add up to `amount` exactly once `before` reaches `total`.
    function proRata(uint256 before, uint256 weight, uint256 total, uint256 amount)
        internal
        pure
        returns (uint256)
    {
        if (total == 0) return 0;
        return (before + weight) * amount / total - before * amount / total;
    }
}
