"""Forest-ticket retirements to certify, for the ticket certificate and ticket compensation
tests (no tests here).

Sanming as scenario data (DESIGN.md, seeds): a forest parcel of 沙县区 (350427) ticketed by the
forestry seat from a verified report, with its forest-right certificate number; the developer
(the parcel's owner) retires ticket value for an agency's emissions, or trader1, a liable
party, retires tickets for a procuratorate's forest compensation order through the API.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

from devkit.scenario import Scenario
from registry.categories import SinkCategory
from registry.tickets import TicketPurpose, Tickets
from tests.support.api import TONNE, Api
from tests.support.compensation import chain_time

SHAXIAN = 350427  # 福建省三明市沙县区
RIGHTS_PREFIX = "闽(2021)三明市沙县区林权第"  # + the parcel's number: one certificate, one parcel
TICKET_CASE = "（2026）闽0427刑初21号"
TICKET_BENEFICIARY = "三明市机关事务管理局 2025 年度碳中和 Sanming offices' 2025 carbon neutrality"


@dataclass(frozen=True)
class HeldTicket:
    token_id: int
    slot: int
    project_id: int


def ticket_for(api: Api, seat: str = "developer", tonnes: int = 50,
               division_code: int = SHAXIAN) -> HeldTicket:
    """A ticket of a fresh Shaxian forest parcel (100 t issued to the developer); `tonnes` of
    it moved to `seat` unless the seat is the developer."""
    s = Scenario(api.ledger, api.acc)
    project = s.project(s.methodology(category=SinkCategory.FOREST),
                        division_code=division_code)
    issued = s.ticket(100 * TONNE, project_id=project,
                      rights_certificate=f"{RIGHTS_PREFIX}{project:07d}号")
    token = issued.token_id
    if seat != "developer":
        token = Tickets(api.ledger).transfer(api.acc["developer"], issued.token_id,
                                             api.acc[seat].address, tonnes * TONNE)
    return HeldTicket(token, issued.slot, project)


def retire_ticket(api: Api, tonnes: int = 12, beneficiary: str = TICKET_BENEFICIARY) -> int:
    """The developer retires `tonnes` of a fresh ticket voluntarily; the retirement id."""
    held = ticket_for(api)
    r = Tickets(api.ledger).retire(api.acc["developer"], held.token_id, tonnes * TONNE,
                                   beneficiary, TicketPurpose.VOLUNTARY)
    return r.retirement_id


def forest_order(api: Api, case: str = TICKET_CASE, required_tonnes: str = "10",
                 **over: object) -> int:
    """A procuratorate's order for forest carbon of Fujian (35), trader1 liable; its id."""
    body: dict[str, object] = {
        "case_number": case, "required_tonnes": required_tonnes, "categories": ["forest"],
        "regions": ["35"], "deadline": chain_time(api.ledger) + 90 * 86_400,
        "parties": [api.acc["trader1"].address], "party_names": ["林某某"],
        "document_hash": "0x" + keccak(text=case).hex(),
    }
    body.update(over)
    body = {k: v for k, v in body.items() if v is not None}
    return int(api.post("/v1/compensation/orders", "procuratorate", body,
                        status=201)["order"]["id"])


def retire_tickets_for_order(api: Api, order_id: int, amount: str = "4",
                             seat: str = "trader1") -> dict[str, object]:
    """`amount` tonnes of a fresh ticket retired by `seat` for the order over the API."""
    held = ticket_for(api, seat)
    out: dict[str, object] = api.post(
        f"/v1/compensation/orders/{order_id}/ticket-retirements", seat,
        {"token_id": held.token_id, "amount": amount}, status=201)
    return out
