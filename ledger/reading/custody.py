"""Read use cases: assets, timelines, events with their amendments, reference data.

Current-time reads of an asset come from the custody projection's row. Reads at a
past valid time (``as_of``) or knowledge time (``known_at``) fold on demand, from the
asset's indexed events and the reference data only — never the whole log. Reference
events are parsed once per process and reused until the reference index grows.
"""

from __future__ import annotations

import re
import threading
import time
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from domain.history import Event
from domain.instants import parse, to_stored
from domain.reference import Reference
from domain.rules.findings import RULES_VERSION
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
    load_subject,
)
from ledger.projections.tracking import positions
from ledger.store.tables import assets, event_amendments, event_index, timelines

MAX_LIMIT = 1000


class Reads:
    def __init__(self, engine: Engine, projection_names: Sequence[str] = ("custody",)) -> None:
        self.engine = engine
        self.projection_names = list(projection_names)
        self._ref_lock = threading.Lock()
        self._ref_key: tuple[int, int] | None = None
        self._ref_events: list[Event] = []
        self._ref_history: History = History([])
        self._ref_instants: list[str] = []

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

    @staticmethod
    def _ref_key_columns() -> tuple[Any, Any]:
        """How many reference events are indexed and the last one's position: what a
        cached fold of the reference data is checked against."""
        ref = event_index.c.subject == REF
        return (
            sa.select(sa.func.count()).select_from(event_index).where(ref).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.max(event_index.c.position), 0))
            .where(ref)
            .scalar_subquery(),
        )

    def _reference_events(self, conn: Connection) -> list[Event]:
        return self._reference_with_key(conn)[0]

    def _reference_with_key(self, conn: Connection) -> tuple[list[Event], str]:
        """The reference events, parsed once per process until the index of reference
        data grows, and their key (``ref_key_text``)."""
        key = conn.execute(sa.select(*self._ref_key_columns())).one()
        with self._ref_lock:
            if self._ref_key != tuple(key):
                records = load_subject(conn, REF)
                self._ref_events = [Event.parse(p, r) for p, r in records]
                self._ref_history = History(self._ref_events)
                self._ref_instants = _instants(records)
                self._ref_key = (int(key[0]), int(key[1]))
            return self._ref_events, ref_key_text(*self._ref_key)

    def _ref_instants_around(self, stamp: str) -> tuple[str | None, str | None]:
        with self._ref_lock:
            return _around(self._ref_instants, stamp)

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

    def asset_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(assets)).scalar_one())

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
        """The asset's timeline at ``as_of`` as known at ``known_at``. At the current
        time and all knowledge it is the stored body when that is still current
        (``ledger.reading.timelines``), else it is folded from the asset's events."""
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            body = None
            if as_of is None and known_at is None:
                body = self._stored_timeline(conn, asset_id, now)
            if body is None:
                body = self.timeline_body(conn, asset_id, as_of or now, known_at).body
        body["as_of"] = to_stored(as_of or now)
        body["known_at"] = to_stored(known_at or now)
        return body

    def _stored_timeline(
        self, conn: Connection, asset_id: str, now: datetime
    ) -> dict[str, Any] | None:
        """The stored body if everything it was built from is unchanged — the code's
        version, the asset's indexed events, the reference data's — and the clock is
        in ``[valid_from, valid_until)``. One round trip."""
        mine = event_index.c.subject == asset_subject(asset_id)
        row = conn.execute(
            sa.select(
                timelines.c.body,
                timelines.c.position,
                timelines.c.inputs,
                timelines.c.valid_from,
                timelines.c.valid_until,
                sa.select(sa.func.max(event_index.c.position)).where(mine).scalar_subquery(),
                sa.select(sa.func.count()).select_from(event_index).where(mine).scalar_subquery(),
                *self._ref_key_columns(),
            ).where(timelines.c.asset_id == asset_id)
        ).first()
        if row is None:
            return None
        body, position, inputs, valid_from, valid_until, last, count, ref_count, ref_last = row
        if position != last or inputs != inputs_key(count, ref_key_text(ref_count, ref_last)):
            return None
        stamp = to_stored(now)
        if (valid_from is not None and stamp < valid_from) or (
            valid_until is not None and stamp >= valid_until
        ):
            return None
        found: dict[str, Any] = orjson.loads(body)
        return found

    def timeline_body(
        self,
        conn: Connection,
        asset_id: str,
        t: datetime,
        k: datetime | None,
        *,
        to_store: bool = False,
    ) -> TimelineBody:
        """The timeline at ``t`` as known at ``k`` (without ``as_of``/``known_at``),
        with what it was built from: the asset's last indexed position, the inputs key,
        and (``to_store``) the instants named by the asset's or the reference data's
        records just before and after ``t`` (between them, the timeline at the current
        time is this one)."""
        ref_events, ref_key = self._reference_with_key(conn)
        records = self._asset_records(conn, asset_id)
        history = History(ref_events + [Event.parse(p, r) for p, r in records])
        body = _timeline(history, asset_id, dict(records), t, k)
        valid_from = valid_until = None
        if to_store:
            stamp = to_stored(t)
            before, after = _around(_instants(records), stamp)
            ref_before, ref_after = self._ref_instants_around(stamp)
            valid_from = max((i for i in (before, ref_before) if i), default=None)
            valid_until = min((i for i in (after, ref_after) if i), default=None)
        return TimelineBody(
            body,
            max(p for p, _ in records),
            inputs_key(len(records), ref_key),
            valid_from,
            valid_until,
        )

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


TIMELINE_VERSION = 1
"""Part of every stored timeline's inputs: bump it when the fold, the custody bands or
the timeline's shape change, so that bodies built by earlier code are never served
(the findings rules' version is part of the inputs too)."""


def _timeline(
    history: History,
    asset_id: str,
    raw: Mapping[int, dict[str, Any]],
    t: datetime,
    k: datetime | None,
) -> dict[str, Any]:
    """The asset's events in world order (each with its retraction and corrections as
    known at ``k``) up to ``t``, its custody bands, and what the timeline lists apart."""
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
    events_out = [x[1] for x in entries if x[0][0] <= t]
    return {
        "asset_id": asset_id,
        "events": events_out,
        "bands": [to_json(b) for b in history.custody_bands(asset_id, k, until=t)],
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


@dataclass(frozen=True)
class TimelineBody:
    """A timeline and what it was built from (see ``Reads.timeline_body``)."""

    body: dict[str, Any]
    position: int
    inputs: str
    valid_from: str | None
    valid_until: str | None


def ref_key_text(count: int, last: int) -> str:
    return f"{int(count)}:{int(last)}"


def inputs_key(asset_events: int, ref_key: str) -> str:
    """What a stored timeline was built from, besides the asset's last position: the
    code's version, how many events the asset's index holds, the reference key."""
    return f"t{TIMELINE_VERSION}.r{RULES_VERSION}|{int(asset_events)}|{ref_key}"


# Any instant as stored in a record (the canonical form, or as a client gave it in
# free JSON): a timeline at the current time can change only when the clock passes one.
_INSTANT_TEXT = re.compile(
    rb'"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[Zz]|[+-]\d{2}:\d{2}))"'
)


def _instants(records: Sequence[tuple[int, Mapping[str, Any]]]) -> list[str]:
    """Every instant named anywhere in ``records``, in stored form, sorted."""
    found: set[str] = set()
    for _, record in records:
        for m in _INSTANT_TEXT.finditer(orjson.dumps(record)):
            try:
                found.add(to_stored(parse(m.group(1).decode())))
            except ValueError:
                continue
    return sorted(found)


def _around(instants: list[str], stamp: str) -> tuple[str | None, str | None]:
    """The last of the sorted ``instants`` at or before ``stamp``, and the first after:
    between them nothing a timeline depends on begins or ends."""
    i = bisect_right(instants, stamp)
    return (instants[i - 1] if i else None), (instants[i] if i < len(instants) else None)
