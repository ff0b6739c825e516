// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IForestTickets} from "./IForestTickets.sol";

/// @title IRetiringTickets
/// @notice What the carbon supermarket needs from ForestTickets: IForestTickets and retirement.
interface IRetiringTickets is IForestTickets {
    /// @notice Retires `value` of the caller's ticket for a beneficiary; the retirement's id.
    function retire(
        uint256 tokenId,
        uint256 value,
        string calldata beneficiary,
        uint8 purpose,
        string calldata caseReference
    ) external returns (uint256);
}

/// @title IRetiringCredits
/// @notice What the carbon supermarket needs from CarbonCredits besides ERC-1155: retirement.
interface IRetiringCredits {
    /// @notice Retires the caller's credits for a beneficiary; the retirement's id.
    function retire(
        uint256 batchId,
        uint256 amount,
        string calldata beneficiary,
        uint8 purpose,
        string calldata caseReference
    ) external returns (uint256);
}
