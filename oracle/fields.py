"""Field parsers shared by the pydantic schemas and the fast reading validator.

Both paths call these same functions, so a field is accepted or refused identically whether a
record arrives through the API one at a time or in a million-row CSV. Each parser raises
`FieldError` carrying a stable reason code. Parsing is strict: no floats (binary floats cannot
hold 18.4 exactly), no booleans posing as numbers, no whitespace or digit-group underscores
silently accepted, no naive timestamps.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from oracle.reasons import Reason

_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")
DECIMAL_SYNTAX = re.compile(r"[+-]?(?:\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})(?:[eE][+-]?\d{1,2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HEX_SIG = re.compile(r"0[xX][0-9a-fA-F]{130}")
_MAX_TIME = 2**40  # year ~36812: far beyond any real reading, small enough to bound encodings

SIGNATURE_LENGTH = 65


class FieldError(ValueError):
    """A field that failed its parser; `reason` is a stable code from oracle.reasons."""

    def __init__(self, reason: Reason, field: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.message = message


def _missing(value: object) -> bool:
    return value is None or value == ""


def identifier(value: object, field: str) -> str:
    """An id such as a device, plot, core or scene id: ASCII letters, digits and `._:-`.

    The restricted alphabet means ids never need escaping in canonical encodings and cannot
    smuggle separators, so two different records can never encode to the same bytes.
    """
    if _missing(value):
        raise FieldError(Reason.MISSING_FIELD, field, f"{field} is required")
    if not isinstance(value, str) or not _IDENT.fullmatch(value):
        raise FieldError(
            Reason.MALFORMED_FIELD,
            field,
            f"{field} must be 1-64 characters of A-Z a-z 0-9 . _ : - (got {value!r})",
        )
    return value


def label(value: object, field: str, max_length: int = 64) -> str:
    """Free text such as a species or sensor name (Chinese allowed), without control characters."""
    if _missing(value):
        raise FieldError(Reason.MISSING_FIELD, field, f"{field} is required")
    if (
        not isinstance(value, str)
        or len(value) > max_length
        or value != value.strip()
        or not value.isprintable()
    ):
        raise FieldError(
            Reason.MALFORMED_FIELD,
            field,
            f"{field} must be printable text of at most {max_length} characters, trimmed",
        )
    return value


def decimal(value: object, field: str) -> Decimal:
    """An exact decimal from a decimal string, an int or a Decimal (JSON parsed exactly)."""
    if _missing(value):
        raise FieldError(Reason.MISSING_FIELD, field, f"{field} is required")
    if isinstance(value, str):
        if not DECIMAL_SYNTAX.fullmatch(value):
            raise FieldError(
                Reason.MALFORMED_FIELD, field, f"{field} is not a decimal number: {value!r}"
            )
        return Decimal(value)
    if isinstance(value, bool | float):
        raise FieldError(
            Reason.MALFORMED_FIELD,
            field,
            f"{field} must be a decimal string or an exact number, not {type(value).__name__}",
        )
    if isinstance(value, int):
        if abs(value) >= 10**30:
            raise FieldError(Reason.MALFORMED_FIELD, field, f"{field} is too large")
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value.adjusted()) > 30:
            raise FieldError(Reason.MALFORMED_FIELD, field, f"{field} must be a finite decimal")
        return value
    raise FieldError(Reason.MALFORMED_FIELD, field, f"{field} must be a decimal number")


def integer(value: object, field: str, minimum: int = 0) -> int:
    """A whole number given as an int or a string of digits."""
    if _missing(value):
        raise FieldError(Reason.MISSING_FIELD, field, f"{field} is required")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        n = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        n = int(value)
    else:
        raise FieldError(Reason.MALFORMED_FIELD, field, f"{field} must be a whole number")
    if n < minimum:
        raise FieldError(Reason.OUT_OF_RANGE, field, f"{field} must be at least {minimum}")
    return n


def unix_time(value: object, field: str) -> int:
    """Whole seconds since the epoch, from an integer or ISO 8601 text with a UTC offset.

    A naive local time is refused: a buoy's clock in UTC and a logger's in UTC+8 would otherwise
    land eight hours apart without anyone noticing. Sub-second precision is refused rather than
    truncated, because two readings a fraction of a second apart would then collide.
    """
    if _missing(value):
        raise FieldError(Reason.MISSING_FIELD, field, f"{field} is required")
    if isinstance(value, int) and not isinstance(value, bool):
        t = value
    elif isinstance(value, str):
        if value.isascii() and value.isdigit():
            if len(value) > 13:
                raise FieldError(Reason.MALFORMED_FIELD, field, f"{field} is out of range")
            t = int(value)
        else:
            try:
                dt = datetime.fromisoformat(value)
            except ValueError:
                raise FieldError(
                    Reason.MALFORMED_FIELD,
                    field,
                    f"{field} must be unix seconds or ISO 8601 with offset: {value!r}",
                ) from None
            if dt.tzinfo is None:
                raise FieldError(
                    Reason.MALFORMED_FIELD, field, f"{field} needs a UTC offset: {value!r}"
                )
            if dt.microsecond:
                raise FieldError(
                    Reason.MALFORMED_FIELD, field, f"{field} must be whole seconds: {value!r}"
                )
            t = int(dt.timestamp())
    else:
        raise FieldError(Reason.MALFORMED_FIELD, field, f"{field} must be a timestamp")
    if not 0 <= t < _MAX_TIME:
        raise FieldError(Reason.MALFORMED_FIELD, field, f"{field} is out of range")
    return t


def iso_date(value: object, field: str) -> date:
    """A calendar date written YYYY-MM-DD (or a date object from an already-typed caller)."""
    if _missing(value):
        raise FieldError(Reason.MISSING_FIELD, field, f"{field} is required")
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise FieldError(Reason.MALFORMED_FIELD, field, f"{field} must be a date YYYY-MM-DD")


def signature(value: object, field: str = "signature") -> bytes:
    """A 65-byte r‖s‖v signature as 0x-prefixed hex."""
    if _missing(value):
        raise FieldError(Reason.MISSING_FIELD, field, f"{field} is required")
    if not isinstance(value, str) or not _HEX_SIG.fullmatch(value):
        raise FieldError(
            Reason.MALFORMED_FIELD, field, f"{field} must be 0x followed by 130 hex digits"
        )
    return bytes.fromhex(value[2:])
