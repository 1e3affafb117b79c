"""findings partitions: leases shared by workers, and what partitions tell the contract level

Revision ID: 0013_findings_partitions
Revises: 0012_state_findings_index
Create Date: 2026-12-05 06:00

Findings may be judged by several workers, each holding a share of the assets
(``domain.rules.partitions``; ``LEDGER_FINDINGS_PARTITIONS``). ``projection_leases``
says which worker holds which partition until when (and which workers are alive);
``proj_finding_parts`` carries, per knowledge instant, the assets whose R03 findings
changed in a partition to the contract level, which judges C01–C03. New tables only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_findings_partitions"
down_revision = "0012_state_findings_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "proj_finding_parts",
        sa.Column("partition", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("k", sa.String(32), nullable=False),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.Column("retracted", sa.Text(), nullable=False),
        sa.Column("corrected", sa.Text(), nullable=False),
    )
    op.create_index("ix_proj_finding_parts_position", "proj_finding_parts", ["position"])


def downgrade() -> None:
    op.drop_index("ix_proj_finding_parts_position", table_name="proj_finding_parts")
    op.drop_table("proj_finding_parts")
    op.drop_table("projection_leases")
