// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title MemberRoster
/// @notice Who is admitted, since when, whether frozen, and how many roles each member holds.
/// A base of Consortium: its constructor admits the first member (governance) before
/// AccessControl's constructor grants it the admin role, which only members may hold.
abstract contract MemberRoster {
    /// @dev One slot per member. `roles` counts the AccessControl roles it holds.
    struct Member {
        bool active;
        bool frozen;
        uint64 admittedAt;
        uint16 roles;
    }

    mapping(address account => Member) internal _members;

    /// @notice Number of active members.
    uint256 public memberCount;

    /// @dev The zero address cannot be admitted.
    error ZeroAddress();

    /// @notice A member was admitted.
    event MemberAdmitted(address indexed account, string name, bytes32 profileHash, address indexed by);

    /// @param first The first member (governance), admitted by the deployer.
    constructor(address first) {
        if (first == address(0)) revert ZeroAddress();
        _admit(first, "governance", bytes32(0), msg.sender);
    }

    /// @dev Admits `account` afresh; a freeze survives removal and re-admission.
    function _admit(address account, string memory name, bytes32 profileHash, address by) internal {
        Member storage m = _members[account];
        m.active = true;
        m.admittedAt = uint64(block.timestamp);
        unchecked {
            ++memberCount;
        }
        emit MemberAdmitted(account, name, profileHash, by);
    }
}
