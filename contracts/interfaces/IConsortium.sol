// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IConsortium
/// @notice Membership, roles and account freezes that every Tanhui contract consults.
interface IConsortium {
    /// @dev `account` lacks `role` (or is not an active member).
    error NotAuthorized(address account, bytes32 role);
    /// @dev `account` is not an admitted, active member.
    error NotMember(address account);
    /// @dev `account` has been frozen by the regulator.
    error AccountFrozen(address account);

    /// @notice Reverts unless `account` is an active, unfrozen member holding `role` (any member
    /// for Roles.MEMBER): NotMember, then NotAuthorized, then AccountFrozen. A frozen account
    /// acts in no role.
    function requireRole(bytes32 role, address account) external view;

    /// @notice Reverts unless `account` is an active, unfrozen member (may hold and move assets).
    function requireHolder(address account) external view;

    /// @notice True if `account` may act in `role` now: an active, unfrozen member holding it.
    function isAuthorized(bytes32 role, address account) external view returns (bool);

    /// @notice True if `account` is an admitted, active member.
    function isMember(address account) external view returns (bool);

    /// @notice True if `account` is frozen.
    function isFrozen(address account) external view returns (bool);

    /// @notice How many accounts hold `role` (role holders are always active members).
    function roleHolderCount(bytes32 role) external view returns (uint256);
}
