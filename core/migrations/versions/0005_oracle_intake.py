"""The oracle intake: device keys bound to one project, signed readings counted once.

Revision ID: 0005_oracle_intake
Revises: 0004_idempotency_tx
Create Date: 2026-12-02

Mirrors oracle/intake.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_oracle_intake"
down_revision = "0004_idempotency_tx"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oracle_devices",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_oracle_devices")),
    )
    op.create_table(
        "oracle_intakes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("file", sa.String(length=100), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oracle_intakes")),
    )
    op.create_table(
        "oracle_readings",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["intake_id"], ["oracle_intakes.id"],
                                name=op.f("fk_oracle_readings_intake_id_oracle_intakes")),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_oracle_readings")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("oracle_readings")
    op.drop_table("oracle_intakes")
    op.drop_table("oracle_devices")
