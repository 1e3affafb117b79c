"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger.bootstrap import Ledger, build_ledger
from ledger.settings import Settings
from tests.conftest import TABLES


@pytest.fixture
def pg_ledger(pg_database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger on PostgreSQL only (the tests of what only PostgreSQL does)."""
    engine = sa.create_engine(pg_database_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)}"))
    engine.dispose()
    settings = Settings(
        database_url=pg_database_url,
        signing_key_file=tmp_path / "signing-key.pem",
        key_cache_seconds=0,
    )
    built = build_ledger(settings)
    try:
        yield built
    finally:
        built.close()
