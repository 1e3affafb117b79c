"""A process holds few idle PostgreSQL connections (issue #16: each used to keep about
20 open, so four processes exhausted a default server's 100)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.settings import Settings
from tests import wire
from tests.integration.integrity_helpers import append, more

pytestmark = pytest.mark.postgres


def _connections(url: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_an_idle_process_keeps_at_most_the_configured_connections(pg_ledger: Any) -> None:
    ledger = pg_ledger
    settings: Settings = ledger.settings
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(10)])

    def busy() -> None:
        for _ in range(5):
            more(ledger, 3)
            ledger.lookups.head()
            with ledger.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_sleep(0.05)"))

    threads = [threading.Thread(target=busy) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ledger.runner.catch_up(lambda n: None)
    # Under load the pools grew past what they keep; idle, the read pool holds what it
    # keeps and the event store at most its four (the extra two close after idling).
    assert 0 < _connections(settings.database_url) <= settings.db_pool_size + 4
