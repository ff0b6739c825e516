"""Field types for request bodies: every value is checked and normalized at the edge, so what
reaches the chain is exactly what the client meant and a malformed request never costs a
transaction.

Failures raise `PydanticCustomError` whose type is a stable API error code (`invalid_address`,
`amount_too_precise`, ...); the 422 handler promotes that code to the response's `error.code`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from eth_utils import is_address, to_checksum_address
from fastapi import Path
from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from api.errors import ApiError
from api.text import TextError, clean
from core.units import AmountError, to_units

MAX_ID = 2**63 - 1
# Latest accepted unix time (9999-12-31T23:59:59Z): far beyond any crediting period.
MAX_TIME = 253_402_300_799

ZERO_HASH = "0x" + "00" * 32

# Codes a field validator may raise; the first one found becomes the 422's error code.
FIELD_CODES = frozenset(
    {
        "invalid_amount",
        "amount_not_positive",
        "amount_too_precise",
        "amount_too_large",
        "invalid_address",
        "invalid_hash",
        "zero_hash",
        "invalid_text",
        "invalid_coordinate",
        "invalid_hex",
        "case_reference_required",
        "invalid_period",
        "invalid_quantity",
        "invalid_division_prefix",
        "no_eligible_category",
        "required_amount_missing",
        "invalid_vintage",
        "no_paying_party",
        "duplicate_party",
        "below_minimum_retail",
        "not_whole_kg",
        "invalid_asset",
        "invalid_maturity",
        "invalid_pledge_asset",
    }
)

STRICT = ConfigDict(strict=True, extra="forbid")

_AMOUNT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_HEX = re.compile(r"0x([0-9a-fA-F]{2})*")
_DEGREES = re.compile(r"-?[0-9]{1,3}(\.[0-9]{1,6})?")


def _amount(value: Any) -> int:
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise PydanticCustomError(
            "invalid_amount", "amount must be a decimal string of tonnes, e.g. \"326.4\""
        )
    try:
        return to_units(value)
    except AmountError as exc:
        raise PydanticCustomError(exc.code, str(exc)) from None


_YUAN = re.compile(r"-?[0-9]{1,16}(\.[0-9]{1,30})?")
_PREFIX = re.compile(r"[1-9][0-9](?:[0-9]{2}){0,2}")


def _yuan(value: Any) -> int:
    """Yuan as a decimal string -> fen; a fraction of a fen is refused, never rounded."""
    if not isinstance(value, str) or not _YUAN.fullmatch(value):
        raise PydanticCustomError(
            "invalid_amount", "amount must be a decimal string of yuan, e.g. \"50000.00\""
        )
    whole, _, frac = value.partition(".")
    if frac.rstrip("0") and len(frac.rstrip("0")) > 2:
        raise PydanticCustomError("amount_too_precise", "yuan have at most 2 decimals (fen)")
    fen = int(whole) * 100 + int((frac + "00")[:2]) * (-1 if whole.startswith("-") else 1)
    if fen <= 0:
        raise PydanticCustomError("amount_not_positive", "the amount must be positive")
    if fen >= 2**127:
        raise PydanticCustomError("amount_too_large", "the amount is too large")
    return fen


def _division_prefix(value: Any) -> int:
    if not isinstance(value, str) or not _PREFIX.fullmatch(value):
        raise PydanticCustomError(
            "invalid_division_prefix",
            "a region is an administrative-division code prefix of 2, 4 or 6 digits "
            "(\"45\" Guangxi, \"4507\" Qinzhou)",
        )
    return int(value)


def _address(value: Any) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise PydanticCustomError("invalid_address", "not an account address (0x + 40 hex)")
    mixed_case = value != value.lower() and value[2:] != value[2:].upper()
    if mixed_case and to_checksum_address(value) != value:  # a claimed EIP-55 checksum is wrong
        raise PydanticCustomError("invalid_address", "address checksum (EIP-55) is wrong")
    return to_checksum_address(value)


def _hash(value: Any) -> str:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise PydanticCustomError("invalid_hash", "a hash is 0x followed by 64 hex digits")
    return value.lower()


def _nonzero_hash(value: Any) -> str:
    h = _hash(value)
    if h == ZERO_HASH:
        raise PydanticCustomError("zero_hash", "the hash must not be zero")
    return h


def _hex(value: Any) -> str:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise PydanticCustomError("invalid_hex", "bytes are 0x followed by an even number of hex")
    return value.lower()


def text(max_length: int, allow_empty: bool = False) -> Any:
    """A validator for free text stored on chain and printed on certificates: bounded, NFC,
    nothing a reader would misread (api.text.clean)."""

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise PydanticCustomError("invalid_text", "must be a string")
        if not allow_empty and not value.strip():
            raise PydanticCustomError("invalid_text", "must not be empty")
        if len(value) > max_length:
            raise PydanticCustomError(
                "invalid_text", "at most {max} characters", {"max": max_length}
            )
        try:
            value = clean(value)
        except TextError as exc:
            raise PydanticCustomError(
                "invalid_text", "{message}", {"message": str(exc), "reason": exc.reason}
            ) from None
        if len(value) > max_length:  # NFC may compose, never lengthen: checked once more
            raise PydanticCustomError(
                "invalid_text", "at most {max} characters", {"max": max_length}
            )
        return value

    return BeforeValidator(check)


def _degrees(limit: int) -> Any:
    """Decimal degrees as a string with at most 6 decimals -> integer micro-degrees."""

    def check(value: Any) -> int:
        if not isinstance(value, str) or not _DEGREES.fullmatch(value):
            raise PydanticCustomError(
                "invalid_coordinate", "decimal degrees as a string, at most 6 decimals"
            )
        try:
            e6 = int(Decimal(value) * 1_000_000)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise PydanticCustomError("invalid_coordinate", "not a number") from None
        if abs(e6) > limit * 1_000_000:
            raise PydanticCustomError(
                "invalid_coordinate", "must be within ±{limit} degrees", {"limit": limit}
            )
        return e6

    return BeforeValidator(check)


Tonnes = Annotated[
    int,
    BeforeValidator(_amount),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,6})?$", "examples": ["326.4"],
         "description": "tonnes CO2e as a decimal string, at most 6 decimals (1 g)"}
    ),
]
Yuan = Annotated[
    int,
    BeforeValidator(_yuan),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$", "examples": ["50000.00"],
         "description": "CNY as a decimal string of yuan, at most 2 decimals (1 fen)"}
    ),
]
DivisionPrefix = Annotated[
    int,
    BeforeValidator(_division_prefix),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[1-9][0-9]([0-9]{2}){0,2}$", "examples": ["45", "4507"],
         "description": "administrative-division code prefix (GB/T 2260): 2, 4 or 6 digits"}
    ),
]
Address = Annotated[
    str,
    BeforeValidator(_address),
    WithJsonSchema({"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}),
]
Hash32 = Annotated[
    str,
    BeforeValidator(_hash),
    WithJsonSchema({"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}),
]
NonZeroHash32 = Annotated[
    str,
    BeforeValidator(_nonzero_hash),
    WithJsonSchema({"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$",
                    "description": "non-zero 32-byte hash"}),
]
HexBytes = Annotated[
    str,
    BeforeValidator(_hex),
    WithJsonSchema({"type": "string", "pattern": "^0x([0-9a-fA-F]{2})*$"}),
]
def _degrees_schema(limit: int) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]{1,3}(\.[0-9]{1,6})?$",
                           "description": f"decimal degrees (WGS-84) within ±{limit}, "
                           "at most 6 decimals", "examples": ["21.783000"]})


Latitude = Annotated[int, _degrees(90), _degrees_schema(90)]
Longitude = Annotated[int, _degrees(180), _degrees_schema(180)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
UnixTime = Annotated[int, Field(ge=0, le=MAX_TIME, description="unix seconds (UTC)")]


def b32(value: str) -> bytes:
    """A validated 0x-hash as the 32 bytes the contracts take."""
    return bytes.fromhex(value[2:])


def checksum_path_address(value: str) -> str:
    """An address from a URL path, or a 422 `invalid_address` via the same rules as bodies."""
    try:
        return _address(value)
    except PydanticCustomError as exc:
        raise ApiError(422, "invalid_address", exc.message(), {"address": value}) from None
