"""Alembic environment: the database comes from LEDGER_DATABASE_URL (or the URL the
caller put in the config), the target schema from ``ledger.store.tables``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from ledger.bootstrap import make_engine
from ledger.settings import Settings
from ledger.store.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
settings = Settings(database_url=url) if url else Settings()


def run_migrations_offline() -> None:
    context.configure(
        url=settings.sqlalchemy_url(),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=settings.is_sqlite,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(settings)
    engine.pool = pool.NullPool(engine.pool._creator)  # type: ignore[attr-defined]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=settings.is_sqlite,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
