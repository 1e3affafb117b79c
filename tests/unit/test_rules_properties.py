"""Properties of the rules: findings depend on knowledge, not on recording order; the
findings at k depend only on what was reported by k; the incremental life agrees
with evaluating every knowledge cut from scratch; and a projection's walk, fed the
log in any pieces, gives the life folded from scratch."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.history import Event, Log
from domain.rules.dispositions import DispositionTimelines, disposition_timelines
from domain.rules.evaluation import findings_at
from domain.rules.findings import Finding
from domain.rules.lives import known_then
from domain.rules.tracking import life
from domain.rules.walk import Walk
from domain.state import History
from tests.unit.builders import (
    T,
    capture,
    correct,
    destroy,
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
    support,
    transfer,
    world,
)
from tests.unit.rule_builders import disposition, hold, lift, resume, suspend

Logged = tuple[int, dict[str, Any]]

ASSETS = ("A1", "A2", "A3")
PARTIES = ("9th-div", "army", "isis", "pmf", "kurds", "gd")
START = T("2012-01-01")
KINDS = (
    "transfer",
    "capture",
    "recover",
    "lose",
    "destroy",
    "repair_start",
    "repair_complete",
    "inventory",
    "observe",
    "support",
    "suspend",
    "resume",
    "hold",
    "lift",
    "grant",
    "revoke",
)


def _build(kind: str, assets: list[str], who: str, i: int, at: str, rep: str) -> Logged:
    kw: dict[str, Any] = {"at": at, "reported": rep, "event_id": f"e{i}", "pos": 0}
    if kind == "transfer":
        return transfer(assets, "army", who, consent="C" if i % 3 == 0 else None, **kw)
    if kind == "capture":
        return capture(assets, who, from_party="9th-div" if i % 2 else None, **kw)
    if kind == "recover":
        return recover(assets, who, **kw)
    if kind == "lose":
        return lose(assets, who, **kw)
    if kind == "destroy":
        return destroy(assets, confidence="probable" if i % 2 else "confirmed", **kw)
    if kind == "repair_start":
        work = ("overhaul", "field_maintenance", "battle_damage_repair")[i % 3]
        return repair_start(assets, f"WO-{i % 2}", performer=who, work_type=work, **kw)
    if kind == "repair_complete":
        return repair_complete(assets, f"WO-{(i + 1) % 2}", **kw)
    if kind == "inventory":
        results = {a: "present" if (i + n) % 2 else "absent" for n, a in enumerate(assets)}
        return inventory(results, scope=who, **kw)
    if kind == "observe":
        use = "potentially_unauthorised" if i % 2 else None
        confidence = ("possible", "probable", "confirmed")[i % 3]
        return observe(assets, who, use_assessment=use, confidence=confidence, **kw)
    if kind == "support":
        return support(assets, who, **kw)
    if kind in ("suspend", "resume", "hold", "lift"):
        return {"suspend": suspend, "resume": resume, "hold": hold, "lift": lift}[kind](**kw)
    if kind == "grant":
        return grant(f"AUTH-{i}", who, valid_from=at, reported=rep, event_id=f"e{i}", pos=0)
    return revoke("AUTH-ARMY", at, reported=rep, event_id=f"e{i}", pos=0)


@st.composite
def scenarios(draw: st.DrawFn) -> list[Logged]:
    """Registrations, then events at distinct instants reported after they occurred
    (some late), dispositions of some sightings, and retractions and corrections."""
    n = draw(st.integers(1, 12))
    days = draw(st.lists(st.integers(1, 900), min_size=n, max_size=n, unique=True))
    events: list[Logged] = [
        register(a, at="2011-06-01", reported="2011-06-01", event_id=f"reg-{a}", pos=0)
        for a in ASSETS
    ]
    for i, day in enumerate(days):
        kind = draw(st.sampled_from(KINDS))
        assets = draw(st.lists(st.sampled_from(ASSETS), min_size=1, max_size=2, unique=True))
        at = START + timedelta(days=day)
        rep = at + timedelta(days=draw(st.sampled_from([0, 0, 1, 2, 10, 45])), seconds=i)
        who = draw(st.sampled_from(PARTIES))
        events.append(_build(kind, assets, who, i, at.isoformat(), rep.isoformat()))
        if kind == "observe" and i % 2 and draw(st.booleans()):
            decided = rep + timedelta(days=draw(st.integers(1, 60)))
            events.append(
                disposition(
                    f"R16/e{i}/{assets[0]}",
                    at=decided.isoformat(),
                    event_id=f"d{i}",
                    pos=0,
                )
            )
    if draw(st.booleans()):
        delivered = START + timedelta(days=draw(st.integers(1, 900)), hours=1)
        rep = delivered + timedelta(days=draw(st.sampled_from([0, 3])))
        events.append(
            register(
                "A4", at=delivered.isoformat(), reported=rep.isoformat(), event_id="reg-A4", pos=0
            )
        )
    targets = events[len(ASSETS) :][:3]
    for j in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(targets))
        rep = T(target[1]["reported_at"]) + timedelta(days=draw(st.integers(1, 120)), seconds=j)
        kw: dict[str, Any] = {"at": rep.isoformat(), "event_id": f"x{j}", "pos": 0}
        choice = draw(st.sampled_from(("retract", "occurred_at", "party")))
        if choice == "retract":
            events.append(retract(target, **kw))
        elif choice == "occurred_at":
            moved = START + timedelta(days=draw(st.integers(1, 900)), seconds=50 + j)
            events.append(correct(target, {"occurred_at": moved.isoformat()}, **kw))
        else:
            field = {
                "custody_transferred": "payload.to_party",
                "asset_captured": "payload.captor_party",
                "asset_recovered": "payload.recovered_by_party",
                "observation": "payload.observed_party",
                "support_provided": "payload.provider_party",
            }.get(target[1]["type"], "location.name")
            events.append(correct(target, {field: draw(st.sampled_from(PARTIES))}, **kw))
    return events


def _positioned(events: list[Logged], order: list[int]) -> list[Logged]:
    return [(pos + 1, events[i][1]) for pos, i in enumerate(order)]


def _in_order(events: list[Logged]) -> History:
    everything = [*world(), *events]
    return History(_positioned(everything, list(range(len(everything)))))


def _cuts(h: History) -> list[datetime | None]:
    return [None, *h.log.knowledge_instants()]


def _shape(findings: tuple[Finding, ...]) -> list[tuple[str, datetime, datetime | None]]:
    return [(f.finding_key, f.valid_from, f.valid_to) for f in findings]


@settings(max_examples=50, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_findings_do_not_depend_on_recording_order(
    scenario: list[Logged], data: st.DataObject
) -> None:
    everything = [*world(), *scenario]
    order = data.draw(st.permutations(range(len(everything))))
    as_logged = History(_positioned(everything, list(range(len(everything)))))
    shuffled = History(_positioned(everything, list(order)))
    for k in _cuts(as_logged):
        expected = findings_at(as_logged, k)
        got = findings_at(shuffled, k)
        assert _shape(got) == _shape(expected)
        assert got == expected


@settings(max_examples=50, deadline=None)
@given(scenario=scenarios())
def test_findings_at_k_are_a_function_of_what_was_reported_by_k(scenario: list[Logged]) -> None:
    everything = [*world(), *scenario]
    positioned = _positioned(everything, list(range(len(everything))))
    h = History(positioned)
    for k in h.log.knowledge_instants():
        known = History([e for e in positioned if T(e[1]["reported_at"]) <= k])
        assert findings_at(h, k) == findings_at(known, k)


@settings(max_examples=40, deadline=None)
@given(scenario=scenarios())
def test_the_life_agrees_with_evaluating_each_cut_from_scratch(scenario: list[Logged]) -> None:
    h = _in_order(scenario)
    lives = life(h)
    instants = set(h.log.knowledge_instants())
    instants |= {f.valid_from for f in findings_at(h, None)}
    for tau in sorted(instants):
        if tau < h.log.knowledge_instants()[0]:
            continue
        shown = {f.finding_key: f.content() for f in known_then(lives, tau) if not f.cleared}
        implied = {f.finding_key: f for f in findings_at(h, tau) if f.valid_from <= tau}
        assert shown == implied
    for x in lives.values():
        times = [c.at for c in x.changes]
        assert times == sorted(times)
        first = x.changes[0].finding
        assert first is not None and x.detected_at >= first.valid_from
        for c in x.changes:
            assert (c.finding is None) == (c.reason is not None)


@settings(max_examples=40, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_a_walk_fed_in_any_pieces_gives_the_life_folded_from_scratch(
    scenario: list[Logged], data: st.DataObject
) -> None:
    # Logged as a live ledger logs: positions in knowledge order; some neighbours
    # share a knowledge instant (one append of several events), so that pieces end
    # inside instants.
    everything = sorted([*world(), *scenario], key=lambda e: (e[1]["reported_at"], e[0]))
    records = [dict(record) for _, record in everything]
    merged = data.draw(st.sets(st.integers(0, max(0, len(records) - 2))))
    for i in sorted(merged, reverse=True):
        records[i]["reported_at"] = records[i + 1]["reported_at"]
    events = [Event.parse(i + 1, record) for i, record in enumerate(records)]
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(events) - 1)), max_size=12)))
    walk = Walk()
    for lo, hi in pairwise([0, *cuts, len(events)]):
        walk.feed(events[lo:hi])
    expected = life(History(events), incremental=False)
    got = walk.lives()
    assert set(got) == set(expected)
    for key, x in expected.items():
        assert got[key] == x


@st.composite
def decisions(draw: st.DrawFn) -> list[Logged]:
    """Dispositions of three finding keys (one value not in the vocabulary), and
    retractions and corrections of them and of those corrections, at instants often
    shared, in knowledge order."""
    out: list[Logged] = []
    at = T("2012-01-01")
    for i in range(draw(st.integers(1, 14))):
        at += timedelta(hours=draw(st.sampled_from([0, 0, 1, 30])))
        kw: dict[str, Any] = {"at": at.isoformat(), "event_id": f"d{i}", "pos": 0}
        earlier = [e for e in out if e[1]["type"] != "event_retracted"]
        kind = draw(st.sampled_from(("decide", "decide", "retract", "correct")))
        if kind == "decide" or not earlier:
            key = draw(st.sampled_from(("R16/o1/A1", "R16/o2/A1", "R16/o3/A2")))
            value = draw(st.sampled_from(("confirmed_violation", "dismissed", "waived", "bogus")))
            out.append(disposition(key, value, **kw))
        elif kind == "retract":
            out.append(retract(draw(st.sampled_from(earlier)), **kw))
        else:
            target = draw(
                st.sampled_from(
                    [e for e in earlier if e[1]["type"] != "event_corrected"] or earlier
                )
            )
            value = draw(st.sampled_from(("dismissed", "referred")))
            out.append(correct(target, {"payload.disposition": value}, **kw))
    return out


@settings(max_examples=80, deadline=None)
@given(logged=decisions(), data=st.data())
def test_disposition_timelines_followed_in_any_pieces_are_those_of_the_whole_log(
    logged: list[Logged], data: st.DataObject
) -> None:
    """``DispositionTimelines`` judges only the instants that bring or amend a
    disposition, a piece at a time (a piece may end inside an instant): what
    ``disposition_timelines`` gives going over the whole log."""
    events = [Event.parse(i + 1, record) for i, (_, record) in enumerate([*world(), *logged])]
    cuts = sorted(data.draw(st.sets(st.integers(1, len(events) - 1), max_size=8)))
    log, followed = Log(()), DispositionTimelines()
    changed: set[str] = set()
    for lo, hi in pairwise([0, *cuts, len(events)]):
        log.extend(events[lo:hi])
        changed |= followed.feed(log, events[lo:hi])
        assert followed.timelines == disposition_timelines(log)
    assert set(followed.timelines) <= changed


@pytest.mark.parametrize("cut", [15, 16, 17])
def test_an_inventory_in_the_rest_of_an_instant_expects_what_its_first_part_registered(
    cut: int,
) -> None:
    """One knowledge instant holds the reference data, three registrations and an
    inventory of the army naming only A1; the walk is fed it in two pieces, cut before
    the inventory. The inventory expects A2 and A3 (held by the 9th division, under
    the army) even though the parties that make them descend from it were logged in
    the first piece: the instant before knew none of them (found by the property
    above: the expected assets were looked up with the reference data of the instant
    before)."""
    logged = [
        *world(),
        register("A1"),
        register("A2"),
        register("A3"),
        inventory({"A1": "absent"}, at="2012-01-02"),
    ]
    records = [dict(record) for _, record in logged]
    for r in records:
        r["reported_at"] = "2012-01-02T00:00:00Z"
    events = [Event.parse(i + 1, r) for i, r in enumerate(records)]
    assert cut < len(events) and events[-1].type.value == "inventory_completed"
    walk = Walk()
    walk.feed(events[:cut])
    walk.feed(events[cut:])
    expected = life(History(events), incremental=False)
    assert {"R14/" + events[-1].event_id + "/A2", "R14/" + events[-1].event_id + "/A3"} <= set(
        expected
    )
    assert walk.lives() == expected
