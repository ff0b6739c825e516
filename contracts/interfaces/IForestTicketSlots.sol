// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IForestTicketSlots
/// @notice What settlement reads of a forest-ticket slot (a parcel's verified monitoring report)
/// to decide whether a ticket can deliver a ticket class instrument. The struct mirrors
/// ForestTickets.SlotInfo field for field, so the ABI decodes alike.
interface IForestTicketSlots {
    /// @notice A slot: one forest parcel and monitoring period.
    struct SlotInfo {
        uint64 projectId;
        uint64 periodStart;
        uint64 periodEnd;
        uint32 divisionCode;
        uint128 issued;
        uint128 retired;
        bytes32 boundaryHash;
        uint64 areaM2;
        address owner;
        string rightsCertificate;
    }

    /// @notice A slot's parcel, period and totals; reverts for an unknown slot.
    function getSlot(uint256 slot) external view returns (SlotInfo memory);
}
