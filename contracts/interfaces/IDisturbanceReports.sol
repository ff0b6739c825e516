// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IDisturbanceReports
/// @notice What the credit registry needs from the reversal gate.
interface IDisturbanceReports {
    /// @dev The disturbance does not exist.
    error UnknownDisturbance(uint256 disturbanceId);
    /// @dev The disturbance concerns another project than the batch drawn against it.
    error DisturbanceOfOtherProject(uint256 disturbanceId, uint256 projectId, uint256 batchProjectId);
    /// @dev Cancelling this much would exceed the confirmed loss.
    error LossExceeded(uint256 disturbanceId, uint256 remaining, uint256 requested);

    /// @notice Draws `amount` from a confirmed disturbance of `projectId`; reverts unless it is
    /// confirmed, concerns that project and has at least `amount` of confirmed loss not yet
    /// applied. Only the credits contract may call it.
    function consumeLoss(uint256 disturbanceId, uint256 projectId, uint256 amount) external;
}
