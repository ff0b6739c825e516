"""Stable error codes for the HTTP API.

Every failure leaves the API as `{"error": {"code": ..., "message": ..., "details": ...}}` with a
4xx status; codes are part of the API contract and never change meaning.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the client caused (or may retry); rendered as JSON with a stable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def not_found(kind: str, ident: object) -> ApiError:
    return ApiError(404, f"{kind}_not_found", f"{kind.replace('_', ' ')} {ident} does not exist")


# The oracle inbox's refusals (oracle/inbox.py) by status; any other code is a 409 conflict.
INBOX_STATUS = {
    "invalid_period": 422, "invalid_spec": 422, "invalid_file_name": 422,
    "unknown_data_kind": 422, "empty_file": 422, "unreadable_file": 422,
    "record_not_found": 404,
}

# The exchange's refusals (exchange/errors.py) by status; any other code (a conflict with the
# book, the member's balances or limits, the chain's record) is 409.
EXCHANGE_STATUS = {
    **dict.fromkeys((
        "tick_violation", "lot_violation", "outside_price_band", "invalid_quantity",
        "invalid_price", "protection_price_required", "auction_order_type",
        "delivery_batch_required", "fill_below_one_fen", "ineligible_batch",
        "invalid_instrument", "lot_tick_below_one_fen", "invalid_reason",
        "max_fee_too_low", "mismatched_orders", "order_expired", "sell_retire_for",
        "ticket_retire_for", "invalid_division_prefix"), 422),
    **dict.fromkeys(("unknown_instrument", "unknown_order", "unknown_trade"), 404),
    "not_order_owner": 403,
    "bad_signature": 401,
}
