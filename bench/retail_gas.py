"""Gas of carbon-supermarket transactions (碳汇超市) on a fresh local chain.

Starts its own anvil, deploys the contracts, admits the development consortium (its retail
seat included) and follows an Enshi-like counter: the seat stocks 100 t of a forest ticket and
10 t of credits, sells 0.5 t of the ticket to a first buyer and again to a second (the typical
sale: a buyer reference seen for the first time), 1 kg of credits, and withdraws unsold stock.
The last line of output is one JSON object:

    {"ticket_sale_gas": …, "credit_sale_gas": …, "stock_ticket_gas": …, …}

`ticket_sale_first_gas` is the contract's first sale (its first sale id and the seat's first
list entry); `ticket_sale_gas` a typical one — the retirement in ForestTickets (≈ 80,000) plus
the sale record, the seat's and the buyer reference's lists and totals. A repeat purchase under
the same receipt is `ticket_sale_same_receipt_gas`.

Run: .venv/bin/python bench/retail_gas.py
"""

from __future__ import annotations

import json
import sys
from typing import Any

from devkit.local import local_registry
from devkit.scenario import Scenario
from registry.retail import KILOGRAM, Supermarket
from registry.tickets import Tickets

TONNE = 1_000_000
BUYER = "恩施市民 张三 Zhang San"


def measure() -> dict[str, Any]:
    with local_registry() as (_, ledger, acc):
        s = Scenario(ledger, acc)
        market, tickets = Supermarket(ledger), Tickets(ledger)
        seat = acc["retail"]
        ticket = s.ticket(200 * TONNE, owner="retail").token_id
        batch = s.batch(quantity=1_000 * TONNE).batch_id
        ledger.transfer(acc["developer"], seat.address, batch, 20 * TONNE)
        market.approve_tickets(seat)
        market.approve_credits(seat)
        shelf, stock_ticket = market.stock_ticket_sent(seat, ticket, 100 * TONNE)
        stock_credits = market.stock_credits(seat, batch, 10 * TONNE)
        first = market.sell_ticket(seat, shelf, TONNE // 2, BUYER, "ES-0001", 7_50)
        typical = market.sell_ticket(seat, shelf, TONNE // 2, BUYER, "ES-0002", 7_50)
        same = market.sell_ticket(seat, shelf, TONNE // 2, BUYER, "ES-0002", 7_50)
        credit = market.sell_credits(seat, batch, KILOGRAM, BUYER, "ES-0003", 2)
        direct = tickets.retire(seat, ticket, TONNE // 2, BUYER)
        withdraw_part = market.withdraw_ticket_sent(seat, shelf, 10 * TONNE)
        withdraw_credits = market.withdraw_credits(seat, batch, 5 * TONNE)

    return {
        "stock_ticket_gas": stock_ticket.gas_used,
        "stock_credits_gas": stock_credits.gas_used,
        "ticket_sale_first_gas": first.sent.gas_used,
        "ticket_sale_gas": typical.sent.gas_used,
        "ticket_sale_same_receipt_gas": same.sent.gas_used,
        "credit_sale_gas": credit.sent.gas_used,
        "ticket_retire_direct_gas": direct.sent.gas_used,
        "withdraw_ticket_gas": withdraw_part.gas_used,
        "withdraw_credits_gas": withdraw_credits.gas_used,
    }


def main() -> int:
    result = measure()
    for key, value in result.items():
        print(f"{key:30s} {value:>10,}", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
