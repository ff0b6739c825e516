"""Contract reverts as API errors.

A revert is always found by simulation before anything is sent, so it never costs a transaction.
Its code is `chain_` + the custom error's name in snake case (`ReportAlreadyIssued` ->
`chain_report_already_issued`) and its details are the decoded error arguments, so a client sees
exactly what the contract refused and why.
"""

from __future__ import annotations

import re
from typing import Any

from chain.client import ChainRevert
from chain.roles import ROLE_BY_ID

_BOUNDARY_1 = re.compile(r"(.)([A-Z][a-z]+)")
_BOUNDARY_2 = re.compile(r"([a-z0-9])([A-Z])")

# Errors meaning the caller may not do this at all.
_FORBIDDEN = {"NotAuthorized", "NotMember", "AccessControlUnauthorizedAccount"}
# Errors meaning only governance may do this (e.g. remove a role holder).
_GOVERNANCE_ONLY = {"GovernanceRequired", "AccessControlEnforcedDefaultAdminRules"}
# Errors from the forwarder about the signed request itself.
_BAD_REQUEST_PREFIX = ("ERC2771Forwarder", "ERC2771Untrustful")


def snake_case(name: str) -> str:
    """`ERC2771ForwarderInvalidSigner` -> `erc2771_forwarder_invalid_signer`."""
    return _BOUNDARY_2.sub(r"\1_\2", _BOUNDARY_1.sub(r"\1_\2", name)).lower()


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def revert_details(exc: ChainRevert) -> dict[str, Any]:
    args: dict[str, Any] = _jsonable(exc.error.args) if exc.error else {}
    role = args.get("role") or args.get("neededRole")
    if isinstance(role, str) and role.startswith("0x"):
        name = ROLE_BY_ID.get(bytes.fromhex(role[2:]))
        if name:
            args["role_name"] = name
    if exc.error is None and exc.raw:
        args["raw"] = "0x" + exc.raw.hex()
    return args


def revert_status(exc: ChainRevert, caller: str | None = None) -> int:
    """403 when the caller lacks membership or role (or only governance may do this), 404 for
    unknown objects, 400 for a signed request the forwarder refuses, 409 (state conflict)
    otherwise."""
    name = exc.name
    if name in _GOVERNANCE_ONLY:
        return 403
    if name in _FORBIDDEN:
        account = (exc.error.args.get("account") if exc.error else None) or caller
        if caller is None or account is None or str(account).lower() == caller.lower():
            return 403
        return 409  # another account is not a member (e.g. the developer of a project)
    if name.startswith("Unknown"):
        return 404
    if name.startswith(_BAD_REQUEST_PREFIX):
        return 400
    return 409


def revert_code(exc: ChainRevert, status: int, caller: str | None = None) -> str:
    if exc.name in _GOVERNANCE_ONLY:
        return "governance_required"
    if status == 403:
        return "forbidden_role"
    if exc.name == "AccountFrozen" and caller is not None and exc.error is not None \
            and str(exc.error.args.get("account", "")).lower() == caller.lower():
        return "account_frozen"  # the caller itself: a frozen account acts in no role
    return "chain_" + snake_case(exc.name)


def revert_message(exc: ChainRevert) -> str:
    return f"the registry contracts refused the call: {exc.name}"
