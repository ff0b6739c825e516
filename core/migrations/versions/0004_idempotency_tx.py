"""The transaction of a pending idempotent write, and which attempt holds the key.

Revision ID: 0004_idempotency_tx
Revises: 0003_index_block_hashes
Create Date: 2025-07-03

Mirrors api/models.py (IdempotentRequest.tx_hash, .attempt). Rows from before this revision
have neither: a done row's transaction is read from its stored response.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_idempotency_tx"
down_revision = "0003_index_block_hashes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_idempotency", sa.Column("tx_hash", sa.String(length=66), nullable=True))
    op.add_column("api_idempotency", sa.Column("attempt", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_idempotency") as batch:
        batch.drop_column("attempt")
        batch.drop_column("tx_hash")
