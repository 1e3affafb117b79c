"""A walk resumed from what it stored (``Walk.resume``, or without reading the log:
``Walk.resume_lazily``, whose own tests are in ``test_walk_resume_lazily``) goes on as
if it had never stopped: fed the same log in the same pieces, a walk stopped at any cut and resumed
from the stored lives stores exactly what an uninterrupted walk stores — the cut may
fall inside a knowledge instant, which the next piece continues."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.history import Event
from domain.rules.lives import Change
from domain.rules.tracking import StoredLivesDisagree
from domain.rules.walk import Walk
from tests.unit.stores import LazyStore, Store
from tests.unit.test_walk_incremental import Seeded, _events, generate, logs


def _walked(
    events: list[Event],
    cuts: Sequence[int],
    stop: int | None,
    *,
    lazily: bool = False,
    alter: Any = None,
    defer: bool = False,
) -> LazyStore:
    """The store of a walk fed ``events`` cut at ``cuts``; stopped and resumed from the
    store after the piece that ends at ``stop`` (``lazily``: ``Walk.resume_lazily``,
    ``alter`` done to its seeding first; ``defer``: with the plain asset scopes' lives
    read when first needed)."""
    store = LazyStore()
    walk = Walk()
    for lo, hi in pairwise([0, *cuts, len(events)]):
        walk.feed(events[lo:hi])
        store.keep(walk, walk.drain())
        if hi == stop and lazily:
            seed = store.seeding(events[:hi], defer=defer)
            if alter is not None:
                seed = alter(seed)
            walk = Walk.resume_lazily(seed, store.loader(events[: hi - len(seed.tail)]))
            assert walk.history.log.partial
        elif hi == stop:
            walk = Walk.resume(events[:hi], store.upto)
        if hi == stop:
            # What the findings projection checks (``StoredLives.check``).
            for d in walk.drain():
                if store.changes.get(d.key, [])[d.before.count :] != list(d.changes):
                    raise StoredLivesDisagree(f"the last instant changed {d.key} otherwise")
            store.keep(walk, [])
    return store


# How a walk is resumed: from the whole log, lazily, lazily with deferred scopes.
RESUMES = [(False, False), (True, False), (True, True)]


@pytest.mark.parametrize(("lazily", "defer"), RESUMES)
@settings(max_examples=40, deadline=None)
@given(logged=logs(), data=st.data())
def test_a_walk_resumed_at_any_cut_stores_what_an_uninterrupted_one_stores(
    lazily: bool, defer: bool, logged: list[Any], data: st.DataObject
) -> None:
    events = _events(logged)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(events) - 1), min_size=1, max_size=12)))
    stop = data.draw(st.sampled_from(cuts))
    resumed = _walked(events, cuts, stop, lazily=lazily, defer=defer)
    assert resumed.changes == _walked(events, cuts, None).changes


@pytest.mark.parametrize(("lazily", "defer"), RESUMES)
@pytest.mark.parametrize("seed", range(6))
def test_every_cut_of_a_long_log_resumes_exactly(seed: int, lazily: bool, defer: bool) -> None:
    events = _events(generate(Seeded(seed), length=(150, 200)))
    cuts = list(range(7, len(events), 7))
    expected = _walked(events, cuts, None).changes
    assert expected  # the log implies findings
    for stop in cuts[::3]:
        assert _walked(events, cuts, stop, lazily=lazily, defer=defer).changes == expected, stop


def test_a_resumed_walk_refuses_a_store_that_is_not_its_log() -> None:
    events = _events(generate(Seeded(1)))
    store = Store()
    walk = Walk()
    walk.feed(events)
    store.take(walk.drain())
    assert store.changes
    key = next(k for k, c in store.changes.items() if c[-1].finding is not None)
    store.changes[key] = [*store.changes[key][:-1], Change(store.changes[key][-1].at, None)]
    with pytest.raises(ValueError, match="implied"):
        Walk.resume(events, store.upto)


def test_a_log_out_of_knowledge_order_is_not_resumed() -> None:
    events = _events(generate(Seeded(2)))
    swapped = [events[-1], *events[1:-1], events[0]]
    with pytest.raises(ValueError, match="knowledge order"):
        Walk.resume(swapped, Store().upto)


def test_a_log_of_one_knowledge_instant_resumes_from_nothing_stored_before_it() -> None:
    events = _events(generate(Seeded(4)))
    k = events[0].reported_at
    first = [e for e in events if e.reported_at == k]
    store = Store()
    walk = Walk()
    walk.feed(first)
    store.take(walk.drain())
    resumed = Walk.resume(first, store.upto)
    again = resumed.drain()
    assert all(store.changes.get(d.key, [])[d.before.count :] == list(d.changes) for d in again)
    rest = events[len(first) :]
    walk.feed(rest)
    resumed.feed(rest)
    assert resumed.drain() == walk.drain()
