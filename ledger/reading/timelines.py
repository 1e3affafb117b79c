"""Stored timelines: each asset's timeline at the current time, built ahead of the
reads that ask for it (issue: write path and custody throughput; docs/decisions/0013).

Folding a timeline reads the asset's ~100 events from wherever the log put them (a
random page each), parses them and folds them: about 9 ms at 1M events, most of it
unavoidable per read. The warmer does that work once per change instead: after the
custody projection has indexed new events, it stores the timeline of every asset they
touch in ``proj_timelines`` with what it was built from. ``Reads.timeline`` serves a
stored body only while the asset's last indexed position, the reference data's key
and the clock (before ``valid_until``) are still those; otherwise it folds, as it
always did. So a stored body can be late, never wrong.

The warmer keeps its own position (``projection_tracking`` row ``timelines``). It
reads the new events' bytes, finds the assets they concern (an amendment concerns its
target's assets; reference data concerns every asset, whose bands it may split), folds
each such asset once, whatever the number of its new events, and stores the bodies in
short transactions: the folds happen outside any write transaction, so on SQLite the
appends never wait for them. It also rebuilds bodies whose ``valid_until`` has passed.
It runs in a thread of its own beside the projection runner (in ``ledger serve`` on
SQLite, in ``ledger project`` on PostgreSQL). Several warmers may run: whichever body
is stored last, a read serves it only if its inputs are still the current ones. A
step that finds the custody projection rebuilt meanwhile stops without writing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from domain.history import Event
from domain.instants import to_stored
from domain.vocabulary import REFERENCE_TYPES, EventType
from ledger.errors import NotFoundError
from ledger.following import Follower
from ledger.projections.custody_queries import REF
from ledger.projections.tracking import tracking_position
from ledger.reading.custody import Reads
from ledger.store.eventstore import EventStore
from ledger.store.tables import assets, event_index, projection_tracking, timelines
from ledger.store.upsert import upsert

log = logging.getLogger(__name__)

NAME = "timelines"
_AMENDMENTS = frozenset({EventType.EVENT_RETRACTED, EventType.EVENT_CORRECTED})
_PAGE = 20_000
_CHUNK = 100


class TimelineWarmer(Follower):
    thread_name = "ledger-timelines"
    what = "timeline warmer"

    def __init__(self, engine: Engine, store: EventStore, reads: Reads) -> None:
        super().__init__()
        self.engine = engine
        self.store = store
        self.reads = reads

    # -- one step ------------------------------------------------------------------------

    def step(self, progress: Callable[[int], None] | None = None) -> int:
        """Store the timelines of the assets changed since the last step, up to the
        custody projection's position; returns how many were stored. A stop request
        between chunks leaves the position where it was (the next step redoes them)."""
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            done = tracking_position(conn, NAME, lock=False)
            upto = tracking_position(conn, "custody", lock=False)
            # Bodies whose time has passed (an instant they name is now behind us).
            expired = {
                r[0]
                for r in conn.execute(
                    sa.select(timelines.c.asset_id).where(timelines.c.valid_until <= to_stored(now))
                )
            }
        touched = self._touched(done, upto) if upto > done else set()
        asset_ids = sorted(touched | expired)
        stored = 0
        for i in range(0, len(asset_ids), _CHUNK):
            if self._stop.is_set():
                return stored
            rows = [r for a in asset_ids[i : i + _CHUNK] if (r := self._build(a, now))]
            with self.engine.begin() as conn:
                if not _custody_still_at_least(conn, upto):
                    return stored  # rebuilt meanwhile: these bodies are of the old index
                upsert(conn, timelines, rows, ["asset_id"])
            stored += len(rows)
            if progress is not None:
                progress(len(rows))
        if upto > done:
            with self.engine.begin() as conn:
                if not _custody_still_at_least(conn, upto):
                    return stored
                if tracking_position(conn, NAME, lock=True) < upto:
                    conn.execute(
                        projection_tracking.update()
                        .where(projection_tracking.c.name == NAME)
                        .values(position=upto, updated_at=now)
                    )
        return stored

    def _build(self, asset_id: str, now: datetime) -> dict[str, Any] | None:
        """The row of one asset's current timeline; None if it has none. A fold that
        fails is logged and skipped: reads of that asset fold (and fail) on their own,
        and the other assets are not held back."""
        try:
            with self.engine.connect() as conn:
                built = self.reads.timeline_body(conn, asset_id, now, None, to_store=True)
        except NotFoundError:
            return None
        except (sa.exc.DBAPIError, psycopg.Error, OSError):
            raise
        except Exception:
            log.exception("timeline warmer: could not fold asset %r; skipped", asset_id)
            return None
        return {
            "asset_id": asset_id,
            "position": built.position,
            "inputs": built.inputs,
            "valid_from": built.valid_from,
            "valid_until": built.valid_until,
            "body": orjson.dumps(built.body).decode(),
        }

    def _touched(self, done: int, upto: int) -> set[str]:
        """The assets whose timeline the events in ``(done, upto]`` may change."""
        touched: set[str] = set()
        targets: list[str] = []
        everyone = False
        start = done + 1
        while start <= upto:
            page = self.store.read_states(start, _PAGE, upto)
            if not page:
                break
            for position, state in page:
                e = Event.parse(position, orjson.loads(state), owned=True)
                if e.type in _AMENDMENTS:
                    targets.append(e.target_event_id or "")
                elif e.type in REFERENCE_TYPES:
                    everyone = True
                else:
                    touched.update(e.subjects)
            start = page[-1][0] + 1
        with self.engine.connect() as conn:
            for subject in _subjects_of(conn, targets):
                if subject == REF:
                    everyone = True
                elif subject.startswith("asset:"):
                    touched.add(subject[6:])
            if everyone:
                touched.update(r[0] for r in conn.execute(sa.select(assets.c.asset_id)))
        return touched

    # -- following (ledger.following) -------------------------------------------------

    def work(self) -> object:
        return self.step()


def _custody_still_at_least(conn: sa.Connection, position: int) -> bool:
    """Inside a write transaction: the custody projection has not been reset below
    ``position`` since the step began (a rebuild deletes its tracking row in the same
    transaction as its rows). SQLite: the write lock is taken first, so no rebuild can
    commit between this check and the step's writes; PostgreSQL: the row is locked
    ``FOR SHARE``, which a rebuild's delete waits for."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("UPDATE projection_tracking SET name = name WHERE 0")
    query = sa.select(projection_tracking.c.position).where(projection_tracking.c.name == "custody")
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    found = conn.execute(query).scalar_one_or_none()
    return found is not None and int(found) >= position


def _subjects_of(conn: sa.Connection, event_ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(event_ids))
    out: set[str] = set()
    for i in range(0, len(wanted), 500):
        out.update(
            r[0]
            for r in conn.execute(
                sa.select(event_index.c.subject).where(
                    event_index.c.event_id.in_(wanted[i : i + 500])
                )
            )
        )
    return out
