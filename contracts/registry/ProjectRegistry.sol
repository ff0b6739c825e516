// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {IMethodologyRegistry} from "../interfaces/IMethodologyRegistry.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";

/// @title ProjectRegistry
/// @notice Carbon projects: registered by their developer under an approved methodology,
/// validated by an independent verifier, approved by the regulator. Only approved projects can
/// have monitoring reports attested and credits issued. A parcel (boundary hash) belongs to one
/// active project: a second registration of it is refused until the first is rejected.
///
/// Forest parcels are also known by their forest-right certificate numbers (林权证号). A
/// project's developer declares the certificates its boundary takes in before validation (so
/// the verifier validates them too), and ForestTickets binds a ticketed parcel's certificate to
/// its project: a certificate belongs to at most one non-rejected project over any stretch of
/// time (crediting periods), so a parcel inside a credit project cannot also be ticketed for an
/// overlapping period, nor a ticketed parcel taken into a credit project — no tonne is counted
/// in both registers.
contract ProjectRegistry is IProjectRegistry, ConsortiumGated {
    enum Status {
        None,
        Registered,
        Validated,
        Approved,
        Rejected
    }

    /// @notice Where and what a project is. Coordinates in micro-degrees (WGS-84), area in m².
    struct Location {
        uint32 divisionCode;
        int32 latitudeE6;
        int32 longitudeE6;
        uint64 areaM2;
        bytes32 boundaryHash;
    }

    struct Project {
        address developer;
        uint64 methodologyId;
        Status status;
        uint64 creditingStart;
        uint64 creditingEnd;
        address validator;
        Location location;
        bytes32 documentHash;
    }

    IMethodologyRegistry public immutable methodologies;

    mapping(uint256 projectId => Project) private _projects;

    /// @notice Number of projects ever registered (ids are 1..projectCount).
    uint256 public projectCount;

    /// @notice The active (registered, validated or approved) project of a boundary, or 0.
    mapping(bytes32 boundaryHash => uint256 projectId) public projectOfBoundary;

    /// @notice The contract that binds ticketed parcels (ForestTickets).
    address public immutable tickets;

    /// @dev Projects a forest-right certificate (keccak256 of its number) was bound to, in order
    /// (a handful at most: only projects whose crediting periods do not overlap can share one).
    mapping(bytes32 certificateHash => uint256[] projectIds) private _parcelProjects;

    /// @dev The project name is empty.
    error EmptyName();
    /// @dev Crediting period is empty or reversed.
    error InvalidCreditingPeriod(uint64 start, uint64 end);
    /// @dev Location fields are out of range (zero code or area, coordinates off the globe, zero boundary hash).
    error InvalidLocation();
    /// @dev The project is not in a state that allows this step.
    error InvalidProjectStatus(uint256 projectId, Status status);
    /// @dev A verifier cannot validate its own project.
    error ConflictOfInterest(address account);
    /// @dev The methodology id does not fit the registry's range.
    error MethodologyIdOutOfRange(uint256 methodologyId);
    /// @dev The parcel is already an active project's.
    error BoundaryAlreadyRegistered(bytes32 boundaryHash, uint256 projectId);
    /// @dev Only the project's developer may do this.
    error NotProjectDeveloper(uint256 projectId, address caller);
    /// @dev No certificate given, or an empty certificate number.
    error EmptyCertificate();
    /// @dev The certificate is bound to another non-rejected project whose crediting period
    /// overlaps this one's.
    error ParcelInOtherProject(string rightsCertificate, uint256 projectId);
    /// @dev Only ForestTickets binds ticketed parcels.
    error NotTicketsContract(address caller);

    /// @notice A project was registered.
    event ProjectRegistered(
        uint256 indexed projectId,
        address indexed developer,
        uint256 indexed methodologyId,
        string name,
        Location location,
        uint64 creditingStart,
        uint64 creditingEnd,
        bytes32 documentHash
    );
    /// @notice A project changed status; `evidenceHash` is the validation report or decision document.
    event ProjectStatusChanged(uint256 indexed projectId, Status status, bytes32 evidenceHash, address indexed by);
    /// @notice A forest-right certificate was bound to a project (declared by its developer, or
    /// ticketed through ForestTickets).
    event ParcelBound(uint256 indexed projectId, bytes32 indexed certificateHash, string rightsCertificate);

    constructor(
        IConsortium consortium_,
        IMethodologyRegistry methodologies_,
        address tickets_,
        address trustedForwarder
    ) ConsortiumGated(consortium_, trustedForwarder) {
        if (address(methodologies_) == address(0) || tickets_ == address(0)) revert ZeroAddressArgument();
        methodologies = methodologies_;
        tickets = tickets_;
    }

    /// @notice Registers a project; the caller becomes its developer and receives its credits. Any
    /// member. The boundary must not be an active project's.
    /// @param name Project name.
    /// @param methodologyId An approved methodology.
    /// @param location Administrative division, coordinates, area and boundary hash.
    /// @param creditingStart Start of the crediting period (unix seconds).
    /// @param creditingEnd End of the crediting period (unix seconds).
    /// @param documentHash Hash of the project design document.
    /// @return projectId The new project's id.
    function register(
        string calldata name,
        uint256 methodologyId,
        Location calldata location,
        uint64 creditingStart,
        uint64 creditingEnd,
        bytes32 documentHash
    ) external onlyRole(Roles.MEMBER) returns (uint256 projectId) {
        if (bytes(name).length == 0) revert EmptyName();
        if (methodologyId > type(uint64).max) revert MethodologyIdOutOfRange(methodologyId);
        if (creditingStart >= creditingEnd) revert InvalidCreditingPeriod(creditingStart, creditingEnd);
        if (
            location.divisionCode == 0 || location.areaM2 == 0 || location.boundaryHash == bytes32(0)
                || location.latitudeE6 < -90_000_000 || location.latitudeE6 > 90_000_000
                || location.longitudeE6 < -180_000_000 || location.longitudeE6 > 180_000_000
        ) revert InvalidLocation();
        methodologies.requireApproved(methodologyId);
        uint256 holder = projectOfBoundary[location.boundaryHash];
        if (holder != 0) revert BoundaryAlreadyRegistered(location.boundaryHash, holder);
        address developer = _msgSender();
        projectId = ++projectCount;
        projectOfBoundary[location.boundaryHash] = projectId;
        _projects[projectId] = Project({
            developer: developer,
            methodologyId: uint64(methodologyId),
            status: Status.Registered,
            creditingStart: creditingStart,
            creditingEnd: creditingEnd,
            validator: address(0),
            location: location,
            documentHash: documentHash
        });
        emit ProjectRegistered(
            projectId, developer, methodologyId, name, location, creditingStart, creditingEnd, documentHash
        );
    }

    /// @notice Records an independent validation of a registered project. Verifier only.
    /// @param projectId The project.
    /// @param validationReportHash Hash of the validation report.
    function validate(uint256 projectId, bytes32 validationReportHash) external onlyRole(Roles.VERIFIER) {
        Project storage p = _existing(projectId);
        if (p.status != Status.Registered) revert InvalidProjectStatus(projectId, p.status);
        address sender = _msgSender();
        if (sender == p.developer) revert ConflictOfInterest(sender);
        p.status = Status.Validated;
        p.validator = sender;
        emit ProjectStatusChanged(projectId, Status.Validated, validationReportHash, sender);
    }

    /// @notice Approves a validated project. Regulator only.
    /// @param projectId The project.
    /// @param decisionHash Hash of the approval decision.
    function approve(uint256 projectId, bytes32 decisionHash) external onlyRole(Roles.REGULATOR) {
        Project storage p = _existing(projectId);
        if (p.status != Status.Validated) revert InvalidProjectStatus(projectId, p.status);
        p.status = Status.Approved;
        emit ProjectStatusChanged(projectId, Status.Approved, decisionHash, _msgSender());
    }

    /// @notice Rejects a project that is not yet approved; its boundary is released. Regulator only.
    /// @param projectId The project.
    /// @param reasonHash Hash of the decision document.
    function reject(uint256 projectId, bytes32 reasonHash) external onlyRole(Roles.REGULATOR) {
        Project storage p = _existing(projectId);
        if (p.status != Status.Registered && p.status != Status.Validated) {
            revert InvalidProjectStatus(projectId, p.status);
        }
        p.status = Status.Rejected;
        delete projectOfBoundary[p.location.boundaryHash];
        emit ProjectStatusChanged(projectId, Status.Rejected, reasonHash, _msgSender());
    }

    /// @notice Declares the forest-right certificates (林权证号) of the parcels a registered
    /// project's boundary takes in, before its validation. The project's developer only (an
    /// unfrozen member). A certificate already bound to another non-rejected project whose
    /// crediting period overlaps reverts (`ParcelInOtherProject`); declaring one twice is a no-op.
    /// @param projectId A registered (not yet validated) project of the caller.
    /// @param rightsCertificates The certificate numbers, at least one.
    function declareParcels(uint256 projectId, string[] calldata rightsCertificates) external {
        Project storage p = _existing(projectId);
        address sender = _msgSender();
        if (sender != p.developer) revert NotProjectDeveloper(projectId, sender);
        consortium.requireRole(Roles.MEMBER, sender);
        if (p.status != Status.Registered) revert InvalidProjectStatus(projectId, p.status);
        if (rightsCertificates.length == 0) revert EmptyCertificate();
        for (uint256 i; i < rightsCertificates.length; ++i) {
            _bind(projectId, p, rightsCertificates[i]);
        }
    }

    /// @notice Binds a ticketed parcel's certificate to its project (a no-op if bound already).
    /// ForestTickets only, when it issues a ticket; reverts `ParcelInOtherProject` when the
    /// certificate is another non-rejected project's over an overlapping crediting period.
    /// @param projectId The ticket's project.
    /// @param rightsCertificate The parcel's forest-right certificate number.
    function bindParcel(uint256 projectId, string calldata rightsCertificate) external {
        if (msg.sender != tickets) revert NotTicketsContract(msg.sender);
        _bind(projectId, _existing(projectId), rightsCertificate);
    }

    /// @notice The projects a forest-right certificate was ever bound to (rejected ones included;
    /// `getProject` tells their status and crediting period).
    function projectsOfParcel(string calldata rightsCertificate) external view returns (uint256[] memory) {
        return _parcelProjects[keccak256(bytes(rightsCertificate))];
    }

    /// @notice Full record of a project.
    function getProject(uint256 projectId) external view returns (Project memory) {
        Project memory p = _projects[projectId];
        if (p.status == Status.None) revert UnknownProject(projectId);
        return p;
    }

    /// @inheritdoc IProjectRegistry
    function approvedProject(uint256 projectId)
        external
        view
        returns (address developer, uint256 methodologyId, uint64 creditingStart, uint64 creditingEnd)
    {
        Project storage p = _projects[projectId];
        if (p.status == Status.None) revert UnknownProject(projectId);
        if (p.status != Status.Approved) revert ProjectNotApproved(projectId);
        return (p.developer, p.methodologyId, p.creditingStart, p.creditingEnd);
    }

    /// @inheritdoc IProjectRegistry
    function siteOf(uint256 projectId) external view returns (uint256 methodologyId, uint32 divisionCode) {
        Project storage p = _existing(projectId);
        return (p.methodologyId, p.location.divisionCode);
    }

    /// @inheritdoc IProjectRegistry
    function parcelOf(uint256 projectId)
        external
        view
        returns (uint32 divisionCode, uint64 areaM2, bytes32 boundaryHash)
    {
        Location storage l = _existing(projectId).location;
        return (l.divisionCode, l.areaM2, l.boundaryHash);
    }

    function _bind(uint256 projectId, Project storage p, string calldata rightsCertificate) private {
        if (bytes(rightsCertificate).length == 0) revert EmptyCertificate();
        bytes32 h = keccak256(bytes(rightsCertificate));
        uint256[] storage bound = _parcelProjects[h];
        for (uint256 i; i < bound.length; ++i) {
            if (bound[i] == projectId) return;
            Project storage other = _projects[bound[i]];
            if (
                other.status != Status.Rejected && other.creditingStart < p.creditingEnd
                    && p.creditingStart < other.creditingEnd
            ) revert ParcelInOtherProject(rightsCertificate, bound[i]);
        }
        bound.push(projectId);
        emit ParcelBound(projectId, h, rightsCertificate);
    }

    function _existing(uint256 projectId) private view returns (Project storage p) {
        p = _projects[projectId];
        if (p.status == Status.None) revert UnknownProject(projectId);
    }
}
