// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {IMethodologyRegistry} from "../interfaces/IMethodologyRegistry.sol";

/// @title MethodologyRegistry
/// @notice Accounting methodologies (e.g. CCER-14-001-V01 afforestation, mangrove restoration):
/// registered by the registry operator with a document hash and parameters, approved by the
/// regulator. Each carries the buffer share withheld from every issuance against reversals, and
/// names its sink category (mangrove, seagrass, forest, ...), fixed at registration.
contract MethodologyRegistry is IMethodologyRegistry, ConsortiumGated {
    enum Status {
        None,
        Registered,
        Approved,
        Rejected,
        Deprecated
    }

    struct Methodology {
        Status status;
        uint16 bufferBps;
        address registrant;
        SinkCategory category;
        bytes32 documentHash;
        bytes32 parametersHash;
    }

    /// @notice Largest allowed buffer share (basis points).
    uint16 public constant MAX_BUFFER_BPS = 5_000;

    mapping(uint256 methodologyId => Methodology) private _methodologies;
    mapping(bytes32 codeHash => uint256 methodologyId) private _idOfCode;

    /// @notice Number of methodologies ever registered (ids are 1..methodologyCount).
    uint256 public methodologyCount;

    /// @dev Code or name is empty.
    error EmptyField();
    /// @dev The document hash is zero.
    error ZeroHash();
    /// @dev The buffer share is above MAX_BUFFER_BPS.
    error BufferTooLarge(uint16 bufferBps);
    /// @dev A methodology with this code already exists.
    error DuplicateCode(string code, uint256 methodologyId);
    /// @dev The category is not one of SinkCategory 1..7.
    error InvalidSinkCategory(uint8 category);
    /// @dev The methodology is not in a state that allows this step.
    error InvalidMethodologyStatus(uint256 methodologyId, Status status);

    /// @notice A methodology was registered.
    event MethodologyRegistered(
        uint256 indexed methodologyId,
        string code,
        string name,
        bytes32 documentHash,
        bytes32 parametersHash,
        uint16 bufferBps,
        address indexed registrant,
        SinkCategory category
    );
    /// @notice A methodology changed status (approved, rejected or deprecated).
    event MethodologyStatusChanged(uint256 indexed methodologyId, Status status, bytes32 reasonHash, address indexed by);

    constructor(IConsortium consortium_, address trustedForwarder) ConsortiumGated(consortium_, trustedForwarder) {}

    /// @notice Registers a methodology. Registry operator only.
    /// @param code Unique methodology code, e.g. "CCER-14-002-V01".
    /// @param name Human-readable name.
    /// @param documentHash Hash of the methodology document.
    /// @param parametersHash Hash of the canonical parameter set (defaults, factors).
    /// @param bufferBps Buffer share withheld from each issuance, in basis points.
    /// @param category The sink category, a SinkCategory value 1..7 (never Unspecified).
    /// @return methodologyId The new methodology's id.
    function register(
        string calldata code,
        string calldata name,
        bytes32 documentHash,
        bytes32 parametersHash,
        uint16 bufferBps,
        uint8 category
    ) external onlyRole(Roles.REGISTRY_OPERATOR) returns (uint256 methodologyId) {
        if (bytes(code).length == 0 || bytes(name).length == 0) revert EmptyField();
        if (documentHash == bytes32(0)) revert ZeroHash();
        if (bufferBps > MAX_BUFFER_BPS) revert BufferTooLarge(bufferBps);
        if (category == 0 || category > uint8(SinkCategory.SoilWaterConservation)) {
            revert InvalidSinkCategory(category);
        }
        bytes32 codeHash = keccak256(bytes(code));
        uint256 existing = _idOfCode[codeHash];
        if (existing != 0) revert DuplicateCode(code, existing);
        methodologyId = ++methodologyCount;
        _idOfCode[codeHash] = methodologyId;
        _methodologies[methodologyId] = Methodology({
            status: Status.Registered,
            bufferBps: bufferBps,
            registrant: _msgSender(),
            category: SinkCategory(category),
            documentHash: documentHash,
            parametersHash: parametersHash
        });
        emit MethodologyRegistered(
            methodologyId, code, name, documentHash, parametersHash, bufferBps, _msgSender(), SinkCategory(category)
        );
    }

    /// @notice Approves a registered methodology for use by projects. Regulator only.
    /// @param methodologyId The methodology to approve.
    function approve(uint256 methodologyId) external onlyRole(Roles.REGULATOR) {
        _transition(methodologyId, Status.Registered, Status.Approved, bytes32(0));
    }

    /// @notice Rejects a registered methodology. Regulator only.
    /// @param methodologyId The methodology to reject.
    /// @param reasonHash Hash of the decision document.
    function reject(uint256 methodologyId, bytes32 reasonHash) external onlyRole(Roles.REGULATOR) {
        _transition(methodologyId, Status.Registered, Status.Rejected, reasonHash);
    }

    /// @notice Closes an approved methodology to new projects; existing projects keep issuing. Regulator only.
    /// @param methodologyId The methodology to deprecate.
    /// @param reasonHash Hash of the decision document.
    function deprecate(uint256 methodologyId, bytes32 reasonHash) external onlyRole(Roles.REGULATOR) {
        _transition(methodologyId, Status.Approved, Status.Deprecated, reasonHash);
    }

    /// @notice Full record of a methodology.
    function getMethodology(uint256 methodologyId) external view returns (Methodology memory) {
        Methodology memory m = _methodologies[methodologyId];
        if (m.status == Status.None) revert UnknownMethodology(methodologyId);
        return m;
    }

    /// @notice Id of the methodology registered under `code` (0 if none).
    function idOfCode(string calldata code) external view returns (uint256) {
        return _idOfCode[keccak256(bytes(code))];
    }

    /// @inheritdoc IMethodologyRegistry
    function requireApproved(uint256 methodologyId) external view {
        Status s = _methodologies[methodologyId].status;
        if (s == Status.None) revert UnknownMethodology(methodologyId);
        if (s != Status.Approved) revert MethodologyNotApproved(methodologyId);
    }

    /// @inheritdoc IMethodologyRegistry
    function bufferBps(uint256 methodologyId) external view returns (uint16) {
        Methodology storage m = _methodologies[methodologyId];
        if (m.status == Status.None) revert UnknownMethodology(methodologyId);
        return m.bufferBps;
    }

    /// @inheritdoc IMethodologyRegistry
    function sinkCategoryOf(uint256 methodologyId) external view returns (uint8) {
        Methodology storage m = _methodologies[methodologyId];
        if (m.status == Status.None) revert UnknownMethodology(methodologyId);
        return uint8(m.category);
    }

    function _transition(uint256 methodologyId, Status from, Status to, bytes32 reasonHash) private {
        Methodology storage m = _methodologies[methodologyId];
        if (m.status == Status.None) revert UnknownMethodology(methodologyId);
        if (m.status != from) revert InvalidMethodologyStatus(methodologyId, m.status);
        m.status = to;
        emit MethodologyStatusChanged(methodologyId, to, reasonHash, _msgSender());
    }
}
