// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IForestTicketReceiver
/// @notice What a contract must answer to receive forest-ticket value (ERC-3525's receiver hook,
/// by its name): ForestTickets calls it on every contract recipient and reverts unless it returns
/// the function's selector, so no contract ends up holding tickets it did not ask for.
interface IForestTicketReceiver {
    /// @param operator Who made the transfer (the caller of ForestTickets).
    /// @param fromTokenId The ticket the value came from (for a whole-ticket transfer, the ticket).
    /// @param toTokenId The ticket that received it.
    /// @param value Micro-tonnes received.
    /// @param data Empty (reserved).
    /// @return The selector of this function, to accept.
    function onERC3525Received(
        address operator,
        uint256 fromTokenId,
        uint256 toTokenId,
        uint256 value,
        bytes calldata data
    ) external returns (bytes4);
}
