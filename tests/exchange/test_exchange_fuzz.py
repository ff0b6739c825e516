"""Whatever a client sends to the exchange routes, the answer is a 2xx or a 4xx with the error
shape, never a 500; a refused order changes nothing (hypothesis, on the real chain and API)."""


from __future__ import annotations

from typing import Any
from urllib.parse import quote

from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.runtime import Exchange
from tests.support.api import Api
from tests.support.exchange import INSTRUMENT, PRICE, T, signed

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**260), max_value=2**260)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner,
                                                                 max_size=4),
    max_leaves=12,
)
ORDER_FIELDS = ["trader", "side", "instrument", "batch_id", "price", "quantity", "max_fee_bps",
                "time_in_force", "nonce", "expiry", "client_order_id"]
FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_no_500(r: Any) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        error = r.json()["error"]
        assert isinstance(error["code"], str) and error["code"] and error["message"]


@FUZZ
@given(field=st.sampled_from([*ORDER_FIELDS, "signature", "type"]),
       value=JSON)
def test_a_signed_order_with_any_field_replaced_is_answered_cleanly(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], field: str, value: Any
) -> None:
    body: dict[str, Any] = signed(acc, ex, "trader1", "sell", PRICE, T, 1)
    if field in ORDER_FIELDS:
        body = {**body, "order": {**body["order"], field: value}}
    else:
        body = {**body, field: value}
    before = ex.service.journal.last_seq
    r = api.raw("POST", "/v1/exchange/orders", None, body)
    assert_no_500(r)
    if r.status_code >= 400:
        assert ex.service.journal.last_seq == before  # refused: nothing journaled


@FUZZ
@given(route=st.sampled_from([
    ("POST", "/v1/exchange/orders", None),
    ("POST", "/v1/exchange/orders", "trader1"),
    ("POST", "/v1/exchange/instruments", "exchange"),
    (("POST", f"/v1/exchange/instruments/{INSTRUMENT}/status", "exchange")),
    ("POST", "/v1/exchange/block-trades", "exchange"),
    ("POST", "/v1/exchange/lots", "exchange"),
    ("POST", "/v1/exchange/orders/cancel-all", "trader1"),
    ("POST", "/v1/exchange/orders/1/cancel", None),
    ("POST", "/v1/exchange/cash/deposits", "bank"),
    ("POST", "/v1/exchange/cash/withdrawals", "bank"),
]), body=JSON)
def test_any_body_on_any_exchange_route_is_answered_cleanly(
    api: Api, route: tuple[str, str, str | None], body: Any
) -> None:
    method, path, seat = route
    assert_no_500(api.raw(method, path, seat, body))


@FUZZ
@given(raw=st.text(min_size=1, max_size=30))
def test_any_path_parameter_is_answered_cleanly(api: Api, raw: str) -> None:
    segment = quote(raw, safe="")
    for path in (f"/v1/exchange/orders/{segment}", f"/v1/exchange/depth/{segment}",
                 f"/v1/exchange/cash/{segment}", f"/v1/exchange/candles/{segment}"):
        assert_no_500(api.raw("GET", path, "trader1", None))  # past authentication
