"""The findings projection: every finding the log ever implied, with its life in
knowledge time (``domain.rules.life``): a row per finding (``proj_findings``, its life
summed up) and a row per change of its life (``proj_finding_changes``, appended).

A walk through knowledge time (``domain.rules.life.Walk``) follows the log in memory:
at each knowledge instant only the scopes its events affect are evaluated again, and
what changed in each life is drained into the store. A batch that does not start
where this process's walk ended is handled without walking again when another worker
applied the events between (they are fed, not written); after a restart the walk is
rebuilt from the stored log. Knowledge older than what was walked (a historical
import) rebuilds the walk and rewrites every finding. The custody projection must be
ahead (the runner caps this projection's batches at its position). See
docs/decisions/0007.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.history import Event
from domain.instants import parse, to_stored
from domain.rules import (
    ClearReason,
    Finding,
    FindingDisposition,
    FindingKind,
    FindingLife,
    Severity,
)
from domain.rules.life import Change, Drained, Walk
from domain.state import History
from domain.vocabulary import Disposition
from ledger.projections.custody import REF, asset_subject, contract_subject
from ledger.store.tables import (
    assets,
    event_index,
    events,
    finding_changes,
    findings,
    registry,
)
from ledger.store.upsert import insert_many, upsert

FINDING = "finding"


# -- (de)serialising a life ------------------------------------------------------------


def _t(value: str | None) -> datetime | None:
    return None if value is None else parse(value)


def finding_from_dict(d: dict[str, Any]) -> Finding:
    disposition = d.get("disposition")
    return Finding(
        finding_key=d["finding_key"],
        rule=d["rule"],
        rule_name=d["rule_name"],
        kind=FindingKind(d["kind"]),
        severity=Severity(d["severity"]),
        asset_id=d.get("asset_id"),
        contract_id=d.get("contract_id"),
        parties=tuple(d.get("parties", ())),
        evidence=tuple(d.get("evidence", ())),
        summary=d["summary"],
        valid_from=parse(d["valid_from"]),
        valid_to=_t(d.get("valid_to")),
        trigger_event_id=d.get("trigger_event_id"),
        detected_at=_t(d.get("detected_at")),
        cleared_at=_t(d.get("cleared_at")),
        clear_reason=None if d.get("clear_reason") is None else ClearReason(d["clear_reason"]),
        disposition=None if disposition is None else _disposition(disposition),
    )


def _disposition(d: dict[str, Any]) -> FindingDisposition:
    return FindingDisposition(
        disposition=Disposition(d["disposition"]),
        event_id=d["event_id"],
        rationale=d["rationale"],
        decided_at=parse(d["decided_at"]),
        reported_at=parse(d["reported_at"]),
    )


_TUPLES = ("parties", "evidence")
_CONTENT = tuple(
    name
    for name in Finding.__dataclass_fields__
    if name not in ("detected_at", "cleared_at", "clear_reason", "disposition")
)


def encode_version(base: Finding | None, f: Finding) -> dict[str, Any]:
    """A version of a finding as what differs from the version before it (``base``):
    a life stored whole would be rewritten at every change, and a state finding's
    evidence grows with its interval. Lists keep their common head and tail with the
    base and store only the middle."""
    if base is None:
        return {"full": f}
    out: dict[str, Any] = {}
    for name in _CONTENT:
        new, old = getattr(f, name), getattr(base, name)
        if new is old or new == old:
            continue
        out[name] = _list_delta(new, old) if name in _TUPLES else new
    return out


def _list_delta(new: tuple[str, ...], old: tuple[str, ...]) -> list[Any]:
    """``[head, tail, middle]``: ``new`` is ``old[:head] + middle + old[-tail:]``."""
    n = min(len(new), len(old))
    if new[:n] == old[:n]:  # grown or shrunk at the end: the common case
        head = n
    else:
        head = 0
        while new[head] == old[head]:
            head += 1
    tail = 0
    while tail < min(len(new), len(old)) - head and new[-1 - tail] == old[-1 - tail]:
        tail += 1
    return [head, tail, list(new[head : len(new) - tail])]


def decode_version(base: Finding | None, data: dict[str, Any]) -> Finding:
    if "full" in data:
        return finding_from_dict(data["full"])
    assert base is not None, "a delta needs the version before it"
    changes: dict[str, Any] = {}
    for name, value in data.items():
        if name in _TUPLES:
            head, tail, middle = value
            old = getattr(base, name)
            changes[name] = (*old[:head], *middle, *old[len(old) - tail :])
        elif name in ("valid_from", "valid_to"):
            changes[name] = _t(value)
        elif name == "kind":
            changes[name] = FindingKind(value)
        elif name == "severity":
            changes[name] = Severity(value)
        else:
            changes[name] = value
    return replace(base, **changes)


def _dump(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()


def head_json(d: Drained, dispositions: Sequence[tuple[datetime, Any]]) -> str:
    """A finding's row: its life summed up (how many changes are stored, the first and
    last, the latest version, a pending detection) and its dispositions."""
    last = d.after.last
    return _dump(
        {
            "key": d.key,
            "count": d.after.count,
            "first_at": d.after.first_at,
            "latest": d.after.base,
            "last": None if last is None else {"at": last.at, "reason": last.reason},
            "last_cleared": last is not None and last.finding is None,
            "pending": d.pending,
            "dispositions": [[at, x] for at, x in dispositions],
        }
    )


class _Head:
    __slots__ = ("count", "dispositions", "first_at", "key", "last", "latest", "pending")

    def __init__(self, data: dict[str, Any]) -> None:
        self.key: str = data["key"]
        self.count: int = data["count"]
        self.first_at = _t(data["first_at"])
        self.latest = None if data["latest"] is None else finding_from_dict(data["latest"])
        last = data["last"]
        self.last: Change | None = None
        if last is not None:
            reason = None if last["reason"] is None else ClearReason(last["reason"])
            finding = None if data["last_cleared"] else self.latest
            self.last = Change(parse(last["at"]), finding, reason)
        self.pending = None if data["pending"] is None else finding_from_dict(data["pending"])
        self.dispositions = tuple(
            (parse(at), None if x is None else _disposition(x)) for at, x in data["dispositions"]
        )

    @property
    def last_at(self) -> datetime | None:
        times = [c.at for c in (self.last,) if c is not None]
        if self.pending is not None:
            times.append(self.pending.valid_from)
        return max(times, default=None)

    def summary(self) -> FindingLife | None:
        """The life, exactly, when its stored changes are at most a detection and a
        clearing; else ``None``."""
        changes: list[Change] = []
        if self.count >= 1:
            assert self.first_at is not None and self.latest is not None
            if self.count == 2 and self.last is not None and self.last.finding is None:
                changes = [Change(self.first_at, self.latest), self.last]
            elif self.count == 1:
                changes = [Change(self.first_at, self.latest)]
            else:
                return None
        return self._life(changes)

    def upto_now(self) -> FindingLife:
        """A life that answers :meth:`FindingLife.at` like the whole one for any
        knowledge time at or after :attr:`last_at` (and ``None``)."""
        changes: list[Change] = []
        if self.count:
            assert self.first_at is not None and self.latest is not None
            changes = [Change(self.first_at, self.latest)]
            if self.last is not None and self.last.finding is None:
                changes.append(self.last)
        return self._life(changes)

    def _life(self, changes: list[Change]) -> FindingLife:
        if self.pending is not None:
            changes.append(Change(self.pending.valid_from, self.pending))
        return FindingLife(self.key, tuple(changes), self.dispositions)


def lives_of(
    conn: Connection, rows: Iterable[Any], known_at: datetime | None = None, *, full: bool = False
) -> list[FindingLife]:
    """The lives of these ``proj_findings`` rows: whole with ``full``; else lives that
    answer :meth:`FindingLife.at` exactly at ``known_at`` (``None``: all knowledge),
    reading stored changes only for the findings that changed after ``known_at``."""
    heads = [_Head(orjson.loads(r.life)) for r in rows]
    out: dict[str, FindingLife] = {}
    wanted: list[_Head] = []
    for h in heads:
        whole = h.summary()
        if whole is not None:
            out[h.key] = whole
        elif not full and (known_at is None or (h.last_at is not None and known_at >= h.last_at)):
            out[h.key] = h.upto_now()
        else:
            wanted.append(h)
    for i in range(0, len(wanted), 500):
        chunk = {h.key: h for h in wanted[i : i + 500]}
        rows_ = conn.execute(
            sa.select(
                finding_changes.c.finding_key,
                finding_changes.c.at,
                finding_changes.c.reason,
                finding_changes.c.finding,
            )
            .where(finding_changes.c.finding_key.in_(list(chunk)))
            .order_by(finding_changes.c.finding_key, finding_changes.c.seq)
        )
        stored: dict[str, list[Change]] = {}
        base: dict[str, Finding | None] = {}
        for key, at, reason, data in rows_:
            version = None
            if data is not None:
                version = decode_version(base.get(key), orjson.loads(data))
                base[key] = version
            stored.setdefault(key, []).append(
                Change(parse(at), version, None if reason is None else ClearReason(reason))
            )
        for key, h in chunk.items():
            out[h.key] = h._life(stored.get(key, []))
    return [out[h.key] for h in heads]


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
                    "finding": None
                    if c.finding is None
                    else _dump(encode_version(base, c.finding)),
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


# -- loading one contract's history --------------------------------------------------------


def contract_assets(conn: Connection, contract_id: str) -> list[str]:
    rows = conn.execute(sa.select(assets.c.asset_id).where(assets.c.contract_id == contract_id))
    return [r[0] for r in rows]


def contract_history(conn: Connection, contract_id: str, upto: int | None = None) -> History:
    """The events a contract's findings depend on, as a ``History``."""
    subjects = [REF, FINDING, contract_subject(contract_id)]
    subjects += [asset_subject(a) for a in contract_assets(conn, contract_id)]
    query = (
        sa.select(events.c.notification_id, events.c.state)
        .where(
            events.c.notification_id.in_(
                sa.select(event_index.c.position).where(event_index.c.subject.in_(subjects))
            )
        )
        .order_by(events.c.notification_id)
    )
    if upto is not None:
        query = query.where(events.c.notification_id <= upto)
    return History([Event.parse(p, orjson.loads(s)) for p, s in conn.execute(query)])


def all_contracts(conn: Connection) -> list[str]:
    rows = conn.execute(sa.select(registry.c.natural_id).where(registry.c.kind == "contract"))
    return sorted(r[0] for r in rows)


class FindingsProjection:
    """Incremental: the walk through knowledge time (``domain.rules.life.Walk``) stays
    in memory between batches; each knowledge instant re-evaluates only the scopes
    its events affect, an asset's events appended at the end of its history extend
    its last evaluation, and only findings whose life changed are written.

    When a batch does not start where this process's walk ended: events another
    worker applied in between are fed to the walk without writing (their rows are
    already stored); after a restart the walk is rebuilt from the stored log, one
    pass. Knowledge older than what was walked (a historical import) rebuilds the
    walk and rewrites every finding."""

    name = "findings"
    after = "custody"

    def __init__(self) -> None:
        self._walk: Walk | None = None

    def reset(self, conn: Connection) -> None:
        conn.execute(finding_changes.delete())
        conn.execute(findings.delete())
        self.forget()

    def forget(self) -> None:
        self._walk = None

    def process(self, conn: Connection, batch: Sequence[Event]) -> None:
        if not batch:
            return
        start = batch[0].position - 1
        walk, self._walk = self._walk, None  # until this batch is applied
        if walk is None or walk.end > start:
            walk = _walk_of(_load(conn, 0, start))
            walk.drain()  # stored already
        elif walk.end < start:
            walk.feed(_load(conn, walk.end, start))
            walk.drain()  # another worker stored these
        if walk.follows(batch):
            walk.feed(batch)
        else:
            walk = _walk_of([*_load(conn, 0, start), *batch])
            conn.execute(finding_changes.delete())
            conn.execute(findings.delete())
        store(conn, walk, walk.drain())
        self._walk = walk


def _walk_of(logged: list[Event], piece: int = 20_000) -> Walk:
    """A walk over a stored log, fed in pieces and drained between them (so memory
    holds current findings, not every version) when knowledge follows the log — else
    in one feed, which sorts by knowledge."""
    walk = Walk()
    if all(a.knowledge_key < b.knowledge_key for a, b in pairwise(logged)):
        for i in range(0, len(logged), piece):
            walk.feed(logged[i : i + piece])
            walk.drain()
    else:
        walk.feed(logged)
    return walk


def _load(conn: Connection, after: int, upto: int) -> list[Event]:
    rows = conn.execute(
        sa.select(events.c.notification_id, events.c.state)
        .where(events.c.notification_id > after, events.c.notification_id <= upto)
        .order_by(events.c.notification_id)
    )
    return [Event.parse(p, orjson.loads(s)) for p, s in rows]
