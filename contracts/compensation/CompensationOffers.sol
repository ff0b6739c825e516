// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {ICompensationOrders} from "../interfaces/ICompensationOrders.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {IPurchaseRetirement} from "../interfaces/IPurchaseRetirement.sol";

/// @title CompensationOffers
/// @notice Fixed-price offers a seller makes to one compensation order (Shengsi, 2025: 500 t of
/// mussel-farming carbon at 100 yuan/t, bought with ecological-damage compensation). A liable
/// party (or the paying authority) takes an offer: it pays ⌈amount × price / 1,000,000⌉ fen to
/// the seller in the CNY deposit token, and the tonnes are retired for the order on delivery,
/// straight from the seller's balance (CarbonCredits.retireOnPurchase): the buyer never holds
/// them, so they cannot be resold. The order counts the purchase at the offer's price, rounded
/// down. Credits stay with the seller until taken; the seller approves this contract as its
/// operator on CarbonCredits, the buyer approves it as a spender on the cash token, and the
/// contract is admitted as a consortium member at deployment (like Settlement).
contract CompensationOffers is ConsortiumGated, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    struct Offer {
        address seller;
        uint64 expiry;
        uint128 priceFenPerTonne;
        uint128 amount;
        uint128 remaining;
        uint256 orderId;
        uint256 batchId;
    }

    uint256 internal constant UNITS_PER_TONNE = 1_000_000;

    IPurchaseRetirement public immutable credits;
    IERC20 public immutable cash;
    ICompensationOrders public immutable orders;

    /// @notice Number of offers ever made (ids are 1..offerCount).
    uint256 public offerCount;

    mapping(uint256 offerId => Offer) private _offers;

    /// @dev The offer does not exist.
    error UnknownOffer(uint256 offerId);
    /// @dev The offer's expiry has passed (or, when making one, is not in the future).
    error OfferExpired(uint256 offerId, uint64 expiry);
    /// @dev The offer has less left than asked (0 once withdrawn or taken in full).
    error OfferExhausted(uint256 remaining);
    /// @dev Only the offer's seller may withdraw it.
    error NotOfferSeller(uint256 offerId, address caller);
    /// @dev Amounts must be positive.
    error ZeroAmount();
    /// @dev The price must be positive.
    error ZeroPrice();
    /// @dev The order book does not list this contract as a trusted venue.
    error NotBoundVenue(address orders);

    /// @notice A seller offered `amount` of batch `batchId` to order `orderId` at a fixed price.
    event OfferMade(
        uint256 indexed offerId,
        address indexed seller,
        uint256 indexed orderId,
        uint256 batchId,
        uint256 amount,
        uint256 priceFenPerTonne,
        uint64 expiry
    );
    /// @notice The seller withdrew what was left of an offer.
    event OfferWithdrawn(uint256 indexed offerId, address indexed seller, uint256 remaining);
    /// @notice A buyer took `amount` of an offer, paid `paid` fen and retired it as `retirementId`.
    event OfferTaken(
        uint256 indexed offerId, address indexed buyer, uint256 amount, uint256 paid, uint256 retirementId
    );

    constructor(
        IConsortium consortium_,
        IPurchaseRetirement credits_,
        IERC20 cash_,
        ICompensationOrders orders_,
        address trustedForwarder
    ) ConsortiumGated(consortium_, trustedForwarder) {
        if (address(credits_) == address(0) || address(cash_) == address(0) || address(orders_) == address(0)) {
            revert ZeroAddressArgument();
        }
        if (!orders_.isVenue(address(this))) revert NotBoundVenue(address(orders_));
        credits = credits_;
        cash = cash_;
        orders = orders_;
    }

    /// @notice Offers `amount` of the caller's credits of `batchId` to order `orderId` at
    /// `priceFenPerTonne` until `expiry`. Holders only; the credits stay with the caller, who
    /// approves this contract as its operator on CarbonCredits before the offer can be taken.
    /// @param orderId A registered compensation order.
    /// @param batchId The batch offered (the order checks its eligibility when it is taken).
    /// @param amount Micro-tonnes offered.
    /// @param priceFenPerTonne Fen per tonne.
    /// @param expiry Unix time after which the offer cannot be taken.
    /// @return offerId The new offer's id.
    function offer(uint256 orderId, uint256 batchId, uint128 amount, uint128 priceFenPerTonne, uint64 expiry)
        external
        returns (uint256 offerId)
    {
        address seller = _msgSender();
        consortium.requireHolder(seller);
        if (amount == 0) revert ZeroAmount();
        if (priceFenPerTonne == 0) revert ZeroPrice();
        orders.caseNumberOf(orderId); // reverts UnknownOrder
        offerId = ++offerCount;
        if (expiry <= block.timestamp) revert OfferExpired(offerId, expiry);
        _offers[offerId] = Offer({
            seller: seller,
            expiry: expiry,
            priceFenPerTonne: priceFenPerTonne,
            amount: amount,
            remaining: amount,
            orderId: orderId,
            batchId: batchId
        });
        emit OfferMade(offerId, seller, orderId, batchId, amount, priceFenPerTonne, expiry);
    }

    /// @notice Withdraws what is left of an offer. The offer's seller only.
    /// @param offerId An offer of the caller with something left.
    function withdraw(uint256 offerId) external {
        Offer storage o = _existing(offerId);
        address caller = _msgSender();
        if (caller != o.seller) revert NotOfferSeller(offerId, caller);
        uint256 remaining = o.remaining;
        if (remaining == 0) revert OfferExhausted(0);
        o.remaining = 0;
        emit OfferWithdrawn(offerId, caller, remaining);
    }

    /// @notice Buys `amount` of an offer and retires it for the offer's order on delivery: pays
    /// ⌈amount × price / 1,000,000⌉ fen to the seller (within the caller's cash allowance to
    /// this contract), then CarbonCredits retires the seller's tonnes as the caller's retirement
    /// and the order counts it (reverting unless the caller is a party of the order, or its
    /// paying authority, and the batch meets the order's terms). Holders only.
    /// @param offerId An unexpired offer.
    /// @param amount Micro-tonnes to take, at most what is left.
    /// @param beneficiary On whose behalf; empty for the order's case number.
    /// @return retirementId The retirement's id.
    function take(uint256 offerId, uint128 amount, string calldata beneficiary)
        external
        nonReentrant
        returns (uint256 retirementId)
    {
        address buyer = _msgSender();
        consortium.requireHolder(buyer);
        Offer storage o = _existing(offerId);
        if (amount == 0) revert ZeroAmount();
        if (block.timestamp > o.expiry) revert OfferExpired(offerId, o.expiry);
        uint256 remaining = o.remaining;
        if (amount > remaining) revert OfferExhausted(remaining);
        o.remaining = uint128(remaining - amount);
        uint256 paid = Math.mulDiv(amount, o.priceFenPerTonne, UNITS_PER_TONNE, Math.Rounding.Ceil);
        cash.safeTransferFrom(buyer, o.seller, paid);
        retirementId = _retire(o, buyer, amount, beneficiary);
        emit OfferTaken(offerId, buyer, amount, paid, retirementId);
    }

    /// @notice Full record of an offer; reverts for an unknown offer.
    function getOffer(uint256 offerId) external view returns (Offer memory) {
        return _existing(offerId);
    }

    /// @notice What taking `amount` of an offer costs, in fen (rounded up).
    function costOf(uint256 offerId, uint256 amount) external view returns (uint256) {
        return Math.mulDiv(amount, _existing(offerId).priceFenPerTonne, UNITS_PER_TONNE, Math.Rounding.Ceil);
    }

    function _retire(Offer storage o, address buyer, uint256 amount, string calldata beneficiary)
        private
        returns (uint256)
    {
        return credits.retireOnPurchase(o.seller, buyer, o.batchId, amount, o.orderId, o.priceFenPerTonne, beneficiary);
    }

    function _existing(uint256 offerId) private view returns (Offer storage o) {
        o = _offers[offerId];
        if (o.seller == address(0)) revert UnknownOffer(offerId);
    }
}
