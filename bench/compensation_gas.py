"""Gas of ecological compensation on a fresh local chain: registering an order, a party's
retirement for it, a seller's fixed-price offer and a purchase that retires on delivery — each
beside the plain retirement of the same run, as a ratio (what the order's eligibility checks
and running total cost on top of retiring).

The last line of output is one JSON object:
    {"register_order_gas": …, "retire_for_order_gas": …, "retire_for_order_first_gas": …,
     "retire_plain_gas": …, "retire_for_order_ratio": …, "make_offer_gas": …,
     "take_offer_gas": …, "take_offer_first_gas": …, "retire_tickets_for_order_gas": …,
     "retire_tickets_for_order_first_gas": …, "retire_ticket_plain_gas": …, …}

Targets (exit 1 if missed): a retirement for an order at most 1.8× a plain retirement, a
purchase from an offer (cash, retirement and count in one transaction) at most 2.6×; a forest
ticket retired for an order at most 1.8× a plain ticket retirement of the same run.

Run: .venv/bin/python bench/compensation_gas.py
"""

from __future__ import annotations

import json
import sys
from typing import Any

from devkit.local import local_registry
from devkit.scenario import Scenario, doc
from exchange.onchain import SettlementChain
from registry.categories import SinkCategory
from registry.compensation import Compensation, Terms, Unit
from registry.ledger import Purpose
from registry.tickets import TicketPurpose, Tickets

TONNE = 1_000_000
RETIRE_RATIO_TARGET = 1.8
TAKE_RATIO_TARGET = 2.6
CASE = "（2025）闽0181民初123号"
PARTY = "连江县某养殖有限公司"


def measure() -> dict[str, Any]:
    with local_registry() as (_, ledger, acc):
        s = Scenario(ledger, acc)
        methodology = s.methodology(category=SinkCategory.MACROALGAE)
        project = s.project(methodology, division_code=350122)
        batch = ledger.issue(acc["operator"], s.report(project, 10_000 * TONNE)).id
        dev, t1, authority = acc["developer"], acc["trader1"], acc["procuratorate"]
        ledger.transfer(dev, t1.address, batch, 2_000 * TONNE)
        comp = Compensation(ledger)
        deadline = int(ledger.chain.w3.eth.get_block("latest")["timestamp"]) + 365 * 86_400
        terms = Terms(unit=Unit.TONNES, required=1_000 * TONNE,
                      categories=(SinkCategory.MACROALGAE, SinkCategory.SHELLFISH),
                      deadline=deadline, party_names=(PARTY,), document_hash=doc("judgment"),
                      parties=(t1.address,), regions=(35,))
        register = comp.register_order(authority, CASE, terms)
        order = register.id
        first = comp.retire_for_order(t1, order, batch, 10 * TONNE)
        later = comp.retire_for_order(t1, order, batch, 10 * TONNE)
        plain = ledger.retire(t1, batch, 10 * TONNE, PARTY, Purpose.VOLUNTARY)

        cny = Terms(unit=Unit.FEN, required=5_000_000, categories=(SinkCategory.MACROALGAE,),
                    deadline=deadline, party_names=(PARTY,), document_hash=doc("decision"),
                    authority_pays=True)
        cny_order = comp.register_order(authority, CASE + "-2", cny).id
        comp.approve_offers(dev)
        offer = comp.make_offer(dev, cny_order, batch, 500 * TONNE, 10_000, deadline)
        SettlementChain(ledger).deposit(acc["bank"], authority.address, 5_000_000,
                                        doc("compensation funds"))
        comp.allow_cash(authority, 5_000_000)
        take_first = comp.take_offer(authority, offer.id, 100 * TONNE)
        take = comp.take_offer(authority, offer.id, 100 * TONNE)

        tickets = Tickets(ledger)
        issued = s.ticket(1_000 * TONNE, rights_certificate="闽(2021)三明市沙县区林权第0012345号")
        token = tickets.transfer(dev, issued.token_id, t1.address, 500 * TONNE)
        forest = Terms(unit=Unit.TONNES, required=1_000 * TONNE,
                       categories=(SinkCategory.FOREST,), deadline=deadline,
                       party_names=(PARTY,), document_hash=doc("forest judgment"),
                       parties=(t1.address,))
        forest_order = comp.register_order(authority, CASE + "-3", forest).id
        ticket_first = comp.retire_tickets_for_order(t1, forest_order, token, 10 * TONNE)
        ticket_later = comp.retire_tickets_for_order(t1, forest_order, token, 10 * TONNE)
        ticket_plain = tickets.retire(t1, token, 10 * TONNE, PARTY, TicketPurpose.VOLUNTARY)
    retire_for = later.sent.gas_used
    ticket_for = ticket_later.sent.gas_used
    return {
        "register_order_gas": register.sent.gas_used,
        "retire_for_order_first_gas": first.sent.gas_used,
        "retire_for_order_gas": retire_for,
        "retire_plain_gas": plain.sent.gas_used,
        "retire_for_order_ratio": round(retire_for / plain.sent.gas_used, 3),
        "make_offer_gas": offer.sent.gas_used,
        "take_offer_first_gas": take_first.counted.sent.gas_used,
        "take_offer_gas": take.counted.sent.gas_used,
        "take_offer_ratio": round(take.counted.sent.gas_used / plain.sent.gas_used, 3),
        "retire_tickets_for_order_first_gas": ticket_first.sent.gas_used,
        "retire_tickets_for_order_gas": ticket_for,
        "retire_ticket_plain_gas": ticket_plain.sent.gas_used,
        "retire_tickets_for_order_ratio": round(ticket_for / ticket_plain.sent.gas_used, 3),
        "retire_for_order_ratio_target": RETIRE_RATIO_TARGET,
        "take_offer_ratio_target": TAKE_RATIO_TARGET,
    }


def main() -> int:
    result = measure()
    print(json.dumps(result))
    met = (result["retire_for_order_ratio"] <= RETIRE_RATIO_TARGET
           and result["take_offer_ratio"] <= TAKE_RATIO_TARGET
           and result["retire_tickets_for_order_ratio"] <= RETIRE_RATIO_TARGET)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
