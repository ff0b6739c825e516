// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ICompensationRetirement
/// @notice The credits contract's path for a purchase venue (Settlement, CompensationOffers)
/// that buys credits for an ecological-compensation order and retires them in the same step:
/// the seller's credits are burnt and the retirement is recorded for the buyer, so a purchased
/// tonne never sits in the buyer's balance where it could be resold.
interface ICompensationRetirement {
    /// @notice Burns `amount` of `from`'s credits of `batchId` and records their retirement by
    /// `holder` for compensation order `orderId`, counted at `priceFenPerTonne`. Only a venue the
    /// compensation contract trusts, approved by `from` for its credits; reverts with the
    /// order's reason when the retirement does not meet it.
    /// @param from The seller whose credits are retired.
    /// @param holder The buyer, who retires them (the retirement's holder).
    /// @param batchId The batch delivered.
    /// @param amount Credit units (1 t = 1,000,000).
    /// @param orderId The compensation order the retirement counts toward.
    /// @param priceFenPerTonne The purchase price, fen per tonne.
    /// @param beneficiary The beneficiary named on the retirement (empty: the case number).
    /// @return retirementId The retirement's id.
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
