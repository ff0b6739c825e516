"""Delivery versus payment on a real chain: what settles, and every way the operator could try
to cheat (forged signatures, replays, expired or cancelled orders, overfills, double
settlement, the wrong batch) reverting in the contract."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.exceptions import ContractCustomError, ContractLogicError

from chain.client import ChainRevert
from devkit.scenario import Scenario, doc
from exchange.onchain import Fill, SettlementChain
from exchange.signing import order_digest, recover_signer, sign_order, signable
from registry.ledger import Ledger
from tests.support.fills import PRICE, T, fill, orders, refused


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

    from chain.signatures import recover
    from exchange.signing import cancel_digest, cancel_typed_data, sign_cancel

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


def test_an_order_word_that_is_not_its_fields_canonical_encoding_fails_its_signature(
    sc: SettlementChain, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    """The contract hashes an order's calldata words as they are (hashOrder): a word with dirty
    high bits (here the buy's timeInForce and retireFor, which nothing else reads before the
    signature check) is no order its trader signed."""
    buy, sell = orders(acc, market["batch"])
    data = sc.settle_calldata([fill(sc, acc, buy, sell, 1, T, market["batch"])])
    buy_at = 4 + 2 * 32 + 5 * 32  # selector, array offset and length, the fill's 5 words
    for field in (7, 11):  # timeInForce (uint8), retireFor (uint64)
        at = buy_at + field * 32
        dirty = data[:at] + b"\x01" + data[at + 1:]
        tx: Any = {"from": acc["exchange"].address, "to": sc.settlement.address,
                   "data": "0x" + dirty.hex()}
        with pytest.raises((ContractCustomError, ContractLogicError)) as exc:
            sc.chain.w3.eth.estimate_gas(tx)
        assert sc.chain.revert_from(exc.value).name == "InvalidSignature"
    assert sc.estimate_settle(acc["exchange"].address,
                              [fill(sc, acc, buy, sell, 1, T, market["batch"])]) > 0


# -- what the trader signed is what happens --------------------------------------------------


def test_a_fee_raised_after_signing_is_capped_by_what_each_order_signed(
    sc: SettlementChain, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"], max_fee_bps=20)  # signed at 0.1 % / 0.2 %
    sc.set_fees(acc["exchange"], acc["exchange"].address, 500, 500)  # 5 % a side, the most
    sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 1, 4 * T, market["batch"])])
    cash = 4 * PRICE
    assert sc.cash_balance(acc["trader2"].address) == 100_000_00 - cash - cash * 20 // 10_000
    assert sc.cash_balance(acc["trader1"].address) == cash - cash * 20 // 10_000


def test_an_order_signed_with_no_fee_cap_pays_no_fee(
    sc: SettlementChain, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"], max_fee_bps=0)
    sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 1, T, market["batch"])])
    assert sc.cash_balance(acc["trader1"].address) == PRICE
    assert sc.cash_balance(acc["exchange"].address) == 0


def test_a_listed_instrument_is_never_re_pointed_and_its_id_never_reused(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    other = Scenario(ledger, acc).batch(quantity=100 * T).batch_id
    buy, sell = orders(acc, other)  # orders for instrument 7, the seller offering batch B
    assert refused(lambda: sc.list_instrument(acc["exchange"], 7, batch_id=other)) == (
        "InstrumentIdUsed")
    f = fill(sc, acc, buy, sell, 1, T, other)
    assert refused(lambda: sc.settle(acc["exchange"], [f])) == "IneligibleBatch"
    ledger.chain.send(sc.settlement.functions.delistInstrument(7), acc["exchange"])
    assert refused(lambda: sc.list_instrument(acc["exchange"], 7, batch_id=other)) == (
        "InstrumentIdUsed")
    assert refused(lambda: sc.settle(acc["exchange"], [f])) == "UnknownInstrument"


def test_a_class_trade_delivers_the_batch_its_orders_signed(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    a = market["batch"]
    b = Scenario(ledger, acc).batch(quantity=100 * T,
                                    methodology_id=market["methodology"]).batch_id
    ledger.transfer(acc["developer"], acc["trader1"].address, b, 10 * T)
    sc.list_instrument(acc["exchange"], 8, methodology_id=market["methodology"],
                       vintage_from=0, vintage_to=2**40)  # admits both batches
    buy, sell = orders(acc, a, instrument=8)
    swapped = fill(sc, acc, buy, sell, 1, T, b)  # the operator delivers B for a sell of A
    assert refused(lambda: sc.settle(acc["exchange"], [swapped])) == "BatchNotSigned"
    picky, sell_b = orders(acc, b, instrument=8, nonce=2, buy_batch=a)
    mismatch = fill(sc, acc, picky, sell_b, 2, T, b)  # the buy accepts A only
    assert refused(lambda: sc.settle(acc["exchange"], [mismatch])) == "BatchNotSigned"
    sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 3, T, a)])
    assert ledger.balance(acc["trader2"].address, a) == T


def test_a_lot_and_tick_worth_less_than_a_fen_cannot_be_listed(
    sc: SettlementChain, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    # the rounding theft: lot 1 unit at 5,000 fen/t, 199-unit fills worth 0.995 fen each
    assert refused(lambda: sc.list_instrument(acc["exchange"], 20, batch_id=market["batch"],
                                              lot=1, tick=5_000)) == "LotTickBelowOneFen"
    assert refused(lambda: sc.list_instrument(acc["exchange"], 20, batch_id=market["batch"],
                                              lot=0, tick=5_000)) == "InvalidInstrument"
    sc.list_instrument(acc["exchange"], 20, batch_id=market["batch"], lot=200, tick=5_000)


def test_dust_and_off_grid_fills_revert(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    sc.list_instrument(acc["exchange"], 20, batch_id=market["batch"], lot=200, tick=5_000)
    buy, sell = orders(acc, market["batch"], qty=8_000, price=5_000, instrument=20)
    dust = fill(sc, acc, buy, sell, 1, 199, market["batch"], price=5_000)
    assert refused(lambda: sc.settle(acc["exchange"], [dust])) == "OffGridFill"
    assert refused(lambda: ledger.chain.call(sc.settlement.functions.quote(
        199, 5_000, 0, 0))) == "DustFill"
    fills = [fill(sc, acc, buy, sell, 2 + i, 200, market["batch"], price=5_000)
             for i in range(40)]
    sc.settle(acc["exchange"], fills)  # 40 lots of 1 fen each
    assert ledger.balance(acc["trader2"].address, market["batch"]) == 8_000
    assert sc.cash_balance(acc["trader1"].address) == 40


def test_the_rounding_remainder_goes_to_the_seller_never_to_the_exchange(
    sc: SettlementChain, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    sc.list_instrument(acc["exchange"], 21, batch_id=market["batch"], lot=300, tick=5_000)
    buy, sell = orders(acc, market["batch"], qty=300, price=5_000, instrument=21,
                       max_fee_bps=0)
    before = sc.cash_balance(acc["exchange"].address)
    sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 1, 300, market["batch"], price=5_000)])
    # 300 units at 5,000 fen/t are worth 1.5 fen: the buyer pays 2 and the seller receives
    # them; the exchange, which chose the fill, gets no remainder
    assert sc.cash_balance(acc["trader2"].address) == 100_000_00 - 2
    assert sc.cash_balance(acc["trader1"].address) == 2
    assert sc.cash_balance(acc["exchange"].address) == before


def test_an_order_filled_whole_by_one_trade_spends_its_nonce(
    sc: SettlementChain, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"], qty=T)
    sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 1, T, market["batch"])])
    assert sc.nonce_used(acc["trader2"].address, 1) and sc.nonce_used(acc["trader1"].address, 1)
    assert sc.filled(order_digest(buy, sc.domain)) == 0  # no per-order slot written
    again = fill(sc, acc, buy, sell, 2, T, market["batch"])
    assert refused(lambda: sc.settle(acc["exchange"], [again])) == "NonceUsed"
    twin, fresh = orders(acc, market["batch"], qty=2 * T, price=PRICE - 5)  # same nonce 1
    fresh = replace(fresh, nonce=9)
    for qty in (T, 2 * T):  # in part or in full: the nonce names one order
        f = fill(sc, acc, twin, fresh, 3, qty, market["batch"], price=PRICE - 5)
        assert refused(lambda f=f: sc.settle(acc["exchange"], [f])) == "NonceUsed"


def test_a_cancelled_order_settles_neither_whole_nor_in_part(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"], qty=2 * T)
    ledger.chain.send(sc.settlement.functions.cancelOrder(buy.as_tuple()), acc["trader2"])
    for trade_id, qty in ((1, 2 * T), (2, T)):
        f = fill(sc, acc, buy, sell, trade_id, qty, market["batch"])
        assert refused(lambda f=f: sc.settle(acc["exchange"], [f])) == "OrderCancelled"
    part, rest = orders(acc, market["batch"], qty=3 * T, nonce=2)
    sc.settle(acc["exchange"], [fill(sc, acc, part, rest, 3, T, market["batch"])])
    ledger.chain.send(sc.settlement.functions.cancelOrder(rest.as_tuple()), acc["trader1"])
    f = fill(sc, acc, part, rest, 4, T, market["batch"])
    assert refused(lambda: sc.settle(acc["exchange"], [f])) == "OrderCancelled"
    assert ledger.balance(acc["trader2"].address, market["batch"]) == T


def test_a_frozen_trader_or_fee_account_moves_nothing(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"])
    f = fill(sc, acc, buy, sell, 1, T, market["batch"])
    for frozen in (acc["trader2"].address, acc["exchange"].address):  # buyer, fee account
        ledger.freeze_account(acc["regulator"], frozen, doc("freeze order"))
        assert refused(lambda: sc.settle(acc["exchange"], [f])) == "AccountFrozen"
        ledger.unfreeze_account(acc["regulator"], frozen, doc("lifted"))
    assert sc.cash_balance(acc["trader2"].address) == 100_000_00
    sc.settle(acc["exchange"], [f])


def test_each_trade_moves_cash_once_and_each_buyer_pays_its_fees_once_per_batch(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    buy, sell = orders(acc, market["batch"], qty=5 * T)
    sent = sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 10 + i, T, market["batch"])
                                       for i in range(5)])
    moves = ledger.events_of(sent, "Transfer")
    assert len(moves) == 5 + 1  # five trades, one fee payment
    fee = moves[-1].args
    assert (fee["from"], fee["to"], fee["value"]) == (
        acc["trader2"].address, acc["exchange"].address, 5 * (PRICE * 10 // 10_000 + PRICE * 20
                                                             // 10_000))


def test_only_the_settlement_contract_takes_the_cash_path_without_roster_checks(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    fn = sc.cash.functions.settlementTransfer(acc["trader2"].address, acc["outsider"].address, 1)
    assert refused(lambda: ledger.chain.send(fn, acc["trader2"])) == "NotSettlementContract"
    assert refused(lambda: ledger.chain.send(fn, acc["exchange"])) == "NotSettlementContract"


def test_time_in_force_is_for_the_engine_and_the_signed_expiry_bounds_settlement(
    sc: SettlementChain, ledger: Ledger, acc: dict[str, LocalAccount], market: dict[str, int]
) -> None:
    # an IOC order, signed with a short life (by the chain's clock, which tests move)
    expiry = int(ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 60
    buy, sell = orders(acc, market["batch"], qty=2 * T, expiry=expiry)
    buy = replace(buy, time_in_force=1)
    sc.settle(acc["exchange"], [fill(sc, acc, buy, sell, 1, T, market["batch"])])  # a part
    ledger.chain.rpc("evm_increaseTime", 120)
    ledger.chain.rpc("evm_mine")
    late = fill(sc, acc, buy, sell, 2, T, market["batch"])
    assert refused(lambda: sc.settle(acc["exchange"], [late])) == "OrderExpired"
