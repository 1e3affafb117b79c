"""Properties of the fold: recording order does not matter once knowledge is the same,
and custody bands tile time."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.state import History
from domain.vocabulary import REFERENCE_TYPES, Status
from tests.unit.builders import (
    T,
    capture,
    correct,
    destroy,
    disable,
    grant,
    inventory,
    lose,
    observe,
    recover,
    register,
    repair_complete,
    repair_start,
    retract,
    revoke,
    transfer,
    world,
)

Logged = tuple[int, dict[str, Any]]

ASSETS = ("A1", "A2")
PARTIES = ("9th-div", "army", "isis", "pmf", "kurds")
START = T("2012-01-01")

KINDS = (
    "transfer",
    "capture",
    "recover",
    "lose",
    "destroy",
    "disable",
    "repair_start",
    "repair_complete",
    "inventory",
    "observe",
    "grant",
    "revoke",
)


def _build(kind: str, assets: list[str], party: str, i: int, at: str, rep: str) -> Logged:
    kw: dict[str, Any] = {"at": at, "reported": rep, "event_id": f"e{i}", "pos": 0}
    if kind == "transfer":
        return transfer(assets, "army", party, **kw)
    if kind == "capture":
        return capture(assets, party, **kw)
    if kind == "recover":
        return recover(assets, party, **kw)
    if kind == "lose":
        return lose(assets, party, **kw)
    if kind == "destroy":
        return destroy(assets, confidence="probable" if i % 2 else "confirmed", **kw)
    if kind == "disable":
        return disable(assets, **kw)
    if kind == "repair_start":
        return repair_start(assets, f"WO-{i % 3}", **kw)
    if kind == "repair_complete":
        return repair_complete(assets, f"WO-{(i + 1) % 3}", **kw)
    if kind == "inventory":
        return inventory({a: "present" if i % 2 else "absent" for a in assets}, scope=party, **kw)
    if kind == "grant":
        return grant(f"AUTH-{i}", party, valid_from=at, reported=rep, event_id=f"e{i}", pos=0)
    if kind == "revoke":
        return revoke("AUTH-ARMY", at, reported=rep, event_id=f"e{i}", pos=0)
    return observe(assets, party, **kw)


@st.composite
def scenarios(draw: st.DrawFn) -> list[Logged]:
    """Registrations, then asset and reference events at distinct instants, reported
    after they occurred, some retracted or corrected later."""
    n = draw(st.integers(1, 14))
    days = draw(st.lists(st.integers(1, 1500), min_size=n, max_size=n, unique=True))
    events: list[Logged] = [
        register(a, at="2011-01-01", reported="2011-01-01", event_id=f"reg-{a}", pos=0)
        for a in ASSETS
    ]
    for i, day in enumerate(days):
        kind = draw(st.sampled_from(KINDS))
        assets = draw(st.lists(st.sampled_from(ASSETS), min_size=1, max_size=2, unique=True))
        party = draw(st.sampled_from(PARTIES))
        at = START + timedelta(days=day)
        # Distinct knowledge times: a lag in days plus the index in seconds.
        rep = at + timedelta(days=draw(st.integers(0, 200)), seconds=i)
        events.append(_build(kind, assets, party, i, at.isoformat(), rep.isoformat()))
    # Few targets, so that corrections and retractions of one event meet.
    targets = events[len(ASSETS) : len(ASSETS) + 2]
    for j in range(draw(st.integers(0, 4))):
        target = draw(st.sampled_from(targets))
        rep = T(target[1]["reported_at"]) + timedelta(days=draw(st.integers(1, 300)), seconds=j)
        fix_kw: dict[str, Any] = {"reported": rep.isoformat(), "event_id": f"x{j}", "pos": 0}
        choice = draw(st.sampled_from(("retract", "occurred_at", "party")))
        if choice == "retract":
            events.append(retract(target, **fix_kw))
        elif choice == "occurred_at":
            moved = START + timedelta(days=draw(st.integers(1, 1500)), seconds=50 + j)
            events.append(correct(target, {"occurred_at": moved.isoformat()}, **fix_kw))
        else:
            field = {
                "custody_transferred": "payload.to_party",
                "asset_captured": "payload.captor_party",
                "asset_recovered": "payload.recovered_by_party",
            }.get(target[1]["type"], "location.name")
            events.append(correct(target, {field: draw(st.sampled_from(PARTIES))}, **fix_kw))
    return events


def _positioned(events: list[Logged], order: list[int]) -> list[Logged]:
    return [(pos + 1, events[i][1]) for pos, i in enumerate(order)]


def _observe_all(h: History) -> list[Any]:
    """Everything the views read, at every knowledge and valid instant that matters."""
    ks = [None, *h.log.knowledge_instants()]
    seen: list[Any] = []
    for k in ks:
        times = sorted({e.occurred_at for e in h.known(k).events})
        for a in ASSETS:
            seen.append([h.state(a, t, k) for t in times])
            seen.append(h.custody_bands(a, k))
            seen.append(h.accounted_intervals(a, k))
    return seen


@settings(max_examples=60, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_recording_order_does_not_matter_when_knowledge_is_the_same(
    scenario: list[Logged], data: st.DataObject
) -> None:
    everything = [*world(), *scenario]
    order = data.draw(st.permutations(range(len(everything))))
    as_logged = History(_positioned(everything, list(range(len(everything)))))
    shuffled = History(_positioned(everything, list(order)))
    assert _observe_all(as_logged) == _observe_all(shuffled)


@settings(max_examples=60, deadline=None)
@given(scenario=scenarios())
def test_custody_bands_are_contiguous_ordered_and_agree_with_state(
    scenario: list[Logged],
) -> None:
    h = History(_positioned([*world(), *scenario], list(range(len(world()) + len(scenario)))))
    for k in (None, *h.log.knowledge_instants()):
        for a in ASSETS:
            bands = h.custody_bands(a, k)
            if not bands:
                continue
            assert bands[-1].valid_to is None
            for before, after in pairwise(bands):
                assert before.valid_to == after.valid_from
                assert before.valid_from < after.valid_from
                assert (before.custodian, before.status, before.mark) != (
                    after.custodian,
                    after.status,
                    after.mark,
                )
            for band in bands:
                s = h.state(a, band.valid_from, k)
                assert s is not None
                assert (s.custodian, s.status) == (band.custodian, band.status)
                assert band.opened_by
                if band.status is Status.LOST:
                    assert band.custodian is None
            for interval in h.accounted_intervals(a, k):
                assert not h.accounted(a, interval.valid_from, k)
                if interval.valid_to is not None:
                    assert h.accounted(a, interval.valid_to, k)


@settings(max_examples=60, deadline=None)
@given(scenario=scenarios())
def test_indexed_views_agree_with_the_whole_effective_history(scenario: list[Logged]) -> None:
    h = History(_positioned([*world(), *scenario], list(range(len(world()) + len(scenario)))))
    for k in (None, *h.log.knowledge_instants()):
        view = h.known(k)
        for a in ASSETS:
            assert h.log.of_asset(a, k) == view.of_asset(a)
        assert h.log.reference_events(k) == tuple(view.of_type(*REFERENCE_TYPES))
