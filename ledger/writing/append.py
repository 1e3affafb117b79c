"""Appending events: the write side's use case (SPEC.md §2, DOMAIN.md §3).

``Appender.append`` takes validated wire events and a principal and returns one result
per event, or raises a ``LedgerError`` naming every offending field — in which case
nothing was stored. The steps, in order:

1. permission and self-contained checks (role, party, ``reported_at``, times, shape);
2. in the commit thread (``ledger.writing.group_commit``), against the store: idempotent replays,
   references that must exist, keys that must not, party-bound keys, seller-side
   contract actions, ``expected_version``;
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError

from domain import links as refs
from domain.entries import EVENT_CLASSES, LedgerEntry
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
from ledger.writing.group_commit import GroupCommitter, Pending
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER, EventBase, to_record

SERVER_FIELDS = ("recorded_at", "recorded_by", "prev_hash")
NOT_CORRECTABLE_TARGETS = frozenset({EventType.EVENT_RETRACTED, EventType.EVENT_CORRECTED})


@dataclass(frozen=True)
class AppendResult:
    event_id: str
    position: int
    recorded_at: str
    hash: str
    replayed: bool = False


@dataclass
class _Prepared:
    index: int
    record: dict[str, Any]
    expected: dict[str, int]


@dataclass
class _Request:
    principal: Principal
    events: list[_Prepared]
    single: bool


@dataclass
class _Group:
    """What earlier requests of the same transaction register and touch."""

    keys: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    asset_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Plan:
    """One request's contribution to a transaction."""

    new: list[dict[str, Any]]
    replays: dict[str, StoredRecord]
    registrations: list[Registration]
    expected: list[tuple[str, int, int]]
    keys: dict[tuple[str, str], dict[str, Any] | None]
    counts: dict[str, int]


def _field(req: _Request, index: int, name: str) -> str:
    return name if req.single else f"events[{index}].{name}"


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
        prepared: list[_Prepared] = []
        seen_ids: set[str] = set()
        req = _Request(principal, [], single)
        for i, event in enumerate(events):
            record = to_record(event)
            etype = EventType(record["type"])

            def name(f: str, i: int = i) -> str:
                return _field(req, i, f)

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
            prepared.append(_Prepared(i, record, self._expected(event, record, name, problems)))
        if forbidden:
            raise ForbiddenError(_detail(forbidden), forbidden)
        if problems:
            raise InvalidEventError(_detail(problems), problems)
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
        ctx = _Group()
        plans: list[tuple[Pending, _Plan]] = []
        deferred: list[Pending] = []
        for pending in group:
            req: _Request = pending.payload
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
                for r in refs.references(p.record):
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
                plan = self._plan(pending.payload, _Group(), check_stored=True, targets=None)
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

    def _version_conflict(self, req: _Request, e: VersionConflictError) -> VersionConflict:
        index = next((p.index for p in req.events if e.asset_id in p.expected), 0)
        problem = Problem(
            _field(req, index, "expected_version"),
            f"asset {e.asset_id} is at version {e.actual}, not {e.expected}",
        )
        return VersionConflict(_detail([problem]), [problem])

    def _save(self, plans: list[_Plan]) -> list[list[tuple[int, bytes, str]]]:
        entries: list[LedgerEntry.Recorded] = []
        saved_at = datetime.now(UTC)
        registrations: list[Registration] = []
        expected: list[tuple[str, int, int]] = []
        counts: dict[str, int] = {}
        for plan in plans:
            for rec in plan.new:
                cls = EVENT_CLASSES[EventType(rec["type"])]
                entries.append(LedgerEntry.fact(cls, rec, saved_at))
            registrations.extend(plan.registrations)
            expected.extend(plan.expected)
            for a, n in plan.counts.items():
                counts[a] = counts.get(a, 0) + n
        results = (
            self.store.record(
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
        self, req: _Request, plan: _Plan, saved: list[tuple[int, bytes, str]]
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
        req: _Request,
        ctx: _Group,
        *,
        check_stored: bool,
        targets: dict[str, dict[str, Any]] | None,
    ) -> _Plan:
        records = [p.record for p in req.events]
        stored = self.lookups.events_by_id(r["event_id"] for r in records) if check_stored else {}
        problems: list[Problem] = []
        conflicts: list[Problem] = []
        replays: dict[str, StoredRecord] = {}
        new: list[_Prepared] = []
        for p in req.events:
            eid = p.record["event_id"]
            if eid in ctx.records:
                conflicts.append(
                    Problem(_field(req, p.index, "event_id"), "is being appended concurrently")
                )
            elif eid in stored:
                if _same_body(p.record, stored[eid].record):
                    replays[eid] = stored[eid]
                else:
                    conflicts.append(
                        Problem(
                            _field(req, p.index, "event_id"),
                            "was used before with a different body",
                        )
                    )
            else:
                new.append(p)
        if conflicts:
            raise DuplicateError(_detail(conflicts), conflicts)

        # References that must exist, and keys that must not.
        wanted: set[tuple[str, str]] = set()
        event_targets: set[str] = set()
        per_event: list[tuple[_Prepared, list[refs.Reference], list[refs.NewKey]]] = []
        for p in new:
            rs = list(refs.references(p.record))
            ks = refs.new_keys(p.record)
            per_event.append((p, rs, ks))
            for r in rs:
                if r.kind == refs.EVENT:
                    event_targets.add(r.natural_id)
                else:
                    wanted.add((r.kind, r.natural_id))
            for k in ks:
                wanted.add((k.kind, k.natural_id))
            if req.principal.party is not None:
                wanted.add((refs.PARTY, p.record["reporter"]))
        known = self.lookups.registered(wanted - ctx.keys.keys())
        known.update({k: v for k, v in ctx.keys.items()})
        if targets is None:
            targets = {
                e: s.record
                for e, s in self.lookups.events_by_id(event_targets - ctx.records.keys()).items()
            }
        target_records = {e: targets[e] for e in event_targets if e in targets}
        target_records.update({e: r for e, r in ctx.records.items() if e in event_targets})

        mine: dict[tuple[str, str], dict[str, Any] | None] = {}
        registrations: list[Registration] = []
        forbidden: list[Problem] = []
        local_records: dict[str, dict[str, Any]] = {}
        for p, rs, ks in per_event:
            rec = p.record
            for r in rs:
                name = _field(req, p.index, r.field)
                if r.kind == refs.EVENT:
                    target = target_records.get(r.natural_id) or local_records.get(r.natural_id)
                    if target is None:
                        problems.append(Problem(name, f"unknown event {r.natural_id!r}"))
                    elif (
                        rec["type"] == EventType.EVENT_RETRACTED
                        and target["type"] == EventType.EVENT_RETRACTED
                    ):
                        problems.append(Problem(name, "a retraction cannot be retracted"))
                    elif rec["type"] == EventType.EVENT_CORRECTED:
                        problems.extend(_check_correction(name, rec, target))
                elif (r.kind, r.natural_id) not in known and (r.kind, r.natural_id) not in mine:
                    problems.append(Problem(name, f"unknown {r.kind} {r.natural_id!r}"))
            for k in ks:
                if (k.kind, k.natural_id) in known or (k.kind, k.natural_id) in mine:
                    what = "serial and model" if k.kind == refs.SERIAL else k.kind
                    conflicts.append(
                        Problem(_field(req, p.index, k.field), f"{what} is already registered")
                    )
                    continue
                attrs = dict(k.attrs) if k.attrs is not None else None
                mine[(k.kind, k.natural_id)] = attrs
                registrations.append(
                    Registration(
                        k.kind,
                        k.natural_id,
                        rec["event_id"],
                        orjson.dumps(attrs).decode() if attrs is not None else None,
                    )
                )
            local_records[rec["event_id"]] = rec
            everything = {**known, **mine}
            if req.principal.party is not None and not _descends(
                rec["reporter"], req.principal.party, everything
            ):
                forbidden.append(
                    Problem(
                        _field(req, p.index, "reporter"),
                        f"this key may only report as {req.principal.party} or a unit under it",
                    )
                )
            if rec["type"] == EventType.CONTRACT_ACTION:
                contract = everything.get((refs.CONTRACT, rec["payload"]["target_contract_id"]))
                if contract is not None and not _seller_side(
                    rec["reporter"], contract["seller"], everything
                ):
                    forbidden.append(
                        Problem(
                            _field(req, p.index, "reporter"),
                            "only a seller-side reporter may record a contract_action",
                        )
                    )
        if forbidden:
            raise ForbiddenError(_detail(forbidden), forbidden)
        if problems:
            raise InvalidEventError(_detail(problems), problems)
        if conflicts:
            raise DuplicateError(_detail(conflicts), conflicts)

        # expected_version: the store checks it under the lock, offset by the events of
        # this transaction that come before; assets registered in this very group have
        # no stored version yet, so they are checked here.
        counts: dict[str, int] = {}
        expected: list[tuple[str, int, int]] = []
        version_problems: list[Problem] = []
        for p in new:
            for asset, version in p.expected.items():
                offset = ctx.asset_counts.get(asset, 0) + counts.get(asset, 0)
                if (refs.ASSET, asset) in ctx.keys or (refs.ASSET, asset) in mine:
                    if version != offset:
                        version_problems.append(
                            Problem(
                                _field(req, p.index, "expected_version"),
                                f"asset {asset} is at version {offset}, not {version}",
                            )
                        )
                else:
                    expected.append((asset, version, offset))
            for a in p.record.get("asset_ids", ()):
                counts[a] = counts.get(a, 0) + 1
        if version_problems:
            raise VersionConflict(_detail(version_problems), version_problems)
        return _Plan([p.record for p in new], replays, registrations, expected, mine, counts)


def _same_body(incoming: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Is ``incoming`` the same submission as ``stored``, ignoring server fields?"""
    theirs = {k: v for k, v in stored.items() if k not in SERVER_FIELDS}
    ours = {k: v for k, v in incoming.items() if k not in SERVER_FIELDS}
    if ours.get("reported_at") == incoming.get("recorded_at"):
        # No historical reported_at was sent: knowledge time is the first recording's.
        ours["reported_at"] = stored["recorded_at"]
    return ours == theirs


def _descends(party: str, ancestor: str, known: dict[tuple[str, str], Any]) -> bool:
    seen: set[str] = set()
    p: str | None = party
    while p is not None and p not in seen:
        if p == ancestor:
            return True
        seen.add(p)
        attrs = known.get((refs.PARTY, p))
        p = attrs.get("parent") if attrs else None
    return False


def _seller_side(party: str, seller: str, known: dict[tuple[str, str], Any]) -> bool:
    seen: set[str] = set()
    p: str | None = party
    while p is not None and p not in seen:
        seen.add(p)
        if _descends(p, seller, known):
            return True
        attrs = known.get((refs.PARTY, p))
        p = attrs.get("acts_for") if attrs else None
    return False


def _check_correction(name: str, rec: dict[str, Any], target: dict[str, Any]) -> list[Problem]:
    if target["type"] in NOT_CORRECTABLE_TARGETS:
        return [Problem(name, f"a {target['type']} cannot be corrected: retract it instead")]
    corrected = {k: v for k, v in target.items() if k not in SERVER_FIELDS and k != "reported_at"}
    for path, value in rec["payload"]["corrected_fields"].items():
        node: Any = corrected
        parts = path.split(".")
        for part in parts[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(part, {})
        if isinstance(node, dict):
            node[parts[-1]] = value
    try:
        EVENT_ADAPTER.validate_python(corrected)
    except ValidationError as e:
        return [
            Problem(
                f"payload.corrected_fields.{'.'.join(str(x) for x in err['loc'][1:])}",
                f"the corrected event would be invalid: {err['msg']}",
            )
            for err in e.errors()
        ]
    return []


def _detail(problems: list[Problem]) -> str:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{first.field}: {first.message}{more}"
