"""Typed operations on the registry of record (the contracts), used by the API and the CLI.

Each method sends one transaction as the given account and returns what the transaction
created, read from its own events; reverts surface as `chain.client.ChainRevert`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract import Contract

from chain.abi import DecodedEvent, EventDecoder
from chain.client import Chain, Sender, Sent
from chain.deploy import CONTRACTS, Deployment
from chain.records import Records
from chain.roles import role_id
from chain.structs import (
    BatchView,
    Disturbance,
    Location,
    Methodology,
    Project,
    Report,
    Retirement,
)
from registry.categories import SinkCategory

ZERO32 = bytes(32)
R = TypeVar("R")


class Purpose(IntEnum):
    VOLUNTARY = 0
    COMPLIANCE = 1
    ECOLOGICAL_COMPENSATION = 2
    CARBON_INCLUSIVE = 3


class MethodologyStatus(IntEnum):
    NONE = 0
    REGISTERED = 1
    APPROVED = 2
    REJECTED = 3
    DEPRECATED = 4


class ProjectStatus(IntEnum):
    NONE = 0
    REGISTERED = 1
    VALIDATED = 2
    APPROVED = 3
    REJECTED = 4


class DisturbanceKind(IntEnum):
    FIRE = 0
    PEST = 1
    TYPHOON = 2
    RED_TIDE = 3


class DisturbanceStatus(IntEnum):
    NONE = 0
    PENDING = 1
    ATTESTED = 2
    CONFIRMED = 3
    REJECTED = 4


class ReportStatus(IntEnum):
    NONE = 0
    PENDING = 1
    ATTESTED = 2
    VERIFIED = 3
    REJECTED = 4


@dataclass(frozen=True)
class Created:
    """An id created by a transaction, with the transaction."""

    id: int
    sent: Sent


class UnknownRetirement(LookupError):
    """The chain records no retirement with this id."""


def retirement_record_hash(holder: str, batch_id: int, amount: int, serial_start: int,
                           purpose: int, beneficiary: bytes, case_reference: bytes) -> bytes:
    """What CarbonCredits stores for a retirement (`hashRetirement`): keccak256 of the ABI
    encoding of the record with both strings hashed. Strings as raw bytes, so a record whose
    text is not valid UTF-8 is still proven exactly."""
    return keccak(abi_encode(
        ["address", "uint256", "uint256", "uint256", "uint8", "bytes32", "bytes32"],
        [holder, batch_id, amount, serial_start, purpose, keccak(beneficiary),
         keccak(case_reference)],
    ))


@dataclass(frozen=True)
class RetirementRecord:
    """A retirement as its `Retired` event records it, with the hash the chain stores for it:
    `matches` is True when the event's record hashes to `record_hash`, i.e. every field is as
    the chain recorded it."""

    retirement: Retirement
    record_hash: bytes
    matches: bool
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class RetirementResult:
    retirement_id: int
    batch_id: int
    amount: int
    serial_start: int
    serial_end: int
    sent: Sent


class Ledger:
    """All state-changing contract operations, one method each.

    Writes go through `sender`: the chain itself by default (the caller's key signs and pays
    gas), or a relayer that forwards the caller's signed request (`via`), so the same typed
    operations serve members who hold gas and custodial members who do not."""

    def __init__(self, chain: Chain, deployment: Deployment, sender: Sender | None = None) -> None:
        self.chain = chain
        self.deployment = deployment
        self.sender: Sender = sender if sender is not None else chain
        self.contracts: dict[str, Contract] = {n: deployment.contract(chain, n) for n in CONTRACTS}
        self.events = EventDecoder(deployment.abis.values())
        self.records = Records(deployment.abis)

    def via(self, sender: Sender) -> Ledger:
        """The same operations on the same deployment, sent by `sender`."""
        other = copy.copy(self)
        other.sender = sender
        return other

    # -- plumbing -------------------------------------------------------------------------

    def c(self, name: str) -> Contract:
        return self.contracts[name]

    def read(self, contract: str, function: str, *args: Any) -> Any:
        """A view function's answer, structs as their typed records (`chain.structs`)."""
        fn = getattr(self.c(contract).functions, function)(*args)
        return self.records.decode(contract, function, self.chain.call(fn))

    def record(self, cls: type[R], contract: str, function: str, *args: Any) -> R:
        """A view function's one struct, as its record class `cls`."""
        fn = getattr(self.c(contract).functions, function)(*args)
        return self.records.decode_as(cls, contract, function, self.chain.call(fn))

    def _send(self, by: LocalAccount, contract: str, fn: str, *args: Any) -> Sent:
        return self.sender.send(getattr(self.c(contract).functions, fn)(*args), by)

    def events_of(self, sent: Sent, name: str) -> list[DecodedEvent]:
        out = []
        for log in sent.receipt["logs"]:
            ev = self.events.decode(dict(log))
            if ev is not None and ev.name == name:
                out.append(ev)
        return out

    def _created(self, sent: Sent, event: str, key: str) -> Created:
        return Created(int(self.events_of(sent, event)[0].args[key]), sent)

    # -- consortium -----------------------------------------------------------------------

    def admit(
        self, by: LocalAccount, account: str, name: str, profile_hash: bytes = ZERO32
    ) -> Sent:
        return self._send(by, "Consortium", "admit", account, name, profile_hash)

    def remove_member(self, by: LocalAccount, account: str) -> Sent:
        return self._send(by, "Consortium", "remove", account)

    def grant_role(self, by: LocalAccount, role: str, account: str) -> Sent:
        return self._send(by, "Consortium", "grantRole", role_id(role), account)

    def revoke_role(self, by: LocalAccount, role: str, account: str) -> Sent:
        return self._send(by, "Consortium", "revokeRole", role_id(role), account)

    def freeze_account(self, by: LocalAccount, account: str, reason_hash: bytes = ZERO32) -> Sent:
        return self._send(by, "Consortium", "freeze", account, reason_hash)

    def unfreeze_account(self, by: LocalAccount, account: str, reason_hash: bytes = ZERO32) -> Sent:
        return self._send(by, "Consortium", "unfreeze", account, reason_hash)

    def is_member(self, account: str) -> bool:
        return bool(self.chain.call(self.c("Consortium").functions.isMember(account)))

    def has_role(self, role: str, account: str) -> bool:
        """Whether `account` may act in `role` now (an active, unfrozen member holding it)."""
        fn = self.c("Consortium").functions.isAuthorized(role_id(role), account)
        return bool(self.chain.call(fn))

    def holds_role(self, role: str, account: str) -> bool:
        """Whether `account` holds `role` on record (frozen or not)."""
        fn = self.c("Consortium").functions.hasRole(role_id(role), account)
        return bool(self.chain.call(fn))

    def is_frozen(self, account: str) -> bool:
        return bool(self.chain.call(self.c("Consortium").functions.isFrozen(account)))

    def role_holder_count(self, role: str) -> int:
        fn = self.c("Consortium").functions.roleHolderCount(role_id(role))
        return int(self.chain.call(fn))

    def governance(self) -> str:
        """The current governance (default admin) account."""
        return str(self.chain.call(self.c("Consortium").functions.defaultAdmin()))

    def pending_governance(self) -> tuple[str, int]:
        """The designated successor and when it may accept (zero address and 0 if none)."""
        who, at = self.chain.call(self.c("Consortium").functions.pendingDefaultAdmin())
        return str(who), int(at)

    def begin_governance_transfer(self, by: LocalAccount, successor: str) -> Sent:
        """Governance designates its successor; it may accept after the governance delay."""
        return self._send(by, "Consortium", "beginDefaultAdminTransfer", successor)

    def cancel_governance_transfer(self, by: LocalAccount) -> Sent:
        return self._send(by, "Consortium", "cancelDefaultAdminTransfer")

    def accept_governance_transfer(self, by: LocalAccount) -> Sent:
        """The designated successor takes over governance (once the delay has passed)."""
        return self._send(by, "Consortium", "acceptDefaultAdminTransfer")

    # -- methodologies --------------------------------------------------------------------

    def methodology(self, methodology_id: int) -> Methodology:
        return self.record(Methodology, "MethodologyRegistry", "getMethodology", methodology_id)

    def register_methodology(
        self,
        by: LocalAccount,
        code: str,
        name: str,
        document_hash: bytes,
        parameters_hash: bytes,
        buffer_bps: int,
        category: SinkCategory,
    ) -> Created:
        sent = self._send(
            by,
            "MethodologyRegistry",
            "register",
            code,
            name,
            document_hash,
            parameters_hash,
            buffer_bps,
            int(category),
        )
        return self._created(sent, "MethodologyRegistered", "methodologyId")

    def sink_category_of(self, methodology_id: int) -> SinkCategory:
        fn = self.c("MethodologyRegistry").functions.sinkCategoryOf(methodology_id)
        return SinkCategory(int(self.chain.call(fn)))

    def approve_methodology(self, by: LocalAccount, methodology_id: int) -> Sent:
        return self._send(by, "MethodologyRegistry", "approve", methodology_id)

    def reject_methodology(
        self, by: LocalAccount, methodology_id: int, reason_hash: bytes = ZERO32
    ) -> Sent:
        return self._send(by, "MethodologyRegistry", "reject", methodology_id, reason_hash)

    def deprecate_methodology(
        self, by: LocalAccount, methodology_id: int, reason_hash: bytes = ZERO32
    ) -> Sent:
        return self._send(by, "MethodologyRegistry", "deprecate", methodology_id, reason_hash)

    # -- projects -------------------------------------------------------------------------

    def project(self, project_id: int) -> Project:
        return self.record(Project, "ProjectRegistry", "getProject", project_id)

    def register_project(
        self,
        by: LocalAccount,
        name: str,
        methodology_id: int,
        location: Location,
        crediting_start: int,
        crediting_end: int,
        document_hash: bytes = ZERO32,
    ) -> Created:
        sent = self._send(
            by,
            "ProjectRegistry",
            "register",
            name,
            methodology_id,
            location.to_abi(),
            crediting_start,
            crediting_end,
            document_hash,
        )
        return self._created(sent, "ProjectRegistered", "projectId")

    def validate_project(self, by: LocalAccount, project_id: int, report_hash: bytes) -> Sent:
        return self._send(by, "ProjectRegistry", "validate", project_id, report_hash)

    def approve_project(
        self, by: LocalAccount, project_id: int, decision_hash: bytes = ZERO32
    ) -> Sent:
        return self._send(by, "ProjectRegistry", "approve", project_id, decision_hash)

    def reject_project(
        self, by: LocalAccount, project_id: int, reason_hash: bytes = ZERO32
    ) -> Sent:
        return self._send(by, "ProjectRegistry", "reject", project_id, reason_hash)

    def declare_parcels(self, by: LocalAccount, project_id: int,
                        rights_certificates: list[str]) -> Sent:
        """The developer declares the forest-right certificates (林权证号) its registered
        project's boundary takes in; `ParcelInOtherProject` if one is another project's over an
        overlapping crediting period."""
        return self._send(by, "ProjectRegistry", "declareParcels", project_id,
                          list(rights_certificates))

    def projects_of_parcel(self, rights_certificate: str) -> list[int]:
        """Every project a forest-right certificate was bound to (declared or ticketed)."""
        fn = self.c("ProjectRegistry").functions.projectsOfParcel(rights_certificate)
        return [int(i) for i in self.chain.call(fn)]

    # -- monitoring reports ---------------------------------------------------------------

    def attest(
        self,
        by: LocalAccount,
        project_id: int,
        period_start: int,
        period_end: int,
        merkle_root: bytes,
        quantity: int,
        report_hash: bytes,
    ) -> Created:
        sent = self._send(
            by,
            "MonitoringReports",
            "attest",
            project_id,
            period_start,
            period_end,
            merkle_root,
            quantity,
            report_hash,
        )
        return self._created(sent, "AttestationSubmitted", "reportId")

    def verify_report(
        self, by: LocalAccount, report_id: int, verified_quantity: int, verification_hash: bytes
    ) -> Sent:
        return self._send(
            by, "MonitoringReports", "verify", report_id, verified_quantity, verification_hash
        )

    def reject_report(self, by: LocalAccount, report_id: int, reason_hash: bytes = ZERO32) -> Sent:
        return self._send(by, "MonitoringReports", "reject", report_id, reason_hash)

    def set_threshold(self, by: LocalAccount, threshold: int) -> Sent:
        return self._send(by, "MonitoringReports", "setThreshold", threshold)

    def report_of(self, project_id: int, period_start: int, period_end: int) -> int:
        """The open (pending/attested/verified) report of a project's period, 0 if none."""
        fn = self.c("MonitoringReports").functions.reportOf(project_id, period_start, period_end)
        return int(self.chain.call(fn))

    def submission_of(self, report_id: int, node: str) -> bytes:
        fn = self.c("MonitoringReports").functions.submissionOf(report_id, node)
        return bytes(self.chain.call(fn))

    def verify_record(self, report_id: int, record: bytes, proof: list[bytes]) -> bool:
        """Whether the chain accepts `record` as committed to by the report's attested root."""
        fn = self.c("MonitoringReports").functions.verifyRecord(report_id, record, proof)
        return bool(self.chain.call(fn))

    # -- disturbances (reversals) ---------------------------------------------------------

    def attest_disturbance(
        self,
        by: LocalAccount,
        project_id: int,
        kind: int,
        occurred_at: int,
        loss: int,
        evidence_hash: bytes,
    ) -> Created:
        sent = self._send(
            by, "DisturbanceReports", "attest", project_id, int(kind), occurred_at, loss,
            evidence_hash,
        )
        return self._created(sent, "DisturbanceAttestationSubmitted", "disturbanceId")

    def confirm_disturbance(
        self, by: LocalAccount, disturbance_id: int, confirmed_loss: int, statement_hash: bytes
    ) -> Sent:
        return self._send(
            by, "DisturbanceReports", "confirm", disturbance_id, confirmed_loss, statement_hash
        )

    def reject_disturbance(self, by: LocalAccount, disturbance_id: int, reason_hash: bytes) -> Sent:
        return self._send(by, "DisturbanceReports", "reject", disturbance_id, reason_hash)

    def disturbance_of(self, project_id: int, kind: int, occurred_at: int) -> int:
        fn = self.c("DisturbanceReports").functions.disturbanceOf(
            project_id, int(kind), occurred_at
        )
        return int(self.chain.call(fn))

    def disturbance_submission_of(self, disturbance_id: int, node: str) -> bytes:
        fn = self.c("DisturbanceReports").functions.submissionOf(disturbance_id, node)
        return bytes(self.chain.call(fn))

    def disturbance(self, disturbance_id: int) -> Disturbance:
        return self.record(Disturbance, "DisturbanceReports", "getDisturbance", disturbance_id)

    # -- credits --------------------------------------------------------------------------

    def issue(self, by: LocalAccount, report_id: int) -> Created:
        sent = self._send(by, "CarbonCredits", "issue", report_id)
        return self._created(sent, "BatchIssued", "batchId")

    def transfer(self, by: LocalAccount, to: str, batch_id: int, amount: int) -> Sent:
        return self._send(
            by, "CarbonCredits", "safeTransferFrom", by.address, to, batch_id, amount, b""
        )

    def retire(
        self,
        by: LocalAccount,
        batch_id: int,
        amount: int,
        beneficiary: str,
        purpose: int = Purpose.VOLUNTARY,
        case_reference: str = "",
    ) -> RetirementResult:
        sent = self._send(
            by,
            "CarbonCredits",
            "retire",
            batch_id,
            amount,
            beneficiary,
            int(purpose),
            case_reference,
        )
        return self.retirement_of(sent, batch_id, amount)

    def retirement_of(self, sent: Sent, batch_id: int, amount: int) -> RetirementResult:
        """The retirement a mined `retire` made (id and serial range, from its event)."""
        ev = self.events_of(sent, "Retired")[0].args
        start = int(ev["serialStart"])
        return RetirementResult(
            int(ev["retirementId"]), batch_id, amount, start, start + amount - 1, sent
        )

    def cancel_buffer_for_disturbance(
        self, by: LocalAccount, disturbance_id: int, batch_id: int, amount: int
    ) -> Created:
        sent = self._send(
            by, "CarbonCredits", "cancelBufferForDisturbance", disturbance_id, batch_id, amount
        )
        return self._created(sent, "BufferCancelled", "cancellationId")

    def freeze_batch(self, by: LocalAccount, batch_id: int, reason_hash: bytes = ZERO32) -> Sent:
        return self._send(by, "CarbonCredits", "freezeBatch", batch_id, reason_hash)

    def unfreeze_batch(self, by: LocalAccount, batch_id: int, reason_hash: bytes = ZERO32) -> Sent:
        return self._send(by, "CarbonCredits", "unfreezeBatch", batch_id, reason_hash)

    # -- reads ----------------------------------------------------------------------------

    def balance(self, account: str, batch_id: int) -> int:
        return int(self.chain.call(self.c("CarbonCredits").functions.balanceOf(account, batch_id)))

    def buffer_balance(self, batch_id: int) -> int:
        return int(self.chain.call(self.c("CarbonCredits").functions.bufferBalance(batch_id)))

    def batch(self, batch_id: int) -> BatchView:
        return self.record(BatchView, "CarbonCredits", "getBatch", batch_id)

    def retirement(self, retirement_id: int) -> RetirementRecord:
        """A retirement's full record, from its `Retired` event, checked against the hash the
        chain stores for it. Raises UnknownRetirement for an id the chain does not know."""
        credits = self.c("CarbonCredits")
        stored = bytes(self.chain.call(credits.functions.retirementHash(retirement_id)))
        if stored == ZERO32:
            raise UnknownRetirement(retirement_id)
        logs = self.chain.w3.eth.get_logs({
            "address": credits.address,
            "fromBlock": self.deployment.block,
            "toBlock": "latest",
            "topics": [self.events.topic("Retired"),
                       "0x" + retirement_id.to_bytes(32, "big").hex()],
        })
        if len(logs) != 1:
            raise UnknownRetirement(retirement_id)
        log = logs[0]
        batch_id = int.from_bytes(bytes(log["topics"][2]), "big")
        holder = to_checksum_address(bytes(log["topics"][3])[12:])
        # `string` and `bytes` share one ABI encoding: decoding as bytes keeps the exact text
        amount, serial_start, purpose, beneficiary, case = abi_decode(
            ["uint256", "uint256", "uint8", "bytes", "bytes"], bytes(log["data"]))
        digest = retirement_record_hash(holder, batch_id, amount, serial_start, purpose,
                                        beneficiary, case)
        tx_hash = log["transactionHash"]
        return RetirementRecord(
            retirement=Retirement(
                holder=holder, batch_id=batch_id, amount=amount, serial_start=serial_start,
                purpose=purpose, beneficiary=beneficiary.decode("utf-8", "replace"),
                case_reference=case.decode("utf-8", "replace")),
            record_hash=stored,
            matches=digest == stored,
            tx_hash=tx_hash if isinstance(tx_hash, str) else "0x" + bytes(tx_hash).hex(),
            block_number=int(log["blockNumber"]),
        )

    def verify_retirement(self, retirement_id: int, record: Retirement) -> bool:
        """The contract's own check of a full record (CarbonCredits.verifyRetirement)."""
        fn = self.c("CarbonCredits").functions.verifyRetirement(retirement_id, record.to_abi())
        return bool(self.chain.call(fn))

    def report(self, report_id: int) -> Report:
        return self.record(Report, "MonitoringReports", "getReport", report_id)
