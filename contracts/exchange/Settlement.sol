// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SlotDerivation} from "@openzeppelin/contracts/utils/SlotDerivation.sol";
import {TransientSlot} from "@openzeppelin/contracts/utils/TransientSlot.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {ICreditBatches} from "../interfaces/ICreditBatches.sol";
import {IForestTicketSlots} from "../interfaces/IForestTicketSlots.sol";
import {IForestTickets} from "../interfaces/IForestTickets.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";
import {IPurchaseRetirement} from "../interfaces/IPurchaseRetirement.sol";
import {ISettlementCash} from "../interfaces/ISettlementCash.sol";

/// @title Settlement
/// @notice Delivery versus payment for trades matched off chain. Traders sign EIP-712 orders;
/// the exchange submits matched trades in batches; for each trade this contract checks both
/// signatures and then moves credits seller → buyer and cash buyer → seller in the same
/// transaction. What a trader signed bounds everything that happens to it:
///
/// - price: a buy never trades above its limit, a sell never below;
/// - quantity: the fills of an order never add up to more than it signed;
/// - fee: a trader is charged min(the exchange's fee for its side, its signed `maxFeeBps`);
/// - delivery: the instrument is immutable once listed (ids are never reused); a sell names the
///   batch it delivers, a buy names one batch or 0 for any batch the instrument admits;
/// - time: an order never settles after its `expiry`;
/// - nonce: each (trader, nonce) settles one order; cancelling an order voids its nonce;
/// - use: a buy that signs `retireFor` (an ecological-compensation order id) is never delivered
///   to its buyer: its credits are retired on purchase for that order (the seller's burnt, the
///   retirement the buyer's, counted toward the order), so a tonne bought for an order can never
///   be resold. Only a buy may sign it; the compensation contract checks the order's terms.
///
/// Time in force is signed but is an instruction to the matching engine, not a settlement
/// rule: this contract cannot know when a trade was matched. A trader who wants an IOC or FOK
/// order to be void if it is not settled promptly signs a short `expiry`, which is enforced.
///
/// Units: price in fen per tonne; quantity in credit units (1 t = 1,000,000). Rounding of a
/// fill with exact value V = quantity × price / 1,000,000 fen: the buyer pays ⌈V⌉ plus its fee,
/// the seller receives the same ⌈V⌉ less its fee, each fee = ⌊V × bps / 10,000⌋ (rounded down,
/// in the traders' favour and against the exchange that chooses the fills and the maker/taker
/// split); the fee account receives exactly the two fees, never a rounding remainder (under
/// 1 fen, it goes from buyer to seller). Fills worth less than 1 fen revert; a fill must be a whole number of the
/// instrument's lots at a price on its tick grid, and lot × tick is at least 1 fen.
///
/// Forest carbon tickets (ForestTickets, ERC-3525's shape) trade in ticket class instruments:
/// tickets whose slot (a parcel's verified monitoring report) lies in an administrative-division
/// region and starts its monitoring period in a vintage window. There an order's and a fill's
/// `batchId` is a ticket's token id (a sell's, the ticket it delivers from); delivery splits the
/// quantity off the seller's ticket into a new ticket of the same slot for the buyer, with this
/// contract as the seller's approved operator, and only from a ticket the seller itself owns
/// (a pledged ticket is held by the pledge register and never delivers). A ticket buy signs
/// `retireFor` 0: ticket retirement for compensation orders is not done on purchase.
contract Settlement is ConsortiumGated, EIP712, ReentrancyGuardTransient {
    using BitMaps for BitMaps.BitMap;
    using SlotDerivation for bytes32;
    using TransientSlot for bytes32;
    using TransientSlot for TransientSlot.Uint256Slot;

    uint8 internal constant BUY = 0;
    uint8 internal constant SELL = 1;
    uint256 internal constant UNITS_PER_TONNE = 1_000_000;
    uint256 internal constant FEE_DENOMINATOR = 10_000 * UNITS_PER_TONNE;
    uint16 public constant MAX_FEE_BPS = 500;
    /// @dev Digits of an administrative-division code (GB/T 2260): a prefix of d digits is the
    /// code divided by 10 ** (6 − d).
    uint256 internal constant DIVISION_DIGITS = 6;
    /// @dev Transient, per trader: 0 unseen in this batch; else 1 + fee owed by it so far.
    bytes32 private constant BATCH_TRADERS = keccak256("tanhui.settlement.batch-traders");

    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address trader,uint8 side,uint64 instrument,uint64 batchId,uint128 price,uint128 quantity,uint16 maxFeeBps,uint8 timeInForce,uint64 nonce,uint64 expiry,bytes32 clientOrderId,uint64 retireFor)"
    );

    /// @notice An order as its trader signed it.
    /// @dev `batchId`: for a sell the batch it delivers (required); for a buy the one batch it
    /// accepts, or 0 for any batch the instrument admits. `maxFeeBps`: the highest fee, in basis
    /// points of the fill's value, the trader agrees to pay. `timeInForce` (0 GTC, 1 IOC, 2 FOK)
    /// instructs the matching engine; see the contract notice. `retireFor`: for a buy, the
    /// compensation order its purchase is retired for on delivery (0: delivered to the buyer);
    /// a sell signs 0.
    struct Order {
        address trader;
        uint8 side;
        uint64 instrument;
        uint64 batchId;
        uint128 price;
        uint128 quantity;
        uint16 maxFeeBps;
        uint8 timeInForce;
        uint64 nonce;
        uint64 expiry;
        bytes32 clientOrderId;
        uint64 retireFor;
    }

    /// @notice A 65-byte signature in EIP-2098 compact form: r and (s | (v − 27) << 255).
    struct Signature {
        bytes32 r;
        bytes32 vs;
    }

    /// @notice One matched trade: both signed orders, what was executed, and the batch delivered.
    /// `buyerIsMaker` picks which schedule fee applies to which side (each capped by its order).
    struct Fill {
        uint64 tradeId;
        uint64 batchId;
        uint128 quantity;
        uint128 price;
        bool buyerIsMaker;
        Order buy;
        Signature buySignature;
        Order sell;
        Signature sellSignature;
    }

    enum InstrumentState {
        Unused,
        Listed,
        Delisted
    }

    /// @notice What an instrument delivers: carbon credits (CarbonCredits batches) or forest
    /// carbon tickets (ForestTickets).
    enum InstrumentKind {
        Credits,
        Tickets
    }

    /// @notice A tradable instrument, fixed when listed. Credits: one batch (batchId != 0) or a
    /// class of batches of one methodology whose monitoring period starts within
    /// [vintageFrom, vintageTo). Tickets (`kind`): a class of forest tickets whose slot's 6-digit
    /// division code starts with the `prefixDigits` digits `divisionPrefix` (0 digits: any
    /// region) and whose monitoring period starts within [vintageFrom, vintageTo).
    /// Every fill is a multiple of `lot` units at a multiple of `tick` fen per tonne.
    /// @dev The first slot holds what every trade reads; the class bounds are read for classes only.
    struct Instrument {
        uint64 batchId;
        uint64 lot;
        uint64 tick;
        InstrumentState state;
        InstrumentKind kind;
        uint64 methodologyId;
        uint64 vintageFrom;
        uint64 vintageTo;
        uint32 divisionPrefix;
        uint8 prefixDigits;
    }

    IERC1155 public immutable credits;
    ISettlementCash public immutable cash;
    IProjectRegistry public immutable projects;
    /// @notice The forest ticket register ticket instruments deliver from.
    IForestTickets public immutable tickets;

    /// @notice Where fees go (the exchange's account).
    address public feeAccount;
    /// @notice Fee of the resting side, before each order's own cap.
    uint16 public makerFeeBps;
    /// @notice Fee of the incoming side, before each order's own cap.
    uint16 public takerFeeBps;

    mapping(uint64 instrumentId => Instrument) private _instruments;
    /// @notice Quantity settled of an order filled in parts, by order hash (cancelled: max).
    /// Orders settled in full by one trade leave this at 0 and use their nonce bit only.
    mapping(bytes32 orderHash => uint256) public filled;
    /// @notice Orders with a lower nonce than this are void (a trader's cancel-all).
    mapping(address trader => uint64) public minNonce;
    /// @dev Per trader: nonces of orders settled (in full or in part) or cancelled.
    mapping(address trader => BitMaps.BitMap) private _usedNonces;
    /// @dev Settled trade ids.
    BitMaps.BitMap private _settledTrades;

    /// @dev The instrument is not listed (never, or delisted).
    error UnknownInstrument(uint64 instrument);
    /// @dev The instrument definition is inconsistent (zero id, empty class, zero lot or tick).
    error InvalidInstrument(uint64 instrument);
    /// @dev lot × tick is worth less than 1 fen: a minimal fill would round to nothing.
    error LotTickBelowOneFen(uint64 instrument, uint64 lot, uint64 tick);
    /// @dev The instrument id was listed before; listed instruments never change and ids are
    /// never reused.
    error InstrumentIdUsed(uint64 instrument);
    /// @dev The delivered batch is not eligible for the instrument.
    error IneligibleBatch(uint64 instrument, uint64 batchId);
    /// @dev A ticket instrument's region is not 0 digits (with prefix 0), or 2, 4 or 6 digits
    /// of a division code (a prefix of that many digits, not starting with 0).
    error InvalidDivisionPrefix(uint64 instrument, uint32 divisionPrefix, uint8 prefixDigits);
    /// @dev The seller does not own the ticket it delivers from (another's, or pledged: held
    /// in escrow by the pledge register).
    error TicketNotHeld(uint64 tradeId, uint64 ticketId, address seller);
    /// @dev The delivered batch is not the one an order signed.
    error BatchNotSigned(uint64 tradeId, uint64 batchId);
    /// @dev The fill is not a whole number of lots at a price on the tick grid.
    error OffGridFill(uint64 tradeId);
    /// @dev The fill is worth less than 1 fen (trade id 0: a quote).
    error DustFill(uint64 tradeId);
    /// @dev A signature does not recover to the order's trader.
    error InvalidSignature(address trader);
    /// @dev The order has expired.
    error OrderExpired(bytes32 orderHash, uint64 expiry);
    /// @dev The order was cancelled (by hash or by nonce).
    error OrderCancelled(bytes32 orderHash);
    /// @dev The fill would take the order beyond its signed quantity.
    error Overfill(bytes32 orderHash, uint256 filled, uint256 quantity);
    /// @dev The trader's nonce was used by another order, or by this order settled in full.
    error NonceUsed(address trader, uint64 nonce);
    /// @dev The trade id was settled before.
    error TradeAlreadySettled(uint64 tradeId);
    /// @dev Sides, instruments, prices or quantities of the two orders do not match the trade,
    /// or the sell signs a compensation order (only a buy retires for one).
    error MismatchedOrders(uint64 tradeId);
    /// @dev Buyer and seller are the same account.
    error SelfTrade(uint64 tradeId);
    /// @dev Fee above MAX_FEE_BPS or a zero fee account.
    error InvalidFees();
    /// @dev The cash token does not name this contract as its settlement contract.
    error CashNotBound(address cash);
    /// @dev Only the order's trader may cancel it.
    error NotOrderOwner(address caller, address trader);
    /// @dev Nonces only move forward.
    error NonceNotIncreasing(uint64 current, uint64 requested);
    /// @dev An empty settlement batch.
    error EmptyBatch();

    /// @notice A trade was settled: credits and cash moved. `buyerPaid` left the buyer (value
    /// rounded up plus its fee), `sellerReceived` reached the seller (value rounded down less its
    /// fee); the difference went to the fee account.
    event TradeSettled(
        uint64 indexed tradeId,
        address indexed buyer,
        address indexed seller,
        uint64 batchId,
        uint256 quantity,
        uint256 price,
        uint256 buyerPaid,
        uint256 sellerReceived
    );
    /// @notice A trader cancelled one order (and so its nonce).
    event OrderCancelledByTrader(bytes32 indexed orderHash, address indexed trader);
    /// @notice A trader voided all orders below a nonce.
    event MinNonceRaised(address indexed trader, uint64 minNonce);
    /// @notice The exchange listed an instrument (for good: it never changes).
    event InstrumentListed(
        uint64 indexed instrument,
        uint64 batchId,
        uint64 methodologyId,
        uint64 vintageFrom,
        uint64 vintageTo,
        uint64 lot,
        uint64 tick
    );
    /// @notice The exchange listed a forest-ticket class instrument (for good: it never changes).
    event TicketInstrumentListed(
        uint64 indexed instrument,
        uint32 divisionPrefix,
        uint8 prefixDigits,
        uint64 vintageFrom,
        uint64 vintageTo,
        uint64 lot,
        uint64 tick
    );
    /// @notice The exchange delisted an instrument; its id is never used again.
    event InstrumentDelisted(uint64 indexed instrument);
    /// @notice The exchange changed fees or the fee account.
    event FeesSet(address feeAccount, uint16 makerFeeBps, uint16 takerFeeBps);

    constructor(
        IConsortium consortium_,
        IERC1155 credits_,
        ISettlementCash cash_,
        IProjectRegistry projects_,
        IForestTickets tickets_,
        address feeAccount_,
        address trustedForwarder
    ) ConsortiumGated(consortium_, trustedForwarder) EIP712("Tanhui Settlement", "3") {
        if (
            address(credits_) == address(0) || address(cash_) == address(0) || address(projects_) == address(0)
                || address(tickets_) == address(0)
        ) {
            revert ZeroAddressArgument();
        }
        if (cash_.settlement() != address(this)) revert CashNotBound(address(cash_));
        if (feeAccount_ == address(0)) revert InvalidFees();
        credits = credits_;
        cash = cash_;
        projects = projects_;
        tickets = tickets_;
        feeAccount = feeAccount_;
    }

    // -- exchange administration ------------------------------------------------------------

    /// @notice Lists an instrument, once and for good: one batch, or a methodology and vintage
    /// window, with its lot and tick. An id listed before (even if delisted since) reverts, so
    /// an order signed for an instrument can never settle against another definition. Exchange only.
    /// @param instrument The instrument id orders name (never used before).
    /// @param batchId The batch for a spot-per-batch instrument, or 0 for a class.
    /// @param methodologyId For a class: the methodology every delivered batch must follow.
    /// @param vintageFrom For a class: earliest monitoring-period start (unix seconds, inclusive).
    /// @param vintageTo For a class: latest monitoring-period start (exclusive).
    /// @param lot Credit units every fill is a multiple of.
    /// @param tick Fen per tonne every fill price is a multiple of; lot × tick ≥ 1,000,000 (1 fen).
    function listInstrument(
        uint64 instrument,
        uint64 batchId,
        uint64 methodologyId,
        uint64 vintageFrom,
        uint64 vintageTo,
        uint64 lot,
        uint64 tick
    ) external onlyRole(Roles.EXCHANGE) {
        if (instrument == 0 || lot == 0 || tick == 0) revert InvalidInstrument(instrument);
        bool badClass = methodologyId == 0 || vintageFrom >= vintageTo;
        bool badBatch = (methodologyId | vintageFrom | vintageTo) != 0;
        if (batchId == 0 ? badClass : badBatch) revert InvalidInstrument(instrument);
        _checkNewListing(instrument, lot, tick);
        _instruments[instrument] = Instrument(
            batchId,
            lot,
            tick,
            InstrumentState.Listed,
            InstrumentKind.Credits,
            methodologyId,
            vintageFrom,
            vintageTo,
            0,
            0
        );
        emit InstrumentListed(instrument, batchId, methodologyId, vintageFrom, vintageTo, lot, tick);
    }

    /// @notice Lists a forest-ticket class instrument, once and for good: tickets of a region
    /// (the first `prefixDigits` digits of their slot's 6-digit division code equal
    /// `divisionPrefix`; 0 digits: any region) whose monitoring period starts in
    /// [vintageFrom, vintageTo), with its lot and tick. The same id rules as `listInstrument`.
    /// Exchange only.
    /// @param instrument The instrument id orders name (never used before).
    /// @param divisionPrefix The region's division-code prefix, e.g. 35 (Fujian), 3504 (Sanming);
    /// 0 with 0 digits.
    /// @param prefixDigits 0 (any region), 2 (province), 4 (prefecture) or 6 (county).
    /// @param vintageFrom Earliest monitoring-period start (unix seconds, inclusive).
    /// @param vintageTo Latest monitoring-period start (exclusive).
    /// @param lot Micro-tonnes every fill is a multiple of.
    /// @param tick Fen per tonne every fill price is a multiple of; lot × tick ≥ 1,000,000 (1 fen).
    function listTicketInstrument(
        uint64 instrument,
        uint32 divisionPrefix,
        uint8 prefixDigits,
        uint64 vintageFrom,
        uint64 vintageTo,
        uint64 lot,
        uint64 tick
    ) external onlyRole(Roles.EXCHANGE) {
        if (instrument == 0 || lot == 0 || tick == 0 || vintageFrom >= vintageTo) revert InvalidInstrument(instrument);
        if (!_validPrefix(divisionPrefix, prefixDigits)) {
            revert InvalidDivisionPrefix(instrument, divisionPrefix, prefixDigits);
        }
        _checkNewListing(instrument, lot, tick);
        _instruments[instrument] = Instrument(
            0,
            lot,
            tick,
            InstrumentState.Listed,
            InstrumentKind.Tickets,
            0,
            vintageFrom,
            vintageTo,
            divisionPrefix,
            prefixDigits
        );
        emit TicketInstrumentListed(instrument, divisionPrefix, prefixDigits, vintageFrom, vintageTo, lot, tick);
    }

    /// @dev The rules every new listing meets: a fill of one lot at one tick is worth 1 fen, and
    /// the id was never listed.
    function _checkNewListing(uint64 instrument, uint64 lot, uint64 tick) private view {
        if (uint256(lot) * tick < UNITS_PER_TONNE) revert LotTickBelowOneFen(instrument, lot, tick);
        if (_instruments[instrument].state != InstrumentState.Unused) revert InstrumentIdUsed(instrument);
    }

    /// @dev 0 digits with prefix 0, or 2, 4 or 6 digits forming a prefix without a leading 0.
    function _validPrefix(uint32 prefix, uint8 digits) private pure returns (bool) {
        if (digits == 0) return prefix == 0;
        if (digits != 2 && digits != 4 && digits != 6) return false;
        uint256 top = 10 ** uint256(digits);
        return prefix >= top / 10 && prefix < top;
    }

    /// @notice Delists an instrument; no more trades settle in it and its id is never listed
    /// again. Exchange only.
    /// @param instrument The instrument id.
    function delistInstrument(uint64 instrument) external onlyRole(Roles.EXCHANGE) {
        Instrument storage ins = _instruments[instrument];
        if (ins.state != InstrumentState.Listed) revert UnknownInstrument(instrument);
        ins.state = InstrumentState.Delisted;
        emit InstrumentDelisted(instrument);
    }

    /// @notice Sets the fee account and maker/taker fees in basis points. Exchange only. An order
    /// is never charged more than the `maxFeeBps` its trader signed, whatever is set here later.
    /// @param feeAccount_ Where fees are paid (a member).
    /// @param makerFeeBps_ Fee of the resting side, at most MAX_FEE_BPS.
    /// @param takerFeeBps_ Fee of the incoming side, at most MAX_FEE_BPS.
    function setFees(address feeAccount_, uint16 makerFeeBps_, uint16 takerFeeBps_) external onlyRole(Roles.EXCHANGE) {
        if (feeAccount_ == address(0) || makerFeeBps_ > MAX_FEE_BPS || takerFeeBps_ > MAX_FEE_BPS) revert InvalidFees();
        feeAccount = feeAccount_;
        makerFeeBps = makerFeeBps_;
        takerFeeBps = takerFeeBps_;
        emit FeesSet(feeAccount_, makerFeeBps_, takerFeeBps_);
    }

    // -- traders ----------------------------------------------------------------------------

    /// @notice Cancels one of the caller's orders on chain: it, and any other order of the caller
    /// with the same nonce, can never settle again (a part already settled stays). Trader only.
    /// @param order The order as signed.
    function cancelOrder(Order calldata order) external {
        address sender = _msgSender();
        if (sender != order.trader) revert NotOrderOwner(sender, order.trader);
        bytes32 h = hashOrder(order);
        filled[h] = type(uint256).max;
        _usedNonces[sender].set(order.nonce);
        emit OrderCancelledByTrader(h, sender);
    }

    /// @notice Voids every order of the caller with a nonce below `nonce`. Trader only.
    /// @param nonce The new minimum nonce.
    function raiseMinNonce(uint64 nonce) external {
        address sender = _msgSender();
        uint64 current = minNonce[sender];
        if (nonce <= current) revert NonceNotIncreasing(current, nonce);
        minNonce[sender] = nonce;
        emit MinNonceRaised(sender, nonce);
    }

    // -- settlement -------------------------------------------------------------------------

    /// @notice Settles a batch of matched trades atomically: every trade or none. Exchange only.
    /// Each trader is checked against the roster (active, unfrozen member) once per batch, before
    /// anything of its moves; each trade moves credits once (to the buyer, or retired for the
    /// compensation order its buy signed) and cash once (buyer → seller); the
    /// fees a buyer owes over the batch are paid to the fee account in one move at the end.
    /// @param fills The trades, each with both signed orders.
    function settle(Fill[] calldata fills) external nonReentrant onlyRole(Roles.EXCHANGE) {
        if (fills.length == 0) revert EmptyBatch();
        uint256 fees = _feeSchedule();
        address[] memory traders = new address[](fills.length * 2);
        uint256 seen;
        for (uint256 i; i < fills.length; ++i) {
            seen = _settleOne(fills[i], fees, traders, seen);
        }
        address to = feeAccount;
        bool checked;
        for (uint256 i; i < seen; ++i) {
            TransientSlot.Uint256Slot slot = BATCH_TRADERS.deriveMapping(traders[i]).asUint256();
            uint256 owed = slot.tload() - 1;
            slot.tstore(0);
            if (owed != 0) {
                if (!checked) {
                    consortium.requireHolder(to);
                    checked = true;
                }
                cash.settlementTransfer(traders[i], to, owed);
            }
        }
    }

    /// @dev Maker and taker fees packed as (maker << 16 | taker): one storage read per batch.
    function _feeSchedule() private view returns (uint256) {
        return uint256(makerFeeBps) << 16 | takerFeeBps;
    }

    function _settleOne(Fill calldata f, uint256 fees, address[] memory traders, uint256 seen)
        private
        returns (uint256)
    {
        if (_settledTrades.get(f.tradeId)) revert TradeAlreadySettled(f.tradeId);
        _settledTrades.set(f.tradeId);
        bool isTicket = _checkMatch(f);
        _consume(f.buy, f.buySignature, f.quantity);
        _consume(f.sell, f.sellSignature, f.quantity);
        seen = _enter(f.sell.trader, traders, seen);
        seen = _enter(f.buy.trader, traders, seen);
        _deliver(f, fees, isTicket);
        return seen;
    }

    function _deliver(Fill calldata f, uint256 fees, bool isTicket) private {
        (uint256 paid, uint256 received) = _cashOf(f, fees);
        address buyer = f.buy.trader;
        address seller = f.sell.trader;
        // the buyer's and seller's fees accumulate on the buyer, paid once after the batch
        TransientSlot.Uint256Slot slot = BATCH_TRADERS.deriveMapping(buyer).asUint256();
        slot.tstore(slot.tload() + (paid - received));
        uint64 retireFor = f.buy.retireFor;
        if (isTicket) {
            // a new ticket of the same slot for the buyer, split off the seller's own ticket
            // (checked in _checkTicket; retireFor is 0 there)
            tickets.transferFrom(uint256(f.batchId), buyer, f.quantity);
        } else if (retireFor == 0) {
            credits.safeTransferFrom(seller, buyer, f.batchId, f.quantity, "");
        } else {
            // bought for a compensation order: retired from the seller's balance for the buyer,
            // never in the buyer's; reverts with the order's reason if it does not count
            IPurchaseRetirement(address(credits)).retireOnPurchase(
                seller, buyer, f.batchId, f.quantity, retireFor, f.price, ""
            );
        }
        cash.settlementTransfer(buyer, seller, received);
        emit TradeSettled(f.tradeId, buyer, seller, f.batchId, f.quantity, f.price, paid, received);
    }

    /// @dev (buyer pays, seller receives) of a fill: each side's schedule fee capped by its order.
    function _cashOf(Fill calldata f, uint256 fees) private pure returns (uint256, uint256) {
        uint256 makerBps = fees >> 16;
        uint256 takerBps = fees & 0xffff;
        uint256 buyerBps = _min(f.buyerIsMaker ? makerBps : takerBps, f.buy.maxFeeBps);
        uint256 sellerBps = _min(f.buyerIsMaker ? takerBps : makerBps, f.sell.maxFeeBps);
        uint256 value = uint256(f.quantity) * f.price;
        if (value < UNITS_PER_TONNE) revert DustFill(f.tradeId);
        return _amounts(value, buyerBps, sellerBps);
    }

    /// @dev A trader's first appearance in the batch: checked against the roster, remembered.
    function _enter(address trader, address[] memory traders, uint256 seen) private returns (uint256) {
        TransientSlot.Uint256Slot slot = BATCH_TRADERS.deriveMapping(trader).asUint256();
        if (slot.tload() == 0) {
            consortium.requireHolder(trader);
            slot.tstore(1);
            traders[seen] = trader;
            return seen + 1;
        }
        return seen;
    }

    /// @dev Checks a fill against its orders and instrument; whether it delivers a ticket.
    function _checkMatch(Fill calldata f) private view returns (bool isTicket) {
        Order calldata b = f.buy;
        Order calldata s = f.sell;
        uint64 instrument = b.instrument;
        if (
            b.side != BUY || s.side != SELL || s.instrument != instrument || f.price > b.price
                || f.price < s.price || f.quantity == 0 || s.retireFor != 0
        ) revert MismatchedOrders(f.tradeId);
        if (b.trader == s.trader) revert SelfTrade(f.tradeId);
        if (s.batchId != f.batchId || (b.batchId != 0 && b.batchId != f.batchId)) {
            revert BatchNotSigned(f.tradeId, f.batchId);
        }
        Instrument storage ins = _instruments[instrument];
        // what every trade reads is the instrument's first slot, read once: batchId (bits
        // 0-63), lot (64-127), tick (128-191), state (192-199), kind (200-207)
        uint256 head;
        assembly ("memory-safe") {
            head := sload(ins.slot)
        }
        if (uint8(head >> 192) != uint8(InstrumentState.Listed)) revert UnknownInstrument(instrument);
        if (f.quantity % uint64(head >> 64) != 0 || f.price % uint64(head >> 128) != 0) revert OffGridFill(f.tradeId);
        if (uint8(head >> 200) == uint8(InstrumentKind.Tickets)) {
            if (b.retireFor != 0) revert MismatchedOrders(f.tradeId);
            _checkTicket(ins, instrument, f);
            return true;
        }
        uint64 batchId = uint64(head);
        if (batchId != 0) {
            if (batchId != f.batchId) revert IneligibleBatch(instrument, f.batchId);
        } else {
            _checkClass(ins, instrument, f.batchId);
        }
    }

    /// @dev A ticket delivers only from its owner, the seller, and only if its slot's region
    /// and monitoring-period start fit the instrument.
    function _checkTicket(Instrument storage ins, uint64 instrument, Fill calldata f) private view {
        uint256 ticketId = f.batchId;
        if (tickets.ownerOf(ticketId) != f.sell.trader) revert TicketNotHeld(f.tradeId, f.batchId, f.sell.trader);
        IForestTicketSlots.SlotInfo memory s = IForestTicketSlots(address(tickets)).getSlot(tickets.slotOf(ticketId));
        uint256 digits = ins.prefixDigits;
        bool region = digits == 0 || s.divisionCode / 10 ** (DIVISION_DIGITS - digits) == ins.divisionPrefix;
        if (!region || s.periodStart < ins.vintageFrom || s.periodStart >= ins.vintageTo) {
            revert IneligibleBatch(instrument, f.batchId);
        }
    }

    function _checkClass(Instrument storage ins, uint64 instrument, uint64 batchId) private view {
        ICreditBatches.BatchView memory b = ICreditBatches(address(credits)).getBatch(batchId);
        (, uint256 methodologyId,,) = projects.approvedProject(b.projectId);
        if (methodologyId != ins.methodologyId || b.periodStart < ins.vintageFrom || b.periodStart >= ins.vintageTo) {
            revert IneligibleBatch(instrument, batchId);
        }
    }

    /// @dev Checks the order's signature, expiry and nonce, and records `quantity` against it.
    /// An order filled in full by one trade only sets its nonce bit (one warm word per trader
    /// and batch); an order filled in parts also keeps its settled quantity in `filled`.
    function _consume(Order calldata o, Signature calldata sig, uint128 quantity) private {
        bytes32 h = hashOrder(o);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(h, sig.r, sig.vs);
        if (err != ECDSA.RecoverError.NoError || signer != o.trader) revert InvalidSignature(o.trader);
        if (o.expiry < block.timestamp) revert OrderExpired(h, o.expiry);
        if (o.nonce < minNonce[o.trader]) revert OrderCancelled(h);
        BitMaps.BitMap storage used = _usedNonces[o.trader];
        bool first = !used.get(o.nonce);
        if (quantity == o.quantity) {
            if (!first) _refuseUsed(h, o);
            used.set(o.nonce);
        } else if (first) {
            if (quantity > o.quantity) revert Overfill(h, 0, o.quantity);
            used.set(o.nonce);
            filled[h] = quantity;
        } else {
            uint256 done = filled[h];
            if (done == 0) revert NonceUsed(o.trader, o.nonce);
            if (done == type(uint256).max) revert OrderCancelled(h);
            uint256 total = done + quantity;
            if (total > o.quantity) revert Overfill(h, done, o.quantity);
            filled[h] = total;
        }
    }

    /// @dev Why an order whose nonce bit is set cannot take a fill of its whole quantity.
    function _refuseUsed(bytes32 h, Order calldata o) private view {
        uint256 done = filled[h];
        if (done == type(uint256).max) revert OrderCancelled(h);
        if (done != 0) revert Overfill(h, done, o.quantity);
        revert NonceUsed(o.trader, o.nonce);
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    // -- views ------------------------------------------------------------------------------

    /// @notice What a fill moves, by this contract's rounding rule: the buyer pays the value
    /// rounded up plus ⌊value × buyerFeeBps / 10,000⌋; the seller receives the value rounded up
    /// less ⌊value × sellerFeeBps / 10,000⌋; the fee account gets the two fees. Reverts
    /// (DustFill) for a fill worth less than 1 fen.
    /// @param quantity Credit units.
    /// @param price Fen per tonne.
    /// @param buyerFeeBps The buyer's fee (already capped by its order).
    /// @param sellerFeeBps The seller's fee (already capped by its order).
    /// @return buyerPays Fen leaving the buyer.
    /// @return sellerReceives Fen reaching the seller.
    function quote(uint256 quantity, uint256 price, uint256 buyerFeeBps, uint256 sellerFeeBps)
        public
        pure
        returns (uint256 buyerPays, uint256 sellerReceives)
    {
        uint256 value = quantity * price;
        if (value < UNITS_PER_TONNE) revert DustFill(0);
        return _amounts(value, buyerFeeBps, sellerFeeBps);
    }

    /// @dev `value` = quantity × price, in millionths of a fen (at least 1 fen).
    function _amounts(uint256 value, uint256 buyerFeeBps, uint256 sellerFeeBps)
        private
        pure
        returns (uint256 buyerPays, uint256 sellerReceives)
    {
        uint256 whole = value / UNITS_PER_TONNE;
        if (value % UNITS_PER_TONNE != 0) ++whole; // the value rounded up, paid by the buyer to the seller
        buyerPays = whole + value * buyerFeeBps / FEE_DENOMINATOR;
        sellerReceives = whole - value * sellerFeeBps / FEE_DENOMINATOR;
    }

    /// @notice The EIP-712 digest a trader signs for `order`.
    /// @dev Every field of an Order is one static word, so its ABI encoding in calldata is
    /// exactly EIP-712's encodeData (each value left-padded to 32 bytes, in signed order): the
    /// struct hash is keccak256(ORDER_TYPEHASH ‖ the order's 12 calldata words), copied in one
    /// go instead of re-encoded field by field (≈ 1,700 gas less per order). A word that is not
    /// the canonical encoding of its field (dirty high bits) hashes to a digest no trader signed,
    /// so such an order fails its signature check; the fields this contract reads are also
    /// validated on access.
    function hashOrder(Order calldata order) public view returns (bytes32) {
        bytes32 typehash = ORDER_TYPEHASH;
        bytes32 structHash;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            calldatacopy(add(ptr, 0x20), order, 0x180)
            structHash := keccak256(ptr, 0x1a0)
        }
        return _hashTypedDataV4(structHash);
    }

    /// @notice Whether a trade id has settled.
    function settled(uint64 tradeId) external view returns (bool) {
        return _settledTrades.get(tradeId);
    }

    /// @notice Whether a trader's nonce is spent: an order with it settled (in full or in part)
    /// or was cancelled.
    function nonceUsed(address trader, uint64 nonce) external view returns (bool) {
        return _usedNonces[trader].get(nonce);
    }

    /// @notice An instrument's definition (listed or delisted).
    function instrumentOf(uint64 instrument) external view returns (Instrument memory) {
        Instrument memory ins = _instruments[instrument];
        if (ins.state == InstrumentState.Unused) revert UnknownInstrument(instrument);
        return ins;
    }
}
