"""Role identifiers, identical to contracts/access/Roles.sol."""

from __future__ import annotations

from eth_utils import keccak

ROLE_NAMES = (
    "GOVERNANCE",
    "MEMBER",
    "REGULATOR",
    "REGISTRY_OPERATOR",
    "VERIFIER",
    "ORACLE",
    "EXCHANGE",
    "BANK",
    "AUTHORITY",
    "FORESTRY",
    "RETAIL",
)


def role_id(name: str) -> bytes:
    """bytes32 of a role; GOVERNANCE is AccessControl's DEFAULT_ADMIN_ROLE (zero)."""
    if name not in ROLE_NAMES:
        raise KeyError(f"unknown role {name}")
    return bytes(32) if name == "GOVERNANCE" else keccak(text=name)


ROLE_BY_ID = {role_id(n): n for n in ROLE_NAMES}
