// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {Roles} from "./Roles.sol";

/// @title Consortium
/// @notice The roster of the permissioned ledger: admitted members, their roles, and freezes.
/// Only active members can hold roles or assets; a removed member keeps its roles on record but
/// every role check fails for it.
contract Consortium is IConsortium, AccessControl, ERC2771Context {
    struct Member {
        bool active;
        bool frozen;
        uint64 admittedAt;
    }

    mapping(address account => Member) private _members;

    /// @notice Number of active members.
    uint256 public memberCount;

    /// @dev The account is already an active member.
    error AlreadyMember(address account);
    /// @dev The zero address cannot be admitted.
    error ZeroAddress();
    /// @dev A member's display name must not be empty.
    error EmptyName();
    /// @dev The account is already in the requested freeze state.
    error FreezeUnchanged(address account, bool frozen);
    /// @dev Governance cannot remove itself (the consortium would lose its admin).
    error CannotRemoveGovernance(address account);

    /// @notice A member was admitted.
    event MemberAdmitted(address indexed account, string name, bytes32 profileHash, address indexed by);
    /// @notice A member was removed.
    event MemberRemoved(address indexed account, address indexed by);
    /// @notice An account was frozen or unfrozen by the regulator.
    event AccountFreezeChanged(address indexed account, bool frozen, bytes32 reasonHash, address indexed by);

    /// @param governance First member and holder of the governance (default admin) role.
    /// @param trustedForwarder ERC-2771 forwarder that relays requests signed by members' own keys.
    constructor(address governance, address trustedForwarder) ERC2771Context(trustedForwarder) {
        if (governance == address(0)) revert ZeroAddress();
        _admit(governance, "governance", bytes32(0));
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
    }

    /// @notice Admits `account` as a member. Callable by governance or the registry operator.
    /// @param account Chain account of the new member.
    /// @param name Display name (e.g. the enterprise's registered name).
    /// @param profileHash Hash of the off-chain KYC/profile record.
    function admit(address account, string calldata name, bytes32 profileHash) external {
        _requireAdmitter(_msgSender());
        if (account == address(0)) revert ZeroAddress();
        if (bytes(name).length == 0) revert EmptyName();
        if (_members[account].active) revert AlreadyMember(account);
        _admit(account, name, profileHash);
    }

    /// @notice Removes member `account`; its roles stop working at once. Governance or registry operator.
    /// @param account The member to remove.
    function remove(address account) external {
        address sender = _msgSender();
        _requireAdmitter(sender);
        if (!_members[account].active) revert NotMember(account);
        if (hasRole(DEFAULT_ADMIN_ROLE, account)) revert CannotRemoveGovernance(account);
        _members[account].active = false;
        unchecked {
            --memberCount;
        }
        emit MemberRemoved(account, sender);
    }

    /// @notice Freezes `account`: it can neither send, receive nor retire assets. Regulator only.
    /// @param account The account to freeze.
    /// @param reasonHash Hash of the regulator's decision document.
    function freeze(address account, bytes32 reasonHash) external {
        _setFrozen(account, true, reasonHash);
    }

    /// @notice Lifts a freeze on `account`. Regulator only.
    /// @param account The account to unfreeze.
    /// @param reasonHash Hash of the regulator's decision document.
    function unfreeze(address account, bytes32 reasonHash) external {
        _setFrozen(account, false, reasonHash);
    }

    /// @inheritdoc IConsortium
    function requireRole(bytes32 role, address account) external view {
        if (!_members[account].active) revert NotMember(account);
        if (role != Roles.MEMBER && !hasRole(role, account)) revert NotAuthorized(account, role);
    }

    /// @inheritdoc IConsortium
    function requireHolder(address account) external view {
        Member memory m = _members[account];
        if (!m.active) revert NotMember(account);
        if (m.frozen) revert AccountFrozen(account);
    }

    /// @inheritdoc IConsortium
    function isAuthorized(bytes32 role, address account) external view returns (bool) {
        return _members[account].active && (role == Roles.MEMBER || hasRole(role, account));
    }

    /// @inheritdoc IConsortium
    function isMember(address account) external view returns (bool) {
        return _members[account].active;
    }

    /// @inheritdoc IConsortium
    function isFrozen(address account) external view returns (bool) {
        return _members[account].frozen;
    }

    /// @notice When `account` was admitted (0 if never).
    function admittedAt(address account) external view returns (uint64) {
        return _members[account].admittedAt;
    }

    /// @dev Roles can only be granted to active members.
    function _grantRole(bytes32 role, address account) internal override returns (bool) {
        if (!_members[account].active) revert NotMember(account);
        return super._grantRole(role, account);
    }

    function _admit(address account, string memory name, bytes32 profileHash) private {
        _members[account] = Member({active: true, frozen: _members[account].frozen, admittedAt: uint64(block.timestamp)});
        unchecked {
            ++memberCount;
        }
        emit MemberAdmitted(account, name, profileHash, _msgSender());
    }

    function _setFrozen(address account, bool frozen, bytes32 reasonHash) private {
        address sender = _msgSender();
        if (!_members[sender].active) revert NotMember(sender);
        if (!hasRole(Roles.REGULATOR, sender)) revert NotAuthorized(sender, Roles.REGULATOR);
        if (account == address(0)) revert ZeroAddress();
        if (_members[account].frozen == frozen) revert FreezeUnchanged(account, frozen);
        _members[account].frozen = frozen;
        emit AccountFreezeChanged(account, frozen, reasonHash, sender);
    }

    function _requireAdmitter(address sender) private view {
        if (!_members[sender].active) revert NotMember(sender);
        if (!hasRole(DEFAULT_ADMIN_ROLE, sender) && !hasRole(Roles.REGISTRY_OPERATOR, sender)) {
            revert NotAuthorized(sender, Roles.REGISTRY_OPERATOR);
        }
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
