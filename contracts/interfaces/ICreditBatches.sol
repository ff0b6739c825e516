// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ICreditBatches
/// @notice What other contracts (settlement) read about a credit batch of CarbonCredits.
interface ICreditBatches {
    /// @notice Public view of a batch.
    struct BatchView {
        uint64 projectId;
        uint64 reportId;
        uint64 periodStart;
        uint64 periodEnd;
        uint256 issued;
        uint256 buffer;
        uint256 retired;
        uint256 cancelled;
        bool frozen;
    }

    /// @notice Full record of a batch; reverts for an unknown batch.
    function getBatch(uint256 batchId) external view returns (BatchView memory);
}
