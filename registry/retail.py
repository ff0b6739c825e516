"""Typed operations on the carbon supermarket (碳汇超市): CarbonSupermarket.

A retail operator seat (RETAIL role) sells small amounts — down to one kilogram — of forest
tickets or credits to people who have no chain account: the seat stocks its shelf (the contract
holds the stock), and each sale retires at once, for the named buyer, from that seat's own
stock, so the buyer gets a certificate without ever holding anything. Sales are listed and
totalled per seat and buyer reference (the shop's receipt, kept on chain as its keccak256).
Like `registry.ledger.Ledger`, each write is one transaction sent through the ledger's sender;
reverts surface as `chain.client.ChainRevert` with the contract's custom error (e.g.
`BelowRetailMinimum`, `NotWholeKilogram`, `NotSeatStock`, `InsufficientStock`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.client import Sent
from chain.structs import BuyerTotals, Lot, Sale
from registry.ledger import Ledger

KILOGRAM = 1_000  # micro-tonnes: the smallest retail sale and its granularity


class RetailKind(IntEnum):
    """What a lot or sale is: ticket value (asset id = the shelf ticket) or credits (batch)."""

    TICKET = 0
    CREDIT = 1


def buyer_reference_hash(buyer_reference: str) -> bytes:
    """What the chain keeps of a buyer reference (keccak256 of its UTF-8 text)."""
    return keccak(buyer_reference.encode())


@dataclass(frozen=True)
class RetailSaleResult:
    """A sale as mined: its id, the register's retirement and the serial range it consumed
    (serials are per ticket slot for tickets, per batch for credits: `serial_scope`)."""

    sale_id: int
    kind: RetailKind
    asset_id: int
    retirement_id: int
    serial_scope: int
    value: int
    price_fen: int
    serial_start: int
    serial_end: int
    sent: Sent


@dataclass(frozen=True)
class SaleRecord:
    """A sale as the chain holds it, with its id."""

    sale_id: int
    seat: str
    kind: RetailKind
    asset_id: int
    retirement_id: int
    value: int
    price_fen: int
    buyer_reference_hash: bytes

    @classmethod
    def of(cls, sale_id: int, s: Sale) -> SaleRecord:
        return cls(sale_id, s.seat, RetailKind(s.kind), s.asset_id, s.retirement_id, s.value,
                   s.price_fen, s.buyer_reference_hash)


class Supermarket:
    """The carbon supermarket on one deployment, sent through `ledger`'s plumbing."""

    CONTRACT = "CarbonSupermarket"

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @property
    def address(self) -> str:
        return str(self.ledger.c(self.CONTRACT).address)

    def _send(self, by: LocalAccount, fn: str, *args: object) -> Sent:
        return self.ledger._send(by, self.CONTRACT, fn, *args)

    def _call(self, fn: str, *args: object) -> object:
        return self.ledger.chain.call(getattr(self.ledger.c(self.CONTRACT).functions, fn)(*args))

    # -- approvals ---------------------------------------------------------------------------

    def approve_tickets(self, by: LocalAccount, approved: bool = True) -> Sent:
        """Lets (or stops) the supermarket move `by`'s tickets onto its shelf when it stocks."""
        fn = self.ledger.c("ForestTickets").get_function_by_signature(
            "setApprovalForAll(address,bool)")(self.address, approved)
        return self.ledger.sender.send(fn, by)

    def approve_credits(self, by: LocalAccount, approved: bool = True) -> Sent:
        """Lets (or stops) the supermarket move `by`'s credits onto its shelf when it stocks."""
        return self.ledger._send(by, "CarbonCredits", "setApprovalForAll", self.address, approved)

    # -- writes ------------------------------------------------------------------------------

    def stock_ticket(self, by: LocalAccount, token_id: int, value: int) -> int:
        """Puts `value` of `by`'s ticket on its shelf; the shelf ticket's id."""
        return self.stock_ticket_sent(by, token_id, value)[0]

    def stock_ticket_sent(self, by: LocalAccount, token_id: int, value: int) -> tuple[int, Sent]:
        """`stock_ticket`, with its transaction."""
        sent = self._send(by, "stockTicket", token_id, value)
        return int(self.ledger.events_of(sent, "Stocked")[0].args["assetId"]), sent

    def tickets_approved(self, owner: str) -> bool:
        fn = self.ledger.c("ForestTickets").functions.isApprovedForAll(owner, self.address)
        return bool(self.ledger.chain.call(fn))

    def credits_approved(self, owner: str) -> bool:
        fn = self.ledger.c("CarbonCredits").functions.isApprovedForAll(owner, self.address)
        return bool(self.ledger.chain.call(fn))

    def stock_credits(self, by: LocalAccount, batch_id: int, amount: int) -> Sent:
        return self._send(by, "stockCredits", batch_id, amount)

    def sell_ticket(self, by: LocalAccount, shelf_token_id: int, value: int, beneficiary: str,
                    buyer_reference: str, price_fen: int) -> RetailSaleResult:
        sent = self._send(by, "sellTicket", shelf_token_id, value, beneficiary, buyer_reference,
                          price_fen)
        return self.sale_of(sent)

    def sell_credits(self, by: LocalAccount, batch_id: int, amount: int, beneficiary: str,
                     buyer_reference: str, price_fen: int) -> RetailSaleResult:
        sent = self._send(by, "sellCredits", batch_id, amount, beneficiary, buyer_reference,
                          price_fen)
        return self.sale_of(sent)

    def sale_of(self, sent: Sent) -> RetailSaleResult:
        """The sale a mined `sellTicket` or `sellCredits` made, from its events (the serial
        range from the register's retirement event)."""
        ev = self.ledger.events_of(sent, "RetailSale")[0].args
        kind = RetailKind(int(ev["kind"]))
        retired = "TicketRetired" if kind == RetailKind.TICKET else "Retired"
        record = self.ledger.events_of(sent, retired)[0].args
        scope = int(record["slot"] if kind == RetailKind.TICKET else record["batchId"])
        start = int(record["serialStart"])
        value = int(ev["value"])
        return RetailSaleResult(int(ev["saleId"]), kind, int(ev["assetId"]),
                                int(ev["retirementId"]), scope, value, int(ev["priceFen"]),
                                start, start + value - 1, sent)

    def withdraw_ticket(self, by: LocalAccount, shelf_token_id: int, value: int) -> int:
        """Takes unsold ticket value back; the ticket `by` received."""
        sent = self.withdraw_ticket_sent(by, shelf_token_id, value)
        return int(self.ledger.events_of(sent, "Withdrawn")[0].args["toTokenId"])

    def withdraw_ticket_sent(self, by: LocalAccount, shelf_token_id: int, value: int) -> Sent:
        return self._send(by, "withdrawTicket", shelf_token_id, value)

    def withdraw_credits(self, by: LocalAccount, batch_id: int, amount: int) -> Sent:
        return self._send(by, "withdrawCredits", batch_id, amount)

    # -- reads -------------------------------------------------------------------------------

    def lot(self, seat: str, kind: RetailKind, asset_id: int) -> Lot:
        return self.ledger.record(Lot, self.CONTRACT, "lotOf", seat, int(kind), asset_id)

    def shelf_seat_of(self, token_id: int) -> str:
        return str(self._call("shelfSeatOf", token_id))

    def _ids(self, fn: str, *args: object) -> list[int]:
        raw = self._call(fn, *args)
        assert isinstance(raw, list | tuple)
        return [int(i) for i in raw]

    def shelf_tickets(self, seat: str) -> list[int]:
        return self._ids("shelfTicketsOf", seat)

    def shelf_batches(self, seat: str) -> list[int]:
        return self._ids("shelfBatchesOf", seat)

    def sale_count(self) -> int:
        return int(str(self._call("saleCount")))

    def sale(self, sale_id: int) -> SaleRecord:
        return SaleRecord.of(sale_id, self.ledger.record(Sale, self.CONTRACT, "getSale", sale_id))

    def sales_of_seat(self, seat: str) -> list[SaleRecord]:
        return [self.sale(i) for i in self._ids("salesOfSeat", seat)]

    def sales_of_buyer(self, seat: str, buyer_reference: str) -> list[SaleRecord]:
        ref = buyer_reference_hash(buyer_reference)
        return [self.sale(i) for i in self._ids("salesOfBuyer", seat, ref)]

    def buyer_totals(self, seat: str, buyer_reference: str) -> BuyerTotals:
        return self.ledger.record(BuyerTotals, self.CONTRACT, "buyerTotals", seat,
                                  buyer_reference_hash(buyer_reference))
