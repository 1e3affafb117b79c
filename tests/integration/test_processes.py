"""Four writer processes on PostgreSQL append 2,000 events each while a reader tails
``GET /v1/events``: the reader sees every position exactly once, in order, with no
gap, and the chain verifies. (eventsourcing's "database functions" insert mode lets a
tailing reader skip events; the ledger's recorder assigns positions under the table
lock instead, and this test is the proof.)"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.vocabulary import Role
from ledger.bootstrap import build_ledger
from ledger.settings import Settings
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire
from tests.conftest import TABLES
from tests.integration.test_chain import raw_rows, recompute

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4
EACH = 2000


@pytest.mark.slow
def test_four_writer_processes_and_a_tailing_reader(pg_database_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE " + ", ".join(TABLES)))
    engine.dispose()
    settings = Settings(database_url=pg_database_url, key_cache_seconds=60)
    ledger = build_ledger(settings)
    seed = wire.reference_world() + [wire.asset(f"w{n}") for n in range(WRITERS)]
    ledger.appender.append(
        [EVENT_ADAPTER.validate_python(e) for e in seed], Principal("admin", Role.ADMIN)
    )
    key = ledger.keys.create("tail", "auditor")
    total = len(seed) + WRITERS * EACH

    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.writer_process",
                pg_database_url,
                str(EACH),
                f"w{n}",
            ],
            cwd=ROOT,
        )
        for n in range(WRITERS)
    ]
    seen: list[int] = []
    after = 0
    deadline = time.monotonic() + 240
    with TestClient(create_app(ledger=ledger)) as client:
        while len(seen) < total and time.monotonic() < deadline:
            page = client.get(
                f"/v1/events?after={after}&limit=500", headers={"Authorization": f"Bearer {key}"}
            )
            assert page.status_code == 200
            positions = [e["position"] for e in page.json()["events"]]
            seen += positions
            if positions:
                after = positions[-1]
            else:
                time.sleep(0.005)
    codes = [p.wait(timeout=60) for p in procs]
    ledger.close()
    assert codes == [0] * WRITERS
    assert seen == list(range(1, total + 1)), "the reader must see each position once, in order"
    recompute(raw_rows(pg_database_url))
