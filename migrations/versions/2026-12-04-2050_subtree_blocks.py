"""subtree blocks: each stored 1024-leaf subtree keeps its 32-leaf block roots

Revision ID: 0008_subtree_blocks
Revises: 0007_cosignatures
Create Date: 2026-12-04 21:10

``integrity_subtrees.blocks`` holds the roots of the 32 aligned 32-leaf blocks of the
subtree, concatenated, written by the checkpoint that completes it: an inclusion proof
then reads one row and 32 leaf hashes instead of 1,024 (evidence bundles carry a proof
per event; docs/decisions/0012). Rows stored before are left null and proofs hash their
leaves, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_subtree_blocks"
down_revision = "0007_cosignatures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("integrity_subtrees", sa.Column("blocks", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("integrity_subtrees", "blocks")
