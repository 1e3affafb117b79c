"""seals: the append path signs the last event of every append transaction

Revision ID: 0006_seals
Revises: 0005_report_inputs
Create Date: 2026-12-04 16:00

``ledger_events.seal`` holds, on the last event of each append, an Ed25519 signature by
the ledger's key over that event's position and hash (``ledger.integrity.seals``): a
row added to the database directly has none, so it is neither appended to nor signed.
``ledger_seal_origin.unsealed_through`` records the head at this migration: the events
up to it were written before seals existed and are trusted through checkpoints, as
before. The events themselves are untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_seals"
down_revision = "0005_report_inputs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger_events", sa.Column("seal", sa.LargeBinary(), nullable=True))
    op.create_table(
        "ledger_seal_origin",
        sa.Column("unsealed_through", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO ledger_seal_origin (unsealed_through)"
        " SELECT COALESCE(MAX(notification_id), 0) FROM ledger_events"
    )


def downgrade() -> None:
    op.drop_table("ledger_seal_origin")
    with op.batch_alter_table("ledger_events") as batch:
        batch.drop_column("seal")
