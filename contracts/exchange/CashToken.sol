// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ConsortiumGated} from "../access/ConsortiumGated.sol";
import {Roles} from "../access/Roles.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {ISettlementCash} from "../interfaces/ISettlementCash.sol";

/// @title CashToken
/// @notice A permissioned CNY deposit token issued by the settlement bank: 1 token unit = 1 fen
/// (0.01 CNY), `decimals()` = 2. The bank mints against a deposit received and burns on a
/// withdrawal paid out; only active, unfrozen consortium members hold, send or receive it.
/// Trades move it through `settlementTransfer`, which only the Settlement contract may call:
/// Settlement checks every trader against the roster once per batch, before moving anything of
/// theirs, so that path skips the per-transfer checks (a frozen account still never moves cash).
contract CashToken is ERC20, ConsortiumGated, ISettlementCash {
    /// @notice The only contract that may call `settlementTransfer`.
    address public immutable settlement;

    /// @dev Amount must be positive.
    error ZeroAmount();
    /// @dev A deposit or withdrawal needs the bank's reference (non-zero hash).
    error MissingReference();
    /// @dev Only the Settlement contract moves cash for trades.
    error NotSettlementContract(address caller);

    /// @notice The bank credited a deposit.
    event Deposited(address indexed account, uint256 amount, bytes32 indexed paymentRef, address indexed bank);
    /// @notice The bank debited a withdrawal.
    event Withdrawn(address indexed account, uint256 amount, bytes32 indexed paymentRef, address indexed bank);

    /// @param settlement_ The Settlement contract (deployed next; its address is known ahead).
    constructor(IConsortium consortium_, address trustedForwarder, address settlement_)
        ERC20(unicode"Tanhui CNY deposit token 碳汇人民币存款代币", "CNYT")
        ConsortiumGated(consortium_, trustedForwarder)
    {
        if (settlement_ == address(0)) revert ZeroAddressArgument();
        settlement = settlement_;
    }

    /// @notice Fen, as the bank books them.
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Credits `amount` fen to a member against a deposit received. Bank only.
    /// @param account The member whose deposit arrived.
    /// @param amount Fen.
    /// @param paymentRef The bank's reference of the incoming payment (hash).
    function deposit(address account, uint256 amount, bytes32 paymentRef) external onlyRole(Roles.BANK) {
        if (amount == 0) revert ZeroAmount();
        if (paymentRef == bytes32(0)) revert MissingReference();
        _mint(account, amount);
        emit Deposited(account, amount, paymentRef, _msgSender());
    }

    /// @notice Debits `amount` fen from a member for a withdrawal paid out. Bank only.
    /// @param account The member withdrawing.
    /// @param amount Fen.
    /// @param paymentRef The bank's reference of the outgoing payment (hash).
    function withdraw(address account, uint256 amount, bytes32 paymentRef) external onlyRole(Roles.BANK) {
        if (amount == 0) revert ZeroAmount();
        if (paymentRef == bytes32(0)) revert MissingReference();
        _burn(account, amount);
        emit Withdrawn(account, amount, paymentRef, _msgSender());
    }

    /// @notice Moves `value` fen from `from` to `to` for a trade, within `from`'s allowance to
    /// the Settlement contract. Settlement only: it has checked, in the same transaction and
    /// before this call, that both are active, unfrozen members (once per trader per batch).
    /// @param from The paying trader.
    /// @param to The seller, or the fee account.
    /// @param value Fen.
    function settlementTransfer(address from, address to, uint256 value) external {
        if (msg.sender != settlement) revert NotSettlementContract(msg.sender);
        _spendAllowance(from, msg.sender, value);
        super._update(from, to, value);
    }

    /// @dev Every holder at both ends must be an active, unfrozen member; so must a spender.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) consortium.requireHolder(from);
        if (to != address(0)) consortium.requireHolder(to);
        super._update(from, to, value);
    }

    /// @notice Moves `value` fen from `from` to `to` within the caller's allowance. The caller
    /// must be an active, unfrozen member, as must both holders.
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        consortium.requireHolder(_msgSender());
        return super.transferFrom(from, to, value);
    }

    /// @dev Only members approve, and only members may be approved as spenders.
    function _approve(address owner, address spender, uint256 value, bool emitEvent) internal override {
        if (value != 0 && emitEvent) {
            consortium.requireRole(Roles.MEMBER, owner);
            consortium.requireRole(Roles.MEMBER, spender);
        }
        super._approve(owner, spender, value, emitEvent);
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
