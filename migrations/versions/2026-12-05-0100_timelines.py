"""timelines: each asset's current timeline stored, so reading it is a read, not a fold

Revision ID: 0011_timelines
Revises: 0010_registrations_subject
Create Date: 2026-12-05 01:00

``proj_timelines`` holds, per asset, the body of ``GET /v1/assets/{id}/timeline`` at the
current time and all knowledge, with what it was built from (the code's version, the
asset's indexed events, the reference data's, and the instants between which it is the
current one). The timeline warmer fills it after the custody projection
(``ledger.reading.timelines``); a body whose inputs moved is never served: the timeline
is folded instead. It starts empty and fills when the server or a worker next runs.
Nothing else changes. A later migration that empties the custody projection (as 0009
did) must empty ``proj_timelines`` and the ``timelines`` tracking row with it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_timelines"
down_revision = "0010_registrations_subject"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proj_timelines",
        sa.Column("asset_id", sa.String(128), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("inputs", sa.String(96), nullable=False),
        sa.Column("valid_from", sa.String(32), nullable=True),
        sa.Column("valid_until", sa.String(32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("proj_timelines")
