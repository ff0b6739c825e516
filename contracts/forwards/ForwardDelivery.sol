// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Roles} from "../access/Roles.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {ICreditBatches} from "../interfaces/ICreditBatches.sol";
import {IProjectRegistry} from "../interfaces/IProjectRegistry.sol";
import {ForwardBase} from "./ForwardBase.sol";
import {ForwardMath} from "./ForwardMath.sol";

/// @title ForwardDelivery
/// @notice The delivery module of ForwardMarket: deliver, pay and settleDelivery, run only by
/// delegatecall from ForwardMarket, in its storage and with its balances (see ForwardMarket's
/// notice for the rules). Called directly, every function reverts (NotDelegated): this
/// contract's own storage is never used. It is deployed with the same consortium, credits,
/// cash, registry and forwarder as the market, so its immutables read the same.
contract ForwardDelivery is ForwardBase {
    address private immutable _self = address(this);

    /// @dev A delivery function was called on the module itself, not through ForwardMarket.
    error NotDelegated(address caller);

    constructor(IConsortium consortium_, IERC1155 credits_, IERC20 cash_, IProjectRegistry projects_, address fwd)
        ForwardBase(consortium_, credits_, cash_, projects_, fwd)
    {}

    modifier onlyDelegated() {
        if (address(this) == _self) revert NotDelegated(msg.sender);
        _;
    }

    // -- delivery (only ever run by delegatecall from ForwardMarket) ---------------------------------------------------------------------------

    /// @notice A short delivers its whole position, |position| × size units of `batchId` (a batch
    /// in the contract's class), into this contract's escrow. In the delivery window only; the
    /// caller must have approved this contract for its credits. Members only.
    function deliver(uint64 contractId, uint64 batchId) external onlyDelegated nonReentrant {
        address member = _msgSender();
        consortium.requireHolder(member);
        int64 pos = _performing(contractId, member);
        if (pos >= 0) revert WrongSide(contractId, member);
        Terms storage t = _terms[contractId];
        _checkClass(contractId, t, batchId);
        uint64 qty = uint64(_abs(pos));
        uint256 units = uint256(qty) * t.size;
        deliveryStatus[contractId][member] = 1;
        _deliveries[contractId].delivered += qty;
        _lots[contractId].push(Lot(batchId, uint192(units)));
        emit Delivered(contractId, member, batchId, units);
        credits.safeTransferFrom(member, address(this), batchId, units, "");
    }

    /// @notice A long pays ⌈position × size × final price / 10⁶⌉ fen from its margin account
    /// into the delivery escrow. In the delivery window only. Members only.
    function pay(uint64 contractId) external onlyDelegated nonReentrant {
        address member = _msgSender();
        consortium.requireHolder(member);
        int64 pos = _performing(contractId, member);
        if (pos <= 0) revert WrongSide(contractId, member);
        uint256 amount = ForwardMath.ceilDiv(
            uint256(uint64(pos)) * _terms[contractId].size * _markets[contractId].price, ForwardMath.UNITS_PER_TONNE
        );
        Account storage a = _accounts[contractId][member];
        if (a.margin < int256(amount)) revert InsufficientMargin(contractId, member, a.margin, amount);
        a.margin -= int128(int256(amount));
        deliveryStatus[contractId][member] = 1;
        paidIn[contractId][member] = amount;
        _deliveries[contractId].paid += uint64(pos);
        _books[contractId].escrow += amount;
        emit Paid(contractId, member, amount);
    }

    /// @dev The member's position, if it may still perform: the final price is posted, the
    /// delivery window is open and it has not performed yet.
    function _performing(uint64 id, address member) private view returns (int64) {
        Market storage m = _market(id);
        Terms storage t = _terms[id];
        if (m.day != t.lastTradingDay || m.settling) revert NotFinal(id);
        uint256 start = uint256(t.deliveryDay) * DAY;
        if (block.timestamp < start || block.timestamp >= start + t.deliveryWindow) revert NotInDelivery(id);
        if (deliveryStatus[id][member] != 0) revert AlreadyPerformed(id, member);
        return _accounts[id][member].position;
    }

    function _checkClass(uint64 id, Terms storage t, uint64 batchId) private view {
        ICreditBatches.BatchView memory b = ICreditBatches(address(credits)).getBatch(batchId);
        (, uint256 methodologyId,,) = projects.approvedProject(b.projectId);
        if (methodologyId != t.methodologyId || b.periodStart < t.vintageFrom || b.periodStart >= t.vintageTo) {
            revert IneligibleBatch(id, batchId);
        }
    }

    /// @notice Completes delivery for the next `count` holders, after the delivery window: a
    /// first pass records each side that failed (Defaulted, margin seized into its side's pool),
    /// a second serves each side that performed (see the contract notice). Exchange only.
    function settleDelivery(uint64 contractId, uint256 count)
        external
        onlyDelegated
        nonReentrant
        onlyRole(Roles.EXCHANGE)
    {
        Market storage m = _market(contractId);
        Terms storage t = _terms[contractId];
        if (m.day != t.lastTradingDay) revert NotFinal(contractId);
        if (block.timestamp < uint256(t.deliveryDay) * DAY + t.deliveryWindow) revert DeliveryWindowOpen(contractId);
        if (m.deliveryPhase == 0) {
            m.deliveryPhase = 1;
            m.cursor = 0;
        }
        if (m.deliveryPhase == 3) revert DeliveryDone(contractId);
        address[] storage list = _holders[contractId];
        uint256 end = m.cursor + count;
        if (end > list.length) end = list.length;
        for (uint256 i = m.cursor; i < end; ++i) {
            if (m.deliveryPhase == 1) _default(contractId, list[i]);
            else _serve(contractId, t, m.price, list[i]);
        }
        m.cursor = uint32(end);
        if (end == list.length) {
            m.cursor = 0;
            if (m.deliveryPhase == 1) {
                m.deliveryPhase = 2;
                Books storage bk = _books[contractId];
                Delivery storage d = _deliveries[contractId];
                (d.shortSeized, d.longSeized) = (uint128(bk.shortPool), uint128(bk.longPool));
            } else {
                m.deliveryPhase = 3;
                _closeBooks(contractId);
            }
        }
    }

    function _default(uint64 id, address member) private {
        if (deliveryStatus[id][member] != 0) return;
        Account storage a = _accounts[id][member];
        int64 pos = a.position;
        uint256 seized = a.margin > 0 ? uint256(int256(a.margin)) : 0;
        a.margin -= int128(int256(seized));
        deliveryStatus[id][member] = 2;
        if (pos > 0) _books[id].longPool += seized;
        else _books[id].shortPool += seized;
        emit Defaulted(id, member, pos, seized);
    }

    function _serve(uint64 id, Terms storage t, uint256 price, address member) private {
        Account storage a = _accounts[id][member];
        int64 pos = a.position;
        uint8 status = deliveryStatus[id][member];
        a.position = 0;
        _basis[id][member] = 0; // marked at the final price: no variation left
        deliveryStatus[id][member] = 3;
        if (status != 1) return; // a defaulter: nothing to serve
        (uint256 units, uint256 cashIn, uint256 comp) =
            pos > 0 ? _serveLong(id, t.size, price, member, uint64(pos)) : _serveShort(id, t.size, price, uint64(-pos));
        _books[id].escrow -= cashIn;
        a.margin += int128(int256(cashIn + comp));
        emit DeliverySettled(id, member, pos, units, cashIn, comp);
        _draw(id, member, units);
    }

    /// @dev A paying long: its units (all, or its pro-rata share of what was delivered), the
    /// refund of what it paid beyond ⌈units × price⌉, its share of the defaulting shorts' pool.
    function _serveLong(uint64 id, uint256 size, uint256 price, address member, uint64 qty)
        private
        returns (uint256 units, uint256 refund, uint256 comp)
    {
        Delivery storage d = _deliveries[id];
        units = d.delivered >= d.paid
            ? uint256(qty) * size
            : ForwardMath.proRata(d.longsServed, qty, d.paid, uint256(d.delivered) * size);
        refund = paidIn[id][member] - ForwardMath.ceilDiv(units * price, ForwardMath.UNITS_PER_TONNE);
        comp = ForwardMath.proRata(d.longsServed, qty, d.paid, d.shortSeized);
        _books[id].shortPool -= comp;
        d.longsServed += qty;
    }

    /// @dev A delivering short: the units it gets back (none, or what the paying longs did not
    /// take), ⌊sold × price⌋ proceeds, its share of the defaulting longs' pool.
    function _serveShort(uint64 id, uint256 size, uint256 price, uint64 qty)
        private
        returns (uint256 back, uint256 proceeds, uint256 comp)
    {
        Delivery storage d = _deliveries[id];
        uint256 sold = d.paid >= d.delivered
            ? uint256(qty) * size
            : ForwardMath.proRata(d.shortsServed, qty, d.delivered, uint256(d.paid) * size);
        proceeds = sold * price / ForwardMath.UNITS_PER_TONNE;
        comp = ForwardMath.proRata(d.shortsServed, qty, d.delivered, d.longSeized);
        _books[id].longPool -= comp;
        d.shortsServed += qty;
        back = uint256(qty) * size - sold;
    }

    /// @dev Hands out `units` escrowed credits in delivery order.
    function _draw(uint64 id, address to, uint256 units) private {
        Delivery storage d = _deliveries[id];
        Lot[] storage lots = _lots[id];
        while (units != 0) {
            Lot storage lot = lots[d.lotCursor];
            uint256 left = lot.units - d.lotUsed;
            uint256 take = units < left ? units : left;
            units -= take;
            if (take == left) {
                d.lotCursor += 1;
                d.lotUsed = 0;
            } else {
                d.lotUsed += uint128(take);
            }
            credits.safeTransferFrom(address(this), to, lot.batchId, take, "");
        }
    }

    /// @dev After the last member is served: the escrow's rounding surplus, and a pool whose
    /// recipients are none, go to the rounding account.
    function _closeBooks(uint64 id) private {
        Books storage bk = _books[id];
        // pools are fully shared out unless nobody could receive them (then they remain whole)
        uint256 rest = bk.escrow + bk.shortPool + bk.longPool;
        bk.escrow = 0;
        bk.shortPool = 0;
        bk.longPool = 0;
        bk.rounding += rest * uint256(MICRO);
        emit DeliveryCompleted(id, bk.rounding);
    }
}
