"""Following a growing log through knowledge time, for a projection (:class:`Walk`):
the same lives :func:`~domain.rules.tracking.life` gives for the whole log, fed a batch
at a time and drained as they change."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import pairwise

from domain.history import Event, Log, StoredEvents
from domain.rules.collector import collector_paused
from domain.rules.dispositions import DispositionTimelines
from domain.rules.evaluation import Evaluator
from domain.rules.findings import Finding, FindingDisposition
from domain.rules.impact import NOTHING_KNOWN, Impact, ScopeKey
from domain.rules.lives import Lives
from domain.rules.seeding import Seeding, hold
from domain.rules.tracking import (
    Drained,
    LifeTracker,
    Prefix,
    ReferenceReuse,
    batches,
)


class Walk:
    """A walk through knowledge time that follows a growing log, for a projection.

    :meth:`feed` takes the log's next events (later in position than every event fed,
    and not earlier in knowledge time than the last instant walked); a feed may end
    in the middle of a knowledge instant's events and the next one continue it. The
    lives are those :func:`life` gives for the events fed so far, however they were
    split (tested): :meth:`lives`, or, for a store of lives, :meth:`drain` — what
    changed in each life since the last drain. Events reported before the last
    instant walked (a historical import) are refused with ``ValueError``: walk again
    from the start. :meth:`feed` and :meth:`drain` run with the cyclic garbage
    collector paused (:func:`~domain.rules.collector.collector_paused`).
    """

    def __init__(self, *, incremental: bool = True) -> None:
        self.history = ReferenceReuse(Log(()))
        self._incremental = incremental
        self._make_evaluator()
        self.tracker = LifeTracker()
        self.k: datetime | None = None
        self._prev = NOTHING_KNOWN  # the instant walked before ``k``
        self.end = 0  # the last position fed
        self._dispositions = DispositionTimelines()
        self._lenient = False  # :meth:`resume_lazily` feeding the last instant again

    def _make_evaluator(self) -> None:
        self.evaluator = Evaluator(self.history, incremental=self._incremental)

    @classmethod
    def resume(
        cls,
        logged: Sequence[Event],
        stored: Callable[[datetime, Mapping[str, Finding]], Mapping[str, Prefix]],
        make: Callable[[], Walk] | None = None,
    ) -> Walk:
        """The walk a projection had when it had fed ``logged`` (the stored log, in
        knowledge order) and drained every change into its store, rebuilt without
        walking again: one evaluation of everything at the last complete knowledge
        instant ``k`` and the stored lives up to ``k`` (``stored(k, implied)``, given
        the findings implied at ``k``; :meth:`LifeTracker.seed`), then the last instant's events fed (it may go on in
        the next batch, so the walk must know how its keys stood before it); their
        changes are left to :meth:`drain` (they are stored: a caller may check them,
        and must drop them). The lives are those of a walk that never stopped (tested
        at every cut). ``ValueError`` when the log is not in knowledge
        order, :class:`~domain.rules.tracking.StoredLivesDisagree` when the stored lives
        are not what it implies: walk it whole instead. ``make``: a new walk of the
        kind to resume (a partition's, ``domain.rules.partitions``)."""
        if any(a.knowledge_key > b.knowledge_key for a, b in pairwise(logged)):
            raise ValueError("the log is not in knowledge order")
        walk = cls() if make is None else make()
        logged = walk._taken(logged)
        last = bisect_left([e.reported_at for e in logged], logged[-1].reported_at) if logged else 0
        head, tail = logged[:last], logged[last:]
        if not head:  # nothing before the last instant: nothing is stored up to it
            walk.tracker.seed(NOTHING_KNOWN, {}, stored(NOTHING_KNOWN, {}))
        else:
            with collector_paused():
                k = head[-1].reported_at
                instants = [e.reported_at for e in head]
                before = instants[bisect_left(instants, k) - 1] if instants[0] < k else None
                walk.history = ReferenceReuse(Log(head))
                walk._make_evaluator()
                found = walk.evaluator.everything(k)
                implied = {f.finding_key: f for fs in found.values() for f in fs}
                walk.tracker.seed(k, found, stored(k, implied))
                walk.k, walk._prev = k, before or NOTHING_KNOWN
                walk.end = max(e.position for e in head)
                walk._dispositions.feed(walk.history.log, head)
        walk.feed(tail)
        return walk

    @classmethod
    def resume_lazily(
        cls,
        seed: Seeding,
        loader: StoredEvents,
        make: Callable[[], Walk] | None = None,
    ) -> Walk:
        """:meth:`resume` without reading or evaluating the whole log: the walk holds
        only ``seed.held`` — the events every asset's rules read (reference data,
        registrations, inventories, contract actions, dispositions, every retraction
        and correction and their targets) — and ``loader(asset_id)`` gives an asset's
        other stored events the first time they are needed
        (:attr:`~domain.history.Log.partial`). The tracker stands on the stored lives
        (``seed.found``: the findings implied at the last complete knowledge instant,
        ``seed.prefixes``: each life up to it), every contract's C01–C03 are judged
        from the stored R03 findings and held to the stored ones, and each asset is
        evaluated the first time it is needed, at that instant first: what it finds
        there is held to what was stored (:class:`StoredLivesDisagree` otherwise,
        raised by the :meth:`feed` that needed it — walk the log whole then). The last
        instant's events (``seed.tail``) are fed, as :meth:`resume` does; their
        changes are left to :meth:`drain`. ``make``: a new walk of the kind to resume
        (a partition's)."""
        walk = cls() if make is None else make()
        held = walk._taken(seed.held)
        walk.history = ReferenceReuse(Log(held, loader=loader))
        walk._make_evaluator()
        k = seed.k
        if k is None:
            walk.tracker.seed(NOTHING_KNOWN, {}, seed.prefixes)
        else:
            with collector_paused():
                walk.evaluator.seed(k, seed.found, seed.held_by, seed.deferred)
                walk.tracker.seed(k, seed.found, seed.prefixes, seed.deferred)
                # The instant before ``k`` matters only to a batch that continues ``k``:
                # the last instant, fed next, is another.
                walk.k = k
                walk.end = seed.end
                walk._dispositions.feed(walk.history.log, held)
        # The last instant may have changed what stood at ``k`` in ways the store
        # cannot tell (a finding it made pending, or one it took back before it was
        # detected): the scopes it evaluates are held to the store by the caller, from
        # what it drains (as after :meth:`resume`), not to what stood at ``k``.
        walk._lenient = True
        try:
            walk.feed(seed.tail)
        finally:
            walk._lenient = False
        walk._hold_checks({})
        return walk

    def follows(self, new: Sequence[Event]) -> bool:
        """Whether :meth:`feed` can take ``new``."""
        log = self.history.log
        if not log.extends(new):
            return False
        return self.k is None or all(e.reported_at >= self.k for e in new)

    def feed(self, new: Sequence[Event]) -> None:
        if not new:
            return
        if not self.follows(new):
            raise ValueError("the log learnt of the past already walked: start again")
        with collector_paused():
            self._feed(new)

    def _taken(self, events: Sequence[Event]) -> Sequence[Event]:
        """``events`` as this walk holds them: whole (a partition's walk keeps less of
        an inventory, ``domain.rules.partitions``)."""
        return events

    def _feed(self, new: Sequence[Event]) -> None:
        new = self._taken(new)
        self.history.grow(new)
        self.evaluator.grow(new)
        for k, group in batches(new):
            prev = self._prev if k == self.k else (self.k or NOTHING_KNOWN)
            self._instant(k, group, prev)
            if k != self.k:
                self._prev, self.k = self.k or NOTHING_KNOWN, k
        self.end = max(self.end, max(e.position for e in new))
        self._dispositions_after(new)

    def tick(self, k: datetime | None) -> None:
        """The log has reached knowledge instant ``k`` with events this walk was not
        fed (another partition's, ``domain.rules.partitions``): findings pending until
        before ``k`` are detected, as a walk of the whole log detects them at its
        instant ``k``. Nothing else changes: no scope was touched."""
        if k is None or (self.k is not None and k <= self.k):
            return
        with collector_paused():
            self.tracker.advance(k, {}, Impact())
        self._prev, self.k = self.k or NOTHING_KNOWN, k

    def _instant(self, k: datetime, group: list[Event], prev: datetime) -> None:
        """Judge what the events of knowledge instant ``k`` change."""
        impact = self.evaluator.impact(group, k, prev)
        found = self.evaluator.run(k, impact)
        self._hold_checks(found)
        self.tracker.advance(k, found, impact)

    def _hold_checks(self, found: Mapping[ScopeKey, Sequence[Finding]]) -> None:
        """Hold the first evaluation of each seeded scope (:meth:`resume_lazily`) to
        what was stored; while the last stored instant is fed again, a scope it
        evaluates (``found``) is held by what it drains instead."""
        for scope, stored, now in self.evaluator.take_checks():
            if not (self._lenient and scope in found):
                hold(scope, stored, now)

    def owns_key(self, key: str) -> bool:
        """Whether the finding ``key`` is judged by this walk (all, but for a share of
        the work: ``domain.rules.partitions``)."""
        return True

    def _dispositions_after(self, new: Sequence[Event]) -> None:
        for key in self._dispositions.feed(self.history.log, new):
            if self.owns_key(key):
                self.tracker.mark(key)

    def drain(self) -> list[Drained]:
        """What changed in each life since the last drain (:meth:`LifeTracker.drain`)."""
        with collector_paused():
            return self.tracker.drain()

    def dispositions(self, key: str) -> Sequence[tuple[datetime, FindingDisposition | None]]:
        return self._dispositions.timelines.get(key, ())

    def lives(self, keys: Iterable[str] | None = None) -> Lives:
        return self.tracker.lives(self._dispositions.timelines, keys)
