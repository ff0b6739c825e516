"""The exchange refuses in its own terms (exchange/errors.py: a code, no HTTP status); the API
maps each code to a status. Every code the exchange can raise is documented for clients."""

from __future__ import annotations

import re
from pathlib import Path

from api.errors import EXCHANGE_STATUS
from exchange.errors import ExchangeError
from exchange.orders import Reject

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "api.md").read_text()


def raised_codes() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "exchange").glob("*.py"):
        found.update(re.findall(r'ExchangeError\(\s*"([a-z_]+)"', path.read_text()))
    return found


def test_an_exchange_error_carries_no_http_status() -> None:
    exc = ExchangeError("order_not_open", "the order is filled")
    assert (exc.code, exc.message, exc.details) == ("order_not_open", "the order is filled", None)
    assert not hasattr(exc, "status")


def test_every_code_the_exchange_raises_is_documented() -> None:
    missing = sorted(c for c in raised_codes() | set(Reject) if f"`{c}`" not in DOCS
                     and c not in ("duplicate_order_id", "auction_order_type"))
    assert not missing, f"document these exchange error codes in docs/api.md: {missing}"


def test_the_status_table_names_only_codes_the_exchange_can_give() -> None:
    # codes the listing checks return rather than raise (exchange.instruments)
    known = raised_codes() | {str(r) for r in Reject} | {"lot_tick_below_one_fen",
                                                         "invalid_instrument",
                                                         "invalid_division_prefix"}
    assert set(EXCHANGE_STATUS) <= known
    assert {EXCHANGE_STATUS[c] for c in EXCHANGE_STATUS} <= {401, 403, 404, 422}
