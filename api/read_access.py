"""Who may read a member's private exchange data: its orders, fills (with counterparties),
nonces and cash.

Public market data (depth, trades tape, candles, stats, the stream) is anonymous. A member's
own data is for the member and the regulator only: who holds what and trades with whom is what
a competitor would front-run. A reader proves who it is with either

- its API key (`Authorization: Bearer` or `X-API-Key`, api/auth.py), or
- a read token, for members that keep their own key and hold no API key:
  `X-Read-Token: <account>:<expiry>:<signature>`, the account's EIP-712 signature of
  `ReadAccount(address account,uint64 expiry)` under the exchange's domain (the one orders
  use; exchange/signing.py), with `expiry` (unix seconds) in the future and at most
  `MAX_READ_TOKEN_TTL_S` ahead. It is a bearer credential for that short while: it names no
  route, so anyone who sees it reads what the account may read until it expires.

and may then read its own account, or any account if it holds the regulator role on chain
(frozen accounts act in no role, but still read their own data).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.auth import authenticate
from api.deps import ViewDep, get_session
from api.errors import ApiError
from api.onchain import ChainView
from chain.signatures import checksum
from exchange.signing import Domain, read_signer

MAX_READ_TOKEN_TTL_S = 3_600
READ_TOKEN_HEADER = "X-Read-Token"
_TOKEN = re.compile(r"^(0x[0-9a-fA-F]{40}):([0-9]{1,20}):0x([0-9a-fA-F]{130})$")


@dataclass(frozen=True)
class Reader:
    """An authenticated reader: the account it is, and how it proved it."""

    address: str
    by: Literal["api_key", "read_token"]


def _token_error(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Bearer"})


def exchange_domain(request: Request, view: ChainView) -> Domain:
    """The exchange's EIP-712 domain (also when this API runs without the exchange)."""
    service = getattr(request.app.state, "exchange", None)
    if service is not None:
        domain: Domain = service.domain
        return domain
    return Domain(view.ledger.chain.chain_id, str(view.ledger.c("Settlement").address))


def _from_token(token: str, domain: Domain) -> Reader:
    m = _TOKEN.match(token.strip())
    if m is None:
        raise _token_error("invalid_read_token",
                           f"{READ_TOKEN_HEADER} is <account>:<expiry>:<0x signature>")
    account, expiry = checksum(m.group(1)), int(m.group(2))
    now = int(time.time())
    if expiry <= now:
        raise _token_error("read_token_expired", "the read token has expired: sign a new one")
    if expiry > now + MAX_READ_TOKEN_TTL_S or expiry >= 2**64:
        raise _token_error("invalid_read_token", "a read token lives at most "
                           f"{MAX_READ_TOKEN_TTL_S} s: sign one with a nearer expiry")
    signer = read_signer(account, expiry, bytes.fromhex(m.group(3)), domain)
    if signer is None or signer.lower() != account.lower():
        raise _token_error("invalid_read_token", "the read token is not signed by its account")
    return Reader(account, "read_token")


def reader(request: Request, session: Annotated[Session, Depends(get_session)],
           view: ViewDep) -> Reader:
    """The caller as a reader: by API key if one is presented, else by read token; 401
    `unauthenticated` with neither."""
    has_key = request.headers.get("authorization") or request.headers.get("x-api-key")
    token = request.headers.get(READ_TOKEN_HEADER)
    if has_key:
        caller = authenticate(request, session)  # 401 unauthenticated for an invalid key
        return Reader(checksum(caller.address), "api_key")
    if token is None:
        raise _token_error("unauthenticated", "a member's own data needs its API key or an "
                           f"{READ_TOKEN_HEADER} signed by the account")
    return _from_token(token, exchange_domain(request, view))


ReaderDep = Annotated[Reader, Depends(reader)]


def require_reader_of(view: ChainView, who: Reader, account: str) -> None:
    """403 `forbidden_account` unless `who` is `account` itself or holds the regulator role."""
    if who.address.lower() == account.lower() or view.has_role("REGULATOR", who.address):
        return
    raise ApiError(403, "forbidden_account", "a member's orders, fills and cash are for the "
                   "member and the regulator", {"account": checksum(account),
                                                "reader": who.address})
