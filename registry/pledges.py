"""Typed operations on the pledge register (质押, Flow 10): PledgeRegister.

A holder pledges value of a forest ticket, or an amount of a credit batch, to a bank for a loan
(reference hash, amount in fen, maturity); the register holds the pledged value in escrow, so
it cannot move, be retired or be pledged twice. The bank releases it on repayment (back to the
pledgor) or forecloses a matured pledge (to the bank). Every lien is public: by asset, by bank,
by pledgor. Like `registry.ledger.Ledger`, each write is one transaction sent through the
ledger's sender; reverts surface as `chain.client.ChainRevert` with the contract's custom error
(e.g. `NotPledgeBank`, `NotMatured`, `InsufficientHolding`, `NotTicketOwner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_account.signers.local import LocalAccount

from chain.client import Sent
from chain.structs import Pledge as PledgeRecord
from registry.ledger import Ledger


class AssetKind(IntEnum):
    """What is pledged: ticket value (asset id = the ticket's slot) or credits (the batch)."""

    TICKET = 0
    CREDIT = 1


class PledgeStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    RELEASED = 2
    FORECLOSED = 3


@dataclass(frozen=True)
class Pledge:
    """A pledge as the chain holds it, in Python's types. `token_id` is the ticket the register
    holds in escrow (0 for credits)."""

    pledge_id: int
    pledgor: str
    bank: str
    kind: AssetKind
    status: PledgeStatus
    asset_id: int
    token_id: int
    value: int
    loan_reference: bytes
    amount_fen: int
    maturity: int

    @classmethod
    def of(cls, pledge_id: int, r: PledgeRecord) -> Pledge:
        return cls(pledge_id, r.pledgor, r.bank, AssetKind(r.kind), PledgeStatus(r.status),
                   r.asset_id, r.token_id, r.value, r.loan_reference, r.amount_fen, r.maturity)


@dataclass(frozen=True)
class MadePledge:
    pledge_id: int
    token_id: int  # the escrowed ticket (0 for credits)
    sent: Sent


class Pledges:
    """The pledge register on one deployment, sent through `ledger`'s plumbing."""

    CONTRACT = "PledgeRegister"

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @property
    def address(self) -> str:
        return str(self.ledger.c(self.CONTRACT).address)

    def _send(self, by: LocalAccount, fn: str, *args: object) -> Sent:
        return self.ledger._send(by, self.CONTRACT, fn, *args)

    def _made(self, sent: Sent) -> MadePledge:
        ev = self.ledger.events_of(sent, "Pledged")[0].args
        return MadePledge(int(ev["pledgeId"]), int(ev["tokenId"]), sent)

    # -- approvals ---------------------------------------------------------------------------

    def approve_tickets(self, by: LocalAccount, approved: bool = True) -> Sent:
        """Lets (or stops) the register move `by`'s tickets into escrow when `by` pledges."""
        fn = self.ledger.c("ForestTickets").get_function_by_signature(
            "setApprovalForAll(address,bool)")(self.address, approved)
        return self.ledger.sender.send(fn, by)

    def approve_credits(self, by: LocalAccount, approved: bool = True) -> Sent:
        """Lets (or stops) the register move `by`'s credits into escrow when `by` pledges."""
        return self.ledger._send(by, "CarbonCredits", "setApprovalForAll", self.address, approved)

    # -- writes ------------------------------------------------------------------------------

    def pledge_ticket(self, by: LocalAccount, token_id: int, value: int, bank: str,
                      loan_reference: bytes, amount_fen: int, maturity: int) -> MadePledge:
        sent = self._send(by, "pledgeTicket", token_id, value, bank, loan_reference, amount_fen,
                          maturity)
        return self._made(sent)

    def pledge_credits(self, by: LocalAccount, batch_id: int, amount: int, bank: str,
                       loan_reference: bytes, amount_fen: int, maturity: int) -> MadePledge:
        sent = self._send(by, "pledgeCredits", batch_id, amount, bank, loan_reference,
                          amount_fen, maturity)
        return self._made(sent)

    def release(self, by: LocalAccount, pledge_id: int) -> Sent:
        """The pledge's bank releases it on repayment (value back to the pledgor)."""
        return self._send(by, "release", pledge_id)

    def foreclose(self, by: LocalAccount, pledge_id: int) -> Sent:
        """The pledge's bank takes a matured pledge on default."""
        return self._send(by, "foreclose", pledge_id)

    # -- reads -------------------------------------------------------------------------------

    def pledge(self, pledge_id: int) -> Pledge:
        return Pledge.of(pledge_id,
                         self.ledger.record(PledgeRecord, self.CONTRACT, "getPledge", pledge_id))

    def pledged_of(self, kind: AssetKind, asset_id: int) -> int:
        """Value under active pledge of a ticket slot or a credit batch."""
        fn = self.ledger.c(self.CONTRACT).functions.pledgedOf(int(kind), asset_id)
        return int(self.ledger.chain.call(fn))

    def _ids(self, fn: str, *args: object) -> list[int]:
        bound = getattr(self.ledger.c(self.CONTRACT).functions, fn)(*args)
        return [int(i) for i in self.ledger.chain.call(bound)]

    def of_asset(self, kind: AssetKind, asset_id: int) -> list[Pledge]:
        return [self.pledge(i) for i in self._ids("pledgesOfAsset", int(kind), asset_id)]

    def of_bank(self, bank: str) -> list[Pledge]:
        return [self.pledge(i) for i in self._ids("pledgesOfBank", bank)]

    def of_pledgor(self, pledgor: str) -> list[Pledge]:
        return [self.pledge(i) for i in self._ids("pledgesOfPledgor", pledgor)]

    def count(self) -> int:
        return int(self.ledger.chain.call(self.ledger.c(self.CONTRACT).functions.pledgeCount()))
