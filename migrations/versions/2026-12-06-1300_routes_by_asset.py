"""event routes: registrations and amendments filed where their asset's events are

Revision ID: 0016_routes_by_asset
Revises: 0015_event_routes
Create Date: 2026-12-06 13:00

0015 filed every asset registration and every retraction and correction under no key,
so every findings partition read and held them all: two fifths of what a partition
held of the log beside its own events. A registration is now filed under its asset's
key and an amendment under its target's (docs/decisions/0023). The rows of the events
custody had indexed are written again, with the code's own routing
(``routes.backfill``), so that neither projection is rebuilt: about a minute at a
million events. A downgrade leaves the rows as they are: code before this revision
reads from them every event its partitions judge (their own assets' registrations, the
amendments of their own events), and fewer of those it held and judged nothing by.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_routes_by_asset"
down_revision = "0015_event_routes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from ledger.projections.routes import backfill_indexed

    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM proj_event_routes"))
    backfill_indexed(conn)


def downgrade() -> None:
    pass
