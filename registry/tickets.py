"""Typed operations on forest carbon tickets (林业碳票, Flow 10): ForestTickets.

A forestry authority issues (制发) one ticket per verified monitoring report of a forest parcel
to the parcel's owner; the report's id is the ticket's slot, its verified quantity the ticket's
value (micro-tonnes). Owners split, merge, transfer (流转) and retire (抵消) ticket value. A report
is issued once across both registers: a ticketed report is never issued as credits, nor the
other way round (MonitoringReports.claim, `ReportAlreadyClaimed`). Like `registry.ledger.Ledger`,
each write is one transaction sent through the ledger's sender, returning what it created from
its own events; reverts surface as `chain.client.ChainRevert` with the contract's custom error
(e.g. `NotForestParcel`, `InsufficientValue`, `NotOwnerNorApproved`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.client import ChainRevert, Sent
from chain.structs import SlotInfo, Ticket, TicketRetirement
from registry.ledger import Ledger


class TicketPurpose(IntEnum):
    """Why ticket value is retired (the same codes as credits' `Purpose`)."""

    VOLUNTARY = 0
    COMPLIANCE = 1
    ECOLOGICAL_COMPENSATION = 2
    CARBON_INCLUSIVE = 3


@dataclass(frozen=True)
class IssuedTicket:
    """A ticket a forestry authority issued: its id, slot (the report) and value."""

    token_id: int
    slot: int
    owner: str
    value: int
    sent: Sent


@dataclass(frozen=True)
class TicketRetirementResult:
    """A ticket retirement: its id and the slot's serial range it consumed."""

    retirement_id: int
    token_id: int
    slot: int
    value: int
    serial_start: int
    serial_end: int
    sent: Sent


def ticket_retirement_hash(record: TicketRetirement) -> bytes:
    """What ForestTickets stores for a retirement (`hashRetirement`)."""
    return keccak(abi_encode(
        ["address", "uint256", "uint256", "uint256", "uint256", "uint8", "bytes32", "bytes32"],
        [record.holder, record.token_id, record.slot, record.value, record.serial_start,
         record.purpose, keccak(record.beneficiary.encode()),
         keccak(record.case_reference.encode())],
    ))


class Tickets:
    """Forest tickets on one deployment, sent through `ledger`'s plumbing (its sender, event
    decoding and typed records), so a relayed ledger relays these too."""

    CONTRACT = "ForestTickets"

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @property
    def address(self) -> str:
        return str(self.ledger.c(self.CONTRACT).address)

    def _send(self, by: LocalAccount, signature: str, *args: object) -> Sent:
        fn = self.ledger.c(self.CONTRACT).get_function_by_signature(signature)(*args)
        return self.ledger.sender.send(fn, by)

    def new_token_of(self, sent: Sent, from_token: int) -> int:
        """The ticket a split or transfer from `from_token` created."""
        for ev in self.ledger.events_of(sent, "TransferValue"):
            if int(ev.args["fromTokenId"]) == from_token and int(ev.args["toTokenId"]) != 0:
                return int(ev.args["toTokenId"])
        raise LookupError("no new ticket in the transaction")

    # -- writes ------------------------------------------------------------------------------

    def issue(self, by: LocalAccount, report_id: int, rights_certificate: str) -> IssuedTicket:
        """Issues the ticket of verified forest report `report_id` (FORESTRY role)."""
        sent = self._send(by, "issue(uint256,string)", report_id, rights_certificate)
        ev = self.ledger.events_of(sent, "TicketIssued")[0].args
        return IssuedTicket(int(ev["tokenId"]), int(ev["slot"]), str(ev["owner"]),
                            int(ev["value"]), sent)

    def split(self, by: LocalAccount, token_id: int, value: int) -> int:
        """Splits `value` off into a new ticket of the same owner; the new ticket's id."""
        return self.new_token_of(self.split_tx(by, token_id, value), token_id)

    def split_tx(self, by: LocalAccount, token_id: int, value: int) -> Sent:
        """`split`, answering its transaction (the new ticket: `new_token_of`)."""
        return self._send(by, "split(uint256,uint256)", token_id, value)

    def merge(self, by: LocalAccount, from_token: int, to_token: int) -> Sent:
        """Moves all of `from_token` into `to_token` (same slot and owner); burns `from_token`."""
        return self._send(by, "merge(uint256,uint256)", from_token, to_token)

    def transfer(self, by: LocalAccount, token_id: int, to: str, value: int) -> int:
        """Transfers `value` of a ticket to `to` as a new ticket; the new ticket's id."""
        return self.new_token_of(self.transfer_tx(by, token_id, to, value), token_id)

    def transfer_tx(self, by: LocalAccount, token_id: int, to: str, value: int) -> Sent:
        """`transfer`, answering its transaction (the new ticket: `new_token_of`)."""
        return self._send(by, "transferFrom(uint256,address,uint256)", token_id, to, value)

    def transfer_into(self, by: LocalAccount, from_token: int, to_token: int, value: int) -> Sent:
        """Transfers `value` into an existing ticket of the same slot."""
        return self._send(by, "transferFrom(uint256,uint256,uint256)", from_token, to_token,
                          value)

    def transfer_ticket(self, by: LocalAccount, owner: str, to: str, token_id: int) -> Sent:
        """Transfers a whole ticket (it keeps its id)."""
        return self._send(by, "transferFrom(address,address,uint256)", owner, to, token_id)

    def set_approval_for_all(self, by: LocalAccount, operator: str, approved: bool = True) -> Sent:
        return self._send(by, "setApprovalForAll(address,bool)", operator, approved)

    def retire(self, by: LocalAccount, token_id: int, value: int, beneficiary: str,
               purpose: TicketPurpose = TicketPurpose.VOLUNTARY,
               case_reference: str = "") -> TicketRetirementResult:
        sent = self._send(by, "retire(uint256,uint256,string,uint8,string)", token_id, value,
                          beneficiary, int(purpose), case_reference)
        return self.retirement_of(sent, token_id, value)

    def retire_for_order(self, by: LocalAccount, token_id: int, value: int, order_id: int,
                         beneficiary: str = "") -> TicketRetirementResult:
        """Retires `by`'s ticket value for compensation order `order_id`, which counts it (or
        the whole transaction reverts: see `registry.compensation.Compensation
        .retire_tickets_for_order` for what it counted for). Beneficiary empty: the case."""
        sent = self._send(by, "retireForOrder(uint256,uint256,uint256,string)", token_id, value,
                          order_id, beneficiary)
        return self.retirement_of(sent, token_id, value)

    def retirement_of(self, sent: Sent, token_id: int, value: int) -> TicketRetirementResult:
        """The ticket retirement a landed `retire` or `retireForOrder` transaction made."""
        ev = self.ledger.events_of(sent, "TicketRetired")[0].args
        start = int(ev["serialStart"])
        return TicketRetirementResult(int(ev["retirementId"]), token_id, int(ev["slot"]), value,
                                      start, start + value - 1, sent)

    # -- reads -------------------------------------------------------------------------------

    def ticket(self, token_id: int) -> Ticket:
        return self.ledger.record(Ticket, self.CONTRACT, "getTicket", token_id)

    def slot(self, slot: int) -> SlotInfo:
        return self.ledger.record(SlotInfo, self.CONTRACT, "getSlot", slot)

    def value_of(self, token_id: int) -> int:
        return int(self.ledger.chain.call(
            self.ledger.c(self.CONTRACT).functions.balanceOf(token_id)))

    def owner_of(self, token_id: int) -> str:
        return str(self.ledger.chain.call(self.ledger.c(self.CONTRACT).functions.ownerOf(token_id)))

    def token_count(self) -> int:
        return int(self.ledger.chain.call(self.ledger.c(self.CONTRACT).functions.tokenCount()))

    def exists(self, token_id: int) -> bool:
        """Whether the ticket exists (minted and not merged away)."""
        try:
            self.owner_of(token_id)
        except ChainRevert:
            return False
        return True

    def tickets_of_slot(self, slot: int) -> dict[int, Ticket]:
        """Every live ticket of a slot, by id (read ticket by ticket: for tests and audits)."""
        out: dict[int, Ticket] = {}
        for token_id in range(1, self.token_count() + 1):
            if not self.exists(token_id):
                continue
            t = self.ticket(token_id)
            if t.slot == slot:
                out[token_id] = t
        return out

    def claimant_of(self, report_id: int) -> str:
        """The register that issued a report (credits or tickets), the zero address if none."""
        fn = self.ledger.c("MonitoringReports").functions.claimantOf(report_id)
        return str(self.ledger.chain.call(fn))

    def verify_retirement(self, retirement_id: int, record: TicketRetirement) -> bool:
        fn = self.ledger.c(self.CONTRACT).functions.verifyRetirement(retirement_id,
                                                                     record.to_abi())
        return bool(self.ledger.chain.call(fn))

    def retirement_count(self) -> int:
        return int(self.ledger.chain.call(
            self.ledger.c(self.CONTRACT).functions.retirementCount()))

    def retirement_hash(self, retirement_id: int) -> bytes:
        fn = self.ledger.c(self.CONTRACT).functions.retirementHash(retirement_id)
        return bytes(self.ledger.chain.call(fn))
