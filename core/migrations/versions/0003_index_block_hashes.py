"""Block hashes the index was built from, and the cursor's rewind count.

Revision ID: 0003_index_block_hashes
Revises: 0002_api_accounts
Create Date: 2026-12-02

Mirrors registry/models.py (IndexedBlock, IndexCursor.rewinds / rewound_to_block). An index
migrated from before this revision has no stored hashes: the indexer records the chain's hash
of its cursor block on its next sync and checks every block from then on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_index_block_hashes"
down_revision = "0002_api_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_blocks",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("block_number", name=op.f("pk_index_blocks")),
    )
    with op.batch_alter_table("index_cursor") as batch:
        batch.add_column(
            sa.Column("rewinds", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("rewound_to_block", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("index_cursor") as batch:
        batch.drop_column("rewound_to_block")
        batch.drop_column("rewinds")
    op.drop_table("index_blocks")
