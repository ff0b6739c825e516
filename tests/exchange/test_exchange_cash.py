"""Exchange cash and approvals over the API: the bank books deposits and withdrawals, never of
cash the exchange has promised; a member approves settlement once, then trades."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from exchange.runtime import Exchange
from registry.ledger import Ledger
from tests.support.api import Api
from tests.support.exchange import PRICE, T, signed


def test_the_bank_books_a_deposit_and_the_member_sees_it(
    api: Api, acc: dict[str, LocalAccount]
) -> None:
    who = acc["trader3"].address
    before = api.read(f"/v1/exchange/cash/{who}", "trader3")["balance_fen"]
    d = api.post("/v1/exchange/cash/deposits", "bank",
                 {"account": who, "amount_fen": 12_345_00, "reference": "BBG-2026-000187"},
                 status=201)
    assert d["balance_fen"] == before + 12_345_00 and d["tx_hash"].startswith("0x")
    assert api.read(f"/v1/exchange/cash/{who.lower()}", "trader3")["free_fen"] == before + 12_345_00


def test_only_the_bank_books_cash_and_only_for_members(
    api: Api, acc: dict[str, LocalAccount]
) -> None:
    body = {"account": acc["trader3"].address, "amount_fen": 100, "reference": "x"}
    assert api.error("POST", "/v1/exchange/cash/deposits", "trader3", body,
                     403) == "forbidden_role"
    outsider = {**body, "account": acc["outsider"].address}
    assert api.error("POST", "/v1/exchange/cash/deposits", "bank", outsider,
                     409) == "not_a_member"
    assert api.error("POST", "/v1/exchange/cash/deposits", "bank", {**body, "amount_fen": 0},
                     422)
    assert api.error("POST", "/v1/exchange/cash/deposits", "bank", {**body, "reference": ""},
                     422)


def test_a_withdrawal_never_takes_cash_promised_to_open_buys(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    who = acc["trader2"].address
    api.post("/v1/exchange/orders", None, signed(acc, ex, "trader2", "buy", PRICE, 100 * T, 1),
             status=201)  # reserves 6,000,000 fen + 0.2 % taker fee
    c = api.read(f"/v1/exchange/cash/{who}", "trader2")
    assert c["reserved_fen"] == 6_000_000 + 12_000
    too_much = {"account": who, "amount_fen": c["free_fen"] + 1, "reference": "payout-1"}
    assert api.error("POST", "/v1/exchange/cash/withdrawals", "bank", too_much,
                     409) == "reserved_by_exchange"
    unchanged = api.read(f"/v1/exchange/cash/{who}", "trader2")["balance_fen"]
    assert unchanged == c["balance_fen"]
    ok = api.post("/v1/exchange/cash/withdrawals", "bank", {**too_much, "amount_fen":
                                                             c["free_fen"]}, status=201)
    assert ok["balance_fen"] == c["reserved_fen"]


def test_a_member_approves_settlement_through_the_api_and_can_then_sell(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], ledger: Ledger, market: int
) -> None:
    order = signed(acc, ex, "developer", "sell", PRICE, T, 1)
    assert api.error("POST", "/v1/exchange/orders", None, order,
                     409) == "settlement_not_approved"
    a = api.post("/v1/exchange/approvals", "developer", None, status=201)
    assert len(a["tx_hashes"]) == 3  # credits, forest tickets, cash
    assert ex.chain.trading_approved(acc["developer"].address)
    assert api.post("/v1/exchange/orders", None, order, status=201)["status"] == "open"


def test_one_member_spelled_two_ways_has_one_set_of_reservations(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount]
) -> None:
    first = signed(acc, ex, "trader1", "sell", PRICE, 60 * T, 1)
    second = signed(acc, ex, "trader1", "sell", PRICE, 60 * T, 2)
    second["order"]["trader"] = acc["trader1"].address.lower()  # type: ignore[index]
    api.post("/v1/exchange/orders", None, first, status=201)
    assert api.error("POST", "/v1/exchange/orders", None, second,
                     409) == "insufficient_balance"  # 100 t held, 60 t already promised
