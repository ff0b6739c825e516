"""What the exchange has reserved, as every route that moves credits or cash out of an account
sees it (exchange/reservations.py): the exchange's service when it runs in this process, else
the shared table the exchange process keeps.

Transfers, retirements, relayed calls and cash withdrawals may spend only what is free: the
balance on chain less the reservations of open sells and unsettled sales (credits of a batch)
or of open buys and unsettled purchases (cash). Otherwise `409 reserved_by_exchange`, and
nothing is sent: the reserved credits or cash would make the exchange's trades fail
settlement. (A member holding its own key can still move them with a transaction of its own,
outside the API; the settlement worker then fails only the trades that cannot settle.)
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from fastapi import Request
from web3.exceptions import Web3Exception

from api.errors import ApiError
from api.onchain import ChainView
from core.units import format_units
from exchange.reservations import CASH, Key, SharedReservations
from exchange.service import ExchangeService


def _service(request: Request) -> ExchangeService | None:
    return getattr(request.app.state, "exchange", None)


def reserved(request: Request, account: str, batch_id: int) -> int:
    """Reserved credit units of `batch_id` of `account`, or reserved fen for CASH."""
    a = to_checksum_address(account)
    service = _service(request)
    if service is not None:
        reads = service.reads
        return reads.reserved_cash(a) if batch_id == CASH else reads.reserved_credits(a, batch_id)
    return SharedReservations(request.app.state.engine).reserved(a, batch_id)


def require_free(request: Request, account: str, batch_id: int, amount: int,
                 balance: int) -> None:
    """Refuses (409 reserved_by_exchange) to spend more than the free part of `balance`."""
    held = reserved(request, account, batch_id)
    free = balance - held
    if amount <= free:
        return
    what = "fen of cash" if batch_id == CASH else f"t of batch {batch_id}"
    shown = str(max(free, 0)) if batch_id == CASH else format_units(max(free, 0))
    raise ApiError(409, "reserved_by_exchange",
                   f"only {shown} {what} are free: the rest is reserved by the exchange's "
                   "open orders and unsettled trades",
                   {"account": to_checksum_address(account),
                    "batch_id": None if batch_id == CASH else batch_id, "balance": balance,
                    "reserved": held, "free": max(free, 0), "needed": amount})


def moved(request: Request, account: str) -> None:
    """After credits or cash left `account`: the exchange (in this process) reads its
    balances from the chain again on its next order."""
    service = _service(request)
    if service is not None:
        service.forget_balances(to_checksum_address(account))


def outflows(view: ChainView, sender: str, to: str, data: bytes) -> dict[Key, int]:
    """What a relayed call takes out of which accounts: CarbonCredits transfers and
    retirements (credits of each batch), CashToken transfers and withdrawals (cash)."""
    credits, cash = view.ledger.c("CarbonCredits"), view.ledger.c("CashToken")
    out: dict[Key, int] = {}

    def add(account: Any, batch_id: int, amount: Any) -> None:
        key = (to_checksum_address(account), int(batch_id))
        out[key] = out.get(key, 0) + int(amount)

    target = to_checksum_address(to)
    for contract in (credits, cash):
        if target != to_checksum_address(contract.address):
            continue
        try:
            fn, args = contract.decode_function_input(data)
        except (ValueError, Web3Exception):
            return {}
        name = fn.fn_name
        if contract is credits and name == "safeTransferFrom":
            add(args["from"], args["id"], args["value"])
        elif contract is credits and name == "safeBatchTransferFrom":
            for batch_id, amount in zip(args["ids"], args["values"], strict=False):
                add(args["from"], batch_id, amount)
        elif contract is credits and name == "retire":
            add(sender, args["batchId"], args["amount"])
        elif contract is cash and name == "transfer":
            add(sender, CASH, args["value"])
        elif contract is cash and name == "transferFrom":
            add(args["from"], CASH, args["value"])
        elif contract is cash and name == "withdraw":
            add(args["account"], CASH, args["amount"])
    return out


def require_free_outflows(request: Request, view: ChainView, flows: dict[Key, int]) -> None:
    for (account, batch_id), amount in flows.items():
        balance = view.cash_balance(account) if batch_id == CASH else view.balance(account,
                                                                                    batch_id)
        require_free(request, account, batch_id, amount, balance)
