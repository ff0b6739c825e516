"""Delivery versus payment on a real chain: what settles, and every way the operator could try
to cheat (forged signatures, replays, expired or cancelled orders, overfills, double
settlement, the wrong batch) reverting in the contract."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import ChainRevert
from exchange.onchain import Fill, SettlementChain
from exchange.signing import Order, order_digest, recover_signer, sign_order, signable
from registry.ledger import Ledger
from tanhui.scenario import Scenario, doc
from tests.fills import FAR, PRICE, T, fill, orders, refused


@pytest.fixture
def sc(ledger: Ledger) -> SettlementChain:
    return SettlementChain(ledger)


@pytest.fixture
def market(ledger: Ledger, acc: dict[str, LocalAccount], sc: SettlementChain) -> dict[str, int]:
    """trader1 holds 100 t of a batch listed as instrument 7; trader2 holds 100,000 CNY."""
    s = Scenario(ledger, acc)
    b = s.batch(quantity=1_000 * T)
    ledger.transfer(acc["developer"], acc["trader1"].address, b.batch_id, 100 * T)
    sc.deposit(acc["bank"], acc["trader2"].address, 100_000_00, doc("wire-1"))
    for seat in ("trader1", "trader2"):
        sc.approve_trading(acc[seat])
    sc.list_instrument(acc["exchange"], 7, batch_id=b.batch_id)
    sc.set_fees(acc["exchange"], acc["exchange"].address, 10, 20)  # maker 0.1 %, taker 0.2 %
    return {"batch": b.batch_id, "methodology": b.methodology_id, "project": b.project_id}


def test_python_and_the_contract_hash_and_recover_orders_alike(
    sc: SettlementChain, acc: dict[str, LocalAccount]
) -> None:
    from eth_account.messages import _hash_eip191_message

    buy, _ = orders(acc, 0, buy_batch=5, max_fee_bps=17)
    assert order_digest(buy, sc.domain) == sc.order_hash_onchain(buy)
    assert order_digest(buy, sc.domain) == _hash_eip191_message(signable(buy, sc.domain))
    sig = sign_order(acc["trader2"], buy, sc.domain)
    assert recover_signer(buy, sig, sc.domain) == acc["trader2"].address
    assert recover_signer(replace(buy, price=PRICE + 1), sig, sc.domain) != acc["trader2"].address


def test_the_fast_cancel_digest_is_the_eip712_digest_wallets_sign(
    sc: SettlementChain, acc: dict[str, LocalAccount]
) -> None:
    from eth_account.messages import _hash_eip191_message, encode_typed_data

    from exchange.signing import cancel_digest, cancel_typed_data, recover, sign_cancel

    h = order_digest(orders(acc, 0)[0], sc.domain)
    assert cancel_digest(h, sc.domain) == _hash_eip191_message(
        encode_typed_data(full_message=cancel_typed_data(h, sc.domain)))
    sig = sign_cancel(acc["trader2"], h, sc.domain)
    assert recover(cancel_digest(h, sc.domain), sig) == acc["trader2"].address
    assert recover(cancel_digest(bytes(32), sc.domain), sig) != acc["trader2"].address


def test_a_trade_moves_credits_and_cash_atomically_with_fees(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"])
    sent = sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 1, 4 * T, market["batch"])])
    cash = 4 * PRICE  # 2,400.00 CNY
    buyer_fee, seller_fee = cash * 10 // 10_000, cash * 20 // 10_000  # buyer was the maker
    assert ledger.balance(acc["trader2"].address, market["batch"]) == 4 * T
    assert ledger.balance(acc["trader1"].address, market["batch"]) == 96 * T
    assert sc.cash_balance(acc["trader2"].address) == 100_000_00 - cash - buyer_fee
    assert sc.cash_balance(acc["trader1"].address) == cash - seller_fee
    assert sc.cash_balance(acc["exchange"].address) == buyer_fee + seller_fee
    assert sc.cash_balance(sc.settlement.address) == 0
    assert sc.is_settled(1)
    assert sc.filled(order_digest(buy, sc.domain)) == 4 * T
    [ev] = ledger.events_of(sent, "TradeSettled")
    assert (ev.args["quantity"], ev.args["buyerPaid"], ev.args["sellerReceived"]) == (
        4 * T, cash + buyer_fee, cash - seller_fee)


def test_many_trades_settle_in_one_transaction(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"], qty=20 * T)
    fills = [fill(sc, acc, buy, sell, 10 + i, T, market["batch"]) for i in range(20)]
    sc.settle(acc["exchange"], fills)
    assert ledger.balance(acc["trader2"].address, market["batch"]) == 20 * T
    assert all(sc.is_settled(10 + i) for i in range(20))


def test_a_forged_signature_reverts(
    sc: SettlementChain, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"])
    good = fill(sc, acc, buy, sell, 1, T, market["batch"])
    forged = replace(good, buy_signature=sign_order(acc["exchange"], buy, sc.domain))
    assert refused(lambda: sc.settle(acc["exchange"], [forged])) == "InvalidSignature"
    tampered = replace(good, buy=replace(buy, price=PRICE * 2))  # signature of another order
    assert refused(lambda: sc.settle(acc["exchange"], [tampered])) == "InvalidSignature"


def test_double_settlement_of_a_trade_id_reverts(
    sc: SettlementChain, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"])
    f = fill(sc, acc, buy, sell, 5, T, market["batch"])
    sc.settle(acc["exchange"], [f])
    assert refused(lambda: sc.settle(acc["exchange"], [f])) == "TradeAlreadySettled"
    again = replace(f, trade_id=6)
    both = [again, replace(again, quantity=2 * T)]  # one id twice in a batch
    assert refused(lambda: sc.settle(acc["exchange"], both)) == "TradeAlreadySettled"


def test_an_overfill_reverts(
    sc: SettlementChain, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"], qty=3 * T)
    sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 1, 2 * T, market["batch"])])
    over = fill(sc, acc, buy, sell, 2, 2 * T, market["batch"])
    assert refused(lambda: sc.settle(acc["exchange"], [over])) == "Overfill"


def test_an_expired_order_reverts(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    now = int(ledger.chain.w3.eth.get_block("latest")["timestamp"])
    buy, sell = orders(acc, market["batch"], expiry=now - 1)
    late = fill(sc, acc, buy, sell, 1, T, market["batch"])
    assert refused(lambda: sc.settle(acc["exchange"], [late])) == "OrderExpired"


def test_a_replayed_nonce_below_the_traders_minimum_reverts(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"], nonce=3)
    ledger.chain.send(sc.settlement.functions.raiseMinNonce(4), acc["trader2"])
    replay = fill(sc, acc, buy, sell, 1, T, market["batch"])
    assert refused(lambda: sc.settle(acc["exchange"], [replay])) == "OrderCancelled"


def test_an_order_its_trader_cancelled_never_settles(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"])
    fn = sc.settlement.functions.cancelOrder(sell.as_tuple())
    assert refused(lambda: ledger.chain.send(fn, acc["trader2"])) == "NotOrderOwner"
    ledger.chain.send(fn, acc["trader1"])
    f = fill(sc, acc, buy, sell, 1, T, market["batch"])
    assert refused(lambda: sc.settle(acc["exchange"], [f])) == "OrderCancelled"


def test_prices_outside_either_limit_and_self_trades_revert(
    sc: SettlementChain, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"])
    above = fill(sc, acc, buy, sell, 1, T, market["batch"], price=PRICE + 1)
    assert refused(lambda: sc.settle(acc["exchange"], [above])) == "MismatchedOrders"
    own = replace(sell, trader=acc["trader2"].address)
    selfie = Fill(2, market["batch"], T, PRICE, True, buy,
                  sign_order(acc["trader2"], buy, sc.domain), own,
                  sign_order(acc["trader2"], own, sc.domain))
    assert refused(lambda: sc.settle(acc["exchange"], [selfie])) == "SelfTrade"


def test_a_batch_not_eligible_for_the_instrument_reverts(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"] + 99)  # the sell signed another batch
    wrong = fill(sc, acc, buy, sell, 1, T, market["batch"] + 99)
    assert refused(lambda: sc.settle(acc["exchange"], [wrong])) == "IneligibleBatch"
    # a class instrument: the methodology of the batch and its vintage window decide
    sc.list_instrument(acc["exchange"], 8, methodology_id=market["methodology"],
                       vintage_from=0, vintage_to=2**40)
    sc.list_instrument(acc["exchange"], 9, methodology_id=market["methodology"] + 1,
                       vintage_from=0, vintage_to=2**40)
    cb, cs = orders(acc, market["batch"], instrument=8)
    sc.settle(acc["exchange"], [fill(sc, acc, cb, cs, 2, T, market["batch"])])
    wb, ws = orders(acc, market["batch"], instrument=9)
    other = fill(sc, acc, wb, ws, 3, T, market["batch"])
    assert refused(lambda: sc.settle(acc["exchange"], [other])) == "IneligibleBatch"


def test_only_the_exchange_settles_and_a_failed_batch_changes_nothing(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"], qty=5 * T)
    good = fill(sc, acc, buy, sell, 1, T, market["batch"])
    assert refused(lambda: sc.settle(acc["trader1"], [good])) == "NotAuthorized"
    bad = replace(fill(sc, acc, buy, sell, 2, T, market["batch"]),
                  sell_signature=b"\x00" * 65)
    assert refused(lambda: sc.settle(acc["exchange"], [good, bad])) == "InvalidSignature"
    assert not sc.is_settled(1)
    assert ledger.balance(acc["trader2"].address, market["batch"]) == 0


def test_cash_is_for_members_and_only_the_bank_issues_it(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    outsider = acc["outsider"].address
    assert refused(lambda: ledger.chain.send(
        sc.cash.functions.transfer(outsider, 100), acc["trader2"])) == "NotMember"
    assert refused(lambda: sc.deposit(acc["trader2"], acc["trader2"].address, 1,
                                      doc("x"))) == "NotAuthorized"
    assert refused(lambda: sc.deposit(acc["bank"], outsider, 1, doc("x"))) == "NotMember"
    sc.withdraw(acc["bank"], acc["trader2"].address, 50_000_00, doc("wire-out"))
    assert sc.cash_balance(acc["trader2"].address) == 50_000_00
    assert int(ledger.chain.call(sc.cash.functions.decimals())) == 2


def test_the_fast_batch_encoding_is_the_contract_call_and_settles(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"], qty=3 * T)
    fills = [fill(sc, acc, buy, sell, 40 + i, T, market["batch"]) for i in range(3)]
    web3_data = sc.settle_function(fills)._encode_transaction_data()
    assert sc.settle_calldata(fills) == bytes.fromhex(web3_data[2:])
    gas = sc.estimate_settle(acc["exchange"].address, fills)
    ledger.chain.wait(sc.send_settle(acc["exchange"], fills, gas * 12 // 10))
    assert ledger.balance(acc["trader2"].address, market["batch"]) == 3 * T
    with pytest.raises(ChainRevert) as again:
        sc.estimate_settle(acc["exchange"].address, fills)
    assert again.value.name == "TradeAlreadySettled"
