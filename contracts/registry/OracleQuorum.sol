// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title OracleQuorum
/// @notice The k-of-n vote bookkeeping shared by the oracle gates (MonitoringReports,
/// DisturbanceReports): per subject (a report, a disturbance) each oracle node votes once for a
/// digest of what it attests, votes are counted per digest, and the subject is decided when one
/// digest reaches k.
/// @dev Only the bookkeeping lives here. What a subject is, when it accepts votes, which digest a
/// vote carries, and the custom errors and events (whose argument names clients decode, e.g.
/// `AlreadyAttested(reportId, node)` against `AlreadyAttested(disturbanceId, node)`, and whose
/// payloads differ per gate) stay with each gate, so their ABIs are exactly what they were. The
/// check and the write are separate steps so a gate keeps the order of its own checks.
abstract contract OracleQuorum {
    mapping(uint256 subjectId => mapping(address node => bytes32 digest)) private _submissionOf;
    mapping(uint256 subjectId => mapping(bytes32 digest => uint16 votes)) private _votes;

    /// @dev k: how many agreeing votes decide a subject. Read only when a vote could decide it.
    function _quorum() internal view virtual returns (uint16);

    /// @dev Whether `node` already voted on the subject (a digest is never zero: it is a keccak).
    function _hasVoted(uint256 subjectId, address node) internal view returns (bool) {
        return _submissionOf[subjectId][node] != bytes32(0);
    }

    /// @dev Records `node`'s vote for `digest` (the caller checked `_hasVoted` first) and counts
    /// it. `decidable` says whether the subject can still be decided (it is pending): only then
    /// is k read, so a late vote on a decided subject never pays for it.
    /// @return votes Agreeing votes for `digest`, this one included.
    /// @return reached True when this vote brings a decidable subject to k.
    function _castVote(uint256 subjectId, address node, bytes32 digest, bool decidable)
        internal
        returns (uint16 votes, bool reached)
    {
        _submissionOf[subjectId][node] = digest;
        votes = ++_votes[subjectId][digest];
        reached = decidable && votes >= _quorum();
    }

    /// @dev The digest `node` voted for on the subject (zero if none).
    function _submissionFor(uint256 subjectId, address node) internal view returns (bytes32) {
        return _submissionOf[subjectId][node];
    }

    /// @dev How many nodes voted for `digest` on the subject.
    function _votesOf(uint256 subjectId, bytes32 digest) internal view returns (uint16) {
        return _votes[subjectId][digest];
    }
}
