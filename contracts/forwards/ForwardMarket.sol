// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {Roles} from "../access/Roles.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";
import {ForwardBase} from "./ForwardBase.sol";
import {ForwardMath} from "./ForwardMath.sol";

/// @title ForwardMarket
/// @notice Carbon forwards (碳远期) cleared by this contract as central counterparty. The
/// exchange lists a contract on a credit class (methodology and vintage window on the batch's
/// monitoring-period start); members keep margin in cash tokens here, in one margin account per
/// (forward contract, member); the exchange records matched trades with both sides' signed
/// forward orders; positions net per member (long > 0, short < 0).
///
/// Daily settlement: after a trading day's close the exchange posts that day's settlement
/// price; this contract recomputes it from the trades it recorded in the window before the
/// close (volume-weighted average, rounded to the tick, half-way towards the previous price;
/// no trade: the previous price) and refuses any other. Variation margin then moves, for every
/// holder in the contract's holder order, in batches: (position × price − basis) × size micro-fen,
/// credited ⌊·/10⁶⌋ fen (rounded down: against every member alike); the sub-fen remainders go to
/// the contract's rounding account; the clearing account carries the day's not yet settled
/// difference and is zero once the day is settled. Trading halts until the day is settled.
///
/// Conservation, in micro-fen, at every moment: cash held × 10⁶ = Σ margin accounts × 10⁶ +
/// rounding + clearing + (delivery escrow + compensation pools) × 10⁶ (see `books`).
///
/// Margin call: a holder whose margin after settlement is below the maintenance requirement is
/// called to restore the initial requirement by a deadline; after it, the exchange closes the
/// whole position at the settlement price against an order a volunteering member signed for it
/// (ForcedClose); forced trades do not count towards any settlement price. A margin account may
/// go negative: that is the member's debt, and it can withdraw nothing.
///
/// Delivery: the final settlement price is the last trading day's. In the delivery window each
/// short delivers |position| × size units of one eligible batch, each long pays
/// ⌈position × size × price / 10⁶⌉ fen from its margin account. After the window the exchange
/// completes delivery in two passes over the holders: first each side that failed is recorded
/// (Defaulted) and its whole positive margin seized into its side's compensation pool; then each
/// side that performed is served pro rata (ForwardMath.proRata, in holder order): longs receive
/// min(1, delivered / paid) of their units (and a refund of the rest, cost ⌈units × price⌉),
/// shorts are paid ⌊units × price⌋ for min(1, paid / delivered) of theirs and get the rest back;
/// each performing side shares the other side's defaulters' pool pro rata to its contracts. The
/// escrow left over from rounding (and a pool nobody can receive) goes to the rounding account.
/// Delivered credits are fungible within the class: they are handed out in delivery order.
/// Code layout: delivery (deliver, pay, settleDelivery) runs in the ForwardDelivery module,
/// called by delegatecall in this contract's storage, so that each stays under the EIP-170
/// code-size limit.
contract ForwardMarket is ForwardBase, EIP712, ERC1155Holder {
    using BitMaps for BitMaps.BitMap;
    using SafeERC20 for IERC20;

    /// @notice The delivery module this contract delegates delivery to (fixed at deployment).
    address public immutable deliveryModule;

    constructor(
        IConsortium consortium_,
        IERC1155 credits_,
        IERC20 cash_,
        IProjectRegistry projects_,
        address fwd,
        address deliveryModule_
    ) ForwardBase(consortium_, credits_, cash_, projects_, fwd) EIP712("Tanhui ForwardMarket", "1") {
        if (deliveryModule_ == address(0)) revert ZeroAddressArgument();
        deliveryModule = deliveryModule_;
    }

    // -- listing ----------------------------------------------------------------------------

    /// @notice Lists a forward contract, once and for good (ids are never reused). Exchange only.
    /// @param contractId The id orders name.
    /// @param t The terms: class, size (units), tick (fen/t), days, margins (bps), price limit
    /// (bps around the last settlement price), initial reference price (on the tick grid).
    function listContract(uint64 contractId, Terms calldata t) external onlyRole(Roles.EXCHANGE) {
        if (
            contractId == 0 || t.methodologyId == 0 || t.vintageFrom >= t.vintageTo || t.size == 0 || t.tick == 0
                || t.referencePrice == 0 || t.referencePrice % t.tick != 0 || t.deliveryDay <= t.lastTradingDay
                || t.closeOffset == 0 || t.closeOffset > DAY || t.vwapWindow > t.closeOffset
                || t.deliveryWindow == 0 || t.maintenanceMarginBps == 0
                || t.maintenanceMarginBps > t.initialMarginBps || t.initialMarginBps > ForwardMath.BPS
                || t.priceLimitBps == 0 || t.priceLimitBps > ForwardMath.BPS
        ) revert InvalidTerms(contractId);
        if (_markets[contractId].listed) revert ContractIdUsed(contractId);
        _terms[contractId] = t;
        _markets[contractId] = Market(true, false, 0, 0, t.referencePrice, 0, 0);
        emit ContractListed(contractId, t);
    }

    // -- margin -----------------------------------------------------------------------------

    /// @notice Moves `amount` fen of the caller's cash into its margin account for
    /// `contractId` (within its cash allowance to this contract). A deposit that brings equity
    /// back to the initial requirement meets an outstanding margin call. Members only.
    function depositMargin(uint64 contractId, uint256 amount) external nonReentrant {
        address member = _msgSender();
        consortium.requireHolder(member);
        Market storage m = _market(contractId);
        if (amount == 0) revert ZeroAmount();
        Account storage a = _accounts[contractId][member];
        a.margin += _toInt128(amount);
        if (a.callDeadline != 0 && _equity(contractId, member, m.price) >= int256(_initial(contractId, a.position, m.price))) {
            a.callDeadline = 0;
            emit MarginCallMet(contractId, member);
        }
        emit MarginDeposited(contractId, member, amount, a.margin);
        cash.safeTransferFrom(member, address(this), amount);
    }

    /// @notice Pays `amount` fen of the caller's margin for `contractId` back to its cash, if
    /// its equity after the withdrawal still covers the initial requirement of its position at
    /// the last settlement price (and it has paid nothing into a delivery still open). Members only.
    function withdrawMargin(uint64 contractId, uint256 amount) external nonReentrant {
        address member = _msgSender();
        consortium.requireHolder(member);
        Market storage m = _market(contractId);
        if (amount == 0) revert ZeroAmount();
        Account storage a = _accounts[contractId][member];
        a.margin -= _toInt128(amount);
        uint256 required = _initial(contractId, a.position, m.price);
        int256 equity = _equity(contractId, member, m.price);
        if (equity < int256(required) || (a.margin < 0)) revert InsufficientMargin(contractId, member, equity, required);
        emit MarginWithdrawn(contractId, member, amount, a.margin);
        cash.safeTransfer(member, amount);
    }

    // -- trading ----------------------------------------------------------------------------

    /// @notice Records matched trades, each with both signed orders: every trade or none.
    /// Exchange only. Checks per trade: unused id, matching sides and contract, price within both
    /// limits, on the tick and within the price limit around the last settlement price, trading
    /// open (up to the last trading day, before the day's close, no settlement in progress),
    /// signatures, expiry, no overfill, both traders members; after the trade, each side whose
    /// position grew must hold its initial margin at the last settlement price.
    function recordTrades(Trade[] calldata trades) external nonReentrant onlyRole(Roles.EXCHANGE) {
        for (uint256 i; i < trades.length; ++i) {
            _record(trades[i]);
        }
    }

    /// @notice Cancels one of the caller's forward orders; it never fills again. Trader only.
    function cancelOrder(ForwardOrder calldata order) external {
        address sender = _msgSender();
        if (sender != order.trader) revert NotOrderOwner(sender, order.trader);
        bytes32 h = hashOrder(order);
        filled[h] = type(uint256).max;
        emit ForwardOrderCancelled(h, sender);
    }

    function _record(Trade calldata t) private {
        if (_tradeIds.get(t.tradeId)) revert TradeIdUsed(t.tradeId);
        _tradeIds.set(t.tradeId);
        ForwardOrder calldata b = t.buy;
        ForwardOrder calldata s = t.sell;
        uint64 id = b.contractId;
        if (
            b.side != BUY || s.side != SELL || s.contractId != id || t.price > b.price || t.price < s.price
                || t.quantity == 0
        ) revert MismatchedOrders(t.tradeId);
        if (b.trader == s.trader) revert SelfTrade(t.tradeId);
        Market storage m = _market(id);
        (uint64 day, bool inWindow) = _checkTradingOpen(id, m);
        _checkPrice(id, m.price, t.price);
        _consume(b, t.buySignature, t.quantity);
        _consume(s, t.sellSignature, t.quantity);
        consortium.requireHolder(b.trader);
        consortium.requireHolder(s.trader);
        if (inWindow) {
            dayValue[id][day] += uint256(t.quantity) * t.price;
            dayQuantity[id][day] += t.quantity;
        }
        _apply(id, m, b.trader, int256(uint256(t.quantity)), t.price);
        _apply(id, m, s.trader, -int256(uint256(t.quantity)), t.price);
        emit TradeRecorded(id, t.tradeId, b.trader, s.trader, t.price, t.quantity, day, inWindow);
    }

    /// @dev Trading is open up to the last trading day's close, before each day's close, and
    /// never while a settlement is in progress. Returns the trading day and whether the time
    /// falls in the VWAP window before the close.
    function _checkTradingOpen(uint64 id, Market storage m) private view returns (uint64 day, bool inWindow) {
        if (m.settling) revert SettlementInProgress(id);
        Terms storage t = _terms[id];
        day = uint64(block.timestamp / DAY);
        uint256 second = block.timestamp % DAY;
        if (day > t.lastTradingDay || second >= t.closeOffset) revert TradingClosed(id);
        inWindow = second >= t.closeOffset - t.vwapWindow;
    }

    function _checkPrice(uint64 id, uint64 refPrice, uint64 price) private view {
        Terms storage t = _terms[id];
        if (price % t.tick != 0) revert OffTick(id, price);
        uint64 band = uint64(uint256(refPrice) * t.priceLimitBps / ForwardMath.BPS);
        uint64 low = refPrice > band ? refPrice - band : 0;
        uint64 high = refPrice + band;
        if (price < low || price > high || price == 0) revert PriceOutsideLimit(id, price, low, high);
    }

    /// @dev Adds `qty` contracts at `price` to `member`'s position; a position that grew must
    /// keep its initial margin at the last settlement price.
    function _apply(uint64 id, Market storage m, address member, int256 qty, uint64 price) private {
        Account storage a = _accounts[id][member];
        int256 before = a.position;
        int256 after_ = before + qty;
        a.position = int64(after_);
        _basis[id][member] += qty * int256(uint256(price));
        int256 oi = int256(uint256(m.openInterest)) + (after_ > 0 ? after_ : int256(0)) - (before > 0 ? before : int256(0));
        m.openInterest = uint64(uint256(oi));
        _track(id, member, before, after_);
        if (_abs(after_) > _abs(before)) {
            uint256 required = _initial(id, int64(after_), m.price);
            int256 equity = _equity(id, member, m.price);
            if (equity < int256(required)) revert InsufficientMargin(id, member, equity, required);
        }
    }

    /// @dev Keeps the holder list: members with a non-zero position, in order of opening.
    function _track(uint64 id, address member, int256 before, int256 after_) private {
        if (before == 0 && after_ != 0) {
            _holders[id].push(member);
            _holderIndex[id][member] = _holders[id].length;
        } else if (before != 0 && after_ == 0) {
            _realize(id, member);
            address[] storage list = _holders[id];
            uint256 i = _holderIndex[id][member] - 1;
            address last = list[list.length - 1];
            list[i] = last;
            _holderIndex[id][last] = i + 1;
            list.pop();
            delete _holderIndex[id][member];
        }
    }

    /// @dev A position closed by a trade leaves the holder list at once, so its variation (its
    /// trades against their marks) is credited now, by the same rounding as a settlement.
    function _realize(uint64 id, address member) private {
        int256 exact = ForwardMath.variation(0, 0, _basis[id][member], _terms[id].size);
        _basis[id][member] = 0;
        int256 fen = ForwardMath.floorDiv(exact, MICRO);
        Books storage bk = _books[id];
        bk.clearing -= exact;
        bk.rounding += uint256(exact - fen * MICRO);
        _accounts[id][member].margin += int128(fen);
        emit VariationMargin(id, member, fen);
    }

    function _consume(ForwardOrder calldata o, Signature calldata sig, uint64 quantity) private {
        bytes32 h = hashOrder(o);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(h, sig.r, sig.vs);
        if (err != ECDSA.RecoverError.NoError || signer != o.trader) revert InvalidSignature(o.trader);
        if (o.expiry < block.timestamp) revert OrderExpired(h, o.expiry);
        uint256 done = filled[h];
        if (done == type(uint256).max) revert OrderCancelled(h);
        if (done + quantity > o.quantity) revert Overfill(h, done, o.quantity);
        filled[h] = done + quantity;
    }

    // -- daily settlement -------------------------------------------------------------------

    /// @notice Posts `day`'s settlement price, which must equal the VWAP this contract computes
    /// from the day's window trades (ForwardMath.vwapToTick; none: the previous price), and
    /// opens the day's variation-margin pass. Exchange only. The day must have closed, be later
    /// than the last settled day and no later than the last trading day.
    function postSettlement(uint64 contractId, uint64 day, uint64 price) external onlyRole(Roles.EXCHANGE) {
        Market storage m = _market(contractId);
        Terms storage t = _terms[contractId];
        if (m.settling) revert SettlementInProgress(contractId);
        if (day <= m.day || day > t.lastTradingDay) revert DayAlreadySettled(contractId, day);
        if (block.timestamp < uint256(day) * DAY + t.closeOffset) revert DayNotClosed(contractId, day);
        uint256 value = dayValue[contractId][day];
        uint256 qty = dayQuantity[contractId][day];
        uint256 vwap = ForwardMath.vwapToTick(value, qty, t.tick, m.price);
        if (vwap != price) revert SettlementPriceMismatch(contractId, day, vwap, price);
        m.price = price;
        m.day = day;
        m.settling = true;
        m.cursor = 0;
        emit SettlementPosted(contractId, day, price, value, qty);
        if (_holders[contractId].length == 0) _endSettlement(contractId, m);
    }

    /// @notice Moves variation margin for the next `count` holders of the day being settled
    /// (in the contract's holder order) and calls those under maintenance. Exchange only. The
    /// pass that reaches the last holder completes the day.
    function settleBatch(uint64 contractId, uint256 count) external onlyRole(Roles.EXCHANGE) {
        Market storage m = _market(contractId);
        if (!m.settling) revert NotSettling(contractId);
        address[] storage list = _holders[contractId];
        uint256 end = m.cursor + count;
        if (end > list.length) end = list.length;
        Terms storage t = _terms[contractId];
        uint256 size = t.size;
        uint256 price = m.price;
        int256 clearing;
        uint256 rounding;
        for (uint256 i = m.cursor; i < end; ++i) {
            (int256 exact, uint256 rest) = _mark(contractId, t, list[i], price, size);
            clearing -= exact;
            rounding += rest;
        }
        Books storage bk = _books[contractId];
        bk.clearing += clearing;
        bk.rounding += rounding;
        m.cursor = uint32(end);
        if (end == list.length) _endSettlement(contractId, m);
    }

    function _mark(uint64 id, Terms storage t, address member, uint256 price, uint256 size)
        private
        returns (int256 exact, uint256 rest)
    {
        Account storage a = _accounts[id][member];
        int256 pos = a.position;
        int256 newBasis = pos * int256(price);
        exact = ForwardMath.variation(pos, price, _basis[id][member], size);
        _basis[id][member] = newBasis;
        int256 fen = ForwardMath.floorDiv(exact, MICRO);
        rest = uint256(exact - fen * MICRO);
        int128 margin = a.margin + int128(fen);
        a.margin = margin;
        emit VariationMargin(id, member, fen);
        _checkCall(id, t, member, _abs(pos) * price * size, margin);
    }

    /// @dev Calls a member whose margin is under maintenance (to restore the initial margin by
    /// the deadline), or clears its call once its margin is back at the initial requirement.
    /// `exposure` = |position| × price × size.
    function _checkCall(uint64 id, Terms storage t, address member, uint256 exposure, int256 margin) private {
        Account storage a = _accounts[id][member];
        uint256 denom = ForwardMath.BPS * ForwardMath.UNITS_PER_TONNE;
        int256 initial = int256(ForwardMath.ceilDiv(exposure * t.initialMarginBps, denom));
        if (margin < int256(ForwardMath.ceilDiv(exposure * t.maintenanceMarginBps, denom))) {
            if (a.callDeadline == 0) {
                uint64 deadline = uint64(block.timestamp) + t.callPeriod;
                a.callDeadline = deadline;
                emit MarginCall(id, member, uint256(initial - margin), deadline);
            }
        } else if (a.callDeadline != 0 && margin >= initial) {
            a.callDeadline = 0;
            emit MarginCallMet(id, member);
        }
    }

    function _endSettlement(uint64 id, Market storage m) private {
        m.settling = false;
        emit SettlementCompleted(id, m.day, _books[id].rounding);
    }

    /// @notice Closes the whole position of a member whose margin call is past its deadline, at
    /// the last settlement price, against `counter`, an order a volunteering member signed on the
    /// other side (a buy at or above that price for a long, a sell at or below for a short).
    /// Exchange only; trading must be open. The volunteer's new position needs initial margin.
    function forceClose(uint64 contractId, address member, ForwardOrder calldata counter, Signature calldata sig)
        external
        nonReentrant
        onlyRole(Roles.EXCHANGE)
    {
        Market storage m = _market(contractId);
        _checkTradingOpen(contractId, m);
        Account storage a = _accounts[contractId][member];
        int64 pos = a.position;
        if (pos == 0 || a.callDeadline == 0 || block.timestamp <= a.callDeadline) {
            revert NoMarginCallDue(contractId, member);
        }
        uint64 price = m.price;
        bool closingLong = pos > 0;
        if (
            counter.contractId != contractId || counter.side != (closingLong ? BUY : SELL)
                || (closingLong ? counter.price < price : counter.price > price)
        ) revert MismatchedOrders(0);
        if (counter.trader == member) revert SelfTrade(0);
        uint64 qty = uint64(_abs(pos));
        _consume(counter, sig, qty);
        consortium.requireHolder(counter.trader);
        a.callDeadline = 0;
        int256 signed = closingLong ? int256(uint256(qty)) : -int256(uint256(qty));
        _apply(contractId, m, member, -signed, price);
        _apply(contractId, m, counter.trader, signed, price);
        emit ForcedClose(contractId, member, counter.trader, pos, price);
    }

    // -- delivery (ForwardDelivery, in this contract's storage) --------------------------------

    /// @notice A short delivers its whole position, |position| × size units of `batchId` (a batch
    /// in the contract's class), into this contract's escrow, in the delivery window; it must
    /// have approved this contract for its credits. Members only. (ForwardDelivery.deliver)
    function deliver(uint64, uint64) external {
        _delegate();
    }

    /// @notice A long pays ⌈position × size × final price / 10⁶⌉ fen from its margin account
    /// into the delivery escrow, in the delivery window. Members only. (ForwardDelivery.pay)
    function pay(uint64) external {
        _delegate();
    }

    /// @notice Completes delivery for the next `count` holders after the delivery window:
    /// defaults first, then service (see the contract notice). Exchange only.
    /// (ForwardDelivery.settleDelivery)
    function settleDelivery(uint64, uint256) external {
        _delegate();
    }

    /// @dev Runs this call's calldata in the delivery module, in this contract's storage, and
    /// returns or reverts with what it returned.
    function _delegate() private {
        address module = deliveryModule;
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // -- views ------------------------------------------------------------------------------

    /// @notice The EIP-712 digest a trader signs for a forward order.
    function hashOrder(ForwardOrder calldata o) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(FORWARD_ORDER_TYPEHASH, o.trader, o.side, o.contractId, o.price, o.quantity, o.nonce, o.expiry))
        );
    }

    /// @notice A listed contract's terms.
    function termsOf(uint64 contractId) external view returns (Terms memory) {
        _market(contractId);
        return _terms[contractId];
    }

    /// @notice A listed contract's market state.
    function marketOf(uint64 contractId) external view returns (Market memory) {
        return _market(contractId);
    }

    /// @notice The contract's own accounts (rounding, clearing, escrow, pools).
    function books(uint64 contractId) external view returns (Books memory) {
        return _books[contractId];
    }

    /// @notice Delivery tallies.
    function deliveryOf(uint64 contractId) external view returns (Delivery memory) {
        return _deliveries[contractId];
    }

    /// @notice A member's account: margin, position, margin-call deadline.
    function accountOf(uint64 contractId, address member) external view returns (Account memory) {
        return _accounts[contractId][member];
    }

    /// @notice Σ signed quantity × price of a member's position since its last mark.
    function basisOf(uint64 contractId, address member) external view returns (int256) {
        return _basis[contractId][member];
    }

    /// @notice A member's equity at the last settlement price (fen).
    function equityOf(uint64 contractId, address member) external view returns (int256) {
        return _equity(contractId, member, _market(contractId).price);
    }

    /// @notice The members holding a position, in holder order.
    function holders(uint64 contractId) external view returns (address[] memory) {
        return _holders[contractId];
    }

    /// @notice Number of members holding a position.
    function holderCount(uint64 contractId) external view returns (uint256) {
        return _holders[contractId].length;
    }

    /// @notice Whether a trade id was recorded.
    function recorded(uint64 tradeId) external view returns (bool) {
        return _tradeIds.get(tradeId);
    }
}
