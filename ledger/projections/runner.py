"""Running projections: catch up from the tracking position, then follow the log.

Each batch is one transaction: lock the projection's tracking row, read the next
notifications from the event store, apply them, write the new position. Two workers
on PostgreSQL serialise on the row lock (``SELECT … FOR UPDATE``), so no event is
applied twice; a crash rolls the whole batch back and the next run resumes from the
committed position. A projection that follows another (``after``) may read its
batch itself (``read(conn, position, limit, stop)``: a findings partition asks the
route index for its share of the log, ``ledger.projections.routes``). A projection may also have a ``warm(conn)`` step, run before the
transaction on a connection of its own, for work that only reads (the findings walk
resumed after a restart): on SQLite the batch's transaction holds the write lock, and
appends would wait for it.

Following: in-process (SQLite, ``ledger serve``) the appender wakes the runner after
each commit; on PostgreSQL (``ledger project``) the runner LISTENs for the event store's
NOTIFY and also polls, so a lost notification cannot stall it. Any database error —
a dropped connection, a restarted server — is logged, the pools are reset, and the
runner retries with backoff: eventsourcing's own ProjectionRunner stops on such errors,
which is why the ledger has its own loop (``ledger.following``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

import orjson
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from domain.history import Event
from ledger.following import Follower
from ledger.projections.leases import Leases
from ledger.projections.tracking import tracking_position
from ledger.store.eventstore import EventStore
from ledger.store.statistics import Statistics
from ledger.store.tables import projection_tracking

log = logging.getLogger(__name__)


class Projection(Protocol):
    name: str

    def process(self, conn: Connection, batch: Sequence[Event]) -> None: ...

    def reset(self, conn: Connection) -> None: ...

    def forget(self) -> None: ...


class Runner(Follower):
    thread_name = "ledger-projections"
    what = "projection runner"

    def __init__(
        self,
        engine: Engine,
        store: EventStore,
        projections: Sequence[Projection],
        batch_size: int = 2000,
        *,
        catch_up_batch_size: int | None = None,
        leases: Leases | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        # The projections shared out among workers (``leased``) run only while held.
        self.leases = leases
        self.store = store
        self.projections = list(projections)
        self.batch_size = batch_size
        self.catch_up_batch_size = catch_up_batch_size or batch_size
        self._last_run: dict[str, float] = {}
        # PostgreSQL's statistics of what the projections write, kept up as they do:
        # a table never analysed is scanned whole by lookups of many keys.
        self.statistics = Statistics(engine)

    # -- one step ----------------------------------------------------------------------

    def step(
        self, projection: Projection, *, throttled: bool = False, limit: int | None = None
    ) -> int:
        """Apply the next batch (of ``limit`` events, else ``batch_size``) to one
        projection; returns how many events it applied.

        ``throttled`` (when following the log) lets a projection with a
        ``min_interval_seconds`` run at most that often, so a costly projection gathers
        several commits into one batch instead of taking the CPU at each."""
        interval = getattr(projection, "min_interval_seconds", 0.0)
        if throttled and time.monotonic() - self._last_run.get(projection.name, 0.0) < interval:
            return 0
        self._last_run[projection.name] = time.monotonic()
        try:
            warm = getattr(projection, "warm", None)
            if warm is not None:
                # Work that only reads (a findings walk resumed after a restart) is done
                # before the write lock is taken, so appends do not wait for it.
                with self.engine.connect() as conn:
                    warm(conn)
            with self.engine.begin() as conn:
                if conn.dialect.name == "sqlite":
                    # Take the write lock first, so a concurrent rebuild or worker
                    # cannot interleave between our read of the position and our write.
                    conn.exec_driver_sql("UPDATE projection_tracking SET name = name WHERE 0")
                position = tracking_position(conn, projection.name, lock=True)
                stop = None
                after = getattr(projection, "after", None)
                if after is not None:
                    # A projection that reads another's rows never overtakes them.
                    names = (after,) if isinstance(after, str) else after
                    stop = min(tracking_position(conn, n, lock=False) for n in names)
                    if stop <= position:
                        return 0
                read = getattr(projection, "read", None)
                if read is not None and stop is not None:
                    # Its share of the log only (a findings partition: ``routes``),
                    # read up to ``end``; counted as every position it passed.
                    share, end = read(conn, position, limit or self.batch_size, stop)
                    projection.process(conn, share)
                    self._tracked(conn, projection, end)
                    return int(end) - position
                rows = self.store.read_states(position + 1, limit or self.batch_size, stop)
                if not rows:
                    return 0
                decode = getattr(projection, "decode", None)
                if decode is not None:  # the findings walks' own (``held``; shared by partitions)
                    batch = decode(rows)
                else:  # just decoded, nobody else holds them: frozen in place, not copied
                    batch = [Event.parse(p, orjson.loads(s), owned=True) for p, s in rows]
                projection.process(conn, batch)
                self._tracked(conn, projection, rows[-1][0])
                return len(rows)  # read and applied (a partition parses only its share)
        except BaseException:
            projection.forget()
            raise

    @staticmethod
    def _tracked(conn: Connection, projection: Projection, position: int) -> None:
        conn.execute(
            projection_tracking.update()
            .where(projection_tracking.c.name == projection.name)
            .values(position=position, updated_at=datetime.now(UTC))
        )

    def catch_up(
        self, progress: Callable[[int], None] | None = None, *, throttled: bool = False
    ) -> int:
        total = 0
        self.statistics.applied(0)  # the first catch-up looks before its first step
        for projection in self.projections:
            limit = self.batch_size
            while not self._stop.is_set():  # a stop request is honoured between batches
                if not self._holds(projection):
                    break
                n = self.step(projection, throttled=throttled, limit=limit)
                if progress and n:
                    progress(n)
                self.statistics.applied(n)
                total += n
                if n < limit:
                    break
                limit = self._catch_up_limit(projection)
        return total

    def _holds(self, projection: Projection) -> bool:
        """Whether this worker runs ``projection`` now: always, unless it is shared out
        among workers (``leased``) and another holds it; a projection let go forgets
        what it kept in memory."""
        if self.leases is None or not getattr(projection, "leased", False):
            return True
        self.leases.keep_renewed()
        if projection.name in self.leases.held():
            return True
        projection.forget()
        return False

    def stop(self) -> None:
        super().stop()
        if self.leases is not None:
            try:
                self.leases.release()  # at once to the others, not when the leases lapse
            except (sa.exc.DBAPIError, psycopg.Error, OSError) as e:
                log.warning("projection leases not given up (%s): they lapse", e)

    def _catch_up_limit(self, projection: Projection) -> int:
        """The batch for a projection found behind: ``catch_up_batch_size`` for one that
        allows it (``bulk_catch_up``), on PostgreSQL. Fewer, larger transactions write
        each touched row once for more events (a 1M-event catch-up of custody: 5,000 →
        20,000 took it from 13.5k to 16.9k events/s). Not on SQLite, where a batch holds
        the only write lock and appends would wait for it; not for a projection whose
        batches are costly (findings), which would hold its lock that long."""
        if self.engine.dialect.name == "sqlite" or not getattr(projection, "bulk_catch_up", False):
            return self.batch_size
        return max(self.batch_size, self.catch_up_batch_size)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        with self.engine.begin() as conn:
            for projection in self.projections:
                projection.reset(conn)
                conn.execute(
                    projection_tracking.delete().where(
                        projection_tracking.c.name == projection.name
                    )
                )
        return self.catch_up(progress)

    # -- following (ledger.following) -------------------------------------------------

    def work(self) -> object:
        return self.catch_up(throttled=True)

    def on_database_error(self) -> None:
        self.engine.dispose()


class PostgresListener:
    """Waits for the event store's NOTIFY on its own connection, reconnecting as needed."""

    def __init__(self, conninfo: str, channel: str) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def __call__(self, timeout: float) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
                self._conn.execute(f'LISTEN "{self.channel}"')
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error as e:
            log.warning("listen connection lost (%s); polling until it is back", e)
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            time.sleep(min(timeout, 1.0))
