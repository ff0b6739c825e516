"""The field table of each signed message (chain/eip712.py) is the one spelling of it: the type
hash equals the contract's, the Solidity struct has the same fields in the same order, the API
model takes the same fields, and what a wallet signs from the table verifies on chain."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from api.routes.exchange import OrderIn
from chain.abi import item_of
from chain.metatx import FORWARD_REQUEST, forward_request
from exchange.signing import ORDER, Order
from registry.ledger import Ledger

ORDER_EXAMPLE = Order("0x" + "11" * 20, 1, 7, 60_000, 5_000_000, 2, 42, 1_800_000_000,
                      b"\x05" * 32, batch_id=3, max_fee_bps=20, retire_for=9)


def test_the_order_type_hash_is_the_settlement_contracts(ledger: Ledger) -> None:
    onchain = ledger.chain.call(ledger.c("Settlement").functions.ORDER_TYPEHASH())
    assert bytes(onchain) == ORDER.typehash


def test_the_order_table_names_the_solidity_structs_fields_in_order(ledger: Ledger) -> None:
    hash_order = item_of(ledger.deployment.abis["Settlement"], "function", "hashOrder")
    struct = hash_order["inputs"][0]
    assert [c["name"] for c in struct["components"]] == [f.name for f in ORDER.fields]
    assert [c["type"] for c in struct["components"]] == [f.type for f in ORDER.fields]


def test_the_struct_hash_from_the_table_is_the_contracts(ledger: Ledger) -> None:
    from exchange.onchain import SettlementChain
    from exchange.signing import order_digest

    sc = SettlementChain(ledger)
    assert sc.order_hash_onchain(ORDER_EXAMPLE) == order_digest(ORDER_EXAMPLE, sc.domain)


def test_the_api_order_model_takes_the_tables_fields() -> None:
    assert set(OrderIn.model_fields) == set(ORDER.attrs)


def test_an_order_round_trips_through_its_journal_spelling() -> None:
    assert Order.from_json(ORDER_EXAMPLE.to_json()) == ORDER_EXAMPLE
    raw = {**ORDER_EXAMPLE.to_json(), "client_order_id": ORDER_EXAMPLE.client_order_id.hex()}
    assert Order.from_json(raw) == ORDER_EXAMPLE  # snapshots spell it without 0x


def test_a_forward_request_signed_from_the_table_verifies_on_the_forwarder(
    ledger: Ledger, acc: dict[str, LocalAccount]
) -> None:
    forwarder = ledger.c("TanhuiForwarder")
    call = ledger.c("CarbonCredits").functions.setApprovalForAll(acc["trader2"].address, True)
    request = forward_request(ledger.chain, forwarder, acc["trader1"], call)
    assert ledger.chain.call(forwarder.functions.verify(request)) is True
    assert [f.name for f in FORWARD_REQUEST.fields] == [
        "from", "to", "value", "gas", "nonce", "deadline", "data"]
