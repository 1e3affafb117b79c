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
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import groupby, pairwise

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.history import Event
from domain.instants import parse, to_stored
from domain.rules.collector import collector_paused
from domain.rules.findings import ClearReason, Finding
from domain.rules.lives import Change
from domain.rules.tracking import Drained, Prefix, StoredLivesDisagree
from domain.rules.walk import Walk
from ledger.projections.findings_codec import (
    decode_version,
    dump,
    encode_version,
    finding_from_dict,
    head_json,
)
from ledger.projections.tracking import check_layout, set_layout, tracking_position
from ledger.store.tables import (
    events,
    finding_changes,
    finding_parts,
    findings,
)
from ledger.store.upsert import insert_many, upsert

log = logging.getLogger(__name__)
_UTC_Z = orjson.OPT_UTC_Z


def store(conn: Connection, walk: Walk, drained: Sequence[Drained]) -> None:
    """Write what the walk drained: finding rows, appended changes, cut and gone
    lives removed."""
    gone = [d.key for d in drained if d.gone]
    for i in range(0, len(gone), 500):
        keys = gone[i : i + 500]
        conn.execute(findings.delete().where(findings.c.finding_key.in_(keys)))
        conn.execute(finding_changes.delete().where(finding_changes.c.finding_key.in_(keys)))
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
        latest = d.pending or d.after.base
        assert latest is not None
        last = d.after.last
        cleared = d.pending is None and last is not None and last.finding is None
        detected = d.after.first_at or latest.valid_from
        heads.append(
            {
                "finding_key": d.key,
                "contract_id": latest.contract_id,
                "asset_id": latest.asset_id,
                "rule": latest.rule,
                "kind": latest.kind.value,
                "detected_at": to_stored(detected),
                "cleared_at": to_stored(last.at) if cleared and last is not None else None,
                "life": head_json(d, walk.dispositions(d.key)),
                "valid_from": to_stored(latest.valid_from),
            }
        )
    insert_many(conn, finding_changes, changes)
    upsert(conn, findings, heads, ["finding_key"])


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

    def reset(self, conn: Connection) -> None:
        conn.execute(finding_changes.delete())
        conn.execute(findings.delete())
        conn.execute(finding_parts.delete())  # a partitioned layout's, if there was one
        set_layout(conn, 1)
        self.forget()

    def forget(self) -> None:
        self._walk = None

    def warm(self, conn: Connection) -> None:
        """Resume the walk (after a restart) before the runner takes the write lock for
        a batch: a resume reads and evaluates the whole stored log, and on SQLite every
        append would wait for it under the lock. Read-only: stored lives that disagree
        with the log are left for :meth:`process` to rewrite, under the lock."""
        if self._walk is not None:
            return
        position = tracking_position(conn, self.name, lock=False)
        if position:
            self._walk = _resumed(conn, position, rewrite=False)

    def process(self, conn: Connection, batch: Sequence[Event]) -> None:
        if not batch:
            return
        start = batch[0].position - 1
        walk, self._walk = self._walk, None  # until this batch is applied
        if walk is None:
            check_layout(conn, 1)
        if walk is None or walk.end > start:
            walk = _resumed(conn, start)
            assert walk is not None
        elif walk.end < start:
            walk.feed(_load(conn, walk.end, start))
            walk.drain()  # another worker stored these
        if walk.follows(batch):
            walk.feed(batch)
        else:
            walk = _rewritten(conn, [*_load(conn, 0, start), *batch])
        store(conn, walk, walk.drain())
        self._walk = walk


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


class StoredLives:
    """The stored lives, for a walk that resumes (``Walk.resume``): :meth:`upto` sums
    them up to a knowledge time, :meth:`check` holds the changes the resumed walk made
    again (the last instant's) to those stored."""

    def __init__(self, conn: Connection, owns: Callable[[str], bool] | None = None) -> None:
        self.conn = conn
        self.owns = owns  # the keys of the walk resumed (a partition's), else all
        self.heads: dict[str, Prefix] = {}  # every stored life, whole
        self.later: set[str] = set()  # the lives with changes after the ``k`` of upto

    def upto(self, k: datetime, implied: Mapping[str, Finding]) -> dict[str, Prefix]:
        """Every stored life's changes up to knowledge time ``k``, summed up: from the
        finding rows, and for the few lives changed after ``k``, from their change
        rows. A latest version stored exactly as the finding ``implied`` at ``k`` (the
        same JSON) is that finding, not decoded again (most of them, on a restart)."""
        heads = self.heads
        for key, life in self.conn.execute(sa.select(findings.c.finding_key, findings.c.life)):
            if self.owns is not None and not self.owns(key):
                continue
            data = orjson.loads(life)
            if not data["count"]:
                continue
            latest, last, cleared = data["latest"], data["last"], data["last_cleared"]
            now = implied.get(key)
            if now is not None and orjson.dumps(latest) == orjson.dumps(now, option=_UTC_Z):
                base = now
            else:
                base = finding_from_dict(latest)
            reason = None if last["reason"] is None else ClearReason(last["reason"])
            change = Change(parse(last["at"]), None if cleared else base, reason)
            heads[key] = Prefix(data["count"], base, parse(data["first_at"]), change)
        out = dict(heads)
        after = to_stored(k)
        later = sa.select(finding_changes.c.finding_key).where(finding_changes.c.at > after)
        rows = self.conn.execute(
            sa.select(
                finding_changes.c.finding_key,
                finding_changes.c.at,
                finding_changes.c.reason,
                finding_changes.c.finding,
            )
            .where(finding_changes.c.finding_key.in_(later.distinct().scalar_subquery()))
            .order_by(finding_changes.c.finding_key, finding_changes.c.seq)
        )
        for key, group in groupby(rows, key=lambda r: str(r.finding_key)):
            if self.owns is not None and not self.owns(key):
                continue
            self.later.add(key)
            changes: list[Change] = []
            version: Finding | None = None
            for row in group:
                if row.at > after:
                    break
                data = None if row.finding is None else orjson.loads(row.finding)
                f = None if data is None else decode_version(version, data)
                why = None if row.reason is None else ClearReason(row.reason)
                changes.append(Change(parse(row.at), f, why))
                version = f or version
            if changes:
                out[key] = Prefix(len(changes), version, changes[0].at, changes[-1])
            else:
                out.pop(key, None)
        return out

    def check(self, drained: Sequence[Drained]) -> None:
        """The lives the resumed walk changed again are stored as it leaves them, and
        no other life changed after ``k``: else :class:`StoredLivesDisagree`."""
        changed = set()
        for d in drained:
            if d.changes:
                changed.add(d.key)
            if self.heads.get(d.key) != (d.after if d.after.count else None):
                raise StoredLivesDisagree(f"the stored life of {d.key} is not what the log implies")
        if self.later - changed:
            key = min(self.later - changed)
            raise StoredLivesDisagree(f"the stored life of {key} changed where the log does not")


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
        return [Event.parse(p, orjson.loads(s), owned=True) for p, s in rows]
