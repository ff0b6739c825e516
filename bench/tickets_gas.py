"""Gas of forest-ticket transactions (林业碳票) and their pledges on a fresh local chain.

Starts its own anvil, deploys the contracts, admits the development consortium and follows the
Sanming figures: a parcel's ticket of 29,715 t is issued from a verified forest report, split,
transferred (2,723 t), pledged (18,294 t for a 5 million yuan credit line), released, pledged
again and foreclosed, and retired. The last line of output is one JSON object:

    {"issue_gas": …, "split_gas": …, "transfer_gas": …, "pledge_gas": …, "retire_gas": …, …}

`issue_gas` is a parcel's first ticket (its certificate number bound to the parcel for the first
time) and `issue_next_period_gas` the same parcel's next period. `transfer_gas` moves value to a
new ticket of another member; `transfer_whole_gas` moves a whole ticket. `pledge_gas` pledges
part of a ticket (a new ticket in escrow) and `pledge_whole_gas` a whole one; `retire_gas` is a
typical retirement (not the contract's first). `trade_gas` settles one exchange trade of a ticket
class instrument (Settlement.settle with one fill: 2,723 t at 15 yuan/t split off the seller's
ticket into a new ticket for the buyer, cash and fees moved; the traders' cash balances already
written, as for an ordinary credit fill). For comparison the same run measures an issuance
of credits (`credit_issue_gas`, which now also claims its report) and a credit pledge.

Run: .venv/bin/python bench/tickets_gas.py
"""

from __future__ import annotations

import json
import sys
from typing import Any

from devkit.local import local_registry
from devkit.scenario import Scenario, doc
from exchange.instruments import TicketClass
from exchange.onchain import Fill, SettlementChain
from exchange.signing import Order, sign_order
from registry.pledges import Pledges
from registry.tickets import TicketPurpose, Tickets

TONNE = 1_000_000
YEAR = 365 * 86_400
CERTIFICATE = "闽(2021)三明市沙县区林权第0012345号"
BENEFICIARY = "三明市机关事务管理局 Sanming Government Offices Administration"


def measure() -> dict[str, Any]:
    with local_registry() as (_, ledger, acc):
        s = Scenario(ledger, acc)
        tickets, pledges = Tickets(ledger), Pledges(ledger)
        dev, t1, bank = acc["developer"], acc["trader1"], acc["bank"]
        pledges.approve_tickets(dev)
        pledges.approve_credits(dev)

        project, report = s.forest_report(29_715 * TONNE)
        issue = tickets.issue(acc["forestry"], report, CERTIFICATE)
        _, next_report = s.forest_report(1_000 * TONNE, project_id=project)
        issue_next = tickets.issue(acc["forestry"], next_report, CERTIFICATE)
        ticket = issue.token_id

        split_sent = ledger.chain.send(
            ledger.c("ForestTickets").get_function_by_signature("split(uint256,uint256)")(
                ticket, 1_000 * TONNE), dev)
        transfer_fn = ledger.c("ForestTickets").get_function_by_signature(
            "transferFrom(uint256,address,uint256)")
        transfer = ledger.chain.send(transfer_fn(ticket, t1.address, 2_723 * TONNE), dev)
        part = tickets.new_token_of(split_sent, ticket)
        whole = tickets.transfer_ticket(dev, dev.address, t1.address, part)
        merge_source = tickets.split(dev, ticket, 10 * TONNE)
        merge = tickets.merge(dev, merge_source, ticket)

        now = int(ledger.chain.w3.eth.get_block("latest")["timestamp"])
        pledge = pledges.pledge_ticket(dev, ticket, 18_294 * TONNE, bank.address,
                                       doc("credit line"), 5_000_000_00, now + YEAR)
        release = pledges.release(bank, pledge.pledge_id)
        pledge_whole = pledges.pledge_ticket(dev, pledge.token_id, 18_294 * TONNE, bank.address,
                                             doc("credit line 2"), 5_000_000_00, now + 30 * 86_400)
        ledger.chain.rpc("evm_increaseTime", 31 * 86_400)
        ledger.chain.rpc("evm_mine")
        foreclose = pledges.foreclose(bank, pledge_whole.pledge_id)

        first = tickets.retire(dev, ticket, 100 * TONNE, BENEFICIARY,
                               TicketPurpose.CARBON_INCLUSIVE)
        retire = tickets.retire(dev, ticket, 500 * TONNE, BENEFICIARY,
                                TicketPurpose.CARBON_INCLUSIVE)

        trade = ticket_trade(ledger, acc, s, tickets)

        batch = s.batch(quantity=1_000 * TONNE)
        credit_pledge = pledges.pledge_credits(dev, batch.batch_id, 100 * TONNE, bank.address,
                                               doc("credit loan"), 1_000_000, now + 2 * YEAR)
        project_c = s.project(s.methodology())
        credit_report = s.report(project_c, 1_000 * TONNE)
        credit_issue_sent = ledger.issue(acc["operator"], credit_report)

    return {
        "issue_gas": issue.sent.gas_used,
        "issue_next_period_gas": issue_next.sent.gas_used,
        "split_gas": split_sent.gas_used,
        "transfer_gas": transfer.gas_used,
        "transfer_whole_gas": whole.gas_used,
        "merge_gas": merge.gas_used,
        "pledge_gas": pledge.sent.gas_used,
        "pledge_whole_gas": pledge_whole.sent.gas_used,
        "release_gas": release.gas_used,
        "foreclose_gas": foreclose.gas_used,
        "retire_first_gas": first.sent.gas_used,
        "retire_gas": retire.sent.gas_used,
        "trade_gas": trade,
        "credit_pledge_gas": credit_pledge.sent.gas_used,
        "credit_issue_gas": credit_issue_sent.sent.gas_used,
    }


def ticket_trade(ledger: Any, acc: Any, s: Scenario, tickets: Tickets) -> int:
    """Gas of settling one ticket trade: the developer sells 2,723 t of a fresh ticket to
    trader2 at 15 yuan/t in a ticket class instrument (the second such trade, so the traders'
    cash words and nonce words are warm in storage, as in an ordinary fill)."""
    sc = SettlementChain(ledger)
    dev, buyer = acc["developer"], acc["trader2"]
    issued = s.ticket(29_715 * TONNE)
    start = tickets.slot(issued.slot).period_start
    sc.list_ticket_instrument(acc["exchange"], 50, TicketClass(0, 0, start, start + 1),
                              lot=TONNE, tick=1)
    sc.set_fees(acc["exchange"], acc["exchange"].address, 10, 20)
    sc.approve_trading(dev)
    sc.approve_trading(buyer)
    sc.deposit(acc["bank"], buyer.address, 10**10, doc("wire"))
    sc.deposit(acc["bank"], dev.address, 1, doc("wire"))
    gas = 0
    for n in (1, 2):
        qty = 2_723 * TONNE
        b = Order(buyer.address, 0, 50, 1_500, qty, 0, n, 2**40, max_fee_bps=20)
        o = Order(dev.address, 1, 50, 1_500, qty, 0, n, 2**40, batch_id=issued.token_id,
                  max_fee_bps=20)
        fill = Fill(n, issued.token_id, qty, 1_500, False, b, sign_order(buyer, b, sc.domain),
                    o, sign_order(dev, o, sc.domain))
        gas = sc.settle(acc["exchange"], [fill]).gas_used
    return gas


def main() -> int:
    result = measure()
    for key, value in result.items():
        print(f"{key:28s} {value:>10,}", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
