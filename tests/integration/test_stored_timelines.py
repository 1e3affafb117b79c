"""Stored timelines (``ledger.reading.timelines``): a stored body is the folded
timeline, and it is never served once anything it was built from has moved — a new
event of the asset, an amendment, reference data, the clock passing an instant it
names. Both backends."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from domain.instants import to_stored
from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.reading import custody as custody_reads
from ledger.store.tables import projection_tracking, timelines
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire

ADMIN = Principal("admin", Role.ADMIN)
ASSETS = [f"st{i}" for i in range(5)]
PARTIES = ["iq-army", "iq-9th", "isil"]


def append(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], ADMIN)


def settle(ledger: Ledger, *, warm: bool = True) -> None:
    ledger.runner.catch_up()
    if warm:
        ledger.timelines.step()


def folded(ledger: Ledger, asset_id: str) -> dict[str, Any]:
    with ledger.engine.connect() as conn:
        return ledger.reads.timeline_body(conn, asset_id, datetime.now(UTC), None).body


def served(ledger: Ledger, asset_id: str) -> dict[str, Any]:
    body = ledger.reads.timeline(asset_id, as_of=None, known_at=None)
    return {k: v for k, v in body.items() if k not in ("as_of", "known_at")}


def stored_ids(ledger: Ledger) -> set[str]:
    with ledger.engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.select(timelines.c.asset_id))}


def world(seed: int) -> list[dict[str, Any]]:
    """Transfers and captures, some reported late, a retraction and a correction."""
    rnd = random.Random(seed)
    events = wire.reference_world() + [wire.asset(a) for a in ASSETS]
    holder = dict.fromkeys(ASSETS, "iq-army")
    for i in range(40):
        a = rnd.choice(ASSETS)
        when = f"2015-{1 + rnd.randrange(12):02d}-{1 + rnd.randrange(28):02d}T00:00:00Z"
        to = rnd.choice([p for p in PARTIES if p != holder[a]])
        if to == "isil":
            events.append(wire.capture([a], "isil", occurred_at=when))
        else:
            events.append(wire.transfer([a], holder[a], to, occurred_at=when))
        holder[a] = to
        del i
    movable = [e for e in events if e["type"] in ("custody_transferred", "asset_captured")]
    events.append(wire.retraction(movable[3]["event_id"]))
    events.append(wire.correction(movable[7]["event_id"], {"occurred_at": "2014-12-01T00:00:00Z"}))
    return events


def test_a_stored_timeline_is_the_folded_one(ledger: Ledger) -> None:
    append(ledger, world(3))
    settle(ledger, warm=False)
    before = {a: served(ledger, a) for a in ASSETS}  # nothing stored yet: folded
    assert stored_ids(ledger) == set()
    assert ledger.timelines.step() == len(ASSETS)
    assert stored_ids(ledger) == set(ASSETS)
    for a in ASSETS:
        assert served(ledger, a) == before[a] == folded(ledger, a)
    assert ledger.timelines.step() == 0  # nothing new: nothing folded again


def test_a_new_event_is_seen_before_the_warmer_runs_again(ledger: Ledger) -> None:
    append(ledger, world(4))
    settle(ledger)
    holder = served(ledger, "st0")["bands"][-1]["custodian"]
    to = "iq-9th" if holder != "iq-9th" else "iq-army"
    append(ledger, [wire.transfer(["st0"], holder, to, occurred_at="2016-01-01T00:00:00Z")])
    settle(ledger, warm=False)
    shown = served(ledger, "st0")
    assert shown["events"][-1]["occurred_at"].startswith("2016-01-01")
    assert shown == folded(ledger, "st0")
    assert ledger.timelines.step() == 1  # only the asset the event touched


def test_an_amendment_is_seen_before_the_warmer_runs_again(ledger: Ledger) -> None:
    events = world(5)
    append(ledger, events)
    settle(ledger)
    target = next(
        e for e in events if e["type"] == "custody_transferred" and e["asset_ids"] == ["st1"]
    )
    append(ledger, [wire.retraction(target["event_id"])])
    settle(ledger, warm=False)
    shown = served(ledger, "st1")
    entry = next(x for x in shown["events"] if x["event_id"] == target["event_id"])
    assert entry["retracted"] is not None
    assert shown == folded(ledger, "st1")
    assert ledger.timelines.step() == 1


def test_reference_data_makes_every_stored_timeline_stale(ledger: Ledger) -> None:
    append(ledger, world(6))
    settle(ledger)
    append(ledger, [wire.authorization("auth-late", "isil", valid_from="2015-06-01T00:00:00Z")])
    settle(ledger, warm=False)
    for a in ASSETS:
        assert served(ledger, a) == folded(ledger, a)
    assert ledger.timelines.step() == len(ASSETS)  # a grant may split any asset's bands


def test_a_body_is_not_served_once_the_clock_passes_an_instant_it_names(ledger: Ledger) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=3)  # within the allowed clock skew
    append(ledger, world(7))
    append(
        ledger,
        [
            wire.event(
                "observation",
                {"observed_party": "iq-9th", "condition": "intact", "activity": "parked"},
                asset_ids=["st2"],
                occurred_at=to_stored(soon),
            )
        ],
    )
    settle(ledger)
    with ledger.engine.connect() as conn:
        valid_until = conn.execute(
            sa.select(timelines.c.valid_until).where(timelines.c.asset_id == "st2")
        ).scalar_one()
    assert valid_until == to_stored(soon)  # the future observation is not shown yet
    assert all(x["occurred_at"] < to_stored(soon) for x in served(ledger, "st2")["events"])
    # A request whose clock reads before the body was built (it took its time before
    # the warmer ran, or runs on a host whose clock is behind) is not served it.
    with ledger.engine.begin() as conn:
        conn.execute(
            timelines.update()
            .where(timelines.c.asset_id == "st2")
            .values(valid_from="2999-01-01T00:00:00.000000Z", body='{"asset_id": "forged"}')
        )
    assert served(ledger, "st2") == folded(ledger, "st2")
    ledger.timelines.step()
    # Pretend the stored body was built long ago, its instant now passed: it is folded.
    with ledger.engine.begin() as conn:
        conn.execute(
            timelines.update()
            .where(timelines.c.asset_id == "st2")
            .values(valid_until="2015-01-01T00:00:00.000000Z", body='{"asset_id": "forged"}')
        )
    assert served(ledger, "st2") == folded(ledger, "st2")


def test_a_body_built_from_other_inputs_is_never_served(ledger: Ledger) -> None:
    append(ledger, world(8))
    settle(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(timelines.update().values(body='{"asset_id": "forged"}'))
        conn.execute(
            timelines.update()
            .where(timelines.c.asset_id == "st0")
            .values(inputs=timelines.c.inputs + "x")
        )
        conn.execute(
            timelines.update()
            .where(timelines.c.asset_id == "st1")
            .values(position=timelines.c.position - 1)
        )
    assert served(ledger, "st0") == folded(ledger, "st0")
    assert served(ledger, "st1") == folded(ledger, "st1")
    assert served(ledger, "st2") == {"asset_id": "forged"}  # inputs unchanged: served


def test_a_rebuild_drops_the_stored_timelines_and_the_warmer_refills_them(
    ledger: Ledger,
) -> None:
    append(ledger, world(9))
    settle(ledger)
    ledger.runner.rebuild()
    assert stored_ids(ledger) == set()
    with ledger.engine.connect() as conn:
        row = conn.execute(
            sa.select(projection_tracking.c.position).where(
                projection_tracking.c.name == "timelines"
            )
        ).first()
    assert row is None
    assert ledger.timelines.step() == len(ASSETS)
    for a in ASSETS:
        assert served(ledger, a) == folded(ledger, a)


def test_bodies_built_by_other_code_are_never_served(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(ledger, world(10))
    settle(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(timelines.update().values(body='{"asset_id": "forged"}'))
    assert served(ledger, "st0") == {"asset_id": "forged"}
    monkeypatch.setattr(custody_reads, "TIMELINE_VERSION", custody_reads.TIMELINE_VERSION + 1)
    assert served(ledger, "st0") == folded(ledger, "st0")


def test_a_body_whose_time_has_passed_is_built_again(ledger: Ledger) -> None:
    append(ledger, world(11))
    settle(ledger)
    with ledger.engine.begin() as conn:
        conn.execute(
            timelines.update()
            .where(timelines.c.asset_id == "st3")
            .values(valid_until="2015-01-01T00:00:00.000000Z")
        )
    assert ledger.timelines.step() == 1  # no new event: only the expired body
    with ledger.engine.connect() as conn:
        again = conn.execute(
            sa.select(timelines.c.valid_until).where(timelines.c.asset_id == "st3")
        ).scalar_one()
    assert again is None or again > to_stored(datetime.now(UTC))


def test_a_step_overtaken_by_a_rebuild_writes_nothing(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(ledger, world(12))
    ledger.runner.catch_up()
    built = ledger.reads.timeline_body

    def rebuilt_meanwhile(*args: Any, **kwargs: Any) -> Any:
        out = built(*args, **kwargs)
        with ledger.engine.begin() as conn:  # what Runner.rebuild's reset commits
            for projection in ledger.runner.projections:
                projection.reset(conn)
            conn.execute(projection_tracking.delete())
        return out

    monkeypatch.setattr(ledger.reads, "timeline_body", rebuilt_meanwhile)
    assert ledger.timelines.step() == 0
    assert stored_ids(ledger) == set()
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.select(projection_tracking)).first() is None


def test_an_asset_that_fails_to_fold_does_not_hold_the_others_back(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(ledger, world(13))
    ledger.runner.catch_up()
    built = ledger.reads.timeline_body

    def failing(conn: Any, asset_id: str, *args: Any, **kwargs: Any) -> Any:
        if asset_id == "st4":
            raise RuntimeError("a bug in a fold")
        return built(conn, asset_id, *args, **kwargs)

    monkeypatch.setattr(ledger.reads, "timeline_body", failing)
    assert ledger.timelines.step() == len(ASSETS) - 1
    assert stored_ids(ledger) == set(ASSETS) - {"st4"}
