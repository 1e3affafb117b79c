"""The findings projection: every finding the log ever implied, with its life in
knowledge time (``domain.rules.life``), one row per finding key.

A finding belongs to a contract (its asset's contract for ``R…`` rules). When a batch
touches a contract — an event of one of its assets, a contract action, reference data
it depends on, a disposition — the contract's life is computed again from the
contract's own events (its assets, its contract-level events, reference data,
dispositions, all up to the batch's end) and its rows are replaced. The rest of the
ledger is not read.

This is exact but not cheap: a contract's life walks every knowledge instant of its
history. It suits the incremental case (a few events per batch); catch-up over a large
ledger re-walks each touched contract once per batch, which is why the runner gives
this projection large batches. The custody projection's event index must be ahead:
the runner caps this projection's batches at the custody projection's position.
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
    life,
)
from domain.rules.life import Change
from domain.state import History
from domain.vocabulary import REFERENCE_TYPES, Disposition, EventType
from ledger.projections.custody import REF, asset_subject, contract_subject
from ledger.store.tables import assets, event_index, events, findings, registry
from ledger.store.upsert import insert_many

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


class FindingsProjection:
    name = "findings"
    after = "custody"

    def reset(self, conn: Connection) -> None:
        conn.execute(findings.delete())

    def forget(self) -> None:
        """Nothing is cached between batches."""

    def process(self, conn: Connection, batch: Sequence[Event]) -> None:
        touched = self._contracts(conn, batch)
        upto = batch[-1].position
        for contract_id in sorted(touched):
            self._recompute(conn, contract_id, upto)

    def _contracts(self, conn: Connection, batch: Sequence[Event]) -> set[str]:
        touched: set[str] = set()
        asset_ids: set[str] = set()
        for e in batch:
            if e.type in REFERENCE_TYPES or e.type in (
                EventType.FINDING_DISPOSITIONED,
                EventType.EVENT_RETRACTED,
                EventType.EVENT_CORRECTED,
            ):
                # Reference data, dispositions and amendments can reach any contract.
                return set(all_contracts(conn))
            if e.type is EventType.CONTRACT_ACTION:
                target = e.text("target_contract_id") or e.contract_id
                if target:
                    touched.add(target)
            if e.type is EventType.ASSET_REGISTERED:
                contract = e.text("contract_id")
                if contract:
                    touched.add(contract)
            if e.contract_id:
                touched.add(e.contract_id)
            asset_ids.update(e.subjects)
        if asset_ids:
            rows = conn.execute(
                sa.select(assets.c.contract_id)
                .where(assets.c.asset_id.in_(sorted(asset_ids)))
                .distinct()
            )
            touched.update(r[0] for r in rows if r[0])
        return touched

    def _recompute(self, conn: Connection, contract_id: str, upto: int) -> None:
        lives = life(contract_history(conn, contract_id, upto), contract_id=contract_id)
        conn.execute(findings.delete().where(findings.c.contract_id == contract_id))
        rows = []
        for fl in lives.values():
            latest = fl.at(None)
            if latest is None:
                continue
            rows.append(
                {
                    "finding_key": fl.key,
                    "contract_id": latest.contract_id or contract_id,
                    "asset_id": latest.asset_id,
                    "rule": latest.rule,
                    "kind": latest.kind.value,
                    "detected_at": to_stored(fl.detected_at),
                    "cleared_at": None
                    if latest.cleared_at is None
                    else to_stored(latest.cleared_at),
                    "life": orjson.dumps(life_to_json(fl)).decode(),
                }
            )
        insert_many(conn, findings, rows)


def lives_of(rows: Iterable[Any]) -> list[FindingLife]:
    return [life_from_json(orjson.loads(r.life)) for r in rows]
