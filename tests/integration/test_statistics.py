"""The projections' tables keep PostgreSQL's planner statistics up as the workers write
them (``ledger.store.statistics``): a table changed by more than a fraction since its
last analysis is analysed by the runner, and a lookup of many keys is then planned
through its index instead of as a scan of the whole table."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.bootstrap import Ledger, build_ledger
from ledger.projections.custody import CustodyProjection
from ledger.projections.runner import Runner
from ledger.settings import Settings
from ledger.store import statistics
from ledger.store.migrate import upgrade
from ledger.store.statistics import Statistics, stale_tables
from ledger.store.tables import event_index
from ledger.store.upsert import insert_many
from tests.conftest import emptied
from tests.integration.test_catch_up import append, history


@pytest.fixture
def pg_url(pg_database_url: str) -> str:
    """The session's PostgreSQL database, emptied."""
    return emptied(pg_database_url)


@pytest.fixture
def pg_ledger(pg_url: str, tmp_path: Path) -> Iterator[Ledger]:
    built = build_ledger(Settings(database_url=pg_url, signing_key_file=tmp_path / "k.pem"))
    try:
        yield built
    finally:
        built.close()


def _fill_index(engine: sa.Engine, start: int, n: int, subjects: int = 500) -> list[str]:
    """``n`` rows of ``proj_event_index``, their counts published at once (a session
    publishes them at most once a second: ``pg_stat_force_next_flush``)."""
    rows = [
        {"subject": f"asset:a{i % subjects}", "position": i, "event_id": f"e{i}"}
        for i in range(start, start + n)
    ]
    with engine.connect() as conn:
        insert_many(conn, event_index, rows)
        conn.commit()
        conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
        conn.commit()
    return [r["event_id"] for r in rows]


def _plan(engine: sa.Engine, ids: list[str]) -> str:
    query = sa.select(event_index.c.event_id, event_index.c.subject).where(
        event_index.c.event_id.in_(ids)
    )
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan: Any = conn.execute(sa.text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
    return str(plan[0]["Plan"]["Node Type"])


def test_a_table_changed_enough_is_analysed_once(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        ids = _fill_index(engine, 0, 20_000)
        assert "proj_event_index" in stale_tables(engine)
        # (Never analysed, as on a server without autovacuum, the table is planned as a
        # scan for these keys: benchmarks/NOTES.md. The session's database may have
        # been analysed by autovacuum, so that is not asserted here.)

        seen = Statistics(engine, every=10, look_first=False)
        seen.applied(9)
        assert not seen.analysed  # not yet due: nothing asked, nothing analysed
        seen.applied(1)
        assert "proj_event_index" in seen.analysed
        assert "proj_event_index" not in stale_tables(engine)
        assert _plan(engine, ids[::400]) in ("Bitmap Heap Scan", "Index Scan")

        # A change below the fraction does not analyse it again; one above does.
        seen.analysed.clear()
        _fill_index(engine, 20_000, 1_000)
        seen.applied(10)
        assert "proj_event_index" not in seen.analysed
        _fill_index(engine, 21_000, 9_000)
        seen.applied(10)
        assert "proj_event_index" in seen.analysed
    finally:
        engine.dispose()


def test_a_new_runner_looks_before_anything_is_counted(pg_url: str) -> None:
    """A restarted worker's first step reads what it stored, maybe never analysed."""
    engine = sa.create_engine(pg_url)
    try:
        _fill_index(engine, 0, 5_000)
        seen = Statistics(engine)
        seen.applied(0)
        assert "proj_event_index" in seen.analysed
        seen.analysed.clear()
        _fill_index(engine, 5_000, 5_000)
        seen.applied(0)  # looked once: the next look is every positions on
        assert not seen.analysed
    finally:
        engine.dispose()


def test_the_runner_counts_what_it_applies(ledger: Any) -> None:
    """Every batch a catch-up applies is counted toward the next look at the tables,
    and the catch-up looks before its first batch (a count of none, due at first)."""
    events = history(40)
    append(ledger, events)
    counted: list[int] = []
    runner = Runner(ledger.engine, ledger.store, [CustodyProjection()], batch_size=7)
    runner.statistics.applied = counted.append  # type: ignore[method-assign]
    assert runner.catch_up() == len(events)
    assert counted[0] == 0
    assert sum(counted) == len(events) and max(counted) <= 7


def test_a_catch_up_analyses_its_tables(pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = pg_ledger
    append(ledger, history(40))
    runner = Runner(ledger.engine, ledger.store, [CustodyProjection()], batch_size=10)
    runner.statistics.every = 10
    monkeypatch.setattr(statistics, "CHANGED_MIN", 10)  # a small ledger's tables
    before = _analyses(ledger.engine)
    # The runner's sessions publish their counts within a second, or as they end: at
    # each look, end them and wait for the counts, as a longer catch-up would.
    asked = stale_tables

    def published_then_asked(engine: sa.Engine) -> list[str]:
        engine.dispose()
        deadline = time.monotonic() + 3
        while not (stale := asked(engine)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return stale

    monkeypatch.setattr(statistics, "stale_tables", published_then_asked)
    runner.catch_up()
    assert "proj_event_index" in runner.statistics.analysed
    assert _analyses(ledger.engine) > before


def _analyses(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT analyze_count FROM pg_stat_user_tables"
                    " WHERE relname = 'proj_event_index'"
                )
            ).scalar_one()
        )


def test_sqlite_is_left_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(url)
    engine = sa.create_engine(url)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    seen = Statistics(engine, every=1)
    seen.applied(0)
    seen.applied(1_000_000)
    assert statements == [] and not seen.analysed
    engine.dispose()


def test_a_failed_look_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    engine = sa.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    seen = Statistics(engine, every=1)
    with caplog.at_level(logging.WARNING, logger="ledger.store.statistics"):
        seen.applied(1)
    assert not seen.analysed
    assert "not analysed" in caplog.text
