"""state findings index: a contract's state findings found without its event findings

Revision ID: 0012_state_findings_index
Revises: 0011_timelines
Create Date: 2026-12-05 04:00

The contract view (compliance) and the report read a contract's state findings; on a
contract whose every event made a finding, finding those few thousand among hundreds of
thousands took a third of a second. A partial index on ``(contract_id, rule)`` where
``kind = 'state'``. Nothing else changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_state_findings_index"
down_revision = "0011_timelines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_proj_findings_state",
        "proj_findings",
        ["contract_id", "rule"],
        postgresql_where=sa.text("kind = 'state'"),
        sqlite_where=sa.text("kind = 'state'"),
    )


def downgrade() -> None:
    op.drop_index("ix_proj_findings_state", table_name="proj_findings")
