"""Every table the ledger uses, declared once.

Alembic's migrations create these; a test checks that ``alembic upgrade head`` on an
empty database gives exactly this schema, on SQLite and PostgreSQL. The event store's
own table is here too: the library's table creation is switched off outside tests.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# On SQLite the position must be the table's rowid (an INTEGER PRIMARY KEY alias), so
# the store assigns it and no AUTOINCREMENT bookkeeping can leave a gap.
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The eventsourcing application recorder's table, extended with the chain's hash. The
# store assigns ``notification_id`` (the ledger's ``position``) itself, under the write
# lock, as previous + 1: a sequence would leave gaps after a rolled-back append.
events = sa.Table(
    "ledger_events",
    metadata,
    sa.Column("notification_id", Position, primary_key=True, autoincrement=False),
    sa.Column("originator_id", sa.Uuid(), nullable=False),
    sa.Column("originator_version", sa.BigInteger(), nullable=False),
    sa.Column("topic", sa.Text(), nullable=False),
    sa.Column("state", sa.LargeBinary(), nullable=False),
    sa.Column("hash", sa.LargeBinary(), nullable=False),
    sa.UniqueConstraint("originator_id", "originator_version", name="ledger_events_originator_uq"),
)

# Natural keys registered by the log (parties, assets, serials, …), written in the same
# transaction as the events that register them, so uniqueness holds across processes.
# ``version`` counts the events that name an asset (``expected_version``).
registry = sa.Table(
    "ledger_registry",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("natural_id", sa.String(300), primary_key=True),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("attrs", sa.Text(), nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("party", sa.String(128), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)
