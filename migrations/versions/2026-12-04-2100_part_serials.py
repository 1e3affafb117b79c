"""part serials: the index behind GET /v1/parts/{serial}

Revision ID: 0009_part_serials
Revises: 0008_subtree_blocks
Create Date: 2026-12-04 21:00

``proj_part_serials`` files every part serial a ``repair_completed`` names (its
``parts`` items may now be ``{"part", "serial", "quantity"}``), and every serial a
correction writes into ``payload.parts``, under the repair's event id. It belongs to
the custody projection. The state fold and the rules changed meaning with it (rules
version 2: a terminal asset stays terminal, retractions and corrections are never
events of an asset, repairs without a work order; docs/decisions/0006), so both
projections are emptied here (with their tracking rows) and rebuild — the index
included — from the event store when the server or a worker next starts. The event
store itself is untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_part_serials"
down_revision = "0008_subtree_blocks"
branch_labels = None
depends_on = None

_EMPTIED = (
    "proj_finding_changes",
    "proj_findings",
    "proj_assets",
    "proj_event_amendments",
    "proj_event_index",
)


def upgrade() -> None:
    op.create_table(
        "proj_part_serials",
        sa.Column("serial", sa.String(128), primary_key=True),
        sa.Column("position", sa.BigInteger(), primary_key=True),
        sa.Column("event_id", sa.String(128), nullable=False),
    )
    for table in _EMPTIED:
        op.execute(f"DELETE FROM {table}")
    op.execute("DELETE FROM projection_tracking WHERE name IN ('custody', 'findings')")


def downgrade() -> None:
    op.drop_table("proj_part_serials")
