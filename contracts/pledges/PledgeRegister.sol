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
import {IForestTickets} from "../interfaces/IForestTickets.sol";

/// @title PledgeRegister
/// @notice The public register of pledges (质押) of forest-ticket value and of credits to banks.
/// A holder pledges value of a ticket, or an amount of a credit batch, to a bank-role member for
/// a loan (its reference hash, amount in fen, maturity). The register holds pledged value in
/// escrow: it leaves the pledgor's hands, so it can be neither transferred, split, traded,
/// retired nor pledged a second time, by construction, and the register's holdings of each
/// ticket slot and each batch equal what is pledged of it. The pledge's bank releases it on
/// repayment (the value goes back to the pledgor) or, from maturity on, forecloses (the value
/// goes to the bank). Every lien is public — by asset, by bank and by pledgor — so a second
/// lender sees it before lending. The register is a consortium member (it holds assets) and the
/// pledgor approves it as operator on ForestTickets or CarbonCredits before pledging; it accepts
/// only the transfers it makes itself.
contract PledgeRegister is ConsortiumGated, ReentrancyGuardTransient, IERC1155Receiver, IForestTicketReceiver {
    /// @notice What is pledged: ticket value (asset id = the ticket's slot) or credits (asset id = the batch).
    enum AssetKind {
        Ticket,
        Credit
    }

    /// @notice Where a pledge stands.
    enum Status {
        None,
        Active,
        Released,
        Foreclosed
    }

    /// @notice A pledge. `assetId`: the ticket's slot or the credit batch; `tokenId`: the ticket
    /// the register holds in escrow (0 for credits); `value` in micro-tonnes; `amountFen` the
    /// loan amount (CNY fen); `maturity` when the bank may foreclose (unix seconds).
    struct Pledge {
        address pledgor;
        uint64 maturity;
        AssetKind kind;
        Status status;
        address bank;
        uint96 amountFen;
        uint64 assetId;
        uint64 tokenId;
        uint128 value;
        bytes32 loanReference;
    }

    IERC1155 public immutable credits;
    IForestTickets public immutable tickets;

    /// @notice Number of pledges ever made (ids are 1..pledgeCount).
    uint256 public pledgeCount;

    mapping(uint256 pledgeId => Pledge) private _pledges;
    mapping(AssetKind kind => mapping(uint256 assetId => uint256 value)) private _pledged;
    mapping(AssetKind kind => mapping(uint256 assetId => uint256[] pledgeIds)) private _byAsset;
    mapping(address bank => uint256[] pledgeIds) private _byBank;
    mapping(address pledgor => uint256[] pledgeIds) private _byPledgor;

    /// @dev The pledge does not exist.
    error UnknownPledge(uint256 pledgeId);
    /// @dev The pledge is not active (already released or foreclosed).
    error PledgeNotActive(uint256 pledgeId, Status status);
    /// @dev Only the pledge's own bank releases or forecloses it.
    error NotPledgeBank(uint256 pledgeId, address caller);
    /// @dev The pledge matures at `maturity`: no foreclosure before.
    error NotMatured(uint256 pledgeId, uint64 maturity);
    /// @dev The lender must be an unfrozen member holding the bank role.
    error NotABank(address bank);
    /// @dev A bank cannot take its own assets as pledge.
    error SelfPledge(address account);
    /// @dev The pledged value must be positive.
    error ZeroValue();
    /// @dev The loan reference hash is zero.
    error ZeroLoanReference();
    /// @dev The loan amount must be positive and fit 96 bits.
    error InvalidLoanAmount(uint256 amountFen);
    /// @dev The maturity is not in the future.
    error MaturityInPast(uint64 maturity);
    /// @dev The caller does not own the ticket.
    error NotTicketOwner(address caller, uint256 tokenId);
    /// @dev The pledgor holds less than it pledges.
    error InsufficientHolding(uint256 held, uint256 requested);
    /// @dev Only ForestTickets and CarbonCredits deliver assets to the register.
    error NotAssetContract(address caller);
    /// @dev The register accepts only the transfers it makes itself.
    error UnsolicitedTransfer(address operator);

    /// @notice A pledge was registered; its value is in the register's escrow.
    event Pledged(
        uint256 indexed pledgeId,
        address indexed pledgor,
        address indexed bank,
        AssetKind kind,
        uint256 assetId,
        uint256 sourceTokenId,
        uint256 tokenId,
        uint256 value,
        bytes32 loanReference,
        uint256 amountFen,
        uint64 maturity
    );
    /// @notice The bank released a pledge on repayment; the value went back to the pledgor.
    event PledgeReleased(uint256 indexed pledgeId, address indexed pledgor, address indexed bank, uint256 value);
    /// @notice The bank foreclosed a matured pledge; the value went to the bank.
    event PledgeForeclosed(uint256 indexed pledgeId, address indexed pledgor, address indexed bank, uint256 value);

    constructor(IConsortium consortium_, IERC1155 credits_, IForestTickets tickets_, address trustedForwarder)
        ConsortiumGated(consortium_, trustedForwarder)
    {
        if (address(credits_) == address(0) || address(tickets_) == address(0)) revert ZeroAddressArgument();
        credits = credits_;
        tickets = tickets_;
    }

    // -- pledging ----------------------------------------------------------------------------

    /// @notice Pledges `value` of the caller's ticket to `bank`. The whole ticket moves into
    /// escrow when `value` is all of it (it keeps its id), otherwise `value` is split off into a
    /// new ticket the register holds. Holders only, having approved the register as operator on
    /// ForestTickets.
    /// @param tokenId The caller's ticket.
    /// @param value Micro-tonnes pledged; at most the ticket's value.
    /// @param bank The lender, a bank-role member other than the caller.
    /// @param loanReference Hash of the loan contract.
    /// @param amountFen The loan amount in fen.
    /// @param maturity When the loan falls due (unix seconds, in the future).
    /// @return pledgeId The new pledge.
    function pledgeTicket(
        uint256 tokenId,
        uint256 value,
        address bank,
        bytes32 loanReference,
        uint256 amountFen,
        uint64 maturity
    ) external nonReentrant returns (uint256 pledgeId) {
        _checkTerms(_msgSender(), value, bank, loanReference, amountFen, maturity);
        (uint256 slot, uint256 escrowId) = _escrowTicket(tokenId, value);
        pledgeId =
            _record(AssetKind.Ticket, slot, escrowId, value, _msgSender(), bank, loanReference, amountFen, maturity);
        _emitPledged(pledgeId, tokenId);
    }

    /// @notice Pledges `amount` of the caller's credits of `batchId` to `bank`. Holders only,
    /// having approved the register as operator on CarbonCredits.
    /// @param batchId The credit batch.
    /// @param amount Micro-tonnes pledged; at most the caller's balance of the batch.
    /// @param bank The lender, a bank-role member other than the caller.
    /// @param loanReference Hash of the loan contract.
    /// @param amountFen The loan amount in fen.
    /// @param maturity When the loan falls due (unix seconds, in the future).
    /// @return pledgeId The new pledge.
    function pledgeCredits(
        uint256 batchId,
        uint256 amount,
        address bank,
        bytes32 loanReference,
        uint256 amountFen,
        uint64 maturity
    ) external nonReentrant returns (uint256 pledgeId) {
        address pledgor = _msgSender();
        _checkTerms(pledgor, amount, bank, loanReference, amountFen, maturity);
        uint256 held = credits.balanceOf(pledgor, batchId);
        if (amount > held) revert InsufficientHolding(held, amount);
        pledgeId = _record(AssetKind.Credit, batchId, 0, amount, pledgor, bank, loanReference, amountFen, maturity);
        _emitPledged(pledgeId, 0);
        credits.safeTransferFrom(pledgor, address(this), batchId, amount, "");
    }

    // -- release and foreclosure -------------------------------------------------------------

    /// @notice Releases a pledge on repayment: the value goes back to the pledgor (an unfrozen
    /// member). The pledge's own bank only, at any time.
    /// @param pledgeId An active pledge of the caller.
    function release(uint256 pledgeId) external onlyRole(Roles.BANK) nonReentrant {
        Pledge storage p = _activeOfCaller(pledgeId);
        _close(p, Status.Released);
        emit PledgeReleased(pledgeId, p.pledgor, p.bank, p.value);
        _deliver(p, p.pledgor);
    }

    /// @notice Forecloses a matured pledge on default: the value goes to the bank. The pledge's
    /// own bank only, from maturity on.
    /// @param pledgeId An active, matured pledge of the caller.
    function foreclose(uint256 pledgeId) external onlyRole(Roles.BANK) nonReentrant {
        Pledge storage p = _activeOfCaller(pledgeId);
        if (block.timestamp < p.maturity) revert NotMatured(pledgeId, p.maturity);
        _close(p, Status.Foreclosed);
        emit PledgeForeclosed(pledgeId, p.pledgor, p.bank, p.value);
        _deliver(p, p.bank);
    }

    // -- views -------------------------------------------------------------------------------

    /// @notice A pledge's full record.
    function getPledge(uint256 pledgeId) external view returns (Pledge memory) {
        Pledge memory p = _pledges[pledgeId];
        if (p.status == Status.None) revert UnknownPledge(pledgeId);
        return p;
    }

    /// @notice Value (micro-tonnes) under active pledge of a ticket slot (kind 0) or a credit
    /// batch (kind 1); the register holds exactly this much of it.
    function pledgedOf(AssetKind kind, uint256 assetId) external view returns (uint256) {
        return _pledged[kind][assetId];
    }

    /// @notice Every pledge (active or closed) ever made of a ticket slot or a credit batch.
    function pledgesOfAsset(AssetKind kind, uint256 assetId) external view returns (uint256[] memory) {
        return _byAsset[kind][assetId];
    }

    /// @notice Every pledge ever made to `bank`.
    function pledgesOfBank(address bank) external view returns (uint256[] memory) {
        return _byBank[bank];
    }

    /// @notice Every pledge ever made by `pledgor`.
    function pledgesOfPledgor(address pledgor) external view returns (uint256[] memory) {
        return _byPledgor[pledgor];
    }

    // -- receiving ---------------------------------------------------------------------------

    /// @notice Accepts ticket value only when the register itself moved it (a pledge).
    function onERC3525Received(address operator, uint256, uint256, uint256, bytes calldata)
        external
        view
        returns (bytes4)
    {
        _checkDelivery(address(tickets), operator);
        return IForestTicketReceiver.onERC3525Received.selector;
    }

    /// @notice Accepts credits only when the register itself moved them (a pledge).
    function onERC1155Received(address operator, address, uint256, uint256, bytes calldata)
        external
        view
        returns (bytes4)
    {
        _checkDelivery(address(credits), operator);
        return IERC1155Receiver.onERC1155Received.selector;
    }

    /// @notice The register never takes batch transfers.
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

    // -- internals ---------------------------------------------------------------------------

    function _checkTerms(
        address pledgor,
        uint256 value,
        address bank,
        bytes32 loanReference,
        uint256 amountFen,
        uint64 maturity
    ) private view {
        consortium.requireHolder(pledgor);
        if (value == 0) revert ZeroValue();
        if (!consortium.isAuthorized(Roles.BANK, bank)) revert NotABank(bank);
        if (bank == pledgor) revert SelfPledge(bank);
        if (loanReference == bytes32(0)) revert ZeroLoanReference();
        if (amountFen == 0 || amountFen > type(uint96).max) revert InvalidLoanAmount(amountFen);
        if (maturity <= block.timestamp) revert MaturityInPast(maturity);
    }

    function _record(
        AssetKind kind,
        uint256 assetId,
        uint256 tokenId,
        uint256 value,
        address pledgor,
        address bank,
        bytes32 loanReference,
        uint256 amountFen,
        uint64 maturity
    ) private returns (uint256 pledgeId) {
        pledgeId = ++pledgeCount;
        _pledges[pledgeId] = Pledge({
            pledgor: pledgor,
            maturity: maturity,
            kind: kind,
            status: Status.Active,
            bank: bank,
            amountFen: uint96(amountFen),
            assetId: SafeCast.toUint64(assetId),
            tokenId: SafeCast.toUint64(tokenId),
            value: SafeCast.toUint128(value),
            loanReference: loanReference
        });
        _pledged[kind][assetId] += value;
        _byAsset[kind][assetId].push(pledgeId);
        _byBank[bank].push(pledgeId);
        _byPledgor[pledgor].push(pledgeId);
    }

    /// @dev Moves `value` of the caller's ticket into escrow: the ticket itself when it is all of
    /// it, otherwise a new ticket split off to the register. The slot and the escrowed ticket.
    function _escrowTicket(uint256 tokenId, uint256 value) private returns (uint256 slot, uint256 escrowId) {
        address pledgor = _msgSender();
        if (tickets.ownerOf(tokenId) != pledgor) revert NotTicketOwner(pledgor, tokenId);
        uint256 held = tickets.balanceOf(tokenId);
        if (value > held) revert InsufficientHolding(held, value);
        slot = tickets.slotOf(tokenId);
        escrowId = tokenId;
        if (value == held) tickets.transferFrom(pledgor, address(this), tokenId);
        else escrowId = tickets.transferFrom(tokenId, address(this), value);
    }

    function _emitPledged(uint256 pledgeId, uint256 sourceTokenId) private {
        Pledge storage p = _pledges[pledgeId];
        emit Pledged(
            pledgeId,
            p.pledgor,
            p.bank,
            p.kind,
            p.assetId,
            sourceTokenId,
            p.tokenId,
            p.value,
            p.loanReference,
            p.amountFen,
            p.maturity
        );
    }

    /// @dev An active pledge of the calling bank.
    function _activeOfCaller(uint256 pledgeId) private view returns (Pledge storage p) {
        p = _pledges[pledgeId];
        if (p.status == Status.None) revert UnknownPledge(pledgeId);
        if (p.status != Status.Active) revert PledgeNotActive(pledgeId, p.status);
        address caller = _msgSender();
        if (caller != p.bank) revert NotPledgeBank(pledgeId, caller);
    }

    /// @dev Closes a pledge (effects before the delivery).
    function _close(Pledge storage p, Status to) private {
        p.status = to;
        _pledged[p.kind][p.assetId] -= p.value;
    }

    function _deliver(Pledge storage p, address to) private {
        if (p.kind == AssetKind.Ticket) tickets.transferFrom(address(this), to, p.tokenId);
        else credits.safeTransferFrom(address(this), to, p.assetId, p.value, "");
    }

    function _checkDelivery(address asset, address operator) private view {
        if (msg.sender != asset) revert NotAssetContract(msg.sender);
        if (operator != address(this)) revert UnsolicitedTransfer(operator);
    }
}
