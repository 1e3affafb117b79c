"""The findings projection followed batch by batch equals a walk from scratch (a
rebuild), also across a restart, a retraction and a historical import that teaches
the ledger about the past it already walked."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from domain.history import Event
from domain.instants import parse
from domain.rules.tracking import life
from domain.state import History
from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.projections import findings_seeding
from ledger.projections.custody import CustodyProjection
from ledger.projections.findings import FindingsProjection
from ledger.projections.findings_queries import lives_of
from ledger.projections.runner import Runner
from ledger.store.tables import events, finding_changes, findings
from ledger.store.upsert import delete_each
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire

ADMIN = Principal("admin", Role.ADMIN)


def append(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], ADMIN)
    ledger.runner.catch_up()


def rows(ledger: Ledger) -> list[tuple[Any, ...]]:
    with ledger.engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(sa.select(findings).order_by(findings.c.finding_key))
        ]


def test_following_the_log_equals_a_walk_from_scratch(ledger: Ledger) -> None:
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 5)])
    append(
        ledger,
        [wire.capture(["t1", "t2"], "isil", event_id="cap", occurred_at="2014-06-01T00:00:00Z")],
    )
    append(ledger, [wire.transfer(["t3"], "iq-army", "pmf", occurred_at="2014-07-01T00:00:00Z")])
    ledger.runner.projections[1].forget()  # as after a restart: the walk is rebuilt
    append(ledger, [wire.retraction("cap", event_id="ret")])
    append(
        ledger,
        [
            wire.transfer(
                ["t4"],
                "iq-army",
                "isil",
                occurred_at="2014-05-01T00:00:00Z",
                reported_at="2014-05-02T00:00:00Z",
            )
        ],  # knowledge from the past
    )
    followed = rows(ledger)
    assert any(r[0].startswith("R01/t4/isil") for r in followed)
    assert any(r[0].startswith("R01/t1/isil") for r in followed), (
        "cleared findings stay, with their life"
    )
    ledger.runner.rebuild()
    assert rows(ledger) == followed


def _story(seed: int) -> list[list[dict[str, Any]]]:
    """Appends of a few events each (each append is one knowledge instant): transfers,
    captures by an unauthorised party, a retraction and a correction."""
    rng = random.Random(seed)
    appends: list[list[dict[str, Any]]] = []
    n = 0
    for _ in range(14):
        batch = []
        for _ in range(rng.randint(1, 5)):
            n += 1
            a = f"t{rng.randint(1, 6)}"
            day = f"2014-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00Z"
            if rng.random() < 0.3:
                batch.append(wire.capture([a], "isil", event_id=f"e{n}", occurred_at=day))
            else:
                to = rng.choice(["iq-9th", "pmf", "isil"])
                batch.append(wire.transfer([a], "iq-army", to, event_id=f"e{n}", occurred_at=day))
        appends.append(batch)
    appends.append([wire.retraction("e3", event_id="r1")])
    appends.append([wire.correction("e5", {"occurred_at": "2013-01-01T00:00:00Z"}, event_id="c1")])
    return appends


def test_small_batches_and_two_alternating_workers_equal_a_rebuild(ledger: Ledger) -> None:
    """Batches of two or three events end in the middle of knowledge instants, and two
    workers take turns, each finding events the other applied: the rows must equal a
    rebuild's."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 7)])
    workers = [
        Runner(ledger.engine, ledger.store, [CustodyProjection(), FindingsProjection()], size)
        for size in (2, 3)
    ]
    for i, batch in enumerate(_story(seed=5)):
        ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in batch], ADMIN)
        workers[i % 2].catch_up()
    followed = rows(ledger)
    assert any(r[3] == "R01" for r in followed) and any(r[3] == "R06" for r in followed)
    ledger.runner.rebuild()
    assert rows(ledger) == followed


def test_stored_lives_are_the_lives_the_domain_walks(ledger: Ledger) -> None:
    """What the projection stores (a summary row and appended, delta-encoded changes
    per finding) reads back as the lives the rule catalogue computes from the log, in
    whole and as known at each knowledge instant."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 7)])
    worker = Runner(ledger.engine, ledger.store, [CustodyProjection(), FindingsProjection()], 2)
    for batch in _story(seed=9):
        ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in batch], ADMIN)
        worker.catch_up()
    with ledger.engine.connect() as conn:
        logged = [
            Event.parse(p, orjson.loads(s))
            for p, s in conn.execute(
                sa.select(events.c.notification_id, events.c.state).order_by(
                    events.c.notification_id
                )
            )
        ]
        rows = conn.execute(sa.select(findings.c.life)).all()
        expected = life(History(logged), incremental=False)
        stored = {x.key: x for x in lives_of(conn, rows, full=True)}
        assert stored == dict(expected)
        assert any(len(x.changes) > 2 for x in stored.values()), "revised findings"
        for k in [None, *History(logged).log.knowledge_instants()]:
            then = {x.key: x.at(k) for x in lives_of(conn, rows, k)}
            assert then == {key: x.at(k) for key, x in expected.items()}


def changes(ledger: Ledger) -> list[tuple[Any, ...]]:
    with ledger.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(finding_changes).order_by(
                    finding_changes.c.finding_key, finding_changes.c.seq
                )
            )
        ]


@pytest.mark.parametrize(("seed", "assets_at_once"), [(3, 500), (11, 2)])
def test_a_worker_restarted_at_random_points_equals_one_that_never_stopped(
    ledger: Ledger,
    seed: int,
    assets_at_once: int,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers with batches of two or three events (cut inside knowledge instants) are
    stopped at random points; each new one resumes the walk from the stored log and
    lives (``Walk.resume``), never walking the log again. The stored findings and every
    change of their lives equal a rebuild's. ``assets_at_once``: the stored lives read
    for so many assets a query (``findings_seeding.ASSETS_AT_ONCE``)."""
    monkeypatch.setattr(findings_seeding, "ASSETS_AT_ONCE", assets_at_once)
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 7)])
    rng = random.Random(seed)

    def worker() -> Runner:
        projections = [CustodyProjection(), FindingsProjection()]
        return Runner(ledger.engine, ledger.store, projections, rng.choice((2, 3)))

    current = worker()
    restarts = 0
    with caplog.at_level(logging.WARNING, logger="ledger.projections.findings"):
        for batch in _story(seed):
            ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in batch], ADMIN)
            current.catch_up()
            if rng.random() < 0.5:
                current, restarts = worker(), restarts + 1
    assert restarts >= 3
    assert not [r for r in caplog.records if "walking the log again" in r.getMessage()]
    followed, lives = rows(ledger), changes(ledger)
    assert any(r[3] == "R01" for r in followed)
    ledger.runner.rebuild()
    assert rows(ledger) == followed
    assert changes(ledger) == lives


def test_a_restart_after_knowledge_of_the_past_walks_the_log_again(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """A log not in knowledge order (a historical import) cannot be resumed from one
    evaluation: the restarted worker walks it again, and says so."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 4)])
    append(ledger, [wire.capture(["t1"], "isil", occurred_at="2014-06-01T00:00:00Z")])
    append(
        ledger,
        [
            wire.transfer(
                ["t2"],
                "iq-army",
                "isil",
                occurred_at="2014-05-01T00:00:00Z",
                reported_at="2014-05-02T00:00:00Z",
            )
        ],
    )
    ledger.runner.projections[1].forget()
    with caplog.at_level(logging.WARNING, logger="ledger.projections.findings"):
        append(ledger, [wire.transfer(["t3"], "iq-army", "pmf")])
    assert [r for r in caplog.records if "knowledge order" in r.getMessage()]
    followed = rows(ledger)
    ledger.runner.rebuild()
    assert rows(ledger) == followed


def _delete_life(ledger: Ledger, victim: str) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(finding_changes.delete().where(finding_changes.c.finding_key == victim))
        conn.execute(findings.delete().where(findings.c.finding_key == victim))


def test_stored_findings_that_disagree_with_the_log_are_rewritten_when_read_again(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """Rows that are not what the log implies — someone edited them — are not resumed
    from: a restarted worker resumes lazily (``Walk.resume_lazily``) and holds each
    asset's stored findings to the log when it evaluates the asset again; the first
    that disagree make it walk the log and write every finding again, and say so."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 4)])
    append(ledger, [wire.capture(["t1"], "isil", occurred_at="2014-06-01T00:00:00Z")])
    append(ledger, [wire.transfer(["t2"], "iq-army", "pmf")])  # the last stored instant
    expected, lives = rows(ledger), changes(ledger)
    victim = min(r[0] for r in expected if r[0].endswith("/t1") or "/t1/" in r[0])
    _delete_life(ledger, victim)
    ledger.runner.projections[1].forget()
    with caplog.at_level(logging.WARNING, logger="ledger.projections.findings"):
        append(ledger, [wire.transfer(["t3"], "iq-army", "iq-9th")])  # t1 not evaluated
        assert not [r for r in caplog.records if "rewriting every finding" in r.getMessage()]
        append(ledger, [wire.transfer(["t1"], "isil", "iq-army")])
    assert [r for r in caplog.records if "not what the log implies" in r.getMessage()]
    assert [r for r in caplog.records if "rewriting every finding" in r.getMessage()]
    assert victim in {r[0] for r in rows(ledger)}
    after = rows(ledger)
    ledger.runner.rebuild()
    assert rows(ledger) == after
    assert {r[0] for r in after} >= {r[0] for r in expected}
    assert len(changes(ledger)) >= len(lives)


def test_findings_written_by_other_code_are_held_to_the_log_at_once_on_restart(
    ledger: Ledger, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Findings another version of the rules wrote (a deploy) are not resumed lazily:
    the restarted worker holds every stored finding to the log at once and writes them
    all again when they differ, whichever asset the next batch touches."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 4)])
    append(ledger, [wire.capture(["t1"], "isil", occurred_at="2014-06-01T00:00:00Z")])
    expected = rows(ledger)
    victim = min(r[0] for r in expected if r[0].endswith("/t1") or "/t1/" in r[0])
    _delete_life(ledger, victim)
    ledger.runner.projections[1].forget()
    monkeypatch.setattr(findings_seeding, "FINGERPRINT", findings_seeding.FINGERPRINT + 1)
    with caplog.at_level(logging.WARNING, logger="ledger.projections.findings"):
        append(ledger, [wire.transfer(["t3"], "iq-army", "iq-9th")])
    assert [r for r in caplog.records if "rewriting every finding" in r.getMessage()]
    assert victim in {r[0] for r in rows(ledger)}
    walk = ledger.runner.projections[1]._walk
    assert walk is not None and walk.k is not None
    with ledger.engine.connect() as conn:
        assert findings_seeding.stamped(conn, walk.k)  # the rewrite was by this code


def test_a_restarted_worker_resumes_lazily_and_reads_only_what_it_needs(ledger: Ledger) -> None:
    """A restart reads the log-wide events and the stored findings, not the log: the
    walk it resumes holds a part of the log, and loads an asset's events when a batch
    first needs them; it stores what a worker that never stopped stores."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 6)])
    append(ledger, [wire.capture(["t1"], "isil", occurred_at="2014-06-01T00:00:00Z")])
    append(ledger, [wire.transfer(["t2"], "iq-army", "iq-9th")])
    projection = ledger.runner.projections[1]
    projection.forget()
    append(ledger, [wire.transfer(["t3"], "iq-army", "pmf")])
    walk = projection._walk
    assert walk is not None and walk.history.log.partial
    # The last stored instant (t2's), fed again, and t3's: no other asset's events.
    assert projection._source is not None and projection._source.loads == 2
    # The stored findings of the assets not evaluated again are not decoded (t1's).
    every, read = walk.tracker.deferred
    assert ("asset", "t1") in every - read
    assert read <= {("asset", "t2"), ("asset", "t3")}
    with ledger.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
    assert len(walk.history.log.events) < stored
    followed, lives = rows(ledger), changes(ledger)
    ledger.runner.rebuild()
    assert rows(ledger) == followed
    assert changes(ledger) == lives


def _known_on(day: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    """``events``, done and reported on ``day``: a history imported in knowledge order."""
    when = f"{day}T00:00:00Z"
    return [{**e, "occurred_at": when, "reported_at": when} for e in events]


def _loss(asset_id: str) -> dict[str, Any]:
    payload = {"custodian_at_loss": "iq-army", "loss_kind": "abandoned"}
    return wire.event("loss_reported", payload, asset_ids=[asset_id])


def test_a_restart_defers_assets_with_pending_findings_and_detects_them_when_due(
    ledger: Ledger,
) -> None:
    """An asset whose stored findings did not change after the resumed instant is not
    read at the restart even when one of them is pending (an R03 within its allowance):
    it is detected when it comes due, its asset's other lives unread — and after one
    more restart, that detection stored after the instant resumed at, still unread; an
    asset whose pending finding has no change yet is read, when touched, without it.
    The store is what a worker that never stopped stores."""
    append(ledger, _known_on("2014-01-01", *wire.reference_world()))
    append(ledger, _known_on("2014-01-02", *(wire.asset(f"t{i}") for i in range(1, 5))))
    append(ledger, _known_on("2014-03-01", wire.capture(["t1", "t3"], "isil")))
    append(ledger, _known_on("2014-06-01", wire.transfer(["t1", "t3"], "isil", "iq-army")))
    append(ledger, _known_on("2014-06-10", _loss("t1"), _loss("t3")))  # R03s due 07-10
    append(ledger, _known_on("2014-06-12", wire.transfer(["t2"], "iq-army", "iq-9th")))
    stored = {r[0] for r in rows(ledger)}
    due = {f"R03/{a}/2014-06-10T00:00:00Z" for a in ("t1", "t3")}
    assert due <= stored and any(k.startswith("R01/t1/") for k in stored)
    projection = ledger.runner.projections[1]
    projection.forget()
    append(ledger, _known_on("2014-06-15", wire.transfer(["t4"], "iq-army", "iq-9th")))
    walk = projection._walk
    assert walk is not None
    every, read = walk.tracker.deferred
    assert {("asset", "t1"), ("asset", "t3")} <= every - read
    append(ledger, _known_on("2014-06-20", wire.transfer(["t3"], "iq-army", "iq-9th")))
    assert ("asset", "t3") in walk.tracker.deferred[1]  # read, its R03 still pending
    append(ledger, _known_on("2014-07-20", wire.transfer(["t2"], "iq-9th", "iq-army")))
    assert ("asset", "t1") not in walk.tracker.deferred[1]  # its R03 detected unread
    with ledger.engine.connect() as conn:
        detected = conn.execute(
            sa.select(finding_changes.c.at, finding_changes.c.reason).where(
                finding_changes.c.finding_key == "R03/t1/2014-06-10T00:00:00Z"
            )
        ).all()
    assert [(parse(at), why) for at, why in detected] == [(datetime(2014, 7, 10, tzinfo=UTC), None)]
    # Restarted again: that detection is stored after the instant resumed at, and t1
    # is still deferred (its R03 pending then, detected again by the last instant).
    projection.forget()
    append(ledger, _known_on("2014-07-25", wire.transfer(["t4"], "iq-9th", "iq-army")))
    walk = projection._walk
    assert walk is not None
    every, read = walk.tracker.deferred
    assert ("asset", "t1") in every - read
    append(ledger, _known_on("2014-08-01", wire.transfer(["t1"], "iq-army", "iq-9th")))
    assert ("asset", "t1") in walk.tracker.deferred[1]
    followed, lives = rows(ledger), changes(ledger)
    ledger.runner.rebuild()
    assert rows(ledger) == followed
    assert changes(ledger) == lives


def test_a_disposition_after_a_restart_keeps_the_life_of_a_finding_not_decoded(
    ledger: Ledger,
) -> None:
    """A finding whose stored life the restart left undecoded (its asset is not
    evaluated again) is read when a disposition names it: its life goes on, with the
    disposition, as in a worker that never stopped."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 4)])
    append(ledger, [wire.capture(["t1"], "isil", occurred_at="2014-06-01T00:00:00Z")])
    append(ledger, [wire.transfer(["t2"], "iq-army", "iq-9th")])
    key = min(r[0] for r in rows(ledger) if r[0].endswith("/t1") or "/t1/" in r[0])
    projection = ledger.runner.projections[1]
    projection.forget()
    append(ledger, [wire.transfer(["t3"], "iq-army", "pmf")])
    walk = projection._walk
    assert walk is not None
    every, read = walk.tracker.deferred
    assert ("asset", "t1") in every - read
    decision = {"finding_key": key, "disposition": "confirmed_violation", "rationale": "seen"}
    append(ledger, [wire.event("finding_dispositioned", decision)])
    assert ("asset", "t1") in walk.tracker.deferred[1]
    followed, lives = rows(ledger), changes(ledger)
    assert key in {r[0] for r in followed}
    ledger.runner.rebuild()
    assert rows(ledger) == followed
    assert changes(ledger) == lives


def test_a_restarted_worker_resumes_before_it_takes_the_write_lock(ledger: Ledger) -> None:
    """The resume reads the whole stored log: the runner does it in ``warm``, on a
    connection of its own, so the batch's transaction (on SQLite, the write lock) does
    not wait for it; then the batch applies on the warm walk."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 4)])
    append(ledger, [wire.capture(["t1"], "isil", occurred_at="2014-06-01T00:00:00Z")])
    findings_projection = FindingsProjection()
    worker = Runner(ledger.engine, ledger.store, [CustodyProjection(), findings_projection])
    seen: list[tuple[bool, bool]] = []
    process = findings_projection.process

    def spy(conn: Any, batch: Any) -> None:
        seen.append((conn.in_transaction(), findings_projection._walk is not None))
        process(conn, batch)

    findings_projection.process = spy  # type: ignore[method-assign]
    ledger.appender.append(
        [EVENT_ADAPTER.validate_python(wire.transfer(["t3"], "iq-army", "pmf"))], ADMIN
    )
    worker.catch_up()
    assert seen == [(True, True)], "the walk was resumed before the batch's transaction"
    followed = rows(ledger)
    ledger.runner.rebuild()
    assert rows(ledger) == followed


def test_appends_go_on_while_a_restarted_worker_resumes(ledger: Ledger) -> None:
    """The resume in ``warm`` only reads. (It began with the tracking row's upsert, which
    on SQLite took the write lock for the whole resume: every append waited for it.)"""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 3)])
    ledger.runner.catch_up()
    findings_projection = FindingsProjection()
    worker = Runner(ledger.engine, ledger.store, [CustodyProjection(), findings_projection])
    warm = findings_projection.warm
    during: list[tuple[bool, int]] = []

    def spy(conn: Any) -> None:
        warm(conn)
        raw = conn.connection.dbapi_connection
        write_open = bool(getattr(raw, "in_transaction", False)) and conn.dialect.name == "sqlite"
        [receipt] = ledger.appender.append(
            [EVENT_ADAPTER.validate_python(wire.transfer(["t2"], "iq-army", "pmf"))], ADMIN
        )
        during.append((write_open, receipt.position))

    findings_projection.warm = spy  # type: ignore[method-assign]
    worker.catch_up()
    assert during and not during[0][0], "the resume held a write transaction open"
    assert during[0][1] == ledger.lookups.head()[0]


def test_reading_a_tracking_position_writes_nothing(ledger: Ledger) -> None:
    from ledger.projections.tracking import tracking_position
    from ledger.store.tables import projection_tracking

    with ledger.engine.connect() as conn:
        assert tracking_position(conn, "no-such-projection", lock=False) == 0
        if conn.dialect.name == "sqlite":
            assert not conn.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
    with ledger.engine.connect() as conn:
        names = set(conn.execute(sa.select(projection_tracking.c.name)).scalars())
    assert "no-such-projection" not in names


@pytest.mark.source_only  # spies on Event.parse
def test_a_restarted_worker_reads_the_stored_log_with_the_collector_paused(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resume reads the whole log: every event it parses stays, and with the
    collector running the collections their growth sets off scanned them again and
    again (twice the read at 200k events). It parses them with the collector off, and
    leaves it on."""
    import gc

    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 4)])
    parse = Event.parse.__func__  # type: ignore[attr-defined]
    collecting: list[bool] = []

    def spy(cls: type[Event], position: int, record: Any, **how: Any) -> Event:
        collecting.append(gc.isenabled())
        return parse(cls, position, record, **how)

    monkeypatch.setattr(Event, "parse", classmethod(spy))
    findings_projection = FindingsProjection()
    with ledger.engine.connect() as conn:
        findings_projection.warm(conn)
    assert findings_projection._walk is not None  # resumed from the stored log
    assert collecting and not any(collecting)
    assert gc.isenabled()


def _deletes_of_changes(ledger: Ledger) -> list[tuple[str, bool]]:
    """Each DELETE of finding changes from now on: its SQL, and whether it went as
    one statement per key (``executemany``)."""
    seen: list[tuple[str, bool]] = []

    def spy(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM PROJ_FINDING_CHANGES"):
            seen.append((statement, many))

    sa.event.listen(ledger.engine, "before_cursor_execute", spy)
    return seen


def test_a_pending_finding_withdrawn_goes_without_a_delete_of_changes(ledger: Ledger) -> None:
    """A life that goes before it was ever detected has no stored changes: its row
    goes, and no DELETE of changes is sent (most lives that go are such)."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset("t1"), wire.asset("t2")])
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    append(ledger, [wire.capture(["t1"], "isil", event_id="cap", occurred_at=yesterday)])
    pending = [r[0] for r in rows(ledger) if r[3] == "R03"]
    assert pending  # unaccounted for from 30 days after the capture: not yet detected
    seen = _deletes_of_changes(ledger)
    append(ledger, [wire.retraction("cap")])
    assert not set(pending) & {r[0] for r in rows(ledger)}
    assert seen == []
    followed, lives = rows(ledger), changes(ledger)
    ledger.runner.rebuild()
    assert (rows(ledger), changes(ledger)) == (followed, lives)


def test_the_changes_of_lives_are_deleted_one_statement_per_key(ledger: Ledger) -> None:
    """``delete_each`` sends one DELETE per key (PostgreSQL finds each row through the
    primary key, whatever its statistics) and deletes those keys' changes only."""
    rows_ = [
        {"finding_key": k, "seq": s, "at": "2020-01-01T00:00:00Z", "reason": None, "finding": "{}"}
        for k in ("a", "b", "c")
        for s in (0, 1)
    ]
    with ledger.engine.begin() as conn:
        conn.execute(finding_changes.insert(), rows_)
    seen = _deletes_of_changes(ledger)
    with ledger.engine.begin() as conn:
        delete_each(conn, finding_changes.c.finding_key, ["a", "c", "absent"])
        delete_each(conn, finding_changes.c.finding_key, [])
        left = conn.execute(sa.select(finding_changes.c.finding_key, finding_changes.c.seq))
        assert sorted(left) == [("b", 0), ("b", 1)]
    assert len(seen) == 1 and seen[0][1]  # one executemany
    assert " IN " not in seen[0][0].upper()


def test_the_rows_a_restart_leaves_unread_are_what_their_json_says(ledger: Ledger) -> None:
    """``proj_findings.lazy`` (what a restart leaves unread until it needs the asset:
    ``findings_codec.read_lazily``) is true exactly for an asset's own lives that are
    plain in their JSON and not a visible R03, on lives pending, visible, cleared, R03
    and a contract's (``test_migrations``: the migration fills it alike)."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 5)])
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    append(ledger, [wire.capture(["t1"], "isil", occurred_at=yesterday)])
    append(
        ledger,
        [wire.capture(["t2", "t3"], "isil", event_id="cap", occurred_at="2014-06-01T00:00:00Z")],
    )
    append(ledger, [wire.transfer(["t4"], "iq-army", "pmf", event_id="move")])
    append(ledger, [wire.retraction("move")])
    columns = (findings.c.finding_key, findings.c.rule, findings.c.asset_id, findings.c.life)
    with ledger.engine.connect() as conn:
        stored = conn.execute(sa.select(*columns, findings.c.lazy)).all()
    kinds = set()
    for key, rule, asset_id, text, lazy in stored:
        data = orjson.loads(text)
        plain = data["count"] > 0 and data["pending"] is None
        visible_r03 = rule == "R03" and not data["last_cleared"]
        own = asset_id is not None and not rule.startswith("C")
        assert lazy is (own and plain and not visible_r03), key
        kinds.add((own, plain, visible_r03, lazy))
    assert {
        (True, True, False, True),  # read when its asset is needed
        (True, False, True, False),  # pending
        (True, True, True, False),  # a visible R03
        (False, True, False, False),  # a contract's
    } <= kinds, kinds
