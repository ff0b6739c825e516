"""Who is calling, and may they.

Authentication is an API key (`Authorization: Bearer <key>` or `X-API-Key: <key>`), looked up by
its SHA-256. Authorization is by on-chain role: the roster on the chain is the only source of
truth for who is a regulator or a verifier, so a role granted or revoked on chain takes effect
in the API at once. The check happens before anything is sent (403 `forbidden_role`), and the
contracts enforce it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from eth_account.signers.local import LocalAccount
from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.custody import CustodyError, Vault, hash_api_key
from api.deps import get_session
from api.errors import ApiError
from api.models import ApiAccount
from api.onchain import ChainView

ROLE_LABELS = {
    "GOVERNANCE": "governance",
    "MEMBER": "member",
    "REGULATOR": "regulator",
    "REGISTRY_OPERATOR": "registry_operator",
    "VERIFIER": "verifier",
    "ORACLE": "oracle",
    "EXCHANGE": "exchange",
    "BANK": "bank",
    "AUTHORITY": "authority",
    "FORESTRY": "forestry",
    "RETAIL": "retail",
}


@dataclass(frozen=True)
class Caller:
    """An authenticated API account; `signer` is its decrypted key if custodial."""

    account_id: int
    name: str
    address: str
    signer: LocalAccount | None

    def key(self) -> LocalAccount:
        """The key the API signs with for this caller; own-key accounts must relay instead."""
        if self.signer is None:
            raise ApiError(
                403,
                "not_custodial",
                "this account keeps its own key: sign a ForwardRequest and POST it to /v1/relay",
                {"address": self.address},
            )
        return self.signer


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated("Authorization must be `Bearer <api key>`")
        return token.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key is not None else None


def authenticate(
    request: Request, session: Annotated[Session, Depends(get_session)]
) -> Caller:
    key = _presented_key(request)
    if not key:
        raise _unauthenticated("an API key is required (Authorization: Bearer or X-API-Key)")
    row = session.scalar(select(ApiAccount).where(ApiAccount.api_key_hash == hash_api_key(key)))
    if row is None or not row.active:
        raise _unauthenticated("the API key is not valid")
    signer = None
    if row.encrypted_key is not None:
        vault: Vault = request.app.state.vault
        try:
            signer = vault.open(row.address, row.encrypted_key)
        except CustodyError:
            raise ApiError(
                500, "custody_error", "the custodial key of this account cannot be used"
            ) from None
    request.state.caller_address = row.address
    return Caller(row.id, row.name, row.address, signer)


CallerDep = Annotated[Caller, Depends(authenticate)]


def require_role(view: ChainView, caller: Caller, *roles: str) -> None:
    """403 `forbidden_role` unless the caller is an active member holding one of `roles`
    (chain role names, e.g. "REGULATOR"; "MEMBER" means any active member); 409
    `account_frozen` for a frozen caller, whatever roles it holds."""
    if any(view.has_role(role, caller.address) for role in roles):
        return
    if view.is_frozen(caller.address):  # a frozen account acts in no role
        raise ApiError(409, "account_frozen",
                       f"account {caller.address} is frozen by the regulator and acts in no role",
                       {"address": caller.address})
    names = [ROLE_LABELS[r] for r in roles]
    raise ApiError(
        403,
        "forbidden_role",
        f"requires the {' or '.join(names)} role on chain",
        {"required_role": names[0] if len(names) == 1 else names, "address": caller.address},
    )
