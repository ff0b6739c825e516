"""Ecological-compensation orders on the real chain (Flow 11): an authority registers the order
of a case; only retirements that meet its terms, by its parties, before its deadline, count; the
contract marks it fulfilled. Purchases at a fixed-price offer retire on delivery."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import ChainRevert
from devkit.scenario import BASE_TIME, PERIOD, Scenario, doc
from registry.categories import SinkCategory
from registry.compensation import (
    Compensation,
    OrderStatus,
    Terms,
    Unit,
    fen_value,
    offer_cost,
)
from registry.ledger import Ledger, Purpose

TONNE = 1_000_000
DAY = 86_400
CASE = "(2025)闽0181民初123号"
# The first monitoring period of a scenario project ends here (the batches' vintage).
FIRST_PERIOD_END = BASE_TIME + PERIOD


def now(ledger: Ledger) -> int:
    return int(ledger.chain.w3.eth.get_block("latest")["timestamp"])


def advance(ledger: Ledger, seconds: int) -> None:
    ledger.chain.rpc("evm_increaseTime", seconds)
    ledger.chain.rpc("evm_mine")


def reverted(e: pytest.ExceptionInfo[ChainRevert]) -> tuple[str, dict[str, Any]]:
    return e.value.name, dict(e.value.error.args) if e.value.error else {}


def order_terms(ledger: Ledger, acc: dict[str, LocalAccount], **changes: Any) -> Terms:
    """Mangrove tonnes, any region and vintage, trader1 liable, due in 30 days."""
    base = Terms(
        unit=Unit.TONNES, required=10 * TONNE, categories=(SinkCategory.MANGROVE,),
        deadline=now(ledger) + 30 * DAY,
        party_names=("广西北港新材料有限公司 Beigang New Materials Co.",),
        document_hash=doc("judgment"), parties=(acc["trader1"].address,),
    )
    return replace(base, **changes)


def credits(ledger: Ledger, acc: dict[str, LocalAccount], to: str = "trader1",
            amount: int = 20 * TONNE, category: SinkCategory = SinkCategory.MANGROVE,
            division_code: int | None = None, quantity: int = 100 * TONNE) -> int:
    """A batch of `category` in `division_code` (the Maowei Sea by default); `to` holds some."""
    s = Scenario(ledger, acc)
    project = s.project(s.methodology(category=category), division_code=division_code)
    batch = s.batch(quantity=quantity, project_id=project).batch_id
    ledger.transfer(acc["developer"], acc[to].address, batch, amount)
    return batch


def cash_of(ledger: Ledger, account: str) -> int:
    return int(ledger.chain.call(ledger.c("CashToken").functions.balanceOf(account)))


def fund(ledger: Ledger, acc: dict[str, LocalAccount], seat: str, fen: int) -> None:
    """Cash for `seat`, allowed to the offers contract."""
    ledger.chain.send(ledger.c("CashToken").functions.deposit(
        acc[seat].address, fen, doc(f"deposit/{seat}")), acc["bank"])
    Compensation(ledger).allow_cash(acc[seat], fen)


@pytest.fixture
def comp(ledger: Ledger) -> Compensation:
    return Compensation(ledger)


# -- who registers, amends and closes ---------------------------------------------------------


def test_an_authority_registers_an_order_for_a_case(ledger, acc, comp):
    terms = order_terms(ledger, acc, regions=(45, 4507), authority_pays=True)
    created = comp.register_order(acc["procuratorate"], CASE, terms)
    order = comp.order(created.id)
    assert (order.authority, order.status, order.case_number) == (
        acc["procuratorate"].address, OrderStatus.OPEN, CASE)
    assert order.terms == terms
    assert (order.fulfilled, order.retired_amount, order.remaining) == (0, 0, 10 * TONNE)
    assert comp.order_of_case(CASE) == created.id
    assert comp.status_of(created.id) is OrderStatus.OPEN
    assert comp.is_party(created.id, acc["trader1"].address)
    event = ledger.events_of(created.sent, "OrderRegistered")[0].args
    assert (event["caseNumber"], event["authority"]) == (CASE, acc["procuratorate"].address)


def test_a_member_without_the_authority_role_cannot_register(ledger, acc, comp):
    with pytest.raises(ChainRevert) as e:
        comp.register_order(acc["regulator"], CASE, order_terms(ledger, acc))
    assert e.value.name == "NotAuthorized"


def test_the_orders_authority_amends_and_closes_it(ledger, acc, comp):
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    amended = order_terms(ledger, acc, required=12 * TONNE,
                          categories=(SinkCategory.MANGROVE, SinkCategory.SEAGRASS))
    sent = comp.amend_order(acc["procuratorate"], order_id, amended, doc("ruling on appeal"))
    reason = ledger.events_of(sent, "OrderAmended")[0].args["reasonHash"]
    assert reason == "0x" + doc("ruling on appeal").hex()
    assert comp.order(order_id).terms == amended
    comp.close_order(acc["procuratorate"], order_id, doc("set aside"))
    assert comp.status_of(order_id) is OrderStatus.CLOSED
    with pytest.raises(ChainRevert) as e:
        comp.close_order(acc["procuratorate"], order_id, doc("again"))
    assert reverted(e) == ("OrderNotOpen", {"orderId": order_id, "status": 4})


def test_another_authority_can_neither_amend_nor_close_an_order(ledger, acc, comp):
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    ledger.grant_role(acc["governance"], "AUTHORITY", acc["trader3"].address)
    other = acc["trader3"]
    with pytest.raises(ChainRevert) as e:
        comp.amend_order(other, order_id, order_terms(ledger, acc, required=TONNE))
    assert reverted(e) == ("NotOrderAuthority", {"orderId": order_id, "caller": other.address})
    with pytest.raises(ChainRevert) as e:
        comp.close_order(other, order_id)
    assert reverted(e) == ("NotOrderAuthority", {"orderId": order_id, "caller": other.address})


def test_an_amendment_keeps_the_unit_and_what_is_fulfilled(ledger, acc, comp):
    batch = credits(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    comp.retire_for_order(acc["trader1"], order_id, batch, 4 * TONNE)
    with pytest.raises(ChainRevert) as e:
        comp.amend_order(acc["procuratorate"], order_id,
                         order_terms(ledger, acc, unit=Unit.FEN, required=50_000_00))
    assert e.value.name == "UnitChange"
    with pytest.raises(ChainRevert) as e:
        comp.amend_order(acc["procuratorate"], order_id,
                         order_terms(ledger, acc, required=3 * TONNE))
    assert reverted(e) == ("RequiredBelowFulfilled", {"required": 3 * TONNE,
                                                      "fulfilled": 4 * TONNE})
    sent = comp.amend_order(acc["procuratorate"], order_id,
                            order_terms(ledger, acc, required=4 * TONNE))
    assert ledger.events_of(sent, "OrderFulfilled")
    assert comp.status_of(order_id) is OrderStatus.FULFILLED


@pytest.mark.parametrize(("change", "error"), [
    ({"required": 0}, "ZeroRequirement"),
    ({"categories": ()}, "InvalidCategoryMask"),
    ({"regions": (4,)}, "InvalidRegion"),
    ({"regions": (45070,)}, "InvalidRegion"),
    ({"vintage_from": 2, "vintage_to": 1}, "InvalidVintageWindow"),
    ({"deadline": 1}, "InvalidDeadline"),
    ({"parties": ()}, "NoPayingParty"),
    ({"party_names": ()}, "MissingPartyName"),
    ({"document_hash": bytes(32)}, "ZeroDocumentHash"),
])
def test_terms_that_no_retirement_could_meet_are_refused(ledger, acc, comp, change, error):
    with pytest.raises(ChainRevert) as e:
        comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc, **change))
    assert e.value.name == error


def test_a_case_has_one_order_and_its_parties_are_members(ledger, acc, comp):
    first = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    with pytest.raises(ChainRevert) as e:
        comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc))
    assert reverted(e) == ("DuplicateCase", {"orderId": first})
    with pytest.raises(ChainRevert) as e:
        comp.register_order(acc["procuratorate"], "(2025)闽0181民初124号",
                            order_terms(ledger, acc, parties=(acc["outsider"].address,)))
    assert e.value.name == "NotMember"
    twice = (acc["trader1"].address, acc["trader1"].address)
    with pytest.raises(ChainRevert) as e:
        comp.register_order(acc["procuratorate"], "(2025)闽0181民初125号",
                            order_terms(ledger, acc, parties=twice))
    assert e.value.name == "DuplicateParty"


# -- what counts toward an order ---------------------------------------------------------------


def test_a_tonne_order_fulfilled_exactly_is_marked_and_refuses_more(ledger, acc, comp):
    batch = credits(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    first = comp.retire_for_order(acc["trader1"], order_id, batch, 4 * TONNE)
    assert (first.value, first.fulfilled, first.order_fulfilled) == (4 * TONNE, 4 * TONNE, False)
    assert comp.status_of(order_id) is OrderStatus.PARTLY_FULFILLED
    last = comp.retire_for_order(acc["trader1"], order_id, batch, 6 * TONNE, "钦州湾修复")
    assert last.order_fulfilled
    fulfilled = ledger.events_of(last.sent, "OrderFulfilled")[0].args
    assert (fulfilled["fulfilled"], fulfilled["retiredAmount"]) == (10 * TONNE, 10 * TONNE)
    assert comp.status_of(order_id) is OrderStatus.FULFILLED
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["trader1"], order_id, batch, 1)
    assert reverted(e) == ("OrderNotOpen", {"orderId": order_id, "status": 3})


def test_a_retirement_for_an_order_cites_its_case_and_is_verifiable(ledger, acc, comp):
    batch = credits(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    counted = comp.retire_for_order(acc["trader1"], order_id, batch, TONNE)
    record = ledger.retirement(counted.retirement.retirement_id)
    assert record.matches
    r = record.retirement
    assert (r.holder, r.purpose, r.case_reference, r.beneficiary) == (
        acc["trader1"].address, Purpose.ECOLOGICAL_COMPENSATION, CASE, CASE)
    assert ledger.verify_retirement(counted.retirement.retirement_id, r)


def test_a_retirement_past_the_requirement_is_refused(ledger, acc, comp):
    batch = credits(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["trader1"], order_id, batch, 10 * TONNE + 1)
    assert reverted(e) == ("ExceedsRequirement", {"orderId": order_id, "remaining": 10 * TONNE})
    comp.retire_for_order(acc["trader1"], order_id, batch, 4 * TONNE)
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["trader1"], order_id, batch, 7 * TONNE)
    assert reverted(e) == ("ExceedsRequirement", {"orderId": order_id, "remaining": 6 * TONNE})
    assert ledger.balance(acc["trader1"].address, batch) == 16 * TONNE


def test_credits_of_an_ineligible_category_do_not_count(ledger, acc, comp):
    batch = credits(ledger, acc, category=SinkCategory.FOREST)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(
        ledger, acc, categories=(SinkCategory.MANGROVE, SinkCategory.SEAGRASS))).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["trader1"], order_id, batch, TONNE)
    assert reverted(e) == ("IneligibleCategory", {"orderId": order_id,
                                                  "category": SinkCategory.FOREST})


@pytest.mark.parametrize(("regions", "eligible"), [
    ((45,), True), ((4507,), True), ((450702,), True), ((44, 4507), True),
    ((44,), False), ((4508,), False), ((450703,), False), ((35, 3501), False),
])
def test_only_credits_from_the_orders_regions_count(ledger, acc, comp, regions, eligible):
    batch = credits(ledger, acc)  # Maowei Sea, Qinzhou, Guangxi: 450702
    order_id = comp.register_order(acc["procuratorate"], CASE,
                                   order_terms(ledger, acc, regions=regions)).id
    if eligible:
        assert comp.retire_for_order(acc["trader1"], order_id, batch, TONNE).value == TONNE
    else:
        with pytest.raises(ChainRevert) as e:
            comp.retire_for_order(acc["trader1"], order_id, batch, TONNE)
        assert reverted(e) == ("IneligibleRegion", {"orderId": order_id,
                                                    "divisionCode": 450702})


def test_a_cross_region_order_admits_the_other_province(ledger, acc, comp):
    # Lianjiang (Fuzhou, Fujian 350122) macroalgae carbon for a Fuqing case
    batch = credits(ledger, acc, category=SinkCategory.MACROALGAE, division_code=350122)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(
        ledger, acc, categories=(SinkCategory.MACROALGAE,), regions=(3501,))).id
    assert comp.retire_for_order(acc["trader1"], order_id, batch, TONNE).value == TONNE


@pytest.mark.parametrize(("vintage_from", "vintage_to"), [
    (FIRST_PERIOD_END + 1, 2**64 - 1), (0, FIRST_PERIOD_END - 1),
])
def test_credits_outside_the_vintage_window_do_not_count(ledger, acc, comp, vintage_from,
                                                          vintage_to):
    batch = credits(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(
        ledger, acc, vintage_from=vintage_from, vintage_to=vintage_to)).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["trader1"], order_id, batch, TONNE)
    assert reverted(e) == ("IneligibleVintage", {"orderId": order_id,
                                                 "periodEnd": FIRST_PERIOD_END})


def test_the_vintage_window_includes_its_bounds(ledger, acc, comp):
    batch = credits(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(
        ledger, acc, vintage_from=FIRST_PERIOD_END, vintage_to=FIRST_PERIOD_END)).id
    assert comp.retire_for_order(acc["trader1"], order_id, batch, TONNE).value == TONNE


def test_nothing_counts_after_the_deadline_and_the_order_reads_overdue(ledger, acc, comp):
    batch = credits(ledger, acc)
    terms = order_terms(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, terms).id
    advance(ledger, terms.deadline - now(ledger) + 1)
    assert comp.status_of(order_id) is OrderStatus.OVERDUE
    assert comp.order(order_id).status is OrderStatus.OPEN  # what is recorded
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["trader1"], order_id, batch, TONNE)
    assert reverted(e) == ("PastDeadline", {"orderId": order_id, "deadline": terms.deadline})


def test_a_partly_fulfilled_order_past_its_deadline_reads_overdue(ledger, acc, comp):
    batch = credits(ledger, acc)
    terms = order_terms(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, terms).id
    comp.retire_for_order(acc["trader1"], order_id, batch, TONNE)
    advance(ledger, terms.deadline - now(ledger) + 1)
    assert comp.status_of(order_id) is OrderStatus.OVERDUE
    # the authority may extend it
    comp.amend_order(acc["procuratorate"], order_id,
                     replace(terms, deadline=now(ledger) + 10 * DAY))
    assert comp.status_of(order_id) is OrderStatus.PARTLY_FULFILLED


def test_nothing_counts_toward_a_closed_order(ledger, acc, comp):
    batch = credits(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    comp.close_order(acc["procuratorate"], order_id, doc("paid in money"))
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["trader1"], order_id, batch, TONNE)
    assert reverted(e) == ("OrderNotOpen", {"orderId": order_id, "status": 4})


def test_only_a_party_of_the_order_retires_for_it(ledger, acc, comp):
    batch = credits(ledger, acc, to="trader2")
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["trader2"], order_id, batch, TONNE)
    assert reverted(e) == ("NotOrderParty", {"orderId": order_id,
                                             "holder": acc["trader2"].address})
    # nor the authority, unless it pays
    ledger.transfer(acc["developer"], acc["procuratorate"].address, batch, TONNE)
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["procuratorate"], order_id, batch, TONNE)
    assert e.value.name == "NotOrderParty"


def test_an_authority_that_pays_retires_for_its_own_order(ledger, acc, comp):
    batch = credits(ledger, acc, to="procuratorate")
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(
        ledger, acc, parties=(), authority_pays=True)).id
    counted = comp.retire_for_order(acc["procuratorate"], order_id, batch, 3 * TONNE)
    assert counted.value == 3 * TONNE


def test_an_unknown_order_takes_no_retirement(ledger, acc, comp):
    batch = credits(ledger, acc)
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["trader1"], 99, batch, TONNE)
    assert reverted(e) == ("UnknownOrder", {"orderId": 99})


def test_a_plain_retirement_citing_a_registered_case_is_refused(ledger, acc, comp):
    batch = credits(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    with pytest.raises(ChainRevert) as e:
        ledger.retire(acc["trader1"], batch, TONNE, "X", Purpose.ECOLOGICAL_COMPENSATION, CASE)
    assert reverted(e) == ("CaseHasOrder", {"orderId": order_id})
    with pytest.raises(ChainRevert) as e:
        ledger.retire(acc["trader1"], batch, TONNE, "X", Purpose.VOLUNTARY, CASE)
    assert e.value.name == "CaseHasOrder"
    # a case with no order is retired as before
    ledger.retire(acc["trader1"], batch, TONNE, "X", Purpose.ECOLOGICAL_COMPENSATION,
                  "(2025)闽0181民初999号")


# -- CNY orders and fixed-price offers ---------------------------------------------------------


def test_a_cny_order_counts_no_retirement_without_a_price(ledger, acc, comp):
    batch = credits(ledger, acc)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(
        ledger, acc, unit=Unit.FEN, required=50_000_00)).id
    with pytest.raises(ChainRevert) as e:
        comp.retire_for_order(acc["trader1"], order_id, batch, TONNE)
    assert reverted(e) == ("PriceUnknown", {"orderId": order_id})


def test_a_cny_order_counts_an_offer_taken_at_its_value_rounded_down(ledger, acc, comp):
    batch = credits(ledger, acc, to="developer", amount=1)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(
        ledger, acc, unit=Unit.FEN, required=50_000_00)).id
    price = 164_00  # Shenzhen's shellfish auction, 164 yuan/t
    offer_id = comp.make_offer(acc["developer"], order_id, batch, 10 * TONNE, price,
                               now(ledger) + DAY).id
    comp.approve_offers(acc["developer"])
    fund(ledger, acc, "trader1", 10_000_00)
    amount = 1_234_567
    taken = comp.take_offer(acc["trader1"], offer_id, amount)
    assert taken.counted.value == fen_value(amount, price) == 20_246  # 20,246.8988 fen
    assert taken.paid == offer_cost(amount, price) == 20_247
    order = comp.order(order_id)
    assert (order.fulfilled, order.retired_amount) == (20_246, amount)
    assert order.status is OrderStatus.PARTLY_FULFILLED


def test_the_last_purchase_of_a_cny_order_may_pass_its_amount(ledger, acc, comp):
    # Shengsi: 50,000 yuan of compensation buys 500 t at 100 yuan/t; the authority pays
    batch = credits(ledger, acc, to="developer", amount=1, quantity=1_000 * TONNE)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(
        ledger, acc, unit=Unit.FEN, required=50_000_00, parties=(), authority_pays=True,
        categories=(SinkCategory.MANGROVE, SinkCategory.SHELLFISH))).id
    offer_id = comp.make_offer(acc["developer"], order_id, batch, 600 * TONNE, 100_00,
                               now(ledger) + DAY).id
    comp.approve_offers(acc["developer"])
    fund(ledger, acc, "procuratorate", 60_000_00)
    comp.take_offer(acc["procuratorate"], offer_id, 450 * TONNE)
    last = comp.take_offer(acc["procuratorate"], offer_id, 100 * TONNE)
    assert last.counted.order_fulfilled
    assert comp.order(order_id).fulfilled == 55_000_00
    with pytest.raises(ChainRevert) as e:
        comp.take_offer(acc["procuratorate"], offer_id, TONNE)
    assert reverted(e) == ("OrderNotOpen", {"orderId": order_id, "status": 3})


def test_taking_an_offer_pays_the_seller_and_the_buyer_never_holds_the_credits(
        ledger, acc, comp):
    batch = credits(ledger, acc, to="developer", amount=1)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    seller, buyer = acc["developer"].address, acc["trader1"].address
    offer_id = comp.make_offer(acc["developer"], order_id, batch, 5 * TONNE, 100_00,
                               now(ledger) + DAY).id
    comp.approve_offers(acc["developer"])
    fund(ledger, acc, "trader1", 1_000_00)
    seller_credits, seller_cash = ledger.balance(seller, batch), cash_of(ledger, seller)
    amount = 2_000_001  # 2.000001 t at 100 yuan/t: 200.0001 yuan, paid 200.01
    taken = comp.take_offer(acc["trader1"], offer_id, amount, "舟山渔业碳汇")
    assert taken.paid == 200_01
    assert cash_of(ledger, seller) == seller_cash + 200_01
    assert cash_of(ledger, buyer) == 1_000_00 - 200_01
    assert ledger.balance(seller, batch) == seller_credits - amount
    assert ledger.balance(buyer, batch) == 0
    # the one credit movement is the seller's burn: nothing passed through the buyer
    moves = ledger.events_of(taken.counted.sent, "TransferSingle")
    assert [(m.args["from"], m.args["to"], m.args["value"]) for m in moves] == [
        (seller, "0x" + "00" * 20, amount)]
    r = ledger.retirement(taken.counted.retirement.retirement_id).retirement
    assert (r.holder, r.beneficiary, r.case_reference) == (buyer, "舟山渔业碳汇", CASE)
    assert comp.offer(offer_id).remaining == 5 * TONNE - amount
    assert comp.order(order_id).fulfilled == amount


def test_an_offer_is_taken_only_by_a_party_and_within_what_is_left(ledger, acc, comp):
    batch = credits(ledger, acc, to="developer", amount=1)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    offer_id = comp.make_offer(acc["developer"], order_id, batch, 2 * TONNE, 100_00,
                               now(ledger) + DAY).id
    comp.approve_offers(acc["developer"])
    fund(ledger, acc, "trader1", 1_000_00)
    fund(ledger, acc, "trader2", 1_000_00)
    with pytest.raises(ChainRevert) as e:
        comp.take_offer(acc["trader2"], offer_id, TONNE)
    assert reverted(e) == ("NotOrderParty", {"orderId": order_id,
                                             "holder": acc["trader2"].address})
    with pytest.raises(ChainRevert) as e:
        comp.take_offer(acc["trader1"], offer_id, 3 * TONNE)
    assert reverted(e) == ("OfferExhausted", {"remaining": 2 * TONNE})
    assert cash_of(ledger, acc["trader2"].address) == 1_000_00


def test_a_withdrawn_or_expired_offer_cannot_be_taken(ledger, acc, comp):
    batch = credits(ledger, acc, to="developer", amount=1)
    order_id = comp.register_order(acc["procuratorate"], CASE, order_terms(ledger, acc)).id
    comp.approve_offers(acc["developer"])
    fund(ledger, acc, "trader1", 1_000_00)
    withdrawn = comp.make_offer(acc["developer"], order_id, batch, TONNE, 100_00,
                                now(ledger) + DAY).id
    with pytest.raises(ChainRevert) as e:
        comp.withdraw_offer(acc["trader1"], withdrawn)
    assert reverted(e) == ("NotOfferSeller", {"offerId": withdrawn,
                                              "caller": acc["trader1"].address})
    comp.withdraw_offer(acc["developer"], withdrawn)
    with pytest.raises(ChainRevert) as e:
        comp.take_offer(acc["trader1"], withdrawn, TONNE)
    assert reverted(e) == ("OfferExhausted", {"remaining": 0})
    expiry = now(ledger) + 3_600
    expiring = comp.make_offer(acc["developer"], order_id, batch, TONNE, 100_00, expiry).id
    advance(ledger, 3_601)
    with pytest.raises(ChainRevert) as e:
        comp.take_offer(acc["trader1"], expiring, TONNE)
    assert reverted(e) == ("OfferExpired", {"offerId": expiring, "expiry": expiry})


def test_only_a_venue_retires_on_purchase(ledger, acc):
    batch = credits(ledger, acc)
    fn = ledger.c("CarbonCredits").functions.retireOnPurchase(
        acc["trader1"].address, acc["trader1"].address, batch, TONNE, 1, 100_00, "")
    with pytest.raises(ChainRevert) as e:
        ledger.chain.send(fn, acc["trader1"])
    assert reverted(e) == ("NotPurchaseVenue", {"caller": acc["trader1"].address})


# -- freezes -------------------------------------------------------------------------------------


def test_a_frozen_authority_acts_in_no_role(ledger, acc, comp):
    batch = credits(ledger, acc, to="procuratorate")
    authority = acc["procuratorate"]
    order_id = comp.register_order(authority, CASE, order_terms(
        ledger, acc, authority_pays=True)).id
    offer_id = comp.make_offer(acc["developer"], order_id, batch, TONNE, 100_00,
                               now(ledger) + DAY).id
    comp.approve_offers(acc["developer"])
    fund(ledger, acc, "procuratorate", 1_000_00)
    ledger.freeze_account(acc["regulator"], authority.address, doc("freeze order"))
    frozen = ("AccountFrozen", {"account": authority.address})
    attempts = [
        lambda: comp.register_order(authority, "(2025)闽0181民初200号", order_terms(ledger, acc)),
        lambda: comp.amend_order(authority, order_id, order_terms(ledger, acc, required=TONNE)),
        lambda: comp.close_order(authority, order_id),
        lambda: comp.retire_for_order(authority, order_id, batch, TONNE),
        lambda: comp.take_offer(authority, offer_id, TONNE),
        lambda: comp.make_offer(authority, order_id, batch, TONNE, 100_00, now(ledger) + DAY),
    ]
    for attempt in attempts:
        with pytest.raises(ChainRevert) as e:
            attempt()
        assert reverted(e) == frozen
    assert comp.status_of(order_id) is OrderStatus.OPEN
