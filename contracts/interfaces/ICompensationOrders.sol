// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ICompensationOrders
/// @notice What CarbonCredits and ForestTickets need from the ecological-compensation order book.
interface ICompensationOrders {
    /// @notice Counts a retirement toward order `orderId`, reverting unless it is eligible (open,
    /// before the deadline, by a liable party, of an eligible category, region and vintage, and
    /// within the requirement). Only the CarbonCredits contract calls this, after recording the
    /// retirement and in the same transaction.
    /// @param orderId The order the retirement is for.
    /// @param retirementId The retirement CarbonCredits recorded.
    /// @param holder The retirement's holder (the liable party or paying authority).
    /// @param batchId The batch retired.
    /// @param amount Micro-tonnes retired.
    /// @param venue The purchase venue (Settlement or CompensationOffers), or zero for a retirement
    /// of credits the holder already held.
    /// @param priceFenPerTonne The purchase price (fen per tonne); 0 when not a purchase.
    /// @return value What the retirement counts for: micro-tonnes for a Tonnes order, fen for a
    /// Fen order.
    function countRetirement(
        uint256 orderId,
        uint256 retirementId,
        address holder,
        uint256 batchId,
        uint256 amount,
        address venue,
        uint256 priceFenPerTonne
    ) external returns (uint256 value);

    /// @notice Counts a forest-ticket retirement toward order `orderId`, under the same rules as
    /// `countRetirement` for a direct retirement (no purchase venue, so a Fen order refuses it:
    /// PriceUnknown); eligibility is judged from the ticket's slot (its parcel project's sink
    /// category, its division code, its monitoring period's end). Only the ForestTickets
    /// contract calls this, after recording the retirement and in the same transaction.
    /// Ticket retirement ids are ForestTickets' own, apart from CarbonCredits'.
    /// @param orderId The order the retirement is for.
    /// @param retirementId The ticket retirement ForestTickets recorded.
    /// @param holder The retirement's holder (the liable party or paying authority).
    /// @param slot The retired ticket's slot (a verified forest report).
    /// @param amount Micro-tonnes retired.
    /// @param serialStart The first of the slot's serials the retirement consumed.
    /// @return value What the retirement counts for (micro-tonnes: only Tonnes orders take it).
    function countTicketRetirement(
        uint256 orderId,
        uint256 retirementId,
        address holder,
        uint256 slot,
        uint256 amount,
        uint256 serialStart
    ) external returns (uint256 value);

    /// @notice The order registered for the case whose number hashes to `caseHash`, 0 if none.
    function orderOfCaseHash(bytes32 caseHash) external view returns (uint256);

    /// @notice The case number of order `orderId`; reverts for an unknown order.
    function caseNumberOf(uint256 orderId) external view returns (string memory);

    /// @notice Whether `venue` is a trusted purchase venue (its price counts toward Fen orders).
    function isVenue(address venue) external view returns (bool);
}
