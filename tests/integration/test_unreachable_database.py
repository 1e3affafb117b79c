"""A PostgreSQL that really refuses connections (not a mock): every endpoint answers
503 with ``Retry-After`` promptly, nothing is stored, and the server recovers by itself
once the database is back (issue #16 item 3)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.bootstrap import Ledger
from tests import wire
from tests.integration.integrity_helpers import append

pytestmark = pytest.mark.postgres


def _admin(url: str) -> sa.Engine:
    admin_url = sa.make_url(url).set(database="postgres")
    return sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


@pytest.fixture
def refusing(pg_ledger: Ledger) -> Iterator[Any]:
    """A function that makes the ledger's database refuse (True) or accept (False)
    connections, cutting the open ones."""
    name = sa.make_url(pg_ledger.settings.database_url).database
    admin = _admin(pg_ledger.settings.database_url)

    def refuse(on: bool) -> None:
        with admin.connect() as conn:
            conn.execute(
                sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not on).lower()}')
            )
            if on:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": name},
                )

    try:
        yield refuse
    finally:
        refuse(False)
        admin.dispose()


def test_an_unreachable_database_gives_503s_and_the_server_recovers(
    pg_ledger: Ledger, refusing: Any
) -> None:
    append(pg_ledger, wire.reference_world())
    append(pg_ledger, [wire.asset("t1")])
    headers = {"Authorization": f"Bearer {pg_ledger.keys.create('admin', 'admin', None)}"}
    pg_ledger.settings.key_cache_seconds = 60  # the key is known; the database is not
    with TestClient(create_app(ledger=pg_ledger), raise_server_exceptions=False) as client:
        assert client.get("/v1/events", headers=headers).status_code == 200
        before = pg_ledger.lookups.head()[0]
        refusing(True)
        calls = [
            ("GET", "/v1/events", None),
            ("GET", "/v1/assets/t1", None),
            ("GET", "/v1/findings", None),
            ("POST", "/v1/events", wire.transfer(["t1"], "iq-army", "iq-9th")),
        ]
        for method, path, body in calls:
            started = time.monotonic()
            r = client.request(method, path, json=body, headers=headers)
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert int(r.headers["Retry-After"]) > 0
            assert r.json()["type"].endswith((":unavailable", ":not-ready"))
            assert time.monotonic() - started < 15, path
        assert client.get("/readyz").status_code == 503

        refusing(False)
        deadline = time.monotonic() + 30
        while True:
            r = client.post(
                "/v1/events", json=wire.transfer(["t1"], "iq-army", "iq-9th"), headers=headers
            )
            if r.status_code == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert r.status_code == 201, r.text
        assert pg_ledger.lookups.head()[0] == before + 1  # the refused append stored nothing
        assert client.get("/v1/events", headers=headers).status_code == 200
