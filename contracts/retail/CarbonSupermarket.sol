// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {IForestTicketReceiver} from "../interfaces/IForestTicketReceiver.sol";
import {IRetiringCredits, IRetiringTickets} from "../interfaces/IRetailAssets.sol";

/// @title CarbonSupermarket
/// @notice The carbon supermarket (碳汇超市): a retail operator seat sells small amounts — down to
/// one kilogram — of forest-ticket value or credits to people without a chain account, and each
/// sale is retired at once for the named buyer. A seat stocks its shelf by moving tickets (whole,
/// or value split off) and credits into this contract, which holds them; a sale retires from
/// that seat's own stock, with this contract as the retiring holder and purpose Voluntary (a
/// person offsetting their own footprint by choice; carbon-inclusive names credits earned by
/// low-carbon behaviour under a 碳普惠 scheme, which a shop purchase is not). The shop's receipt or
/// buyer reference is kept as its hash, so a seat's retail retirements can be listed and totalled
/// per buyer reference. Unsold stock is withdrawn back to the seat. Invariant per seat and asset:
/// stocked = on shelf + sold + withdrawn. The contract is a consortium member (it holds assets),
/// accepts only the transfers it makes itself, and a frozen seat does nothing.
contract CarbonSupermarket is ConsortiumGated, ReentrancyGuardTransient, IERC1155Receiver, IForestTicketReceiver {
    /// @notice What a lot is: ticket value (asset id = the shelf ticket) or credits (the batch).
    enum AssetKind {
        Ticket,
        Credit
    }

    /// @notice A seat's lot of one asset, in micro-tonnes.
    struct Lot {
        uint128 onShelf;
        uint128 stocked;
        uint128 sold;
        uint128 withdrawn;
    }

    /// @notice A retail sale: the seat, what was retired (kind, asset id, the register's
    /// retirement id), value in micro-tonnes, price in fen and the buyer reference's hash.
    struct Sale {
        address seat;
        AssetKind kind;
        uint64 retirementId;
        uint64 assetId;
        uint96 value;
        uint96 priceFen;
        bytes32 buyerReferenceHash;
    }

    /// @notice What a seat sold under one buyer reference: number of sales, micro-tonnes, fen.
    struct BuyerTotals {
        uint64 sales;
        uint96 value;
        uint96 priceFen;
    }

    /// @notice The smallest retail sale, and its granularity: one kilogram (1,000 micro-tonnes).
    uint256 public constant KILOGRAM = 1_000;
    /// @notice Why retail sales are retired: ForestTickets' and CarbonCredits' `Voluntary` (0).
    uint8 public constant PURPOSE_VOLUNTARY = 0;

    IERC1155 public immutable credits;
    IRetiringTickets public immutable tickets;

    /// @notice Number of retail sales ever made (ids are 1..saleCount).
    uint256 public saleCount;

    mapping(address seat => mapping(AssetKind kind => mapping(uint256 assetId => Lot))) private _lots;
    mapping(uint256 tokenId => address seat) private _shelfSeat;
    mapping(address seat => uint256[] tokenIds) private _shelfTickets;
    mapping(address seat => uint256[] batchIds) private _shelfBatches;
    mapping(uint256 saleId => Sale) private _sales;
    mapping(address seat => uint256[] saleIds) private _salesOfSeat;
    mapping(address seat => mapping(bytes32 refHash => uint256[] saleIds)) private _salesOfBuyer;
    mapping(address seat => mapping(bytes32 refHash => BuyerTotals)) private _buyerTotals;

    /// @dev The sale does not exist.
    error UnknownSale(uint256 saleId);
    /// @dev Values must be positive.
    error ZeroValue();
    /// @dev A retail sale is at least one kilogram.
    error BelowRetailMinimum(uint256 value, uint256 minimum);
    /// @dev A retail sale is a whole number of kilograms.
    error NotWholeKilogram(uint256 value);
    /// @dev The buyer reference (the shop's receipt) is empty.
    error EmptyBuyerReference();
    /// @dev The beneficiary must be named.
    error EmptyBeneficiary();
    /// @dev The price must be positive and fit 96 bits.
    error InvalidPrice(uint256 priceFen);
    /// @dev The caller does not own the ticket it stocks.
    error NotTicketOwner(address caller, uint256 tokenId);
    /// @dev The shelf ticket is not on the caller's shelf (another seat's, or none).
    error NotSeatStock(address seat, uint256 tokenId);
    /// @dev The seat's lot holds less than requested.
    error InsufficientStock(uint256 available, uint256 requested);
    /// @dev Only ForestTickets and CarbonCredits deliver assets to the supermarket.
    error NotAssetContract(address caller);
    /// @dev The supermarket accepts only the transfers it makes itself.
    error UnsolicitedTransfer(address operator);

    /// @notice A seat stocked its shelf: `value` of `kind` (ticket `assetId`, moved from
    /// `sourceTokenId`; or batch `assetId`).
    event Stocked(
        address indexed seat, AssetKind indexed kind, uint256 indexed assetId, uint256 sourceTokenId, uint256 value
    );
    /// @notice A seat withdrew unsold stock; for tickets `toTokenId` is the ticket it received.
    event Withdrawn(
        address indexed seat, AssetKind indexed kind, uint256 indexed assetId, uint256 toTokenId, uint256 value
    );
    /// @notice A retail sale, retired at once for `beneficiary` (retirement `retirementId` of
    /// ForestTickets for a ticket, of CarbonCredits for credits).
    event RetailSale(
        address indexed seat,
        bytes32 indexed buyerReferenceHash,
        AssetKind kind,
        uint256 indexed assetId,
        uint256 retirementId,
        uint256 value,
        uint256 priceFen,
        string beneficiary,
        uint256 saleId
    );

    constructor(IConsortium consortium_, IERC1155 credits_, IRetiringTickets tickets_, address trustedForwarder)
        ConsortiumGated(consortium_, trustedForwarder)
    {
        if (address(credits_) == address(0) || address(tickets_) == address(0)) revert ZeroAddressArgument();
        credits = credits_;
        tickets = tickets_;
    }

    // -- stocking ------------------------------------------------------------------------------

    /// @notice Puts `value` of the caller's ticket on its shelf: the whole ticket when `value` is
    /// all of it (it keeps its id), otherwise a new ticket split off to the supermarket. Retail
    /// seats only, having approved the supermarket as operator on ForestTickets.
    /// @param tokenId The caller's ticket.
    /// @param value Micro-tonnes to stock; at most the ticket's value.
    /// @return shelfTokenId The ticket now on the caller's shelf.
    function stockTicket(uint256 tokenId, uint256 value)
        external
        onlyRole(Roles.RETAIL)
        nonReentrant
        returns (uint256 shelfTokenId)
    {
        address seat = _msgSender();
        if (value == 0) revert ZeroValue();
        if (tickets.ownerOf(tokenId) != seat) revert NotTicketOwner(seat, tokenId);
        uint256 held = tickets.balanceOf(tokenId);
        if (value > held) revert InsufficientStock(held, value);
        if (value == held) {
            shelfTokenId = tokenId;
            tickets.transferFrom(seat, address(this), tokenId);
        } else {
            shelfTokenId = tickets.transferFrom(tokenId, address(this), value);
        }
        _shelfSeat[shelfTokenId] = seat;
        _shelfTickets[seat].push(shelfTokenId);
        _addStock(_lots[seat][AssetKind.Ticket][shelfTokenId], value);
        emit Stocked(seat, AssetKind.Ticket, shelfTokenId, tokenId, value);
    }

    /// @notice Puts `amount` of the caller's credits of `batchId` on its shelf. Retail seats
    /// only, having approved the supermarket as operator on CarbonCredits.
    /// @param batchId The credit batch.
    /// @param amount Micro-tonnes to stock; at most the caller's balance of the batch.
    function stockCredits(uint256 batchId, uint256 amount) external onlyRole(Roles.RETAIL) nonReentrant {
        address seat = _msgSender();
        if (amount == 0) revert ZeroValue();
        Lot storage lot = _lots[seat][AssetKind.Credit][batchId];
        if (lot.stocked == 0) _shelfBatches[seat].push(batchId);
        _addStock(lot, amount);
        emit Stocked(seat, AssetKind.Credit, batchId, 0, amount);
        credits.safeTransferFrom(seat, address(this), batchId, amount, "");
    }

    // -- selling -------------------------------------------------------------------------------

    /// @notice Sells `value` of a ticket on the caller's shelf and retires it at once for
    /// `beneficiary` (purpose Voluntary). Retail seats only, from their own stock.
    /// @param shelfTokenId A ticket on the caller's shelf.
    /// @param value Micro-tonnes: at least one kilogram, a whole number of kilograms.
    /// @param beneficiary The buyer, as named on the certificate.
    /// @param buyerReference The shop's receipt or buyer reference (stored as its hash).
    /// @param priceFen What the buyer paid, in fen.
    /// @return saleId The sale; its retirement id is in the sale record and the event.
    function sellTicket(
        uint256 shelfTokenId,
        uint256 value,
        string calldata beneficiary,
        string calldata buyerReference,
        uint256 priceFen
    ) external onlyRole(Roles.RETAIL) nonReentrant returns (uint256 saleId) {
        address seat = _msgSender();
        if (_shelfSeat[shelfTokenId] != seat) revert NotSeatStock(seat, shelfTokenId);
        saleId = _recordSale(seat, AssetKind.Ticket, shelfTokenId, value, beneficiary, buyerReference, priceFen);
        uint256 retirementId = tickets.retire(shelfTokenId, value, beneficiary, PURPOSE_VOLUNTARY, "");
        _finishSale(saleId, retirementId, beneficiary);
    }

    /// @notice Sells `amount` of credits of `batchId` on the caller's shelf and retires them at
    /// once for `beneficiary` (purpose Voluntary). Retail seats only, from their own stock.
    /// @param batchId A batch on the caller's shelf.
    /// @param amount Micro-tonnes: at least one kilogram, a whole number of kilograms.
    /// @param beneficiary The buyer, as named on the certificate.
    /// @param buyerReference The shop's receipt or buyer reference (stored as its hash).
    /// @param priceFen What the buyer paid, in fen.
    /// @return saleId The sale; its retirement id is in the sale record and the event.
    function sellCredits(
        uint256 batchId,
        uint256 amount,
        string calldata beneficiary,
        string calldata buyerReference,
        uint256 priceFen
    ) external onlyRole(Roles.RETAIL) nonReentrant returns (uint256 saleId) {
        address seat = _msgSender();
        saleId = _recordSale(seat, AssetKind.Credit, batchId, amount, beneficiary, buyerReference, priceFen);
        uint256 retirementId = IRetiringCredits(address(credits)).retire(
            batchId, amount, beneficiary, PURPOSE_VOLUNTARY, ""
        );
        _finishSale(saleId, retirementId, beneficiary);
    }

    // -- withdrawing ---------------------------------------------------------------------------

    /// @notice Takes `value` of a ticket on the caller's shelf back: the whole ticket (its id
    /// kept) when `value` is all that is left of it, otherwise a new ticket split off to the
    /// caller. Retail seats only, from their own stock.
    /// @param shelfTokenId A ticket on the caller's shelf.
    /// @param value Micro-tonnes to withdraw; at most what is on the shelf.
    /// @return toTokenId The ticket the caller received.
    function withdrawTicket(uint256 shelfTokenId, uint256 value)
        external
        onlyRole(Roles.RETAIL)
        nonReentrant
        returns (uint256 toTokenId)
    {
        address seat = _msgSender();
        if (_shelfSeat[shelfTokenId] != seat) revert NotSeatStock(seat, shelfTokenId);
        Lot storage lot = _lots[seat][AssetKind.Ticket][shelfTokenId];
        _removeStock(lot, value);
        lot.withdrawn += uint128(value);
        bool whole = lot.onShelf == 0;
        if (whole) delete _shelfSeat[shelfTokenId];
        if (whole) {
            toTokenId = shelfTokenId;
            tickets.transferFrom(address(this), seat, shelfTokenId);
        } else {
            toTokenId = tickets.transferFrom(shelfTokenId, seat, value);
        }
        emit Withdrawn(seat, AssetKind.Ticket, shelfTokenId, toTokenId, value);
    }

    /// @notice Takes `amount` of the caller's unsold credits of `batchId` back. Retail seats
    /// only, from their own stock.
    /// @param batchId A batch on the caller's shelf.
    /// @param amount Micro-tonnes to withdraw; at most what is on the shelf.
    function withdrawCredits(uint256 batchId, uint256 amount) external onlyRole(Roles.RETAIL) nonReentrant {
        address seat = _msgSender();
        Lot storage lot = _lots[seat][AssetKind.Credit][batchId];
        _removeStock(lot, amount);
        lot.withdrawn += uint128(amount);
        emit Withdrawn(seat, AssetKind.Credit, batchId, 0, amount);
        credits.safeTransferFrom(address(this), seat, batchId, amount, "");
    }

    // -- views ---------------------------------------------------------------------------------

    /// @notice A seat's lot of a shelf ticket (kind 0) or a credit batch (kind 1).
    function lotOf(address seat, AssetKind kind, uint256 assetId) external view returns (Lot memory) {
        return _lots[seat][kind][assetId];
    }

    /// @notice The seat whose shelf holds ticket `tokenId` (zero when none).
    function shelfSeatOf(uint256 tokenId) external view returns (address) {
        return _shelfSeat[tokenId];
    }

    /// @notice Every ticket a seat ever put on its shelf (see `lotOf` for what is left).
    function shelfTicketsOf(address seat) external view returns (uint256[] memory) {
        return _shelfTickets[seat];
    }

    /// @notice Every batch a seat ever put on its shelf (see `lotOf` for what is left).
    function shelfBatchesOf(address seat) external view returns (uint256[] memory) {
        return _shelfBatches[seat];
    }

    /// @notice A sale's record.
    function getSale(uint256 saleId) external view returns (Sale memory) {
        Sale memory s = _sales[saleId];
        if (s.seat == address(0)) revert UnknownSale(saleId);
        return s;
    }

    /// @notice Every sale of a seat.
    function salesOfSeat(address seat) external view returns (uint256[] memory) {
        return _salesOfSeat[seat];
    }

    /// @notice A seat's sales under one buyer reference (keccak256 of its text).
    function salesOfBuyer(address seat, bytes32 buyerReferenceHash) external view returns (uint256[] memory) {
        return _salesOfBuyer[seat][buyerReferenceHash];
    }

    /// @notice What a seat sold under one buyer reference: sales, micro-tonnes retired, fen.
    function buyerTotals(address seat, bytes32 buyerReferenceHash) external view returns (BuyerTotals memory) {
        return _buyerTotals[seat][buyerReferenceHash];
    }

    // -- receiving -----------------------------------------------------------------------------

    /// @notice Accepts ticket value only when the supermarket itself moved it (stocking).
    function onERC3525Received(address operator, uint256, uint256, uint256, bytes calldata)
        external
        view
        returns (bytes4)
    {
        _checkDelivery(address(tickets), operator);
        return IForestTicketReceiver.onERC3525Received.selector;
    }

    /// @notice Accepts credits only when the supermarket itself moved them (stocking).
    function onERC1155Received(address operator, address, uint256, uint256, bytes calldata)
        external
        view
        returns (bytes4)
    {
        _checkDelivery(address(credits), operator);
        return IERC1155Receiver.onERC1155Received.selector;
    }

    /// @notice The supermarket never takes batch transfers.
    function onERC1155BatchReceived(address operator, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        view
        returns (bytes4)
    {
        _checkDelivery(address(credits), operator);
        revert UnsolicitedTransfer(operator);
    }

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IERC1155Receiver).interfaceId || interfaceId == type(IERC165).interfaceId
            || interfaceId == type(IForestTicketReceiver).interfaceId;
    }

    // -- internals -----------------------------------------------------------------------------

    function _addStock(Lot storage lot, uint256 value) private {
        uint128 v = SafeCast.toUint128(value);
        lot.onShelf += v;
        lot.stocked += v;
    }

    /// @dev Takes `value` (positive, at most what is on the shelf) off a lot.
    function _removeStock(Lot storage lot, uint256 value) private {
        if (value == 0) revert ZeroValue();
        uint256 available = lot.onShelf;
        if (value > available) revert InsufficientStock(available, value);
        lot.onShelf = uint128(available - value);
    }

    /// @dev Checks a sale and records it (all but its retirement id) before the retirement.
    function _recordSale(
        address seat,
        AssetKind kind,
        uint256 assetId,
        uint256 value,
        string calldata beneficiary,
        string calldata buyerReference,
        uint256 priceFen
    ) private returns (uint256 saleId) {
        if (value < KILOGRAM) revert BelowRetailMinimum(value, KILOGRAM);
        if (value % KILOGRAM != 0) revert NotWholeKilogram(value);
        if (bytes(beneficiary).length == 0) revert EmptyBeneficiary();
        if (bytes(buyerReference).length == 0) revert EmptyBuyerReference();
        if (priceFen == 0 || priceFen > type(uint96).max) revert InvalidPrice(priceFen);
        Lot storage lot = _lots[seat][kind][assetId];
        _removeStock(lot, value);
        lot.sold += uint128(value);
        bytes32 refHash = keccak256(bytes(buyerReference));
        saleId = ++saleCount;
        _sales[saleId] = Sale({
            seat: seat,
            kind: kind,
            assetId: SafeCast.toUint64(assetId),
            retirementId: 0,
            value: SafeCast.toUint96(value),
            priceFen: uint96(priceFen),
            buyerReferenceHash: refHash
        });
        _salesOfSeat[seat].push(saleId);
        _salesOfBuyer[seat][refHash].push(saleId);
        BuyerTotals storage t = _buyerTotals[seat][refHash];
        t.sales += 1;
        t.value += uint96(value);
        t.priceFen += uint96(priceFen);
    }

    /// @dev Stores the register's retirement id of a sale and announces it.
    function _finishSale(uint256 saleId, uint256 retirementId, string calldata beneficiary) private {
        Sale storage s = _sales[saleId];
        s.retirementId = SafeCast.toUint64(retirementId);
        emit RetailSale(
            s.seat, s.buyerReferenceHash, s.kind, s.assetId, retirementId, s.value, s.priceFen, beneficiary, saleId
        );
    }

    function _checkDelivery(address asset, address operator) private view {
        if (msg.sender != asset) revert NotAssetContract(msg.sender);
        if (operator != address(this)) revert UnsolicitedTransfer(operator);
    }
}
