"""integrity tables: signed checkpoints with their frontier, Merkle subtree roots

Revision ID: 0003_integrity
Revises: 0002_projections
Create Date: 2026-11-26 06:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_integrity"
down_revision = "0002_projections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrity_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp", sa.String(27), nullable=False),
        sa.Column("signature", sa.String(88), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("last_hash", sa.LargeBinary(), nullable=True),
    )
    op.create_table(
        "integrity_subtrees",
        sa.Column("start", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("integrity_subtrees")
    op.drop_table("integrity_checkpoints")
