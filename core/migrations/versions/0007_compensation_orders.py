"""Ecological-compensation orders, their timelines, counted retirements and offers; the sink
category of each methodology.

Revision ID: 0007_compensation_orders
Revises: 0006_exchange_reservations
Create Date: 2026-12-03

Mirrors registry/models.py (CompensationOrder, OrderEvent, OrderRetirement, CompensationOffer).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_compensation_orders"
down_revision = "0006_exchange_reservations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("methodologies") as batch:
        batch.add_column(sa.Column("category", sa.String(length=30), nullable=False,
                                   server_default="unspecified"))
    op.create_table(
        "compensation_orders",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("case_number", sa.Text(), nullable=False),
        sa.Column("case_hash", sa.String(length=66), nullable=False),
        sa.Column("authority", sa.String(length=42), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("required", sa.BigInteger(), nullable=False),
        sa.Column("fulfilled", sa.BigInteger(), nullable=False),
        sa.Column("retired_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("category_mask", sa.Integer(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("vintage_from", sa.BigInteger(), nullable=False),
        sa.Column("vintage_to", sa.BigInteger(), nullable=True),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("party_names", sa.JSON(), nullable=False),
        sa.Column("authority_pays", sa.Boolean(), nullable=False),
        sa.Column("document_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_orders")),
    )
    op.create_index(op.f("ix_compensation_orders_case_hash"), "compensation_orders",
                    ["case_hash"])
    op.create_index(op.f("ix_compensation_orders_authority"), "compensation_orders",
                    ["authority"])
    op.create_table(
        "order_events",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", name=op.f("pk_order_events")),
    )
    op.create_index(op.f("ix_order_events_order_id"), "order_events", ["order_id"])
    op.create_table(
        "order_retirements",
        sa.Column("retirement_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("retirement_id", name=op.f("pk_order_retirements")),
    )
    op.create_index(op.f("ix_order_retirements_order_id"), "order_retirements", ["order_id"])
    op.create_index(op.f("ix_order_retirements_holder"), "order_retirements", ["holder"])
    op.create_table(
        "compensation_offers",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("price_fen_per_tonne", sa.BigInteger(), nullable=False),
        sa.Column("expiry", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensation_offers")),
    )
    op.create_index(op.f("ix_compensation_offers_order_id"), "compensation_offers", ["order_id"])
    op.create_index(op.f("ix_compensation_offers_seller"), "compensation_offers", ["seller"])


def downgrade() -> None:
    op.drop_table("compensation_offers")
    op.drop_table("order_retirements")
    op.drop_table("order_events")
    op.drop_table("compensation_orders")
    with op.batch_alter_table("methodologies") as batch:
        batch.drop_column("category")
