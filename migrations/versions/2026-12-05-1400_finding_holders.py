"""finding holders: per party, the assets the findings walk found it to hold

Revision ID: 0014_finding_holders
Revises: 0013_findings_partitions
Create Date: 2026-12-05 14:00

A findings walk resumed without reading the whole log (``Walk.resume_lazily``,
decision 0016) must know, for an inventory, which assets a party under its scope ever
held — the assets the inventory may expect without naming them (R14) — before it has
loaded those assets' events. ``proj_finding_holders`` keeps them: one row per party
and asset, added as the walk finds them. A new table only: a ledger whose findings
were stored before it has none, and resumes by reading the whole log once (which
writes them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_finding_holders"
down_revision = "0013_findings_partitions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proj_finding_holders",
        sa.Column("party", sa.String(128), primary_key=True),
        sa.Column("asset_id", sa.String(128), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("proj_finding_holders")
