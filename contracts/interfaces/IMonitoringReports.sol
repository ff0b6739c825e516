// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IMonitoringReports
/// @notice What the credit and ticket registers need from the monitoring-report gate.
interface IMonitoringReports {
    /// @dev The report does not exist.
    error UnknownReport(uint256 reportId);
    /// @dev The report is not in the verified state.
    error ReportNotVerified(uint256 reportId);
    /// @dev The report was already issued by `register` (credits or tickets).
    error ReportAlreadyClaimed(uint256 reportId, address register);

    /// @notice Number of agreeing oracle attestations a report (or a disturbance) needs: k of n.
    function threshold() external view returns (uint16);

    /// @notice Reverts unless `reportId` is verified; returns the data a batch is issued against.
    function verifiedReport(uint256 reportId)
        external
        view
        returns (uint256 projectId, uint64 periodStart, uint64 periodEnd, uint256 verifiedQuantity);

    /// @notice Marks verified report `reportId` as issued by the calling register and returns the
    /// data it is issued against. Only CarbonCredits and ForestTickets call this; reverts unless
    /// the report is verified and neither register issued it before (one report, one register).
    function claim(uint256 reportId)
        external
        returns (uint256 projectId, uint64 periodStart, uint64 periodEnd, uint256 verifiedQuantity);
}
