"""Forest carbon tickets (林业碳票) trade on the exchange like credits: a ticket class instrument
(a region by division-code prefix, a vintage window) is one book; a sell signs the ticket it
delivers from, which its seller must own, and settlement splits the quantity off it into a new
ticket of the same slot for the buyer while cash moves, in one transaction (Settlement.sol).
Pledged value is held by the pledge register and is never offered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import ChainRevert
from devkit.scenario import Scenario, doc
from exchange.instruments import TicketClass
from exchange.onchain import Fill, SettlementChain
from exchange.runtime import Exchange
from exchange.signing import Order, sign_order
from registry.categories import SinkCategory
from registry.ledger import Ledger
from registry.pledges import Pledges
from registry.tickets import Tickets
from tests.support.api import Api
from tests.support.exchange import T, signed

TICKETS = 31
YUAN_15 = 1_500  # fen per tonne
SOLD = 2_723 * T  # the Sanming figure sold on the exchange
GUANGXI, SANMING = 450702, 350402  # division codes (Maowei Sea, Qinzhou; Sanyuan, Sanming)
FAR = 2**40


@dataclass(frozen=True)
class Forest:
    """The developer's tickets: two periods of a Guangxi parcel and one of a Sanming parcel;
    the instrument admits Guangxi (45) tickets of the first period only."""

    ticket: int  # Guangxi, first period: eligible
    next_period: int  # Guangxi, second period: outside the vintage window
    sanming: int  # Fujian: outside the region
    slot: int
    klass: TicketClass


def _parcel(sc: Scenario, division_code: int) -> int:
    return sc.project(sc.methodology(category=SinkCategory.FOREST), "developer",
                      division_code=division_code)


@pytest.fixture
def forest(api: Api, ex: Exchange, ledger: Ledger, acc: dict[str, LocalAccount]) -> Forest:
    sc = Scenario(ledger, acc)
    guangxi = _parcel(sc, GUANGXI)
    first = sc.ticket(29_715 * T, project_id=guangxi)
    second = sc.ticket(1_000 * T, project_id=guangxi)
    sanming = sc.ticket(1_000 * T, project_id=_parcel(sc, SANMING))
    start = Tickets(ledger).slot(first.slot).period_start
    klass = TicketClass(45, 2, start, start + 1)
    ex.chain.approve_trading(acc["developer"])
    api.post("/v1/exchange/instruments", "exchange",
             {"instrument": TICKETS, "ticket_class": {
                 "division_prefix": 45, "prefix_digits": 2, "vintage_from": start,
                 "vintage_to": start + 1}, "tick": 5, "lot": T, "reference_price": YUAN_15},
             status=201)
    return Forest(first.token_id, second.token_id, sanming.token_id, first.slot, klass)


def sell(acc: dict[str, LocalAccount], ex: Exchange, ticket: int, qty: int = SOLD,
         nonce: int = 1) -> dict[str, object]:
    return signed(acc, ex, "developer", "sell", YUAN_15, qty, nonce, instrument=TICKETS,
                  batch=ticket)


def buy(acc: dict[str, LocalAccount], ex: Exchange, qty: int = SOLD, nonce: int = 1,
        retire_for: int = 0) -> dict[str, object]:
    return signed(acc, ex, "trader2", "buy", YUAN_15, qty, nonce, instrument=TICKETS,
                  retire_for=retire_for)


def forged(sc: SettlementChain, acc: dict[str, LocalAccount], ticket: int,
           seller: str = "developer", retire_for: int = 0, trade_id: int = 9_001) -> Fill:
    """A fill the exchange never matched, both orders validly signed: `seller` sells `ticket`."""
    b = Order(acc["trader2"].address, 0, TICKETS, YUAN_15, 10 * T, 0, 77, FAR, batch_id=0,
              max_fee_bps=20, retire_for=retire_for)
    s = Order(acc[seller].address, 1, TICKETS, YUAN_15, 10 * T, 0, 77, FAR, batch_id=ticket,
              max_fee_bps=20)
    return Fill(trade_id, ticket, 10 * T, YUAN_15, True, b,
                sign_order(acc["trader2"], b, sc.domain), s,
                sign_order(acc[seller], s, sc.domain))


def revert_name(fn: Callable[[], object]) -> str:
    with pytest.raises(ChainRevert) as exc:
        fn()
    return str(exc.value.name)


def test_a_ticket_class_is_listed_with_its_region_and_vintage_window(
    api: Api, ex: Exchange, ledger: Ledger, forest: Forest
) -> None:
    [row] = [i for i in api.get("/v1/exchange/instruments") if i["instrument"] == TICKETS]
    assert row["ticket_class"] == {"division_prefix": 45, "prefix_digits": 2,
                                   "vintage_from": forest.klass.vintage_from,
                                   "vintage_to": forest.klass.vintage_to}
    assert row["credit_class"] is None and row["batch_id"] is None
    onchain = ledger.chain.call(ex.chain.settlement.functions.instrumentOf(TICKETS))
    assert onchain[4] == 1  # InstrumentKind.Tickets
    assert tuple(onchain[6:]) == (forest.klass.vintage_from, forest.klass.vintage_to, 45, 2)


def test_a_ticket_sells_at_15_yuan_a_tonne_into_a_new_ticket_of_its_slot(
    api: Api, ex: Exchange, ledger: Ledger, acc: dict[str, LocalAccount], forest: Forest
) -> None:
    tickets = Tickets(ledger)
    seller, buyer = acc["developer"].address, acc["trader2"].address
    cash = {a: ex.chain.cash_balance(a) for a in (seller, buyer, acc["exchange"].address)}
    api.post("/v1/exchange/orders", None, sell(acc, ex, forest.ticket), status=201)
    [trade] = api.post("/v1/exchange/orders", None, buy(acc, ex), status=201)["trades"]
    assert trade["batch_id"] == forest.ticket
    assert ex.worker.run_once() == 1
    new = tickets.token_count()
    assert tickets.ticket(new).owner == buyer
    assert (tickets.ticket(new).slot, tickets.value_of(new)) == (forest.slot, SOLD)
    assert tickets.value_of(forest.ticket) == (29_715 - 2_723) * T
    value = 2_723 * YUAN_15  # 4,084,500 fen; the buy is the taker (20 bps), the sell the maker
    buyer_fee, seller_fee = value * 20 // 10_000, value * 10 // 10_000
    assert ex.chain.cash_balance(buyer) == cash[buyer] - value - buyer_fee
    assert ex.chain.cash_balance(seller) == cash[seller] + value - seller_fee
    fees = ex.chain.cash_balance(acc["exchange"].address) - cash[acc["exchange"].address]
    assert fees == buyer_fee + seller_fee


def test_a_pledged_ticket_is_never_offered(
    api: Api, ex: Exchange, ledger: Ledger, acc: dict[str, LocalAccount], forest: Forest
) -> None:
    pledges = Pledges(ledger)
    pledges.approve_tickets(acc["developer"])
    now = int(ledger.chain.w3.eth.get_block("latest")["timestamp"])
    escrow = pledges.pledge_ticket(acc["developer"], forest.ticket, 18_294 * T,
                                   acc["bank"].address, doc("林票质押贷款 2024-018"),
                                   5_000_000_00, now + 365 * 86_400).token_id
    r = api.raw("POST", "/v1/exchange/orders", None, sell(acc, ex, escrow, 10 * T))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "ticket_not_held")
    assert r.json()["error"]["details"] == {"batch_id": escrow}


def test_a_forged_fill_naming_a_pledged_ticket_reverts(
    ex: Exchange, ledger: Ledger, acc: dict[str, LocalAccount], forest: Forest
) -> None:
    pledges = Pledges(ledger)
    pledges.approve_tickets(acc["developer"])
    now = int(ledger.chain.w3.eth.get_block("latest")["timestamp"])
    escrow = pledges.pledge_ticket(acc["developer"], forest.ticket, 18_294 * T,
                                   acc["bank"].address, doc("林票质押贷款 2024-019"),
                                   5_000_000_00, now + 365 * 86_400).token_id
    fill = forged(ex.chain, acc, escrow)
    assert revert_name(lambda: ex.chain.settle(acc["exchange"], [fill])) == "TicketNotHeld"
    assert Tickets(ledger).value_of(escrow) == 18_294 * T


def test_a_fill_selling_another_members_ticket_reverts(
    ex: Exchange, ledger: Ledger, acc: dict[str, LocalAccount], forest: Forest
) -> None:
    # the developer approved settlement as its operator; trader1 signs a sell of its ticket
    fill = forged(ex.chain, acc, forest.ticket, seller="trader1")
    assert revert_name(lambda: ex.chain.settle(acc["exchange"], [fill])) == "TicketNotHeld"
    assert Tickets(ledger).value_of(forest.ticket) == 29_715 * T


@pytest.mark.parametrize("which", ["sanming", "next_period"])
def test_a_ticket_outside_the_region_or_vintage_is_refused(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], forest: Forest, which: str
) -> None:
    ticket = getattr(forest, which)
    assert api.error("POST", "/v1/exchange/orders", None, sell(acc, ex, ticket, 10 * T),
                     422) == "ineligible_batch"
    fill = forged(ex.chain, acc, ticket)
    assert revert_name(lambda: ex.chain.settle(acc["exchange"], [fill])) == "IneligibleBatch"


def test_a_ticket_instrument_refuses_retire_for(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], forest: Forest
) -> None:
    assert api.error("POST", "/v1/exchange/orders", None, buy(acc, ex, retire_for=1),
                     422) == "ticket_retire_for"
    fill = forged(ex.chain, acc, forest.ticket, retire_for=1)
    assert revert_name(lambda: ex.chain.settle(acc["exchange"], [fill])) == "MismatchedOrders"


def test_the_eligible_tickets_are_the_class_ones(
    ex: Exchange, forest: Forest
) -> None:
    eligible = ex.chain.eligible_batches(forest.klass)
    assert forest.ticket in eligible
    assert forest.next_period not in eligible and forest.sanming not in eligible


@pytest.mark.parametrize("prefix,digits", [(4, 2), (45, 3), (45, 4), (0, 6), (12, 0)])
def test_a_ticket_class_region_must_be_a_division_prefix(
    api: Api, ex: Exchange, acc: dict[str, LocalAccount], forest: Forest, prefix: int,
    digits: int
) -> None:
    body = {"instrument": 40, "ticket_class": {"division_prefix": prefix,
                                               "prefix_digits": digits, "vintage_from": 0,
                                               "vintage_to": FAR}}
    r = api.raw("POST", "/v1/exchange/instruments", "exchange", body)
    assert r.status_code == 422
    assert r.json()["error"]["code"] in ("invalid_division_prefix", "invalid_request")
    if digits in (0, 2, 4, 6):
        assert r.json()["error"]["code"] == "invalid_division_prefix"
        klass = TicketClass(prefix, digits, 0, FAR)
        assert revert_name(lambda: ex.chain.list_ticket_instrument(
            acc["exchange"], 40, klass)) == "InvalidDivisionPrefix"


def test_a_ticket_instrument_id_is_never_reused(
    ex: Exchange, acc: dict[str, LocalAccount], forest: Forest
) -> None:
    assert revert_name(lambda: ex.chain.list_ticket_instrument(
        acc["exchange"], TICKETS, forest.klass)) == "InstrumentIdUsed"
    assert revert_name(lambda: ex.chain.list_ticket_instrument(
        acc["exchange"], 41, forest.klass, lot=1, tick=1)) == "LotTickBelowOneFen"
    assert revert_name(lambda: ex.chain.list_ticket_instrument(
        acc["exchange"], 41, TicketClass(45, 2, 5, 5))) == "InvalidInstrument"
