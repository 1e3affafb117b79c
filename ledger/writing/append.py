"""Appending events: the write side's use case (SPEC.md §2, DOMAIN.md §3).

``Appender.append`` takes validated wire events and a principal and returns one result
per event, or raises a ``LedgerError`` naming every offending field — in which case
nothing was stored. The steps, in order:

1. permission and self-contained checks (role, party, ``reported_at``, times, shape);
2. in the commit thread (``ledger.writing.group_commit``), against the store
   (``Appender._plan``; the checks themselves are in ``ledger.writing.append_checks``):
   a. event ids: idempotent replays, reuse with another body (``_sort_out_ids``);
   b. one read for the keys and events the new events name (``_look_up``);
   c. references that must exist, keys that must not, party-bound keys, seller-side
      contract actions (``Checks``);
   d. ``expected_version`` (``expected_versions``);
3. one atomic save with the hash chain (``ledger.store.recorders``).

References are checked before the write lock and that is safe: registrations are
append-only, so what exists cannot stop existing. What could race — a duplicate
registration or event id from another process, a version moved by another process —
is enforced again inside the transaction by unique keys and the version check.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from domain import links as refs
from domain.instants import to_stored
from domain.validation import check_event
from domain.vocabulary import REFERENCE_TYPES, EventType
from ledger.errors import (
    DuplicateError,
    ForbiddenError,
    InvalidEventError,
    LedgerError,
    Problem,
    VersionConflict,
)
from ledger.store.eventstore import EventStore
from ledger.store.lookups import Lookups, StoredRecord
from ledger.store.recorders import Registration, VersionConflictError
from ledger.writing.append_checks import (
    Checks,
    Group,
    Item,
    Keys,
    Prepared,
    Request,
    detail,
    expected_versions,
    field_name,
    same_body,
)
from ledger.writing.group_commit import GroupCommitter, Pending
from ledger.writing.principal import Principal
from ledger.writing.wire import EventBase, to_record


@dataclass(frozen=True)
class AppendResult:
    event_id: str
    position: int
    recorded_at: str
    hash: str
    replayed: bool = False


@dataclass
class _Plan:
    """One request's contribution to a transaction."""

    new: list[dict[str, Any]]
    replays: dict[str, StoredRecord]
    registrations: list[Registration]
    expected: list[tuple[str, int, int]]
    keys: dict[tuple[str, str], dict[str, Any] | None]
    counts: dict[str, int]


class Appender:
    def __init__(self, store: EventStore, lookups: Lookups, max_group_events: int) -> None:
        self.store = store
        self.lookups = lookups
        self._committer = GroupCommitter(self._process_group, max_group_events)
        self.on_commit: Callable[[], None] | None = None

    def close(self) -> None:
        self._committer.close()

    # --- step 1: in the caller's thread ------------------------------------------

    def append(
        self, events: Sequence[EventBase], principal: Principal, *, single: bool = False
    ) -> list[AppendResult]:
        """Append ``events`` atomically and wait for the outcome."""
        results: list[AppendResult] = self.submit(events, principal, single=single).result()
        return results

    def submit(
        self, events: Sequence[EventBase], principal: Principal, *, single: bool = False
    ) -> Future[list[AppendResult]]:
        """Check ``events`` and queue them for the next group commit.

        Raises at once for what the events alone show to be wrong; the future carries
        the outcome of the checks against the store and of the save."""
        now = datetime.now(UTC)
        recorded_at = to_stored(now)
        problems: list[Problem] = []
        forbidden: list[Problem] = []
        checked: list[tuple[int, dict[str, Any], dict[str, int]]] = []
        seen_ids: set[str] = set()
        req = Request(principal, [], single)
        for i, event in enumerate(events):
            record = to_record(event)
            etype = EventType(record["type"])

            def name(f: str, i: int = i) -> str:
                return field_name(req, i, f)

            if etype in REFERENCE_TYPES:
                if not principal.may("append_reference"):
                    forbidden.append(
                        Problem(name("type"), f"{etype} is reference data: admin only")
                    )
            elif not principal.may("append"):
                forbidden.append(Problem(name("type"), f"role {principal.role} may not append"))
            if event.reported_at is not None and not principal.may("append_historical"):
                forbidden.append(
                    Problem(name("reported_at"), "only importer and admin keys may set reported_at")
                )
            event_id = record.get("event_id") or str(uuid.uuid4())
            record["event_id"] = event_id
            if event_id in seen_ids:
                problems.append(Problem(name("event_id"), "repeats an event_id of this batch"))
            seen_ids.add(event_id)
            knowledge = event.reported_at or now
            if event.reported_at is not None and event.reported_at > now:
                problems.append(Problem(name("reported_at"), "must not be after recorded_at"))
            record["reported_at"] = to_stored(knowledge) if event.reported_at else recorded_at
            record["recorded_at"] = recorded_at
            record["recorded_by"] = principal.name
            for p in check_event(record, knowledge):
                problems.append(Problem(name(p.field), p.message))
            checked.append((i, record, self._expected(event, record, name, problems)))
        if forbidden:
            raise ForbiddenError(detail(forbidden), forbidden)
        if problems:
            raise InvalidEventError(detail(problems), problems)
        # Once checked: what the commit thread will look up.
        prepared = [Prepared(i, r, e, list(refs.references(r))) for i, r, e in checked]
        req.events = prepared
        return self._committer.submit(req, max(1, len(prepared)))

    @staticmethod
    def _expected(
        event: EventBase, record: dict[str, Any], name: Any, problems: list[Problem]
    ) -> dict[str, int]:
        ev = event.expected_version
        if ev is None:
            return {}
        assets = record.get("asset_ids", [])
        if isinstance(ev, int):
            if len(assets) != 1:
                problems.append(
                    Problem(
                        name("expected_version"),
                        "an integer needs exactly one asset; give asset_id → version",
                    )
                )
                return {}
            return {assets[0]: ev}
        stray = [a for a in ev if a not in assets]
        if stray:
            problems.append(
                Problem(name("expected_version"), f"names assets not in asset_ids: {stray}")
            )
        return dict(ev)

    # --- steps 2 and 3: in the commit thread -------------------------------------

    def _process_group(self, group: list[Pending]) -> None:
        """Plan every request of the group, then store the valid ones together.

        The common case costs no read at all: references hit the positive cache and
        event ids are assumed new. A reused event id, a concurrent registration or a
        moved version makes the shared transaction fail; then each request is planned
        again on its own, this time looking up its event ids (replay or 409)."""
        targets = self._prefetch(group)
        ctx = Group()
        plans: list[tuple[Pending, _Plan]] = []
        deferred: list[Pending] = []
        for pending in group:
            req: Request = pending.payload
            if any(p.record["event_id"] in ctx.records for p in req.events):
                deferred.append(pending)  # same id as an earlier request: after it
                continue
            try:
                plan = self._plan(req, ctx, check_stored=False, targets=targets)
            except DuplicateError:
                # Perhaps a retry of events already stored: decide with a lookup.
                deferred.append(pending)
                continue
            except LedgerError as e:
                pending.future.set_exception(e)
                continue
            ctx.keys.update(plan.keys)
            for rec in plan.new:
                ctx.records[rec["event_id"]] = rec
            for a, n in plan.counts.items():
                ctx.asset_counts[a] = ctx.asset_counts.get(a, 0) + n
            plans.append((pending, plan))
        if plans:
            try:
                outcomes = self._save([p for _, p in plans])
            except (IntegrityError, VersionConflictError):
                for pending, _ in plans:
                    self._process_alone(pending)
            else:
                for (pending, plan), saved in zip(plans, outcomes, strict=True):
                    pending.future.set_result(self._results(pending.payload, plan, saved))
        for pending in deferred:
            self._process_alone(pending)

    def _prefetch(self, group: list[Pending]) -> dict[str, dict[str, Any]]:
        """One read for the whole group: registered keys (into the cache) and targets."""
        wanted: set[tuple[str, str]] = set()
        targets: set[str] = set()
        for pending in group:
            for p in pending.payload.events:
                for r in p.references:
                    if r.kind == refs.EVENT:
                        targets.add(r.natural_id)
                    else:
                        wanted.add((r.kind, r.natural_id))
        if wanted:
            self.lookups.registered(wanted)
        return {e: s.record for e, s in self.lookups.events_by_id(targets).items()}

    def _process_alone(self, pending: Pending) -> None:
        for attempt in range(2):
            try:
                plan = self._plan(pending.payload, Group(), check_stored=True, targets=None)
                saved = self._save([plan])[0]
            except VersionConflictError as e:
                pending.future.set_exception(self._version_conflict(pending.payload, e))
            except IntegrityError:
                if attempt == 0:
                    continue  # a concurrent append got in between our read and our write
                pending.future.set_exception(
                    DuplicateError("conflicts with a concurrent append; retry the request")
                )
            except LedgerError as e:
                pending.future.set_exception(e)
            else:
                pending.future.set_result(self._results(pending.payload, plan, saved))
            return

    def _version_conflict(self, req: Request, e: VersionConflictError) -> VersionConflict:
        index = next((p.index for p in req.events if e.asset_id in p.expected), 0)
        problem = Problem(
            field_name(req, index, "expected_version"),
            f"asset {e.asset_id} is at version {e.actual}, not {e.expected}",
        )
        return VersionConflict(detail([problem]), [problem])

    def _save(self, plans: list[_Plan]) -> list[list[tuple[int, bytes, str]]]:
        entries: list[dict[str, Any]] = []
        registrations: list[Registration] = []
        expected: list[tuple[str, int, int]] = []
        counts: dict[str, int] = {}
        for plan in plans:
            entries.extend(plan.new)
            registrations.extend(plan.registrations)
            expected.extend(plan.expected)
            for a, n in plan.counts.items():
                counts[a] = counts.get(a, 0) + n
        results = (
            self.store.append_records(
                entries, registrations=registrations, asset_counts=counts, expected=expected
            )
            if entries
            else []
        )
        if entries and self.on_commit is not None:
            self.on_commit()
        out: list[list[tuple[int, bytes, str]]] = []
        at = 0
        for plan in plans:
            out.append(results[at : at + len(plan.new)])
            at += len(plan.new)
        return out

    def _results(
        self, req: Request, plan: _Plan, saved: list[tuple[int, bytes, str]]
    ) -> list[AppendResult]:
        fresh = iter(saved)
        results: list[AppendResult] = []
        for p in req.events:
            eid = p.record["event_id"]
            if eid in plan.replays:
                s = plan.replays[eid]
                results.append(
                    AppendResult(eid, s.position, s.record["recorded_at"], s.hash.hex(), True)
                )
            else:
                position, digest, recorded_at = next(fresh)
                results.append(AppendResult(eid, position, recorded_at, digest.hex()))
        return results

    def _plan(
        self,
        req: Request,
        ctx: Group,
        *,
        check_stored: bool,
        targets: dict[str, dict[str, Any]] | None,
    ) -> _Plan:
        """Check ``req`` against the store and what ``ctx`` holds (steps 2a–2d).

        Raises for the first kind of failure found, in this order: a reused event id,
        forbidden, invalid, a duplicate key, a version conflict."""
        replays, new = self._sort_out_ids(req, ctx, check_stored)
        items = [Item(p, p.references, refs.new_keys(p.record)) for p in new]
        known, target_records = self._look_up(req, ctx, items, targets)
        checks = Checks(req, known, target_records)
        for item in items:
            checks.check(item)
        checks.raise_any()
        expected, counts = expected_versions(req, ctx, new, checks.mine)
        return _Plan(
            [p.record for p in new], replays, checks.registrations, expected, checks.mine, counts
        )

    def _sort_out_ids(
        self, req: Request, ctx: Group, check_stored: bool
    ) -> tuple[dict[str, StoredRecord], list[Prepared]]:
        """Split ``req`` into replays of stored events and new events.

        An event id already used with another body, or being appended by an earlier
        request of the group, is a conflict: ``DuplicateError``."""
        records = [p.record for p in req.events]
        stored = self.lookups.events_by_id(r["event_id"] for r in records) if check_stored else {}
        conflicts: list[Problem] = []
        replays: dict[str, StoredRecord] = {}
        new: list[Prepared] = []
        for p in req.events:
            eid = p.record["event_id"]
            if eid in ctx.records:
                conflicts.append(
                    Problem(field_name(req, p.index, "event_id"), "is being appended concurrently")
                )
            elif eid in stored:
                if same_body(p.record, stored[eid].record):
                    replays[eid] = stored[eid]
                else:
                    conflicts.append(
                        Problem(
                            field_name(req, p.index, "event_id"),
                            "was used before with a different body",
                        )
                    )
            else:
                new.append(p)
        if conflicts:
            raise DuplicateError(detail(conflicts), conflicts)
        return replays, new

    def _look_up(
        self,
        req: Request,
        ctx: Group,
        items: list[Item],
        targets: dict[str, dict[str, Any]] | None,
    ) -> tuple[Keys, dict[str, dict[str, Any]]]:
        """The registered keys and the target events that ``items`` name.

        Keys and events of earlier requests in the group count as registered and stored.
        ``targets``, when given, is the group's prefetch; otherwise they are read here."""
        wanted: set[tuple[str, str]] = set()
        event_targets: set[str] = set()
        for item in items:
            for r in item.references:
                if r.kind == refs.EVENT:
                    event_targets.add(r.natural_id)
                else:
                    wanted.add((r.kind, r.natural_id))
            for k in item.new_keys:
                wanted.add((k.kind, k.natural_id))
            if req.principal.party is not None:
                wanted.add((refs.PARTY, item.prepared.record["reporter"]))
        known = self.lookups.registered(wanted - ctx.keys.keys())
        known.update(ctx.keys)
        if targets is None:
            targets = {
                e: s.record
                for e, s in self.lookups.events_by_id(event_targets - ctx.records.keys()).items()
            }
        target_records = {e: targets[e] for e in event_targets if e in targets}
        target_records.update({e: r for e, r in ctx.records.items() if e in event_targets})
        return known, target_records
