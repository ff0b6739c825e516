// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IProjectRegistry
/// @notice What other contracts need from the project registry.
interface IProjectRegistry {
    /// @dev The project does not exist.
    error UnknownProject(uint256 projectId);
    /// @dev The project is not approved.
    error ProjectNotApproved(uint256 projectId);

    /// @notice Reverts unless `projectId` is approved; returns what issuance and monitoring need.
    function approvedProject(uint256 projectId)
        external
        view
        returns (address developer, uint256 methodologyId, uint64 creditingStart, uint64 creditingEnd);

    /// @notice A project's methodology and administrative-division code (what eligibility rules
    /// read); reverts for an unknown project.
    function siteOf(uint256 projectId) external view returns (uint256 methodologyId, uint32 divisionCode);

    /// @notice A project's parcel as registered: administrative-division code, area (m²) and
    /// boundary hash; reverts for an unknown project.
    function parcelOf(uint256 projectId) external view returns (uint32 divisionCode, uint64 areaM2, bytes32 boundaryHash);

    /// @notice Binds a ticketed parcel's forest-right certificate to its project (ForestTickets
    /// only); reverts when another non-rejected project holds it over an overlapping period.
    function bindParcel(uint256 projectId, string calldata rightsCertificate) external;
}
