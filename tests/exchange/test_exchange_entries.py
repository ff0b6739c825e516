"""The journal's entries (exchange/entries.py): every kind reads back exactly what it wrote, the
state stage has a handler for each, and lines written before the entries were typed (instrument
ids as strings, fields that came later missing) still read."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from exchange.entries import (
    KINDS,
    BlockAgreed,
    CancelAllRequested,
    CancelRequested,
    Entry,
    FrozenOnChain,
    InstrumentListed,
    JournalFormat,
    LotOffered,
    OrderPlaced,
    OrdersExpired,
    Signed,
    StatusSet,
    TradesFailed,
    TradesRequeued,
    TradesSettled,
    Uncrossed,
    VoidedOnChain,
    decode,
    encode,
)
from exchange.instruments import CreditClass, InstrumentSpec, Status
from exchange.orders import Side, TimeInForce
from exchange.risk import Risk
from exchange.signing import Domain, Order
from exchange.state import ExchangeState

T = 1_000_000
TRADER = Account.from_key(b"\x01" * 32).address
ORDER = Order(TRADER, Side.SELL, 41, 60_000, 2 * T, TimeInForce.GTC, 7, 2_000_000_000,
              b"\x05" * 32, batch_id=3, max_fee_bps=20)
SIGNED = Signed(ORDER, b"\x11" * 65)

ONE_OF_EACH: list[Entry] = [
    JournalFormat(),
    InstrumentListed(InstrumentSpec(41, tick=5, lot=T, reference_price=60_000), 3),
    InstrumentListed(InstrumentSpec(42, status=Status.AUCTION), 0, CreditClass(2, 10, 20)),
    StatusSet(41, Status.HALTED, 61_000),
    StatusSet(41, Status.OPEN, 60_500, roll=True),
    OrderPlaced(SIGNED, "market", 3),
    LotOffered(SIGNED, 3),
    BlockAgreed(Signed(ORDER.__class__(TRADER, Side.BUY, 41, 60_000, T, TimeInForce.GTC, 8,
                                       2_000_000_000, retire_for=5), b"\x22" * 65), SIGNED, 3,
                60_000, T),
    Uncrossed(41),
    CancelRequested(12),
    CancelAllRequested(41, TRADER),
    TradesSettled((1, 2), "0x" + "ab" * 32),
    TradesRequeued((3,), "transaction lost"),
    TradesFailed((4,), "InsufficientBalance", "seller"),
    VoidedOnChain((b"\x33" * 32,), {TRADER: 9}, 120),
    FrozenOnChain({TRADER: True}, {3: False}, 121),
    OrdersExpired((5, 6)),
]


@pytest.mark.parametrize("entry", ONE_OF_EACH, ids=lambda e: type(e).__name__)
def test_every_entry_kind_reads_back_what_it_wrote(entry: Entry) -> None:
    line = json.loads(json.dumps({"seq": 9, **encode(entry, 1_700_000_000_000)}))
    assert decode(line) == (entry, 9, 1_700_000_000_000)


def test_every_kind_of_entry_is_in_the_table_and_has_a_handler_in_the_state() -> None:
    assert {type(e) for e in ONE_OF_EACH} == set(KINDS.values())
    state = ExchangeState(Domain(31337, "0x" + "11" * 20), Risk(20))
    assert set(state._handlers) == set(KINDS.values())


def test_the_format_line_carries_no_time() -> None:
    assert encode(JournalFormat()) == {"type": "format", "version": 2}


def test_lines_written_before_the_entries_were_typed_still_read() -> None:
    old_status = {"seq": 4, "type": "status", "instrument": "41", "status": "open", "ts": 5}
    old_order = {"seq": 5, "type": "order", "signature": "0x" + "11" * 65,
                 "order": {**ORDER.to_json(), "side": 1, "time_in_force": 0}, "ts": 6}
    old_listing = {"seq": 3, "type": "instrument", "batch_id": 3, "class": None,
                   "spec": {**json.loads(json.dumps(encode(ONE_OF_EACH[1])["spec"])),
                            "instrument": "41"}}
    assert decode(old_status) == (StatusSet(41, Status.OPEN), 4, 5)
    placed, _, _ = decode(old_order)
    assert placed == OrderPlaced(SIGNED, "limit", 0)  # no batch: the instrument's (state.py)
    assert isinstance(placed, OrderPlaced) and placed.signed.order.side is Side.SELL
    listed, _, ts = decode(old_listing)
    assert isinstance(listed, InstrumentListed) and listed.spec.instrument == 41 and ts == 0


def test_an_order_line_written_before_orders_signed_retire_for_reads_as_delivered() -> None:
    before = {k: v for k, v in ORDER.to_json().items() if k != "retire_for"}
    line = {"seq": 6, "type": "order", "otype": "limit", "batch_id": 3,
            "signature": "0x" + "11" * 65, "order": before, "ts": 7}
    placed, _, _ = decode(line)
    assert isinstance(placed, OrderPlaced) and placed.signed.order.retire_for == 0
    assert placed == OrderPlaced(SIGNED, "limit", 3)


def test_a_buy_for_a_compensation_order_keeps_it_in_its_journal_line() -> None:
    buy = Order(TRADER, Side.BUY, 41, 60_000, T, TimeInForce.GTC, 9, 2_000_000_000,
                retire_for=12)
    line = json.loads(json.dumps({"seq": 9, **encode(OrderPlaced(Signed(buy, b"\x11" * 65)))}))
    assert line["order"]["retire_for"] == 12
    assert decode(line)[0] == OrderPlaced(Signed(buy, b"\x11" * 65))


def test_an_unknown_entry_is_refused_rather_than_skipped() -> None:
    with pytest.raises(ValueError, match="unknown journal entry"):
        decode({"seq": 1, "type": "teleport"})
