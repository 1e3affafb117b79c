"""The findings projection: every finding the log ever implied, with its life in
knowledge time (``domain.rules.life``), one row per finding key.

The rule catalogue's evaluator and life tracker follow the log in memory: at each new
knowledge instant only the scopes its events affect (an asset, a contract's state
rules, C04/C05 of an asset) are evaluated again, and only findings whose life changed
are written. The walk lives in one process; when a batch does not start where this
process's last one ended (a restart, another worker), the walk is rebuilt from the log
up to the stored position — exact, and the cost of a full walk. Knowledge older than
what was walked (a historical import) rebuilds the walk and rewrites every finding.
The custody projection must be ahead (the runner caps this projection's batches at
its position); the read side folds a contract's own events for compliance and the
report (``contract_history``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.history import Event, Log
from domain.instants import parse, to_stored
from domain.rules import (
    ClearReason,
    Finding,
    FindingDisposition,
    FindingKind,
    FindingLife,
    Severity,
)
from domain.rules.life import (
    Change,
    Evaluator,
    LifeTracker,
    _ReferenceReuse,
    batches,
    disposition_timelines,
)
from domain.state import History
from domain.vocabulary import Disposition
from ledger.projections.custody import REF, asset_subject, contract_subject
from ledger.store.tables import assets, event_index, events, findings, registry
from ledger.store.upsert import upsert

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


def life_to_json(fl: FindingLife) -> dict[str, Any]:
    return {
        "key": fl.key,
        "changes": [
            {
                "at": to_stored(c.at),
                "finding": None if c.finding is None else c.finding.to_dict(),
                "reason": None if c.reason is None else c.reason.value,
            }
            for c in fl.changes
        ],
        "dispositions": [
            [to_stored(at), None if d is None else d.to_dict()] for at, d in fl.dispositions
        ],
    }


def life_from_json(data: dict[str, Any]) -> FindingLife:
    return FindingLife(
        key=data["key"],
        changes=tuple(
            Change(
                at=parse(c["at"]),
                finding=None if c["finding"] is None else finding_from_dict(c["finding"]),
                reason=None if c["reason"] is None else ClearReason(c["reason"]),
            )
            for c in data["changes"]
        ),
        dispositions=tuple(
            (parse(at), None if d is None else _disposition(d)) for at, d in data["dispositions"]
        ),
    )


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


class _Walk:
    """The rule catalogue's evaluator and life tracker, advanced through the log."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.history: History = _ReferenceReuse(Log(events))
        self.evaluator = Evaluator(self.history)
        self.tracker = LifeTracker()
        self.k: datetime | None = None
        self.end = events[-1].position if events else 0
        self.written: dict[str, str] = {}
        self.advance(events)

    def advance(self, new: Sequence[Event]) -> None:
        for k, group in batches(Log(new)):
            impact = self.evaluator.impact(group, k, self.k)
            self.tracker.advance(k, self.evaluator.run(k, impact), impact)
            self.k = k

    def grow(self, new: Sequence[Event]) -> None:
        self.events.extend(new)
        self.history = _ReferenceReuse(Log(self.events))
        self.evaluator.rebind(self.history)
        self.advance(new)
        self.end = new[-1].position

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every finding's row, by key."""
        out: dict[str, dict[str, Any]] = {}
        for fl in self.tracker.lives(disposition_timelines(self.history.log)).values():
            latest = fl.at(None)
            if latest is None:
                continue
            out[fl.key] = {
                "finding_key": fl.key,
                "contract_id": latest.contract_id,
                "asset_id": latest.asset_id,
                "rule": latest.rule,
                "kind": latest.kind.value,
                "detected_at": to_stored(fl.detected_at),
                "cleared_at": None if latest.cleared_at is None else to_stored(latest.cleared_at),
                "life": orjson.dumps(life_to_json(fl)).decode(),
            }
        return out


class FindingsProjection:
    """Incremental: the evaluator and the life tracker stay in memory between batches
    and each knowledge instant re-evaluates only the scopes its events affect; only
    findings whose life changed are written. After a restart, or when another worker
    wrote in between, the walk is rebuilt from the log up to the stored position. A
    historical import (knowledge older than what was already walked) rebuilds the
    walk and rewrites every finding."""

    name = "findings"
    after = "custody"
    # Each batch re-indexes the log (``_Walk.grow``): when following the log, gather
    # commits for a second rather than pay that per commit.
    min_interval_seconds = 1.0

    def __init__(self) -> None:
        self._walk: _Walk | None = None

    def reset(self, conn: Connection) -> None:
        conn.execute(findings.delete())
        self.forget()

    def forget(self) -> None:
        self._walk = None

    def process(self, conn: Connection, batch: Sequence[Event]) -> None:
        if not batch:
            return
        start = batch[0].position - 1
        walk = self._walk
        if walk is None or walk.end != start:
            walk = _Walk(_load_upto(conn, start))
            walk.written = {key: r["life"] for key, r in walk.rows().items()}
        self._walk = None  # until this batch is applied; forget() covers a failure
        if walk.k is not None and min(e.reported_at for e in batch) <= walk.k:
            walk = _Walk(walk.events + list(batch))
            conn.execute(findings.delete())
            walk.written = {}
        else:
            walk.grow(batch)
        rows = walk.rows()
        changed = [r for key, r in rows.items() if walk.written.get(key) != r["life"]]
        upsert(conn, findings, changed, ["finding_key"])
        walk.written = {key: r["life"] for key, r in rows.items()}
        self._walk = walk


def _load_upto(conn: Connection, end: int) -> list[Event]:
    rows = conn.execute(
        sa.select(events.c.notification_id, events.c.state)
        .where(events.c.notification_id <= end)
        .order_by(events.c.notification_id)
    )
    return [Event.parse(p, orjson.loads(s)) for p, s in rows]


def lives_of(rows: Iterable[Any]) -> list[FindingLife]:
    return [life_from_json(orjson.loads(r.life)) for r in rows]
