"""Read use cases: assets, timelines, events with their amendments, reference data.

Current-time reads of an asset come from the custody projection's row. Reads at a
past valid time (``as_of``) or knowledge time (``known_at``) fold on demand, from the
asset's indexed events and the reference data only — never the whole log. Reference
events are parsed once per process and reused until the reference index grows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from domain.history import Event
from domain.instants import to_stored
from domain.reference import Reference
from domain.state import History
from domain.vocabulary import EventType
from ledger.errors import InvalidEventError, NotFoundError, NotReadyError, Problem
from ledger.projections.codec import (
    asset_view,
    observation_json,
    state_from_json,
    to_json,
)
from ledger.projections.custody_queries import (
    REF,
    asset_subject,
    load_events,
    load_subject,
    subject_positions,
)
from ledger.projections.tracking import positions
from ledger.store.tables import assets, event_amendments, event_index

MAX_LIMIT = 1000


class Reads:
    def __init__(self, engine: Engine, projection_names: Sequence[str] = ("custody",)) -> None:
        self.engine = engine
        self.projection_names = list(projection_names)
        self._ref_lock = threading.Lock()
        self._ref_key: tuple[int, int] | None = None
        self._ref_events: list[Event] = []
        self._ref_history: History = History([])

    # -- consistency -------------------------------------------------------------------

    def position(self, names: Sequence[str] | None = None) -> int:
        """How far the named projections (default: all) have got, the least of them."""
        return min(positions(self.engine, list(names or self.projection_names)).values())

    def wait_for(
        self,
        min_position: int | None,
        timeout: float,
        head: int,
        names: Sequence[str] | None = None,
    ) -> int:
        """Read-your-writes: wait until the projections a read depends on reach
        ``min_position``, else 503. A position beyond the log's ``head`` names no event
        (every receipt's position was stored before it was given): 422 at once, not a
        wait that cannot end."""
        current = self.position(names)
        if min_position is None or current >= min_position:
            return current
        if min_position > head:
            raise InvalidEventError(
                f"min_position {min_position} is beyond the log's head ({head}): "
                "no event is stored there",
                [Problem("min_position", f"at most {head}")],
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.02)
            current = self.position(names)
            if current >= min_position:
                return current
        raise NotReadyError(
            f"projections are at position {current}, not yet {min_position}",
            lag=max(head, min_position) - current,
        )

    # -- shared loading ----------------------------------------------------------------

    def _reference_events(self, conn: Connection) -> list[Event]:
        key = conn.execute(
            sa.select(
                sa.func.count(), sa.func.coalesce(sa.func.max(event_index.c.position), 0)
            ).where(event_index.c.subject == REF)
        ).one()
        with self._ref_lock:
            if self._ref_key != tuple(key):
                self._ref_events = load_events(conn, subject_positions(conn, [REF]).get(REF, []))
                self._ref_history = History(self._ref_events)
                self._ref_key = (int(key[0]), int(key[1]))
            return self._ref_events

    def _reference_at(self, conn: Connection, k: datetime | None) -> Reference:
        """Reference data as known at k, from a per-process cache of folds."""
        self._reference_events(conn)
        with self._ref_lock:
            return self._ref_history.reference(k)

    def _asset_records(self, conn: Connection, asset_id: str) -> list[tuple[int, dict[str, Any]]]:
        own = load_subject(conn, asset_subject(asset_id))
        if not own:
            raise NotFoundError(f"no asset {asset_id!r}", [Problem("asset_id", "unknown")])
        return own

    def _asset_history(
        self,
        conn: Connection,
        asset_id: str,
        records: list[tuple[int, dict[str, Any]]] | None = None,
    ) -> History:
        own = records if records is not None else self._asset_records(conn, asset_id)
        return History(self._reference_events(conn) + [Event.parse(p, r) for p, r in own])

    def reference(self, *, known_at: datetime | None) -> Reference:
        with self.engine.connect() as conn:
            return self._reference_at(conn, known_at)

    # -- assets --------------------------------------------------------------------------

    def asset(
        self, asset_id: str, *, as_of: datetime | None, known_at: datetime | None
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            if as_of is None and known_at is None:
                row = conn.execute(
                    sa.select(assets.c.state).where(assets.c.asset_id == asset_id)
                ).first()
                if row is None:
                    raise NotFoundError(f"no asset {asset_id!r}", [Problem("asset_id", "unknown")])
                data = orjson.loads(row.state)
                observation = data.pop("last_observation", None)
                state = state_from_json(data)
                ref = self._reference_at(conn, None)
                return asset_view(state, ref, now, now, observation)
            history = self._asset_history(conn, asset_id)
        t = as_of or now
        k = known_at
        folded = history.state(asset_id, t, k)
        if folded is None:
            raise NotFoundError(
                f"asset {asset_id!r} has no state at that time",
                [Problem("as_of", "before delivery")],
            )
        observation = None
        for e in history.known(k).of_asset(asset_id):
            if e.type is EventType.OBSERVATION and e.occurred_at <= t:
                observation = observation_json(e)
        return asset_view(folded, history.reference(k), t, known_at or now, observation)

    def list_assets(
        self,
        *,
        contract: str | None,
        custodian: str | None,
        status: str | None,
        accounted: bool | None,
        as_of: datetime | None,
        known_at: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> dict[str, Any]:
        """Custody of many assets. At the current time the projection answers with an
        index scan; at a past time each candidate is folded (slower, same answers)."""
        limit = max(1, min(limit, MAX_LIMIT))
        out: list[dict[str, Any]] = []
        after = cursor or ""
        historical = as_of is not None or known_at is not None
        with self.engine.connect() as conn:
            while len(out) < limit:
                query = sa.select(assets.c.asset_id).where(assets.c.asset_id > after)
                if contract is not None:
                    query = query.where(assets.c.contract_id == contract)
                if not historical:
                    if custodian is not None:
                        query = query.where(assets.c.custodian == custodian)
                    if status is not None:
                        query = query.where(assets.c.status == status)
                    if accounted is not None:
                        query = query.where(assets.c.accounted_for == accounted)
                chunk = limit - len(out) if not historical else 200
                ids = [r[0] for r in conn.execute(query.order_by(assets.c.asset_id).limit(chunk))]
                if not ids:
                    after = ""
                    break
                for asset_id in ids:
                    after = asset_id
                    try:
                        view = self.asset(asset_id, as_of=as_of, known_at=known_at)
                    except NotFoundError:
                        continue
                    if (
                        (custodian is None or view["custodian"] == custodian)
                        and (status is None or view["status"] == status)
                        and (accounted is None or view["accounted_for"] == accounted)
                    ):
                        out.append(view)
                        if len(out) == limit:
                            break
                if len(ids) < chunk:
                    after = "" if len(out) < limit else after
                    break
        return {"assets": out, "cursor": after or None}

    # -- timeline ------------------------------------------------------------------------

    def timeline(
        self, asset_id: str, *, as_of: datetime | None, known_at: datetime | None
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        t = as_of or now
        with self.engine.connect() as conn:
            records = self._asset_records(conn, asset_id)
            history = self._asset_history(conn, asset_id, records)
        raw = dict(records)
        k = known_at
        known = history.known(k)
        effective = {e.event_id: e for e in known.of_asset(asset_id)}
        related: set[str] = set()
        entries = []
        for e in known.known:
            if asset_id not in e.subjects or e.type in _AMENDMENT_TYPES:
                continue
            related.update(a for a in e.subjects if a != asset_id)
            current = effective.get(e.event_id)
            entry = _timeline_entry(e, raw.get(e.position), current, known.retracted_by)
            entries.append((current.world_key if current else e.world_key, entry))
        entries.sort(key=lambda x: x[0])
        bands = [to_json(b) for b in history.custody_bands(asset_id, k, until=t)]
        events_out = [x[1] for x in entries if x[0][0] <= t]
        return {
            "asset_id": asset_id,
            "as_of": to_stored(t),
            "known_at": to_stored(known_at or now),
            "events": events_out,
            "bands": bands,
            "observations": [
                x for x in events_out if x["type"] == EventType.OBSERVATION and not x["retracted"]
            ],
            "repairs": [
                x
                for x in events_out
                if x["type"] in (EventType.REPAIR_STARTED, EventType.REPAIR_COMPLETED)
                and not x["retracted"]
            ],
            "related_assets": sorted(related),
        }

    # -- events ----------------------------------------------------------------------------

    def amendments(self, event_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    event_amendments.c.event_id,
                    event_amendments.c.type,
                    event_amendments.c.position,
                )
                .where(event_amendments.c.target_event_id == event_id)
                .order_by(event_amendments.c.position)
            )
            return [{"event_id": r.event_id, "type": r.type, "position": r.position} for r in rows]

    # -- reference data ------------------------------------------------------------------

    def parties(self, *, as_of: datetime | None, known_at: datetime | None) -> list[dict[str, Any]]:
        ref = self.reference(known_at=known_at)
        t = as_of or datetime.now(UTC)
        return [_party(p, t) for p in sorted(ref.parties.values(), key=lambda p: p.party_id)]

    def party(
        self, party_id: str, *, as_of: datetime | None, known_at: datetime | None
    ) -> dict[str, Any]:
        ref = self.reference(known_at=known_at)
        p = ref.parties.get(party_id)
        if p is None:
            raise NotFoundError(f"no party {party_id!r}", [Problem("party_id", "unknown")])
        view = _party(p, as_of or datetime.now(UTC))
        view["children"] = sorted(q.party_id for q in ref.parties.values() if q.parent == party_id)
        return view

    def facilities(self, *, known_at: datetime | None) -> list[dict[str, Any]]:
        ref = self.reference(known_at=known_at)
        return [to_json(f) for f in sorted(ref.facilities.values(), key=lambda f: f.facility_id)]

    def contract(
        self, contract_id: str, *, as_of: datetime | None, known_at: datetime | None
    ) -> dict[str, Any]:
        ref = self.reference(known_at=known_at)
        c = ref.contracts.get(contract_id)
        if c is None:
            raise NotFoundError(f"no contract {contract_id!r}", [Problem("contract_id", "unknown")])
        t = as_of or datetime.now(UTC)
        auths = [
            {**to_json(a), "revoked_at": to_json(a.revoked_at), "valid_at_as_of": a.valid_at(t)}
            for a in ref.authorisations_of(contract_id)
        ]
        return {
            **to_json(c),
            "authorizations": auths,
            "as_of": to_stored(t),
            "known_at": to_stored(known_at or datetime.now(UTC)),
        }


def _party(p: Any, t: datetime) -> dict[str, Any]:
    view: dict[str, Any] = to_json(p)
    view["kind_at_as_of"] = p.kind_at(t).value
    return view


_AMENDMENT_TYPES = (EventType.EVENT_RETRACTED, EventType.EVENT_CORRECTED)


def _timeline_entry(
    e: Event,
    record: dict[str, Any] | None,
    current: Event | None,
    retracted_by: Mapping[str, Event],
) -> dict[str, Any]:
    """An event on the timeline with its retraction and corrections as known; a
    corrected event shows its corrected time and payload (``effective``)."""
    retraction = retracted_by.get(e.event_id)
    entry = _event_entry(e, record)
    entry["retracted"] = (
        None
        if retraction is None
        else {
            "event_id": retraction.event_id,
            "reported_at": to_stored(retraction.reported_at),
            "reason": retraction.text("reason"),
        }
    )
    entry["corrections"] = (
        [] if current is None else [_correction_entry(c, e, current) for c in current.corrections]
    )
    if current is not None and current.corrections:
        entry["occurred_at"] = to_stored(current.occurred_at)
        entry["effective"] = to_json(current.payload)
    return entry


def _event_entry(e: Event, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """An event as the timeline shows it; ``record`` is its stored JSON when at hand
    (cheaper than converting the parsed, read-only form back)."""
    lag = (e.reported_at - e.occurred_at).total_seconds()
    if record is not None:
        return {
            "position": e.position,
            "event_id": e.event_id,
            "type": record["type"],
            "asset_ids": record.get("asset_ids", []),
            "occurred_at": record["occurred_at"],
            "reported_at": record["reported_at"],
            "recorded_at": record.get("recorded_at"),
            "recorded_by": record.get("recorded_by"),
            "report_lag_seconds": lag,
            "reporter": record["reporter"],
            "source": record.get("source"),
            "confidence": record["confidence"],
            "location": record.get("location"),
            "payload": record.get("payload", {}),
            "narrative": record.get("narrative"),
        }
    return {
        "position": e.position,
        "event_id": e.event_id,
        "type": e.type.value,
        "asset_ids": list(e.asset_ids),
        "occurred_at": to_stored(e.occurred_at),
        "reported_at": to_stored(e.reported_at),
        "recorded_at": e.record.get("recorded_at"),
        "recorded_by": e.record.get("recorded_by"),
        "report_lag_seconds": lag,
        "reporter": e.reporter,
        "source": to_json(e.record.get("source")),
        "confidence": e.confidence.value,
        "location": to_json(e.record.get("location")),
        "payload": to_json(e.payload),
        "narrative": e.narrative,
    }


def _correction_entry(c: Event, original: Event, current: Event) -> dict[str, Any]:
    fields = {}
    for path, after in c.corrected_fields.items():
        node: Any = original.record
        for part in path.split("."):
            node = node.get(part) if hasattr(node, "get") else None
        fields[path] = {"before": to_json(node), "after": to_json(after)}
    return {
        "event_id": c.event_id,
        "reported_at": to_stored(c.reported_at),
        "reason": c.text("reason"),
        "fields": fields,
    }
