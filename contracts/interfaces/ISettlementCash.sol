// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ISettlementCash
/// @notice The cash token's path for the Settlement contract: one balance move per leg, within
/// the payer's allowance, without the per-transfer roster checks (Settlement checks every
/// trader once per batch before moving anything of theirs).
interface ISettlementCash {
    /// @notice The only contract that may call `settlementTransfer`.
    function settlement() external view returns (address);

    /// @notice Moves `value` fen from `from` to `to` within `from`'s allowance to Settlement.
    function settlementTransfer(address from, address to, uint256 value) external;
}
