"""The exchange's reservations, shared with API processes that do not run the exchange.

Revision ID: 0006_exchange_reservations
Revises: 0005_oracle_intake
Create Date: 2026-12-03

Mirrors exchange/reservations.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_exchange_reservations"
down_revision = "0005_oracle_intake"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_reservations",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "batch_id", name=op.f("pk_exchange_reservations")),
    )


def downgrade() -> None:
    op.drop_table("exchange_reservations")
