"""Typed operations on the forward market (碳远期): ForwardMarket.

The exchange lists forward contracts on a credit class, records matched trades with both sides'
signed `ForwardOrder`s, posts each trading day's settlement price (which the contract recomputes
from the trades it recorded: `core.forward_math.vwap_to_tick`) and moves variation margin in
batches of holders; members keep margin in cash tokens there, deliver credits or pay at maturity.
Like `registry.ledger.Ledger`, each write is one transaction sent through the ledger's sender;
reverts surface as `chain.client.ChainRevert` with the contract's custom error (e.g.
`PriceOutsideLimit`, `TradingClosed`, `InsufficientMargin`, `SettlementPriceMismatch`,
`IneligibleBatch`, `Overfill`, `InvalidSignature`, `NotMember`).

The matching engine and the HTTP API sit above this module: they build `ForwardOrder`s and
`ForwardTrade`s and call `record_trades`, `settle_day` and `complete_delivery`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.client import Sent
from chain.eip712 import FORWARD_ORDER, digest, domain_separator
from chain.structs import Account as AccountRecord
from chain.structs import Books, Delivery, ForwardBaseTerms, Market
from core import forward_math
from registry.ledger import Ledger

DOMAIN_NAME = "Tanhui ForwardMarket"
DOMAIN_VERSION = "1"
DAY = 86_400

Terms = ForwardBaseTerms


class Side(IntEnum):
    BUY = 0
    SELL = 1


@dataclass(frozen=True)
class ForwardOrder:
    """A forward order as signed (chain.eip712.FORWARD_ORDER): quantity in contracts."""

    trader: str
    side: Side
    contract_id: int
    price: int
    quantity: int
    nonce: int
    expiry: int

    def as_tuple(self) -> tuple[Any, ...]:
        return FORWARD_ORDER.as_tuple(self)


def compact(signature: bytes) -> tuple[bytes, bytes]:
    """A 65-byte signature as EIP-2098 (r, vs); anything else passes through to be refused."""
    if len(signature) != 65 or signature[64] not in (27, 28):
        return signature[:32].ljust(32, b"\0"), signature[32:64].ljust(32, b"\0")
    s = int.from_bytes(signature[32:64], "big") | (signature[64] - 27) << 255
    return signature[:32], s.to_bytes(32, "big")


@dataclass(frozen=True)
class ForwardTrade:
    """One matched trade: executed price and contracts, both signed orders."""

    trade_id: int
    price: int
    quantity: int
    buy: ForwardOrder
    buy_signature: bytes
    sell: ForwardOrder
    sell_signature: bytes

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.trade_id, self.price, self.quantity, self.buy.as_tuple(),
                compact(self.buy_signature), self.sell.as_tuple(), compact(self.sell_signature))


class Forwards:
    """The forward market on one deployment, sent through `ledger`'s plumbing."""

    CONTRACT = "ForwardMarket"

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @property
    def address(self) -> str:
        return str(self.ledger.c(self.CONTRACT).address)

    @cached_property
    def separator(self) -> bytes:
        return domain_separator(DOMAIN_NAME, DOMAIN_VERSION, self.ledger.chain.chain_id,
                                self.address)

    def _send(self, by: LocalAccount, fn: str, *args: object) -> Sent:
        return self.ledger._send(by, self.CONTRACT, fn, *args)

    def _call(self, fn: str, *args: object) -> Any:
        return self.ledger.chain.call(getattr(self.ledger.c(self.CONTRACT).functions, fn)(*args))

    # -- signing -----------------------------------------------------------------------------

    def order_digest(self, order: ForwardOrder) -> bytes:
        return digest(self.separator, FORWARD_ORDER.static_struct_hash(order))

    def typed_data(self, order: ForwardOrder) -> dict[str, Any]:
        domain = {"name": DOMAIN_NAME, "version": DOMAIN_VERSION,
                  "chainId": self.ledger.chain.chain_id, "verifyingContract": self.address}
        return FORWARD_ORDER.document(domain, FORWARD_ORDER.message(order))

    def sign(self, account: LocalAccount, order: ForwardOrder) -> bytes:
        """`account`'s EIP-712 signature of `order`, as any wallet would make it."""
        signed = Account.sign_typed_data(account.key, full_message=self.typed_data(order))
        return bytes(signed.signature)

    # -- approvals ---------------------------------------------------------------------------

    def allow_cash(self, by: LocalAccount, amount: int = 2**256 - 1) -> Sent:
        """Lets the market pull up to `amount` fen of `by`'s cash as margin."""
        return self.ledger._send(by, "CashToken", "approve", self.address, amount)

    def approve_credits(self, by: LocalAccount, approved: bool = True) -> Sent:
        """Lets the market move `by`'s credits into escrow when it delivers."""
        return self.ledger._send(by, "CarbonCredits", "setApprovalForAll", self.address, approved)

    # -- writes ------------------------------------------------------------------------------

    def list_contract(self, by: LocalAccount, contract_id: int, terms: Terms) -> Sent:
        return self._send(by, "listContract", contract_id, terms.to_abi())

    def deposit_margin(self, by: LocalAccount, contract_id: int, fen: int) -> Sent:
        return self._send(by, "depositMargin", contract_id, fen)

    def withdraw_margin(self, by: LocalAccount, contract_id: int, fen: int) -> Sent:
        return self._send(by, "withdrawMargin", contract_id, fen)

    def record_trades(self, by: LocalAccount, trades: Sequence[ForwardTrade]) -> Sent:
        return self._send(by, "recordTrades", [t.as_tuple() for t in trades])

    def cancel_order(self, by: LocalAccount, order: ForwardOrder) -> Sent:
        return self._send(by, "cancelOrder", order.as_tuple())

    def post_settlement(self, by: LocalAccount, contract_id: int, day: int, price: int) -> Sent:
        return self._send(by, "postSettlement", contract_id, day, price)

    def settle_batch(self, by: LocalAccount, contract_id: int, count: int) -> Sent:
        return self._send(by, "settleBatch", contract_id, count)

    def settle_day(self, by: LocalAccount, contract_id: int, day: int,
                   per_tx: int = 1_000) -> list[Sent]:
        """Posts `day`'s settlement price (computed here by the shared rule from the day's
        window sums) and moves variation margin for every holder, `per_tx` holders a
        transaction."""
        sent = [self.post_settlement(by, contract_id, day, self.expected_price(contract_id, day))]
        while self.market(contract_id).settling:
            sent.append(self.settle_batch(by, contract_id, per_tx))
        return sent

    def force_close(self, by: LocalAccount, contract_id: int, member: str,
                    counter: ForwardOrder, signature: bytes) -> Sent:
        return self._send(by, "forceClose", contract_id, member, counter.as_tuple(),
                          compact(signature))

    def deliver(self, by: LocalAccount, contract_id: int, batch_id: int) -> Sent:
        return self._send(by, "deliver", contract_id, batch_id)

    def pay(self, by: LocalAccount, contract_id: int) -> Sent:
        return self._send(by, "pay", contract_id)

    def settle_delivery(self, by: LocalAccount, contract_id: int, count: int) -> Sent:
        return self._send(by, "settleDelivery", contract_id, count)

    def complete_delivery(self, by: LocalAccount, contract_id: int,
                          per_tx: int = 200) -> list[Sent]:
        """Both delivery passes (defaults, then service) over every holder."""
        sent = []
        while self.market(contract_id).delivery_phase != 3:
            sent.append(self.settle_delivery(by, contract_id, per_tx))
        return sent

    # -- reads -------------------------------------------------------------------------------

    def terms(self, contract_id: int) -> Terms:
        return self.ledger.record(Terms, self.CONTRACT, "termsOf", contract_id)

    def market(self, contract_id: int) -> Market:
        return self.ledger.record(Market, self.CONTRACT, "marketOf", contract_id)

    def account(self, contract_id: int, member: str) -> AccountRecord:
        return self.ledger.record(AccountRecord, self.CONTRACT, "accountOf", contract_id, member)

    def books(self, contract_id: int) -> Books:
        return self.ledger.record(Books, self.CONTRACT, "books", contract_id)

    def delivery(self, contract_id: int) -> Delivery:
        return self.ledger.record(Delivery, self.CONTRACT, "deliveryOf", contract_id)

    def holders(self, contract_id: int) -> list[str]:
        return [str(a) for a in self._call("holders", contract_id)]

    def equity(self, contract_id: int, member: str) -> int:
        return int(self._call("equityOf", contract_id, member))

    def basis(self, contract_id: int, member: str) -> int:
        return int(self._call("basisOf", contract_id, member))

    def day_sums(self, contract_id: int, day: int) -> tuple[int, int]:
        """(Σ quantity × price, Σ quantity) of the day's trades in the window."""
        return (int(self._call("dayValue", contract_id, day)),
                int(self._call("dayQuantity", contract_id, day)))

    def expected_price(self, contract_id: int, day: int) -> int:
        """The settlement price the contract will accept for `day`, by the shared rule."""
        value, qty = self.day_sums(contract_id, day)
        return forward_math.vwap_to_tick(value, qty, self.terms(contract_id).tick,
                                         self.market(contract_id).price)

    def filled(self, order: ForwardOrder) -> int:
        return int(self._call("filled", self.order_digest(order)))

    def cash_held(self) -> int:
        """Fen of cash tokens the market holds."""
        return int(self.ledger.chain.call(
            self.ledger.c("CashToken").functions.balanceOf(self.address)))
