"""A walk resumed without reading the whole log (``Walk.resume_lazily``) goes on as if
it had never stopped: it holds only the log-wide events (``domain.rules.seeding.held``),
loads an asset's own the first time it needs them, and stands on the stored lives. Fed
the same log in the same pieces, a walk stopped at any cut and resumed lazily stores
exactly what an uninterrupted walk stores, on generated logs and on the realistic
world; and a store that is not what the log implies is refused when an asset it
stored findings for is first evaluated, or at once for a contract's C01–C03."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.history import Event, StoredEvents
from domain.rules.findings import Finding
from domain.rules.impact import AMENDMENTS
from domain.rules.partitions import GLOBAL_TYPES
from domain.rules.seeding import HELD_TYPES, Seeding, by_scope, held, implied_then
from domain.rules.tracking import Drained, Prefix, StoredLivesDisagree
from domain.rules.walk import Walk
from tests.unit.builders import observe, register, retract, support
from tests.unit.rule_builders import suspend
from tests.unit.test_walk_incremental import Seeded, _events, generate, logs
from tests.unit.test_walk_realistic import _events as realistic_events
from tests.unit.test_walk_resume import Store


class LazyStore(Store):
    """The store of lives, with what a lazily resumed walk reads besides: each life's
    pending finding and the assets each party was found to hold."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[str, Finding | None] = {}
        self.holders: dict[str, set[str]] = {}
        self.loaded: list[str] = []

    def keep(self, walk: Walk, drained: Sequence[Drained]) -> None:
        self.take(drained)
        for d in drained:
            if d.gone:
                self.pending.pop(d.key, None)
            else:
                self.pending[d.key] = d.pending
        for party, assets in walk.evaluator.take_holders().items():
            self.holders.setdefault(party, set()).update(assets)

    def seeding(self, logged: Sequence[Event], share: Sequence[Event] | None = None) -> Seeding:
        """What the store and the log up to its end give a lazily resumed walk
        (``share``: the events of the log the walk was fed, a partition's)."""
        last = logged[-1].reported_at
        head = [e for e in logged if e.reported_at < last]
        k = head[-1].reported_at if head else None
        prefixes: dict[str, Prefix] = {}
        implied: list[Finding] = []
        for key, changes in self.changes.items():
            done = [c for c in changes if k is not None and c.at <= k]
            later = changes[len(done) :]
            prefix = None
            if done:
                base = next((c.finding for c in reversed(done) if c.finding is not None), None)
                prefix = prefixes[key] = Prefix(len(done), base, done[0].at, done[-1])
            f = implied_then(last, prefix, later[0] if later else None, self.pending.get(key))
            if f is not None and k is not None:
                implied.append(f)
        return Seeding(
            k=k,
            held=held(head),
            end=max((e.position for e in head), default=0),
            tail=[e for e in (logged if share is None else share) if e.reported_at == last],
            found=by_scope(implied),
            prefixes=prefixes,
            held_by={p: set(a) for p, a in self.holders.items()},
        )

    def loader(self, head: Sequence[Event]) -> StoredEvents:
        store = self

        class Loader:
            def of_asset(self, asset_id: str) -> list[Event]:
                store.loaded.append(asset_id)
                return [e for e in head if asset_id in e.subjects]

            def get(self, event_id: str) -> Event | None:
                return next((e for e in head if e.event_id == event_id), None)

        return Loader()


def _walked(
    events: list[Event], cuts: Sequence[int], stop: int | None, alter: Any = None
) -> LazyStore:
    """The store of a walk fed ``events`` cut at ``cuts``; stopped after the piece that
    ends at ``stop`` and resumed lazily from the store (``alter``: what is done to the
    seeding first)."""
    store = LazyStore()
    walk = Walk()
    for lo, hi in pairwise([0, *cuts, len(events)]):
        walk.feed(events[lo:hi])
        store.keep(walk, walk.drain())
        if hi == stop:
            seed = store.seeding(events[:hi])
            if alter is not None:
                seed = alter(seed)
            walk = Walk.resume_lazily(seed, store.loader(events[: hi - len(seed.tail)]))
            assert walk.history.log.partial
            # What the findings projection checks (``StoredLives.check``).
            for d in walk.drain():
                if store.changes.get(d.key, [])[d.before.count :] != list(d.changes):
                    raise StoredLivesDisagree(f"the last instant changed {d.key} otherwise")
            store.keep(walk, [])
    return store


@settings(max_examples=40, deadline=None)
@given(logged=logs(), data=st.data())
def test_a_walk_resumed_lazily_at_any_cut_stores_what_an_uninterrupted_one_stores(
    logged: list[Any], data: st.DataObject
) -> None:
    events = _events(logged)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(events) - 1), min_size=1, max_size=12)))
    stop = data.draw(st.sampled_from(cuts))
    assert _walked(events, cuts, stop).changes == _walked(events, cuts, None).changes


@pytest.mark.parametrize("seed", range(4))
def test_every_cut_of_a_long_log_resumes_lazily_exactly(seed: int) -> None:
    events = _events(generate(Seeded(seed), length=(150, 200)))
    cuts = list(range(7, len(events), 7))
    expected = _walked(events, cuts, None).changes
    assert expected
    for stop in cuts[::3]:
        assert _walked(events, cuts, stop).changes == expected, stop


@pytest.mark.parametrize("seed", [1, 2])
def test_the_realistic_world_resumes_lazily_exactly_and_loads_only_what_it_needs(
    seed: int,
) -> None:
    events = realistic_events(seed)
    cuts = list(range(100, len(events), 100))
    expected = _walked(events, cuts, None).changes
    for stop in cuts[2::5]:
        store = _walked(events, cuts, stop)
        assert store.changes == expected, stop
        # Each asset's events are read once at most, and only when it was needed.
        assert len(store.loaded) == len(set(store.loaded))
    head = events[:300]
    assert len(held(head)) < len(head) / 2  # the walk holds a small part of the log


def _first(seed: Seeding, rule: str) -> tuple[Any, Finding]:
    return next(
        (scope, f) for scope, fs in seed.found.items() for f in fs if f.rule.startswith(rule)
    )


def _altered(seed: Seeding, rule: str) -> Seeding:
    """The seeding with one stored finding of ``rule`` not as the log implies it (its
    stored life says the same)."""
    scope, f = _first(seed, rule)
    g = replace(f, summary=f.summary + " (altered)")
    found = dict(seed.found)
    found[scope] = [g if x is f else x for x in found[scope]]
    prefixes = dict(seed.prefixes)
    if (p := prefixes.get(f.finding_key)) is not None and p.last is not None:
        last = replace(p.last, finding=g if p.last.finding is not None else None)
        prefixes[f.finding_key] = replace(p, base=g, last=last)
    return replace(seed, found=found, prefixes=prefixes)


def test_a_store_not_as_the_log_implies_is_refused_when_its_asset_is_first_evaluated() -> None:
    events = _events(generate(Seeded(1), length=(150, 200)))
    cuts = list(range(7, len(events), 7))
    stop = cuts[len(cuts) // 2]
    with pytest.raises(StoredLivesDisagree, match="not what the log implies"):
        # R findings are held when their asset is evaluated: every asset is, later.
        _walked(events, cuts, stop, alter=lambda seed: _altered(seed, "R"))


def test_a_stored_contract_finding_not_as_the_log_implies_is_refused_at_once() -> None:
    events = realistic_events(1)
    cuts = list(range(100, len(events), 100))
    stop = cuts[len(cuts) // 2]

    def alter(seed: Seeding) -> Seeding:
        _first(seed, "C01")  # the world has one by then
        return _altered(seed, "C01")

    with pytest.raises(StoredLivesDisagree, match=r"C01|contract"):
        _walked(events, cuts, stop, alter=alter)


def test_the_implied_finding_of_a_stored_life() -> None:
    events = _events(generate(Seeded(3)))
    store = LazyStore()
    walk = Walk()
    walk.feed(events)
    store.keep(walk, walk.drain())
    changes = next(c for c in store.changes.values() if c and c[-1].finding)
    f = changes[-1].finding
    at: datetime = changes[-1].at
    visible = Prefix(len(changes), f, changes[0].at, changes[-1])
    cleared = Prefix(1, f, at, replace(changes[-1], finding=None))
    later = replace(changes[-1], at=at)
    assert implied_then(at, visible, None, None) is f
    assert implied_then(at, cleared, None, f) is f  # stored pending
    assert implied_then(at, cleared, later, f) is None  # the last instant changed it
    before = replace(changes[-1], at=at.replace(year=at.year - 1))
    assert implied_then(at, None, before, None) is f  # detected inside the last instant
    with pytest.raises(StoredLivesDisagree):
        implied_then(at, None, replace(before, finding=None), None)


def test_a_lazily_resumed_walk_holds_what_every_partition_reads_and_the_amendments() -> None:
    assert HELD_TYPES == GLOBAL_TYPES | AMENDMENTS


def test_a_support_finding_stored_before_the_restart_is_cleared_by_a_retraction_after() -> None:
    """C04 of an asset stored before a restart, and gone with its trigger in the first
    batch after: the resumed walk knows the asset's C04/C05 scope held findings (they
    are not only the ones it finds again)."""
    logged = [
        register("A1"),
        register("A2"),
        suspend(at="2014-01-01"),
        support("A1", at="2014-03-01", event_id="aid"),
        observe("A2", at="2014-04-01"),  # the last instant before the restart
        retract("aid", at="2014-05-01"),
    ]
    events = _events(logged)
    cut = len(events) - 1
    whole = _walked(events, [cut], None).changes
    assert any(key.startswith("C04/aid/") for key in whole)
    assert _walked(events, [cut], cut).changes == whole
