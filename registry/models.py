"""SQL index of the registry of record.

The contracts are the truth; these tables are a derived, rebuildable view of them for fast
queries. Every row can be traced to the log that produced it (block number, log index,
transaction hash), and the raw decoded events are kept in `event_journal` so auditors can
replay the index and duplicate deliveries are detectable by primary key.

Conventions: quantities are integers in units (1 t = 1,000,000 units) in BIGINT columns;
addresses are EIP-55 checksummed strings; hashes are 0x-prefixed lowercase hex; timestamps are
unix seconds of the block that carried the event; statuses are lowercase enum names as the
contracts define them. Strings set on chain (names, codes, beneficiaries) are unbounded TEXT
and not indexed, so no on-chain value can make a row unstorable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

ADDRESS = String(42)
HASH = String(66)


class IndexCursor(Base):
    """Where the indexer resumes: the next block to read, moved in the same database transaction
    as the rows derived from the blocks before it, so the index is never ahead or behind it."""

    __tablename__ = "index_cursor"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # Identifies the deployment the rows belong to; a different deployment is refused.
    registry_address: Mapped[str] = mapped_column(ADDRESS)
    next_block: Mapped[int] = mapped_column(BigInteger)
    # Chain head (less confirmations) seen by the last sync, for lag reporting without an RPC.
    head_block: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    # How often the index was rewound because the chain went backwards or changed, and the last
    # block the latest rewind kept (NULL: never rewound).
    rewinds: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    rewound_to_block: Mapped[int | None] = mapped_column(BigInteger)


class IndexedBlock(Base):
    """The hash of a block the index was built from: the last block of every applied range and
    a few blocks with logs below it (1, 2, 4, 8, ... blocks down), for the most recent blocks
    below the cursor (registry.reorg.HASH_HISTORY_BLOCKS). A stored hash that the chain no
    longer has at that height is how a reorganisation, or a chain that went backwards, is
    noticed; the highest stored hash the chain still has is where the index is rewound to."""

    __tablename__ = "index_blocks"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_hash: Mapped[str] = mapped_column(HASH)


class EventJournal(Base):
    """Every decoded log of the deployed contracts, exactly once, in chain order."""

    __tablename__ = "event_journal"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(HASH, index=True)
    address: Mapped[str] = mapped_column(ADDRESS)
    name: Mapped[str] = mapped_column(String(64), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON)


class Member(Base):
    """A consortium account: admitted members, and accounts frozen without ever being admitted."""

    __tablename__ = "members"

    address: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    profile_hash: Mapped[str | None] = mapped_column(HASH)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    # Role names (chain.roles.ROLE_NAMES, or the role id in hex if unknown), sorted.
    roles: Mapped[list[str]] = mapped_column(JSON)
    admitted_block: Mapped[int | None] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class Methodology(Base):
    __tablename__ = "methodologies"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    document_hash: Mapped[str] = mapped_column(HASH)
    parameters_hash: Mapped[str] = mapped_column(HASH)
    buffer_bps: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(30), default="unspecified",
                                          server_default="unspecified")
    registrant: Mapped[str] = mapped_column(ADDRESS)
    status: Mapped[str] = mapped_column(String(20))
    status_reason_hash: Mapped[str | None] = mapped_column(HASH)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    developer: Mapped[str] = mapped_column(ADDRESS, index=True)
    methodology_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("methodologies.id"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    division_code: Mapped[int] = mapped_column(BigInteger)
    latitude_e6: Mapped[int] = mapped_column(BigInteger)
    longitude_e6: Mapped[int] = mapped_column(BigInteger)
    area_m2: Mapped[int] = mapped_column(BigInteger)
    boundary_hash: Mapped[str] = mapped_column(HASH)
    crediting_start: Mapped[int] = mapped_column(BigInteger)
    crediting_end: Mapped[int] = mapped_column(BigInteger)
    document_hash: Mapped[str] = mapped_column(HASH)
    status: Mapped[str] = mapped_column(String(20))
    validator: Mapped[str | None] = mapped_column(ADDRESS)
    # Evidence of the latest status change (validation report or decision document).
    status_evidence_hash: Mapped[str | None] = mapped_column(HASH)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)


class Report(Base):
    """A monitoring report: opened by the first oracle attestation for a project's period."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    project_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("projects.id"), index=True)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    merkle_root: Mapped[str | None] = mapped_column(HASH)
    report_hash: Mapped[str | None] = mapped_column(HASH)
    # NULL when the attested value does not fit BIGINT (the journal keeps it exactly).
    attested_quantity: Mapped[int | None] = mapped_column(BigInteger)
    votes: Mapped[int | None] = mapped_column(Integer)
    verified_quantity: Mapped[int | None] = mapped_column(BigInteger)
    verifier: Mapped[str | None] = mapped_column(ADDRESS)
    verification_hash: Mapped[str | None] = mapped_column(HASH)
    rejection_hash: Mapped[str | None] = mapped_column(HASH)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)


class Attestation(Base):
    """One oracle node's submission for a report, agreeing or not (compare `digest`)."""

    __tablename__ = "attestations"

    report_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("reports.id"), primary_key=True, autoincrement=False
    )
    node: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    digest: Mapped[str] = mapped_column(HASH)
    merkle_root: Mapped[str] = mapped_column(HASH)
    # NULL when the submitted value does not fit BIGINT (the journal keeps it exactly), so one
    # faulty node cannot stall the index.
    quantity: Mapped[int | None] = mapped_column(BigInteger)
    report_hash: Mapped[str] = mapped_column(HASH)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)


class Batch(Base):
    """A credit batch (ERC-1155 id). issued = sum of balances + retired + cancelled."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    project_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("projects.id"), index=True)
    report_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("reports.id"), unique=True)
    developer: Mapped[str] = mapped_column(ADDRESS, index=True)
    issued: Mapped[int] = mapped_column(BigInteger)
    buffer: Mapped[int] = mapped_column(BigInteger)
    retired: Mapped[int] = mapped_column(BigInteger, default=0)
    cancelled: Mapped[int] = mapped_column(BigInteger, default=0)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


class Balance(Base):
    """Holdings per account and batch; the buffer pool is the CarbonCredits contract's own
    address. Rows that drop to zero are kept (amount 0) and filtered out by the queries."""

    __tablename__ = "balances"

    address: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    batch_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("batches.id"), primary_key=True, autoincrement=False, index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)


class Transfer(Base):
    """One ERC-1155 movement: `kind` is mint (from zero), burn (to zero) or transfer. A
    TransferBatch log yields one row per id, numbered by `seq`."""

    __tablename__ = "transfers"
    __table_args__ = (
        Index("ix_transfers_from_address", "from_address"),
        Index("ix_transfers_to_address", "to_address"),
    )

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("batches.id"), index=True)
    from_address: Mapped[str] = mapped_column(ADDRESS)
    to_address: Mapped[str] = mapped_column(ADDRESS)
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10))
    operator: Mapped[str] = mapped_column(ADDRESS)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


class Retirement(Base):
    """A retirement with its serial range serial_start..serial_end (inclusive) of the batch."""

    __tablename__ = "retirements"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("batches.id"), index=True)
    holder: Mapped[str] = mapped_column(ADDRESS, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(30))
    beneficiary: Mapped[str] = mapped_column(Text)
    case_reference: Mapped[str] = mapped_column(Text)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


class BufferCancellation(Base):
    """Buffer-pool credits cancelled by the regulator against a confirmed reversal."""

    __tablename__ = "buffer_cancellations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    batch_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("batches.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    reason_hash: Mapped[str] = mapped_column(HASH)
    by: Mapped[str] = mapped_column(ADDRESS)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


class CompensationOrder(Base):
    """An ecological-compensation order as its authority registered (and last amended) it,
    with the running total the contract counted. `status` is the stored status; whether an
    open order is overdue depends on the time of reading (registry.queries)."""

    __tablename__ = "compensation_orders"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_number: Mapped[str] = mapped_column(Text)
    case_hash: Mapped[str] = mapped_column(HASH, index=True)
    authority: Mapped[str] = mapped_column(ADDRESS, index=True)
    unit: Mapped[str] = mapped_column(String(10))
    required: Mapped[int] = mapped_column(BigInteger)
    fulfilled: Mapped[int] = mapped_column(BigInteger)
    retired_amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    category_mask: Mapped[int] = mapped_column(Integer)
    regions: Mapped[list[int]] = mapped_column(JSON)
    vintage_from: Mapped[int] = mapped_column(BigInteger)
    # NULL: no upper bound (the contract's 2**64 - 1 does not fit a signed BIGINT)
    vintage_to: Mapped[int | None] = mapped_column(BigInteger)
    deadline: Mapped[int] = mapped_column(BigInteger)
    parties: Mapped[list[str]] = mapped_column(JSON)
    party_names: Mapped[list[str]] = mapped_column(JSON)
    authority_pays: Mapped[bool] = mapped_column(Boolean)
    document_hash: Mapped[str] = mapped_column(HASH)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


class OrderEvent(Base):
    """One step of an order's timeline (registered, amended, counted, fulfilled, closed, offer
    made/withdrawn/taken), in chain order; `details` are the event's own fields."""

    __tablename__ = "order_events"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    order_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(30))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


class OrderRetirement(Base):
    """A retirement the contract counted toward an order (at most one order per retirement):
    `value` in the order's unit (micro-tonnes, or fen at the settled purchase price)."""

    __tablename__ = "order_retirements"

    retirement_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    order_id: Mapped[int] = mapped_column(BigInteger, index=True)
    holder: Mapped[str] = mapped_column(ADDRESS, index=True)
    batch_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


class OrderTicketRetirement(Base):
    """A forest-ticket retirement the contract counted toward an order
    (`TicketRetirementCounted`): ForestTickets numbers its retirements apart from CarbonCredits,
    so they have a table of their own, keyed by the ticket retirement id. `slot` is the retired
    ticket's slot (a verified forest report: parcel and period), the serials
    serial_start..serial_start+amount-1 of it; `value` in the order's unit."""

    __tablename__ = "order_ticket_retirements"

    retirement_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    order_id: Mapped[int] = mapped_column(BigInteger, index=True)
    holder: Mapped[str] = mapped_column(ADDRESS, index=True)
    slot: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


class CompensationOffer(Base):
    """A fixed-price offer a seller made to one order, with what remains of it."""

    __tablename__ = "compensation_offers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    order_id: Mapped[int] = mapped_column(BigInteger, index=True)
    seller: Mapped[str] = mapped_column(ADDRESS, index=True)
    batch_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    price_fen_per_tonne: Mapped[int] = mapped_column(BigInteger)
    expiry: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)


class TicketSlot(Base):
    """A forest ticket slot: one parcel (project) and monitoring period, i.e. one verified
    report ticketed by a forestry authority; `retired` is the slot's running total."""

    __tablename__ = "ticket_slots"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    project_id: Mapped[int] = mapped_column(BigInteger, index=True)
    owner: Mapped[str] = mapped_column(ADDRESS)
    issued: Mapped[int] = mapped_column(BigInteger)
    retired: Mapped[int] = mapped_column(BigInteger)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    rights_certificate: Mapped[str] = mapped_column(Text)
    division_code: Mapped[int] = mapped_column(Integer)
    boundary_hash: Mapped[str] = mapped_column(HASH)
    area_m2: Mapped[int] = mapped_column(BigInteger)
    issuer: Mapped[str] = mapped_column(ADDRESS)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


class ForestTicket(Base):
    """A forest ticket's owner, slot and live value; `burnt` once merged into another (value
    0). A ticket the pledge register owns is in escrow."""

    __tablename__ = "forest_tickets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    slot: Mapped[int] = mapped_column(BigInteger, index=True)
    owner: Mapped[str] = mapped_column(ADDRESS, index=True)
    value: Mapped[int] = mapped_column(BigInteger)
    burnt: Mapped[bool] = mapped_column(Boolean)
    block_number: Mapped[int] = mapped_column(BigInteger)


class TicketRetirementRow(Base):
    """A retirement (抵消) of forest ticket value, with the slot's serial range it consumed."""

    __tablename__ = "ticket_retirements"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    slot: Mapped[int] = mapped_column(BigInteger, index=True)
    token_id: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(ADDRESS, index=True)
    value: Mapped[int] = mapped_column(BigInteger)
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(30))
    beneficiary: Mapped[str] = mapped_column(Text)
    case_reference: Mapped[str] = mapped_column(Text)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


class PledgeRow(Base):
    """A pledge (质押) in the register: a ticket slot's value (`token_id` the escrowed ticket)
    or a credit batch's amount, to a bank, with its loan terms and where it stands."""

    __tablename__ = "pledges"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    pledgor: Mapped[str] = mapped_column(ADDRESS, index=True)
    bank: Mapped[str] = mapped_column(ADDRESS, index=True)
    asset: Mapped[str] = mapped_column(String(10))
    asset_id: Mapped[int] = mapped_column(BigInteger, index=True)
    source_token_id: Mapped[int] = mapped_column(BigInteger)
    token_id: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[int] = mapped_column(BigInteger)
    loan_reference: Mapped[str] = mapped_column(HASH)
    # NULL: beyond BIGINT (the chain allows 96 bits; the register keeps the exact value)
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    maturity: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    closed_block: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(HASH)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)


def table(model: type[Base]) -> Table:
    """The Core table of a model, for executemany inserts and updates without ORM objects."""
    t = model.__table__
    assert isinstance(t, Table)
    return t


# Every table of the index, parents before children (the order to fill or dump them in).
INDEX_TABLES: tuple[Table, ...] = tuple(
    table(m)
    for m in (
        IndexCursor,
        IndexedBlock,
        EventJournal,
        Member,
        Methodology,
        Project,
        Report,
        Attestation,
        Batch,
        Balance,
        Transfer,
        Retirement,
        BufferCancellation,
        CompensationOrder,
        OrderEvent,
        OrderRetirement,
        OrderTicketRetirement,
        CompensationOffer,
        TicketSlot,
        ForestTicket,
        TicketRetirementRow,
        PledgeRow,
    )
)
