"""Projections shared out among workers through the database: a worker holds a lease
on each projection it runs (a row of ``projection_leases``: owner, lease_until) and
renews it while it works; a lease not renewed lapses and another worker takes it
over. Workers say they are alive in the same table (``worker/ID`` rows), so each
takes a fair share — the leased projections divided by the workers alive — and one
that holds more than its share when another arrives gives the rest up.

The leases only share out the work: two workers that both believe they hold one (a
worker paused past its lease) still serialise on the projection's tracking row
(``ledger.projections.runner``), and the one behind resumes from what is stored.
PostgreSQL is the substrate (no broker); on SQLite there is one worker, which takes
every lease.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from domain.rules.collector import before_sweeps
from ledger.store.tables import projection_leases as leases

log = logging.getLogger(__name__)

WORKER = "worker/"

BALANCE_SECONDS = 0.5
"""How often, at most, a worker's renewing thread looks whether the leases are still
shared fairly between its renewals (:meth:`Leases.unbalanced`): a worker that arrives
gets its share within about twice this, not a third of a lease or more later (two
workers restarted together at a million events: the second waited 2 s of 6 s leases
for its partition, 10 s or more with the default 30 s)."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leases:
    """This worker's leases on ``names``, renewed at most every ``seconds / 3``
    (:meth:`held`)."""

    def __init__(
        self,
        engine: Engine,
        names: Sequence[str],
        *,
        owner: str | None = None,
        seconds: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.names = list(names)
        self.owner = owner or worker_id()
        self.seconds = seconds
        # The database's clock by default, so that workers on machines whose clocks
        # disagree agree on when a lease lapses.
        self.clock = clock
        self._held: frozenset[str] = frozenset()
        self._renewed = -math.inf
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()
        self._floor: datetime | None = None  # what renewals do not shorten the leases to
        # One renewal at a time (the thread's, a step's, a pause's, the release): one
        # that began before a pause's extension does not end after it, undoing it.
        self._renewing = threading.Lock()
        self._unhook: Callable[[], None] | None = None

    def held(self, *, now: bool = False, extra: float = 0.0) -> frozenset[str]:
        """The projections this worker runs; renewed when due (``now``: at once), for
        ``extra`` seconds more than a lease (:meth:`pausing`)."""
        if now or self.due():
            with self._renewing:
                with self.engine.begin() as conn:
                    held = self._renew(conn, extra)
                # Once committed: the worker's other thread (the runner's, or the
                # renewing one) does not act on leases the database does not hold yet,
                # nor on any whose commit failed.
                self._held = held
            self._renewed = time.monotonic()
        return self._held

    def due(self, early: float = 0.0) -> bool:
        """Whether a third of the lease has passed since the last renewal, or will
        have within ``early`` seconds (the renewing thread's, which looks that often)."""
        return time.monotonic() - self._renewed >= self.seconds / 3 - early

    def unbalanced(self) -> bool:
        """Whether this worker holds more than its share of the leases (another worker
        has arrived), or less while one lies free (given up, or lapsed): what a renewal
        would change. Only reads, without locking: :meth:`held` then renews under the
        rows' locks, and decides again. A database that does not answer counts as
        fair: the renewal, when due, says it failed."""
        try:
            with self.engine.connect() as conn:
                now = self._now(conn)
                worker, mine = leases.c.name.like(WORKER + "%"), leases.c.name.in_(self.names)
                lapsed = sa.or_(leases.c.lease_until.is_(None), leases.c.lease_until <= now)
                alive, free = conn.execute(
                    sa.select(
                        sa.func.count(sa.case((sa.and_(worker, leases.c.lease_until >= now), 1))),
                        sa.func.count(sa.case((sa.and_(mine, lapsed), 1))),
                    )
                ).one()
        except sa.exc.SQLAlchemyError as e:
            log.debug("projection leases: the share-out not looked at (%s)", e)
            return False
        share = math.ceil(len(self.names) / max(1, alive))
        held = len(self._held)
        return held > share or (held < share and free > 0)

    def keep_renewed(self) -> None:
        """Renew in a thread of its own too, every third of the lease: a step that
        runs longer than a lease (a walk resumed over a long log) keeps it. Between
        renewals the thread looks every :data:`BALANCE_SECONDS` whether a worker came
        or went (:meth:`unbalanced`), and renews at once if so: a worker arriving gets
        its share within about a second. A pause of the whole process that the walk
        announces (a sweep of the garbage collector,
        ``domain.rules.collector.before_sweeps``) is covered by :meth:`pausing`."""
        if self._renewer is not None:
            return
        ref, stop = weakref.ref(self), self._stop
        every = min(self.seconds / 3, BALANCE_SECONDS)

        def pausing(seconds: float) -> None:
            leases = ref()
            if leases is not None:
                leases.pausing(seconds)

        self._unhook = before_sweeps(pausing)
        weakref.finalize(self, self._unhook)  # dropped without release(): unhooked

        def renew() -> None:
            # Holds the leases weakly: a worker dropped without release() stops it.
            while not stop.wait(every):
                leases = ref()
                if leases is None:
                    return
                try:
                    if leases.due(early=every) or leases.unbalanced():
                        leases.held(now=True)
                except Exception as e:  # the next step retries; the lease may lapse
                    log.warning("projection leases not renewed (%s)", e)
                del leases

        self._renewer = threading.Thread(target=renew, name="ledger-leases", daemon=True)
        self._renewer.start()

    def pausing(self, seconds: float) -> None:
        """The process is about to stop for about ``seconds`` (no thread of it runs,
        the renewing one included): when that is more than a third of the lease (the
        renewals every third leave two thirds in hand; a third keeps a margin for a
        renewal that is itself late), the leases are renewed now to last that much
        longer, so that no other worker takes them over meanwhile. A worker
        that dies in the pause keeps its leases that much longer. A failure is logged:
        the pause goes ahead, and the leases may lapse in it, as before.

        Not on SQLite: its one worker has nobody to lose its leases to, and the
        renewal would wait for the write lock that the sweeping step holds."""
        if seconds <= self.seconds / 3 or not self._held:
            return
        if self.engine.dialect.name == "sqlite":
            return
        try:
            self.held(now=True, extra=seconds)
        except Exception as e:  # the caller is the garbage collector's sweep
            log.warning("projection leases not extended over a pause of %.1f s (%s)", seconds, e)
        else:
            log.info("projection leases extended by %.1f s over a collector sweep", seconds)

    def release(self) -> None:
        """Give every lease up, and say this worker is gone (a clean stop). The renewing
        thread is stopped first: one renewing while this ran (waiting on the rows'
        lock) took every lease back once it was given up."""
        self._stop.set()
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        if self._renewer is not None and self._renewer is not threading.current_thread():
            self._renewer.join(timeout=max(self.seconds, 1.0))
        with self._renewing, self.engine.begin() as conn:  # after a pause's renewal
            self._lock(conn)
            conn.execute(
                leases.update()
                .where(leases.c.owner == self.owner, leases.c.name.in_(self.names))
                .values(owner=None, lease_until=None)
            )
            conn.execute(leases.delete().where(leases.c.name == WORKER + self.owner))
        self._held, self._renewed = frozenset(), -math.inf

    def _now(self, conn: Connection) -> datetime:
        if self.clock is not None:
            return self.clock()
        if conn.dialect.name == "postgresql":
            return _aware(conn.execute(sa.select(sa.func.now())).scalar_one())
        return datetime.now(UTC)

    def _renew(self, conn: Connection, extra: float = 0.0) -> frozenset[str]:
        now = self._now(conn)
        until = now + timedelta(seconds=self.seconds + extra)
        if extra:  # the renewals until then do not shorten the extension
            self._floor = until
        if self._floor is not None and self._floor > until:
            until = self._floor
        me = WORKER + self.owner
        insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
        conn.execute(
            insert(leases)
            .values([{"name": n, "owner": None, "lease_until": None} for n in self.names])
            .on_conflict_do_nothing(index_elements=["name"])
        )
        rows = self._lock(conn)
        conn.execute(
            insert(leases)
            .values(name=me, owner=self.owner, lease_until=until)
            .on_conflict_do_update(index_elements=["name"], set_={"lease_until": until})
        )
        conn.execute(
            leases.delete().where(leases.c.name.like(WORKER + "%"), leases.c.lease_until < now)
        )
        alive = conn.execute(
            sa.select(sa.func.count()).where(leases.c.name.like(WORKER + "%"))
        ).scalar_one()
        share = math.ceil(len(self.names) / max(1, alive))

        def live(name: str) -> bool:
            lapse = rows[name][1]
            return lapse is not None and _aware(lapse) > now

        mine = [n for n in self.names if rows[n][0] == self.owner and live(n)]
        free = [n for n in self.names if n not in mine and not live(n)]
        give_up, mine = mine[share:], mine[:share]
        mine += free[: max(0, share - len(mine))]
        if give_up:
            conn.execute(
                leases.update()
                .where(leases.c.name.in_(give_up))
                .values(owner=None, lease_until=None)
            )
        if mine:
            conn.execute(
                leases.update()
                .where(leases.c.name.in_(mine))
                .values(owner=self.owner, lease_until=until)
            )
        return frozenset(mine)

    def _lock(self, conn: Connection) -> dict[str, tuple[str | None, datetime | None]]:
        """The leases' rows, locked in the order of their names: workers renewing or
        releasing at once take turns here, before any other row is touched, so no
        two lock rows in different orders (no deadlock)."""
        query = (
            sa.select(leases.c.name, leases.c.owner, leases.c.lease_until)
            .where(leases.c.name.in_(self.names))
            .order_by(leases.c.name)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return {name: (owner, lapse) for name, owner, lapse in conn.execute(query)}


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
