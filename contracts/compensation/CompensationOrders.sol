// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {ICompensationOrders} from "../interfaces/ICompensationOrders.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {ICreditBatches} from "../interfaces/ICreditBatches.sol";
import {IMethodologyRegistry} from "../interfaces/IMethodologyRegistry.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";
import {ITicketSlots} from "../interfaces/ITicketSlots.sol";

/// @title CompensationOrders
/// @notice Ecological-compensation orders (Flow 11, 司法认购碳汇 / 替代性修复): a court,
/// procuratorate or enforcement agency registers the order of a case (what must be retired, by
/// whom, of which sink categories, regions and vintages, by when); retirements that cite the
/// order count toward it, and only those that meet its terms do (the risk courts name is
/// "buying instead of punishment" with credits that do not fit). An order is fulfilled when the
/// retirements reach its requirement, in micro-tonnes or, for an order written as a CNY amount,
/// in fen paid at a trusted venue's price (Settlement or CompensationOffers), rounded down.
/// Retirements are counted by the two registers only, in the transaction that retires them:
/// credit retirements by CarbonCredits (`countRetirement`), forest-ticket retirements by
/// ForestTickets (`countTicketRetirement`, judged from the ticket's slot). The two registers
/// number their retirements apart, so each has its own event (`RetirementCounted`,
/// `TicketRetirementCounted`); an order's `fulfilled` and `retiredAmount` count both.
contract CompensationOrders is ICompensationOrders, ConsortiumGated {
    /// @notice What an order's requirement is measured in.
    enum Unit {
        Tonnes,
        Fen
    }

    /// @notice An order's recorded state; `statusOf` also reports OVERDUE.
    enum Status {
        None,
        Open,
        PartlyFulfilled,
        Fulfilled,
        Closed
    }

    /// @notice What an authority registers or amends.
    /// @dev `required`: micro-tonnes (Tonnes) or fen (Fen), > 0. `categoryMask`: bit (1 << c) per
    /// eligible IMethodologyRegistry.SinkCategory c, bit 0 clear. `regions`: division-code
    /// prefixes of 2, 4 or 6 digits (45, 4507, 450702), empty for any. A batch is eligible when
    /// vintageFrom <= its periodEnd <= vintageTo. `parties`: member accounts that may retire for
    /// the order; `partyNames`: display names of every liable party, members or not.
    /// `authorityPays`: the authority itself may retire for the order (compensation funds).
    struct Terms {
        Unit unit;
        uint128 required;
        uint16 categoryMask;
        uint32[] regions;
        uint64 vintageFrom;
        uint64 vintageTo;
        uint64 deadline;
        address[] parties;
        string[] partyNames;
        bool authorityPays;
        bytes32 documentHash;
    }

    /// @notice An order as `getOrder` returns it (unit, deadline and required repeat the terms').
    struct OrderView {
        address authority;
        Unit unit;
        Status status;
        uint64 deadline;
        uint128 required;
        uint128 fulfilled;
        uint128 retiredAmount;
        string caseNumber;
        Terms terms;
    }

    struct Order {
        address authority;
        Status status;
        uint128 fulfilled;
        uint128 retiredAmount;
        string caseNumber;
        Terms terms;
    }

    /// @notice What `statusOf` reports for an open order past its deadline.
    uint8 public constant OVERDUE = 5;
    /// @notice Most region prefixes an order may name.
    uint256 public constant MAX_REGIONS = 16;
    /// @notice Most member parties, and most party names, an order may name.
    uint256 public constant MAX_PARTIES = 16;
    uint256 internal constant UNITS_PER_TONNE = 1_000_000;
    /// @dev Categories 1..7 of IMethodologyRegistry.SinkCategory.
    uint256 internal constant CATEGORY_BITS = 0xFE;

    IMethodologyRegistry public immutable methodologies;
    IProjectRegistry public immutable projects;
    /// @notice The CarbonCredits contract, the only caller of `countRetirement` (its address is
    /// computed by the deployer before it is deployed: it takes this contract's address).
    address public immutable credits;
    /// @notice The ForestTickets contract, the only caller of `countTicketRetirement` (deployed
    /// after this one; its address is known ahead).
    address public immutable tickets;
    /// @notice The trusted purchase venues, whose prices count toward Fen orders.
    address public immutable settlement;
    address public immutable offers;

    /// @notice Number of orders ever registered (ids are 1..orderCount).
    uint256 public orderCount;

    mapping(uint256 orderId => Order) private _orders;
    mapping(bytes32 caseHash => uint256 orderId) private _orderOfCase;
    mapping(uint256 orderId => mapping(address account => bool)) private _isParty;

    /// @dev The case number is empty.
    error EmptyCaseNumber();
    /// @dev The case already has order `orderId`.
    error DuplicateCase(uint256 orderId);
    /// @dev The requirement is zero.
    error ZeroRequirement();
    /// @dev The mask admits no category, or bit 0 / bits above 7.
    error InvalidCategoryMask(uint16 categoryMask);
    /// @dev More region prefixes than MAX_REGIONS.
    error TooManyRegions(uint256 count);
    /// @dev A region is not a 2-, 4- or 6-digit division-code prefix.
    error InvalidRegion(uint32 region);
    /// @dev The vintage window is reversed.
    error InvalidVintageWindow(uint64 vintageFrom, uint64 vintageTo);
    /// @dev The deadline is not in the future.
    error InvalidDeadline(uint64 deadline);
    /// @dev More parties (or party names) than MAX_PARTIES.
    error TooManyParties(uint256 count);
    /// @dev A member party is named twice.
    error DuplicateParty(address party);
    /// @dev No member party and the authority does not pay: no one could fulfil the order.
    error NoPayingParty();
    /// @dev No liable party is named, or a name is empty.
    error MissingPartyName();
    /// @dev The decision document hash is zero.
    error ZeroDocumentHash();
    /// @dev The order does not exist.
    error UnknownOrder(uint256 orderId);
    /// @dev Only the authority that registered the order may amend or close it.
    error NotOrderAuthority(uint256 orderId, address caller);
    /// @dev The order is fulfilled or closed.
    error OrderNotOpen(uint256 orderId, Status status);
    /// @dev An order's unit never changes.
    error UnitChange();
    /// @dev The amended requirement is below what is already fulfilled.
    error RequiredBelowFulfilled(uint256 required, uint256 fulfilled);
    /// @dev Only the CarbonCredits contract counts retirements.
    error NotCreditsContract(address caller);
    /// @dev Only the ForestTickets contract counts ticket retirements.
    error NotTicketsContract(address caller);
    /// @dev The order's deadline has passed.
    error PastDeadline(uint256 orderId, uint64 deadline);
    /// @dev `holder` is not a party of the order (nor its paying authority).
    error NotOrderParty(uint256 orderId, address holder);
    /// @dev The batch's sink category is not one the order admits.
    error IneligibleCategory(uint256 orderId, uint8 category);
    /// @dev The batch's project lies outside the order's regions.
    error IneligibleRegion(uint256 orderId, uint32 divisionCode);
    /// @dev The batch's monitoring period ends outside the order's vintage window.
    error IneligibleVintage(uint256 orderId, uint64 periodEnd);
    /// @dev A Fen order counts only purchases at a trusted venue's price.
    error PriceUnknown(uint256 orderId);
    /// @dev The retirement would pass the requirement (`remaining` is what is left of it).
    error ExceedsRequirement(uint256 orderId, uint256 remaining);

    /// @notice An authority registered an order for a case.
    event OrderRegistered(
        uint256 indexed orderId, address indexed authority, bytes32 indexed caseHash, string caseNumber, Terms terms
    );
    /// @notice The order's authority replaced its terms.
    event OrderAmended(uint256 indexed orderId, Terms terms, bytes32 reasonHash);
    /// @notice The order's authority closed it before it was fulfilled.
    event OrderClosed(uint256 indexed orderId, bytes32 reasonHash, address indexed by);
    /// @notice A credit retirement (CarbonCredits' id) counted toward an order; `fulfilled` is the
    /// order's total (credits and tickets) after it.
    event RetirementCounted(
        uint256 indexed orderId,
        uint256 indexed retirementId,
        address indexed holder,
        uint256 batchId,
        uint256 amount,
        uint256 value,
        uint256 fulfilled
    );
    /// @notice A forest-ticket retirement counted toward an order: ForestTickets' retirement
    /// `retirementId` of slot `slot`, serials serialStart..serialStart+amount-1; `fulfilled` is
    /// the order's total (credits and tickets) after it.
    event TicketRetirementCounted(
        uint256 indexed orderId,
        uint256 indexed retirementId,
        address indexed holder,
        uint256 slot,
        uint256 amount,
        uint256 serialStart,
        uint256 value,
        uint256 fulfilled
    );
    /// @notice The order's requirement is met.
    event OrderFulfilled(uint256 indexed orderId, uint256 fulfilled, uint256 retiredAmount);

    /// @param credits_ The CarbonCredits contract (deployed after this one; its address is known ahead).
    /// @param tickets_ The ForestTickets contract (deployed after this one; its address is known ahead).
    /// @param settlement_ The Settlement contract (a trusted venue; deployed later).
    /// @param offers_ The CompensationOffers contract (a trusted venue; deployed later).
    constructor(
        IConsortium consortium_,
        IMethodologyRegistry methodologies_,
        IProjectRegistry projects_,
        address credits_,
        address tickets_,
        address settlement_,
        address offers_,
        address trustedForwarder
    ) ConsortiumGated(consortium_, trustedForwarder) {
        if (
            address(methodologies_) == address(0) || address(projects_) == address(0) || credits_ == address(0)
                || tickets_ == address(0) || settlement_ == address(0) || offers_ == address(0)
        ) revert ZeroAddressArgument();
        methodologies = methodologies_;
        projects = projects_;
        credits = credits_;
        tickets = tickets_;
        settlement = settlement_;
        offers = offers_;
    }

    /// @notice Registers the compensation order of a case; the caller becomes its authority.
    /// Authority only (court, procuratorate, enforcement agency).
    /// @param caseNumber The case number, e.g. "(2025)闽0181民初123号"; one order per case.
    /// @param terms What must be retired, of what, by whom and by when (see Terms).
    /// @return orderId The new order's id.
    function register(string calldata caseNumber, Terms calldata terms)
        external
        onlyRole(Roles.AUTHORITY)
        returns (uint256 orderId)
    {
        if (bytes(caseNumber).length == 0) revert EmptyCaseNumber();
        bytes32 caseHash = keccak256(bytes(caseNumber));
        uint256 existing = _orderOfCase[caseHash];
        if (existing != 0) revert DuplicateCase(existing);
        _validate(terms);
        orderId = ++orderCount;
        _orderOfCase[caseHash] = orderId;
        Order storage o = _orders[orderId];
        address authority = _msgSender();
        o.authority = authority;
        o.status = Status.Open;
        o.caseNumber = caseNumber;
        _store(orderId, o.terms, terms);
        emit OrderRegistered(orderId, authority, caseHash, caseNumber, terms);
    }

    /// @notice Replaces an open order's terms (same unit; the requirement not below what is
    /// fulfilled; a deadline in the future). The order's authority only, holding AUTHORITY.
    /// An amendment down to exactly what is fulfilled fulfils the order.
    /// @param orderId An open or partly fulfilled order of the caller.
    /// @param terms The new terms.
    /// @param reasonHash Hash of the amending decision.
    function amend(uint256 orderId, Terms calldata terms, bytes32 reasonHash) external onlyRole(Roles.AUTHORITY) {
        Order storage o = _ownOpenOrder(orderId);
        if (terms.unit != o.terms.unit) revert UnitChange();
        uint256 fulfilled = o.fulfilled;
        if (terms.required < fulfilled) revert RequiredBelowFulfilled(terms.required, fulfilled);
        _validate(terms);
        address[] storage old = o.terms.parties;
        for (uint256 i = 0; i < old.length; ++i) {
            delete _isParty[orderId][old[i]];
        }
        _store(orderId, o.terms, terms);
        emit OrderAmended(orderId, terms, reasonHash);
        if (fulfilled == terms.required) {
            o.status = Status.Fulfilled;
            emit OrderFulfilled(orderId, fulfilled, o.retiredAmount);
        }
    }

    /// @notice Closes an open order unfulfilled (e.g. the judgment was set aside or paid in
    /// money); retirements can no longer count toward it. The order's authority only.
    /// @param orderId An open or partly fulfilled order of the caller.
    /// @param reasonHash Hash of the closing decision.
    function close(uint256 orderId, bytes32 reasonHash) external onlyRole(Roles.AUTHORITY) {
        Order storage o = _ownOpenOrder(orderId);
        o.status = Status.Closed;
        emit OrderClosed(orderId, reasonHash, _msgSender());
    }

    /// @inheritdoc ICompensationOrders
    function countRetirement(
        uint256 orderId,
        uint256 retirementId,
        address holder,
        uint256 batchId,
        uint256 amount,
        address venue,
        uint256 priceFenPerTonne
    ) external returns (uint256 value) {
        if (msg.sender != credits) revert NotCreditsContract(msg.sender);
        Order storage o = _orders[orderId];
        _checkOpen(orderId, o, holder);
        ICreditBatches.BatchView memory b = ICreditBatches(credits).getBatch(batchId);
        (uint256 methodologyId, uint32 divisionCode) = projects.siteOf(b.projectId);
        _checkEligible(orderId, o.terms, methodologyId, divisionCode, b.periodEnd);
        value = _valueOf(orderId, o, amount, venue, priceFenPerTonne);
        uint256 fulfilled;
        bool done;
        (fulfilled, done) = _add(o, value, amount);
        emit RetirementCounted(orderId, retirementId, holder, batchId, amount, value, fulfilled);
        if (done) emit OrderFulfilled(orderId, fulfilled, o.retiredAmount);
    }

    /// @inheritdoc ICompensationOrders
    function countTicketRetirement(
        uint256 orderId,
        uint256 retirementId,
        address holder,
        uint256 slot,
        uint256 amount,
        uint256 serialStart
    ) external returns (uint256 value) {
        if (msg.sender != tickets) revert NotTicketsContract(msg.sender);
        Order storage o = _orders[orderId];
        _checkOpen(orderId, o, holder);
        (uint256 projectId, uint32 divisionCode, uint64 periodEnd) = ITicketSlots(tickets).slotSite(slot);
        (uint256 methodologyId,) = projects.siteOf(projectId);
        _checkEligible(orderId, o.terms, methodologyId, divisionCode, periodEnd);
        value = _valueOf(orderId, o, amount, address(0), 0);
        uint256 fulfilled;
        bool done;
        (fulfilled, done) = _add(o, value, amount);
        emit TicketRetirementCounted(orderId, retirementId, holder, slot, amount, serialStart, value, fulfilled);
        if (done) emit OrderFulfilled(orderId, fulfilled, o.retiredAmount);
    }

    /// @notice Full record of an order; reverts for an unknown order.
    function getOrder(uint256 orderId) external view returns (OrderView memory) {
        Order storage o = _existing(orderId);
        Terms memory t = o.terms;
        return OrderView({
            authority: o.authority,
            unit: t.unit,
            status: o.status,
            deadline: t.deadline,
            required: t.required,
            fulfilled: o.fulfilled,
            retiredAmount: o.retiredAmount,
            caseNumber: o.caseNumber,
            terms: t
        });
    }

    /// @notice The order's status now: a Status value, or OVERDUE (5) for an open or partly
    /// fulfilled order past its deadline. 0 for an unknown order.
    function statusOf(uint256 orderId) external view returns (uint8) {
        Order storage o = _orders[orderId];
        Status s = o.status;
        if ((s == Status.Open || s == Status.PartlyFulfilled) && block.timestamp > o.terms.deadline) return OVERDUE;
        return uint8(s);
    }

    /// @notice The order registered for case `caseNumber`, 0 if none.
    function orderOfCase(string calldata caseNumber) external view returns (uint256) {
        return _orderOfCase[keccak256(bytes(caseNumber))];
    }

    /// @inheritdoc ICompensationOrders
    function orderOfCaseHash(bytes32 caseHash) external view returns (uint256) {
        return _orderOfCase[caseHash];
    }

    /// @inheritdoc ICompensationOrders
    function caseNumberOf(uint256 orderId) external view returns (string memory) {
        return _existing(orderId).caseNumber;
    }

    /// @notice Whether `account` is a member party of order `orderId`.
    function isParty(uint256 orderId, address account) external view returns (bool) {
        return _isParty[orderId][account];
    }

    /// @inheritdoc ICompensationOrders
    function isVenue(address venue) public view returns (bool) {
        return venue != address(0) && (venue == settlement || venue == offers);
    }

    function _existing(uint256 orderId) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.status == Status.None) revert UnknownOrder(orderId);
    }

    function _ownOpenOrder(uint256 orderId) private view returns (Order storage o) {
        o = _existing(orderId);
        address caller = _msgSender();
        if (caller != o.authority) revert NotOrderAuthority(orderId, caller);
        if (o.status != Status.Open && o.status != Status.PartlyFulfilled) revert OrderNotOpen(orderId, o.status);
    }

    function _validate(Terms calldata t) private view {
        if (t.required == 0) revert ZeroRequirement();
        if (t.categoryMask == 0 || uint256(t.categoryMask) & ~CATEGORY_BITS != 0) {
            revert InvalidCategoryMask(t.categoryMask);
        }
        if (t.regions.length > MAX_REGIONS) revert TooManyRegions(t.regions.length);
        for (uint256 i = 0; i < t.regions.length; ++i) {
            uint32 r = t.regions[i];
            if (!((r >= 10 && r <= 99) || (r >= 1_000 && r <= 9_999) || (r >= 100_000 && r <= 999_999))) {
                revert InvalidRegion(r);
            }
        }
        if (t.vintageFrom > t.vintageTo) revert InvalidVintageWindow(t.vintageFrom, t.vintageTo);
        if (t.deadline <= block.timestamp) revert InvalidDeadline(t.deadline);
        uint256 parties = t.parties.length;
        if (parties > MAX_PARTIES) revert TooManyParties(parties);
        if (parties == 0 && !t.authorityPays) revert NoPayingParty();
        for (uint256 i = 0; i < parties; ++i) {
            consortium.requireHolder(t.parties[i]);
        }
        uint256 names = t.partyNames.length;
        if (names == 0) revert MissingPartyName();
        if (names > MAX_PARTIES) revert TooManyParties(names);
        for (uint256 i = 0; i < names; ++i) {
            if (bytes(t.partyNames[i]).length == 0) revert MissingPartyName();
        }
        if (t.documentHash == bytes32(0)) revert ZeroDocumentHash();
    }

    /// @dev Copies validated terms to storage field by field (the legacy code generator copies
    /// no nested calldata arrays such as string[] at once) and marks the parties.
    function _store(uint256 orderId, Terms storage s, Terms calldata t) private {
        s.unit = t.unit;
        s.required = t.required;
        s.categoryMask = t.categoryMask;
        s.regions = t.regions;
        s.vintageFrom = t.vintageFrom;
        s.vintageTo = t.vintageTo;
        s.deadline = t.deadline;
        s.parties = t.parties;
        for (uint256 i = 0; i < t.parties.length; ++i) {
            address p = t.parties[i];
            if (_isParty[orderId][p]) revert DuplicateParty(p);
            _isParty[orderId][p] = true;
        }
        delete s.partyNames;
        for (uint256 i = 0; i < t.partyNames.length; ++i) {
            s.partyNames.push(t.partyNames[i]);
        }
        s.authorityPays = t.authorityPays;
        s.documentHash = t.documentHash;
    }

    function _checkOpen(uint256 orderId, Order storage o, address holder) private view {
        Status s = o.status;
        if (s == Status.None) revert UnknownOrder(orderId);
        if (s != Status.Open && s != Status.PartlyFulfilled) revert OrderNotOpen(orderId, s);
        uint64 deadline = o.terms.deadline;
        if (block.timestamp > deadline) revert PastDeadline(orderId, deadline);
        if (!_isParty[orderId][holder] && !(holder == o.authority && o.terms.authorityPays)) {
            revert NotOrderParty(orderId, holder);
        }
    }

    /// @dev One rule for credits and tickets: the methodology's sink category, the division
    /// code and the monitoring period's end (the vintage) must fit the terms.
    function _checkEligible(
        uint256 orderId,
        Terms storage t,
        uint256 methodologyId,
        uint32 divisionCode,
        uint64 periodEnd
    ) private view {
        uint8 category = methodologies.sinkCategoryOf(methodologyId);
        if ((uint256(t.categoryMask) >> category) & 1 == 0) revert IneligibleCategory(orderId, category);
        if (!_inRegions(t.regions, divisionCode)) revert IneligibleRegion(orderId, divisionCode);
        if (periodEnd < t.vintageFrom || periodEnd > t.vintageTo) revert IneligibleVintage(orderId, periodEnd);
    }

    /// @dev Adds a counted retirement to the order's totals and status; the new total and
    /// whether it meets the requirement.
    function _add(Order storage o, uint256 value, uint256 amount) private returns (uint256 fulfilled, bool done) {
        fulfilled = uint256(o.fulfilled) + value;
        o.fulfilled = SafeCast.toUint128(fulfilled);
        o.retiredAmount = SafeCast.toUint128(uint256(o.retiredAmount) + amount);
        done = fulfilled >= o.terms.required;
        o.status = done ? Status.Fulfilled : Status.PartlyFulfilled;
    }

    function _inRegions(uint32[] storage regions, uint32 divisionCode) private view returns (bool) {
        uint256 n = regions.length;
        if (n == 0) return true;
        for (uint256 i = 0; i < n; ++i) {
            uint32 r = regions[i];
            uint32 prefix = r < 100 ? divisionCode / 10_000 : r < 10_000 ? divisionCode / 100 : divisionCode;
            if (prefix == r) return true;
        }
        return false;
    }

    /// @dev What a retirement counts for, within the requirement: its micro-tonnes for a Tonnes
    /// order (never past the requirement); for a Fen order its value at the venue's price,
    /// rounded down (never in the party's favour), while the order is short of its requirement.
    function _valueOf(uint256 orderId, Order storage o, uint256 amount, address venue, uint256 price)
        private
        view
        returns (uint256)
    {
        uint256 required = o.terms.required;
        uint256 fulfilled = o.fulfilled;
        if (o.terms.unit == Unit.Tonnes) {
            if (fulfilled + amount > required) revert ExceedsRequirement(orderId, required - fulfilled);
            return amount;
        }
        if (price == 0 || !isVenue(venue)) revert PriceUnknown(orderId);
        if (fulfilled >= required) revert ExceedsRequirement(orderId, 0);
        return Math.mulDiv(amount, price, UNITS_PER_TONNE);
    }
}
