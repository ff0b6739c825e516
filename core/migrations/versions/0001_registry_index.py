"""Registry index: cursor, raw event journal, and the tables derived from contract events.

Revision ID: 0001_registry_index
Revises:
Create Date: 2025-06-10

Mirrors registry/models.py. Quantities are BIGINT units (1 t = 1,000,000); addresses are
checksummed VARCHAR(42); hashes VARCHAR(66); on-chain strings TEXT.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_registry_index"
down_revision = None
branch_labels = None
depends_on = None


def _address(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=42), nullable=nullable)


def _hash(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=66), nullable=nullable)


def _bigint(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "index_cursor",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        _address("registry_address"),
        _bigint("next_block"),
        _bigint("head_block"),
        _bigint("events"),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_index_cursor")),
    )

    op.create_table(
        "event_journal",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        _bigint("block_timestamp"),
        _hash("tx_hash"),
        _address("address"),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_event_journal")),
    )
    op.create_index(op.f("ix_event_journal_name"), "event_journal", ["name"])
    op.create_index(op.f("ix_event_journal_tx_hash"), "event_journal", ["tx_hash"])

    op.create_table(
        "members",
        _address("address"),
        sa.Column("name", sa.Text(), nullable=True),
        _hash("profile_hash", nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        _bigint("admitted_block", nullable=True),
        _bigint("updated_block"),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_members")),
    )

    op.create_table(
        "methodologies",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _hash("document_hash"),
        _hash("parameters_hash"),
        sa.Column("buffer_bps", sa.Integer(), nullable=False),
        _address("registrant"),
        sa.Column("status", sa.String(length=20), nullable=False),
        _hash("status_reason_hash", nullable=True),
        _hash("tx_hash"),
        _bigint("block_number"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_methodologies")),
    )

    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        _address("developer"),
        _bigint("methodology_id"),
        sa.Column("name", sa.Text(), nullable=False),
        _bigint("division_code"),
        _bigint("latitude_e6"),
        _bigint("longitude_e6"),
        _bigint("area_m2"),
        _hash("boundary_hash"),
        _bigint("crediting_start"),
        _bigint("crediting_end"),
        _hash("document_hash"),
        sa.Column("status", sa.String(length=20), nullable=False),
        _address("validator", nullable=True),
        _hash("status_evidence_hash", nullable=True),
        _hash("tx_hash"),
        _bigint("block_number"),
        sa.ForeignKeyConstraint(
            ["methodology_id"],
            ["methodologies.id"],
            name=op.f("fk_projects_methodology_id_methodologies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index(op.f("ix_projects_developer"), "projects", ["developer"])
    op.create_index(op.f("ix_projects_methodology_id"), "projects", ["methodology_id"])

    op.create_table(
        "reports",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        _bigint("project_id"),
        _bigint("period_start"),
        _bigint("period_end"),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        _hash("merkle_root", nullable=True),
        _hash("report_hash", nullable=True),
        _bigint("attested_quantity", nullable=True),
        sa.Column("votes", sa.Integer(), nullable=True),
        _bigint("verified_quantity", nullable=True),
        _address("verifier", nullable=True),
        _hash("verification_hash", nullable=True),
        _hash("rejection_hash", nullable=True),
        _hash("tx_hash"),
        _bigint("block_number"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_reports_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    op.create_index(op.f("ix_reports_project_id"), "reports", ["project_id"])

    op.create_table(
        "attestations",
        sa.Column("report_id", sa.BigInteger(), autoincrement=False, nullable=False),
        _address("node"),
        _hash("digest"),
        _hash("merkle_root"),
        _bigint("quantity", nullable=True),
        _hash("report_hash"),
        _hash("tx_hash"),
        _bigint("block_number"),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_attestations_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("report_id", "node", name=op.f("pk_attestations")),
    )

    op.create_table(
        "batches",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        _bigint("project_id"),
        _bigint("report_id"),
        _address("developer"),
        _bigint("issued"),
        _bigint("buffer"),
        _bigint("retired"),
        _bigint("cancelled"),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        _bigint("period_start"),
        _bigint("period_end"),
        _hash("tx_hash"),
        _bigint("block_number"),
        _bigint("block_timestamp"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_batches_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_batches_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("report_id", name=op.f("uq_batches_report_id")),
    )
    op.create_index(op.f("ix_batches_developer"), "batches", ["developer"])
    op.create_index(op.f("ix_batches_project_id"), "batches", ["project_id"])

    op.create_table(
        "balances",
        _address("address"),
        sa.Column("batch_id", sa.BigInteger(), autoincrement=False, nullable=False),
        _bigint("amount"),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_balances_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("address", "batch_id", name=op.f("pk_balances")),
    )
    op.create_index(op.f("ix_balances_batch_id"), "balances", ["batch_id"])

    op.create_table(
        "transfers",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        _bigint("batch_id"),
        _address("from_address"),
        _address("to_address"),
        _bigint("amount"),
        sa.Column("kind", sa.String(length=10), nullable=False),
        _address("operator"),
        _hash("tx_hash"),
        _bigint("block_timestamp"),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_transfers_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("block_number", "log_index", "seq", name=op.f("pk_transfers")),
    )
    op.create_index(op.f("ix_transfers_batch_id"), "transfers", ["batch_id"])
    op.create_index(op.f("ix_transfers_from_address"), "transfers", ["from_address"])
    op.create_index(op.f("ix_transfers_to_address"), "transfers", ["to_address"])

    op.create_table(
        "retirements",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        _bigint("batch_id"),
        _address("holder"),
        _bigint("amount"),
        _bigint("serial_start"),
        _bigint("serial_end"),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("beneficiary", sa.Text(), nullable=False),
        sa.Column("case_reference", sa.Text(), nullable=False),
        _hash("tx_hash"),
        _bigint("block_number"),
        _bigint("block_timestamp"),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_retirements_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retirements")),
    )
    op.create_index(op.f("ix_retirements_batch_id"), "retirements", ["batch_id"])
    op.create_index(op.f("ix_retirements_holder"), "retirements", ["holder"])

    op.create_table(
        "buffer_cancellations",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        _bigint("batch_id"),
        _bigint("amount"),
        _bigint("serial_start"),
        _bigint("serial_end"),
        _hash("reason_hash"),
        _address("by"),
        _hash("tx_hash"),
        _bigint("block_number"),
        _bigint("block_timestamp"),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_buffer_cancellations_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buffer_cancellations")),
    )
    op.create_index(
        op.f("ix_buffer_cancellations_batch_id"), "buffer_cancellations", ["batch_id"]
    )


def downgrade() -> None:
    for table in (
        "buffer_cancellations",
        "retirements",
        "transfers",
        "balances",
        "batches",
        "attestations",
        "reports",
        "projects",
        "methodologies",
        "members",
        "event_journal",
        "index_cursor",
    ):
        op.drop_table(table)
