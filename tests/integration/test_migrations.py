"""``alembic upgrade head`` on an empty database gives exactly the schema the code
declares (``ledger.store.tables``), on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ledger.settings import Settings
from ledger.store.tables import metadata


def test_upgrade_head_matches_the_declared_schema(settings: Settings) -> None:
    engine = sa.create_engine(settings.sqlalchemy_url())
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": False}
            )
            diff = compare_metadata(ctx, metadata)
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert diff == [], diff
    assert {t.name for t in metadata.sorted_tables} <= tables
