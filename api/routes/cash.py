"""Exchange cash and trading approvals: the settlement bank books deposits and withdrawals of the
CNY deposit token (CashToken, in fen), and a member approves the Settlement contract to move its
credits and cash, without which none of its orders is accepted.

A withdrawal may not take cash the exchange has promised (open buy orders, unsettled
purchases; 409 reserved_by_exchange): those would then fail settlement. Custodial members
approve through the relayer (meta-transactions), so they need no gas.
"""

from __future__ import annotations

from typing import Annotated, Any

from eth_utils import keccak, to_checksum_address
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api import reserved
from api.auth import Caller, CallerDep, require_role
from api.deps import SettlementDep, ViewDep
from api.errors import ApiError
from api.fields import STRICT, Address
from api.onchain import ChainView
from api.read_access import ReaderDep, require_reader_of
from exchange.onchain import SettlementChain
from exchange.reservations import CASH
from exchange.service import ExchangeService

router = APIRouter(prefix="/v1/exchange", tags=["exchange cash and approvals"])

MAX_ALLOWANCE = 2**256 - 1


class CashIn(BaseModel):
    model_config = STRICT

    account: Address
    amount_fen: Annotated[int, Field(ge=1, le=10**18)]
    # the bank's own reference of the payment (kept on chain as its keccak-256 hash)
    reference: str = Field(min_length=1, max_length=200)


def _exchange(request: Request) -> ExchangeService | None:
    return getattr(request.app.state, "exchange", None)


def _cash(view: ChainView, account: str) -> int:
    return view.cash_balance(to_checksum_address(account))


def _reserved(request: Request, account: str) -> int:
    return reserved.reserved(request, account, CASH)


@router.get("/cash/{address}")
def cash(address: Address, request: Request, view: ViewDep,
         reader: ReaderDep) -> dict[str, Any]:
    """A member's cash in fen: on chain, promised to the exchange (open buys at their limit
    with the taker fee, unsettled purchases) and free to trade or withdraw. The member's own
    (API key or read token) or the regulator's (api/read_access.py)."""
    require_reader_of(view, reader, address)
    balance, held = _cash(view, address), _reserved(request, address)
    return {"account": to_checksum_address(address), "balance_fen": balance,
            "reserved_fen": held, "free_fen": max(balance - held, 0)}


@router.post("/cash/deposits", status_code=201)
def deposit(body: CashIn, request: Request, caller: CallerDep, view: ViewDep,
            settlement: SettlementDep) -> dict[str, Any]:
    """Books a member's incoming payment: mints that many fen to the member. Settlement bank."""
    require_role(view, caller, "BANK")
    if not view.is_member(body.account):
        raise ApiError(409, "not_a_member", "only consortium members hold exchange cash",
                       {"account": body.account})
    return _book("deposit", body, caller, view, settlement)


@router.post("/cash/withdrawals", status_code=201)
def withdraw(body: CashIn, request: Request, caller: CallerDep, view: ViewDep,
             settlement: SettlementDep) -> dict[str, Any]:
    """Books a payout to a member: burns that many fen, never cash the exchange has promised.
    Settlement bank."""
    require_role(view, caller, "BANK")
    balance = _cash(view, body.account)
    if body.amount_fen > balance:
        raise ApiError(409, "insufficient_balance", "not enough cash to withdraw",
                       {"balance_fen": balance, "needed_fen": body.amount_fen})
    reserved.require_free(request, body.account, CASH, body.amount_fen, balance)
    out = _book("withdraw", body, caller, view, settlement)
    reserved.moved(request, body.account)
    return out


def _book(fn: str, body: CashIn, caller: Caller, view: ChainView,
          settlement: SettlementChain) -> dict[str, Any]:
    """CashToken.deposit or .withdraw as the bank, with the payment reference's hash."""
    book = settlement.deposit if fn == "deposit" else settlement.withdraw
    sent = book(caller.key(), body.account, body.amount_fen, keccak(text=body.reference))
    return {"tx_hash": sent.tx_hash, "account": to_checksum_address(body.account),
            "amount_fen": body.amount_fen, "balance_fen": _cash(view, body.account)}


@router.post("/approvals", status_code=201)
def approve(request: Request, caller: CallerDep, view: ViewDep,
            settlement: SettlementDep) -> dict[str, Any]:
    """Approves the Settlement contract for the caller's credits, forest tickets and cash (what
    every trader does once before trading). Any member, with its API key."""
    require_role(view, caller, "MEMBER")
    sent = settlement.approve_trading(caller.key(), MAX_ALLOWANCE, only_missing=False)
    service = _exchange(request)
    if service is not None:
        service.forget_balances(caller.address)  # the next order reads the new approval
    return {"account": caller.address, "settlement": str(settlement.settlement.address),
            "tx_hashes": [s.tx_hash for s in sent]}
