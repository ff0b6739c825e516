"""Typed operations on ecological-compensation orders (Flow 11): CompensationOrders, the
retirements CarbonCredits counts toward them, and CompensationOffers' fixed-price offers.

An authority (court, procuratorate, enforcement agency) registers an order for a case; the
liable parties (or the authority itself, when it pays from compensation funds) retire eligible
credits for it, from their own holdings or by taking an offer, which retires the tonnes on
delivery, or forest-ticket value they hold (ForestTickets.retireForOrder, judged by the
ticket's slot); the contract marks the order fulfilled. Like `registry.ledger.Ledger`, each write is
one transaction sent as the given account through the ledger's sender, returning what it
created from its own events; reverts surface as `chain.client.ChainRevert` with the contract's
custom error (e.g. `IneligibleRegion`, `PastDeadline`, `CaseHasOrder`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.client import Chain, Sender, Sent
from chain.structs import Offer, OrderView
from chain.structs import Terms as TermsRecord
from registry.categories import SinkCategory, categories_of_mask, category_mask
from registry.ledger import ZERO32, Created, Ledger, RetirementResult
from registry.tickets import TicketRetirementResult, Tickets

ANY_VINTAGE_FROM = 0
ANY_VINTAGE_TO = 2**64 - 1
UNITS_PER_TONNE = 1_000_000


class Unit(IntEnum):
    """What an order's requirement is measured in."""

    TONNES = 0  # micro-tonnes retired
    FEN = 1  # a CNY amount, in fen paid at a trusted venue's price


class OrderStatus(IntEnum):
    """An order's status; OVERDUE is what `statusOf` reports for an open order past its
    deadline (never stored)."""

    NONE = 0
    OPEN = 1
    PARTLY_FULFILLED = 2
    FULFILLED = 3
    CLOSED = 4
    OVERDUE = 5


@dataclass(frozen=True)
class Terms:
    """What an authority registers or amends (CompensationOrders.Terms), in Python's types.

    `required`: micro-tonnes for a Tonnes order, fen for a Fen order. `regions`:
    administrative-division prefixes of 2, 4 or 6 digits (45, 4507, 450702), empty for any. A
    batch is eligible when vintage_from <= its monitoring period's end <= vintage_to.
    `parties`: member accounts that may retire for the order; `party_names`: every liable
    party's display name, members or not."""

    unit: Unit
    required: int
    categories: tuple[SinkCategory, ...]
    deadline: int
    party_names: tuple[str, ...]
    document_hash: bytes
    parties: tuple[str, ...] = ()
    regions: tuple[int, ...] = ()
    vintage_from: int = ANY_VINTAGE_FROM
    vintage_to: int = ANY_VINTAGE_TO
    authority_pays: bool = False

    def __post_init__(self) -> None:
        # the chain keeps a mask: the categories read back in enum order, each once
        object.__setattr__(self, "categories", categories_of_mask(category_mask(self.categories)))

    @property
    def category_mask(self) -> int:
        return category_mask(self.categories)

    def record(self) -> TermsRecord:
        return TermsRecord(
            unit=int(self.unit), required=self.required, category_mask=self.category_mask,
            regions=tuple(self.regions), vintage_from=self.vintage_from,
            vintage_to=self.vintage_to, deadline=self.deadline, parties=tuple(self.parties),
            party_names=tuple(self.party_names), authority_pays=self.authority_pays,
            document_hash=self.document_hash,
        )

    def to_abi(self) -> tuple[Any, ...]:
        return self.record().to_abi()

    @classmethod
    def of(cls, record: TermsRecord) -> Terms:
        return cls(
            unit=Unit(record.unit), required=record.required,
            categories=categories_of_mask(record.category_mask), deadline=record.deadline,
            party_names=record.party_names, document_hash=record.document_hash,
            parties=record.parties, regions=record.regions, vintage_from=record.vintage_from,
            vintage_to=record.vintage_to, authority_pays=record.authority_pays,
        )


@dataclass(frozen=True)
class CompensationOrder:
    """An order as the chain holds it. `status` is the recorded one (never OVERDUE; see
    `Compensation.status_of`); `fulfilled` is in the order's unit, `retired_amount` in
    micro-tonnes."""

    order_id: int
    authority: str
    status: OrderStatus
    case_number: str
    terms: Terms
    fulfilled: int
    retired_amount: int

    @property
    def remaining(self) -> int:
        return max(self.terms.required - self.fulfilled, 0)

    @classmethod
    def of(cls, order_id: int, view: OrderView) -> CompensationOrder:
        return cls(order_id, view.authority, OrderStatus(view.status), view.case_number,
                   Terms.of(view.terms), view.fulfilled, view.retired_amount)


@dataclass(frozen=True)
class CountedRetirement:
    """A retirement for an order, and what it counted for: `value` in the order's unit,
    `fulfilled` the order's total after it, `order_fulfilled` whether it met the requirement."""

    retirement: RetirementResult
    order_id: int
    value: int
    fulfilled: int
    order_fulfilled: bool

    @property
    def sent(self) -> Sent:
        return self.retirement.sent


@dataclass(frozen=True)
class CountedTicketRetirement:
    """A forest-ticket retirement for an order (ForestTickets' retirement id, apart from
    credits'), and what it counted for, as `CountedRetirement`."""

    retirement: TicketRetirementResult
    order_id: int
    value: int
    fulfilled: int
    order_fulfilled: bool

    @property
    def sent(self) -> Sent:
        return self.retirement.sent


@dataclass(frozen=True)
class TakenOffer:
    """An offer taken: what the buyer paid (fen) and the retirement it made."""

    offer_id: int
    paid: int
    counted: CountedRetirement


def case_hash(case_number: str) -> bytes:
    """How the chain keys a case (keccak256 of its UTF-8 bytes)."""
    return keccak(case_number.encode())


def offer_cost(amount: int, price_fen_per_tonne: int) -> int:
    """Fen a buyer pays for `amount` micro-tonnes at a price: rounded up (as CompensationOffers)."""
    return -(-amount * price_fen_per_tonne // UNITS_PER_TONNE)


def fen_value(amount: int, price_fen_per_tonne: int) -> int:
    """What a purchase counts toward a Fen order: rounded down (never in the party's favour)."""
    return amount * price_fen_per_tonne // UNITS_PER_TONNE


class Compensation:
    """Compensation orders and offers on one deployment, sent through `ledger`'s plumbing (its
    sender, event decoding and typed records), so a relayed ledger relays these too."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def via(self, sender: Sender) -> Compensation:
        """The same operations, sent by `sender` (see `Ledger.via`)."""
        return Compensation(self.ledger.via(sender))

    # -- orders -----------------------------------------------------------------------------

    def register_order(self, by: LocalAccount, case_number: str, terms: Terms) -> Created:
        """Registers the case's order; `by` (an AUTHORITY member) becomes its authority."""
        sent = self.ledger._send(by, "CompensationOrders", "register", case_number,
                                 terms.to_abi())
        return self.ledger._created(sent, "OrderRegistered", "orderId")

    def amend_order(self, by: LocalAccount, order_id: int, terms: Terms,
                    reason_hash: bytes = ZERO32) -> Sent:
        return self.ledger._send(by, "CompensationOrders", "amend", order_id, terms.to_abi(),
                                 reason_hash)

    def close_order(self, by: LocalAccount, order_id: int, reason_hash: bytes = ZERO32) -> Sent:
        return self.ledger._send(by, "CompensationOrders", "close", order_id, reason_hash)

    def retire_for_order(self, by: LocalAccount, order_id: int, batch_id: int, amount: int,
                         beneficiary: str = "") -> CountedRetirement:
        """Retires `by`'s own credits for the order (beneficiary empty: the case number)."""
        sent = self.ledger._send(by, "CarbonCredits", "retireForOrder", batch_id, amount,
                                 beneficiary, order_id)
        return self._counted(sent, order_id, batch_id, amount)

    def retire_tickets_for_order(self, by: LocalAccount, order_id: int, token_id: int,
                                 value: int, beneficiary: str = "") -> CountedTicketRetirement:
        """Retires `value` of `by`'s forest ticket for the order (ForestTickets.retireForOrder);
        the order judges it by the ticket's slot: the parcel's sink category, division and
        monitoring period. A CNY order refuses it (`PriceUnknown`): there is no venue price."""
        r = Tickets(self.ledger).retire_for_order(by, token_id, value, order_id, beneficiary)
        return self._ticket_counted(r, order_id)

    def ticket_counted_of(self, sent: Sent, order_id: int, token_id: int,
                          value: int) -> CountedTicketRetirement:
        """The counted ticket retirement a landed `retireForOrder` transaction made."""
        return self._ticket_counted(Tickets(self.ledger).retirement_of(sent, token_id, value),
                                    order_id)

    def _ticket_counted(self, r: TicketRetirementResult,
                        order_id: int) -> CountedTicketRetirement:
        counted = self.ledger.events_of(r.sent, "TicketRetirementCounted")[0].args
        return CountedTicketRetirement(
            retirement=r, order_id=order_id, value=int(counted["value"]),
            fulfilled=int(counted["fulfilled"]),
            order_fulfilled=bool(self.ledger.events_of(r.sent, "OrderFulfilled")),
        )

    def order(self, order_id: int) -> CompensationOrder:
        view = self.ledger.record(OrderView, "CompensationOrders", "getOrder", order_id)
        return CompensationOrder.of(order_id, view)

    def status_of(self, order_id: int) -> OrderStatus:
        """The status now, OVERDUE for an open order past its deadline."""
        fn = self.ledger.c("CompensationOrders").functions.statusOf(order_id)
        return OrderStatus(int(self.ledger.chain.call(fn)))

    def order_of_case(self, case_number: str) -> int:
        """The case's order id, 0 if none is registered."""
        fn = self.ledger.c("CompensationOrders").functions.orderOfCase(case_number)
        return int(self.ledger.chain.call(fn))

    def is_party(self, order_id: int, account: str) -> bool:
        fn = self.ledger.c("CompensationOrders").functions.isParty(order_id, account)
        return bool(self.ledger.chain.call(fn))

    def order_count(self) -> int:
        return int(self.ledger.chain.call(
            self.ledger.c("CompensationOrders").functions.orderCount()))

    # -- offers -----------------------------------------------------------------------------

    @property
    def offers_address(self) -> str:
        return str(self.ledger.c("CompensationOffers").address)

    def make_offer(self, by: LocalAccount, order_id: int, batch_id: int, amount: int,
                   price_fen_per_tonne: int, expiry: int) -> Created:
        """Offers `by`'s credits to an order at a fixed price; `by` must also approve the
        offers contract as its operator (`approve_offers`) before the offer can be taken."""
        sent = self.ledger._send(by, "CompensationOffers", "offer", order_id, batch_id, amount,
                                 price_fen_per_tonne, expiry)
        return self.ledger._created(sent, "OfferMade", "offerId")

    def approve_offers(self, by: LocalAccount, approved: bool = True) -> Sent:
        """Lets (or stops) the offers contract retire `by`'s credits when its offers are taken."""
        return self.ledger._send(by, "CarbonCredits", "setApprovalForAll", self.offers_address,
                                 approved)

    def allow_cash(self, by: LocalAccount, fen: int) -> Sent:
        """Lets the offers contract take up to `fen` of `by`'s cash to pay for offers it takes."""
        return self.ledger._send(by, "CashToken", "approve", self.offers_address, fen)

    def withdraw_offer(self, by: LocalAccount, offer_id: int) -> Sent:
        return self.ledger._send(by, "CompensationOffers", "withdraw", offer_id)

    def take_offer(self, by: LocalAccount, offer_id: int, amount: int,
                   beneficiary: str = "") -> TakenOffer:
        """Buys `amount` of an offer and retires it for the offer's order on delivery."""
        offer = self.offer(offer_id)
        sent = self.ledger._send(by, "CompensationOffers", "take", offer_id, amount, beneficiary)
        taken = self.ledger.events_of(sent, "OfferTaken")[0].args
        return TakenOffer(offer_id, int(taken["paid"]),
                          self._counted(sent, offer.order_id, offer.batch_id, amount))

    def offer(self, offer_id: int) -> Offer:
        return self.ledger.record(Offer, "CompensationOffers", "getOffer", offer_id)

    # -- plumbing ---------------------------------------------------------------------------

    def _counted(self, sent: Sent, order_id: int, batch_id: int,
                 amount: int) -> CountedRetirement:
        counted = self.ledger.events_of(sent, "RetirementCounted")[0].args
        return CountedRetirement(
            retirement=self.ledger.retirement_of(sent, batch_id, amount),
            order_id=order_id,
            value=int(counted["value"]),
            fulfilled=int(counted["fulfilled"]),
            order_fulfilled=bool(self.ledger.events_of(sent, "OrderFulfilled")),
        )


    # -- for retries and pre-checks ----------------------------------------------------------

    @property
    def chain(self) -> Chain:
        return self.ledger.chain

    def counted_of(self, sent: Sent, order_id: int, batch_id: int,
                   amount: int) -> CountedRetirement:
        """The counted retirement a landed `retireForOrder` transaction made (a retry of a
        request whose answer was lost)."""
        return self._counted(sent, order_id, batch_id, amount)

    def taken_of(self, sent: Sent, offer_id: int) -> TakenOffer:
        """What a landed `take` transaction bought and retired."""
        taken = self.ledger.events_of(sent, "OfferTaken")[0].args
        offer = self.offer(offer_id)
        return TakenOffer(offer_id, int(taken["paid"]),
                          self._counted(sent, offer.order_id, offer.batch_id,
                                        int(taken["amount"])))

    def offer_count(self) -> int:
        return int(self.ledger.chain.call(
            self.ledger.c("CompensationOffers").functions.offerCount()))

    def cost_of(self, offer_id: int, amount: int) -> int:
        """Fen the buyer pays for `amount` of an offer (rounded up, as the contract charges)."""
        return offer_cost(amount, self.offer(offer_id).price_fen_per_tonne)

    def offers_approved(self, seller: str) -> bool:
        """Whether `seller` lets the offers contract retire its credits when an offer is taken."""
        fn = self.ledger.c("CarbonCredits").functions.isApprovedForAll(seller,
                                                                       self.offers_address)
        return bool(self.ledger.chain.call(fn))
