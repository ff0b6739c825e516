"""How ForestTickets and PledgeRegister events change the SQL index.

The handlers take the block range's `RangeWriter` (registry.events) like the others. Slots,
tickets, ticket retirements and pledges are all entities (events overwrite them), so the rewind
after a reorganisation rebuilds them by replaying the journal through these same handlers. A
ticket's value is the sum of the `TransferValue` events into and out of it, exactly as the
contract moves it: a mint has `fromTokenId` 0, a retirement or burn `toTokenId` 0; a merge
leaves the burnt ticket's row with value 0 and `burnt` set. Per slot the index keeps the
contract's invariant: issued = Σ live ticket values + retired (pledged value is in tickets the
register owns).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection

from chain.abi import DecodedEvent
from registry.index_values import BIGINT_MAX, ZERO_ADDRESS, Entities
from registry.index_values import sql_text as _text
from registry.index_values import units as _units
from registry.pledges import AssetKind, PledgeStatus
from registry.tickets import TicketPurpose


class RangeWriter(Protocol):
    """What these handlers use of registry.events.RangeWriter (named here so that the two
    modules do not import each other)."""

    @property
    def conn(self) -> Connection: ...
    @property
    def ticket_slots(self) -> Entities: ...
    @property
    def tickets(self) -> Entities: ...
    @property
    def ticket_retirements(self) -> Entities: ...
    @property
    def pledges(self) -> Entities: ...


def ticket_issued(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    slot = int(a["slot"])
    w.ticket_slots.create(slot, {
        "id": slot,
        "project_id": int(a["projectId"]),
        "owner": a["owner"],
        "issued": _units(int(a["value"]), "ticket value"),
        "retired": 0,
        "period_start": int(a["periodStart"]),
        "period_end": int(a["periodEnd"]),
        "rights_certificate": _text(a["rightsCertificate"]),
        "division_code": int(a["divisionCode"]),
        "boundary_hash": a["boundaryHash"],
        "area_m2": int(a["areaM2"]),
        "issuer": a["issuer"],
        "tx_hash": ev.tx_hash,
        "block_number": ev.block_number,
        "block_timestamp": ts,
    })


def ticket_transferred(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    token = int(a["tokenId"])
    if a["from"] == ZERO_ADDRESS:  # a mint: its slot and value follow
        w.tickets.create(token, {"id": token, "slot": 0, "owner": a["to"], "value": 0,
                                 "burnt": False, "block_number": ev.block_number})
        return
    row = w.tickets.require(w.conn, token, ev)
    row["block_number"] = ev.block_number
    if a["to"] == ZERO_ADDRESS:  # merged away
        row["burnt"] = True
    else:
        row["owner"] = a["to"]


def slot_changed(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    row = w.tickets.require(w.conn, int(ev.args["tokenId"]), ev)
    row["slot"] = int(ev.args["newSlot"])


def transfer_value(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    value = int(a["value"])
    for key, sign in (("fromTokenId", -1), ("toTokenId", 1)):
        token = int(a[key])
        if token == 0:
            continue
        row = w.tickets.require(w.conn, token, ev)
        row["value"] = _units(row["value"] + sign * value, "ticket value")
        row["block_number"] = ev.block_number


def ticket_retired(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    slot = int(a["slot"])
    value = int(a["value"])
    start = int(a["serialStart"])
    w.ticket_slots.require(w.conn, slot, ev)["retired"] += value
    rid = int(a["retirementId"])
    w.ticket_retirements.create(rid, {
        "id": rid,
        "slot": slot,
        "token_id": int(a["tokenId"]),
        "holder": a["holder"],
        "value": value,
        "serial_start": start,
        "serial_end": start + value - 1,
        "purpose": TicketPurpose(int(a["purpose"])).name.lower(),
        "beneficiary": _text(a["beneficiary"]),
        "case_reference": _text(a["caseReference"]),
        "tx_hash": ev.tx_hash,
        "block_number": ev.block_number,
        "block_timestamp": ts,
    })


def pledged(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
    a = ev.args
    pid = int(a["pledgeId"])
    fen = int(a["amountFen"])
    w.pledges.create(pid, {
        "id": pid,
        "pledgor": a["pledgor"],
        "bank": a["bank"],
        "asset": "ticket" if int(a["kind"]) == AssetKind.TICKET else "credit",
        "asset_id": int(a["assetId"]),
        "source_token_id": int(a["sourceTokenId"]),
        "token_id": int(a["tokenId"]),
        "value": _units(int(a["value"]), "pledged value"),
        "loan_reference": a["loanReference"],
        "amount_fen": fen if fen <= BIGINT_MAX else None,
        "maturity": int(a["maturity"]),
        "status": PledgeStatus.ACTIVE.name.lower(),
        "closed_block": None,
        "tx_hash": ev.tx_hash,
        "block_number": ev.block_number,
        "block_timestamp": ts,
    })


def _closed(status: PledgeStatus) -> Any:
    def handler(w: RangeWriter, ev: DecodedEvent, ts: int) -> None:
        row = w.pledges.require(w.conn, int(ev.args["pledgeId"]), ev)
        row["status"] = status.name.lower()
        row["closed_block"] = ev.block_number

    handler.__name__ = f"pledge_{status.name.lower()}"
    return handler


pledge_released = _closed(PledgeStatus.RELEASED)
pledge_foreclosed = _closed(PledgeStatus.FORECLOSED)

HANDLERS = {
    ("ForestTickets", "TicketIssued"): ticket_issued,
    ("ForestTickets", "TicketTransferred"): ticket_transferred,
    ("ForestTickets", "SlotChanged"): slot_changed,
    ("ForestTickets", "TransferValue"): transfer_value,
    ("ForestTickets", "TicketRetired"): ticket_retired,
    ("PledgeRegister", "Pledged"): pledged,
    ("PledgeRegister", "PledgeReleased"): pledge_released,
    ("PledgeRegister", "PledgeForeclosed"): pledge_foreclosed,
}
