"""A member's orders, fills, nonces and cash are for the member (API key or signed read token)
and the regulator; public market data stays anonymous."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from exchange.runtime import Exchange
from exchange.signing import Domain, sign_read
from tests.support.api import Api
from tests.support.exchange import INSTRUMENT, PRICE, T, read_token, signed


@pytest.fixture
def trader2_order(api: Api, ex: Exchange, acc: dict[str, LocalAccount]) -> dict[str, Any]:
    """trader2 bought 1 t from trader1 and rests a buy: working orders, a fill, reserved cash."""
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader1", "sell", PRICE, T, 1),
             status=201)
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE, T, 1),
             status=201)
    placed: dict[str, Any] = api.post("/v1/exchange/orders", None,
                                      signed(acc, ex, "trader2", "buy", PRICE - 5, T, 2),
                                      status=201)
    return placed


def private_paths(acc: dict[str, LocalAccount], order: dict[str, Any]) -> list[str]:
    who = acc["trader2"].address
    return [f"/v1/exchange/orders?trader={who}", f"/v1/exchange/orders/{order['order_id']}",
            f"/v1/exchange/cash/{who}", f"/v1/exchange/nonces/{who}"]


def code(api: Api, path: str, status: int, seat: str | None = None,
         headers: dict[str, str] | None = None) -> str:
    r = api.raw("GET", path, seat, None, headers)
    assert r.status_code == status, f"{path}: {r.status_code} {r.text}"
    return str(r.json()["error"]["code"])


def test_without_a_key_or_token_no_members_orders_or_cash_are_read(
    api: Api, acc: dict[str, LocalAccount], trader2_order: dict[str, Any]
) -> None:
    for path in private_paths(acc, trader2_order):
        assert code(api, path, 401) == "unauthenticated"


def test_another_member_is_refused_a_members_orders_and_cash(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], trader2_order: dict[str, Any]
) -> None:
    for path in private_paths(acc, trader2_order):
        assert code(api, path, 403, "trader3") == "forbidden_account"
        assert code(api, path, 403, headers=read_token(acc["trader3"], ex)) == (
            "forbidden_account")


def test_the_member_reads_its_own_with_its_api_key(
    api: Api, acc: dict[str, LocalAccount], trader2_order: dict[str, Any]
) -> None:
    orders, order, cash, nonce = (api.read(p, "trader2")
                                  for p in private_paths(acc, trader2_order))
    assert [o["order_id"] for o in orders["items"]] == [trader2_order["order_id"]]
    assert order["trader"] == acc["trader2"].address
    assert cash["reserved_fen"] > 0 and nonce["next_nonce"] == 3


def test_an_own_key_trader_reads_its_own_with_a_signed_read_token(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], trader2_order: dict[str, Any]
) -> None:
    token = read_token(acc["trader2"], ex)
    by_token = [api.call("GET", p, None, headers=token) for p in private_paths(
        acc, trader2_order)]
    assert by_token == [api.read(p, "trader2") for p in private_paths(acc, trader2_order)]


def test_an_expired_forged_or_long_lived_read_token_is_refused(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], trader2_order: dict[str, Any]
) -> None:
    path = f"/v1/exchange/cash/{acc['trader2'].address}"
    expired = read_token(acc["trader2"], ex, expiry=int(time.time()) - 1)
    assert code(api, path, 401, headers=expired) == "read_token_expired"
    expiry = int(time.time()) + 300
    # trader3's signature over a token naming trader2
    forged = sign_read(acc["trader3"], expiry, ex.chain.domain)
    other_account = {"X-Read-Token": f"{acc['trader2'].address}:{expiry}:0x{forged.hex()}"}
    assert code(api, path, 401, headers=other_account) == "invalid_read_token"
    # trader2's signature, but for another expiry than the token claims
    real = read_token(acc["trader2"], ex, expiry=expiry)["X-Read-Token"]
    moved = real.replace(f":{expiry}:", f":{expiry + 60}:")
    assert code(api, path, 401, headers={"X-Read-Token": moved}) == "invalid_read_token"
    long_lived = read_token(acc["trader2"], ex, ttl=2 * 86_400)
    assert code(api, path, 401, headers=long_lived) == "invalid_read_token"
    for junk in ("", "0x12", f"{acc['trader2'].address}:{expiry}:0x" + "00" * 65):
        assert code(api, path, 401, headers={"X-Read-Token": junk}) == "invalid_read_token"


def test_a_read_token_of_another_domain_is_refused(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], trader2_order: dict[str, Any]
) -> None:
    expiry = int(time.time()) + 300
    elsewhere = Domain(ex.chain.domain.chain_id + 1, ex.chain.domain.settlement)
    sig = sign_read(acc["trader2"], expiry, elsewhere)
    token = {"X-Read-Token": f"{acc['trader2'].address}:{expiry}:0x{sig.hex()}"}
    assert code(api, f"/v1/exchange/cash/{acc['trader2'].address}", 401,
                headers=token) == "invalid_read_token"


def test_the_regulator_reads_any_members_orders_and_cash(
    api: Api, acc: dict[str, LocalAccount], trader2_order: dict[str, Any]
) -> None:
    for path in private_paths(acc, trader2_order):
        assert api.read(path, "regulator") == api.read(path, "trader2")


def test_public_market_data_needs_no_key_and_names_no_member(
    api: Api, acc: dict[str, LocalAccount], trader2_order: dict[str, Any]
) -> None:
    addresses = {acc[s].address.lower()[2:] for s in ("trader1", "trader2")}
    for kind in ("depth", "trades", "candles", "stats"):
        answer = api.get(f"/v1/exchange/{kind}/{INSTRUMENT}")
        assert answer, kind
        assert not any(a in repr(answer).lower() for a in addresses), (kind, answer)
    read = api.get("/v1/exchange/domain")["read"]
    assert read["primaryType"] == "ReadAccount" and read["header"] == "X-Read-Token"
