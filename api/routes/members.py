"""Consortium membership: admitting and removing members (with their API key), granting and
revoking roles, freezes.

Each role holder keeps the others in check, and the contracts enforce it: only governance
removes a role holder or a contract member, removal revokes every role, a frozen account acts
in no role, and no oracle role is revoked below the attestation threshold. Governance itself
is handed over in two delayed steps on chain (`Consortium.beginDefaultAdminTransfer`, then the
successor's `acceptDefaultAdminTransfer`, e.g. through /v1/relay); it is not granted here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel
from sqlalchemy import select

from api import prechecks
from api.auth import ROLE_LABELS, CallerDep, require_role
from api.custody import provision_api_account
from api.deps import SessionDep, SettingsDep, VaultDep, ViewDep, WriterDep
from api.errors import ApiError
from api.fields import STRICT, ZERO_HASH, Address, Hash32, b32, checksum_path_address, text
from api.models import ApiAccount
from api.schemas import OptionalReason, ReasonIn, TxOut, tx

router = APIRouter(prefix="/v1/members", tags=["members"])

GrantableRole = Literal[
    "regulator", "registry_operator", "verifier", "oracle", "exchange", "bank", "authority",
    "forestry", "retail",
]
AddressPath = Annotated[str, Path(description="member account address")]


class MemberIn(BaseModel):
    model_config = STRICT

    name: Annotated[str, text(200)]
    address: Address | None = None
    profile_hash: Hash32 = ZERO_HASH


class MemberOut(TxOut):
    address: str
    name: str
    custodial: bool
    api_key: str


class RoleIn(BaseModel):
    model_config = STRICT

    role: GrantableRole


class RoleOut(TxOut):
    address: str
    role: str


class FreezeOut(TxOut):
    address: str
    frozen: bool


class RemovedOut(TxOut):
    address: str
    removed: bool
    revoked_roles: list[str]


@router.post("", status_code=201, response_model=MemberOut)
def admit_member(
    body: MemberIn,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    vault: VaultDep,
    view: ViewDep,
    writer: WriterDep,
) -> dict[str, object]:
    """Admits a member on chain and issues its API key (shown only in this response).

    With `address`, the member keeps its own key and acts through /v1/relay; without, the
    registry generates and keeps (encrypted) a custodial key for it. Governance or registry
    operator.
    """
    require_role(view, caller, "GOVERNANCE", "REGISTRY_OPERATOR")
    key = caller.key()
    if body.address is not None:
        if view.is_member(body.address):
            raise ApiError(409, "already_member", f"{body.address} is already a member",
                           {"address": body.address})
        if session.scalar(select(ApiAccount.id).where(ApiAccount.address == body.address)):
            raise ApiError(409, "api_account_exists",
                           f"{body.address} already has an API account",
                           {"address": body.address})
    try:
        made = provision_api_account(
            session, settings, body.name, address=body.address, vault=vault
        )
        sent = writer.admit(key, made.address, body.name, b32(body.profile_hash))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return {"address": made.address, "name": body.name, "custodial": made.custodial,
            "api_key": made.api_key, **tx(sent)}


@router.post("/{address}/roles", status_code=201, response_model=RoleOut)
def grant_role(
    address: AddressPath, body: RoleIn, caller: CallerDep, view: ViewDep, writer: WriterDep
) -> dict[str, object]:
    """Grants a role to a member. Governance."""
    member = checksum_path_address(address)
    require_role(view, caller, "GOVERNANCE")
    prechecks.member(view, member)
    role = body.role.upper()
    if view.holds_role(role, member):
        raise ApiError(409, "role_already_granted",
                       f"{member} already holds the {ROLE_LABELS[role]} role",
                       {"address": member, "role": body.role})
    sent = writer.grant_role(caller.key(), role, member)
    return {"address": member, "role": body.role, **tx(sent)}


@router.delete("/{address}/roles/{role}", response_model=RoleOut)
def revoke_role(
    address: AddressPath, role: Annotated[GrantableRole, Path(description="role name")],
    caller: CallerDep, view: ViewDep, writer: WriterDep,
) -> dict[str, object]:
    """Revokes a role from a member. Governance. An oracle role is not revoked below the
    attestation threshold (`409 chain_oracle_quorum_unreachable`)."""
    member = checksum_path_address(address)
    require_role(view, caller, "GOVERNANCE")
    name = role.upper()
    if not view.holds_role(name, member):
        raise ApiError(409, "role_not_granted", f"{member} does not hold the {role} role",
                       {"address": member, "role": role})
    sent = writer.revoke_role(caller.key(), name, member)
    return {"address": member, "role": role, **tx(sent)}


@router.delete("/{address}", response_model=RemovedOut)
def remove_member(
    address: AddressPath, caller: CallerDep, view: ViewDep, writer: WriterDep
) -> dict[str, object]:
    """Removes a member and revokes every role it holds (re-admission restores none).
    Governance; the registry operator only for a plain member (no role, not a contract, not
    the governance successor), else `403 governance_required`."""
    member = checksum_path_address(address)
    require_role(view, caller, "GOVERNANCE", "REGISTRY_OPERATOR")
    prechecks.member(view, member)
    held = [r for r in ROLE_LABELS if r not in ("MEMBER", "GOVERNANCE")
            and view.holds_role(r, member)]
    sent = writer.remove_member(caller.key(), member)
    return {"address": member, "removed": True,
            "revoked_roles": [ROLE_LABELS[r] for r in held], **tx(sent)}


def _set_frozen(
    address: str, frozen: bool, body: ReasonIn | None, caller: CallerDep, view: ViewDep,
    writer: WriterDep,
) -> dict[str, object]:
    account = checksum_path_address(address)
    require_role(view, caller, "REGULATOR")
    if view.is_frozen(account) == frozen:
        code = "account_already_frozen" if frozen else "account_not_frozen"
        raise ApiError(409, code, f"{account} is {'already' if frozen else 'not'} frozen",
                       {"address": account})
    reason = b32((body or ReasonIn()).reason_hash)
    if frozen:
        sent = writer.freeze_account(caller.key(), account, reason)
    else:
        sent = writer.unfreeze_account(caller.key(), account, reason)
    return {"address": account, "frozen": frozen, **tx(sent)}


@router.post("/{address}/freeze", response_model=FreezeOut)
def freeze_member(
    address: AddressPath, caller: CallerDep, view: ViewDep, writer: WriterDep,
    body: OptionalReason = None,
) -> dict[str, object]:
    """Freezes an account: it can neither send, receive nor retire credits, nor act in any
    role (governance cannot be frozen). Regulator."""
    return _set_frozen(address, True, body, caller, view, writer)


@router.post("/{address}/unfreeze", response_model=FreezeOut)
def unfreeze_member(
    address: AddressPath, caller: CallerDep, view: ViewDep, writer: WriterDep,
    body: OptionalReason = None,
) -> dict[str, object]:
    """Lifts an account freeze. Regulator."""
    return _set_frozen(address, False, body, caller, view, writer)
