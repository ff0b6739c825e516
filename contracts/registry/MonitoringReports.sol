// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {IMonitoringReports} from "../interfaces/IMonitoringReports.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";
import {OracleQuorum} from "./OracleQuorum.sol";

/// @title MonitoringReports
/// @notice The MRV gate. Oracle nodes attest (Merkle root of the canonical monitoring records,
/// computed quantity, report hash) for a project and period; once `threshold` nodes submitted the
/// same triple the report is attested. Every submission, agreeing or not, is recorded and emitted.
/// A verifier then signs the verified quantity (at most the attested one), which makes the report
/// issuable. Verified periods of a project never overlap, and a Merkle root or report hash is
/// attested for one report only (across all projects), so no tonne is reported twice. The vote
/// counting (one vote per node and report, k of n) is OracleQuorum's, shared with the disturbance
/// gate.
contract MonitoringReports is IMonitoringReports, ConsortiumGated, OracleQuorum {
    enum Status {
        None,
        Pending,
        Attested,
        Verified,
        Rejected
    }

    /// @notice Which register issued a verified report (kept in the report's first slot, so
    /// claiming it rewrites a slot issuance reads anyway instead of filling a fresh one).
    enum Register {
        None,
        Credits,
        Tickets
    }

    struct Report {
        uint64 projectId;
        uint64 periodStart;
        uint64 periodEnd;
        Status status;
        uint16 submissions;
        Register claimedBy;
        bytes32 merkleRoot;
        bytes32 reportHash;
        uint128 attestedQuantity;
        uint128 verifiedQuantity;
        address verifier;
        bytes32 verificationHash;
    }

    IProjectRegistry public immutable projects;
    /// @notice The credit register (CarbonCredits), one of the two registers that may claim a report.
    address public immutable creditRegister;
    /// @notice The forest-ticket register (ForestTickets), the other register that may claim a report.
    address public immutable ticketRegister;

    /// @notice Number of agreeing oracle attestations needed (k of n).
    uint16 public threshold;

    /// @notice Number of reports ever opened (ids are 1..reportCount).
    uint256 public reportCount;

    mapping(uint256 reportId => Report) private _reports;
    mapping(bytes32 periodKey => uint256 reportId) private _openReport;

    /// @notice End of the latest verified period per project (unix seconds).
    mapping(uint256 projectId => uint64) public verifiedUntil;

    /// @notice The report that holds an attested Merkle root or report hash (0 if none). A
    /// rejected report releases both.
    mapping(bytes32 rootOrHash => uint256 reportId) public reportOfHash;

    /// @notice The register that issued a verified report (credits or tickets), zero if none:
    /// a report is issued once across both registers, so no tonne is counted in both.

    /// @dev The period is empty, reversed, in the future or outside the crediting period.
    error InvalidPeriod(uint64 periodStart, uint64 periodEnd);
    /// @dev Quantity must be positive and fit 128 bits.
    error InvalidQuantity(uint256 quantity);
    /// @dev Merkle root, report hash or verification hash is zero.
    error ZeroHash();
    /// @dev This node already attested this report.
    error AlreadyAttested(uint256 reportId, address node);
    /// @dev The report is not in a state that allows this step.
    error InvalidReportStatus(uint256 reportId, Status status);
    /// @dev The verified quantity exceeds what the oracles attested.
    error QuantityAboveAttested(uint256 verifiedQuantity, uint256 attestedQuantity);
    /// @dev The period overlaps a period of the same project that is already verified.
    error PeriodOverlapsVerified(uint256 projectId, uint64 periodStart, uint64 verifiedUntil);
    /// @dev Threshold must be at least 1.
    error InvalidThreshold(uint16 threshold);
    /// @dev The threshold cannot exceed the number of oracle role holders.
    error ThresholdAboveOracles(uint16 threshold, uint256 oracles);
    /// @dev The Merkle root or report hash is already attested for another report.
    error AlreadyAttestedElsewhere(bytes32 rootOrHash, uint256 reportId);
    /// @dev The project id does not fit the registry's range.
    error ProjectIdOutOfRange(uint256 projectId);
    /// @dev Only the credit and ticket registers claim reports.
    error NotIssuingRegister(address caller);

    /// @notice One oracle node's submission for a report; `digest` = keccak256(abi.encode(root, quantity, reportHash)).
    event AttestationSubmitted(
        uint256 indexed reportId,
        address indexed node,
        bytes32 indexed digest,
        bytes32 merkleRoot,
        uint256 quantity,
        bytes32 reportHash
    );
    /// @notice The first attestation for a project's period opened a report.
    event ReportOpened(uint256 indexed reportId, uint256 indexed projectId, uint64 periodStart, uint64 periodEnd);
    /// @notice The report reached the threshold of agreeing attestations.
    event ReportAttested(uint256 indexed reportId, bytes32 merkleRoot, uint256 quantity, bytes32 reportHash, uint16 votes);
    /// @notice A verifier signed the verified quantity.
    event ReportVerified(uint256 indexed reportId, address indexed verifier, uint256 verifiedQuantity, bytes32 verificationHash);
    /// @notice A verifier rejected the report.
    event ReportRejected(uint256 indexed reportId, address indexed verifier, bytes32 reasonHash);
    /// @notice A register issued a verified report (CarbonCredits as a batch, ForestTickets as a ticket).
    event ReportClaimed(uint256 indexed reportId, address indexed register);
    /// @notice Governance changed the attestation threshold.
    event ThresholdChanged(uint16 threshold, address indexed by);

    /// @param creditRegister_ CarbonCredits and `ticketRegister_` ForestTickets, both deployed later
    /// at addresses the deployer computes in advance.
    constructor(
        IConsortium consortium_,
        IProjectRegistry projects_,
        uint16 threshold_,
        address creditRegister_,
        address ticketRegister_,
        address trustedForwarder
    ) ConsortiumGated(consortium_, trustedForwarder) {
        if (
            address(projects_) == address(0) || creditRegister_ == address(0) || ticketRegister_ == address(0)
        ) revert ZeroAddressArgument();
        creditRegister = creditRegister_;
        ticketRegister = ticketRegister_;
        if (threshold_ == 0) revert InvalidThreshold(threshold_);
        projects = projects_;
        threshold = threshold_;
    }

    /// @notice Submits this node's attestation of a project's monitoring period. Oracle nodes only.
    /// @param projectId An approved project.
    /// @param periodStart Start of the monitoring period (unix seconds, inclusive).
    /// @param periodEnd End of the monitoring period (unix seconds, exclusive); not in the future.
    /// @param merkleRoot Root of the Merkle tree over the canonical accepted records.
    /// @param quantity Computed removals in micro-tonnes CO2e (1 t = 1,000,000).
    /// @param reportHash Hash of the monitoring report document.
    /// @return reportId The report this attestation counts toward.
    function attest(
        uint256 projectId,
        uint64 periodStart,
        uint64 periodEnd,
        bytes32 merkleRoot,
        uint256 quantity,
        bytes32 reportHash
    ) external onlyRole(Roles.ORACLE) returns (uint256 reportId) {
        if (merkleRoot == bytes32(0) || reportHash == bytes32(0)) revert ZeroHash();
        if (quantity == 0 || quantity > type(uint128).max) revert InvalidQuantity(quantity);
        if (projectId > type(uint64).max) revert ProjectIdOutOfRange(projectId);
        {
            (,, uint64 creditingStart, uint64 creditingEnd) = projects.approvedProject(projectId);
            if (
                periodStart >= periodEnd || periodEnd > block.timestamp || periodStart < creditingStart
                    || periodEnd > creditingEnd
            ) revert InvalidPeriod(periodStart, periodEnd);
        }

        bytes32 key = keccak256(abi.encode(projectId, periodStart, periodEnd));
        reportId = _openReport[key];
        if (reportId == 0) {
            reportId = ++reportCount;
            _openReport[key] = reportId;
            Report storage fresh = _reports[reportId];
            fresh.projectId = uint64(projectId);
            fresh.periodStart = periodStart;
            fresh.periodEnd = periodEnd;
            fresh.status = Status.Pending;
            emit ReportOpened(reportId, projectId, periodStart, periodEnd);
        }
        Report storage r = _reports[reportId];
        Status status = r.status;
        if (status != Status.Pending && status != Status.Attested) revert InvalidReportStatus(reportId, status);
        address node = _msgSender();
        if (_hasVoted(reportId, node)) revert AlreadyAttested(reportId, node);
        _requireUnclaimed(merkleRoot, reportId);
        _requireUnclaimed(reportHash, reportId);

        bytes32 digest = keccak256(abi.encode(merkleRoot, quantity, reportHash));
        (uint16 votes, bool reached) = _castVote(reportId, node, digest, status == Status.Pending);
        ++r.submissions;
        emit AttestationSubmitted(reportId, node, digest, merkleRoot, quantity, reportHash);
        if (reached) {
            r.status = Status.Attested;
            r.merkleRoot = merkleRoot;
            r.reportHash = reportHash;
            r.attestedQuantity = uint128(quantity);
            reportOfHash[merkleRoot] = reportId;
            reportOfHash[reportHash] = reportId;
            emit ReportAttested(reportId, merkleRoot, quantity, reportHash, votes);
        }
    }

    /// @notice Signs the verified quantity of an attested report. Verifier only.
    /// @param reportId The attested report.
    /// @param verifiedQuantity Verified removals in micro-tonnes; at most the attested quantity.
    /// @param verificationHash Hash of the verification statement.
    function verify(uint256 reportId, uint256 verifiedQuantity, bytes32 verificationHash)
        external
        onlyRole(Roles.VERIFIER)
    {
        Report storage r = _existing(reportId);
        if (r.status != Status.Attested) revert InvalidReportStatus(reportId, r.status);
        if (verificationHash == bytes32(0)) revert ZeroHash();
        if (verifiedQuantity == 0) revert InvalidQuantity(verifiedQuantity);
        if (verifiedQuantity > r.attestedQuantity) revert QuantityAboveAttested(verifiedQuantity, r.attestedQuantity);
        uint64 until = verifiedUntil[r.projectId];
        if (r.periodStart < until) revert PeriodOverlapsVerified(r.projectId, r.periodStart, until);
        address sender = _msgSender();
        r.status = Status.Verified;
        r.verifiedQuantity = uint128(verifiedQuantity);
        r.verifier = sender;
        r.verificationHash = verificationHash;
        verifiedUntil[r.projectId] = r.periodEnd;
        emit ReportVerified(reportId, sender, verifiedQuantity, verificationHash);
    }

    /// @notice Rejects a pending or attested report; the period can then be attested afresh and
    /// its root and report hash are released. Verifier only.
    /// @param reportId The report.
    /// @param reasonHash Hash of the rejection statement.
    function reject(uint256 reportId, bytes32 reasonHash) external onlyRole(Roles.VERIFIER) {
        Report storage r = _existing(reportId);
        if (r.status != Status.Pending && r.status != Status.Attested) revert InvalidReportStatus(reportId, r.status);
        if (r.status == Status.Attested) {
            delete reportOfHash[r.merkleRoot];
            delete reportOfHash[r.reportHash];
        }
        r.status = Status.Rejected;
        delete _openReport[keccak256(abi.encode(uint256(r.projectId), r.periodStart, r.periodEnd))];
        emit ReportRejected(reportId, _msgSender(), reasonHash);
    }

    /// @notice Sets how many agreeing attestations a report (or a disturbance) needs. Governance
    /// only. k can be reached: 1 <= k <= the number of oracle role holders (and the consortium
    /// refuses to revoke an oracle role below k).
    /// @param threshold_ The new k.
    function setThreshold(uint16 threshold_) external onlyRole(Roles.GOVERNANCE) {
        if (threshold_ == 0) revert InvalidThreshold(threshold_);
        uint256 oracles = consortium.roleHolderCount(Roles.ORACLE);
        if (threshold_ > oracles) revert ThresholdAboveOracles(threshold_, oracles);
        threshold = threshold_;
        emit ThresholdChanged(threshold_, _msgSender());
    }

    /// @notice Full record of a report.
    function getReport(uint256 reportId) external view returns (Report memory) {
        return _existing(reportId);
    }

    /// @notice The open (pending, attested or verified) report of a project's period, or 0.
    function reportOf(uint256 projectId, uint64 periodStart, uint64 periodEnd) external view returns (uint256) {
        return _openReport[keccak256(abi.encode(projectId, periodStart, periodEnd))];
    }

    /// @notice Whether a canonical monitoring record is in an attested report's Merkle tree.
    /// Leaves are keccak256(keccak256(record)), as in OpenZeppelin's StandardMerkleTree, so no
    /// 64-byte record can pass for an inner node; pairs are hashed sorted (MerkleProof).
    /// @param reportId An attested or verified report.
    /// @param record The record's canonical bytes (docs/oracle-data.md).
    /// @param proof Sibling hashes from the leaf to the root.
    /// @return True when the record is committed to by the report's attested root.
    function verifyRecord(uint256 reportId, bytes calldata record, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Report storage r = _existing(reportId);
        if (r.status != Status.Attested && r.status != Status.Verified) revert InvalidReportStatus(reportId, r.status);
        bytes32 leaf = keccak256(bytes.concat(keccak256(record)));
        return MerkleProof.verifyCalldata(proof, r.merkleRoot, leaf);
    }

    /// @notice The digest a node submitted for a report (zero if none).
    function submissionOf(uint256 reportId, address node) external view returns (bytes32) {
        return _submissionFor(reportId, node);
    }

    /// @notice How many nodes submitted `digest` for a report.
    function votesFor(uint256 reportId, bytes32 digest) external view returns (uint16) {
        return _votesOf(reportId, digest);
    }

    /// @inheritdoc IMonitoringReports
    function verifiedReport(uint256 reportId)
        external
        view
        returns (uint256 projectId, uint64 periodStart, uint64 periodEnd, uint256 verifiedQuantity)
    {
        Report storage r = _existing(reportId);
        if (r.status != Status.Verified) revert ReportNotVerified(reportId);
        return (r.projectId, r.periodStart, r.periodEnd, r.verifiedQuantity);
    }

    /// @inheritdoc IMonitoringReports
    function claim(uint256 reportId)
        external
        returns (uint256 projectId, uint64 periodStart, uint64 periodEnd, uint256 verifiedQuantity)
    {
        if (msg.sender != creditRegister && msg.sender != ticketRegister) revert NotIssuingRegister(msg.sender);
        Report storage r = _existing(reportId);
        if (r.status != Status.Verified) revert ReportNotVerified(reportId);
        if (r.claimedBy != Register.None) revert ReportAlreadyClaimed(reportId, _registerAt(r.claimedBy));
        r.claimedBy = msg.sender == creditRegister ? Register.Credits : Register.Tickets;
        emit ReportClaimed(reportId, msg.sender);
        return (r.projectId, r.periodStart, r.periodEnd, r.verifiedQuantity);
    }

    /// @notice The register that issued report `reportId` (CarbonCredits or ForestTickets), or
    /// the zero address while it is unclaimed.
    function claimantOf(uint256 reportId) external view returns (address) {
        return _registerAt(_reports[reportId].claimedBy);
    }

    function _registerAt(Register which) private view returns (address) {
        if (which == Register.Credits) return creditRegister;
        if (which == Register.Tickets) return ticketRegister;
        return address(0);
    }

    /// @dev k is this contract's `threshold`.
    function _quorum() internal view override returns (uint16) {
        return threshold;
    }

    function _requireUnclaimed(bytes32 rootOrHash, uint256 reportId) private view {
        uint256 holder = reportOfHash[rootOrHash];
        if (holder != 0 && holder != reportId) revert AlreadyAttestedElsewhere(rootOrHash, holder);
    }

    function _existing(uint256 reportId) private view returns (Report storage r) {
        r = _reports[reportId];
        if (r.status == Status.None) revert UnknownReport(reportId);
    }
}
