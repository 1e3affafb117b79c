"""The ledger's event-store recorders: eventsourcing's native SQLite and PostgreSQL
application recorders, extended so that an append also

* assigns ``position`` (the notification id) as previous + 1 under the write lock,
  so positions are gap-free and in commit order with any number of writer processes;
* fills each stored event's ``prev_hash`` and computes its ``hash`` in the same
  transaction (the bytes arrive canonical with a hole for ``prev_hash``, see
  ``ledger.writing.canonical``);
* keeps ``recorded_at`` non-decreasing in position: a process stamps it when the
  request arrives, and another process may commit a later stamp first, so an event
  stamped earlier than the log's head takes the head's ``recorded_at`` (and so does
  its ``reported_at`` unless an importer set that). Knowledge order then follows
  the log for everything but historical imports — what lets the findings walk
  follow the log instead of walking it again (``domain.rules.walk.Walk``);
* registers natural keys and counts asset versions in ``ledger_registry`` and checks
  ``expected_version`` — all inside the one transaction, so nothing is stored unless
  everything is;
* reports ``(position, hash, recorded_at)`` of the attempt that committed, never of an
  attempt the library retried after a dropped connection (``_report``);
* refuses to write on a head it cannot vouch for and seals the new head
  (:class:`HeadGuard`, :mod:`ledger.integrity.seals`): a row someone added to the
  database directly, or a tail someone cut, is never chained into and signed over.

Both recorders take the same keyword arguments through ``Application.save``:
``registrations`` (kind, natural_id, event_id, attrs), ``asset_counts``
(asset_id → events naming it), ``expected`` (asset_id, expected version, events of this
transaction before it) and ``results`` (a list the recorder fills with one
``(position, hash)`` per stored event).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier

from ledger.integrity.errors import TamperedLogError
from ledger.integrity.seals import Sealer
from ledger.writing.canonical import ZERO_HASH

STAMP = 27  # len("2014-06-10T08:00:00.000000Z"): instants are stored fixed width
_RECORDED_KEY = b'"recorded_at":"'
_REPORTED_KEY = b'"reported_at":"'

EVENTS_TABLE = "ledger_events"
REGISTRY_TABLE = "ledger_registry"
SEAL_ORIGIN_TABLE = "ledger_seal_origin"
_PREV_KEY = b'"prev_hash":"'


class VersionConflictError(Exception):
    """``expected_version`` did not match the asset's current version."""

    def __init__(self, asset_id: str, expected: int, actual: int | None) -> None:
        super().__init__(f"asset {asset_id}: expected version {expected}, found {actual}")
        self.asset_id = asset_id
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class Registration:
    kind: str
    natural_id: str
    event_id: str
    attrs: str | None = None


def _stamp_at(state: bytes, key: bytes) -> int:
    return state.rindex(key) + len(key)


def head_recorded_at(state: bytes | None) -> bytes:
    """The head event's ``recorded_at`` as stored (empty before the first event)."""
    if not state:
        return b""
    at = _stamp_at(state, _RECORDED_KEY)
    return bytes(state[at : at + STAMP])


def _not_before(state: bytes, floor: bytes) -> tuple[bytes, bytes]:
    """The state with ``recorded_at`` raised to ``floor`` if earlier (and
    ``reported_at`` with it when it was the server's stamp); the stamp kept."""
    at = _stamp_at(state, _RECORDED_KEY)
    stamp = state[at : at + STAMP]
    if stamp >= floor:
        return state, stamp
    state = state[:at] + floor + state[at + STAMP :]
    rep = _stamp_at(state, _REPORTED_KEY)
    if state[rep : rep + STAMP] == stamp:
        state = state[:rep] + floor + state[rep + STAMP :]
    return state, floor


def _chain(
    stored_events: Sequence[StoredEvent], head_position: int, head_hash: str, head_stamp: bytes
) -> tuple[list[int], list[bytes], list[bytes], list[str]]:
    positions: list[int] = []
    states: list[bytes] = []
    hashes: list[bytes] = []
    stamps: list[str] = []
    prev = head_hash.encode("ascii")
    position = head_position
    floor = head_stamp
    for s in stored_events:
        state, floor = _not_before(s.state, floor)
        at = state.rindex(_PREV_KEY) + len(_PREV_KEY)
        state = state[:at] + prev + state[at + 64 :]
        digest = hashlib.sha256(state)
        position += 1
        positions.append(position)
        states.append(state)
        hashes.append(digest.digest())
        stamps.append(floor.decode("ascii"))
        prev = digest.hexdigest().encode("ascii")
    return positions, states, hashes, stamps


def _check_expected(expected: Sequence[tuple[str, int, int]], current: dict[str, int]) -> None:
    for asset_id, version, offset in expected:
        actual = current.get(asset_id)
        if actual is None or actual + offset != version:
            raise VersionConflictError(
                asset_id, version, None if actual is None else actual + offset
            )


def _report(
    results: list[tuple[int, bytes, str]] | None,
    positions: list[int],
    hashes: list[bytes],
    stamps: list[str],
) -> None:
    """Tell the caller what this attempt stores, *replacing* what an earlier attempt said.

    eventsourcing retries ``insert_events`` on ``OperationalError`` (a dropped
    connection), and each attempt is a new transaction that reads the head again: only
    the attempt that commits may speak. Appending here instead of replacing once gave
    a writer the receipt of a rolled-back attempt — another event's position and hash.
    """
    if results is not None:
        results[:] = zip(positions, hashes, stamps, strict=True)


class HeadGuard:
    """What one process knows about the head of the log, and the key that seals it.

    Before an append (under the write lock) :meth:`check` accepts the head only if
    it is sealed by the ledger's key — or is this process's own last write, or a row
    from before seals existed — and not behind what this process has already written
    (a cut tail). After the commit, :meth:`committed` remembers the new head.
    """

    def __init__(self) -> None:
        self.sealer: Callable[[], Sealer] | None = None
        self.unsealed_through: int | None = None
        self._lock = threading.Lock()
        self._written_through = 0
        self._own: tuple[int, bytes] | None = None

    def check(self, position: int, digest: bytes, seal: bytes | None) -> Sealer:
        if self.sealer is None:
            raise TamperedLogError("this event store has no sealing key configured", position)
        sealer = self.sealer()
        written = self._written_through
        if position < written:
            raise TamperedLogError(
                f"the log ends at event {position}, but this process appended up to event "
                f"{written}: events {position + 1}..{written} were deleted; appends are "
                "refused until an operator runs `ledger verify --database`",
                position + 1,
            )
        if position == 0 or position <= (self.unsealed_through or 0):
            return sealer
        if self._own == (position, digest) or sealer.check(position, digest, seal):
            return sealer
        raise TamperedLogError(
            f"event {position}, the head of the log, carries no valid seal of key "
            f"{sealer.key_id}: it was not written by the append path; appends are refused "
            "until an operator runs `ledger verify --database`",
            position,
        )

    def committed(self, position: int, digest: bytes) -> None:
        with self._lock:
            if position > self._written_through:
                self._written_through = position
                self._own = (position, digest)


def _seals(sealer: Sealer, positions: list[int], hashes: list[bytes]) -> list[bytes | None]:
    """The seal column of one append: ``None`` but for the last event."""
    seals: list[bytes | None] = [None] * len(positions)
    seals[-1] = sealer.seal(positions[-1], hashes[-1])
    return seals


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = EVENTS_TABLE
    ) -> None:
        super().__init__(datastore, events_table_name=EVENTS_TABLE)
        schema = Identifier(self.datastore.schema)
        table = Identifier(EVENTS_TABLE)
        registry = Identifier(REGISTRY_TABLE)
        self.guard = HeadGuard()
        self._select_head = SQL(
            "SELECT notification_id, hash, state, seal FROM {0}.{1}"
            " ORDER BY notification_id DESC LIMIT 1"
        ).format(schema, table)
        self._read_states = SQL(
            "SELECT notification_id, state FROM {0}.{1} WHERE notification_id >= %s"
            " ORDER BY notification_id LIMIT %s"
        ).format(schema, table)
        # The bound applied outside the LIMIT: the inner query is always a walk of the
        # primary key, whatever the planner believes about the range.
        self._read_states_to = SQL(
            "SELECT * FROM (SELECT notification_id, state FROM {0}.{1}"
            " WHERE notification_id >= %s ORDER BY notification_id LIMIT %s) AS page"
            " WHERE notification_id <= %s"
        ).format(schema, table)
        self._select_origin = SQL("SELECT unsealed_through FROM {0}.{1}").format(
            schema, Identifier(SEAL_ORIGIN_TABLE)
        )
        self._insert = SQL(
            "INSERT INTO {0}.{1} (notification_id, originator_id, originator_version,"
            " topic, state, hash, seal) SELECT * FROM unnest(%b::bigint[], %b::uuid[],"
            " %b::bigint[], %b::text[], %b::bytea[], %b::bytea[], %b::bytea[])"
        ).format(schema, table)
        self._select_versions = SQL(
            "SELECT natural_id, version FROM {0}.{1} WHERE kind = 'asset' AND natural_id = ANY(%s)"
        ).format(schema, registry)
        self._register = SQL(
            "INSERT INTO {0}.{1} (kind, natural_id, event_id, version, attrs)"
            " SELECT k, n, e, 0, a FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[])"
            " AS r(k, n, e, a)"
        ).format(schema, registry)
        self._bump = SQL(
            "UPDATE {0}.{1} AS r SET version = r.version + v.n FROM"
            " unnest(%b::text[], %b::bigint[]) AS v(id, n)"
            " WHERE r.kind = 'asset' AND r.natural_id = v.id"
        ).format(schema, registry)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def read_states(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, bytes]]:
        """``(position, stored bytes)`` of up to ``limit`` events from ``start`` (to
        ``stop``): what a projection reads, retried on a dropped connection as the
        library retries its own reads. The library's ``select_notifications``
        reads every column into a dict per row and a ``Notification`` per event."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            # A bound in the same WHERE as the LIMIT let a planner working from stale
            # statistics sort the table's whole tail (8× slower at 1M): see below.
            if stop is None:
                curs.execute(self._read_states, (start, limit), prepare=True)
            else:
                curs.execute(self._read_states_to, (start, limit, stop), prepare=True)
            return [(position, bytes(state)) for position, state in curs.fetchall()]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        written: list[tuple[int, bytes]] = []
        ids: Sequence[int] | None = super().insert_events(stored_events, written=written, **kwargs)
        if written:  # filled by the attempt that committed (earlier attempts replaced)
            self.guard.committed(*written[-1])
        return ids

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The positions this attempt assigned (the library would read them back with
        ``RETURNING``: a row per event, a dict per row, for numbers we chose)."""
        return [position for position, _ in kwargs["written"]]

    def _insert_stored_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        if self.guard.unsealed_through is None:
            curs.execute(self._select_origin)
            origin = curs.fetchone()
            self.guard.unsealed_through = origin["unsealed_through"] if origin else 0
        curs.execute(self._select_head, prepare=True)
        head = curs.fetchone()
        head_position = head["notification_id"] if head else 0
        head_digest = bytes(head["hash"]) if head else b""
        sealer = self.guard.check(head_position, head_digest, head["seal"] if head else None)
        head_hash = head_digest.hex() if head else ZERO_HASH
        head_stamp = head_recorded_at(bytes(head["state"]) if head else None)

        expected: Sequence[tuple[str, int, int]] = kwargs.get("expected") or ()
        if expected:
            curs.execute(self._select_versions, ([e[0] for e in expected],), prepare=True)
            current = {r["natural_id"]: r["version"] for r in curs.fetchall()}
            _check_expected(expected, current)

        registrations: Sequence[Registration] = kwargs.get("registrations") or ()
        if registrations:
            curs.execute(
                self._register,
                (
                    [r.kind for r in registrations],
                    [r.natural_id for r in registrations],
                    [r.event_id for r in registrations],
                    [r.attrs for r in registrations],
                ),
                prepare=True,
            )
        counts: dict[str, int] = kwargs.get("asset_counts") or {}
        if counts:
            curs.execute(self._bump, (list(counts), list(counts.values())), prepare=True)

        positions, states, hashes, stamps = _chain(
            stored_events, head_position, head_hash, head_stamp
        )
        _report(kwargs.get("results"), positions, hashes, stamps)
        kwargs["written"][:] = zip(positions, hashes, strict=True)
        curs.execute(
            self._insert,
            (
                positions,
                [s.originator_id for s in stored_events],
                [s.originator_version for s in stored_events],
                [s.topic for s in stored_events],
                states,
                hashes,
                _seals(sealer, positions, hashes),
            ),
            prepare=True,
        )


class LedgerSQLiteRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = EVENTS_TABLE) -> None:
        super().__init__(datastore, EVENTS_TABLE)
        self.guard = HeadGuard()
        self._select_head = (
            f"SELECT notification_id, hash, state, seal FROM {EVENTS_TABLE}"
            " ORDER BY notification_id DESC LIMIT 1"
        )
        self._insert = (
            f"INSERT INTO {EVENTS_TABLE} (notification_id, originator_id, originator_version,"
            " topic, state, hash, seal) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with self.datastore.get_connection(commit=True) as conn:
            raw: sqlite3.Connection = conn._sqlite_conn  # type: ignore[attr-defined]
            try:
                # IMMEDIATE takes the write lock before reading the head, so another
                # process cannot interleave between our read and our insert.
                raw.execute("BEGIN IMMEDIATE")
                written: list[tuple[int, bytes]] = []
                ids = self._insert_chained(raw, stored_events, written=written, **kwargs)
                raw.execute("COMMIT")
                if written:
                    self.guard.committed(*written[-1])
            except sqlite3.IntegrityError as e:
                raw.execute("ROLLBACK")
                raise IntegrityError(e) from e
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
            return ids

    def _insert_chained(
        self, raw: sqlite3.Connection, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> list[int]:
        if self.guard.unsealed_through is None:
            origin = raw.execute(f"SELECT unsealed_through FROM {SEAL_ORIGIN_TABLE}").fetchone()
            self.guard.unsealed_through = origin[0] if origin else 0
        head = raw.execute(self._select_head).fetchone()
        head_position = head[0] if head else 0
        head_digest = bytes(head[1]) if head else b""
        sealer = self.guard.check(head_position, head_digest, head[3] if head else None)
        head_hash = head_digest.hex() if head else ZERO_HASH
        head_stamp = head_recorded_at(bytes(head[2]) if head else None)

        expected: Sequence[tuple[str, int, int]] = kwargs.get("expected") or ()
        if expected:
            ids = [e[0] for e in expected]
            marks = ",".join("?" * len(ids))
            rows = raw.execute(
                f"SELECT natural_id, version FROM {REGISTRY_TABLE}"
                f" WHERE kind = 'asset' AND natural_id IN ({marks})",
                ids,
            ).fetchall()
            _check_expected(expected, {r[0]: r[1] for r in rows})
        registrations: Sequence[Registration] = kwargs.get("registrations") or ()
        if registrations:
            raw.executemany(
                f"INSERT INTO {REGISTRY_TABLE} (kind, natural_id, event_id, version, attrs)"
                " VALUES (?, ?, ?, 0, ?)",
                [(r.kind, r.natural_id, r.event_id, r.attrs) for r in registrations],
            )
        counts: dict[str, int] = kwargs.get("asset_counts") or {}
        if counts:
            raw.executemany(
                f"UPDATE {REGISTRY_TABLE} SET version = version + ?"
                " WHERE kind = 'asset' AND natural_id = ?",
                [(n, a) for a, n in counts.items()],
            )
        positions, states, hashes, stamps = _chain(
            stored_events, head_position, head_hash, head_stamp
        )
        _report(kwargs.get("results"), positions, hashes, stamps)
        kwargs["written"][:] = zip(positions, hashes, strict=True)
        raw.executemany(
            self._insert,
            [
                (
                    p,
                    s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                    s.originator_version,
                    s.topic,
                    st,
                    h,
                    seal,
                )
                for p, s, st, h, seal in zip(
                    positions,
                    stored_events,
                    states,
                    hashes,
                    _seals(sealer, positions, hashes),
                    strict=True,
                )
            ],
        )
        return positions

    def read_states(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, bytes]]:
        """``(position, stored bytes)`` of up to ``limit`` events from ``start`` (to
        ``stop``): what a projection reads."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT notification_id, state FROM {EVENTS_TABLE} WHERE notification_id >= ?"
                " AND notification_id <= ? ORDER BY notification_id LIMIT ?",
                (start, 2**62 if stop is None else stop, limit),
            )
            return [(row[0], bytes(row[1])) for row in c.fetchall()]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        clauses: list[str] = []
        params: list[Any] = []
        if start is not None:
            clauses.append("notification_id >= ?" if inclusive_of_start else "notification_id > ?")
            params.append(start)
        if stop is not None:
            clauses.append("notification_id <= ?")
            params.append(stop)
        if topics:
            clauses.append(f"topic IN ({','.join('?' * len(topics))})")
            params.extend(topics)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state"
                f" FROM {EVENTS_TABLE}{where} ORDER BY notification_id LIMIT ?",
                params,
            )
            return [
                Notification(
                    id=row[0],
                    originator_id=self.convert_originator_id(row[1]),
                    originator_version=row[2],
                    topic=row[3],
                    state=row[4],
                )
                for row in c.fetchall()
            ]

    def _max_notification_id(self, c: Any) -> int:
        c.execute(f"SELECT MAX(notification_id) FROM {EVENTS_TABLE}")
        return int(c.fetchone()[0] or 0)
