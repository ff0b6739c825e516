// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Roles
/// @notice Role identifiers of the Tanhui consortium. `GOVERNANCE` is AccessControl's default
/// admin role; `MEMBER` is not an AccessControl role but stands for "admitted, active member".
library Roles {
    bytes32 internal constant GOVERNANCE = 0x00;
    bytes32 internal constant MEMBER = keccak256("MEMBER");
    bytes32 internal constant REGULATOR = keccak256("REGULATOR");
    bytes32 internal constant REGISTRY_OPERATOR = keccak256("REGISTRY_OPERATOR");
    bytes32 internal constant VERIFIER = keccak256("VERIFIER");
    bytes32 internal constant ORACLE = keccak256("ORACLE");
    bytes32 internal constant EXCHANGE = keccak256("EXCHANGE");
    bytes32 internal constant BANK = keccak256("BANK");
    bytes32 internal constant AUTHORITY = keccak256("AUTHORITY");
    bytes32 internal constant FORESTRY = keccak256("FORESTRY");
}
