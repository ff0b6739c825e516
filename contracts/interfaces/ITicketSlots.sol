// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ITicketSlots
/// @notice What CompensationOrders needs from ForestTickets to judge a ticket retirement's
/// eligibility: where and when the retired slot's carbon was grown.
interface ITicketSlots {
    /// @notice The slot's parcel project, its administrative-division code (as registered when
    /// the ticket was issued) and the end of its monitoring period; reverts for an unknown slot.
    function slotSite(uint256 slot) external view returns (uint256 projectId, uint32 divisionCode, uint64 periodEnd);
}
