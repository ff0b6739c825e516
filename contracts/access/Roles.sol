// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Roles
/// @notice Role identifiers of the Tanhui consortium. `GOVERNANCE` is AccessControl's default
/// admin role; `MEMBER` is not an AccessControl role but stands for "admitted, active, unfrozen
/// member". `COUNT` roles can be granted; `at(i)` lists them, so a removal can revoke them all.
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
    bytes32 internal constant RETAIL = keccak256("RETAIL");

    /// @dev Number of grantable roles (governance included).
    uint256 internal constant COUNT = 10;

    /// @dev The `i`-th grantable role, 0 <= i < COUNT.
    function at(uint256 i) internal pure returns (bytes32) {
        if (i == 0) return GOVERNANCE;
        if (i == 1) return REGULATOR;
        if (i == 2) return REGISTRY_OPERATOR;
        if (i == 3) return VERIFIER;
        if (i == 4) return ORACLE;
        if (i == 5) return EXCHANGE;
        if (i == 6) return BANK;
        if (i == 7) return AUTHORITY;
        if (i == 8) return FORESTRY;
        return RETAIL;
    }

    /// @dev Whether `role` is one of the grantable roles.
    function isGrantable(bytes32 role) internal pure returns (bool) {
        return role == GOVERNANCE || role == REGULATOR || role == REGISTRY_OPERATOR || role == VERIFIER
            || role == ORACLE || role == EXCHANGE || role == BANK || role == AUTHORITY || role == FORESTRY
            || role == RETAIL;
    }
}
