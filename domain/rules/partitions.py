"""Findings judged in partitions: several walks, each over a share of the assets, and
one over the contracts, whose lives together are those one walk gives (tested).

An asset's ``R…`` findings, and its C04/C05, read only its own events (its
registration among them) and what is known log-wide — reference data, inventories,
contract actions and dispositions (the *global* events, under 0.4 % of a realistic
log). So assets hash into partitions (:func:`shard`), and a partition's walk
(:class:`PartitionWalk`) is fed the global events and the events naming its assets
(:class:`Router`); it judges only its assets, and keeps of each inventory its scope
and its own assets' lines (``Event.kept_for``, decision 0024). C01–C03 read every
asset of a contract (their R03 findings): a partition publishes, per knowledge
instant, the assets whose R03 findings or contract changed and the ids the instant
retracted or corrected (:class:`PartRecord`); the contract walk
(:class:`ContractWalk`) is fed the global events and those records and judges
C01–C03 alone.

A retraction or correction goes where its target went (its asset's partition; every
partition for a global event; along a chain, where the event first amended went):
``asset_ids`` cannot be corrected (DOMAIN.md §3), so an event's partitions never
change. A finding's key tells whose it is
(:func:`key_asset`): an asset's, or a contract's (C01–C03).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from hashlib import blake2b
from itertools import pairwise

from domain.history import Event, Log, StoredEvents
from domain.rules.collector import collector_paused
from domain.rules.evaluation import Evaluator, UnaccountedPart
from domain.rules.facts import CUT_TYPES
from domain.rules.findings import Finding, rule_of_key
from domain.rules.impact import AMENDMENTS, NOTHING_KNOWN, Impact, no_asset
from domain.rules.seeding import Seeding
from domain.rules.tracking import (
    Prefix,
    ReferenceReuse,
    batches,
)
from domain.rules.walk import Walk
from domain.vocabulary import REFERENCE_TYPES, EventType

GLOBAL_TYPES: frozenset[EventType] = (REFERENCE_TYPES | CUT_TYPES) - {EventType.ASSET_REGISTERED}
"""Events every partition reads (what an asset's rules read beyond its own events).
An asset's registration is read by its own rules only (``CutFacts.contract_of`` of the
asset judged; the contract level learns an asset's contract from its partition's
:class:`PartRecord`), so it goes where the asset's other events go: one in a realistic
log's hundred events, it was two fifths of what every partition held and judged of the
log beside its own (decision 0023)."""

CONTRACT_RULES = frozenset({"C01", "C02", "C03"})
"""The rules judged over a whole contract (by the contract walk)."""

_STATE_RULES = frozenset({"R01", "R03", "R12", "R13"})


_KEYS = 1 << 64


@lru_cache(maxsize=1 << 16)
def shard(asset_id: str, count: int) -> int:
    """The partition of an asset among ``count``: stable across processes and
    machines (Python's ``hash`` of a string is salted per process). Remembered for the
    most recent assets: a worker running its partitions one after the other asks it
    of every event of the log once for each."""
    return key_partition(shard_key(asset_id), count)


def key_partition(key: int, count: int) -> int:
    """The partition among ``count`` of an asset's :func:`shard_key` (held signed)."""
    return (key % _KEYS) % count


def shard_key(asset_id: str) -> int:
    """The asset's 64-bit key, as a signed integer (what a database's ``BIGINT``
    holds): its partition among ``count`` is the key taken as unsigned, modulo
    ``count`` (:func:`shard`; ``ledger.projections.routes`` asks the database the same)."""
    digest = blake2b(asset_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


ANYONES: frozenset[str] = frozenset(t.value for t in GLOBAL_TYPES)
"""Event types :class:`Router` gives every partition and the contract level (an
amendment goes where its target went: :func:`route_keys`)."""


_AMENDMENT_VALUES = frozenset(t.value for t in AMENDMENTS)


def route_keys(
    event_type: str, asset_ids: Iterable[str], target: Sequence[int | None] | None = None
) -> list[int | None]:
    """The keys under which the log's route index files an event of ``event_type``
    naming ``asset_ids``: ``[None]`` for one :class:`Router` gives every partition
    and the contract level (log-wide, or naming no asset), else the
    :func:`shard_key` of each asset it names. An amendment is filed where its target
    was (``target``: the keys the target is filed under; ``None`` when it is not
    known: every partition, where it amends nothing). A partition's share of the log
    is then the events filed under ``None`` or under one of its keys: what
    ``Router.split`` gives it."""
    if event_type in _AMENDMENT_VALUES:
        return list(target) if target else [None]
    if event_type in ANYONES:
        return [None]
    keys: list[int | None] = [*sorted({shard_key(str(a)) for a in asset_ids})]
    return keys or [None]


def key_asset(key: str) -> str | None:
    """The asset a finding key belongs to; ``None`` for C01–C03 (a contract's), and for
    a key no rule makes (a disposition may name any text): the contract level then
    owns it, and, as one walk does, finds no life for it. State keys name the asset
    second (``R03/asset/since``), event and discrepancy keys third
    (``RULE/trigger/asset``); ids never contain ``/``."""
    rule = rule_of_key(key)
    parts = key.split("/")
    if rule in CONTRACT_RULES:
        return None
    at = 1 if rule in _STATE_RULES else 2
    return (parts[at] or None) if len(parts) > at else None


@dataclass(frozen=True, slots=True)
class Partition:
    """Partition ``index`` of ``count``; ``index`` ``None`` is the contract level."""

    index: int | None
    count: int

    def owns(self, asset_id: str) -> bool:
        return self.index is not None and shard(asset_id, self.count) == self.index

    def owns_key(self, key: str) -> bool:
        asset = key_asset(key)
        return self.owns(asset) if asset is not None else self.index is None

    def owns_route(self, key: int) -> bool:
        """Whether an event filed under an asset's :func:`shard_key` is this
        partition's (the route index's keys, ``ledger.projections.routes``)."""
        return self.index is not None and key_partition(key, self.count) == self.index

    @property
    def name(self) -> str:
        return "contracts" if self.index is None else f"{self.index}of{self.count}"


EVERY = None
"""A route to every partition and the contract level."""

Route = frozenset[int] | None


class Router:
    """Which partitions an event goes to: ``None`` (every one, and the contract walk)
    for a global event or one naming no asset; else the partitions of the assets it
    names. An amendment goes where its target went, along a chain of amendments to the
    event first amended: ``target(event_id)`` gives the target (``None`` when unknown:
    every partition, where it amends nothing)."""

    def __init__(self, count: int, target: Callable[[str], Event | None]) -> None:
        self.count = count
        self.target = target

    def route(self, e: Event) -> Route:
        seen: set[str] = set()
        while e.type in AMENDMENTS:  # a correction's target, a retracted correction's…
            seen.add(e.event_id)
            t = self.target(e.target_event_id or "")
            if t is None or t.event_id in seen:
                return EVERY
            e = t
        if e.type in GLOBAL_TYPES or not e.subjects:
            return EVERY
        return frozenset(shard(a, self.count) for a in e.subjects)

    def split(self, events: Iterable[Event]) -> dict[int | None, list[Event]]:
        """The events per partition (``None``: the contract walk's), in their order."""
        out: dict[int | None, list[Event]] = {i: [] for i in range(self.count)}
        out[None] = []
        for e in events:
            route = self.route(e)
            for i in (*range(self.count), None) if route is None else route:
                out[i].append(e)
        return out


@dataclass(frozen=True, slots=True)
class PartRecord:
    """What a partition tells the contract walk of knowledge instant ``k``: the parts
    that changed (asset → its contract and R03 findings) and the ids the instant
    retracted or corrected (a C01 whose evidence they were is voided, not resolved)."""

    k: datetime
    position: int = 0  # the last event of the instant the partition had walked
    parts: Mapping[str, UnaccountedPart] = field(default_factory=dict)
    retracted: frozenset[str] = frozenset()
    corrected: frozenset[str] = frozenset()


class PartitionWalk(Walk):
    """A walk over one partition's events (:meth:`Router.split`): the findings of its
    assets, and the :class:`PartRecord` of each instant (:meth:`take_records`)."""

    def __init__(self, partition: Partition) -> None:
        self.partition = partition
        self._owns = partition.owns  # one object: what its inventories were kept for
        self._records: list[PartRecord] = []
        super().__init__()

    def _taken(self, events: Sequence[Event]) -> Sequence[Event]:
        """The events, each inventory with only this partition's lines
        (:meth:`Event.kept_for`)."""
        return _kept(events, self._owns)

    def _make_evaluator(self) -> None:
        self.evaluator = Evaluator(self.history, owns=self.partition.owns, contract_state=False)
        self.evaluator.published = {}

    @classmethod
    def resumed(
        cls,
        partition: Partition,
        logged: Sequence[Event],
        stored: Callable[[datetime, Mapping[str, Finding]], Mapping[str, Prefix]],
    ) -> PartitionWalk:
        """:meth:`Walk.resume` for a partition (``logged``: its events); the records
        of the instants judged again are dropped, like their changes: they were
        stored when first walked."""
        walk = cls.resume(logged, stored, make=lambda: cls(partition))
        assert isinstance(walk, PartitionWalk)
        walk.take_records()
        walk.evaluator.published = {}
        return walk

    @classmethod
    def resumed_lazily(
        cls, partition: Partition, seed: Seeding, loader: StoredEvents
    ) -> PartitionWalk:
        """:meth:`Walk.resume_lazily` for a partition (``seed``: its stored lives and
        its share of the last instant); records dropped as in :meth:`resumed`."""
        walk = cls.resume_lazily(seed, loader, make=lambda: cls(partition))
        assert isinstance(walk, PartitionWalk)
        walk.take_records()
        walk.evaluator.published = {}
        return walk

    def owns_key(self, key: str) -> bool:
        return self.partition.owns_key(key)

    def follow(self, new: Sequence[Event], upto: datetime | None) -> None:
        """:meth:`feed` this partition's share of the log's next events, then
        :meth:`tick` to ``upto``, the knowledge instant the log has reached: a
        finding pending in this partition is detected when the log's knowledge
        passes its ``valid_from``, whoever's events took it there."""
        self.feed(new)
        self.tick(upto)

    def _instant(self, k: datetime, group: list[Event], prev: datetime) -> None:
        ev = self.evaluator
        assert ev.published is not None
        impact = ev.impact(group, k, prev)
        found = ev.run(k, impact)
        self._hold_checks(found)
        self.tracker.advance(k, found, impact)
        parts, ev.published = ev.published, {}
        if parts or impact.retracted or impact.corrected:
            position = max(e.position for e in group)
            record = PartRecord(k, position, parts, impact.retracted, impact.corrected)
            self._records.append(record)

    def take_records(self) -> list[PartRecord]:
        """The records of the instants walked since the last call, in knowledge order."""
        out, self._records = self._records, []
        return out


class ContractWalk(Walk):
    """The contract level: C01–C03 of every contract, from the global events and the
    partitions' :class:`PartRecord` (:meth:`feed` takes both, up to an instant every
    partition has walked)."""

    def __init__(self) -> None:
        self.partition = Partition(None, 0)
        super().__init__()

    def _taken(self, events: Sequence[Event]) -> Sequence[Event]:
        """The events, each inventory without its lines: no asset is judged here."""
        return _kept(events, _nobody)

    def _make_evaluator(self) -> None:
        self.evaluator = Evaluator(
            self.history, owns=no_asset, contract_state=True, contract_assets=False
        )

    def owns_key(self, key: str) -> bool:
        return key_asset(key) is None

    @classmethod
    def resume_from(
        cls,
        logged: Sequence[Event],
        records: Sequence[PartRecord],
        stored: Callable[[datetime, Mapping[str, Finding]], Mapping[str, Prefix]],
    ) -> ContractWalk:
        """As :meth:`Walk.resume`, for the contract level: ``logged`` its events and
        ``records`` every partition's, both in knowledge order, as they were fed to
        the walk whose lives are stored. The parts at the instant before the last are
        the latest each asset's records gave; everything is judged there once, the
        tracker seeded with the stored lives, and the last instant fed again (its
        changes are stored: the caller drops them)."""
        if any(a.knowledge_key > b.knowledge_key for a, b in pairwise(logged)):
            raise ValueError("the log is not in knowledge order")
        walk = cls()
        logged = walk._taken(logged)
        instants = sorted({e.reported_at for e in logged} | {r.k for r in records})
        last = instants[-1] if instants else NOTHING_KNOWN
        head = [e for e in logged if e.reported_at < last]
        if len(instants) < 2:
            walk.tracker.seed(NOTHING_KNOWN, {}, stored(NOTHING_KNOWN, {}))
        else:
            with collector_paused():
                k = instants[-2]
                walk.history = ReferenceReuse(Log(head))
                walk._make_evaluator()
                parts: dict[str, UnaccountedPart] = {}
                for r in records:
                    if r.k < last:
                        parts.update(r.parts)
                found = walk.evaluator.run(k, Impact(everything=True), parts)
                implied = {f.finding_key: f for fs in found.values() for f in fs}
                walk.tracker.seed(k, found, stored(k, implied))
                walk.k, walk._prev = k, instants[-3] if len(instants) > 2 else NOTHING_KNOWN
                walk.end = max((e.position for e in head), default=0)
                walk._dispositions.feed(walk.history.log, head)
        walk.feed([e for e in logged if e.reported_at == last], [r for r in records if r.k == last])
        return walk

    def feed(
        self,
        new: Sequence[Event],
        records: Sequence[PartRecord] = (),
        upto: datetime | None = None,
    ) -> None:
        """Take the global events and the partitions' records of the log's next
        events; ``upto``: the knowledge instant the log has reached (:meth:`tick`)."""
        if not new and not records:
            self.tick(upto)
            return
        if not self.follows(new) or any(self.k is not None and r.k < self.k for r in records):
            raise ValueError("the log learnt of the past already walked: start again")
        with collector_paused():
            self._feed_with(new, records)
        self.tick(upto)

    def _feed_with(self, new: Sequence[Event], records: Sequence[PartRecord]) -> None:
        new = self._taken(new)
        self.history.grow(new)
        self.evaluator.grow(new)
        by_k: dict[datetime, list[PartRecord]] = {}
        for r in records:
            by_k.setdefault(r.k, []).append(r)
        groups = dict(batches(new))
        for k in sorted(set(groups) | set(by_k)):
            prev = self._prev if k == self.k else (self.k or NOTHING_KNOWN)
            group = groups.get(k, [])
            impact = self.evaluator.impact(group, k, prev) if group else Impact(news={})
            parts: dict[str, UnaccountedPart] = {}
            retracted, corrected = set(impact.retracted), set(impact.corrected)
            for r in by_k.get(k, ()):
                parts.update(r.parts)
                retracted |= r.retracted
                corrected |= r.corrected
            impact = impact.amending(frozenset(retracted), frozenset(corrected))
            self.tracker.advance(k, self.evaluator.run(k, impact, parts), impact)
            if k != self.k:
                self._prev, self.k = self.k or NOTHING_KNOWN, k
        if new:
            self.end = max(self.end, max(e.position for e in new))
        self._dispositions_after(new)


def _kept(events: Sequence[Event], owns: Callable[[str], bool]) -> Sequence[Event]:
    if not any(e.type is EventType.INVENTORY_COMPLETED for e in events):
        return events
    return [e.kept_for(owns) for e in events]


def _nobody(asset_id: str) -> bool:
    return False
