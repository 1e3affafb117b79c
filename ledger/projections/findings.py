"""The findings projection: every finding the log ever implied, with its life in
knowledge time (``domain.rules.tracking``): a row per finding (``proj_findings``, its life
summed up) and a row per change of its life (``proj_finding_changes``, appended).

A walk through knowledge time (``domain.rules.walk.Walk``) follows the log in memory:
at each knowledge instant only the scopes its events affect are evaluated again, and
what changed in each life is drained into the store. A batch that does not start
where this process's walk ended is handled without walking again when another worker
applied the events between (they are fed, not written); after a restart the walk is
rebuilt from the stored log and the stored lives without walking it again
(``Walk.resume``). Knowledge older than what was walked (a historical
import) rebuilds the walk and rewrites every finding. The custody projection must be
ahead (the runner caps this projection's batches at its position). See
docs/decisions/0007.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.history import Event
from domain.instants import to_stored
from domain.rules.collector import collector_paused
from domain.rules.tracking import Drained, StoredLivesDisagree
from domain.rules.walk import Walk
from domain.vocabulary import EventType
from ledger.projections.findings_codec import (
    dump,
    encode_version,
    head_json,
    read_lazily,
)
from ledger.projections.findings_seeding import (
    StoredEventsIn,
    StoredSeed,
    holder_rows,
    last_instant,
    stamp,
    stamped,
)
from ledger.projections.held import held_events
from ledger.projections.stored_lives import StoredLives
from ledger.projections.tracking import check_layout, set_layout, tracking_position
from ledger.store.tables import (
    events,
    finding_changes,
    finding_holders,
    finding_parts,
    findings,
)
from ledger.store.upsert import delete_each, insert_many, insert_new, upsert

log = logging.getLogger(__name__)
_UTC_Z = orjson.OPT_UTC_Z


def store(conn: Connection, walk: Walk, drained: Sequence[Drained]) -> None:
    """Write what the walk drained: finding rows, appended changes, cut and gone
    lives removed."""
    gone = [d.key for d in drained if d.gone]
    for i in range(0, len(gone), 500):
        conn.execute(findings.delete().where(findings.c.finding_key.in_(gone[i : i + 500])))
    # Only a life with stored changes has rows of them (most lives that go were
    # pending, never detected).
    stored = [d.key for d in drained if d.gone and (d.before.count or d.cut is not None)]
    delete_each(conn, finding_changes.c.finding_key, stored)
    for d in drained:
        if d.cut is not None and not d.gone:
            conn.execute(
                finding_changes.delete().where(
                    finding_changes.c.finding_key == d.key, finding_changes.c.seq >= d.cut
                )
            )
    changes = []
    heads = []
    for d in drained:
        if d.gone:
            continue
        base = d.before.base
        for i, c in enumerate(d.changes):
            changes.append(
                {
                    "finding_key": d.key,
                    "seq": d.before.count + i,
                    "at": to_stored(c.at),
                    "reason": None if c.reason is None else c.reason.value,
                    "finding": None if c.finding is None else dump(encode_version(base, c.finding)),
                }
            )
            if c.finding is not None:
                base = c.finding
        heads.append(_head_row(d, walk))
    insert_many(conn, finding_changes, changes)
    upsert(conn, findings, heads, ["finding_key"])
    holders = holder_rows(walk.evaluator.take_holders())
    insert_new(conn, finding_holders, holders, ["party", "asset_id"])


def _head_row(d: Drained, walk: Walk) -> dict[str, Any]:
    """A finding's row (``proj_findings``): its life summed up, and what the report, the
    pages and a restart read of it without decoding the life."""
    latest = d.pending or d.after.base
    assert latest is not None
    last = d.after.last
    last_cleared = last is not None and last.finding is None
    cleared = d.pending is None and last_cleared
    detected = d.after.first_at or latest.valid_from
    return {
        "finding_key": d.key,
        "contract_id": latest.contract_id,
        "asset_id": latest.asset_id,
        "rule": latest.rule,
        "kind": latest.kind.value,
        "detected_at": to_stored(detected),
        "cleared_at": to_stored(last.at) if cleared and last is not None else None,
        "life": head_json(d, walk.dispositions(d.key)),
        "valid_from": to_stored(latest.valid_from),
        "valid_to": None if latest.valid_to is None else to_stored(latest.valid_to),
        "lazy": read_lazily(latest.rule, latest.asset_id, d.after.count, d.pending, last_cleared),
    }


class FindingsProjection:
    """Incremental: the walk through knowledge time (``domain.rules.walk.Walk``) stays
    in memory between batches; each knowledge instant re-evaluates only the scopes
    its events affect, an asset's events appended at the end of its history extend
    its last evaluation, and only findings whose life changed are written.

    When a batch does not start where this process's walk ended: events another
    worker applied in between are fed to the walk without writing (their rows are
    already stored); after a restart the walk is resumed from the stored log and the
    stored lives (one evaluation at the last knowledge instant, not a walk). Knowledge older than what was walked (a historical import) rebuilds the
    walk and rewrites every finding."""

    name = "findings"
    after = "custody"

    def __init__(self) -> None:
        self._walk: Walk | None = None
        # Where a lazily resumed walk loads the stored events it needs.
        self._source: StoredEventsIn | None = None

    def reset(self, conn: Connection) -> None:
        conn.execute(finding_changes.delete())
        conn.execute(findings.delete())
        conn.execute(finding_holders.delete())
        conn.execute(finding_parts.delete())  # a partitioned layout's, if there was one
        set_layout(conn, 1)
        self.forget()

    def forget(self) -> None:
        self._walk = None
        self._source = None

    def decode(self, rows: Sequence[tuple[int, bytes]]) -> list[Event]:
        """The batch's events, each keeping its stored bytes, not its decoded record
        (``held``): the walk holds them for as long as it runs."""
        return held_events(rows)

    def warm(self, conn: Connection) -> None:
        """Resume the walk (after a restart) before the runner takes the write lock for
        a batch (on SQLite every append would wait for it under the lock). Read-only:
        stored lives that disagree with the log are left for :meth:`process` to
        rewrite, under the lock."""
        if self._walk is not None:
            return
        position = tracking_position(conn, self.name, lock=False)
        if position:
            self._walk = self._resumed(conn, position, rewrite=False)

    def process(self, conn: Connection, batch: Sequence[Event]) -> None:
        if not batch:
            return
        walk, self._walk = self._walk, None  # until this batch is applied
        if walk is None:
            check_layout(conn, 1)
        try:
            walk = self._followed(conn, walk, batch)
        except StoredLivesDisagree as e:
            # Only a lazily resumed walk finds this out as it goes: resume from the
            # whole log, which writes every finding again if it must.
            log.warning("findings: %s; resuming from the whole log", e)
            self._source = None
            walk = self._followed(conn, None, batch, lazily=False)
        store(conn, walk, walk.drain())
        stamp(conn, walk.k)
        self._walk = walk

    def _followed(
        self, conn: Connection, walk: Walk | None, batch: Sequence[Event], *, lazily: bool = True
    ) -> Walk:
        """The walk, brought to the start of ``batch`` and fed it."""
        start = batch[0].position - 1
        if self._source is not None:
            self._source.conn = conn
        if walk is None or walk.end > start:
            resumed = self._resumed(conn, start, lazily=lazily)
            assert resumed is not None
            walk = resumed
        elif walk.end < start:
            walk.feed(_load(conn, walk.end, start))
            walk.drain()  # another worker stored these
        if walk.follows(batch):
            walk.feed(batch)
        else:
            self._source = None
            walk = _rewritten(conn, [*_load(conn, 0, start), *batch])
        return walk

    def _resumed(
        self, conn: Connection, upto: int, *, rewrite: bool = True, lazily: bool = True
    ) -> Walk | None:
        """The walk as it stood when the stored findings were written, for the log up
        to ``upto``: resumed lazily (:func:`resumed_lazily`) when the store allows it,
        else from the whole stored log (:func:`_resumed`)."""
        self._source = None
        if lazily and (found := resumed_lazily(conn, upto)) is not None:
            walk, self._source = found
            return walk
        return _resumed(conn, upto, rewrite=rewrite)


def resumed_lazily(conn: Connection, upto: int) -> tuple[Walk, StoredEventsIn] | None:
    """The walk resumed without reading the whole stored log (``Walk.resume_lazily``),
    with where it loads the stored events it needs; ``None`` when the store does not
    allow it: findings written by other code (``findings_seeding.CODE``) or before
    their holders were stored, a log whose last instant is not where the walk stood
    (``findings_seeding.walked_row``: knowledge logged out of order), or stored lives that
    are not what the log implies (the last instant fed again, or a contract's C01–C03)
    — resume from the whole log then."""
    tail = last_instant(conn, upto)
    if not tail or not stamped(conn, tail[-1].reported_at):
        return None
    stored = StoredSeed(conn)
    source = StoredEventsIn(conn, upto)
    seed = stored.seeding(conn, upto, tail, source=source)
    if not seed.held_by and any(e.type is EventType.ASSET_REGISTERED for e in seed.held):
        return None  # the holders were never stored
    try:
        walk = Walk.resume_lazily(seed, source)
        stored.check(walk.drain())
    except ValueError as e:  # StoredLivesDisagree, or a log not in knowledge order
        log.warning("findings: %s; resuming from the whole log", e)
        return None
    return walk, source


def _resumed(conn: Connection, upto: int, *, rewrite: bool = True) -> Walk | None:
    """The walk as it stood when the stored findings were written, for the log up to
    ``upto`` (``Walk.resume``). Walked again from the start when the log is not in
    knowledge order (a historical import); when the stored lives are not what the log
    implies (the rules changed since, or the rows were altered), every finding is
    written again (``rewrite``; else ``None``)."""
    logged = _load(conn, 0, upto)
    stored = StoredLives(conn)
    try:
        walk = Walk.resume(logged, stored.upto)
        stored.check(walk.drain())
        return walk
    except StoredLivesDisagree as e:
        if not rewrite:
            return None
        log.warning("findings: rewriting every finding: %s", e)
        return _rewritten(conn, logged)
    except ValueError as e:
        log.warning("findings: walking the log again (%s)", e)
    return _walk_of(logged, lambda walk, drained: None)  # stored already


def _rewritten(conn: Connection, logged: list[Event]) -> Walk:
    """The walk of ``logged`` with every finding row written again."""
    conn.execute(finding_changes.delete())
    conn.execute(findings.delete())
    return _walk_of(logged, lambda walk, drained: store(conn, walk, drained))


def _walk_of(
    logged: list[Event], sink: Callable[[Walk, list[Drained]], None], piece: int = 20_000
) -> Walk:
    """A walk over a stored log, fed in pieces and drained into ``sink`` between them
    (so memory holds current findings, not every version) when knowledge follows the
    log — else in one feed, which sorts by knowledge."""
    walk = Walk()
    if all(a.knowledge_key < b.knowledge_key for a, b in pairwise(logged)):
        for i in range(0, len(logged), piece):
            walk.feed(logged[i : i + piece])
            sink(walk, walk.drain())
    else:
        walk.feed(logged)
        sink(walk, walk.drain())
    return walk


def _load(conn: Connection, after: int, upto: int) -> list[Event]:
    """The stored log's events in a window of positions. With the collector paused:
    the whole log is read on a restart, millions of objects that all stay, and the
    collections their growth set off scanned them again and again (they doubled the
    read: 200k realistic events, 4.0 s → 1.7 s)."""
    rows = conn.execute(
        sa.select(events.c.notification_id, events.c.state)
        .where(events.c.notification_id > after, events.c.notification_id <= upto)
        .order_by(events.c.notification_id)
    )
    with collector_paused():
        return held_events(rows)
