"""projection tables: tracking, event index, amendments, asset state

Revision ID: 0002_projections
Revises: 0001_event_store
Create Date: 2026-11-26 05:30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_projections"
down_revision = "0001_event_store"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_tracking",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "proj_event_index",
        sa.Column("subject", sa.String(160), primary_key=True),
        sa.Column("position", sa.BigInteger(), primary_key=True),
        sa.Column("event_id", sa.String(128), nullable=False),
    )
    op.create_index("proj_event_index_event_id", "proj_event_index", ["event_id"])
    op.create_table(
        "proj_event_amendments",
        sa.Column("target_event_id", sa.String(128), primary_key=True),
        sa.Column("position", sa.BigInteger(), primary_key=True),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
    )
    op.create_table(
        "proj_assets",
        sa.Column("asset_id", sa.String(128), primary_key=True),
        sa.Column("contract_id", sa.String(128), nullable=True),
        sa.Column("custodian", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("accounted_for", sa.Boolean(), nullable=False),
        sa.Column("last_world_key", sa.String(80), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_proj_assets_contract_id", "proj_assets", ["contract_id"])
    op.create_index("ix_proj_assets_custodian", "proj_assets", ["custodian"])


def downgrade() -> None:
    op.drop_table("proj_assets")
    op.drop_table("proj_event_amendments")
    op.drop_index("proj_event_index_event_id", "proj_event_index")
    op.drop_table("proj_event_index")
    op.drop_table("projection_tracking")
