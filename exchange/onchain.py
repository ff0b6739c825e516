"""The exchange's side of the chain: cash deposits, instruments, trader approvals, and
settlement batches of matched trades (Settlement.settle).

A matched trade becomes a `Fill`: both signed orders, the executed price and quantity, the batch
delivered and which side was the maker (for fees; each side is charged at most the fee its order
signed). Signatures travel in EIP-2098 compact form (r, vs), so a fill is one static struct.
The settlement worker sends lists of fills; the contract settles all of them or none, and
refuses any trade id it has settled before, so a worker that lost track of a sent batch checks
`is_settled` and resends only what is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.exceptions import ContractCustomError, ContractLogicError

from chain.abi import abi_type, item_of, selector_of, topic_of
from chain.client import ChainRevert, Sent
from chain.signatures import checksum
from exchange.instruments import InstrumentClass, TicketClass
from exchange.signing import Domain, Order, compact
from registry.ledger import Ledger
from registry.tickets import Tickets


@dataclass(frozen=True)
class Fill:
    trade_id: int
    batch_id: int
    quantity: int
    price: int
    buyer_is_maker: bool
    buy: Order
    buy_signature: bytes
    sell: Order
    sell_signature: bytes

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.trade_id, self.batch_id, self.quantity, self.price, self.buyer_is_maker,
                self.buy.as_tuple(), compact(self.buy_signature), self.sell.as_tuple(),
                compact(self.sell_signature))


class SettlementChain:
    """Typed calls on CashToken and Settlement for one deployment."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.chain = ledger.chain
        self.cash = ledger.c("CashToken")
        self.settlement = ledger.c("Settlement")
        self.credits_address = str(ledger.c("CarbonCredits").address)
        self._batch_classes: list[tuple[int, int]] = []  # (project, period start) by batch
        self._project_methodology: dict[int, int] = {}  # 0: project not approved
        self._eligible_guard = threading.Lock()
        self.tickets = Tickets(ledger)
        self._ticket_slots: list[int] = []  # slot by ticket id (0: merged away when first read)
        self._slot_classes: dict[int, tuple[int, int]] = {}  # (division code, period start)
        self.domain = Domain(self.chain.chain_id, str(self.settlement.address))
        # the hot paths' ABI fragments, from the compiled contracts (never typed out by hand)
        abis = ledger.deployment.abis
        settle = item_of(abis["Settlement"], "function", "settle")
        self._fills_type = abi_type(settle["inputs"][0])
        self._settle_selector = selector_of(abis["Settlement"], "settle")
        self._balance_of = selector_of(abis["CashToken"], "balanceOf", 1)
        self._balance_of_batch = selector_of(abis["CarbonCredits"], "balanceOf", 2)
        self._settled_topic = topic_of(abis["Settlement"], "TradeSettled")
        self._cancelled_topic = topic_of(abis["Settlement"], "OrderCancelledByTrader")
        self._min_nonce_topic = topic_of(abis["Settlement"], "MinNonceRaised")
        self.account_freeze_topic = topic_of(abis["Consortium"], "AccountFreezeChanged")
        self.batch_freeze_topic = topic_of(abis["CarbonCredits"], "BatchFreezeChanged")

    # -- setup ---------------------------------------------------------------------------------

    def deposit(self, bank: LocalAccount, account: str, fen: int, ref: bytes) -> Sent:
        return self.ledger.sender.send(
            self.cash.functions.deposit(to_checksum_address(account), fen, ref), bank)

    def withdraw(self, bank: LocalAccount, account: str, fen: int, ref: bytes) -> Sent:
        return self.ledger.sender.send(
            self.cash.functions.withdraw(to_checksum_address(account), fen, ref), bank)

    def approve_trading(self, trader: LocalAccount, cash_allowance: int = 2**256 - 1,
                        only_missing: bool = True) -> list[Sent]:
        """Lets the settlement contract move the trader's credits, forest tickets and cash
        (once per trader; with `only_missing`, an approval already in place is not sent
        again)."""
        target = self.settlement.address
        sent = []
        for name in ("CarbonCredits", "ForestTickets"):
            token = self.ledger.c(name)
            if not only_missing or not self.chain.call(
                    token.functions.isApprovedForAll(trader.address, target)):
                sent.append(self.ledger.sender.send(
                    token.functions.setApprovalForAll(target, True), trader))
        if not only_missing or int(self.chain.call(
                self.cash.functions.allowance(trader.address, target))) < cash_allowance:
            sent.append(self.ledger.sender.send(
                self.cash.functions.approve(target, cash_allowance), trader))
        return sent

    def list_instrument(self, exchange: LocalAccount, instrument: int, batch_id: int = 0,
                        methodology_id: int = 0, vintage_from: int = 0, vintage_to: int = 0,
                        lot: int = 1_000_000, tick: int = 1) -> Sent:
        """Lists an instrument on chain for good (an id is never listed twice)."""
        return self.ledger.sender.send(self.settlement.functions.listInstrument(
            instrument, batch_id, methodology_id, vintage_from, vintage_to, lot, tick), exchange)

    def list_ticket_instrument(self, exchange: LocalAccount, instrument: int,
                               ticket_class: TicketClass, lot: int = 1_000_000,
                               tick: int = 1) -> Sent:
        """Lists a forest-ticket class instrument on chain for good (region and vintage)."""
        c = ticket_class
        return self.ledger.sender.send(self.settlement.functions.listTicketInstrument(
            instrument, c.division_prefix, c.prefix_digits, c.vintage_from, c.vintage_to, lot,
            tick), exchange)

    def set_fees(self, exchange: LocalAccount, fee_account: str, maker_bps: int,
                 taker_bps: int) -> Sent:
        return self.ledger.sender.send(self.settlement.functions.setFees(
            to_checksum_address(fee_account), maker_bps, taker_bps), exchange)

    # -- settlement ------------------------------------------------------------------------------

    def settle_function(self, fills: Sequence[Fill]) -> Any:
        return self.settlement.functions.settle([f.as_tuple() for f in fills])

    def settle(self, exchange: LocalAccount, fills: Sequence[Fill]) -> Sent:
        return self.chain.send(self.settle_function(fills), exchange)

    def settle_calldata(self, fills: Sequence[Fill]) -> bytes:
        """`settle(fills)` calldata, encoded directly with eth-abi (web3's encoder validates
        every nested field again and is several times slower for large batches)."""
        return self._settle_selector + encode([self._fills_type],
                                              [[f.as_tuple() for f in fills]])

    def estimate_settle(self, exchange: str, fills: Sequence[Fill]) -> int:
        """Gas for a batch; a batch that would revert raises ChainRevert (decoded)."""
        tx: Any = {"from": exchange, "to": self.settlement.address,
                   "data": "0x" + self.settle_calldata(fills).hex()}
        try:
            return int(self.chain.w3.eth.estimate_gas(tx))
        except (ContractCustomError, ContractLogicError) as exc:
            raise self.chain.revert_from(exc) from None

    def send_settle(self, exchange: LocalAccount, fills: Sequence[Fill], gas: int,
                    gas_price: int | None = None) -> str:
        """Sends a batch without waiting (the worker confirms receipts itself)."""
        tx = {"from": exchange.address, "to": self.settlement.address,
              "data": self.settle_calldata(fills), "gas": gas,
              "gasPrice": gas_price if gas_price is not None else self.chain.w3.eth.gas_price,
              "chainId": self.chain.chain_id, "value": 0}
        return self.chain.send_raw(tx, exchange, "settle")

    # -- reads -----------------------------------------------------------------------------------

    def settlement_txs(self, trade_ids: list[int]) -> dict[int, str]:
        """The transaction that settled each of these trades (TradeSettled, indexed by id)."""
        params = {"fromBlock": hex(self.ledger.deployment.block), "toBlock": "latest",
                  "address": self.settlement.address,
                  "topics": [self._settled_topic, ["0x" + t.to_bytes(32, "big").hex()
                                             for t in trade_ids]]}
        return {int(lg["topics"][1], 16): lg["transactionHash"]
                for lg in self.chain.rpc("eth_getLogs", params)}

    def is_settled(self, trade_id: int) -> bool:
        return bool(self.chain.call(self.settlement.functions.settled(trade_id)))

    def filled(self, order_digest: bytes) -> int:
        """Settled quantity of an order filled in parts (0 for one settled in full at once)."""
        return int(self.chain.call(self.settlement.functions.filled(order_digest)))

    def nonce_used(self, trader: str, nonce: int) -> bool:
        return bool(self.chain.call(self.settlement.functions.nonceUsed(
            to_checksum_address(trader), nonce)))

    def fees(self) -> tuple[int, int]:
        """(maker, taker) fee in basis points, as the contract charges before each order's cap."""
        fns = self.settlement.functions
        return (int(self.chain.call(fns.makerFeeBps())), int(self.chain.call(fns.takerFeeBps())))

    def cash_balance(self, account: str) -> int:
        return self.chain.call_words(self.cash.address, self._balance_of, account)

    def credit_balance(self, account: str, batch_id: int) -> int:
        return self.chain.call_words(self.credits_address, self._balance_of_batch, account,
                                     batch_id)

    def ticket_balance(self, account: str, ticket_id: int) -> int:
        """A ticket's value if `account` owns it, else 0 (another's, merged away, unknown, or
        pledged: then the pledge register owns it)."""
        try:
            t = self.tickets.ticket(ticket_id)
        except ChainRevert:
            return 0
        return t.value if t.owner.lower() == account.lower() else 0

    def tickets_approved(self, account: str) -> bool:
        """Whether the settlement contract may move the account's forest tickets."""
        fn = self.ledger.c("ForestTickets").functions.isApprovedForAll(
            to_checksum_address(account), self.settlement.address)
        return bool(self.chain.call(fn))

    def trading_approved(self, account: str) -> bool:
        """Whether the settlement contract may move the account's credits and cash."""
        a = to_checksum_address(account)
        credits = self.ledger.c("CarbonCredits")
        target = self.settlement.address
        return bool(self.chain.call(credits.functions.isApprovedForAll(a, target))) and int(
            self.chain.call(self.cash.functions.allowance(a, target))) > 0

    def eligible_batches(self, credit_class: InstrumentClass) -> list[int]:
        """Batches a class instrument may deliver, by the contract's own rule (approved
        project of the class's methodology, monitoring period starting in the vintage window);
        for a ticket class, the tickets (`eligible_tickets`).

        A batch's project and period never change and a project's methodology is fixed at
        registration, so each batch is read once; only batches issued since the last call
        cost node calls."""
        if isinstance(credit_class, TicketClass):
            return self.eligible_tickets(credit_class)
        with self._eligible_guard:
            count = int(self.chain.call(self.ledger.c("CarbonCredits").functions.batchCount()))
            for batch_id in range(len(self._batch_classes) + 1, count + 1):
                b = self.ledger.batch(batch_id)
                self._batch_classes.append((b.project_id, b.period_start))
            for project, _ in self._batch_classes:
                if not self._project_methodology.get(project):  # unknown, or not approved yet
                    self._project_methodology[project] = self._approved_methodology(project)
            return [i + 1 for i, (project, start) in enumerate(self._batch_classes)
                    if credit_class.admits(self._project_methodology[project], start)]

    def eligible_tickets(self, ticket_class: TicketClass) -> list[int]:
        """Live tickets a ticket class may deliver (slot's region and period start), whoever
        holds them: what a seller may offer is then its own (`ticket_balance`). A ticket's slot
        and a slot's parcel and period never change, so each is read once; a ticket merged
        away since stays listed here and holds nothing."""
        with self._eligible_guard:
            for ticket_id in range(len(self._ticket_slots) + 1, self.tickets.token_count() + 1):
                try:
                    self._ticket_slots.append(self.tickets.ticket(ticket_id).slot)
                except ChainRevert:  # merged away before it was first read
                    self._ticket_slots.append(0)
            for slot in set(self._ticket_slots) - set(self._slot_classes) - {0}:
                info = self.tickets.slot(slot)
                self._slot_classes[slot] = (info.division_code, info.period_start)
            return [i + 1 for i, slot in enumerate(self._ticket_slots)
                    if slot and ticket_class.admits(*self._slot_classes[slot])]

    def _approved_methodology(self, project: int) -> int:
        """The project's methodology once it is approved; 0 before."""
        fn = self.ledger.c("ProjectRegistry").functions.approvedProject(project)
        try:
            return int(self.chain.call(fn)[1])
        except ChainRevert:
            return 0

    def voided_orders(self, start: int) -> tuple[list[bytes], dict[str, int], int]:
        """Orders traders voided on chain since block `start`: (hashes cancelled one by one,
        the highest minimum nonce per trader, the last block read)."""
        end = int(self.chain.w3.eth.block_number)
        if end < start:
            return [], {}, start - 1
        params = {"fromBlock": hex(start), "toBlock": hex(end),
                  "address": self.settlement.address,
                  "topics": [[self._cancelled_topic, self._min_nonce_topic]]}
        hashes: list[bytes] = []
        floors: dict[str, int] = {}
        for lg in self.chain.rpc("eth_getLogs", params):
            topics = [bytes.fromhex(t[2:]) for t in lg["topics"]]
            if "0x" + topics[0].hex() == self._cancelled_topic:
                hashes.append(topics[1])
            else:
                trader = checksum(topics[1][12:])
                floors[trader] = max(floors.get(trader, 0), int(lg["data"], 16))
        return hashes, floors, end

    def order_hash_onchain(self, order: Order) -> bytes:
        return bytes(self.chain.call(self.settlement.functions.hashOrder(order.as_tuple())))
