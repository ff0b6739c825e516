// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";

/// @title ConsortiumGated
/// @notice Base for contracts whose callers are authorized by the consortium roster. Requests
/// relayed through the trusted ERC-2771 forwarder act as the member who signed them.
abstract contract ConsortiumGated is ERC2771Context {
    /// @notice The roster this contract consults.
    IConsortium public immutable consortium;

    /// @dev A required address argument was zero.
    error ZeroAddressArgument();

    constructor(IConsortium consortium_, address trustedForwarder) ERC2771Context(trustedForwarder) {
        if (address(consortium_) == address(0)) revert ZeroAddressArgument();
        consortium = consortium_;
    }

    /// @dev Reverts unless the (forwarded) caller is an active, unfrozen member holding `role`
    /// (Consortium.requireRole: a frozen account acts in no role).
    modifier onlyRole(bytes32 role) {
        consortium.requireRole(role, _msgSender());
        _;
    }
}
