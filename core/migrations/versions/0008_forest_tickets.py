"""Forest ticket slots, tickets (live owner and value), ticket retirements and the pledge
register.

Revision ID: 0008_forest_tickets
Revises: 0007_compensation_orders
Create Date: 2026-12-04

Mirrors registry/models.py (TicketSlot, ForestTicket, TicketRetirementRow, PledgeRow).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008_forest_tickets"
down_revision = "0007_compensation_orders"
branch_labels = None
depends_on = None

ADDRESS = sa.String(length=42)
HASH = sa.String(length=66)


def _block() -> list[sa.Column[Any]]:
    """Where a row came from: its transaction, block and block time."""
    return [sa.Column("tx_hash", HASH, nullable=False),
            sa.Column("block_number", sa.BigInteger(), nullable=False),
            sa.Column("block_timestamp", sa.BigInteger(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "ticket_slots",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", ADDRESS, nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("retired", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("rights_certificate", sa.Text(), nullable=False),
        sa.Column("division_code", sa.Integer(), nullable=False),
        sa.Column("boundary_hash", HASH, nullable=False),
        sa.Column("area_m2", sa.BigInteger(), nullable=False),
        sa.Column("issuer", ADDRESS, nullable=False),
        *_block(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_slots")),
    )
    op.create_index(op.f("ix_ticket_slots_project_id"), "ticket_slots", ["project_id"])
    op.create_table(
        "forest_tickets",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("owner", ADDRESS, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("burnt", sa.Boolean(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forest_tickets")),
    )
    op.create_index(op.f("ix_forest_tickets_slot"), "forest_tickets", ["slot"])
    op.create_index(op.f("ix_forest_tickets_owner"), "forest_tickets", ["owner"])
    op.create_table(
        "ticket_retirements",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("holder", ADDRESS, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("serial_start", sa.BigInteger(), nullable=False),
        sa.Column("serial_end", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("beneficiary", sa.Text(), nullable=False),
        sa.Column("case_reference", sa.Text(), nullable=False),
        *_block(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_retirements")),
    )
    op.create_index(op.f("ix_ticket_retirements_slot"), "ticket_retirements", ["slot"])
    op.create_index(op.f("ix_ticket_retirements_holder"), "ticket_retirements", ["holder"])
    op.create_table(
        "pledges",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("pledgor", ADDRESS, nullable=False),
        sa.Column("bank", ADDRESS, nullable=False),
        sa.Column("asset", sa.String(length=10), nullable=False),
        sa.Column("asset_id", sa.BigInteger(), nullable=False),
        sa.Column("source_token_id", sa.BigInteger(), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("loan_reference", HASH, nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("maturity", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_block", sa.BigInteger(), nullable=True),
        *_block(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledges")),
    )
    op.create_index(op.f("ix_pledges_pledgor"), "pledges", ["pledgor"])
    op.create_index(op.f("ix_pledges_bank"), "pledges", ["bank"])
    op.create_index(op.f("ix_pledges_asset_id"), "pledges", ["asset_id"])


def downgrade() -> None:
    op.drop_table("pledges")
    op.drop_table("ticket_retirements")
    op.drop_table("forest_tickets")
    op.drop_table("ticket_slots")
