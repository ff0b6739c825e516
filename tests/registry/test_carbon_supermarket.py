"""The carbon supermarket (碳汇超市) on the real contracts: a retail seat stocks its shelf with
tickets and credits, sells down to one kilogram to a person without a chain account, each sale
retired at once for that person, and what it sold is listed and totalled per buyer reference."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.client import Chain, ChainRevert
from chain.deploy import Deployment
from devkit.roster import SEATS, dev_account
from devkit.scenario import Scenario, doc
from registry.ledger import Ledger
from registry.retail import KILOGRAM, RetailKind, Supermarket, buyer_reference_hash
from registry.tickets import Tickets
from tests.support.indexing import revert_to, snapshot

TONNE = 1_000_000
BUYER = "恩施市民 张三 Zhang San"
RECEIPT = "ES-2025-05-000123"


def reverts(name: str) -> pytest.RaisesContext[ChainRevert]:
    return pytest.raises(ChainRevert, match=name)


@dataclass
class Shop:
    """A retail seat with a ticket of 100 t and 10 t of a credit batch on its shelf, and a
    ticket of 50 t and 40 t of the batch in its hands."""

    ledger: Ledger
    acc: dict[str, LocalAccount]
    market: Supermarket
    tickets: Tickets
    shelf_ticket: int
    slot: int
    batch: int

    @property
    def seat(self) -> LocalAccount:
        return self.acc["retail"]


def make_shop(ledger: Ledger, acc: dict[str, LocalAccount]) -> Shop:
    s = Scenario(ledger, acc)
    market, tickets = Supermarket(ledger), Tickets(ledger)
    issued = s.ticket(200 * TONNE)
    batch = s.batch(quantity=1_000 * TONNE).batch_id
    dev, seat = acc["developer"], acc["retail"]
    held = tickets.transfer(dev, issued.token_id, seat.address, 100 * TONNE)
    tickets.transfer(dev, issued.token_id, seat.address, 50 * TONNE)  # kept, to stock later
    ledger.transfer(dev, seat.address, batch, 50 * TONNE)
    market.approve_tickets(seat)
    market.approve_credits(seat)
    shelf = market.stock_ticket(seat, held, 100 * TONNE)
    market.stock_credits(seat, batch, 10 * TONNE)
    return Shop(ledger, acc, market, tickets, shelf, issued.slot, batch)


@pytest.fixture
def shop(ledger: Ledger, acc: dict[str, LocalAccount]) -> Shop:
    return make_shop(ledger, acc)


def second_seat(shop: Shop) -> LocalAccount:
    """Another retail seat (not in the roster), admitted and funded."""
    other = dev_account(len(SEATS) + 4)
    gov = shop.acc["governance"]
    shop.ledger.admit(gov, other.address, "宣恩县碳汇超市 Xuan'en Carbon Supermarket")
    shop.ledger.grant_role(gov, "RETAIL", other.address)
    shop.ledger.chain.rpc("anvil_setBalance", other.address, hex(10**20))
    return other


# -- stocking -----------------------------------------------------------------------------------


def test_a_whole_ticket_stocked_keeps_its_id_and_sits_on_the_seats_shelf(shop: Shop) -> None:
    t = shop.tickets.ticket(shop.shelf_ticket)
    assert (t.owner, t.value) == (shop.market.address, 100 * TONNE)
    assert shop.market.shelf_seat_of(shop.shelf_ticket) == shop.seat.address
    assert shop.market.shelf_tickets(shop.seat.address) == [shop.shelf_ticket]
    lot = shop.market.lot(shop.seat.address, RetailKind.TICKET, shop.shelf_ticket)
    assert (lot.on_shelf, lot.stocked, lot.sold, lot.withdrawn) == (100 * TONNE, 100 * TONNE, 0, 0)


def test_part_of_a_ticket_stocked_is_split_off_onto_the_shelf(shop: Shop) -> None:
    s = Scenario(shop.ledger, shop.acc)
    own = s.ticket(5 * TONNE, owner="retail")
    shelf = shop.market.stock_ticket(shop.seat, own.token_id, 2 * TONNE)
    assert shelf != own.token_id
    assert shop.tickets.value_of(own.token_id) == 3 * TONNE
    assert shop.tickets.ticket(shelf).owner == shop.market.address


def test_stocked_credits_are_held_by_the_supermarket(shop: Shop) -> None:
    assert shop.ledger.balance(shop.market.address, shop.batch) == 10 * TONNE
    assert shop.ledger.balance(shop.seat.address, shop.batch) == 40 * TONNE
    assert shop.market.shelf_batches(shop.seat.address) == [shop.batch]


# -- selling ------------------------------------------------------------------------------------


def test_half_a_tonne_of_ticket_is_sold_and_retired_at_once_for_the_buyer(shop: Shop) -> None:
    done = shop.market.sell_ticket(shop.seat, shop.shelf_ticket, TONNE // 2, BUYER, RECEIPT,
                                   7_50)
    assert done.kind == RetailKind.TICKET and done.value == TONNE // 2
    ev = shop.ledger.events_of(done.sent, "TicketRetired")[0].args
    assert (ev["retirementId"], ev["holder"], ev["beneficiary"], ev["purpose"]) == (
        done.retirement_id, shop.market.address, BUYER, 0)
    assert (done.serial_start, done.serial_end) == (1, TONNE // 2)
    assert shop.tickets.slot(shop.slot).retired == TONNE // 2
    assert shop.tickets.value_of(shop.shelf_ticket) == 100 * TONNE - TONNE // 2
    sale = shop.market.sale(done.sale_id)
    assert (sale.seat, sale.retirement_id, sale.value, sale.price_fen) == (
        shop.seat.address, done.retirement_id, TONNE // 2, 7_50)
    assert sale.buyer_reference_hash == buyer_reference_hash(RECEIPT)


def test_one_kilogram_of_credits_is_sold_and_retired_at_once_for_the_buyer(shop: Shop) -> None:
    before = shop.ledger.batch(shop.batch).retired
    done = shop.market.sell_credits(shop.seat, shop.batch, KILOGRAM, BUYER, RECEIPT, 2)
    ev = shop.ledger.events_of(done.sent, "Retired")[0].args
    assert (ev["retirementId"], ev["holder"], ev["amount"], ev["beneficiary"]) == (
        done.retirement_id, shop.market.address, KILOGRAM, BUYER)
    assert shop.ledger.batch(shop.batch).retired == before + KILOGRAM
    assert shop.ledger.balance(shop.market.address, shop.batch) == 10 * TONNE - KILOGRAM


def test_sales_are_listed_and_totalled_per_buyer_reference(shop: Shop) -> None:
    a = shop.market.sell_ticket(shop.seat, shop.shelf_ticket, TONNE // 2, BUYER, RECEIPT, 7_50)
    b = shop.market.sell_credits(shop.seat, shop.batch, KILOGRAM, BUYER, RECEIPT, 2)
    shop.market.sell_credits(shop.seat, shop.batch, 3 * KILOGRAM, "李四", "ES-OTHER", 6)
    sales = shop.market.sales_of_buyer(shop.seat.address, RECEIPT)
    assert [s.sale_id for s in sales] == [a.sale_id, b.sale_id]
    totals = shop.market.buyer_totals(shop.seat.address, RECEIPT)
    assert (totals.sales, totals.value, totals.price_fen) == (2, TONNE // 2 + KILOGRAM, 7_52)
    assert len(shop.market.sales_of_seat(shop.seat.address)) == 3


def test_less_than_a_kilogram_is_refused(shop: Shop) -> None:
    with reverts("BelowRetailMinimum"):
        shop.market.sell_credits(shop.seat, shop.batch, KILOGRAM - 1, BUYER, RECEIPT, 1)


def test_a_fraction_of_a_kilogram_is_refused(shop: Shop) -> None:
    with reverts("NotWholeKilogram"):
        shop.market.sell_ticket(shop.seat, shop.shelf_ticket, 1_500, BUYER, RECEIPT, 1)


def test_a_member_without_a_retail_seat_cannot_sell(shop: Shop) -> None:
    with reverts("NotAuthorized"):
        shop.market.sell_credits(shop.acc["trader1"], shop.batch, KILOGRAM, BUYER, RECEIPT, 2)


def test_a_frozen_seat_does_nothing(shop: Shop) -> None:
    shop.ledger.freeze_account(shop.acc["regulator"], shop.seat.address, doc("freeze order"))
    with reverts("AccountFrozen"):
        shop.market.sell_ticket(shop.seat, shop.shelf_ticket, KILOGRAM, BUYER, RECEIPT, 2)
    with reverts("AccountFrozen"):
        shop.market.withdraw_credits(shop.seat, shop.batch, KILOGRAM)


def test_a_seat_cannot_sell_another_seats_stock(shop: Shop) -> None:
    other = second_seat(shop)
    with reverts("NotSeatStock"):
        shop.market.sell_ticket(other, shop.shelf_ticket, KILOGRAM, BUYER, RECEIPT, 2)
    with reverts("InsufficientStock"):
        shop.market.sell_credits(other, shop.batch, KILOGRAM, BUYER, RECEIPT, 2)
    with reverts("NotSeatStock"):
        shop.market.withdraw_ticket(other, shop.shelf_ticket, KILOGRAM)


def test_more_than_is_on_the_shelf_is_refused(shop: Shop) -> None:
    with reverts("InsufficientStock"):
        shop.market.sell_credits(shop.seat, shop.batch, 11 * TONNE, BUYER, RECEIPT, 2)


def test_tickets_sent_to_the_supermarket_unasked_are_refused(shop: Shop) -> None:
    s = Scenario(shop.ledger, shop.acc)
    own = s.ticket(5 * TONNE)
    with reverts("UnsolicitedTransfer"):
        shop.tickets.transfer(shop.acc["developer"], own.token_id, shop.market.address, TONNE)


def test_credits_sent_to_the_supermarket_unasked_are_refused(shop: Shop) -> None:
    with reverts("UnsolicitedTransfer"):
        shop.ledger.transfer(shop.acc["developer"], shop.market.address, shop.batch, TONNE)


# -- withdrawing --------------------------------------------------------------------------------


def test_unsold_stock_is_withdrawn_to_the_seat(shop: Shop) -> None:
    shop.market.sell_ticket(shop.seat, shop.shelf_ticket, TONNE, BUYER, RECEIPT, 15_00)
    part = shop.market.withdraw_ticket(shop.seat, shop.shelf_ticket, 9 * TONNE)
    assert shop.tickets.ticket(part).owner == shop.seat.address
    whole = shop.market.withdraw_ticket(shop.seat, shop.shelf_ticket, 90 * TONNE)
    assert whole == shop.shelf_ticket
    assert shop.tickets.ticket(whole).owner == shop.seat.address
    shop.market.withdraw_credits(shop.seat, shop.batch, 10 * TONNE)
    assert shop.ledger.balance(shop.seat.address, shop.batch) == 50 * TONNE


# -- invariant ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(chain: Chain, deployment: Deployment, acc: dict[str, LocalAccount]) -> Iterator[Shop]:
    start = snapshot(chain)
    yield make_shop(Ledger(chain, deployment), acc)
    revert_to(chain, start)


OPS = ("stock_ticket", "stock_credits", "sell_ticket", "sell_credits", "withdraw_ticket",
       "withdraw_credits")
steps = st.lists(st.tuples(st.sampled_from(OPS), st.integers(min_value=1, max_value=30_000)),
                 min_size=1, max_size=10)


def _step(d: Shop, op: str, kg: int, shelves: list[int]) -> None:
    value = kg * KILOGRAM
    token = shelves[kg % len(shelves)]
    if op == "stock_ticket":
        held = [t for t, v in d.tickets.tickets_of_slot(d.slot).items()
                if v.owner == d.seat.address and v.value]
        if held:
            shelves.append(d.market.stock_ticket(d.seat, held[kg % len(held)], value))
    elif op == "stock_credits":
        d.market.stock_credits(d.seat, d.batch, value)
    elif op == "sell_ticket":
        d.market.sell_ticket(d.seat, token, value, BUYER, f"R{kg % 3}", kg)
    elif op == "sell_credits":
        d.market.sell_credits(d.seat, d.batch, value, BUYER, f"R{kg % 3}", kg)
    elif op == "withdraw_ticket":
        d.market.withdraw_ticket(d.seat, token, value)
    else:
        d.market.withdraw_credits(d.seat, d.batch, value)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_every_unit_stocked_is_on_the_shelf_sold_or_withdrawn(
        base: Shop, ops: list[tuple[str, int]]) -> None:
    d = base
    snap = snapshot(d.ledger.chain)
    try:
        shelves = [d.shelf_ticket]
        for op, kg in ops:
            try:
                _step(d, op, kg, shelves)
            except ChainRevert as exc:
                assert exc.name in {"InsufficientStock", "NotSeatStock", "ZeroValue",
                                    "ERC1155InsufficientBalance", "InsufficientValue"}, exc.name
        seat, market = d.seat.address, d.market
        sold_ticket = 0
        for token in set(shelves):
            lot = market.lot(seat, RetailKind.TICKET, token)
            assert lot.stocked == lot.on_shelf + lot.sold + lot.withdrawn
            if market.shelf_seat_of(token) == seat:
                assert d.tickets.ticket(token).owner == market.address
                assert d.tickets.value_of(token) == lot.on_shelf
            sold_ticket += lot.sold
        lot = market.lot(seat, RetailKind.CREDIT, d.batch)
        assert lot.stocked == lot.on_shelf + lot.sold + lot.withdrawn
        assert d.ledger.balance(market.address, d.batch) == lot.on_shelf
        sales = market.sales_of_seat(seat)
        assert sum(s.value for s in sales if s.kind == RetailKind.TICKET) == sold_ticket
        assert sum(s.value for s in sales if s.kind == RetailKind.CREDIT) == lot.sold
        assert d.tickets.slot(d.slot).retired == sold_ticket
    finally:
        revert_to(d.ledger.chain, snap)
