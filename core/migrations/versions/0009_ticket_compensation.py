"""Forest-ticket retirements counted toward compensation orders (TicketRetirementCounted), in
a table of their own: ForestTickets numbers its retirements apart from CarbonCredits.

Revision ID: 0009_ticket_compensation
Revises: 0008_forest_tickets
Create Date: 2026-12-04

Mirrors registry/models.py (OrderTicketRetirement).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_ticket_compensation"
down_revision = "0008_forest_tickets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_ticket_retirements",
        sa.Column("retirement_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("serial_start", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("retirement_id", name=op.f("pk_order_ticket_retirements")),
    )
    op.create_index(op.f("ix_order_ticket_retirements_order_id"), "order_ticket_retirements",
                    ["order_id"])
    op.create_index(op.f("ix_order_ticket_retirements_holder"), "order_ticket_retirements",
                    ["holder"])


def downgrade() -> None:
    op.drop_table("order_ticket_retirements")
