// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {ICompensationOrders} from "../interfaces/ICompensationOrders.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {ICreditBatches} from "../interfaces/ICreditBatches.sol";
import {IDisturbanceReports} from "../interfaces/IDisturbanceReports.sol";
import {IMethodologyRegistry} from "../interfaces/IMethodologyRegistry.sol";
import {IMonitoringReports} from "../interfaces/IMonitoringReports.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";
import {IPurchaseRetirement} from "../interfaces/IPurchaseRetirement.sol";

/// @title CarbonCredits
/// @notice Credit batches as ERC-1155 tokens: one id per issuance against one verified monitoring
/// report. Amounts are micro-tonnes CO2e (1 t = 1,000,000). The methodology's buffer share,
/// rounded up, is held by this contract as the buffer pool and can only be cancelled by the
/// regulator against a verifier-confirmed disturbance, never more than its confirmed loss. Each batch has the serial space 1..issued; every retirement and
/// cancellation consumes the next contiguous range, so every retired micro-tonne has one serial.
/// Invariant per batch: issued = sum of balances (buffer pool included) + retired + cancelled.
/// A retirement for a registered ecological-compensation order goes through `retireForOrder` (or
/// a venue's `retireOnPurchase`), which CompensationOrders counts toward the order in the same
/// transaction; a plain `retire` citing such a case is refused.
contract CarbonCredits is ERC1155, ERC1155Holder, ConsortiumGated, ICreditBatches, IPurchaseRetirement {
    /// @notice Why credits are retired.
    enum Purpose {
        Voluntary,
        Compliance,
        EcologicalCompensation,
        CarbonInclusive
    }

    /// @dev `consumed` (= retired + cancelled, the last serial used) shares a slot with `issued`
    /// so a retirement touches one warm, non-zero slot of the batch.
    struct Batch {
        uint64 projectId;
        uint64 reportId;
        uint64 periodStart;
        uint64 periodEnd;
        uint128 issued;
        uint120 consumed;
        bool frozen;
        uint128 buffer;
        uint120 cancelled;
    }

    /// @notice A retirement's full record, exactly as the `Retired` event carries it. The chain
    /// stores only its hash (`retirementHash`), one slot, and `verifyRetirement` proves a record.
    struct Retirement {
        address holder;
        uint256 batchId;
        uint256 amount;
        uint256 serialStart;
        Purpose purpose;
        string beneficiary;
        string caseReference;
    }

    IMethodologyRegistry public immutable methodologies;
    IProjectRegistry public immutable projects;
    IMonitoringReports public immutable reports;
    IDisturbanceReports public immutable disturbances;
    ICompensationOrders public immutable compensation;

    /// @notice Number of batches ever issued (ids are 1..batchCount).
    uint256 public batchCount;
    /// @notice Number of retirements (ids are 1..retirementCount).
    uint256 public retirementCount;
    /// @notice Number of buffer cancellations (ids are 1..cancellationCount).
    uint256 public cancellationCount;

    mapping(uint256 batchId => Batch) private _batches;
    mapping(uint256 reportId => uint256 batchId) public batchOfReport;
    /// @notice keccak256 of each retirement's full record (see `hashRetirement`); zero if unknown.
    mapping(uint256 retirementId => bytes32 recordHash) public retirementHash;

    /// @dev The batch does not exist.
    error UnknownBatch(uint256 batchId);
    /// @dev The retirement does not exist.
    error UnknownRetirement(uint256 retirementId);
    /// @dev The report was already issued as `batchId`.
    error ReportAlreadyIssued(uint256 reportId, uint256 batchId);
    /// @dev Amounts must be positive.
    error ZeroAmount();
    /// @dev The batch is frozen by the regulator.
    error BatchFrozen(uint256 batchId);
    /// @dev The batch is already in the requested freeze state.
    error BatchFreezeUnchanged(uint256 batchId, bool frozen);
    /// @dev Credits can only enter or leave the buffer pool by issuance or cancellation.
    error BufferPoolLocked();
    /// @dev The beneficiary must be named.
    error EmptyBeneficiary();
    /// @dev An ecological-compensation retirement must cite its case.
    error CaseReferenceRequired();
    /// @dev Unknown retirement purpose code.
    error InvalidPurpose(uint8 purpose);
    /// @dev The case has compensation order `orderId`: retire for it with `retireForOrder`.
    error CaseHasOrder(uint256 orderId);
    /// @dev Only a trusted purchase venue retires on purchase.
    error NotPurchaseVenue(address caller);
    /// @dev The cancellation exceeds what the buffer pool holds of the batch.
    error InsufficientBuffer(uint256 batchId, uint256 available, uint256 requested);

    /// @notice A batch was issued against verified report `reportId`.
    event BatchIssued(
        uint256 indexed batchId,
        uint256 indexed projectId,
        uint256 indexed reportId,
        address developer,
        uint256 issued,
        uint256 buffer,
        uint64 periodStart,
        uint64 periodEnd
    );
    /// @notice Credits were retired; serials serialStart..serialStart+amount-1 of the batch are consumed.
    event Retired(
        uint256 indexed retirementId,
        uint256 indexed batchId,
        address indexed holder,
        uint256 amount,
        uint256 serialStart,
        Purpose purpose,
        string beneficiary,
        string caseReference
    );
    /// @notice Buffer credits were cancelled against a reversal.
    event BufferCancelled(
        uint256 indexed cancellationId,
        uint256 indexed batchId,
        uint256 amount,
        uint256 serialStart,
        uint256 serialEnd,
        bytes32 reasonHash,
        address indexed by
    );
    /// @notice The regulator froze or unfroze a batch.
    event BatchFreezeChanged(uint256 indexed batchId, bool frozen, bytes32 reasonHash, address indexed by);

    constructor(
        IConsortium consortium_,
        IMethodologyRegistry methodologies_,
        IProjectRegistry projects_,
        IMonitoringReports reports_,
        IDisturbanceReports disturbances_,
        ICompensationOrders compensation_,
        string memory uri_,
        address trustedForwarder
    ) ERC1155(uri_) ConsortiumGated(consortium_, trustedForwarder) {
        if (
            address(methodologies_) == address(0) || address(projects_) == address(0)
                || address(reports_) == address(0) || address(disturbances_) == address(0)
                || address(compensation_) == address(0)
        ) revert ZeroAddressArgument();
        methodologies = methodologies_;
        projects = projects_;
        reports = reports_;
        disturbances = disturbances_;
        compensation = compensation_;
    }

    /// @notice Issues a batch against a verified report, once per report. Registry operator only.
    /// The project developer receives the verified quantity less the buffer share (rounded up).
    /// @param reportId A verified monitoring report not issued before, as credits or as a forest
    /// ticket (MonitoringReports.claim: ReportAlreadyClaimed).
    /// @return batchId The new batch (ERC-1155 token id).
    function issue(uint256 reportId) external onlyRole(Roles.REGISTRY_OPERATOR) returns (uint256 batchId) {
        uint256 existing = batchOfReport[reportId];
        if (existing != 0) revert ReportAlreadyIssued(reportId, existing);
        // claims the report across both registers: a ticketed report is never issued as credits
        (uint256 projectId, uint64 periodStart, uint64 periodEnd, uint256 quantity) = reports.claim(reportId);
        (address developer, uint256 methodologyId,,) = projects.approvedProject(projectId);
        consortium.requireHolder(developer);
        uint256 buffer = Math.mulDiv(quantity, methodologies.bufferBps(methodologyId), 10_000, Math.Rounding.Ceil);

        batchId = ++batchCount;
        batchOfReport[reportId] = batchId;
        _batches[batchId] = Batch({
            projectId: uint64(projectId),
            reportId: uint64(reportId),
            periodStart: periodStart,
            periodEnd: periodEnd,
            issued: SafeCast.toUint128(quantity),
            consumed: 0,
            frozen: false,
            buffer: uint128(buffer),
            cancelled: 0
        });
        emit BatchIssued(batchId, projectId, reportId, developer, quantity, buffer, periodStart, periodEnd);
        if (buffer != 0) _mint(address(this), batchId, buffer, "");
        if (quantity != buffer) _mint(developer, batchId, quantity - buffer, "");
    }

    /// @notice Retires the caller's credits for a beneficiary; they can never move again. Holders only.
    /// @param batchId The batch.
    /// @param amount Micro-tonnes to retire.
    /// @param beneficiary On whose behalf (name shown on the certificate).
    /// @param purpose 0 voluntary, 1 compliance, 2 ecological compensation, 3 carbon-inclusive.
    /// @param caseReference Case number (required for ecological compensation, optional otherwise);
    /// a case with a registered compensation order is refused (CaseHasOrder: use retireForOrder).
    /// @return retirementId The retirement's id; its record (serial range included) is in the
    /// `Retired` event, and its hash on chain (`verifyRetirement`).
    function retire(
        uint256 batchId,
        uint256 amount,
        string calldata beneficiary,
        uint8 purpose,
        string calldata caseReference
    ) external returns (uint256 retirementId) {
        address holder = _msgSender();
        _checkRetirement(holder, batchId, amount, beneficiary, purpose, caseReference);
        bytes32 caseHash = keccak256(bytes(caseReference));
        if (bytes(caseReference).length != 0) {
            uint256 orderId = compensation.orderOfCaseHash(caseHash);
            if (orderId != 0) revert CaseHasOrder(orderId);
        }
        uint256 serialStart;
        (retirementId, serialStart) =
            _recordRetirement(holder, batchId, amount, purpose, keccak256(bytes(beneficiary)), caseHash);
        _burn(holder, batchId, amount);
        emit Retired(
            retirementId, batchId, holder, amount, serialStart, Purpose(purpose), beneficiary, caseReference
        );
    }

    /// @notice Retires the caller's credits for compensation order `orderId`, which counts them
    /// toward the order or reverts if they do not meet its terms (CompensationOrders: party,
    /// deadline, category, region, vintage, requirement). Purpose is ecological compensation and
    /// the case reference the order's case number. Holders only (a liable party of the order, or
    /// its authority when the authority pays).
    /// @param batchId The batch.
    /// @param amount Micro-tonnes to retire.
    /// @param beneficiary On whose behalf; empty for the case number.
    /// @param orderId A registered, open compensation order.
    /// @return retirementId The retirement's id (record in the `Retired` event).
    function retireForOrder(uint256 batchId, uint256 amount, string calldata beneficiary, uint256 orderId)
        external
        returns (uint256 retirementId)
    {
        address holder = _msgSender();
        retirementId = _retireForOrder(holder, holder, batchId, amount, orderId, beneficiary);
        compensation.countRetirement(orderId, retirementId, holder, batchId, amount, address(0), 0);
    }

    /// @inheritdoc IPurchaseRetirement
    /// @dev The seller (`from`) must be an active, unfrozen member that approved the venue as
    /// its operator; the buyer (`holder`) must be an active, unfrozen member, and the order
    /// checks it is a party. The venue's price counts toward a Fen order.
    function retireOnPurchase(
        address from,
        address holder,
        uint256 batchId,
        uint256 amount,
        uint256 orderId,
        uint256 priceFenPerTonne,
        string calldata beneficiary
    ) external returns (uint256 retirementId) {
        if (!compensation.isVenue(msg.sender)) revert NotPurchaseVenue(msg.sender);
        if (!isApprovedForAll(from, msg.sender)) revert ERC1155MissingApprovalForAll(msg.sender, from);
        consortium.requireHolder(from);
        retirementId = _retireForOrder(from, holder, batchId, amount, orderId, beneficiary);
        compensation.countRetirement(orderId, retirementId, holder, batchId, amount, msg.sender, priceFenPerTonne);
    }

    /// @notice Cancels buffer-pool credits of a batch against a verifier-confirmed disturbance of
    /// the batch's project, never more than the disturbance's confirmed loss in total. Regulator
    /// only. This is the only way credits are cancelled.
    /// @param disturbanceId A confirmed disturbance (DisturbanceReports).
    /// @param batchId A batch of the disturbed project whose buffer is drawn.
    /// @param amount Micro-tonnes to cancel.
    /// @return cancellationId The cancellation's id; its reason hash is keccak256("disturbance", id).
    function cancelBufferForDisturbance(uint256 disturbanceId, uint256 batchId, uint256 amount)
        external
        onlyRole(Roles.REGULATOR)
        returns (uint256 cancellationId)
    {
        Batch storage b = _batches[batchId];
        if (b.issued == 0) revert UnknownBatch(batchId);
        disturbances.consumeLoss(disturbanceId, b.projectId, amount);
        return _cancelBuffer(batchId, amount, keccak256(abi.encode("disturbance", disturbanceId)));
    }

    function _cancelBuffer(uint256 batchId, uint256 amount, bytes32 reasonHash)
        private
        returns (uint256 cancellationId)
    {
        Batch storage b = _batches[batchId];
        if (b.issued == 0) revert UnknownBatch(batchId);
        if (amount == 0) revert ZeroAmount();
        uint256 available = balanceOf(address(this), batchId);
        if (amount > available) revert InsufficientBuffer(batchId, available, amount);
        uint256 serialStart = uint256(b.consumed) + 1;
        b.consumed += SafeCast.toUint120(amount);
        b.cancelled += SafeCast.toUint120(amount);
        cancellationId = ++cancellationCount;
        _burn(address(this), batchId, amount);
        emit BufferCancelled(
            cancellationId, batchId, amount, serialStart, serialStart + amount - 1, reasonHash, _msgSender()
        );
    }

    /// @notice Freezes a batch: no transfer or retirement until unfrozen. Regulator only.
    /// @param batchId The batch.
    /// @param reasonHash Hash of the regulator's decision document.
    function freezeBatch(uint256 batchId, bytes32 reasonHash) external onlyRole(Roles.REGULATOR) {
        _setBatchFrozen(batchId, true, reasonHash);
    }

    /// @notice Lifts a batch freeze. Regulator only.
    /// @param batchId The batch.
    /// @param reasonHash Hash of the regulator's decision document.
    function unfreezeBatch(uint256 batchId, bytes32 reasonHash) external onlyRole(Roles.REGULATOR) {
        _setBatchFrozen(batchId, false, reasonHash);
    }

    /// @notice Lets `operator` move all of the caller's credits (or revokes that). The caller must
    /// be an active, unfrozen member, and so must an operator it approves; the operator is
    /// checked again at every transfer it makes (a frozen operator moves nothing).
    /// @param operator The member that may transfer on the caller's behalf.
    /// @param approved True to approve, false to revoke.
    function setApprovalForAll(address operator, bool approved) public override {
        address owner = _msgSender();
        consortium.requireRole(Roles.MEMBER, owner);
        if (approved) consortium.requireRole(Roles.MEMBER, operator);
        _setApprovalForAll(owner, operator, approved);
    }

    /// @inheritdoc ICreditBatches
    function getBatch(uint256 batchId) external view returns (BatchView memory) {
        Batch memory b = _batches[batchId];
        if (b.issued == 0) revert UnknownBatch(batchId);
        return BatchView({
            projectId: b.projectId,
            reportId: b.reportId,
            periodStart: b.periodStart,
            periodEnd: b.periodEnd,
            issued: b.issued,
            buffer: b.buffer,
            retired: uint256(b.consumed) - b.cancelled,
            cancelled: b.cancelled,
            frozen: b.frozen
        });
    }

    /// @notice Whether `record` is retirement `retirementId` as the chain recorded it (every field:
    /// holder, batch, amount, first serial, purpose, beneficiary, case reference).
    /// @param retirementId An existing retirement.
    /// @param record The full record, e.g. read from the `Retired` event.
    function verifyRetirement(uint256 retirementId, Retirement calldata record) external view returns (bool) {
        bytes32 stored = retirementHash[retirementId];
        if (stored == bytes32(0)) revert UnknownRetirement(retirementId);
        return stored == hashRetirement(record);
    }

    /// @notice The hash the chain stores for a retirement record.
    function hashRetirement(Retirement calldata record) public pure returns (bytes32) {
        return _hashRetirement(
            record.holder,
            record.batchId,
            record.amount,
            record.serialStart,
            uint8(record.purpose),
            keccak256(bytes(record.beneficiary)),
            keccak256(bytes(record.caseReference))
        );
    }

    /// @notice Credits of `batchId` held in the buffer pool.
    function bufferBalance(uint256 batchId) external view returns (uint256) {
        return balanceOf(address(this), batchId);
    }

    /// @inheritdoc ERC1155
    function supportsInterface(bytes4 interfaceId) public view override(ERC1155, ERC1155Holder) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    /// @dev Transfers (not mints or burns) need unfrozen members at both ends, an unfrozen member
    /// as operator, unfrozen batches, positive amounts, and never touch the buffer pool.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values) internal override {
        if (from != address(0) && to != address(0)) {
            if (from == address(this) || to == address(this)) revert BufferPoolLocked();
            address operator = _msgSender();
            if (operator != from) consortium.requireRole(Roles.MEMBER, operator);
            consortium.requireHolder(from);
            consortium.requireHolder(to);
            for (uint256 i = 0; i < ids.length; ++i) {
                if (values[i] == 0) revert ZeroAmount();
                Batch storage b = _batches[ids[i]];
                if (b.issued == 0) revert UnknownBatch(ids[i]);
                if (b.frozen) revert BatchFrozen(ids[i]);
            }
        }
        super._update(from, to, ids, values);
    }

    function _checkRetirement(
        address holder,
        uint256 batchId,
        uint256 amount,
        string calldata beneficiary,
        uint8 purpose,
        string calldata caseReference
    ) private view {
        _checkHolding(holder, batchId, amount);
        if (bytes(beneficiary).length == 0) revert EmptyBeneficiary();
        if (purpose > uint8(Purpose.CarbonInclusive)) revert InvalidPurpose(purpose);
        if (purpose == uint8(Purpose.EcologicalCompensation) && bytes(caseReference).length == 0) {
            revert CaseReferenceRequired();
        }
    }

    function _checkHolding(address holder, uint256 batchId, uint256 amount) private view {
        consortium.requireHolder(holder);
        Batch storage b = _batches[batchId];
        if (b.issued == 0) revert UnknownBatch(batchId);
        if (b.frozen) revert BatchFrozen(batchId);
        if (amount == 0) revert ZeroAmount();
    }

    /// @dev Retires `amount` of `from`'s credits as `holder`'s retirement for order `orderId`
    /// (its case number as case reference, and as beneficiary when none is named). The caller
    /// has the order count it.
    function _retireForOrder(
        address from,
        address holder,
        uint256 batchId,
        uint256 amount,
        uint256 orderId,
        string calldata beneficiary
    ) private returns (uint256 retirementId) {
        _checkHolding(holder, batchId, amount);
        string memory caseNumber = compensation.caseNumberOf(orderId);
        string memory named = bytes(beneficiary).length == 0 ? caseNumber : beneficiary;
        uint256 serialStart;
        (retirementId, serialStart) = _recordRetirement(
            holder,
            batchId,
            amount,
            uint8(Purpose.EcologicalCompensation),
            keccak256(bytes(named)),
            keccak256(bytes(caseNumber))
        );
        _burn(from, batchId, amount);
        emit Retired(
            retirementId, batchId, holder, amount, serialStart, Purpose.EcologicalCompensation, named, caseNumber
        );
    }

    /// @dev Consumes the batch's next serial range and stores the record's hash; the caller burns
    /// the holder's balance, which bounds `amount` (issued fits 128 bits).
    function _recordRetirement(
        address holder,
        uint256 batchId,
        uint256 amount,
        uint8 purpose,
        bytes32 beneficiaryHash,
        bytes32 caseHash
    ) private returns (uint256 retirementId, uint256 serialStart) {
        Batch storage b = _batches[batchId];
        serialStart = uint256(b.consumed) + 1;
        b.consumed += SafeCast.toUint120(amount);
        retirementId = ++retirementCount;
        retirementHash[retirementId] =
            _hashRetirement(holder, batchId, amount, serialStart, purpose, beneficiaryHash, caseHash);
    }

    function _hashRetirement(
        address holder,
        uint256 batchId,
        uint256 amount,
        uint256 serialStart,
        uint8 purpose,
        bytes32 beneficiaryHash,
        bytes32 caseHash
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(holder, batchId, amount, serialStart, purpose, beneficiaryHash, caseHash));
    }

    function _setBatchFrozen(uint256 batchId, bool frozen, bytes32 reasonHash) private {
        Batch storage b = _batches[batchId];
        if (b.issued == 0) revert UnknownBatch(batchId);
        if (b.frozen == frozen) revert BatchFreezeUnchanged(batchId, frozen);
        b.frozen = frozen;
        emit BatchFreezeChanged(batchId, frozen, reasonHash, _msgSender());
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
