"""Shared fixtures: a parametrised backend (SQLite, PostgreSQL), a migrated database
per test, the ledger built through the composition root, an HTTP client and keys.

PostgreSQL comes from LEDGER_TEST_POSTGRES_URL (default: the local server). Each test
session creates its own database there and drops it at the end. When CI=true an
unreachable PostgreSQL fails the run; elsewhere its tests are skipped with the reason.

The domain runs compiled when ``make compile`` built it (decision 0027): the tests
marked ``source_only`` look inside its objects and are then left out of the run (not
skipped: ``make test`` runs them again with ``LEDGER_PURE_PYTHON=1``). Under CI=true the
domain must run compiled, as the image runs it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import domain
from ledger.bootstrap import Ledger, build_ledger
from ledger.settings import Settings
from ledger.store.migrate import upgrade
from ledger.store.tables import metadata

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# Every table Alembic creates (the event store is in the same metadata): a test on
# PostgreSQL starts from empty tables, whatever a later migration adds.
TABLES = tuple(metadata.tables)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not domain.COMPILED:
        return
    inside = [i for i in items if i.get_closest_marker("source_only")]
    if inside:
        items[:] = [i for i in items if not i.get_closest_marker("source_only")]
        config.hook.pytest_deselected(items=inside)


def pytest_report_header(config: pytest.Config) -> str:
    return f"domain: {'compiled (mypyc)' if domain.COMPILED else 'source'}: {domain.COMPILED_STATE}"


def _pg_conninfo(url: str) -> str:
    u = make_url(url)
    return (
        f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} "
        f"dbname={u.database or 'postgres'}" + (f" password={u.password}" if u.password else "")
    )


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, migrated to head."""
    try:
        admin = psycopg.connect(_pg_conninfo(PG_ADMIN_URL), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable in CI at {PG_ADMIN_URL}: {e}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL} (outside CI): {e}")
    name = f"ledger_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ledger.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    return emptied(request.getfixturevalue("pg_database_url"))


def emptied(url: str) -> str:
    """The session's PostgreSQL database at ``url``, every table emptied."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)}"))
    engine.dispose()
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        signing_key_file=tmp_path / "signing-key.pem",
        key_cache_seconds=0,
    )


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    built = build_ledger(settings)
    try:
        yield built
    finally:
        built.close()
