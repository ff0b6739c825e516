"""Reads straight from the registry contracts, for pre-checks and certificates.

Pre-checks must never be stale (a balance read from a lagging index would let a doomed
transfer through or refuse a good one), so they ask the chain, not the SQL index. Unknown ids
come back as None instead of a revert.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from eth_utils import to_checksum_address

from chain.abi import DecodedEvent, EventDecoder
from chain.client import ChainRevert
from chain.structs import BatchView, Methodology, Project, Report
from registry.ledger import Ledger, RetirementRecord, UnknownRetirement

T = TypeVar("T")

def _or_none(read: Callable[..., T], *args: Any) -> T | None:
    """The read's answer, or None where the contract says the object does not exist (its
    `Unknown…` custom error); any other revert propagates."""
    try:
        return read(*args)
    except ChainRevert as exc:
        if exc.name.startswith("Unknown"):
            return None
        raise


class ChainView:
    """Typed reads of the deployed contracts; events decoded leniently (any on-chain string)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.chain = ledger.chain
        self.events = EventDecoder(ledger.deployment.abis.values(), lenient_strings=True)

    def _call(self, contract: str, fn: str, *args: Any) -> Any:
        return self.chain.call(getattr(self.ledger.c(contract).functions, fn)(*args))

    # -- objects (None when unknown) ------------------------------------------------------

    def methodology(self, methodology_id: int) -> Methodology | None:
        return _or_none(self.ledger.methodology, methodology_id)

    def methodology_of_code(self, code: str) -> int:
        return int(self._call("MethodologyRegistry", "idOfCode", code))

    def project(self, project_id: int) -> Project | None:
        return _or_none(self.ledger.project, project_id)

    def report(self, report_id: int) -> Report | None:
        return _or_none(self.ledger.report, report_id)

    def batch(self, batch_id: int) -> BatchView | None:
        return _or_none(self.ledger.batch, batch_id)

    def retirement(self, retirement_id: int) -> RetirementRecord | None:
        """The full record from the `Retired` event, with `matches`: whether it hashes to what
        the chain stores for the id."""
        try:
            return self.ledger.retirement(retirement_id)
        except UnknownRetirement:
            return None

    def batch_of_report(self, report_id: int) -> int:
        return int(self._call("CarbonCredits", "batchOfReport", report_id))

    # -- accounts -------------------------------------------------------------------------

    def is_member(self, address: str) -> bool:
        return self.ledger.is_member(address)

    def is_frozen(self, address: str) -> bool:
        return bool(self._call("Consortium", "isFrozen", address))

    def has_role(self, role: str, address: str) -> bool:
        """May act in `role` now (member, unfrozen, holding it)."""
        return self.ledger.has_role(role, address)

    def holds_role(self, role: str, address: str) -> bool:
        """Holds `role` on record, frozen or not."""
        return self.ledger.holds_role(role, address)

    def cash_balance(self, address: str) -> int:
        """Exchange cash (CashToken) in fen."""
        return int(self._call("CashToken", "balanceOf", address))

    def balance(self, address: str, batch_id: int) -> int:
        return self.ledger.balance(address, batch_id)

    def buffer_balance(self, batch_id: int) -> int:
        return self.ledger.buffer_balance(batch_id)

    # -- blocks and logs ------------------------------------------------------------------

    def latest_timestamp(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def block_timestamp(self, block_number: int) -> int:
        return int(self.chain.w3.eth.get_block(block_number)["timestamp"])

    def logs_by_id(self, contract: str, event: str, ident: int) -> list[DecodedEvent]:
        """Logs of `event` whose first indexed argument is `ident`, since the deployment."""
        logs = self.chain.w3.eth.get_logs(
            {
                "address": to_checksum_address(self.ledger.deployment.address(contract)),
                "fromBlock": self.ledger.deployment.block,
                "toBlock": "latest",
                "topics": [self.events.topic(event), "0x" + ident.to_bytes(32, "big").hex()],
            }
        )
        out = []
        for log in logs:
            ev = self.events.decode(dict(log))
            if ev is not None and ev.name == event:
                out.append(ev)
        return out

    def member_name(self, account: str, at_block: int | None = None) -> str | None:
        """The name `account` was admitted under (`MemberAdmitted`, the roster on chain): its
        latest admission at or before `at_block` (a name as it stood then), else its latest;
        None for an account never admitted."""
        logs = self.chain.w3.eth.get_logs(
            {
                "address": to_checksum_address(self.ledger.deployment.address("Consortium")),
                "fromBlock": self.ledger.deployment.block,
                "toBlock": "latest",
                "topics": [self.events.topic("MemberAdmitted"),
                           "0x" + bytes.fromhex(account[2:]).rjust(32, b"\0").hex()],
            }
        )
        names = [(int(log["blockNumber"]), ev.args["name"]) for log in logs
                 if (ev := self.events.decode(dict(log))) is not None]
        if at_block is not None and any(b <= at_block for b, _ in names):
            names = [(b, n) for b, n in names if b <= at_block]
        return str(names[-1][1]) if names else None

    def receipt_events(self, tx_hash: str) -> tuple[dict[str, Any], list[DecodedEvent]]:
        """A transaction's receipt and its logs decoded (only logs of known events)."""
        receipt: dict[str, Any] = dict(
            self.chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        )
        events = []
        for log in receipt["logs"]:
            ev = self.events.decode(dict(log))
            if ev is not None:
                events.append(ev)
        return receipt, events
