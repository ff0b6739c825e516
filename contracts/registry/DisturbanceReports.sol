// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {IDisturbanceReports} from "../interfaces/IDisturbanceReports.sol";
import {IMonitoringReports} from "../interfaces/IMonitoringReports.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";
import {OracleQuorum} from "./OracleQuorum.sol";

/// @title DisturbanceReports
/// @notice The reversal gate (Flow 7). Oracle nodes attest a disturbance of a project (fire, pest,
/// typhoon, red tide) with an estimated loss; once as many nodes as the monitoring-report threshold
/// submitted the same (loss, evidence) the disturbance is attested. A verifier then confirms the
/// loss (at most the attested one), and only then may the regulator cancel buffer credits of the
/// project's batches against it, up to the confirmed loss in total (enforced by CarbonCredits
/// through `consumeLoss`). The vote counting (one vote per node and disturbance, k of n) is
/// OracleQuorum's, shared with the monitoring-report gate.
contract DisturbanceReports is IDisturbanceReports, ConsortiumGated, OracleQuorum {
    /// @notice What happened.
    enum Kind {
        Fire,
        Pest,
        Typhoon,
        RedTide
    }

    enum Status {
        None,
        Pending,
        Attested,
        Confirmed,
        Rejected
    }

    struct Disturbance {
        uint64 projectId;
        uint64 occurredAt;
        Kind kind;
        Status status;
        uint16 submissions;
        uint128 attestedLoss;
        uint128 confirmedLoss;
        uint128 appliedLoss;
        bytes32 evidenceHash;
        address verifier;
    }

    IProjectRegistry public immutable projects;
    IMonitoringReports public immutable reports;

    /// @notice The only contract allowed to draw confirmed losses: the CarbonCredits contract,
    /// whose address the deployer computes before deploying it (it takes this contract's address).
    address public immutable credits;

    /// @notice Number of disturbances ever opened (ids are 1..disturbanceCount).
    uint256 public disturbanceCount;

    mapping(uint256 disturbanceId => Disturbance) private _disturbances;
    mapping(bytes32 eventKey => uint256 disturbanceId) private _open;

    /// @dev The event time is zero or in the future.
    error InvalidEventTime(uint64 occurredAt);
    /// @dev The kind is not one of Kind.
    error InvalidKind(uint8 kind);
    /// @dev Loss must be positive and fit 128 bits.
    error InvalidLoss(uint256 loss);
    /// @dev Evidence or statement hash is zero.
    error ZeroHash();
    /// @dev This node already attested this disturbance.
    error AlreadyAttested(uint256 disturbanceId, address node);
    /// @dev The disturbance is not in a state that allows this step.
    error InvalidDisturbanceStatus(uint256 disturbanceId, Status status);
    /// @dev The confirmed loss exceeds what the oracles attested.
    error LossAboveAttested(uint256 confirmedLoss, uint256 attestedLoss);
    /// @dev Only the bound credits contract may draw confirmed losses.
    error NotCreditsContract(address caller);
    /// @dev The project id does not fit the registry's range.
    error ProjectIdOutOfRange(uint256 projectId);

    /// @notice One oracle node's submission; `digest` = keccak256(abi.encode(loss, evidenceHash)).
    event DisturbanceAttestationSubmitted(
        uint256 indexed disturbanceId, address indexed node, bytes32 indexed digest, uint256 loss, bytes32 evidenceHash
    );
    /// @notice The first attestation of a project's event opened a disturbance record.
    event DisturbanceOpened(uint256 indexed disturbanceId, uint256 indexed projectId, Kind kind, uint64 occurredAt);
    /// @notice The disturbance reached the threshold of agreeing attestations.
    event DisturbanceAttested(uint256 indexed disturbanceId, uint256 loss, bytes32 evidenceHash, uint16 votes);
    /// @notice A verifier confirmed the loss; buffer credits may now be cancelled against it.
    event DisturbanceConfirmed(uint256 indexed disturbanceId, address indexed verifier, uint256 confirmedLoss, bytes32 statementHash);
    /// @notice A verifier rejected the disturbance; the event can be attested afresh.
    event DisturbanceRejected(uint256 indexed disturbanceId, address indexed verifier, bytes32 reasonHash);
    /// @notice Part of a confirmed loss was cancelled from a batch's buffer.
    event LossApplied(uint256 indexed disturbanceId, uint256 amount, uint256 appliedLoss);

    constructor(
        IConsortium consortium_,
        IProjectRegistry projects_,
        IMonitoringReports reports_,
        address credits_,
        address trustedForwarder
    ) ConsortiumGated(consortium_, trustedForwarder) {
        if (address(projects_) == address(0) || address(reports_) == address(0) || credits_ == address(0)) {
            revert ZeroAddressArgument();
        }
        projects = projects_;
        reports = reports_;
        credits = credits_;
    }

    /// @notice Submits this node's attestation of a disturbance. Oracle nodes only. The k of n is
    /// the monitoring-report threshold, so one setting governs every oracle quorum.
    /// @param projectId An approved project.
    /// @param kind 0 fire, 1 pest, 2 typhoon, 3 red tide.
    /// @param occurredAt When it happened (unix seconds; not in the future).
    /// @param loss Estimated loss of stored carbon in micro-tonnes CO2e.
    /// @param evidenceHash Hash of the evidence bundle (scenes, survey, loss calculation).
    /// @return disturbanceId The disturbance this attestation counts toward.
    function attest(uint256 projectId, uint8 kind, uint64 occurredAt, uint256 loss, bytes32 evidenceHash)
        external
        onlyRole(Roles.ORACLE)
        returns (uint256 disturbanceId)
    {
        if (evidenceHash == bytes32(0)) revert ZeroHash();
        if (loss == 0 || loss > type(uint128).max) revert InvalidLoss(loss);
        if (kind > uint8(Kind.RedTide)) revert InvalidKind(kind);
        if (occurredAt == 0 || occurredAt > block.timestamp) revert InvalidEventTime(occurredAt);
        if (projectId > type(uint64).max) revert ProjectIdOutOfRange(projectId);
        projects.approvedProject(projectId);

        bytes32 key = keccak256(abi.encode(projectId, kind, occurredAt));
        disturbanceId = _open[key];
        if (disturbanceId == 0) {
            disturbanceId = ++disturbanceCount;
            _open[key] = disturbanceId;
            Disturbance storage fresh = _disturbances[disturbanceId];
            fresh.projectId = uint64(projectId);
            fresh.kind = Kind(kind);
            fresh.occurredAt = occurredAt;
            fresh.status = Status.Pending;
            emit DisturbanceOpened(disturbanceId, projectId, Kind(kind), occurredAt);
        }
        Disturbance storage d = _disturbances[disturbanceId];
        Status status = d.status;
        if (status != Status.Pending && status != Status.Attested) {
            revert InvalidDisturbanceStatus(disturbanceId, status);
        }
        address node = _msgSender();
        if (_hasVoted(disturbanceId, node)) revert AlreadyAttested(disturbanceId, node);

        bytes32 digest = keccak256(abi.encode(loss, evidenceHash));
        (uint16 votes, bool reached) = _castVote(disturbanceId, node, digest, status == Status.Pending);
        ++d.submissions;
        emit DisturbanceAttestationSubmitted(disturbanceId, node, digest, loss, evidenceHash);
        if (reached) {
            d.status = Status.Attested;
            d.attestedLoss = uint128(loss);
            d.evidenceHash = evidenceHash;
            emit DisturbanceAttested(disturbanceId, loss, evidenceHash, votes);
        }
    }

    /// @notice Confirms the loss of an attested disturbance. Verifier only.
    /// @param disturbanceId The attested disturbance.
    /// @param confirmedLoss Confirmed loss in micro-tonnes; at most the attested loss.
    /// @param statementHash Hash of the verifier's statement.
    function confirm(uint256 disturbanceId, uint256 confirmedLoss, bytes32 statementHash)
        external
        onlyRole(Roles.VERIFIER)
    {
        Disturbance storage d = _existing(disturbanceId);
        if (d.status != Status.Attested) revert InvalidDisturbanceStatus(disturbanceId, d.status);
        if (statementHash == bytes32(0)) revert ZeroHash();
        if (confirmedLoss == 0) revert InvalidLoss(confirmedLoss);
        if (confirmedLoss > d.attestedLoss) revert LossAboveAttested(confirmedLoss, d.attestedLoss);
        address sender = _msgSender();
        d.status = Status.Confirmed;
        d.confirmedLoss = uint128(confirmedLoss);
        d.verifier = sender;
        emit DisturbanceConfirmed(disturbanceId, sender, confirmedLoss, statementHash);
    }

    /// @notice Rejects a pending or attested disturbance; the event can be attested afresh. Verifier only.
    /// @param disturbanceId The disturbance.
    /// @param reasonHash Hash of the rejection statement.
    function reject(uint256 disturbanceId, bytes32 reasonHash) external onlyRole(Roles.VERIFIER) {
        Disturbance storage d = _existing(disturbanceId);
        if (d.status != Status.Pending && d.status != Status.Attested) {
            revert InvalidDisturbanceStatus(disturbanceId, d.status);
        }
        if (reasonHash == bytes32(0)) revert ZeroHash();
        d.status = Status.Rejected;
        delete _open[keccak256(abi.encode(uint256(d.projectId), uint8(d.kind), d.occurredAt))];
        emit DisturbanceRejected(disturbanceId, _msgSender(), reasonHash);
    }

    /// @inheritdoc IDisturbanceReports
    function consumeLoss(uint256 disturbanceId, uint256 projectId, uint256 amount) external {
        if (msg.sender != credits) revert NotCreditsContract(msg.sender);
        Disturbance storage d = _existing(disturbanceId);
        if (d.status != Status.Confirmed) revert InvalidDisturbanceStatus(disturbanceId, d.status);
        if (d.projectId != projectId) revert DisturbanceOfOtherProject(disturbanceId, d.projectId, projectId);
        uint256 remaining = uint256(d.confirmedLoss) - d.appliedLoss;
        if (amount > remaining) revert LossExceeded(disturbanceId, remaining, amount);
        d.appliedLoss += uint128(amount);
        emit LossApplied(disturbanceId, amount, d.appliedLoss);
    }

    /// @notice Full record of a disturbance.
    function getDisturbance(uint256 disturbanceId) external view returns (Disturbance memory) {
        return _existing(disturbanceId);
    }

    /// @notice The open (pending, attested or confirmed) disturbance for a project's event, or 0.
    function disturbanceOf(uint256 projectId, uint8 kind, uint64 occurredAt) external view returns (uint256) {
        return _open[keccak256(abi.encode(projectId, kind, occurredAt))];
    }

    /// @notice The digest a node submitted for a disturbance (zero if none).
    function submissionOf(uint256 disturbanceId, address node) external view returns (bytes32) {
        return _submissionFor(disturbanceId, node);
    }

    /// @notice How many nodes submitted `digest` for a disturbance.
    function votesFor(uint256 disturbanceId, bytes32 digest) external view returns (uint16) {
        return _votesOf(disturbanceId, digest);
    }

    /// @dev k is the monitoring-report threshold: one setting governs every oracle quorum.
    function _quorum() internal view override returns (uint16) {
        return reports.threshold();
    }

    function _existing(uint256 disturbanceId) private view returns (Disturbance storage d) {
        d = _disturbances[disturbanceId];
        if (d.status == Status.None) revert UnknownDisturbance(disturbanceId);
    }
}
