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
from domain.rules.life import Change, Walk
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


def life_to_json(fl: FindingLife) -> bytes:
    """A life as JSON. orjson writes the dataclasses, enums and instants itself
    (instants as RFC 3339 with ``Z``), several times faster than building dicts:
    the projection writes one per finding whose life changed."""
    return orjson.dumps(
        {
            "key": fl.key,
            "changes": [{"at": c.at, "finding": c.finding, "reason": c.reason} for c in fl.changes],
            "dispositions": [[at, d] for at, d in fl.dispositions],
        },
        option=orjson.OPT_UTC_Z,
    )


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


def _rows(walk: Walk, keys: Iterable[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of these findings, and the keys that no longer have a life (a piece
    of a knowledge instant implied them, the rest of it did not)."""
    wanted = set(keys)
    lives = walk.lives(wanted)
    rows = []
    for fl in lives.values():
        latest = fl.at(None)
        if latest is None:
            continue
        rows.append(
            {
                "finding_key": fl.key,
                "contract_id": latest.contract_id,
                "asset_id": latest.asset_id,
                "rule": latest.rule,
                "kind": latest.kind.value,
                "detected_at": to_stored(fl.detected_at),
                "cleared_at": None if latest.cleared_at is None else to_stored(latest.cleared_at),
                "life": life_to_json(fl).decode(),
                "valid_from": to_stored(latest.valid_from),
            }
        )
    return rows, sorted(wanted - {r["finding_key"] for r in rows})


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
            walk = Walk()
            walk.feed(_load(conn, 0, start))
            walk.take_dirty()  # stored already
        elif walk.end < start:
            walk.feed(_load(conn, walk.end, start))
            walk.take_dirty()  # another worker stored these
        if walk.follows(batch):
            walk.feed(batch)
            rows, gone = _rows(walk, walk.take_dirty())
        else:
            walk = Walk()
            walk.feed([*_load(conn, 0, start), *batch])
            conn.execute(findings.delete())
            rows, gone = _rows(walk, walk.take_dirty())[0], []
        if gone:
            conn.execute(findings.delete().where(findings.c.finding_key.in_(gone)))
        upsert(conn, findings, rows, ["finding_key"])
        self._walk = walk


def _load(conn: Connection, after: int, upto: int) -> list[Event]:
    rows = conn.execute(
        sa.select(events.c.notification_id, events.c.state)
        .where(events.c.notification_id > after, events.c.notification_id <= upto)
        .order_by(events.c.notification_id)
    )
    return [Event.parse(p, orjson.loads(s)) for p, s in rows]


def lives_of(rows: Iterable[Any]) -> list[FindingLife]:
    return [life_from_json(orjson.loads(r.life)) for r in rows]
