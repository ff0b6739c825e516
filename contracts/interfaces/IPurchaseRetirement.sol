// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IPurchaseRetirement
/// @notice What a purchase venue (Settlement, CompensationOffers) calls on CarbonCredits to
/// retire a purchase on delivery for a compensation order: the tonnes go from the seller
/// straight to retirement, never through the buyer's balance (no resale window).
interface IPurchaseRetirement {
    /// @notice Burns `amount` of `from`'s credits of `batchId` and records their retirement by
    /// `holder` (the buyer) for compensation order `orderId`, counted at `priceFenPerTonne`.
    /// Trusted venues only, approved by `from` as its operator.
    /// @return retirementId The retirement's id (its record is in CarbonCredits' `Retired` event).
    function retireOnPurchase(
        address from,
        address holder,
        uint256 batchId,
        uint256 amount,
        uint256 orderId,
        uint256 priceFenPerTonne,
        string calldata beneficiary
    ) external returns (uint256 retirementId);
}
