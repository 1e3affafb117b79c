"""event store, registry and api keys

The event store's table is the eventsourcing application recorder's, extended with the
chain hash; ``notification_id`` is the ledger's gap-free position, assigned by the
store under its write lock (on SQLite it is the rowid).

Revision ID: 0001_event_store
Revises:
Create Date: 2026-11-26 05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_event_store"
down_revision = None
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_events",
        sa.Column("notification_id", Position, primary_key=True, autoincrement=False),
        sa.Column("originator_id", sa.Uuid(), nullable=False),
        sa.Column("originator_version", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint(
            "originator_id", "originator_version", name="ledger_events_originator_uq"
        ),
    )
    op.create_table(
        "ledger_registry",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("natural_id", sa.String(300), primary_key=True),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("attrs", sa.Text(), nullable=True),
    )
    op.create_table(
        "api_keys",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("party", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("ledger_registry")
    op.drop_table("ledger_events")
