// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";
import {ForwardMath} from "./ForwardMath.sol";

/// @title ForwardBase
/// @notice The state, errors and events of the forward market, shared by ForwardMarket and
/// its delivery module ForwardDelivery, which runs in ForwardMarket's storage (delegatecall):
/// both inherit this contract first, so their storage layouts are the same. See ForwardMarket.
abstract contract ForwardBase is ConsortiumGated, ReentrancyGuardTransient {
    using BitMaps for BitMaps.BitMap;
    using SafeERC20 for IERC20;

    uint8 internal constant BUY = 0;
    uint8 internal constant SELL = 1;
    int256 internal constant MICRO = 1_000_000;
    uint256 internal constant DAY = 86_400;

    bytes32 public constant FORWARD_ORDER_TYPEHASH = keccak256(
        "ForwardOrder(address trader,uint8 side,uint64 contractId,uint64 price,uint64 quantity,uint64 nonce,uint64 expiry)"
    );

    /// @notice A forward order as its trader signed it: side 0 buy, 1 sell; price in fen per
    /// tonne (a buy's limit from above, a sell's from below); quantity in contracts.
    struct ForwardOrder {
        address trader;
        uint8 side;
        uint64 contractId;
        uint64 price;
        uint64 quantity;
        uint64 nonce;
        uint64 expiry;
    }

    /// @notice A 65-byte signature in EIP-2098 compact form.
    struct Signature {
        bytes32 r;
        bytes32 vs;
    }

    /// @notice One matched trade with both signed orders.
    struct Trade {
        uint64 tradeId;
        uint64 price;
        uint64 quantity;
        ForwardOrder buy;
        Signature buySignature;
        ForwardOrder sell;
        Signature sellSignature;
    }

    /// @notice A listed forward contract's terms, fixed for good. Days are UTC day numbers
    /// (unix seconds / 86,400); a trading day closes `closeOffset` seconds after its midnight.
    struct Terms {
        uint64 methodologyId;
        uint64 vintageFrom;
        uint64 vintageTo;
        uint64 size;
        uint64 tick;
        uint64 lastTradingDay;
        uint64 deliveryDay;
        uint64 referencePrice;
        uint32 closeOffset;
        uint32 vwapWindow;
        uint32 deliveryWindow;
        uint32 callPeriod;
        uint16 initialMarginBps;
        uint16 maintenanceMarginBps;
        uint16 priceLimitBps;
    }

    /// @notice Where a contract's market stands. `price` is the last settlement price (the
    /// reference price before the first), `day` the last settled day (0: none).
    struct Market {
        bool listed;
        bool settling;
        uint8 deliveryPhase; // 0 not started, 1 defaults pass, 2 completion pass, 3 done
        uint32 cursor;
        uint64 price;
        uint64 day;
        uint64 openInterest;
    }

    /// @notice A member's account in one contract: margin (fen, negative = debt), position
    /// (contracts), and the deadline of its outstanding margin call (0: none).
    struct Account {
        int128 margin;
        int64 position;
        uint64 callDeadline;
    }

    /// @notice The contract's own accounts besides members' margin: rounding and clearing in
    /// micro-fen, delivery escrow and the two compensation pools in fen.
    struct Books {
        int256 clearing;
        uint256 rounding;
        uint256 escrow;
        uint256 shortPool;
        uint256 longPool;
    }

    /// @notice Delivery tallies: contracts delivered by shorts, paid by longs, and served so far.
    struct Delivery {
        uint64 delivered;
        uint64 paid;
        uint64 longsServed;
        uint64 shortsServed;
        uint64 lotCursor;
        uint128 lotUsed;
        uint128 shortSeized;
        uint128 longSeized;
    }

    struct Lot {
        uint64 batchId;
        uint192 units;
    }

    IERC1155 public immutable credits;
    IERC20 public immutable cash;
    IProjectRegistry public immutable projects;

    mapping(uint64 contractId => Terms) internal _terms;
    mapping(uint64 contractId => Market) internal _markets;
    mapping(uint64 contractId => Books) internal _books;
    mapping(uint64 contractId => Delivery) internal _deliveries;
    mapping(uint64 contractId => Lot[]) internal _lots;
    mapping(uint64 contractId => address[]) internal _holders;
    mapping(uint64 contractId => mapping(address => uint256)) internal _holderIndex; // 1-based
    mapping(uint64 contractId => mapping(address => Account)) internal _accounts;
    mapping(uint64 contractId => mapping(address => int256)) internal _basis;
    /// @notice Per member and contract: 0 nothing, 1 delivered or paid, 2 defaulted, 3 served.
    mapping(uint64 contractId => mapping(address => uint8)) public deliveryStatus;
    /// @notice What a long paid into the delivery escrow.
    mapping(uint64 contractId => mapping(address => uint256)) public paidIn;
    /// @notice Per day: Σ quantity × price and Σ quantity of the trades in the VWAP window.
    mapping(uint64 contractId => mapping(uint64 day => uint256)) public dayValue;
    mapping(uint64 contractId => mapping(uint64 day => uint256)) public dayQuantity;
    /// @notice Contracts filled of an order, by order hash (cancelled: max).
    mapping(bytes32 orderHash => uint256) public filled;
    BitMaps.BitMap internal _tradeIds;

    error InvalidTerms(uint64 contractId);
    error ContractIdUsed(uint64 contractId);
    error UnknownContract(uint64 contractId);
    error ZeroAmount();
    error TradingClosed(uint64 contractId);
    error SettlementInProgress(uint64 contractId);
    error NotSettling(uint64 contractId);
    error TradeIdUsed(uint64 tradeId);
    error MismatchedOrders(uint64 tradeId);
    error SelfTrade(uint64 tradeId);
    error OffTick(uint64 contractId, uint64 price);
    error PriceOutsideLimit(uint64 contractId, uint64 price, uint64 low, uint64 high);
    error InvalidSignature(address trader);
    error OrderExpired(bytes32 orderHash, uint64 expiry);
    error OrderCancelled(bytes32 orderHash);
    error Overfill(bytes32 orderHash, uint256 filled, uint256 quantity);
    error NotOrderOwner(address caller, address trader);
    error InsufficientMargin(uint64 contractId, address member, int256 equity, uint256 required);
    error DayNotClosed(uint64 contractId, uint64 day);
    error DayAlreadySettled(uint64 contractId, uint64 day);
    error SettlementPriceMismatch(uint64 contractId, uint64 day, uint256 vwap, uint256 posted);
    error NoMarginCallDue(uint64 contractId, address member);
    error NotInDelivery(uint64 contractId);
    error NotFinal(uint64 contractId);
    error WrongSide(uint64 contractId, address member);
    error AlreadyPerformed(uint64 contractId, address member);
    error IneligibleBatch(uint64 contractId, uint64 batchId);
    error DeliveryWindowOpen(uint64 contractId);
    error DeliveryDone(uint64 contractId);

    event ContractListed(uint64 indexed contractId, Terms terms);
    event MarginDeposited(uint64 indexed contractId, address indexed member, uint256 amount, int256 margin);
    event MarginWithdrawn(uint64 indexed contractId, address indexed member, uint256 amount, int256 margin);
    /// @notice A trade opened or closed positions; `inWindow`: it counts toward `day`'s price.
    event TradeRecorded(
        uint64 indexed contractId,
        uint64 indexed tradeId,
        address indexed buyer,
        address seller,
        uint64 price,
        uint64 quantity,
        uint64 day,
        bool inWindow
    );
    event ForwardOrderCancelled(bytes32 indexed orderHash, address indexed trader);
    /// @notice The day's settlement price, with the window sums it was computed from.
    event SettlementPosted(uint64 indexed contractId, uint64 indexed day, uint64 price, uint256 value, uint256 quantity);
    /// @notice Variation margin credited (negative: debited) to a member, in fen.
    event VariationMargin(uint64 indexed contractId, address indexed member, int256 amount);
    event SettlementCompleted(uint64 indexed contractId, uint64 indexed day, uint256 rounding);
    event MarginCall(uint64 indexed contractId, address indexed member, uint256 shortfall, uint64 deadline);
    event MarginCallMet(uint64 indexed contractId, address indexed member);
    /// @notice A called member's whole position was closed at the settlement price against a
    /// volunteer's signed order. `position` is the member's position before.
    event ForcedClose(
        uint64 indexed contractId, address indexed member, address indexed counterparty, int64 position, uint64 price
    );
    event Delivered(uint64 indexed contractId, address indexed member, uint64 batchId, uint256 units);
    event Paid(uint64 indexed contractId, address indexed member, uint256 amount);
    /// @notice A side failed to deliver or pay; `seized` fen of its margin went to its pool.
    event Defaulted(uint64 indexed contractId, address indexed member, int64 position, uint256 seized);
    /// @notice A performing side was served: `units` credits received (long) or returned
    /// (short), `cash` fen credited to margin (refund or proceeds), `compensation` fen from the
    /// other side's defaulters.
    event DeliverySettled(
        uint64 indexed contractId, address indexed member, int64 position, uint256 units, uint256 cash, uint256 compensation
    );
    event DeliveryCompleted(uint64 indexed contractId, uint256 rounding);

    constructor(IConsortium consortium_, IERC1155 credits_, IERC20 cash_, IProjectRegistry projects_, address fwd)
        ConsortiumGated(consortium_, fwd)
    {
        if (address(credits_) == address(0) || address(cash_) == address(0) || address(projects_) == address(0)) {
            revert ZeroAddressArgument();
        }
        credits = credits_;
        cash = cash_;
        projects = projects_;
    }

    // -- helpers ----------------------------------------------------------------------------

    function _market(uint64 id) internal view returns (Market storage m) {
        m = _markets[id];
        if (!m.listed) revert UnknownContract(id);
    }

    /// @dev Equity at `price`: margin + ⌊(position × price − basis) × size / 10⁶⌋ fen.
    function _equity(uint64 id, address member, uint256 price) internal view returns (int256) {
        Account storage a = _accounts[id][member];
        int256 v = ForwardMath.variation(a.position, price, _basis[id][member], _terms[id].size);
        return int256(a.margin) + ForwardMath.floorDiv(v, MICRO);
    }

    function _initial(uint64 id, int64 position, uint256 price) internal view returns (uint256) {
        return ForwardMath.requirement(_abs(position), price, _terms[id].size, _terms[id].initialMarginBps);
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return uint256(x >= 0 ? x : -x);
    }

    function _toInt128(uint256 x) internal pure returns (int128) {
        if (x > uint256(uint128(type(int128).max))) revert ZeroAmount();
        return int128(int256(x));
    }
}
