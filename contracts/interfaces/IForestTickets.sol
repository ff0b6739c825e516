// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IForestTickets
/// @notice What the pledge register needs from ForestTickets (ERC-3525's names).
interface IForestTickets {
    /// @notice The value of a ticket in micro-tonnes.
    function balanceOf(uint256 tokenId) external view returns (uint256);

    /// @notice The owner of a ticket.
    function ownerOf(uint256 tokenId) external view returns (address);

    /// @notice The slot (report id: parcel and period) of a ticket.
    function slotOf(uint256 tokenId) external view returns (uint256);

    /// @notice Transfers `value` of a ticket to a new ticket owned by `to`; the new ticket's id.
    function transferFrom(uint256 fromTokenId, address to, uint256 value) external returns (uint256);

    /// @notice Transfers a whole ticket to `to`.
    function transferFrom(address from, address to, uint256 tokenId) external;
}
