"""A walk resumed without reading the whole log (``Walk.resume_lazily``) goes on as if
it had never stopped: it holds only the log-wide events (``domain.rules.seeding.held``),
loads an asset's own the first time it needs them, and stands on the stored lives.
``test_walk_resume`` holds it, with ``Walk.resume``, to an uninterrupted walk at every
cut of generated logs; here, the realistic world, what it loads, and a store that is
not what the log implies: refused when an asset it stored findings for is first
evaluated, or at once for a contract's C01–C03."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from domain.history import Event
from domain.rules.findings import Finding
from domain.rules.impact import AMENDMENTS
from domain.rules.partitions import GLOBAL_TYPES
from domain.rules.seeding import HELD_TYPES, Deferred, Seeding, held, implied_then
from domain.rules.tracking import Prefix, StoredLivesDisagree
from domain.rules.walk import Walk
from domain.vocabulary import EventType
from ledger.worlds.realistic import world_events
from ledger.writing.wire import EVENT_ADAPTER, to_record
from tests.unit.builders import (
    T,
    contract,
    correct,
    grant,
    lose,
    observe,
    register,
    retract,
    support,
    transfer,
)
from tests.unit.rule_builders import K, suspend
from tests.unit.stores import LazyStore
from tests.unit.test_walk_incremental import Seeded, _events, generate
from tests.unit.test_walk_realistic import EVENTS
from tests.unit.test_walk_realistic import _events as realistic_events
from tests.unit.test_walk_resume import _walked


@pytest.mark.parametrize("defer", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_the_realistic_world_resumes_lazily_exactly_and_loads_only_what_it_needs(
    seed: int, defer: bool
) -> None:
    events = realistic_events(seed)
    cuts = list(range(100, len(events), 100))
    expected = _walked(events, cuts, None).changes
    for stop in cuts[2::5]:
        store = _walked(events, cuts, stop, lazily=True, defer=defer)
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


def _altered_deferred(seed: Seeding) -> Seeding:
    """The seeding with one finding of a deferred scope not as the log implies it."""
    assert seed.deferred is not None
    for scope in seed.deferred.scopes():
        lives = seed.deferred.lives(scope)
        for key, p in lives.items():
            if p.base is not None and p.last is not None and p.last.finding is not None:
                g = replace(p.base, summary=p.base.summary + " (altered)")
                lives[key] = replace(p, base=g, last=replace(p.last, finding=g))
                return seed
    raise AssertionError("no deferred scope implies a finding")


def test_a_deferred_scope_not_as_the_log_implies_is_refused_when_first_evaluated() -> None:
    events = _events(generate(Seeded(1), length=(150, 200)))
    cuts = list(range(7, len(events), 7))
    stop = cuts[len(cuts) // 2]
    # Unaltered, the deferred scopes resume exactly (test_walk_resume); altered, no.
    _walked(events, cuts, stop, lazily=True, defer=True)
    with pytest.raises(StoredLivesDisagree, match="not what the log implies"):
        _walked(events, cuts, stop, lazily=True, defer=True, alter=_altered_deferred)


def _resumed_deferring(
    logged: list[Event], cuts: list[int], stop: int
) -> tuple[LazyStore, Walk, Deferred]:
    """A walk fed ``logged`` in the pieces ``cuts`` make, up to ``stop``, and its store;
    then the walk resumed lazily there with deferred scopes, the last instant it is fed
    again held to the store (as ``StoredLives.check`` holds it), and what it defers."""
    store = LazyStore()
    walk = Walk()
    for lo, hi in pairwise([0, *(c for c in cuts if c < stop), stop]):
        walk.feed(logged[lo:hi])
        store.keep(walk, walk.drain())
    seeding = store.seeding(logged[:stop], defer=True)
    assert seeding.deferred is not None
    walk = Walk.resume_lazily(seeding, store.loader(logged[: stop - len(seeding.tail)]))
    for d in walk.drain():  # the last instant, fed again: stored already
        assert store.changes.get(d.key, [])[d.before.count :] == list(d.changes)
    return store, walk, seeding.deferred


def test_a_deferred_scopes_pending_findings_come_due_without_its_lives_read() -> None:
    """A scope whose lives did not change after ``k`` is deferred even with pending
    findings: the tracker holds them from the start and detects each when it comes
    due — one with a stored life (detected, then superseded by a longer allowance),
    one without — while the scope's other lives stay unread; the contract level
    counts the pending R03s as unaccounted meanwhile. The store is the uninterrupted
    walk's."""
    terms = correct("contract-reg", {"payload.terms.unaccounted_max_days": 90}, at="2014-08-01")
    logged = [
        contract("C2", event_id="contract-reg"),
        grant("AUTH-C2", "army", contract_id="C2"),
        *(register(a, contract_id="C2") for a in ("A1", "A2", "A3")),
        lose("A1", at="2014-06-10"),  # R03 detected on 07-10, superseded on 08-01
        lose("A3", at="2014-07-20"),  # R03 pending: due on 08-19, then on 10-18
        terms,
        transfer("A2", "9th-div", "army", at="2014-08-10"),
        transfer("A2", "army", "9th-div", at="2014-08-20"),  # the walk stops here
        transfer("A2", "9th-div", "army", at="2014-10-01"),  # A1's R03 due on 09-08
        transfer("A2", "army", "9th-div", at="2014-11-01"),  # A3's due on 10-18
    ]
    events = _events(logged)
    stop = len(events) - 2
    cuts = list(range(1, len(events)))
    expected = _walked(events, cuts, None).changes
    a1, a3 = f"R03/A1/{K('2014-06-10')}", f"R03/A3/{K('2014-07-20')}"
    assert [c.at for c in expected[a1]] == [
        T(d) for d in ("2014-07-10", "2014-08-01", "2014-09-08")
    ]
    assert [c.at for c in expected[a3]] == [T("2014-10-18")]

    store, walk, deferred = _resumed_deferring(events, cuts, stop)
    waiting = {key: prefix for _, key, _, prefix in deferred.pending()}
    assert waiting.keys() >= {a1, a3}
    assert waiting[a1] is not None and waiting[a1].count == 2 and waiting[a3] is None
    assert deferred.unaccounted.keys() >= {"A1", "A3"}  # pending R03s are implied
    for e in events[stop:]:
        walk.feed([e])
        store.keep(walk, walk.drain())
    every, read = walk.tracker.deferred
    assert {("asset", "A1"), ("asset", "A3")} <= every - read  # detected, not read
    assert store.changes == expected


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_realistic_worlds_pending_findings_come_due_in_deferred_scopes_exactly(
    seed: int,
) -> None:
    """The realistic world, then an observation reported years later and another a
    day after it (as appends dated now): every finding pending before the first comes
    due at it. A walk stopped before the first, or between the two (the detections
    are then stored after ``k``), and resumed with deferred scopes detects them in
    scopes it never reads, and stores what an uninterrupted walk stores."""
    raw = list(world_events(EVENTS, seed=seed, assets=25, contracts=2))
    seen = next(r for r in reversed(raw) if r["type"] == "observation")
    events = [
        Event.parse(i + 1, to_record(EVENT_ADAPTER.validate_python(r))) for i, r in enumerate(raw)
    ]
    cuts = list(range(100, len(events), 100))
    unread = {0: 0, 1: 0}
    for end in cuts[2::4]:
        years = events[end - 1].reported_at + timedelta(days=1500)
        late = [
            {**seen, "event_id": f"late-{i}", "occurred_at": t, "reported_at": t}
            for i, t in enumerate((years, years + timedelta(days=1)))
        ]
        logged = [
            *events[:end],
            *(
                Event.parse(end + 1 + i, to_record(EVENT_ADAPTER.validate_python(r)))
                for i, r in enumerate(late)
            ),
        ]
        mine = [*(c for c in cuts if c <= end), end + 1]
        expected = _walked(logged, mine, None).changes
        for after in (0, 1):  # stopped before the first late one, or after it
            stop = end + after
            store, walk, deferred = _resumed_deferring(logged, mine, stop)
            waiting = {key: scope for scope, key, _, _ in deferred.pending()}
            for e in logged[stop:]:
                walk.feed([e])
                store.keep(walk, walk.drain())
            assert store.changes == expected, (end, after)
            read = walk.tracker.deferred[1]
            unread[after] += sum(
                1 for k, s in waiting.items() if s not in read and store.changes[k]
            )
    assert all(unread.values())  # pending findings came due in scopes never read


def test_a_store_not_as_the_log_implies_is_refused_when_its_asset_is_first_evaluated() -> None:
    events = _events(generate(Seeded(1), length=(150, 200)))
    cuts = list(range(7, len(events), 7))
    stop = cuts[len(cuts) // 2]
    with pytest.raises(StoredLivesDisagree, match="not what the log implies"):
        # R findings are held when their asset is evaluated: every asset is, later.
        _walked(events, cuts, stop, lazily=True, alter=lambda seed: _altered(seed, "R"))


def test_a_stored_contract_finding_not_as_the_log_implies_is_refused_at_once() -> None:
    events = realistic_events(1)
    cuts = list(range(100, len(events), 100))
    stop = cuts[len(cuts) // 2]

    def alter(seed: Seeding) -> Seeding:
        _first(seed, "C01")  # the world has one by then
        return _altered(seed, "C01")

    with pytest.raises(StoredLivesDisagree, match=r"C01|contract"):
        _walked(events, cuts, stop, lazily=True, alter=alter)


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
    """And the registrations: a partition is fed its own assets' only."""
    assert GLOBAL_TYPES | AMENDMENTS | {EventType.ASSET_REGISTERED} == HELD_TYPES


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
    assert _walked(events, [cut], cut, lazily=True).changes == whole
