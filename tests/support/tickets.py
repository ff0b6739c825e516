"""Helpers for the forest ticket and pledge tests (this module holds no tests): a scripted
ticket history through the real contracts, the chain's clock, and a snapshot of every ticket
and pledge as the chain holds them (to assert that a refused request changed nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from devkit.scenario import Scenario, doc
from registry.ledger import Ledger
from registry.pledges import AssetKind, Pledges
from registry.tickets import TicketPurpose, Tickets

TONNE = 1_000_000
YEAR = 365 * 86_400
LOAN = doc("三明农商银行 林票质押贷款合同 2024-018")
FIVE_MILLION_YUAN = 5_000_000_00  # fen


def chain_now(ledger: Ledger) -> int:
    return int(ledger.chain.w3.eth.get_block("latest")["timestamp"])


def later(ledger: Ledger, seconds: int) -> None:
    """Moves the chain's clock on (and mines a block)."""
    ledger.chain.rpc("evm_increaseTime", seconds)
    ledger.chain.rpc("evm_mine")


@dataclass
class TicketHistory:
    project_id: int = 0
    slots: list[int] = field(default_factory=list)
    tickets: list[int] = field(default_factory=list)
    pledges: list[int] = field(default_factory=list)


def ticket_history(ledger: Ledger, acc: dict[str, LocalAccount]) -> TicketHistory:
    """Two periods of one forest parcel ticketed; a split, a merge back, a transfer to
    trader1 (new ticket) and of a whole ticket to trader2; a retirement; three pledges: one
    released, one foreclosed at maturity (the bank takes the ticket), one still active; and a
    pledge of credits, released. Every event the index takes from ForestTickets and
    PledgeRegister."""
    s = Scenario(ledger, acc)
    tickets, pledges = Tickets(ledger), Pledges(ledger)
    dev, t1, t2, bank = acc["developer"], acc["trader1"], acc["trader2"], acc["bank"]
    h = TicketHistory()
    first = s.ticket(1_000 * TONNE)
    h.project_id = int(tickets.slot(first.slot).project_id)
    second = s.ticket(500 * TONNE, project_id=h.project_id)
    h.slots = [first.slot, second.slot]
    part = tickets.split(dev, first.token_id, 100 * TONNE)
    tickets.merge(dev, part, first.token_id)
    to_t1 = tickets.transfer(dev, first.token_id, t1.address, 200 * TONNE)
    tickets.transfer_ticket(dev, dev.address, t2.address, second.token_id)
    tickets.retire(t1, to_t1, 50 * TONNE, "三明市林业局 Sanming Forestry Bureau",
                   TicketPurpose.VOLUNTARY)
    pledges.approve_tickets(dev)
    now = chain_now(ledger)
    released = pledges.pledge_ticket(dev, first.token_id, 100 * TONNE, bank.address, LOAN,
                                     FIVE_MILLION_YUAN, now + YEAR)
    pledges.release(bank, released.pledge_id)
    foreclosed = pledges.pledge_ticket(dev, first.token_id, 300 * TONNE, bank.address,
                                       doc("loan-2"), 100_000_00, now + 30 * 86_400)
    active = pledges.pledge_ticket(dev, first.token_id, 50 * TONNE, bank.address,
                                   doc("loan-3"), 50_000_00, now + YEAR)
    later(ledger, 31 * 86_400)
    pledges.foreclose(bank, foreclosed.pledge_id)
    batch = s.batch(10 * TONNE)
    pledges.approve_credits(dev)
    credit = pledges.pledge_credits(dev, batch.batch_id, 2 * TONNE, bank.address,
                                    doc("loan-4"), 10_000_00, chain_now(ledger) + YEAR)
    pledges.release(bank, credit.pledge_id)
    h.tickets = [first.token_id, second.token_id, part, to_t1, released.token_id,
                 foreclosed.token_id, active.token_id]
    h.pledges = [released.pledge_id, foreclosed.pledge_id, active.pledge_id, credit.pledge_id]
    return h


def chain_tickets(ledger: Ledger) -> dict[str, Any]:
    """Every ticket, slot total and pledge as the chain holds them now."""
    tickets, pledges = Tickets(ledger), Pledges(ledger)
    out: dict[str, Any] = {"tickets": {}, "slots": {}, "pledges": {}}
    for token_id in range(1, tickets.token_count() + 1):
        if tickets.exists(token_id):
            t = tickets.ticket(token_id)
            out["tickets"][token_id] = (t.owner, t.slot, t.value)
            if t.slot not in out["slots"]:
                s = tickets.slot(t.slot)
                out["slots"][t.slot] = (s.issued, s.retired,
                                        pledges.pledged_of(AssetKind.TICKET, t.slot))
    for pledge_id in range(1, pledges.count() + 1):
        out["pledges"][pledge_id] = pledges.pledge(pledge_id)
    out["retirements"] = int(ledger.chain.call(
        ledger.c("ForestTickets").functions.retirementCount()))
    return out


OTHER_BANK_INDEX = 40  # a dev key outside the roster's seats


def other_bank_account() -> LocalAccount:
    from devkit.roster import dev_account

    return dev_account(OTHER_BANK_INDEX)


def admit_other_bank(ledger: Ledger, acc: dict[str, LocalAccount]) -> LocalAccount:
    """A second bank-role member (兴业银行三明分行), funded for gas."""
    bank = other_bank_account()
    ledger.admit(acc["governance"], bank.address, "兴业银行三明分行 Industrial Bank Sanming")
    ledger.grant_role(acc["governance"], "BANK", bank.address)
    ledger.chain.rpc("anvil_setBalance", bank.address, hex(10**20))
    return bank
