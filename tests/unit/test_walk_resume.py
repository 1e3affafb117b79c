"""A walk resumed from what it stored (``Walk.resume``) goes on as if it had never
stopped: fed the same log in the same pieces, a walk stopped at any cut and resumed
from the stored lives stores exactly what an uninterrupted walk stores — the cut may
fall inside a knowledge instant, which the next piece continues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.history import Event
from domain.rules.findings import Finding
from domain.rules.lives import Change
from domain.rules.tracking import Drained, Prefix
from domain.rules.walk import Walk
from tests.unit.test_walk_incremental import Seeded, _events, generate, logs


class Store:
    """The findings projection's store in memory: each life's changes, cut and
    appended as drained."""

    def __init__(self) -> None:
        self.changes: dict[str, list[Change]] = {}

    def take(self, drained: Sequence[Drained]) -> None:
        for d in drained:
            if d.gone:
                self.changes.pop(d.key, None)
                continue
            kept = self.changes.get(d.key, [])
            if d.cut is not None:
                kept = kept[: d.cut]
            assert len(kept) == d.before.count, d.key
            self.changes[d.key] = [*kept, *d.changes]

    def upto(self, k: datetime, implied: Mapping[str, Finding]) -> dict[str, Prefix]:
        out = {}
        for key, changes in self.changes.items():
            done = [c for c in changes if c.at <= k]
            assert done == changes[: len(done)], "changes up to k are a prefix"
            if done:
                base = next(c.finding for c in reversed(done) if c.finding is not None)
                out[key] = Prefix(len(done), base, done[0].at, done[-1])
        return out


def _walked(events: list[Event], cuts: Sequence[int], stop: int | None) -> Store:
    """The store of a walk fed ``events`` cut at ``cuts``; stopped and resumed from the
    store after the piece that ends at ``stop``."""
    store = Store()
    walk = Walk()
    for lo, hi in pairwise([0, *cuts, len(events)]):
        walk.feed(events[lo:hi])
        store.take(walk.drain())
        if hi == stop:
            walk = Walk.resume(events[:hi], store.upto)
            assert all(
                store.changes.get(d.key, [])[d.before.count :] == list(d.changes)
                for d in walk.drain()
            ), "the last instant's changes, fed again, are those stored"
    return store


@settings(max_examples=40, deadline=None)
@given(logged=logs(), data=st.data())
def test_a_walk_resumed_at_any_cut_stores_what_an_uninterrupted_one_stores(
    logged: list[Any], data: st.DataObject
) -> None:
    events = _events(logged)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(events) - 1), min_size=1, max_size=12)))
    stop = data.draw(st.sampled_from(cuts))
    assert _walked(events, cuts, stop).changes == _walked(events, cuts, None).changes


@pytest.mark.parametrize("seed", range(6))
def test_every_cut_of_a_long_log_resumes_exactly(seed: int) -> None:
    events = _events(generate(Seeded(seed), length=(150, 200)))
    cuts = list(range(7, len(events), 7))
    expected = _walked(events, cuts, None).changes
    assert expected  # the log implies findings
    for stop in cuts[::3]:
        assert _walked(events, cuts, stop).changes == expected, stop


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
