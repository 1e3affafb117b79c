"""cosignatures: witness cosignatures of the ledger's C2SP checkpoint notes

Revision ID: 0007_cosignatures
Revises: 0006_seals
Create Date: 2026-12-04 20:00

``integrity_cosignatures`` keeps, per checkpoint size, ledger key and witness verifier
key, the cosignature line a witness sent (``POST /v1/audit/cosignatures``); the
checkpoint note at ``GET /v1/audit/checkpoint`` is served with them appended
(docs/decisions/0012). Nothing else changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_cosignatures"
down_revision = "0006_seals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrity_cosignatures",
        sa.Column("tree_size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("witness", sa.String(400), primary_key=True),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("integrity_cosignatures")
