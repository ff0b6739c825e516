// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ICompensationOrders
/// @notice What CarbonCredits needs from the ecological-compensation order book.
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

    /// @notice The order registered for the case whose number hashes to `caseHash`, 0 if none.
    function orderOfCaseHash(bytes32 caseHash) external view returns (uint256);

    /// @notice The case number of order `orderId`; reverts for an unknown order.
    function caseNumberOf(uint256 orderId) external view returns (string memory);

    /// @notice Whether `venue` is a trusted purchase venue (its price counts toward Fen orders).
    function isVenue(address venue) external view returns (bool);
}
