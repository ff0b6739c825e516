// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {ICreditBatches} from "../interfaces/ICreditBatches.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";

/// @title Settlement
/// @notice Delivery versus payment for trades matched off chain. Traders sign EIP-712 orders;
/// the exchange submits matched trades in batches; for each trade this contract checks both
/// signatures, expiry, cancellation, limit prices and cumulative fills, then moves credits
/// seller → buyer and cash buyer → seller in the same transaction, with fees to the exchange's
/// fee account. The operator can neither invent a trade (it holds no trader's key) nor fill an
/// order beyond what its trader signed; each trade id settles at most once.
///
/// Units: price in fen per tonne; quantity in credit units (1 t = 1,000,000). Cash of a fill =
/// quantity × price / 1,000,000, rounded down (in the buyer's favour); fees = cash × bps /
/// 10,000, rounded down. The buyer pays cash + buyer fee, the seller receives cash − seller fee.
contract Settlement is ConsortiumGated, EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint8 internal constant BUY = 0;
    uint8 internal constant SELL = 1;
    uint256 internal constant UNITS_PER_TONNE = 1_000_000;
    uint16 public constant MAX_FEE_BPS = 500;

    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address trader,uint8 side,uint64 instrument,uint128 price,uint128 quantity,uint8 timeInForce,uint64 nonce,uint64 expiry,bytes32 clientOrderId)"
    );

    /// @notice An order as its trader signed it.
    struct Order {
        address trader;
        uint8 side;
        uint64 instrument;
        uint128 price;
        uint128 quantity;
        uint8 timeInForce;
        uint64 nonce;
        uint64 expiry;
        bytes32 clientOrderId;
    }

    /// @notice One matched trade: both signed orders, what was executed, and the batch delivered.
    struct Fill {
        uint64 tradeId;
        uint64 batchId;
        uint128 quantity;
        uint128 price;
        bool buyerIsMaker;
        Order buy;
        bytes buySignature;
        Order sell;
        bytes sellSignature;
    }

    /// @notice A tradable instrument: one batch (batchId != 0) or a class of batches of one
    /// methodology whose monitoring period starts within [vintageFrom, vintageTo).
    struct Instrument {
        uint64 batchId;
        uint64 methodologyId;
        uint64 vintageFrom;
        uint64 vintageTo;
        bool listed;
    }

    IERC1155 public immutable credits;
    IERC20 public immutable cash;
    IProjectRegistry public immutable projects;

    /// @notice Where fees go (the exchange's account).
    address public feeAccount;
    uint16 public makerFeeBps;
    uint16 public takerFeeBps;

    mapping(uint64 instrumentId => Instrument) private _instruments;
    /// @notice Quantity already settled per order hash (cancelled orders are set to max).
    mapping(bytes32 orderHash => uint256) public filled;
    /// @notice Orders with a lower nonce than this are void (a trader's cancel-all).
    mapping(address trader => uint64) public minNonce;
    /// @dev Settled trade ids, 256 per word.
    mapping(uint256 word => uint256 bits) private _settled;

    /// @dev The instrument is not listed.
    error UnknownInstrument(uint64 instrument);
    /// @dev The instrument definition is inconsistent.
    error InvalidInstrument(uint64 instrument);
    /// @dev The delivered batch is not eligible for the instrument.
    error IneligibleBatch(uint64 instrument, uint64 batchId);
    /// @dev A signature does not recover to the order's trader.
    error InvalidSignature(address trader);
    /// @dev The order has expired.
    error OrderExpired(bytes32 orderHash, uint64 expiry);
    /// @dev The order was cancelled (by hash or by nonce).
    error OrderCancelled(bytes32 orderHash);
    /// @dev The fill would take the order beyond its signed quantity.
    error Overfill(bytes32 orderHash, uint256 filled, uint256 quantity);
    /// @dev The trade id was settled before.
    error TradeAlreadySettled(uint64 tradeId);
    /// @dev Sides, instruments, prices or quantities of the two orders do not match the trade.
    error MismatchedOrders(uint64 tradeId);
    /// @dev Buyer and seller are the same account.
    error SelfTrade(uint64 tradeId);
    /// @dev Fee above MAX_FEE_BPS or a zero fee account.
    error InvalidFees();
    /// @dev Only the order's trader may cancel it.
    error NotOrderOwner(address caller, address trader);
    /// @dev Nonces only move forward.
    error NonceNotIncreasing(uint64 current, uint64 requested);
    /// @dev An empty settlement batch.
    error EmptyBatch();

    /// @notice A trade was settled: credits and cash moved.
    /// `cashAmount` is what the buyer paid before fees; `fees` = buyer fee + seller fee.
    event TradeSettled(
        uint64 indexed tradeId,
        address indexed buyer,
        address indexed seller,
        uint64 batchId,
        uint256 quantity,
        uint256 price,
        uint256 cashAmount,
        uint256 fees
    );
    /// @notice A trader cancelled one order.
    event OrderCancelledByTrader(bytes32 indexed orderHash, address indexed trader);
    /// @notice A trader voided all orders below a nonce.
    event MinNonceRaised(address indexed trader, uint64 minNonce);
    /// @notice The exchange listed or changed an instrument.
    event InstrumentSet(uint64 indexed instrument, uint64 batchId, uint64 methodologyId, uint64 vintageFrom, uint64 vintageTo);
    /// @notice The exchange delisted an instrument.
    event InstrumentDelisted(uint64 indexed instrument);
    /// @notice The exchange changed fees or the fee account.
    event FeesSet(address feeAccount, uint16 makerFeeBps, uint16 takerFeeBps);

    constructor(
        IConsortium consortium_,
        IERC1155 credits_,
        IERC20 cash_,
        IProjectRegistry projects_,
        address feeAccount_,
        address trustedForwarder
    ) ConsortiumGated(consortium_, trustedForwarder) EIP712("Tanhui Settlement", "1") {
        if (address(credits_) == address(0) || address(cash_) == address(0) || address(projects_) == address(0)) {
            revert ZeroAddressArgument();
        }
        if (feeAccount_ == address(0)) revert InvalidFees();
        credits = credits_;
        cash = cash_;
        projects = projects_;
        feeAccount = feeAccount_;
    }

    // -- exchange administration ------------------------------------------------------------

    /// @notice Lists an instrument: one batch, or a methodology and vintage window. Exchange only.
    /// @param instrument The instrument id orders name.
    /// @param batchId The batch for a spot-per-batch instrument, or 0 for a class.
    /// @param methodologyId For a class: the methodology every delivered batch must follow.
    /// @param vintageFrom For a class: earliest monitoring-period start (unix seconds, inclusive).
    /// @param vintageTo For a class: latest monitoring-period start (exclusive).
    function setInstrument(uint64 instrument, uint64 batchId, uint64 methodologyId, uint64 vintageFrom, uint64 vintageTo)
        external
        onlyRole(Roles.EXCHANGE)
    {
        if (instrument == 0) revert InvalidInstrument(instrument);
        if (batchId == 0 && (methodologyId == 0 || vintageFrom >= vintageTo)) revert InvalidInstrument(instrument);
        _instruments[instrument] = Instrument(batchId, methodologyId, vintageFrom, vintageTo, true);
        emit InstrumentSet(instrument, batchId, methodologyId, vintageFrom, vintageTo);
    }

    /// @notice Delists an instrument; no more trades settle in it. Exchange only.
    /// @param instrument The instrument id.
    function delistInstrument(uint64 instrument) external onlyRole(Roles.EXCHANGE) {
        if (!_instruments[instrument].listed) revert UnknownInstrument(instrument);
        delete _instruments[instrument];
        emit InstrumentDelisted(instrument);
    }

    /// @notice Sets the fee account and maker/taker fees in basis points. Exchange only.
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

    /// @notice Cancels one of the caller's orders on chain; it can never settle again. Trader only.
    /// @param order The order as signed.
    function cancelOrder(Order calldata order) external {
        address sender = _msgSender();
        if (sender != order.trader) revert NotOrderOwner(sender, order.trader);
        bytes32 h = hashOrder(order);
        filled[h] = type(uint256).max;
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
    /// @param fills The trades, each with both signed orders.
    function settle(Fill[] calldata fills) external nonReentrant onlyRole(Roles.EXCHANGE) {
        if (fills.length == 0) revert EmptyBatch();
        uint256 feesTotal;
        uint16 makerBps = makerFeeBps;
        uint16 takerBps = takerFeeBps;
        for (uint256 i; i < fills.length; ++i) {
            feesTotal += _settleOne(fills[i], makerBps, takerBps);
        }
        if (feesTotal != 0) {
            // fees were collected into this contract per trade; one transfer pays them out
            cash.safeTransfer(feeAccount, feesTotal);
        }
    }

    function _settleOne(Fill calldata f, uint16 makerBps, uint16 takerBps) private returns (uint256) {
        uint256 word = f.tradeId >> 8;
        uint256 bit = 1 << (f.tradeId & 0xff);
        uint256 bits = _settled[word];
        if (bits & bit != 0) revert TradeAlreadySettled(f.tradeId);
        _settled[word] = bits | bit;
        _checkMatch(f);
        _checkOrder(f.buy, f.buySignature, f.quantity);
        _checkOrder(f.sell, f.sellSignature, f.quantity);
        return _deliver(f, makerBps, takerBps);
    }

    function _checkMatch(Fill calldata f) private view {
        Order calldata b = f.buy;
        Order calldata s = f.sell;
        if (
            b.side != BUY || s.side != SELL || b.instrument != s.instrument || f.price > b.price || f.price < s.price
                || f.quantity == 0
        ) revert MismatchedOrders(f.tradeId);
        if (b.trader == s.trader) revert SelfTrade(f.tradeId);
        _checkBatch(b.instrument, f.batchId);
    }

    function _deliver(Fill calldata f, uint16 makerBps, uint16 takerBps)
        private
        returns (uint256 fees)
    {
        address buyer = f.buy.trader;
        address seller = f.sell.trader;
        uint256 amount = uint256(f.quantity) * f.price / UNITS_PER_TONNE;
        uint256 buyerFee = amount * (f.buyerIsMaker ? makerBps : takerBps) / 10_000;
        uint256 sellerFee = amount * (f.buyerIsMaker ? takerBps : makerBps) / 10_000;
        credits.safeTransferFrom(seller, buyer, f.batchId, f.quantity, "");
        cash.safeTransferFrom(buyer, seller, amount - sellerFee);
        fees = buyerFee + sellerFee;
        if (fees != 0) cash.safeTransferFrom(buyer, address(this), fees);
        emit TradeSettled(f.tradeId, buyer, seller, f.batchId, f.quantity, f.price, amount, fees);
    }

    function _checkOrder(Order calldata o, bytes calldata signature, uint128 quantity) private returns (bytes32 h) {
        h = hashOrder(o);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(h, signature);
        if (err != ECDSA.RecoverError.NoError || signer != o.trader) revert InvalidSignature(o.trader);
        if (o.expiry < block.timestamp) revert OrderExpired(h, o.expiry);
        if (o.nonce < minNonce[o.trader]) revert OrderCancelled(h);
        uint256 done = filled[h];
        if (done == type(uint256).max) revert OrderCancelled(h);
        uint256 total = done + quantity;
        if (total > o.quantity) revert Overfill(h, done, o.quantity);
        filled[h] = total;
    }

    function _checkBatch(uint64 instrument, uint64 batchId) private view {
        Instrument memory ins = _instruments[instrument];
        if (!ins.listed) revert UnknownInstrument(instrument);
        if (ins.batchId != 0) {
            if (ins.batchId != batchId) revert IneligibleBatch(instrument, batchId);
            return;
        }
        ICreditBatches.BatchView memory b = ICreditBatches(address(credits)).getBatch(batchId);
        (, uint256 methodologyId,,) = projects.approvedProject(b.projectId);
        if (methodologyId != ins.methodologyId || b.periodStart < ins.vintageFrom || b.periodStart >= ins.vintageTo) {
            revert IneligibleBatch(instrument, batchId);
        }
    }

    // -- views ------------------------------------------------------------------------------

    /// @notice The EIP-712 digest a trader signs for `order`.
    function hashOrder(Order calldata order) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ORDER_TYPEHASH,
                    order.trader,
                    order.side,
                    order.instrument,
                    order.price,
                    order.quantity,
                    order.timeInForce,
                    order.nonce,
                    order.expiry,
                    order.clientOrderId
                )
            )
        );
    }

    /// @notice Whether a trade id has settled.
    function settled(uint64 tradeId) external view returns (bool) {
        return _settled[tradeId >> 8] & (1 << (tradeId & 0xff)) != 0;
    }

    /// @notice An instrument's definition.
    function instrumentOf(uint64 instrument) external view returns (Instrument memory) {
        Instrument memory ins = _instruments[instrument];
        if (!ins.listed) revert UnknownInstrument(instrument);
        return ins;
    }
}
