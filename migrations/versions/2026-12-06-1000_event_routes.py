"""event routes: which findings partitions each event may concern

Revision ID: 0015_event_routes
Revises: 0014_finding_holders
Create Date: 2026-12-06 10:00

``proj_event_routes`` belongs to the custody projection, which writes it with its
index: one row per asset an event names, under the asset's 64-bit key, or one with no
key for an event every findings partition may need; and the knowledge instant the log
had reached with each event. A findings partition then reads only its share of the
log (``ledger.projections.routes``; docs/decisions/0022). The rows of the events
custody has already indexed are written here from the stored events, with the code's
own routing (``routes.backfill``), so that neither projection is rebuilt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_event_routes"
down_revision = "0014_finding_holders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proj_event_routes",
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("route", sa.BigInteger(), nullable=True),
        sa.Column("known_until", sa.String(32), nullable=True),
    )
    op.create_index("ix_proj_event_routes_position", "proj_event_routes", ["position"])
    from ledger.projections.routes import backfill_indexed

    backfill_indexed(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_proj_event_routes_position", table_name="proj_event_routes")
    op.drop_table("proj_event_routes")
