// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IMethodologyRegistry
/// @notice What other contracts need from the methodology registry.
interface IMethodologyRegistry {
    /// @notice What a methodology's credits sequester carbon in. Eligibility rules (compensation
    /// orders, class instruments, forwards) are written in these; 0 is never a valid category.
    enum SinkCategory {
        Unspecified,
        Mangrove,
        Seagrass,
        SaltMarsh,
        Macroalgae,
        Shellfish,
        Forest,
        SoilWaterConservation
    }

    /// @dev The methodology does not exist.
    error UnknownMethodology(uint256 methodologyId);
    /// @dev The methodology is not approved for new projects.
    error MethodologyNotApproved(uint256 methodologyId);

    /// @notice Reverts unless methodology `methodologyId` is approved.
    function requireApproved(uint256 methodologyId) external view;

    /// @notice Share of each issuance (basis points) that goes to the buffer pool.
    function bufferBps(uint256 methodologyId) external view returns (uint16);

    /// @notice The sink category (a SinkCategory value, 1..7) of methodology `methodologyId`;
    /// reverts for an unknown methodology.
    function sinkCategoryOf(uint256 methodologyId) external view returns (uint8);
}
