"""API accounts (hashed API keys, encrypted custodial keys) and idempotent write results.

Revision ID: 0002_api_accounts
Revises: 0001_registry_index
Create Date: 2025-06-12

Mirrors api/models.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_api_accounts"
down_revision = "0001_registry_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("api_key_hash", sa.String(length=64), nullable=False),
        sa.Column("encrypted_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_accounts")),
        sa.UniqueConstraint("address", name=op.f("uq_api_accounts_address")),
        sa.UniqueConstraint("api_key_hash", name=op.f("uq_api_accounts_api_key_hash")),
    )
    op.create_table(
        "api_idempotency",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("api_account_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_account_id"],
            ["api_accounts.id"],
            name=op.f("fk_api_idempotency_api_account_id_api_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency")),
        sa.UniqueConstraint(
            "api_account_id", "key", name=op.f("uq_api_idempotency_api_account_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("api_idempotency")
    op.drop_table("api_accounts")
