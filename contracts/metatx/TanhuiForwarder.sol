// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title TanhuiForwarder
/// @notice Relays EIP-712 requests signed by members' own keys, so a member without gas can act
/// as itself through the API; the target contracts see the signer as the caller.
contract TanhuiForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("TanhuiForwarder") {}
}
