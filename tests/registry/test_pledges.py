"""Pledges (质押) of forest tickets and of credits to banks, on the real contracts: the pledged
value sits in the register's escrow, so it cannot move, be retired or be pledged twice; only the
pledge's bank releases it, or forecloses it from maturity on; every lien is public."""

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
from registry.pledges import AssetKind, Pledges, PledgeStatus
from registry.tickets import Tickets
from tests.support.indexing import revert_to, snapshot

TONNE = 1_000_000
LOAN = doc("三明农商银行 林票质押贷款合同 2024-018")
FIVE_MILLION_YUAN = 5_000_000_00  # fen
YEAR = 365 * 86_400


def reverts(name: str) -> pytest.RaisesContext[ChainRevert]:
    return pytest.raises(ChainRevert, match=name)


def now(ledger: Ledger) -> int:
    return int(ledger.chain.w3.eth.get_block("latest")["timestamp"])


def later(ledger: Ledger, seconds: int) -> None:
    ledger.chain.rpc("evm_increaseTime", seconds)
    ledger.chain.rpc("evm_mine")


@dataclass
class Desk:
    """A ticket and a credit batch in the developer's hands, both approved to the register, and
    a second bank."""

    ledger: Ledger
    acc: dict[str, LocalAccount]
    tickets: Tickets
    pledges: Pledges
    ticket: int
    slot: int
    batch: int
    other_bank: LocalAccount

    @property
    def dev(self) -> LocalAccount:
        return self.acc["developer"]

    @property
    def bank(self) -> str:
        return str(self.acc["bank"].address)

    def pledge_ticket(self, value: int, token: int | None = None, bank: str | None = None,
                      maturity: int = YEAR) -> int:
        return self.pledges.pledge_ticket(self.dev, token or self.ticket, value,
                                          bank or self.bank, LOAN, FIVE_MILLION_YUAN,
                                          now(self.ledger) + maturity).pledge_id


def make_desk(ledger: Ledger, acc: dict[str, LocalAccount]) -> Desk:
    s = Scenario(ledger, acc)
    tickets, pledges = Tickets(ledger), Pledges(ledger)
    ticket = s.ticket(29_715 * TONNE)
    batch = s.batch(quantity=1_000 * TONNE)
    for seat in ("developer", "trader1"):
        pledges.approve_tickets(acc[seat])
        pledges.approve_credits(acc[seat])
    other_bank = dev_account(len(SEATS) + 3)
    ledger.admit(acc["governance"], other_bank.address, "兴业银行三明分行 Industrial Bank Sanming")
    ledger.grant_role(acc["governance"], "BANK", other_bank.address)
    ledger.chain.rpc("anvil_setBalance", other_bank.address, hex(10**20))
    return Desk(ledger, acc, tickets, pledges, ticket.token_id, ticket.slot, batch.batch_id,
                other_bank)


@pytest.fixture
def d(ledger: Ledger, acc: dict[str, LocalAccount]) -> Desk:
    return make_desk(ledger, acc)


# -- pledging -----------------------------------------------------------------------------------


def test_a_pledged_part_of_a_ticket_moves_into_escrow_and_the_lien_is_public(d: Desk) -> None:
    made = d.pledges.pledge_ticket(d.dev, d.ticket, 18_294 * TONNE, d.bank, LOAN,
                                   FIVE_MILLION_YUAN, now(d.ledger) + YEAR)
    assert d.tickets.value_of(d.ticket) == (29_715 - 18_294) * TONNE
    escrow = d.tickets.ticket(made.token_id)
    assert (escrow.owner, escrow.slot, escrow.value) == (d.pledges.address, d.slot,
                                                         18_294 * TONNE)
    p = d.pledges.pledge(made.pledge_id)
    assert (p.pledgor, p.bank, p.kind, p.status, p.asset_id, p.token_id, p.value) == (
        d.dev.address, d.bank, AssetKind.TICKET, PledgeStatus.ACTIVE, d.slot, made.token_id,
        18_294 * TONNE)
    assert (p.loan_reference, p.amount_fen) == (LOAN, FIVE_MILLION_YUAN)
    # a second lender finds it by the parcel's slot, by the bank and by the pledgor
    assert [x.pledge_id for x in d.pledges.of_asset(AssetKind.TICKET, d.slot)] == [p.pledge_id]
    assert [x.pledge_id for x in d.pledges.of_bank(d.bank)] == [p.pledge_id]
    assert [x.pledge_id for x in d.pledges.of_pledgor(d.dev.address)] == [p.pledge_id]
    assert d.pledges.pledged_of(AssetKind.TICKET, d.slot) == 18_294 * TONNE


def test_a_whole_ticket_pledged_keeps_its_id_in_escrow(d: Desk) -> None:
    pledge = d.pledge_ticket(29_715 * TONNE)
    assert d.tickets.owner_of(d.ticket) == d.pledges.address
    assert d.pledges.pledge(pledge).token_id == d.ticket


def test_pledged_ticket_value_cannot_be_transferred_split_retired_or_pledged_again(
    d: Desk
) -> None:
    d.pledge_ticket(29_715 * TONNE)
    t, dev, to = d.tickets, d.dev, d.acc["trader1"].address
    with reverts("NotOwnerNorApproved"):
        t.transfer(dev, d.ticket, to, TONNE)
    with reverts("NotOwnerNorApproved"):
        t.split(dev, d.ticket, TONNE)
    with reverts("NotOwnerNorApproved"):
        t.transfer_ticket(dev, d.pledges.address, to, d.ticket)
    with reverts("NotTicketOwner"):
        t.retire(dev, d.ticket, TONNE, "三明市公共机构 Sanming agencies")
    with reverts("NotTicketOwner"):  # the second pledge
        d.pledge_ticket(TONNE, bank=d.other_bank.address)
    assert d.tickets.value_of(d.ticket) == 29_715 * TONNE
    assert d.pledges.count() == 1


def test_pledged_credits_cannot_be_transferred_retired_or_pledged_again(d: Desk) -> None:
    held = d.ledger.balance(d.dev.address, d.batch)
    d.pledges.pledge_credits(d.dev, d.batch, held, d.bank, LOAN, 100_000_00,
                             now(d.ledger) + YEAR)
    assert d.ledger.balance(d.pledges.address, d.batch) == held
    assert d.pledges.pledged_of(AssetKind.CREDIT, d.batch) == held
    with reverts("ERC1155InsufficientBalance"):
        d.ledger.transfer(d.dev, d.acc["trader1"].address, d.batch, TONNE)
    with reverts("ERC1155InsufficientBalance"):
        d.ledger.retire(d.dev, d.batch, TONNE, "某公司 A company")
    with reverts("InsufficientHolding"):
        d.pledges.pledge_credits(d.dev, d.batch, TONNE, d.other_bank.address, LOAN, 100_00,
                                 now(d.ledger) + YEAR)


def test_pledging_needs_value_held_a_bank_a_loan_and_a_future_maturity(d: Desk) -> None:
    p, dev, bank = d.pledges, d.dev, d.bank
    future = now(d.ledger) + YEAR
    with reverts("InsufficientHolding"):
        p.pledge_ticket(dev, d.ticket, 29_715 * TONNE + 1, bank, LOAN, 100, future)
    with reverts("NotTicketOwner"):
        p.pledge_ticket(d.acc["trader1"], d.ticket, TONNE, bank, LOAN, 100, future)
    with reverts("InsufficientHolding"):
        p.pledge_credits(d.acc["trader1"], d.batch, TONNE, bank, LOAN, 100, future)
    with reverts("NotABank"):
        p.pledge_ticket(dev, d.ticket, TONNE, d.acc["trader2"].address, LOAN, 100, future)
    with reverts("SelfPledge"):
        d.ledger.transfer(dev, bank, d.batch, TONNE)
        p.pledge_credits(d.acc["bank"], d.batch, TONNE, bank, LOAN, 100, future)
    with reverts("ZeroLoanReference"):
        p.pledge_ticket(dev, d.ticket, TONNE, bank, bytes(32), 100, future)
    with reverts("InvalidLoanAmount"):
        p.pledge_ticket(dev, d.ticket, TONNE, bank, LOAN, 0, future)
    with reverts("MaturityInPast"):
        p.pledge_ticket(dev, d.ticket, TONNE, bank, LOAN, 100, now(d.ledger))
    with reverts("ZeroValue"):
        p.pledge_ticket(dev, d.ticket, 0, bank, LOAN, 100, future)
    assert p.count() == 0


def test_the_register_accepts_no_ticket_or_credit_it_did_not_take_itself(d: Desk) -> None:
    with reverts("UnsolicitedTransfer"):
        d.tickets.transfer(d.dev, d.ticket, d.pledges.address, TONNE)
    with reverts("UnsolicitedTransfer"):
        d.ledger.transfer(d.dev, d.pledges.address, d.batch, TONNE)


def test_a_frozen_holder_pledges_nothing_and_a_frozen_bank_releases_nothing(d: Desk) -> None:
    pledge = d.pledge_ticket(TONNE)
    d.ledger.freeze_account(d.acc["regulator"], d.dev.address, doc("freeze order"))
    with reverts("AccountFrozen"):
        d.pledge_ticket(TONNE)
    d.ledger.unfreeze_account(d.acc["regulator"], d.dev.address, doc("unfreeze order"))
    d.ledger.freeze_account(d.acc["regulator"], d.bank, doc("freeze order"))
    with reverts("AccountFrozen"):
        d.pledges.release(d.acc["bank"], pledge)


# -- release and foreclosure ------------------------------------------------------------------


def test_only_the_pledges_bank_releases_it_and_the_value_goes_back(d: Desk) -> None:
    pledge = d.pledge_ticket(18_294 * TONNE)
    escrow = d.pledges.pledge(pledge).token_id
    with reverts("NotAuthorized"):
        d.pledges.release(d.acc["trader1"], pledge)
    with reverts("NotPledgeBank"):
        d.pledges.release(d.other_bank, pledge)
    d.pledges.release(d.acc["bank"], pledge)
    assert d.tickets.owner_of(escrow) == d.dev.address
    assert d.pledges.pledge(pledge).status == PledgeStatus.RELEASED
    assert d.pledges.pledged_of(AssetKind.TICKET, d.slot) == 0
    with reverts("PledgeNotActive"):
        d.pledges.release(d.acc["bank"], pledge)
    # released value moves again
    d.tickets.transfer(d.dev, escrow, d.acc["trader1"].address, TONNE)


def test_foreclosure_waits_for_maturity_then_gives_the_bank_the_value(d: Desk) -> None:
    pledge = d.pledge_ticket(18_294 * TONNE, maturity=30 * 86_400)
    credits = d.pledges.pledge_credits(d.dev, d.batch, 5 * TONNE, d.bank, LOAN, 100_00,
                                       now(d.ledger) + 30 * 86_400).pledge_id
    with reverts("NotMatured"):
        d.pledges.foreclose(d.acc["bank"], pledge)
    with reverts("NotPledgeBank"):
        d.pledges.foreclose(d.other_bank, pledge)
    later(d.ledger, 30 * 86_400)
    with reverts("NotPledgeBank"):
        d.pledges.foreclose(d.other_bank, pledge)
    d.pledges.foreclose(d.acc["bank"], pledge)
    d.pledges.foreclose(d.acc["bank"], credits)
    escrow = d.pledges.pledge(pledge).token_id
    assert d.tickets.owner_of(escrow) == d.bank
    assert d.tickets.value_of(escrow) == 18_294 * TONNE
    assert d.ledger.balance(d.bank, d.batch) == 5 * TONNE
    assert d.pledges.pledge(pledge).status == PledgeStatus.FORECLOSED
    with reverts("PledgeNotActive"):
        d.pledges.release(d.acc["bank"], pledge)


# -- the invariant ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(chain: Chain, deployment: Deployment, acc: dict[str, LocalAccount]) -> Iterator[Desk]:
    """A desk whose batch has had part of its buffer cancelled against a typhoon."""
    start = snapshot(chain)
    ledger = Ledger(chain, deployment)
    desk = make_desk(ledger, acc)
    s = Scenario(ledger, acc)
    project = ledger.batch(desk.batch).project_id
    loss = s.disturbance(project, 3 * TONNE)
    ledger.cancel_buffer_for_disturbance(acc["regulator"], loss, desk.batch, 3 * TONNE)
    yield desk
    revert_to(chain, start)


OPS = ("split", "transfer", "retire", "pledge", "release", "foreclose", "credit_pledge",
       "credit_transfer", "credit_retire", "credit_release")
steps = st.lists(st.tuples(st.sampled_from(OPS), st.integers(min_value=1, max_value=4_000)),
                 min_size=1, max_size=10)


def _step(d: Desk, op: str, tonnes: int, owned: dict[str, list[int]],
          active: list[int]) -> None:
    amount = tonnes * TONNE
    holders = [k for k in owned if owned[k]]
    seat = holders[tonnes % len(holders)] if holders else "developer"
    who = d.acc[seat]
    token = owned[seat][tonnes % len(owned[seat])] if owned.get(seat) else d.ticket
    if op == "split":
        owned[seat].append(d.tickets.split(who, token, amount))
    elif op == "transfer":
        owned["trader1"].append(d.tickets.transfer(who, token, d.acc["trader1"].address, amount))
    elif op == "retire":
        d.tickets.retire(who, token, amount, "三明市公共机构 Sanming agencies")
    elif op == "pledge":
        active.append(d.pledges.pledge_ticket(who, token, amount, d.bank, LOAN, 100_00,
                                              now(d.ledger) + 86_400).pledge_id)
    elif op in ("release", "foreclose", "credit_release") and active:
        pledge = active.pop(tonnes % len(active))
        if op == "foreclose":
            later(d.ledger, 86_400)
            d.pledges.foreclose(d.acc["bank"], pledge)
            p = d.pledges.pledge(pledge)
            if p.kind == AssetKind.TICKET:
                owned.setdefault("bank", []).append(p.token_id)
        else:
            d.pledges.release(d.acc["bank"], pledge)
            p = d.pledges.pledge(pledge)
            if p.kind == AssetKind.TICKET:
                owned["developer" if p.pledgor == d.dev.address else "trader1"].append(
                    p.token_id)
    elif op == "credit_pledge":
        active.append(d.pledges.pledge_credits(d.dev, d.batch, amount // 40, d.bank, LOAN,
                                               100_00, now(d.ledger) + 86_400).pledge_id)
    elif op == "credit_transfer":
        d.ledger.transfer(d.dev, d.acc["trader1"].address, d.batch, amount // 40)
    elif op == "credit_retire":
        d.ledger.retire(d.dev, d.batch, amount // 40, "某公司 A company")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_every_slot_and_batch_balances_issued_against_holdings_pledges_and_retirements(
        base: Desk, ops: list[tuple[str, int]]) -> None:
    d = base
    snap = snapshot(d.ledger.chain)
    try:
        owned: dict[str, list[int]] = {"developer": [d.ticket], "trader1": []}
        active: list[int] = []
        for op, tonnes in ops:
            try:
                _step(d, op, tonnes, owned, active)
            except ChainRevert as exc:
                # more than is held, or a ticket now in escrow, or a bank pledging to itself
                assert exc.name in {"InsufficientValue", "InsufficientHolding",
                                    "ERC1155InsufficientBalance", "NotOwnerNorApproved",
                                    "NotTicketOwner", "SelfPledge"}, exc.name
        # tickets: issued = Σ values outside the register + pledged + retired
        slot = d.tickets.slot(d.slot)
        live = d.tickets.tickets_of_slot(d.slot)
        in_escrow = sum(t.value for t in live.values() if t.owner == d.pledges.address)
        outside = sum(t.value for t in live.values() if t.owner != d.pledges.address)
        pledged = d.pledges.pledged_of(AssetKind.TICKET, d.slot)
        assert in_escrow == pledged
        assert slot.issued == outside + pledged + slot.retired
        # credits: issued = Σ balances outside the register (buffer included) + pledged +
        # retired + cancelled
        b = d.ledger.batch(d.batch)
        accounts = {a.address for a in d.acc.values()} | {d.ledger.c("CarbonCredits").address}
        outside_credits = sum(d.ledger.balance(a, d.batch) for a in accounts)
        pledged_credits = d.pledges.pledged_of(AssetKind.CREDIT, d.batch)
        assert d.ledger.balance(d.pledges.address, d.batch) == pledged_credits
        assert b.issued == outside_credits + pledged_credits + b.retired + b.cancelled
    finally:
        revert_to(d.ledger.chain, snap)
