"""findings' lives as appended changes; what the contract report reads from projections

Revision ID: 0005_report_inputs
Revises: 0004_findings
Create Date: 2026-11-26 08:00

``proj_finding_changes`` holds every change of every finding's life, appended, and
``proj_findings.life`` now sums a life up (a life stored whole was rewritten at each
change). ``proj_findings.valid_from`` (with an index by contract) lets the report
select a period's event findings in SQL, and the custody projection now files every
inventory under the ``inventories`` subject. Both projections are emptied here and rebuild from
the event store when the server or a worker next starts — the event store itself is
untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_report_inputs"
down_revision = "0004_findings"
branch_labels = None
depends_on = None

_EMPTIED = ("proj_findings", "proj_assets", "proj_event_amendments", "proj_event_index")


# Finding keys compare bytewise on PostgreSQL whatever the locale (as in Python).
KEY = sa.String(400).with_variant(sa.String(400, collation="C"), "postgresql")


def upgrade() -> None:
    for table in _EMPTIED:
        op.execute(f"DELETE FROM {table}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            'ALTER TABLE proj_findings ALTER COLUMN finding_key TYPE VARCHAR(400) COLLATE "C"'
        )
    op.create_table(
        "proj_finding_changes",
        sa.Column("finding_key", KEY, primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("finding", sa.Text(), nullable=True),
    )
    op.add_column("proj_findings", sa.Column("valid_from", sa.String(32), nullable=True))
    # The report's event findings of a period: not cleared, not state findings.
    where = sa.text("cleared_at IS NULL AND kind <> 'state'")
    op.create_index(
        "ix_proj_findings_open_events",
        "proj_findings",
        ["contract_id", "valid_from", "finding_key", "rule"],
        postgresql_where=where,
        sqlite_where=where,
    )
    op.execute("DELETE FROM projection_tracking WHERE name IN ('custody', 'findings')")


def downgrade() -> None:
    op.drop_table("proj_finding_changes")
    op.drop_index("ix_proj_findings_open_events", table_name="proj_findings")
    with op.batch_alter_table("proj_findings") as batch:
        batch.drop_column("valid_from")
