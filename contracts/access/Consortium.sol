// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {IMonitoringReports} from "../interfaces/IMonitoringReports.sol";
import {MemberRoster} from "./MemberRoster.sol";
import {Roles} from "./Roles.sol";

/// @title Consortium
/// @notice The roster of the permissioned ledger: admitted members, their roles, and freezes.
/// Each holder keeps the others in check:
/// - governance (the single default admin) grants and revokes roles and is handed over only in
///   two steps with a delay (OpenZeppelin's AccessControlDefaultAdminRules); it can neither be
///   removed, frozen nor renounced, so the consortium never loses its admin;
/// - the registry operator admits members and removes plain members, never a role holder, a
///   contract member (the settlement contract) or the governance successor;
/// - removing a member revokes every role it holds (one RoleRevoked event each), so re-admitting
///   it restores none of them;
/// - the regulator freezes accounts; a frozen account holds its assets and roles on record but
///   acts in no role (`requireRole` fails with AccountFrozen) and moves nothing;
/// - an oracle role is never revoked, renounced or removed below the attestation threshold k.
contract Consortium is IConsortium, MemberRoster, AccessControlDefaultAdminRules, ERC2771Context {
    /// @notice Role ids, as the contracts check them, readable from the ABI so an auditor need not
    /// guess them (GOVERNANCE is DEFAULT_ADMIN_ROLE; MEMBER stands for an admitted, active,
    /// unfrozen member and is not granted).
    bytes32 public constant GOVERNANCE_ROLE = Roles.GOVERNANCE;
    bytes32 public constant MEMBER_ROLE = Roles.MEMBER;
    bytes32 public constant REGULATOR_ROLE = Roles.REGULATOR;
    bytes32 public constant REGISTRY_OPERATOR_ROLE = Roles.REGISTRY_OPERATOR;
    bytes32 public constant VERIFIER_ROLE = Roles.VERIFIER;
    bytes32 public constant ORACLE_ROLE = Roles.ORACLE;
    bytes32 public constant EXCHANGE_ROLE = Roles.EXCHANGE;
    bytes32 public constant BANK_ROLE = Roles.BANK;
    bytes32 public constant AUTHORITY_ROLE = Roles.AUTHORITY;
    bytes32 public constant FORESTRY_ROLE = Roles.FORESTRY;
    bytes32 public constant RETAIL_ROLE = Roles.RETAIL;

    /// @notice The monitoring-report gate whose threshold k the oracle count may not fall under
    /// (deployed after this contract at an address the deployer computes in advance).
    IMonitoringReports public immutable reports;

    mapping(bytes32 role => uint256 holders) private _holders;

    /// @dev The account is already an active member.
    error AlreadyMember(address account);
    /// @dev A member's display name must not be empty.
    error EmptyName();
    /// @dev The account is already in the requested freeze state.
    error FreezeUnchanged(address account, bool frozen);
    /// @dev Governance cannot be removed (the consortium would lose its admin).
    error CannotRemoveGovernance(address account);
    /// @dev Governance and its designated successor cannot be frozen (nobody could then admin).
    error CannotFreezeGovernance(address account);
    /// @dev Only governance removes a role holder, a contract member or the governance successor.
    error GovernanceRequired(address account);
    /// @dev Not one of the consortium's roles (see Roles).
    error UnknownRole(bytes32 role);
    /// @dev Fewer oracles would remain than the attestation threshold needs.
    error OracleQuorumUnreachable(uint256 oraclesLeft, uint16 threshold);

    /// @notice A member was removed; its roles were revoked in the same transaction.
    event MemberRemoved(address indexed account, address indexed by);
    /// @notice An account was frozen or unfrozen by the regulator.
    event AccountFreezeChanged(address indexed account, bool frozen, bytes32 reasonHash, address indexed by);

    /// @param governance First member and holder of the governance (default admin) role.
    /// @param governanceDelay Seconds between scheduling a governance handover and accepting it.
    /// @param reports_ The MonitoringReports contract (its threshold bounds oracle revocations).
    /// @param trustedForwarder ERC-2771 forwarder that relays requests signed by members' own keys.
    constructor(address governance, uint48 governanceDelay, IMonitoringReports reports_, address trustedForwarder)
        MemberRoster(governance)
        AccessControlDefaultAdminRules(governanceDelay, governance)
        ERC2771Context(trustedForwarder)
    {
        if (address(reports_) == address(0)) revert ZeroAddress();
        reports = reports_;
    }

    /// @notice Admits `account` as a member. Callable by governance or the registry operator.
    /// A former member comes back with none of its former roles (removal revoked them).
    /// @param account Chain account of the new member.
    /// @param name Display name (e.g. the enterprise's registered name).
    /// @param profileHash Hash of the off-chain KYC/profile record.
    function admit(address account, string calldata name, bytes32 profileHash) external {
        address sender = _msgSender();
        _requireAdmitter(sender);
        if (account == address(0)) revert ZeroAddress();
        if (bytes(name).length == 0) revert EmptyName();
        if (_members[account].active) revert AlreadyMember(account);
        _admit(account, name, profileHash, sender);
    }

    /// @notice Removes member `account` and revokes every role it holds. Governance, or the
    /// registry operator for a plain member (no role, not a contract, not the governance successor).
    /// @param account The member to remove.
    function remove(address account) external {
        address sender = _msgSender();
        _requireAdmitter(sender);
        Member storage m = _members[account];
        if (!m.active) revert NotMember(account);
        if (hasRole(DEFAULT_ADMIN_ROLE, account)) revert CannotRemoveGovernance(account);
        if (!hasRole(DEFAULT_ADMIN_ROLE, sender)) {
            (address successor,) = pendingDefaultAdmin();
            if (m.roles != 0 || account.code.length != 0 || account == successor) revert GovernanceRequired(account);
        }
        if (m.roles != 0) {
            for (uint256 i = 1; i < Roles.COUNT; ++i) {
                _revokeRole(Roles.at(i), account);
            }
        }
        m.active = false;
        unchecked {
            --memberCount;
        }
        emit MemberRemoved(account, sender);
    }

    /// @notice Freezes `account`: it can neither send, receive nor retire assets, nor act in any
    /// role. Regulator only; governance and its designated successor cannot be frozen.
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
        Member storage m = _members[account];
        (bool active, bool frozen) = (m.active, m.frozen);
        if (!active) revert NotMember(account);
        if (role != Roles.MEMBER && !hasRole(role, account)) revert NotAuthorized(account, role);
        if (frozen) revert AccountFrozen(account);
    }

    /// @inheritdoc IConsortium
    function requireHolder(address account) external view {
        Member storage m = _members[account];
        (bool active, bool frozen) = (m.active, m.frozen);
        if (!active) revert NotMember(account);
        if (frozen) revert AccountFrozen(account);
    }

    /// @inheritdoc IConsortium
    function isAuthorized(bytes32 role, address account) external view returns (bool) {
        Member memory m = _members[account];
        return m.active && !m.frozen && (role == Roles.MEMBER || hasRole(role, account));
    }

    /// @inheritdoc IConsortium
    function isMember(address account) external view returns (bool) {
        return _members[account].active;
    }

    /// @inheritdoc IConsortium
    function isFrozen(address account) external view returns (bool) {
        return _members[account].frozen;
    }

    /// @inheritdoc IConsortium
    function roleHolderCount(bytes32 role) external view returns (uint256) {
        return _holders[role];
    }

    /// @notice When `account` was admitted (0 if never).
    function admittedAt(address account) external view returns (uint64) {
        return _members[account].admittedAt;
    }

    /// @dev Only the consortium's roles, and only to active members; counts holders.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        Member storage m = _members[account];
        if (!m.active) revert NotMember(account);
        if (!Roles.isGrantable(role)) revert UnknownRole(role);
        granted = super._grantRole(role, account);
        if (granted) {
            ++m.roles;
            ++_holders[role];
        }
    }

    /// @dev Counts holders; never leaves fewer oracles than the attestation threshold.
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        if (role == Roles.ORACLE && hasRole(role, account)) {
            uint256 left = _holders[role] - 1;
            uint16 k = reports.threshold();
            if (left < k) revert OracleQuorumUnreachable(left, k);
        }
        revoked = super._revokeRole(role, account);
        if (revoked) {
            --_members[account].roles;
            --_holders[role];
        }
    }

    /// @dev Governance acts only while unfrozen (it cannot be frozen, so this is a safeguard).
    function _checkRole(bytes32 role, address account) internal view override {
        super._checkRole(role, account);
        if (_members[account].frozen) revert AccountFrozen(account);
    }

    /// @dev Governance is handed only to an active, unfrozen member: never to the zero address,
    /// so the admin role can never be renounced.
    function _beginDefaultAdminTransfer(address newAdmin) internal override {
        Member storage m = _members[newAdmin];
        if (!m.active) revert NotMember(newAdmin);
        if (m.frozen) revert AccountFrozen(newAdmin);
        super._beginDefaultAdminTransfer(newAdmin);
    }

    function _setFrozen(address account, bool frozen, bytes32 reasonHash) private {
        address sender = _msgSender();
        Member storage s = _members[sender];
        if (!s.active) revert NotMember(sender);
        if (!hasRole(Roles.REGULATOR, sender)) revert NotAuthorized(sender, Roles.REGULATOR);
        if (s.frozen) revert AccountFrozen(sender);
        if (account == address(0)) revert ZeroAddress();
        if (frozen) {
            (address successor,) = pendingDefaultAdmin();
            if (account == defaultAdmin() || account == successor) revert CannotFreezeGovernance(account);
        }
        Member storage m = _members[account];
        if (m.frozen == frozen) revert FreezeUnchanged(account, frozen);
        m.frozen = frozen;
        emit AccountFreezeChanged(account, frozen, reasonHash, sender);
    }

    function _requireAdmitter(address sender) private view {
        Member storage s = _members[sender];
        if (!s.active) revert NotMember(sender);
        if (!hasRole(DEFAULT_ADMIN_ROLE, sender) && !hasRole(Roles.REGISTRY_OPERATOR, sender)) {
            revert NotAuthorized(sender, Roles.REGISTRY_OPERATOR);
        }
        if (s.frozen) revert AccountFrozen(sender);
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
