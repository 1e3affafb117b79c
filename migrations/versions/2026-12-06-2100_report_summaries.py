"""report summaries: what the present contract report reads, stored where it is kept

Revision ID: 0017_report_summaries
Revises: 0016_routes_by_asset
Create Date: 2026-12-06 21:00

Three stored summaries (docs/decisions/0026), filled here from what is stored, so that
neither projection is rebuilt:

- ``proj_findings.valid_to`` is the ``valid_to`` of the version ``valid_from`` is taken
from. The present report and contract view need an asset's state findings only while
they are active; on the realistic world most of those not cleared have ended (an
inventory overdue until the next one, an unauthorised holder until the recovery), and
each was a life to decode (docs/decisions/0026). The column is filled here from each
row's stored summary (``life``), in the fixed-width form every stored instant has,
which SQL on the JSON cannot give: a few seconds a hundred thousand findings.
- ``proj_event_amendments.summary`` is each retraction's or correction's line in a
  contract report (``domain.rules.corrections.Amendment``): the report parsed every
  amendment of the contract and its target for each request, 24,161 events at a
  million. Filled by parsing each amendment and its target once.
- ``proj_inventories`` holds each inventory as recorded: its id, times and the assets
  it concerns. The report listed a period's inventories by parsing every inventory's
  result lines (16 MB of records at a million events). Filled from the inventories the
  custody projection had filed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_report_summaries"
down_revision = "0016_routes_by_asset"
branch_labels = None
depends_on = None

_CHUNK = 5000


def upgrade() -> None:
    op.add_column("proj_findings", sa.Column("valid_to", sa.String(32), nullable=True))
    op.add_column("proj_event_amendments", sa.Column("summary", sa.Text(), nullable=True))
    op.create_table(
        "proj_inventories",
        sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("occurred_at", sa.String(32), nullable=False),
        sa.Column("reported_at", sa.String(32), nullable=False),
        sa.Column("subjects", sa.Text(), nullable=False),
    )
    from ledger.projections.custody import backfill_amendment_summaries, backfill_inventories
    from ledger.projections.findings_codec import stored_valid_to

    conn = op.get_bind()
    backfill_amendment_summaries(conn)
    backfill_inventories(conn)
    rows = sa.table("proj_findings", sa.column("finding_key"), sa.column("life"))
    update = sa.text("UPDATE proj_findings SET valid_to = :v WHERE finding_key = :k")
    after = None
    while True:
        query = sa.select(rows.c.finding_key, rows.c.life).order_by(rows.c.finding_key)
        if after is not None:
            query = query.where(rows.c.finding_key > after)
        chunk = conn.execute(query.limit(_CHUNK)).all()
        if not chunk:
            break
        after = chunk[-1].finding_key
        ended = [
            {"k": r.finding_key, "v": v}
            for r in chunk
            if (v := stored_valid_to(r.life)) is not None
        ]
        if ended:
            conn.execute(update, ended)


def downgrade() -> None:
    op.drop_table("proj_inventories")
    op.drop_column("proj_event_amendments", "summary")
    op.drop_column("proj_findings", "valid_to")  # SQLite has dropped columns since 3.35
