"""What a findings walk resumed without reading the whole log stands on, read from the
store (``domain.rules.seeding``, decision 0016): the log-wide events, the stored lives
at the last complete knowledge instant, the holders of each party, and the stored
events of an asset when the walk first needs them (:class:`StoredEventsIn`).

What is read grows with the stored findings and the log-wide events (reference data,
registrations, inventories, contract actions, dispositions, amendments and their
targets: about 2 % of a realistic ledger), not with the log: the custody projection's
event index (``proj_event_index``) files each event under its subjects, and the
amendments index (``proj_event_amendments``) names every retraction and correction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

import domain
from domain.history import Event
from domain.rules.collector import collector_paused
from domain.rules.findings import Finding
from domain.rules.impact import ScopeKey, asset_scope, scope_for
from domain.rules.lives import Change
from domain.rules.partitions import Partition
from domain.rules.seeding import Deferred, Seeding, by_scope, deferrable, held, implied_then
from domain.rules.tracking import Prefix
from ledger.projections.custody_queries import (
    FINDING,
    INVENTORIES,
    REF,
    REGISTRATIONS,
    asset_subject,
    events_by_id,
)
from ledger.projections.deferred_scopes import Apart, StoredScopesIn
from ledger.projections.findings_codec import finding_from_dict
from ledger.projections.held import held_event, held_events
from ledger.projections.stored_lives import SharedReads, StoredLives, head, summed
from ledger.projections.tracking import set_tracking, tracking_position
from ledger.store.tables import (
    event_amendments,
    event_index,
    event_routes,
    events,
    finding_holders,
    findings,
    projection_tracking,
)


def _fingerprint() -> int:
    """The domain's code, summed up: the rules and the fold every finding comes from
    (56 bits of a SHA-256 over every module's source, in path order)."""
    root = Path(domain.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return int.from_bytes(digest.digest()[:7], "big")


CODE = "findings.code"
"""The tracking row that names (its ``position``: :func:`_fingerprint`) the domain
code the stored findings were last written by. A walk resumes lazily only from
findings its own code wrote: a lazily resumed walk holds stored findings to the log
only as it evaluates each asset again, so findings of other rules — a deploy that
changed one — are resumed from the whole log instead, which holds every one of them
at once and writes them all again if they differ."""

FINGERPRINT = _fingerprint()


def walked_row(name: str) -> str:
    """The tracking row of projection ``name`` (``findings``, or a partition's) that
    holds (its ``position``, in microseconds since 1970) the last knowledge instant
    the walk whose findings are stored had walked: where the stored log's last instant
    is another (a historical import logged earlier knowledge after later), a lazy
    resume would not know where the walk stood, and resumes from the whole log
    instead."""
    return f"{name}.walked"


def code_row(name: str) -> str:
    """The tracking row naming the code that wrote projection ``name``'s findings:
    :data:`CODE` for the one walk and the contract level, one of its own for a
    partition. Shared, a partition written by older code looked written by this one as
    soon as another projection of the ledger had stamped it (a deploy that changed the
    rules then resumed it lazily, holding its findings to the log only as it met each
    asset again)."""
    return CODE if name == "findings" else f"{name}.code"


def stamp(conn: Connection, walked: datetime | None, name: str = "findings") -> None:
    """Record that this code wrote the stored findings of projection ``name``, having
    walked to ``walked``."""
    set_tracking(conn, code_row(name), FINGERPRINT)
    set_tracking(conn, walked_row(name), -1 if walked is None else _micros(walked))


def due_row(name: str) -> str:
    """The tracking row of partition ``name`` that holds (in microseconds since 1970)
    the earliest ``valid_from`` of its pending findings when it last wrote
    (:data:`NONE_DUE`: none), or is missing (not known)."""
    return f"{name}.due"


NONE_DUE = -(2**62)


def set_due(conn: Connection, name: str, due: datetime | None) -> None:
    set_tracking(conn, due_row(name), NONE_DUE if due is None else _micros(due))


def idle_until(conn: Connection, name: str) -> tuple[bool, datetime | None]:
    """Whether partition ``name``'s stored findings were written by this code with
    their earliest pending ``valid_from`` (:func:`set_due`), and that instant
    (``None``: nothing pending)."""
    if tracking_position(conn, code_row(name), lock=False) != FINGERPRINT:
        return False, None
    found = conn.execute(
        sa.select(projection_tracking.c.position).where(projection_tracking.c.name == due_row(name))
    ).scalar_one_or_none()
    if found is None:
        return False, None
    return True, None if found == NONE_DUE else _EPOCH + timedelta(microseconds=int(found))


def walked_to(conn: Connection, name: str) -> datetime | None:
    """The instant :func:`stamp` recorded for projection ``name`` (``None``: none)."""
    found = tracking_position(conn, walked_row(name), lock=False)
    return None if found == -1 else _EPOCH + timedelta(microseconds=found)


def stamped(conn: Connection, walked: datetime, name: str = "findings") -> bool:
    """Whether this code wrote the stored findings of projection ``name``, walked to
    ``walked`` (:func:`stamp`)."""
    code = tracking_position(conn, code_row(name), lock=False)
    return code == FINGERPRINT and tracking_position(conn, walked_row(name), lock=False) == _micros(
        walked
    )


def _micros(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Decoded(Protocol):
    """Log-wide events decoded before (``ledger.projections.residency``)."""

    def known(self, position: int) -> Event | None: ...

    def shared(self, events: Sequence[Event]) -> list[Event]: ...


class StoredEventsIn:
    """The stored events up to position ``upto`` (those a walk resumed there did not
    read), found through the event index over ``conn`` — the connection of the batch
    being applied, set again for each (:attr:`conn`)."""

    def __init__(self, conn: Connection, upto: int, decoded: Decoded | None = None) -> None:
        self.conn = conn
        self.upto = upto
        self.loads = 0  # assets loaded
        self._decoded = decoded

    def of_asset(self, asset_id: str) -> list[Event]:
        self.loads += 1
        positions = sa.select(event_index.c.position).where(
            event_index.c.subject == asset_subject(asset_id),
            event_index.c.position <= self.upto,
        )
        where = events.c.notification_id.in_(positions.scalar_subquery())
        return _parsed(self.conn, where, self._decoded)

    def get(self, event_id: str) -> Event | None:
        # One stored after ``upto`` was fed to the walk, which knows it already.
        return events_by_id(self.conn, [event_id]).get(event_id)


def _parsed(
    conn: Connection, where: sa.ColumnElement[bool], decoded: Decoded | None = None
) -> list[Event]:
    """The events ``where`` says, in position order; those ``decoded`` knows (an
    asset's registration, the inventories naming it) not decoded again."""
    rows = conn.execute(
        sa.select(events.c.notification_id, events.c.state)
        .where(where)
        .order_by(events.c.notification_id)
    )
    with collector_paused():
        if decoded is None:
            return held_events(rows)
        return [decoded.known(p) or held_event(p, s) for p, s in rows]


def last_instant(conn: Connection, upto: int, decoded: Decoded | None = None) -> list[Event]:
    """The stored events of the last knowledge instant up to position ``upto``: the
    last events by position reported when the one at ``upto`` was (the log is in
    knowledge order; where it is not, the resumed walk finds out and is walked whole).
    Read backwards in growing windows."""
    pieces: list[list[Event]] = []
    k: datetime | None = None
    top, window = upto, 256
    while top > 0:
        window_of = sa.and_(
            events.c.notification_id <= top, events.c.notification_id > top - window
        )
        rows = _parsed(conn, window_of, decoded)
        if not rows:
            break
        k = k or rows[-1].reported_at
        same = [e for e in rows if e.reported_at == k]
        pieces.append(same)
        if len(same) < len(rows):
            break
        top, window = top - window, window * 2
    return [e for piece in reversed(pieces) for e in piece]


def _log_wide_routed(end: int) -> sa.Select[Any]:
    """The positions up to ``end`` of what the event index files under the log-wide
    subjects, the amendments and what they amend (one query; an ``OR`` of ``IN``
    lists made PostgreSQL test every event of the log against each), each with the
    position from which it is log-wide (its own; an amended event's, its amendment's:
    :func:`log_wide` keeps those of an earlier position from these rows) and the keys
    the route index files it under (none: everyone's)."""
    positions = sa.union(
        sa.select(event_index.c.position, event_index.c.position.label("since")).where(
            sa.or_(
                event_index.c.subject.in_([REF, FINDING, INVENTORIES, REGISTRATIONS]),
                # ``contract:…``: contract actions (and more), as a range the index serves
                sa.and_(event_index.c.subject >= "contract:", event_index.c.subject < "contract;"),
            ),
            event_index.c.position <= end,
        ),
        sa.select(event_amendments.c.position, event_amendments.c.position).where(
            event_amendments.c.position <= end
        ),
        sa.select(event_index.c.position, event_amendments.c.position)
        .join(event_amendments, event_amendments.c.target_event_id == event_index.c.event_id)
        .where(event_amendments.c.position <= end, event_index.c.position <= end),
    ).subquery()
    return sa.select(positions.c.position, positions.c.since, event_routes.c.route).outerjoin(
        event_routes, event_routes.c.position == positions.c.position
    )


def log_wide(
    conn: Connection,
    end: int,
    decoded: Decoded | None = None,
    reads: SharedReads | None = None,
    share: Partition | None = None,
    *,
    upto: int | None = None,
) -> list[Event]:
    """The stored events up to ``end`` that a lazily resumed walk holds
    (``domain.rules.seeding.held``), in position order: their positions are the union
    of what the event index files under the log-wide subjects, the amendments and what
    they amend (:func:`_log_wide_routed`), then the events at those positions.
    ``share``: only those the route index gives that partition (or the contract
    level): its own assets' registrations and amendments, not every one (decision
    0023). ``upto``: where the worker's other walks resume (at least ``end``): with
    ``reads``, the positions are read up to there once for all of them
    (:meth:`SharedReads.log_wide`), and each keeps those up to its own ``end``."""
    # The positions first, then the events by position in pieces (their primary
    # key): joined in one query, PostgreSQL without statistics hashed the whole
    # events table and sorted the states on disk (3.2 s of a 2M-event log's 4.7 s).
    # With their route keys (read once for all of a worker's walks), each keeps its
    # own; a position without route rows is everyone's.
    top = end if upto is None or reads is None else max(end, upto)

    def positions_routed() -> list[tuple[int, int, int | None]]:
        return [(int(p), int(s), r) for p, s, r in conn.execute(_log_wide_routed(top))]

    found_routed = positions_routed() if reads is None else reads.log_wide(top, positions_routed)
    wanted = log_wide_positions(found_routed, end, share)
    before = {} if decoded is None else {p: e for p in wanted if (e := decoded.known(p))}
    read = [p for p in wanted if p not in before]
    found: list[Event] = []
    with collector_paused():
        for i in range(0, len(read), 5000):
            rows = conn.execute(
                sa.select(events.c.notification_id, events.c.state)
                .where(events.c.notification_id.in_(read[i : i + 5000]))
                .order_by(events.c.notification_id)
            )
            found += held_events(rows)
    if decoded is not None:
        found = sorted([*before.values(), *decoded.shared(found)], key=lambda e: e.position)
    return held(found)


def log_wide_positions(
    rows: Iterable[tuple[int, int, int | None]], end: int, share: Partition | None = None
) -> list[int]:
    """The positions of :func:`_log_wide_routed`'s ``rows`` (read up to ``end`` or a
    later position) that are log-wide at ``end`` — an event amended after ``end`` is
    not yet — and ``share``'s (none: all), in order."""
    return sorted(
        {
            p
            for p, since, r in rows
            if since <= end and p <= end and (share is None or r is None or share.owns_route(r))
        }
    )


def holders(conn: Connection, reads: SharedReads | None = None) -> dict[str, set[str]]:
    query = sa.select(finding_holders.c.party, finding_holders.c.asset_id)
    rows = (
        conn.execute(query)
        if reads is None
        else reads.rows("holders", lambda: list(conn.execute(query)))
    )
    out: dict[str, set[str]] = {}
    for party, asset_id in rows:
        out.setdefault(party, set()).add(asset_id)
    return out


class StoredSeed(StoredLives):
    """The stored lives as a lazily resumed walk needs them (:meth:`seeding`); what
    :meth:`StoredLives.check` holds the last instant, fed again, to."""

    deferred: Deferred | None = None

    def seeding(
        self,
        conn: Connection,
        upto: int,
        tail: list[Event] | None = None,
        share: list[Event] | None = None,
        source: StoredEventsIn | None = None,
        decoded: Decoded | None = None,
        partition: Partition | None = None,
    ) -> Seeding:
        """``tail``: the events of the last instant up to ``upto``
        (:func:`last_instant`), when read already; ``share``: those of them the walk
        is fed (a partition's; default all); ``source``: whose connection the deferred
        scopes' lives are read through later (``None``: none is deferred);
        ``decoded``: the log-wide events this worker decoded before (:func:`log_wide`);
        ``partition``: the walk's, whose share of them it holds."""
        tail = last_instant(conn, upto, decoded) if tail is None else tail
        fed = tail if share is None else share
        end = tail[0].position - 1 if tail else upto
        if end == 0 or not tail:
            head = log_wide(conn, end, decoded, self.reads, partition, upto=upto)
            return Seeding(None, head, end, fed, {}, {}, holders(conn, self.reads))
        # The log-wide events are read and decoded on a connection of their own while
        # the stored lives are read on this one: each waits on the database part of its
        # time, which the other fills (a restart at a million events: 9.3 s → 7.9 s).
        # Both read only what is committed up to ``end``, which nothing rewrites. The
        # collector is the process's: paused once around both (each one's own pause
        # is then left as it is), not by whichever thread ends first.
        with (
            collector_paused(),
            ThreadPoolExecutor(1, thread_name_prefix="ledger-log-wide") as beside,
        ):
            log_wide_read = beside.submit(self._log_wide_apart, conn, end, upto, decoded, partition)
            k = _reported_at(conn, end)
            last = tail[-1].reported_at
            prefixes, implied = self._lives(k, last, source)
            head = log_wide_read.result()
        return Seeding(
            k,
            head,
            end,
            fed,
            by_scope(implied),
            prefixes,
            holders(conn, self.reads),
            deferred=self.deferred,
        )

    def _log_wide_apart(
        self,
        conn: Connection,
        end: int,
        upto: int,
        decoded: Decoded | None,
        partition: Partition | None,
    ) -> list[Event]:
        """:func:`log_wide` on a connection of its own (of ``conn``'s engine)."""
        with conn.engine.connect() as apart:
            return log_wide(apart, end, decoded, self.reads, partition, upto=upto)

    def _lives(
        self, k: datetime, last: datetime, source: StoredEventsIn | None
    ) -> tuple[dict[str, Prefix], list[Finding]]:
        """Every stored life up to ``k``, summed up, and the findings implied at ``k``
        (``domain.rules.seeding.implied_then``) — but for the asset scopes whose every
        life is ``deferrable`` (``domain.rules.seeding.Deferred``): of those, only which
        assets they are, their findings pending at ``k`` and their visible ``R03``
        findings are read now (the rows not ``lazy``, and those changed after ``k``),
        their other lives when the walk first needs them (:class:`StoredScopesIn`)."""
        prefixes: dict[str, Prefix] = {}
        pending: dict[str, Finding | None] = {}
        first_later: dict[str, Change | None] = {}
        changed: dict[str, list[Change]] = {}
        with collector_paused():
            for key, changes, first in self.changed_after(k):
                first_later[key], changed[key] = first, changes
            defer = source is not None
            rows = list(self._eager_rows(defer=defer))
            assets = self._asset_scopes() if defer else set()
            apart, eager = self._apart(last, assets, first_later, changed)
            known = {key for key, _, _ in rows}
            more = [
                (key, scope, orjson.loads(life))
                for key, scope, life in self._rows_of_assets(sorted(eager & assets))
                if key not in known
            ]
            for key, scope, data in [*rows, *more]:
                if apart.defers(scope):
                    if key not in apart.detected and (whole := apart.row(key, scope, data)):
                        self.heads[key] = whole
                    continue
                p = data["pending"]
                pending[key] = None if p is None else finding_from_dict(p)
                if data["count"]:
                    base = finding_from_dict(data["latest"])
                    self.heads[key] = prefixes[key] = head(data, base)
            for key, changes in changed.items():
                if key in apart.detected:
                    continue
                if changes:
                    prefixes[key] = summed(changes)
                else:
                    prefixes.pop(key, None)
        if source is not None and apart.assets:
            scopes = [asset_scope(a) for a in apart.assets]
            store = StoredScopesIn(source, self.owns)
            self.deferred = Deferred(scopes, store, apart.unaccounted, apart.waiting)
        implied = [
            f
            for key in pending.keys() | prefixes.keys()
            if (f := implied_then(last, prefixes.get(key), first_later.get(key), pending.get(key)))
            is not None
        ]
        return prefixes, implied

    def _apart(
        self,
        last: datetime,
        assets: set[str],
        first_later: dict[str, Change | None],
        changed: dict[str, list[Change]],
    ) -> tuple[Apart, set[str]]:
        """Which of ``assets`` are deferred (:class:`Apart`) and which are read whole
        (a life of theirs is not ``deferrable``), from the lives changed after ``k``
        (``first_later``, and their changes up to ``k``); of the deferred, those lives
        are read now."""
        later_rows = list(self._rows_of(list(first_later)))
        eager = {
            scope[1]
            for key, scope, _ in later_rows
            if scope[0] == "asset" and not deferrable(last, first_later[key])
        }
        apart = Apart(assets - eager)
        for key, scope, life in later_rows:
            if apart.defers(scope):
                self.heads[key] = apart.detected_after(
                    key, scope, life, first_later[key], changed[key]
                )
        return apart, eager

    def _eager_rows(self, *, defer: bool) -> Iterator[tuple[str, ScopeKey, dict[str, Any]]]:
        """Each stored life of the walk's keys: its key, scope and row, parsed; with
        ``defer``, only those a restart reads at once (``lazy`` false: the lives not
        plain, the contracts' and the visible R03s, ``findings_codec.read_lazily``),
        through their partial index: most rows are neither sent nor parsed."""
        query = sa.select(*_SCOPED, findings.c.life)
        if defer:
            query = query.where(sa.not_(findings.c.lazy))
        with collector_paused():
            for key, rule, contract_id, asset_id, text in self.read(("lives", defer), query):
                if self.owns is None or self.owns(key):
                    yield key, scope_for(rule, contract_id, asset_id), orjson.loads(text)

    def _asset_scopes(self) -> set[str]:
        """The assets with stored lives of their own scope (of the walk's: an asset's
        keys are all a partition's or none, so one of them tells)."""
        rows = self.read(
            "assets",
            sa.select(findings.c.asset_id, sa.func.min(findings.c.finding_key))
            .where(findings.c.asset_id.is_not(None), ~findings.c.rule.startswith("C"))
            .group_by(findings.c.asset_id),
        )
        return {a for a, key in rows if self.owns is None or self.owns(key)}

    def _rows_of_assets(self, assets: list[str]) -> Iterator[tuple[str, ScopeKey, str]]:
        """The stored lives of the assets' own scopes, :data:`ASSETS_AT_ONCE` assets a
        query: the assets with a life changed after ``k``, a few after a restart at
        the log's last instant, more after one whose append detected what was pending
        (once, about 6,000 assets at a million events, those read with a pending finding
        before decision 0033: 2.8 s one asset a query against 1.2 s by 500). Such a
        lookup is planned through the index on ``asset_id`` once PostgreSQL has
        statistics of the table, which the workers keep up (``ledger.store.statistics``)."""
        for i in range(0, len(assets), ASSETS_AT_ONCE):
            rows = self.conn.execute(
                sa.select(findings.c.finding_key, findings.c.asset_id, findings.c.life).where(
                    findings.c.asset_id.in_(assets[i : i + ASSETS_AT_ONCE]),
                    ~findings.c.rule.startswith("C"),
                )
            )
            for key, asset_id, life in rows:
                if self.owns is None or self.owns(key):
                    yield key, asset_scope(asset_id), life

    def _rows_of(self, keys: list[str]) -> Iterator[tuple[str, ScopeKey, str]]:
        for i in range(0, len(keys), 500):
            rows = self.conn.execute(
                sa.select(*_SCOPED, findings.c.life).where(
                    findings.c.finding_key.in_(keys[i : i + 500])
                )
            )
            for key, rule, contract_id, asset_id, life in rows:
                yield key, scope_for(rule, contract_id, asset_id), life

    def stored_head(self, key: str) -> Prefix | None:
        found = super().stored_head(key)
        scope = None if self.deferred is None else self.deferred.scope_of(key)
        if found is None and scope is not None:
            assert self.deferred is not None
            return self.deferred.lives(scope).get(key)
        return found


ASSETS_AT_ONCE = 500
"""How many assets' stored lives a resumed walk asks for in one query."""

_SCOPED = (findings.c.finding_key, findings.c.rule, findings.c.contract_id, findings.c.asset_id)
"""A stored life's key and what tells its scope (``scope_for``)."""


def _reported_at(conn: Connection, position: int) -> datetime:
    found = _parsed(conn, events.c.notification_id == position)
    return found[0].reported_at


def holder_rows(new: dict[str, set[str]]) -> list[dict[str, str]]:
    return [
        {"party": p, "asset_id": a} for p, assets in sorted(new.items()) for a in sorted(assets)
    ]
