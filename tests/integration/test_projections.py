"""Projections: rebuild from zero gives identical rows; SQLite and PostgreSQL give
identical answers; the runner is exactly-once under SIGKILL and survives a cut
connection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from domain.vocabulary import Role
from ledger.bootstrap import Ledger, build_ledger
from ledger.projections.tracking import positions
from ledger.settings import Settings
from ledger.store.migrate import upgrade
from ledger.store.tables import assets, event_amendments, event_index, event_routes
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire
from tests.conftest import TABLES

ROOT = Path(__file__).resolve().parents[2]
ADMIN = Principal("admin", Role.ADMIN)


def append(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], ADMIN)


def snapshot(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with ledger.engine.connect() as conn:
        for table in (assets, event_index, event_amendments, event_routes):
            order = table.primary_key.columns or table.columns  # the routes have no key
            rows = conn.execute(sa.select(table).order_by(*order)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def random_history(n: int, seed: int) -> list[dict[str, Any]]:
    import random

    rnd = random.Random(seed)
    parties = ["iq-army", "iq-9th", "isil", "pmf"]
    events: list[dict[str, Any]] = [wire.asset(f"t{i}") for i in range(5)]
    holder = {f"t{i}": "iq-army" for i in range(5)}
    for i in range(n):
        a = f"t{rnd.randrange(5)}"
        when = f"20{14 + rnd.randrange(6)}-0{1 + rnd.randrange(9)}-1{rnd.randrange(10)}T00:00:00Z"
        kind = rnd.random()
        if kind < 0.5:
            to = rnd.choice([p for p in parties if p != holder[a]])
            events.append(wire.transfer([a], holder[a], to, occurred_at=when))
            holder[a] = to
        elif kind < 0.7:
            events.append(wire.capture([a], "isil", occurred_at=when))
        elif kind < 0.8 and i > 3 and events[-1]["type"] != "event_retracted":
            events.append(wire.retraction(events[-1]["event_id"]))
        else:
            events.append(
                wire.event(
                    "observation",
                    {
                        "observed_party": rnd.choice(parties),
                        "condition": "ok",
                        "activity": "parked",
                    },
                    asset_ids=[a],
                    occurred_at=when,
                )
            )
    return events


def test_rebuild_from_zero_gives_identical_rows(ledger: Ledger) -> None:
    append(ledger, wire.reference_world())
    append(ledger, random_history(150, seed=7))
    ledger.runner.catch_up()
    before = snapshot(ledger)
    assert before["proj_assets"], "the projection must have rows"
    ledger.runner.rebuild()
    assert snapshot(ledger) == before
    names = [p.name for p in ledger.runner.projections]
    assert positions(ledger.engine, names)["custody"] == ledger.lookups.head()[0]


@pytest.fixture
def both(pg_database_url: str, tmp_path: Path) -> Any:
    sqlite_url = f"sqlite:///{tmp_path}/both.db"
    upgrade(sqlite_url)
    made = []

    def fresh() -> tuple[Ledger, Ledger]:
        engine = sa.create_engine(pg_database_url)
        with engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE " + ", ".join(TABLES)))
        engine.dispose()
        path = tmp_path / f"both-{len(made)}.db"
        upgrade(f"sqlite:///{path}")
        pair = (
            build_ledger(Settings(database_url=f"sqlite:///{path}")),
            build_ledger(Settings(database_url=pg_database_url)),
        )
        made.extend(pair)
        return pair

    yield fresh
    for ledger in made:
        ledger.close()


@hsettings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 60))
def test_sqlite_and_postgres_give_identical_answers(both: Any, seed: int, n: int) -> None:
    lite, pg = both()
    events = wire.reference_world() + random_history(n, seed)
    for ledger in (lite, pg):
        append(ledger, events)
        ledger.runner.catch_up()
    for asset_id in (f"t{i}" for i in range(5)):
        for as_of in (None, "2016-06-01T00:00:00Z"):
            from domain.instants import parse

            t = parse(as_of) if as_of else None
            a = lite.reads.asset(asset_id, as_of=t, known_at=None)
            b = pg.reads.asset(asset_id, as_of=t, known_at=None)
            for view in (a, b):
                view.pop("as_of"), view.pop("known_at")
            assert a == b
        bands_a = lite.reads.timeline(asset_id, as_of=None, known_at=None)["bands"]
        assert bands_a == pg.reads.timeline(asset_id, as_of=None, known_at=None)["bands"]


# --- crash and connection loss (PostgreSQL workers) --------------------------------------


def _seeded_pg(url: str, n: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE " + ", ".join(TABLES)))
    engine.dispose()
    ledger = build_ledger(Settings(database_url=url))
    append(ledger, wire.reference_world() + [wire.asset(f"t{i}") for i in range(50)])
    for start in range(0, n, 1000):
        append(
            ledger,
            [
                wire.transfer(
                    [f"t{i % 50}"],
                    *(("iq-army", "iq-9th") if (i // 50) % 2 == 0 else ("iq-9th", "iq-army")),
                )
                for i in range(start, min(n, start + 1000))
            ],
        )
    ledger.close()


def _worker(url: str, batch: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": url,
        "LEDGER_PROJECTION_BATCH_SIZE": str(batch),
        "LEDGER_PROJECTION_CATCH_UP_BATCH_SIZE": str(batch),
        "LEDGER_PROJECTION_POLL_SECONDS": "0.2",
        "LEDGER_SIGNING_KEY_FILE": str(Path(tempfile.gettempdir()) / "ledger-test-signing-key.pem"),
    }
    return subprocess.Popen([sys.executable, "-m", "ledger.cli", "project"], cwd=ROOT, env=env)


def _wait_caught_up(url: str, timeout: float) -> int:
    ledger = build_ledger(Settings(database_url=url))
    try:
        head = ledger.lookups.head()[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if positions(ledger.engine, ["custody"])["custody"] >= head:
                return head
            time.sleep(0.1)
        raise AssertionError(f"worker did not catch up to {head}")
    finally:
        ledger.close()


@pytest.mark.slow
def test_worker_killed_mid_batch_applies_every_event_exactly_once(pg_database_url: str) -> None:
    _seeded_pg(pg_database_url, 12_000)
    worker = _worker(pg_database_url, 500)
    ledger = build_ledger(Settings(database_url=pg_database_url))
    try:
        deadline = time.monotonic() + 60
        while (
            positions(ledger.engine, ["custody"])["custody"] < 2000 and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        killed_at = positions(ledger.engine, ["custody"])["custody"]
        assert 0 < killed_at < ledger.lookups.head()[0], "the kill must land mid-catch-up"
        restarted = _worker(pg_database_url, 500)
        _wait_caught_up(pg_database_url, 120)
        restarted.terminate()
        restarted.wait(timeout=30)
        after_crash = snapshot(ledger)
        ledger.runner.rebuild()
        assert snapshot(ledger) == after_crash
        with ledger.engine.connect() as conn:
            indexed = conn.execute(sa.select(sa.func.count()).select_from(event_index)).scalar_one()
        # One index row per event, and a second for each of the 50 registrations (filed
        # under "registrations" as well as under their asset).
        assert indexed == ledger.lookups.head()[0] + 50, "one row per subject of each event"
    finally:
        ledger.close()


@pytest.mark.slow
def test_worker_reconnects_after_its_connection_is_cut(pg_database_url: str) -> None:
    _seeded_pg(pg_database_url, 500)
    worker = _worker(pg_database_url, 100)
    try:
        head = _wait_caught_up(pg_database_url, 60)
        dbname = sa.engine.make_url(pg_database_url).database
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            cut = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            ).fetchone()
        assert cut and cut[0] > 0
        ledger = build_ledger(Settings(database_url=pg_database_url))
        append(ledger, [wire.capture(["t1"], "isil", event_id="after-cut")])
        ledger.close()
        assert _wait_caught_up(pg_database_url, 60) == head + 1
        assert worker.poll() is None, "the worker must survive"
        ledger = build_ledger(Settings(database_url=pg_database_url))
        assert ledger.reads.asset("t1", as_of=None, known_at=None)["custodian"] == "isil"
        ledger.close()
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.slow
def test_two_workers_share_the_log_without_applying_an_event_twice(pg_database_url: str) -> None:
    _seeded_pg(pg_database_url, 6000)
    workers = [_worker(pg_database_url, 200), _worker(pg_database_url, 200)]
    try:
        _wait_caught_up(pg_database_url, 120)
        assert [w.poll() for w in workers] == [None, None], "both workers must still run"
    finally:
        for w in workers:
            w.terminate()
            w.wait(timeout=30)
    ledger = build_ledger(Settings(database_url=pg_database_url))
    try:
        shared = snapshot(ledger)
        ledger.runner.rebuild()
        assert snapshot(ledger) == shared
    finally:
        ledger.close()
