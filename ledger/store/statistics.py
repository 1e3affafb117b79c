"""The planner's statistics of the projections' tables, kept up by the workers that
write them.

PostgreSQL plans a query from what ``ANALYZE`` last sampled of each table. Its
autovacuum daemon analyses a table once a tenth of it has changed — when it runs: it
can be switched off (this project's benchmark machine has it off), and it wakes once a
minute at most. A table that was never analysed is planned from its size on disk
alone, and a lookup of a thousand keys through an index is then judged to match a
tenth of the table: PostgreSQL scans the whole of it instead. Measured on the
realistic world at 1,000,000 events (benchmarks/NOTES.md, 2026-12-07), a catch-up of
custody and findings without statistics scanned ``proj_event_index`` 1,011 times
(788 million rows read) and ``proj_event_routes`` 552 times, and the contract report
spent 2.2 of its 3.2 s in eleven such lookups; after one ``ANALYZE`` (2.3 s) it took
1.3 s.

So a projection runner, at its first catch-up and then every :data:`CHECK_EVERY`
positions its projections pass (events applied; a findings partition counts every
position it passes, its share or not), asks PostgreSQL which of the projections' tables
changed by more than :data:`CHANGED_FRACTION` of their rows (and :data:`CHANGED_MIN`)
since they were last analysed — by anyone: autovacuum, another worker, an operator —
and analyses those. The question is a read of ``pg_stat_user_tables`` (about a
millisecond); an ``ANALYZE`` samples at most 30,000 rows a table, so it costs seconds
at most whatever the table's size, and as a table grows geometrically it is analysed a
logarithmic number of times. The counters are shared, so a worker seldom analyses what
another just did; ``SKIP_LOCKED`` passes over a table that another worker is analysing
or autovacuum is vacuuming, rather than wait for it (or cancel autovacuum's vacuum).
A role that does not own the tables cannot analyse them: PostgreSQL skips them with a
warning, and they stay as they are.

Only ``ANALYZE``: dead rows are ``VACUUM``'s, which is heavier and left to autovacuum
(README, "Running on PostgreSQL"). On SQLite nothing is done: its planner prefers an
index where one applies, with or without ``sqlite_stat1``.
"""

from __future__ import annotations

import logging
import time
from collections import deque

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.store.tables import metadata

log = logging.getLogger(__name__)

CHECK_EVERY = 20_000
"""Positions a runner's projections pass between two looks at the tables' counters."""
CHANGED_FRACTION = 0.2
CHANGED_MIN = 1_000
"""A table is analysed when the rows changed since its last analysis exceed
``CHANGED_MIN + CHANGED_FRACTION × its live rows`` (autovacuum's rule, with its
defaults of 50 and 0.1 raised: a worker's analysis is paid inside a catch-up)."""

PROJECTION_TABLES = tuple(t.name for t in metadata.sorted_tables if t.name.startswith("proj_"))

# The tables as the search path finds them (``to_regclass``), as the projections do.
_STALE = sa.text(
    "SELECT relname FROM pg_stat_user_tables"
    " WHERE relid = ANY(ARRAY(SELECT to_regclass(n) FROM unnest(CAST(:names AS text[])) n))"
    " AND n_mod_since_analyze > :least + :fraction * n_live_tup"
    " ORDER BY relname"
)


def stale_tables(engine: Engine, tables: tuple[str, ...] = PROJECTION_TABLES) -> list[str]:
    """Those of ``tables`` that changed enough since their last analysis (PostgreSQL)."""
    with engine.connect() as conn:
        rows = conn.execute(
            _STALE,
            {"names": list(tables), "least": CHANGED_MIN, "fraction": CHANGED_FRACTION},
        )
        return [r[0] for r in rows]


def analyse(engine: Engine, tables: list[str]) -> float:
    """``ANALYZE`` these tables; the seconds it took."""
    started = time.perf_counter()
    quoted = ", ".join(engine.dialect.identifier_preparer.quote(t) for t in tables)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"ANALYZE (SKIP_LOCKED) {quoted}")
    return time.perf_counter() - started


class Statistics:
    """Counts the positions a runner's projections pass and, at the first count
    (``look_first``: a restarted worker's tables may never have been analysed) and then
    every :data:`CHECK_EVERY`, analyses the projections' tables that need it
    (PostgreSQL only; see the module)."""

    def __init__(
        self, engine: Engine, *, every: int = CHECK_EVERY, look_first: bool = True
    ) -> None:
        self.engine = engine
        self.every = every
        self.enabled = engine.dialect.name == "postgresql"
        self._since = every if look_first else 0
        # The tables last analysed, in order (what the tests and an operator's debugger
        # read): bounded, as a worker runs for weeks.
        self.analysed: deque[str] = deque(maxlen=64)

    def applied(self, n: int) -> None:
        if not self.enabled:
            return
        self._since += n
        if self._since < self.every:
            return
        self._since = 0
        try:
            tables = stale_tables(self.engine)
            if tables:
                seconds = analyse(self.engine, tables)
                self.analysed.extend(tables)
                log.info("analysed %s in %.1f s", ", ".join(tables), seconds)
        except sa.exc.SQLAlchemyError as e:  # the projection goes on; its next batch will tell
            log.warning("the projections' tables were not analysed (%s)", e)
