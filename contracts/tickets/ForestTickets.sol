// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {ICompensationOrders} from "../interfaces/ICompensationOrders.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {IForestTicketReceiver} from "../interfaces/IForestTicketReceiver.sol";
import {IForestTickets} from "../interfaces/IForestTickets.sol";
import {IMethodologyRegistry} from "../interfaces/IMethodologyRegistry.sol";
import {IMonitoringReports} from "../interfaces/IMonitoringReports.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";
import {ITicketSlots} from "../interfaces/ITicketSlots.sol";

/// @title ForestTickets
/// @notice Forest carbon tickets (林业碳票, the Sanming model): semi-fungible tokens in ERC-3525's
/// slot/value shape. A forestry authority issues (制发) one ticket per verified monitoring report of
/// a forest parcel — a registered project whose methodology's sink category is forest — to the
/// parcel's owner; the report's id is the ticket's slot (one parcel and monitoring period) and its
/// verified quantity the ticket's value in micro-tonnes (1 t = 1,000,000). The report is claimed
/// in MonitoringReports, so it can be issued once across both registers: never as credits too.
/// Value is split off into new tickets, merged between tickets of one slot, transferred (流转)
/// between members and retired (抵消) with a beneficiary; every retirement consumes the slot's
/// next serial range. Invariant per slot: issued = sum of ticket values + retired.
/// A retirement for a registered ecological-compensation order goes through `retireForOrder`,
/// which CompensationOrders counts toward the order (judged from the slot: the parcel's sink
/// category, division code and monitoring period) in the same transaction; a plain `retire`
/// citing such a case is refused (CaseHasOrder).
/// Only unfrozen members hold, receive, move or retire tickets; a contract recipient must accept
/// through `onERC3525Received`. Not the full ERC-3525 interface: no per-ticket value allowances
/// (operators are approved for all of an owner's tickets), and the owner-level transfer event is
/// `TicketTransferred` (ERC-721's `Transfer` would share its topic with ERC-20's).
contract ForestTickets is IForestTickets, ITicketSlots, ConsortiumGated {
    /// @notice Why tickets are retired (the same codes as CarbonCredits').
    enum Purpose {
        Voluntary,
        Compliance,
        EcologicalCompensation,
        CarbonInclusive
    }

    /// @notice A slot: one forest parcel (林权) and monitoring period, i.e. one verified report.
    struct SlotInfo {
        uint64 projectId;
        uint64 periodStart;
        uint64 periodEnd;
        uint32 divisionCode;
        uint128 issued;
        uint128 retired;
        bytes32 boundaryHash;
        uint64 areaM2;
        address owner;
        string rightsCertificate;
    }

    /// @notice A ticket: its owner, slot (report id) and value (micro-tonnes).
    struct Ticket {
        address owner;
        uint256 slot;
        uint256 value;
    }

    /// @notice A ticket retirement's full record, as the `TicketRetired` event carries it; the
    /// chain stores only its hash (`retirementHash`), and `verifyRetirement` proves a record.
    struct TicketRetirement {
        address holder;
        uint256 tokenId;
        uint256 slot;
        uint256 value;
        uint256 serialStart;
        Purpose purpose;
        string beneficiary;
        string caseReference;
    }

    /// @dev One slot per ticket for owner and value; the ticket's slot id in a second.
    struct Token {
        address owner;
        uint96 value;
    }

    IMethodologyRegistry public immutable methodologies;
    IProjectRegistry public immutable projects;
    IMonitoringReports public immutable reports;
    ICompensationOrders public immutable compensation;

    /// @notice Number of tickets ever minted (ids are 1..tokenCount; merged tickets are burnt).
    uint256 public tokenCount;
    /// @notice Number of ticket retirements (ids are 1..retirementCount).
    uint256 public retirementCount;

    mapping(uint256 tokenId => Token) private _tokens;
    mapping(uint256 tokenId => uint256 slot) private _slotOf;
    mapping(uint256 slot => SlotInfo) private _slots;
    mapping(address owner => mapping(address operator => bool)) private _operators;

    /// @notice keccak256 of each ticket retirement's full record (see `hashRetirement`).
    mapping(uint256 retirementId => bytes32 recordHash) public retirementHash;

    /// @dev The ticket does not exist (never minted, or burnt by a merge).
    error UnknownTicket(uint256 tokenId);
    /// @dev No ticket was issued for this slot.
    error UnknownSlot(uint256 slot);
    /// @dev The retirement does not exist.
    error UnknownRetirement(uint256 retirementId);
    /// @dev The report's parcel is not a forest project (its methodology's sink category).
    error NotForestParcel(uint256 projectId, uint8 category);
    /// @dev The forest-right certificate number is empty.
    error EmptyCertificate();
    /// @dev Values must be positive.
    error ZeroValue();
    /// @dev The ticket holds less than the requested value.
    error InsufficientValue(uint256 tokenId, uint256 value, uint256 requested);
    /// @dev The caller neither owns the ticket nor is an operator approved by its owner.
    error NotOwnerNorApproved(address caller, uint256 tokenId);
    /// @dev Only the ticket's owner may do this.
    error NotTicketOwner(address caller, uint256 tokenId);
    /// @dev `from` is not the ticket's owner.
    error WrongOwner(address from, uint256 tokenId);
    /// @dev The two tickets are of different slots.
    error SlotMismatch(uint256 fromSlot, uint256 toSlot);
    /// @dev A ticket cannot be merged into or transferred to itself.
    error SameTicket(uint256 tokenId);
    /// @dev Merged tickets must have one owner.
    error OwnerMismatch(uint256 fromTokenId, uint256 toTokenId);
    /// @dev Tickets go to members only (never the zero address).
    error InvalidRecipient(address to);
    /// @dev A contract recipient did not accept the ticket value.
    error TransferRejected(address to);
    /// @dev The beneficiary must be named.
    error EmptyBeneficiary();
    /// @dev An ecological-compensation retirement must cite its case.
    error CaseReferenceRequired();
    /// @dev Unknown retirement purpose code.
    error InvalidPurpose(uint8 purpose);
    /// @dev The case has compensation order `orderId`: retire for it with `retireForOrder`.
    error CaseHasOrder(uint256 orderId);

    /// @notice A forestry authority issued the ticket of verified report `slot` to the parcel's owner.
    event TicketIssued(
        uint256 indexed tokenId,
        uint256 indexed slot,
        uint256 indexed projectId,
        address owner,
        uint256 value,
        uint64 periodStart,
        uint64 periodEnd,
        string rightsCertificate,
        uint32 divisionCode,
        bytes32 boundaryHash,
        uint64 areaM2,
        address issuer
    );
    /// @notice Value moved between tickets (ERC-3525); a mint has `fromTokenId` 0, a burn or
    /// retirement `toTokenId` 0.
    event TransferValue(uint256 indexed fromTokenId, uint256 indexed toTokenId, uint256 value);
    /// @notice A ticket's slot was set (at its mint, ERC-3525).
    event SlotChanged(uint256 indexed tokenId, uint256 indexed oldSlot, uint256 indexed newSlot);
    /// @notice A ticket changed owner; `from` 0 at a mint, `to` 0 at a burn.
    event TicketTransferred(address indexed from, address indexed to, uint256 indexed tokenId);
    /// @notice An owner approved or revoked an operator for all its tickets (ERC-1155's shape).
    event ApprovalForAll(address indexed account, address indexed operator, bool approved);
    /// @notice Ticket value was retired; serials serialStart..serialStart+value-1 of the slot are consumed.
    event TicketRetired(
        uint256 indexed retirementId,
        uint256 indexed slot,
        address indexed holder,
        uint256 tokenId,
        uint256 value,
        uint256 serialStart,
        Purpose purpose,
        string beneficiary,
        string caseReference
    );

    constructor(
        IConsortium consortium_,
        IMethodologyRegistry methodologies_,
        IProjectRegistry projects_,
        IMonitoringReports reports_,
        ICompensationOrders compensation_,
        address trustedForwarder
    ) ConsortiumGated(consortium_, trustedForwarder) {
        if (
            address(methodologies_) == address(0) || address(projects_) == address(0)
                || address(reports_) == address(0) || address(compensation_) == address(0)
        ) revert ZeroAddressArgument();
        methodologies = methodologies_;
        projects = projects_;
        reports = reports_;
        compensation = compensation_;
    }

    // -- issuance ----------------------------------------------------------------------------

    /// @notice Issues (制发) the ticket of a verified report of a forest parcel to the parcel's
    /// owner (the project's developer, an unfrozen member). Forestry authority only. Claims the
    /// report in MonitoringReports: a report is ticketed once and never also issued as credits.
    /// The slot records the parcel as registered (division code, boundary hash, area) and the
    /// forest-right certificate number, which the project registry binds to this parcel: a
    /// certificate another project (a credit project included) holds over overlapping years
    /// reverts `ParcelInOtherProject`, so no tonne is counted in both registers.
    /// @param reportId A verified report of a forest project, issued by neither register before.
    /// @param rightsCertificate The parcel's forest-right certificate number (林权证号).
    /// @return tokenId The new ticket; its slot is `reportId`.
    function issue(uint256 reportId, string calldata rightsCertificate)
        external
        onlyRole(Roles.FORESTRY)
        returns (uint256 tokenId)
    {
        if (bytes(rightsCertificate).length == 0) revert EmptyCertificate();
        (address owner, uint256 quantity) = _openSlot(reportId, rightsCertificate);
        tokenId = _mint(owner, reportId, quantity);
        SlotInfo storage s = _slots[reportId];
        emit TicketIssued(
            tokenId,
            reportId,
            s.projectId,
            owner,
            quantity,
            s.periodStart,
            s.periodEnd,
            rightsCertificate,
            s.divisionCode,
            s.boundaryHash,
            s.areaM2,
            _msgSender()
        );
        emit TransferValue(0, tokenId, quantity);
    }

    // -- moving value ------------------------------------------------------------------------

    /// @notice Splits `value` off a ticket into a new ticket of the same slot and owner. The
    /// owner or its approved operator.
    /// @param tokenId The ticket to split.
    /// @param value Micro-tonnes for the new ticket; less than or equal to the ticket's value.
    /// @return newTokenId The new ticket.
    function split(uint256 tokenId, uint256 value) external returns (uint256 newTokenId) {
        address owner = _authorize(tokenId);
        newTokenId = _moveToNew(tokenId, owner, owner, value);
    }

    /// @notice Merges ticket `fromTokenId` into `toTokenId` (same slot, same owner): all its value
    /// moves and `fromTokenId` is burnt. The owner or its approved operator.
    /// @param fromTokenId The ticket merged away (burnt).
    /// @param toTokenId The ticket that receives its value.
    function merge(uint256 fromTokenId, uint256 toTokenId) external {
        if (fromTokenId == toTokenId) revert SameTicket(fromTokenId);
        address owner = _authorize(fromTokenId);
        if (_existing(toTokenId).owner != owner) revert OwnerMismatch(fromTokenId, toTokenId);
        uint256 fromSlot = _slotOf[fromTokenId];
        uint256 toSlot = _slotOf[toTokenId];
        if (fromSlot != toSlot) revert SlotMismatch(fromSlot, toSlot);
        uint96 value = _tokens[fromTokenId].value;
        _tokens[toTokenId].value += value;
        delete _tokens[fromTokenId];
        delete _slotOf[fromTokenId];
        emit TransferValue(fromTokenId, toTokenId, value);
        emit TicketTransferred(owner, address(0), fromTokenId);
    }

    /// @notice Transfers `value` of a ticket to a new ticket of the same slot owned by `to`
    /// (ERC-3525). The owner or its approved operator; `to` must be an unfrozen member.
    /// @param fromTokenId The ticket the value comes from.
    /// @param to The recipient.
    /// @param value Micro-tonnes to transfer.
    /// @return newTokenId The recipient's new ticket.
    function transferFrom(uint256 fromTokenId, address to, uint256 value) external returns (uint256 newTokenId) {
        address owner = _authorize(fromTokenId);
        newTokenId = _moveToNew(fromTokenId, owner, to, value);
    }

    /// @notice Transfers `value` of a ticket into an existing ticket of the same slot (ERC-3525),
    /// whoever owns it (an unfrozen member). The owner of `fromTokenId` or its approved operator.
    /// @param fromTokenId The ticket the value comes from.
    /// @param toTokenId The ticket that receives it.
    /// @param value Micro-tonnes to transfer.
    function transferFrom(uint256 fromTokenId, uint256 toTokenId, uint256 value) external {
        if (fromTokenId == toTokenId) revert SameTicket(fromTokenId);
        address owner = _authorize(fromTokenId);
        address to = _existing(toTokenId).owner;
        uint256 fromSlot = _slotOf[fromTokenId];
        uint256 toSlot = _slotOf[toTokenId];
        if (fromSlot != toSlot) revert SlotMismatch(fromSlot, toSlot);
        consortium.requireHolder(to);
        uint96 amount = _take(fromTokenId, value);
        _tokens[toTokenId].value += amount;
        emit TransferValue(fromTokenId, toTokenId, value);
        if (to != owner) _checkReceiver(to, fromTokenId, toTokenId, value);
    }

    /// @notice Transfers a whole ticket to `to` (ERC-721's shape): the ticket keeps its id. The
    /// owner or its approved operator; `to` must be an unfrozen member.
    /// @param from The ticket's owner.
    /// @param to The recipient.
    /// @param tokenId The ticket.
    function transferFrom(address from, address to, uint256 tokenId) external {
        address owner = _authorize(tokenId);
        if (owner != from) revert WrongOwner(from, tokenId);
        _requireRecipient(to);
        _tokens[tokenId].owner = to;
        emit TicketTransferred(from, to, tokenId);
        _checkReceiver(to, tokenId, tokenId, _tokens[tokenId].value);
    }

    /// @notice Lets `operator` move all of the caller's tickets (or revokes that). Both must be
    /// unfrozen members; the operator is checked again at every move it makes.
    /// @param operator The member that may move the caller's tickets.
    /// @param approved True to approve, false to revoke.
    function setApprovalForAll(address operator, bool approved) external {
        address owner = _msgSender();
        consortium.requireRole(Roles.MEMBER, owner);
        if (approved) consortium.requireRole(Roles.MEMBER, operator);
        _operators[owner][operator] = approved;
        emit ApprovalForAll(owner, operator, approved);
    }

    // -- retirement ----------------------------------------------------------------------------

    /// @notice Retires (抵消) `value` of the caller's ticket for a beneficiary; it can never move
    /// again. The ticket's owner only (an unfrozen member).
    /// @param tokenId The caller's ticket.
    /// @param value Micro-tonnes to retire.
    /// @param beneficiary On whose behalf (name shown on the certificate).
    /// @param purpose 0 voluntary, 1 compliance, 2 ecological compensation, 3 carbon-inclusive.
    /// @param caseReference Case number (required for ecological compensation, optional
    /// otherwise); a case with a registered compensation order is refused (CaseHasOrder: use
    /// `retireForOrder`, which counts the retirement toward the order).
    /// @return retirementId The retirement's id; its record (serial range included) is in the
    /// `TicketRetired` event, and its hash on chain (`verifyRetirement`).
    function retire(
        uint256 tokenId,
        uint256 value,
        string calldata beneficiary,
        uint8 purpose,
        string calldata caseReference
    ) external returns (uint256 retirementId) {
        uint256 serialStart;
        (retirementId, serialStart) = _retire(tokenId, value, beneficiary, purpose, caseReference);
        emit TicketRetired(
            retirementId,
            _slotOf[tokenId],
            _msgSender(),
            tokenId,
            value,
            serialStart,
            Purpose(purpose),
            beneficiary,
            caseReference
        );
    }

    /// @notice Retires (抵消) `value` of the caller's ticket for compensation order `orderId`,
    /// which counts it toward the order or reverts if it does not meet the order's terms
    /// (CompensationOrders: party, deadline, sink category of the parcel's methodology, the
    /// slot's division code, the slot's period end as vintage, requirement; a CNY order counts
    /// only purchases at a venue's price, so it refuses this: PriceUnknown). Purpose is
    /// ecological compensation and the case reference the order's case number. The ticket's
    /// owner only (an unfrozen member: a liable party of the order, or its authority when the
    /// authority pays).
    /// @param tokenId The caller's ticket.
    /// @param value Micro-tonnes to retire.
    /// @param orderId A registered, open compensation order.
    /// @param beneficiary On whose behalf; empty for the case number.
    /// @return retirementId The ticket retirement's id (record in the `TicketRetired` event; the
    /// count in CompensationOrders' `TicketRetirementCounted`).
    function retireForOrder(uint256 tokenId, uint256 value, uint256 orderId, string calldata beneficiary)
        external
        returns (uint256 retirementId)
    {
        address holder = _msgSender();
        uint256 serialStart;
        (retirementId, serialStart) = _retireForOrder(holder, tokenId, value, orderId, beneficiary);
        compensation.countTicketRetirement(orderId, retirementId, holder, _slotOf[tokenId], value, serialStart);
    }

    // -- views ---------------------------------------------------------------------------------

    /// @notice The value of a ticket in micro-tonnes (ERC-3525 `balanceOf(tokenId)`).
    function balanceOf(uint256 tokenId) external view returns (uint256) {
        return _existing(tokenId).value;
    }

    /// @notice The owner of a ticket.
    function ownerOf(uint256 tokenId) external view returns (address) {
        return _existing(tokenId).owner;
    }

    /// @notice The slot (report id: parcel and period) of a ticket.
    function slotOf(uint256 tokenId) external view returns (uint256) {
        _existing(tokenId);
        return _slotOf[tokenId];
    }

    /// @notice Decimals of a ticket's value: 6 (micro-tonnes).
    function valueDecimals() external pure returns (uint8) {
        return 6;
    }

    /// @notice A ticket's owner, slot and value.
    function getTicket(uint256 tokenId) external view returns (Ticket memory) {
        Token storage t = _existing(tokenId);
        return Ticket({owner: t.owner, slot: _slotOf[tokenId], value: t.value});
    }

    /// @notice A slot's parcel, period and totals (issued, retired).
    function getSlot(uint256 slot) external view returns (SlotInfo memory) {
        SlotInfo memory s = _slots[slot];
        if (s.issued == 0) revert UnknownSlot(slot);
        return s;
    }

    /// @inheritdoc ITicketSlots
    function slotSite(uint256 slot) external view returns (uint256 projectId, uint32 divisionCode, uint64 periodEnd) {
        SlotInfo storage s = _slots[slot];
        if (s.issued == 0) revert UnknownSlot(slot);
        return (s.projectId, s.divisionCode, s.periodEnd);
    }

    /// @notice Whether `operator` may move all of `owner`'s tickets.
    function isApprovedForAll(address owner, address operator) external view returns (bool) {
        return _operators[owner][operator];
    }

    /// @notice Whether `record` is ticket retirement `retirementId` as the chain recorded it.
    /// @param retirementId An existing retirement.
    /// @param record The full record, e.g. read from the `TicketRetired` event.
    function verifyRetirement(uint256 retirementId, TicketRetirement calldata record) external view returns (bool) {
        bytes32 stored = retirementHash[retirementId];
        if (stored == bytes32(0)) revert UnknownRetirement(retirementId);
        return stored == hashRetirement(record);
    }

    /// @notice The hash the chain stores for a ticket retirement record.
    function hashRetirement(TicketRetirement calldata record) public pure returns (bytes32) {
        return _hashRetirement(
            record.holder,
            record.tokenId,
            record.slot,
            record.value,
            record.serialStart,
            uint8(record.purpose),
            keccak256(bytes(record.beneficiary)),
            keccak256(bytes(record.caseReference))
        );
    }

    // -- internals -----------------------------------------------------------------------------

    /// @dev The ticket's owner, after checking the caller may move it: the owner itself or an
    /// approved operator, each an unfrozen member, and the owner an unfrozen member.
    function _authorize(uint256 tokenId) private view returns (address owner) {
        address caller = _msgSender();
        if (caller != _tokens[tokenId].owner) consortium.requireRole(Roles.MEMBER, caller);
        owner = _existing(tokenId).owner;
        if (caller != owner && !_operators[owner][caller]) revert NotOwnerNorApproved(caller, tokenId);
        consortium.requireHolder(owner);
    }

    function _existing(uint256 tokenId) private view returns (Token storage t) {
        t = _tokens[tokenId];
        if (t.owner == address(0)) revert UnknownTicket(tokenId);
    }

    /// @dev Takes `value` (positive, at most the ticket's) off a ticket.
    function _take(uint256 tokenId, uint256 value) private returns (uint96 amount) {
        if (value == 0) revert ZeroValue();
        Token storage t = _tokens[tokenId];
        uint256 held = t.value;
        if (value > held) revert InsufficientValue(tokenId, held, value);
        amount = uint96(value);
        unchecked {
            t.value = uint96(held - value);
        }
    }

    function _moveToNew(uint256 fromTokenId, address owner, address to, uint256 value)
        private
        returns (uint256 newTokenId)
    {
        if (to != owner) _requireRecipient(to);
        uint256 slot = _slotOf[fromTokenId];
        uint96 amount = _take(fromTokenId, value);
        newTokenId = _mint(to, slot, amount);
        emit TransferValue(fromTokenId, newTokenId, value);
        if (to != owner) _checkReceiver(to, fromTokenId, newTokenId, value);
    }

    function _mint(address to, uint256 slot, uint256 value) private returns (uint256 tokenId) {
        tokenId = ++tokenCount;
        _tokens[tokenId] = Token({owner: to, value: uint96(value)});
        _slotOf[tokenId] = slot;
        emit TicketTransferred(address(0), to, tokenId);
        emit SlotChanged(tokenId, 0, slot);
    }

    function _requireRecipient(address to) private view {
        if (to == address(0)) revert InvalidRecipient(to);
        consortium.requireHolder(to);
    }

    /// @dev A contract recipient must accept (ERC-3525's receiver hook); called last.
    function _checkReceiver(address to, uint256 fromTokenId, uint256 toTokenId, uint256 value) private {
        if (to.code.length == 0) return;
        bytes4 answer = IForestTicketReceiver(to).onERC3525Received(_msgSender(), fromTokenId, toTokenId, value, "");
        if (answer != IForestTicketReceiver.onERC3525Received.selector) revert TransferRejected(to);
    }

    /// @dev Claims the report and records its slot: the parcel as registered, its owner, the
    /// certificate number (bound to the parcel at its first ticket) and the issued value.
    function _openSlot(uint256 reportId, string calldata rightsCertificate)
        private
        returns (address owner, uint256 quantity)
    {
        (uint256 projectId, uint64 periodStart, uint64 periodEnd, uint256 verified) = reports.claim(reportId);
        quantity = verified;
        owner = _forestOwner(projectId);
        // the certificate is bound to this parcel in the project registry: never another
        // project's over overlapping years, a credit project's included
        projects.bindParcel(projectId, rightsCertificate);
        SlotInfo storage s = _slots[reportId];
        s.projectId = uint64(projectId);
        s.periodStart = periodStart;
        s.periodEnd = periodEnd;
        s.issued = uint128(SafeCast.toUint96(quantity));
        s.owner = owner;
        s.rightsCertificate = rightsCertificate;
        (s.divisionCode, s.areaM2, s.boundaryHash) = projects.parcelOf(projectId);
    }

    /// @dev The owner (developer) of an approved forest project, an unfrozen member.
    function _forestOwner(uint256 projectId) private view returns (address owner) {
        uint256 methodologyId;
        (owner, methodologyId,,) = projects.approvedProject(projectId);
        uint8 category = methodologies.sinkCategoryOf(methodologyId);
        if (category != uint8(IMethodologyRegistry.SinkCategory.Forest)) revert NotForestParcel(projectId, category);
        consortium.requireHolder(owner);
    }

    /// @dev Checks and records the caller's retirement (all but its `TicketRetired` event).
    function _retire(
        uint256 tokenId,
        uint256 value,
        string calldata beneficiary,
        uint8 purpose,
        string calldata caseReference
    ) private returns (uint256 retirementId, uint256 serialStart) {
        address holder = _msgSender();
        bytes32 caseHash = _checkRetirement(holder, tokenId, beneficiary, purpose, caseReference);
        (retirementId, serialStart) =
            _recordRetirement(holder, tokenId, value, purpose, keccak256(bytes(beneficiary)), caseHash);
        emit TransferValue(tokenId, 0, value);
    }

    /// @dev Checks a retirement's holder and record; the case reference's hash.
    function _checkRetirement(
        address holder,
        uint256 tokenId,
        string calldata beneficiary,
        uint8 purpose,
        string calldata caseReference
    ) private view returns (bytes32 caseHash) {
        consortium.requireHolder(holder);
        if (_existing(tokenId).owner != holder) revert NotTicketOwner(holder, tokenId);
        if (bytes(beneficiary).length == 0) revert EmptyBeneficiary();
        if (purpose > uint8(Purpose.CarbonInclusive)) revert InvalidPurpose(purpose);
        caseHash = keccak256(bytes(caseReference));
        if (bytes(caseReference).length != 0) {
            uint256 orderId = compensation.orderOfCaseHash(caseHash);
            if (orderId != 0) revert CaseHasOrder(orderId);
        } else if (purpose == uint8(Purpose.EcologicalCompensation)) {
            revert CaseReferenceRequired();
        }
    }

    /// @dev Checks and records the holder's retirement for an order, emitting `TicketRetired`;
    /// the caller has CompensationOrders count it.
    function _retireForOrder(
        address holder,
        uint256 tokenId,
        uint256 value,
        uint256 orderId,
        string calldata beneficiary
    ) private returns (uint256 retirementId, uint256 serialStart) {
        consortium.requireHolder(holder);
        if (_existing(tokenId).owner != holder) revert NotTicketOwner(holder, tokenId);
        string memory caseNumber = compensation.caseNumberOf(orderId);
        string memory named = bytes(beneficiary).length == 0 ? caseNumber : beneficiary;
        (retirementId, serialStart) = _recordRetirement(
            holder,
            tokenId,
            value,
            uint8(Purpose.EcologicalCompensation),
            keccak256(bytes(named)),
            keccak256(bytes(caseNumber))
        );
        emit TransferValue(tokenId, 0, value);
        emit TicketRetired(
            retirementId,
            _slotOf[tokenId],
            holder,
            tokenId,
            value,
            serialStart,
            Purpose.EcologicalCompensation,
            named,
            caseNumber
        );
    }

    /// @dev Takes the value off the ticket, consumes the slot's next serial range and stores the
    /// record's hash.
    function _recordRetirement(
        address holder,
        uint256 tokenId,
        uint256 value,
        uint8 purpose,
        bytes32 beneficiaryHash,
        bytes32 caseHash
    ) private returns (uint256 retirementId, uint256 serialStart) {
        uint256 slot = _slotOf[tokenId];
        _take(tokenId, value);
        SlotInfo storage s = _slots[slot];
        serialStart = uint256(s.retired) + 1;
        s.retired += uint128(value);
        retirementId = ++retirementCount;
        retirementHash[retirementId] =
            _hashRetirement(holder, tokenId, slot, value, serialStart, purpose, beneficiaryHash, caseHash);
    }

    function _hashRetirement(
        address holder,
        uint256 tokenId,
        uint256 slot,
        uint256 value,
        uint256 serialStart,
        uint8 purpose,
        bytes32 beneficiaryHash,
        bytes32 caseHash
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(holder, tokenId, slot, value, serialStart, purpose, beneficiaryHash, caseHash));
    }
}
