"""findings projection

Revision ID: 0004_findings
Revises: 0003_integrity
Create Date: 2026-11-26 06:30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_findings"
down_revision = "0003_integrity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proj_findings",
        sa.Column("finding_key", sa.String(400), primary_key=True),
        sa.Column("contract_id", sa.String(128), nullable=True),
        sa.Column("asset_id", sa.String(128), nullable=True),
        sa.Column("rule", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("detected_at", sa.String(32), nullable=False),
        sa.Column("cleared_at", sa.String(32), nullable=True),
        sa.Column("life", sa.Text(), nullable=False),
    )
    op.create_index("ix_proj_findings_contract_id", "proj_findings", ["contract_id"])
    op.create_index("ix_proj_findings_asset_id", "proj_findings", ["asset_id"])


def downgrade() -> None:
    op.drop_table("proj_findings")
