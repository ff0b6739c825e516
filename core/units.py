"""Quantities: 1 t CO2e = 1,000,000 units on chain (a unit is one gram). Never floats.

The API speaks tonnes as decimal strings ("326.4", "483.88"); anything finer than a gram is
rejected rather than rounded, so what a user asks for is exactly what moves on chain.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

UNITS_PER_TONNE = 1_000_000
DECIMALS = 6
MAX_UNITS = 2**63 - 1  # what SQL BIGINT holds: ~9.2 trillion tonnes


class AmountError(ValueError):
    """An amount that cannot be represented exactly and positively."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def to_units(tonnes: str | int) -> int:
    """Exact conversion of a positive decimal tonne amount to integer units."""
    if isinstance(tonnes, bool):
        raise AmountError("invalid_amount", "amount must be a decimal string of tonnes")
    try:
        d = Decimal(str(tonnes).strip())
    except InvalidOperation:
        raise AmountError("invalid_amount", f"not a decimal number: {tonnes!r}") from None
    if not d.is_finite():
        raise AmountError("invalid_amount", "amount must be finite")
    if d <= 0:
        raise AmountError("amount_not_positive", "amount must be greater than zero")
    units = d * UNITS_PER_TONNE
    if units != units.to_integral_value():
        raise AmountError(
            "amount_too_precise", f"at most {DECIMALS} decimal places of a tonne (1 g) allowed"
        )
    n = int(units)
    if n > MAX_UNITS:
        raise AmountError("amount_too_large", "amount exceeds the registry's range")
    return n


def format_units(units: int) -> str:
    """Units as a tonne decimal string without trailing zeros ("326.4")."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), UNITS_PER_TONNE)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")
