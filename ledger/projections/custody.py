"""The custody projection: an index of which events concern which subject, the
amendments (retractions, corrections) of each event, and every asset's state at
(now, all knowledge).

Events usually arrive in world order for their asset, so each is applied to the
stored state (``domain.state.apply``). An event that lands earlier in world order
than one already applied (a late report) is folded in from the asset's last steps,
which the projection keeps in memory (:class:`Held`: the state before each of its
last ``TAIL`` events): only the events after the late one are read and applied again.
One later than those, or one that amends an earlier event, makes the projection fold
that asset again from its indexed events. A change to an authorisation re-evaluates
``accounted_for`` for the assets of that contract.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.fold import AssetState, apply, unaccounted_reason
from domain.history import Event, Log
from domain.instants import to_stored
from domain.parts import serials_of
from domain.reference import Reference
from domain.rules.corrections import Amendment
from domain.vocabulary import REFERENCE_TYPES, EventType
from ledger.projections import routes
from ledger.projections.codec import observation_json, state_from_json, state_to_json, world_key
from ledger.projections.custody_queries import (
    FINDING,
    INVENTORIES,
    REF,
    REGISTRATIONS,
    asset_subject,
    contract_subject,
    load_events,
    subject_positions,
)
from ledger.store.tables import (
    assets,
    event_amendments,
    event_index,
    event_routes,
    inventories,
    part_serials,
    projection_tracking,
    timelines,
)
from ledger.store.upsert import insert_many, upsert

OWNED = (assets, event_amendments, event_index, event_routes, inventories, part_serials, timelines)
"""The tables this projection writes, emptied with it (the stored timelines are built
from its index: they go with it)."""

AMENDMENTS = frozenset({EventType.EVENT_RETRACTED, EventType.EVENT_CORRECTED})
AUTHORISATION_TYPES = frozenset({EventType.AUTHORIZATION_GRANTED, EventType.AUTHORIZATION_REVOKED})


def own_subjects(e: Event) -> list[str]:
    """Subjects of an event that is not an amendment."""
    if e.type in REFERENCE_TYPES:
        return [REF]
    if e.type is EventType.CONTRACT_ACTION:
        target = e.text("target_contract_id")
        return [contract_subject(target)] if target else []
    subjects = [asset_subject(a) for a in e.subjects]
    if e.type is EventType.FINDING_DISPOSITIONED:
        subjects.append(FINDING)
    if e.type is EventType.INVENTORY_COMPLETED:
        subjects.append(INVENTORIES)
    if e.type is EventType.ASSET_REGISTERED:
        subjects.append(REGISTRATIONS)
    if e.contract_id and e.type is not EventType.ASSET_REGISTERED:
        subjects.append(contract_subject(e.contract_id))
    return subjects


Observation = dict[str, Any] | None


class Held:
    """One asset as the projection last applied it: its state, the world key of its
    last event and its last observation; and its last steps (``tail``: the world key,
    position, state and observation before each of its last ``TAIL`` events in world
    order; ``whole`` when they are all its events), from which a late report is folded
    in without reading the asset's whole history."""

    __slots__ = ("last_key", "observation", "state", "tail", "whole")

    TAIL = 16

    def __init__(self) -> None:
        self.state: AssetState | None = None
        self.last_key = ""
        self.observation: Observation = None
        self.tail: list[tuple[str, int, AssetState | None, Observation]] = []
        self.whole = True

    def apply(self, e: Event, key: str, ref: Reference, asset_id: str) -> None:
        """Apply ``e``, later in world order than every event applied."""
        self.tail.append((key, e.position, self.state, self.observation))
        if len(self.tail) > self.TAIL:
            del self.tail[0]
            self.whole = False
        self.state = apply(self.state, e, ref, asset_id)
        self.last_key = key
        if e.type is EventType.OBSERVATION:
            self.observation = observation_json(e)

    def rewind_to(self, key: str) -> list[int] | None:
        """Go back to just before world key ``key`` and return the positions of the
        events applied after it (to apply again, in world order, with the late ones);
        ``None`` when the tail does not reach back that far."""
        keys = [k for k, _, _, _ in self.tail]
        i = bisect_right(keys, key)
        if i == 0 and not self.whole:
            return None
        if i == len(self.tail):
            return []
        _, _, self.state, self.observation = self.tail[i]
        positions = [p for _, p, _, _ in self.tail[i:]]
        del self.tail[i:]
        self.last_key = self.tail[-1][0] if self.tail else ""
        return positions


def _held_from_row(row: Any) -> Held:
    """An asset as its stored row has it (its steps are not known), or a new one."""
    held = Held()
    if row is not None:
        data = orjson.loads(row.state)
        held.observation = data.pop("last_observation", None)
        held.state, held.last_key = state_from_json(data), row.last_world_key
        held.whole = False
    return held


class CustodyProjection:
    name = "custody"

    # Asset states kept between batches, so catch-up does not read and decode each
    # touched asset's row again; bounded, and dropped whenever another worker may have
    # written in between (see ``process``).
    CACHE_LIMIT = 300_000
    # Catching up on PostgreSQL, larger batches (``Runner._catch_up_limit``): an asset's
    # row is written once per batch however many of its events the batch holds.
    bulk_catch_up = True

    def __init__(self) -> None:
        self._ref_events: list[Event] | None = None
        self._ref: Reference | None = None
        self._cache: dict[str, Held] = {}
        self._last_end: int | None = None
        self._known: datetime | None = None  # the log's knowledge instant at _last_end

    # -- lifecycle -------------------------------------------------------------------

    def reset(self, conn: Connection) -> None:
        for table in OWNED:
            conn.execute(table.delete())
        conn.execute(projection_tracking.delete().where(projection_tracking.c.name == "timelines"))
        self.forget()

    def forget(self) -> None:
        """Drop in-memory caches (after a failed transaction, or a rebuild)."""
        self._ref_events = None
        self._ref = None
        self._cache.clear()
        self._last_end = None
        self._known = None

    def _reference(self, conn: Connection) -> Reference:
        if self._ref is None:
            if self._ref_events is None:
                self._ref_events = load_events(conn, subject_positions(conn, [REF]).get(REF, []))
            self._ref = Reference.build(Log(self._ref_events).reference_events(None))
        return self._ref

    # -- processing ----------------------------------------------------------------------

    def process(self, conn: Connection, batch: Sequence[Event]) -> None:
        if not batch:
            return
        self._continue(conn, batch)
        now = datetime.now(UTC)
        subjects_of: dict[str, list[str]] = {}
        index_rows: list[dict[str, Any]] = []
        amendment_rows: list[dict[str, Any]] = []
        inventory_rows: list[dict[str, Any]] = []
        targets = [e.target_event_id for e in batch if e.type in AMENDMENTS and e.target_event_id]
        known_targets, target_positions = self._subjects_of_events(conn, [t for t in targets if t])
        target_events = _targets(conn, target_positions.values(), batch)

        touched: dict[str, list[Event]] = defaultdict(list)
        refold: set[str] = set()
        ref_changed = False
        contracts_reauthorised: set[str] = set()
        for e in batch:
            if e.type in AMENDMENTS:
                target = e.target_event_id or ""
                subjects = subjects_of.get(target) or known_targets.get(target, [])
                amendment_rows.append(
                    {
                        "target_event_id": target,
                        "position": e.position,
                        "event_id": e.event_id,
                        "type": e.type.value,
                        "summary": amendment_summary(e, target_events.get(target)),
                    }
                )
            else:
                subjects = own_subjects(e)
                if e.type is EventType.INVENTORY_COMPLETED:
                    inventory_rows.append(inventory_row(e))
            subjects_of[e.event_id] = subjects
            for s in subjects:
                index_rows.append({"subject": s, "position": e.position, "event_id": e.event_id})
                if s == REF:
                    ref_changed = True
                    if self._ref_events is not None:
                        self._ref_events.append(e)
                elif s.startswith("asset:"):
                    asset_id = s[6:]
                    touched[asset_id].append(e)
                    if e.type in AMENDMENTS:
                        refold.add(asset_id)
            if e.type in AUTHORISATION_TYPES or (e.type in AMENDMENTS and REF in subjects):
                contracts_reauthorised.add(e.text("contract_id") or "*")

        insert_many(conn, event_index, index_rows)
        self._known = routes.file(conn, batch, self._known)
        insert_many(conn, event_amendments, amendment_rows)
        insert_many(conn, inventories, inventory_rows)
        insert_many(conn, part_serials, _part_rows(batch))
        if ref_changed:
            self._ref = None
        ref = self._reference(conn)
        self._apply_assets(conn, touched, refold, ref, now)
        if contracts_reauthorised:
            self._reauthorise(conn, contracts_reauthorised, set(touched), ref, now)

    def _continue(self, conn: Connection, batch: Sequence[Event]) -> None:
        """What is kept in memory, made fit for ``batch``: dropped when another
        worker applied the events before it (the cached states are stale then, and
        the log's knowledge instant is read back from the route index), or when
        there are too many."""
        if self._last_end is None or batch[0].position - 1 != self._last_end:
            self._cache.clear()
            self._ref_events = None
            self._ref = None
            self._known = routes.known_until(conn, batch[0].position - 1)
        if len(self._cache) > self.CACHE_LIMIT:
            self._cache.clear()
        self._last_end = batch[-1].position

    def _subjects_of_events(
        self, conn: Connection, event_ids: list[str]
    ) -> tuple[dict[str, list[str]], dict[str, int]]:
        """Where each of these logged events is filed, and its position (the first
        event of that id, as ``Log.get`` finds it)."""
        out: dict[str, list[str]] = defaultdict(list)
        positions: dict[str, int] = {}
        if event_ids:
            rows = conn.execute(
                sa.select(
                    event_index.c.event_id, event_index.c.subject, event_index.c.position
                ).where(event_index.c.event_id.in_(event_ids))
            )
            for event_id, subject, position in rows:
                out[event_id].append(subject)
                positions[event_id] = min(position, positions.get(event_id, position))
        return out, positions

    def _apply_assets(
        self,
        conn: Connection,
        touched: dict[str, list[Event]],
        refold: set[str],
        ref: Reference,
        now: datetime,
    ) -> None:
        if not touched:
            return
        stored = self._stored_rows(conn, [a for a in touched if a not in self._cache])
        rows: list[dict[str, Any]] = []
        needs_fold: list[str] = []
        late: dict[str, tuple[Held, list[int]]] = {}
        for asset_id, new in touched.items():
            new.sort(key=lambda e: e.world_key)
            held = self._cache.get(asset_id) or _held_from_row(stored.get(asset_id))
            keys = [world_key(e) for e in new]
            if asset_id in refold:
                needs_fold.append(asset_id)
                continue
            if held.state is not None and keys[0] <= held.last_key:
                again = held.rewind_to(keys[0])
                if again is None:
                    needs_fold.append(asset_id)
                else:
                    late[asset_id] = (held, again)
                continue
            for e, key in zip(new, keys, strict=True):
                held.apply(e, key, ref, asset_id)
            if held.state is not None:
                self._cache[asset_id] = held
                rows.append(self._held_row(held, max(e.position for e in new), ref, now))
        rows.extend(self._fold_late(conn, late, touched, ref, now))
        if needs_fold:
            rows.extend(self._fold(conn, needs_fold, ref, now))
        if rows:
            upsert(conn, assets, rows, ["asset_id"])

    def _stored_rows(self, conn: Connection, asset_ids: list[str]) -> dict[str, Any]:
        """The stored rows of assets not held in memory, by asset."""
        out: dict[str, Any] = {}
        for i in range(0, len(asset_ids), 500):
            for found in conn.execute(
                sa.select(assets.c.asset_id, assets.c.last_world_key, assets.c.state).where(
                    assets.c.asset_id.in_(asset_ids[i : i + 500])
                )
            ):
                out[found.asset_id] = found
        return out

    def _fold_late(
        self,
        conn: Connection,
        late: dict[str, tuple[Held, list[int]]],
        touched: dict[str, list[Event]],
        ref: Reference,
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Late reports folded in from each asset's tail (``Held.rewind_to``): the
        events after them, read once for every such asset, applied again with them."""
        if not late:
            return []
        loaded = {
            e.position: e
            for e in load_events(conn, [p for _, again in late.values() for p in again])
        }
        rows = []
        for asset_id, (held, again) in late.items():
            merged = [loaded[p] for p in again] + touched[asset_id]
            merged.sort(key=lambda e: e.world_key)
            for e in merged:
                held.apply(e, world_key(e), ref, asset_id)
            self._cache[asset_id] = held
            rows.append(self._held_row(held, max(e.position for e in touched[asset_id]), ref, now))
        return rows

    def _held_row(self, held: Held, position: int, ref: Reference, now: datetime) -> dict[str, Any]:
        assert held.state is not None
        return self._row(held.state, held.observation, held.last_key, position, ref, now)

    def _fold(
        self, conn: Connection, asset_ids: list[str], ref: Reference, now: datetime
    ) -> list[dict[str, Any]]:
        positions = subject_positions(conn, [asset_subject(a) for a in asset_ids])
        loaded = load_events(conn, [p for ps in positions.values() for p in ps])
        log = Log(loaded)
        rows = []
        for asset_id in asset_ids:
            effective = log.of_asset(asset_id, None)
            held = Held()
            for e in effective:
                held.apply(e, world_key(e), ref, asset_id)
            self._cache.pop(asset_id, None)
            if held.state is None:
                conn.execute(assets.delete().where(assets.c.asset_id == asset_id))
                continue
            # A corrected version keeps its event's position, but a rewind reloads the
            # event as recorded: the tail keeps only the steps after the last one.
            corrected = {e.position for e in effective if e.corrected}
            if corrected:
                cut = max(
                    (i for i, (_, p, _, _) in enumerate(held.tail) if p in corrected),
                    default=-1,
                )
                if cut >= 0:
                    del held.tail[: cut + 1]
                    held.whole = False
            # The last observation that has happened (one may be dated minutes ahead).
            held.observation = None
            for e in effective:
                if e.type is EventType.OBSERVATION and e.occurred_at <= now:
                    held.observation = observation_json(e)
            self._cache[asset_id] = held
            rows.append(self._held_row(held, max(e.position for e in effective), ref, now))
        return rows

    def _row(
        self,
        state: AssetState,
        observation: dict[str, Any] | None,
        last_key: str,
        position: int,
        ref: Reference,
        now: datetime,
    ) -> dict[str, Any]:
        data = state_to_json(state)
        data["last_observation"] = observation
        return {
            "asset_id": state.asset_id,
            "contract_id": state.contract_id,
            "custodian": state.custodian,
            "status": state.status.value,
            "accounted_for": unaccounted_reason(state, ref, now) is None,
            "last_world_key": last_key,
            "state": orjson.dumps(data).decode(),
            "position": position,
        }

    def _reauthorise(
        self, conn: Connection, contracts: set[str], skip: set[str], ref: Reference, now: datetime
    ) -> None:
        query = sa.select(assets.c.asset_id, assets.c.state)
        if "*" not in contracts:
            query = query.where(assets.c.contract_id.in_(sorted(contracts)))
        updates = []
        for row in conn.execute(query):
            if row.asset_id in skip:
                continue
            state = state_from_json(orjson.loads(row.state))
            updates.append({"a": row.asset_id, "acc": unaccounted_reason(state, ref, now) is None})
        if updates:
            conn.execute(
                assets.update()
                .where(assets.c.asset_id == sa.bindparam("a"))
                .values(accounted_for=sa.bindparam("acc")),
                updates,
            )


def _part_rows(batch: Sequence[Event]) -> list[dict[str, Any]]:
    """Index rows for the part serials a batch names: a repair's own, filed under it,
    and those a correction writes, filed under the event it corrects."""
    rows = []
    for e in batch:
        if e.type not in (EventType.REPAIR_COMPLETED, EventType.EVENT_CORRECTED):
            continue
        repair = e.event_id if e.type is EventType.REPAIR_COMPLETED else e.target_event_id
        for serial in sorted(s for s in serials_of(e) if len(s) <= 128):
            rows.append({"serial": serial, "position": e.position, "event_id": repair})
    return rows


def backfill_amendment_summaries(conn: Connection, chunk: int = 2000) -> int:
    """Fill ``proj_event_amendments.summary`` for the rows written before it was
    stored (migration 0017), as :meth:`CustodyProjection.process` writes it; returns
    how many rows were filled."""
    done = 0
    after = -1
    while True:
        rows = conn.execute(
            sa.select(event_amendments.c.position, event_amendments.c.target_event_id)
            .where(event_amendments.c.position > after)
            .order_by(event_amendments.c.position)
            .limit(chunk)
        ).all()
        if not rows:
            return done
        after = rows[-1].position
        first = (
            sa.select(event_index.c.event_id, sa.func.min(event_index.c.position))
            .where(event_index.c.event_id.in_({r.target_event_id for r in rows}))
            .group_by(event_index.c.event_id)
        )
        target_at = dict(conn.execute(first).all())
        loaded = {
            e.position: e
            for e in load_events(conn, [r.position for r in rows] + list(target_at.values()))
        }
        updates = []
        for r in rows:
            at = target_at.get(r.target_event_id)
            summary = amendment_summary(loaded[r.position], None if at is None else loaded[at])
            updates.append({"p": r.position, "t": r.target_event_id, "s": summary})
        conn.execute(
            event_amendments.update()
            .where(
                event_amendments.c.position == sa.bindparam("p"),
                event_amendments.c.target_event_id == sa.bindparam("t"),
            )
            .values(summary=sa.bindparam("s")),
            updates,
        )
        done += len(updates)


def amendment_summary(e: Event, target: Event | None) -> str | None:
    """``proj_event_amendments.summary``: the amendment's line in a contract report
    (``None`` when its target is not in the log: no report lists it)."""
    if target is None:
        return None
    return orjson.dumps(Amendment.of(e, target).to_json()).decode()


def _targets(
    conn: Connection, positions: Iterable[int], batch: Sequence[Event]
) -> dict[str, Event]:
    """The amendments' targets by id, logged before the batch or in it: each
    amendment's line in a contract report (domain.rules.corrections) is stored with it,
    so the report parses neither the amendment nor its target."""
    found: dict[str, Event] = {}
    for t in [*load_events(conn, positions), *batch]:
        found.setdefault(t.event_id, t)
    return found


def inventory_row(e: Event) -> dict[str, Any]:
    """An inventory's ``proj_inventories`` row."""
    return {
        "position": e.position,
        "event_id": e.event_id,
        "occurred_at": to_stored(e.occurred_at),
        "reported_at": to_stored(e.reported_at),
        "subjects": orjson.dumps(list(e.subjects)).decode(),
    }


def backfill_inventories(conn: Connection) -> int:
    """Fill ``proj_inventories`` from the inventories custody had filed before it
    was written (migration 0017); returns how many."""
    positions = subject_positions(conn, [INVENTORIES]).get(INVENTORIES, [])
    rows = [
        inventory_row(e)
        for e in load_events(conn, positions)
        if e.type is EventType.INVENTORY_COMPLETED
    ]
    insert_many(conn, inventories, rows)
    return len(rows)
