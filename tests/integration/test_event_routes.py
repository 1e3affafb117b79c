"""The route index (``proj_event_routes``, ``ledger.projections.routes``): the custody
projection files every event under the keys of the assets it names, or under no key,
with the knowledge instant the log had reached; a findings partition reads its share
of the log from it. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from alembic import command

from domain.history import Event
from domain.instants import to_stored
from domain.rules.impact import AMENDMENTS
from domain.rules.partitions import ANYONES, Partition, Router, route_keys, shard, shard_key
from domain.vocabulary import EventType, Role
from ledger.bootstrap import Ledger, findings_projections
from ledger.projections import routes
from ledger.projections.custody import CustodyProjection
from ledger.projections.findings_seeding import log_wide
from ledger.projections.runner import Runner
from ledger.projections.tracking import positions
from ledger.settings import Settings
from ledger.store.migrate import alembic_config
from ledger.store.tables import event_routes, events
from ledger.worlds.realistic import WorldConfig, generate
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

WHO = Principal("world", Role.ADMIN)
ANYONES_0015 = {"asset_registered", *(t.value for t in AMENDMENTS), *ANYONES}
"""What migration 0015 filed under no key."""


def _world(ledger: Ledger, events_: int = 500, seed: int = 23) -> None:
    config = WorldConfig(events=events_, seed=seed, assets=30, contracts=2, batch_size=41)
    for batch in generate(config):
        ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in batch], WHO)


def _recorded_late(ledger: Ledger) -> None:
    """One more of the log's observations, reported at its first instant: knowledge
    older than the log had (a historical import), so the log's knowledge does not
    move with it."""
    log = _log(ledger)
    with ledger.engine.connect() as conn:
        states = conn.execute(sa.select(events.c.state).order_by(events.c.notification_id))
        record = next(
            r for r in map(orjson.loads, (s for (s,) in states)) if r["type"] == "observation"
        )
    for server_field in ("prev_hash", "recorded_at", "recorded_by"):
        record.pop(server_field, None)
    first = min(e.reported_at for e in log).strftime("%Y-%m-%dT%H:%M:%SZ")
    record.update(event_id="recorded-late", occurred_at=first, reported_at=first)
    ledger.appender.append([EVENT_ADAPTER.validate_python(record)], WHO)


def _log(ledger: Ledger) -> list[Event]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(events.c.notification_id, events.c.state).order_by(events.c.notification_id)
        ).all()
    return [Event.parse(int(p), orjson.loads(s)) for p, s in rows]


def _stored_routes(ledger: Ledger) -> list[tuple[int, int | None, str | None]]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(event_routes.c.position, event_routes.c.route, event_routes.c.known_until)
        ).all()
    return sorted(((int(p), r, k) for p, r, k in rows), key=lambda t: (t[0], t[1] or 0))


def _first_amended(e: Event, by_id: dict[str, Event]) -> Event | None:
    """The event a chain of amendments starting at ``e`` amends first (``e`` itself
    when it amends nothing; ``None``: a target not in the log)."""
    while e.type in AMENDMENTS:
        target = by_id.get(e.target_event_id or "")
        if target is None:
            return None
        e = target
    return e


def _keys(e: Event, by_id: dict[str, Event]) -> list[int | None]:
    """The keys the whole log files ``e`` under: an amendment under the event first
    amended's."""
    first = _first_amended(e, by_id)
    return [None] if first is None else route_keys(first.type.value, first.asset_ids)


def _expected_routes(log: list[Event]) -> list[tuple[int, int | None, str | None]]:
    """The rows derived from the whole log at once: every asset's key (an amendment's
    target's), or none; the greatest ``reported_at`` up to each event."""
    by_id = {e.event_id: e for e in log}
    out, known = [], None
    for e in log:
        known = e.reported_at if known is None else max(known, e.reported_at)
        for key in _keys(e, by_id):
            out.append((e.position, key, to_stored(known)))
    return sorted(out, key=lambda t: (t[0], t[1] or 0))


def test_custody_files_every_event_under_its_routes_whatever_its_batches(ledger: Ledger) -> None:
    """Batches of any size, and a projection that restarts between two of them (its
    knowledge instant read back from the table), file what the whole log gives."""
    _world(ledger)
    _recorded_late(ledger)
    log = _log(ledger)
    assert any(e.reported_at < max(x.reported_at for x in log[: i + 1]) for i, e in enumerate(log))
    late = log[-1].position
    # A new projection each time (nothing in memory), the last to start at the late one.
    for size in (7, 100, 33, late - 1 - 140):
        runner = Runner(ledger.engine, ledger.store, [CustodyProjection()], size)
        runner.step(runner.projections[0])
    Runner(ledger.engine, ledger.store, [CustodyProjection()], 250).catch_up()
    stored = _stored_routes(ledger)
    assert stored == _expected_routes(log)
    assert {r for _, r, _ in stored} >= {None}
    assert any(r is not None and r < 0 for _, r, _ in stored)  # keys of both signs
    keyed = {p for p, r, _ in stored if r is not None}
    # Registrations and amendments of an asset's events go where its events go.
    for type_ in (EventType.ASSET_REGISTERED, *AMENDMENTS):
        assert any(e.position in keyed for e in log if e.type is type_), type_


def test_an_amendment_is_filed_where_its_target_is(ledger: Ledger) -> None:
    """Under its target's keys, whether the target is in the same batch or filed
    before; under no key (every partition) when its target is log-wide or not known."""
    _world(ledger)
    log = _log(ledger)
    by_id = {e.event_id: e for e in log}
    amendment = next(
        e
        for e in log
        if e.type in AMENDMENTS and by_id[e.target_event_id or ""].type not in AMENDMENTS
    )
    target = by_id[amendment.target_event_id or ""]
    keys = route_keys(target.type.value, target.asset_ids)
    assert None not in keys

    def filed(batch: list[Event], targets: dict[str, list[int | None]]) -> list[int | None]:
        rows, _ = routes.rows_of(batch, None, targets)
        return [r["route"] for r in rows if r["position"] == amendment.position]

    assert filed([target, amendment], {}) == keys
    assert filed([amendment], {target.event_id: keys}) == keys
    assert filed([amendment], {target.event_id: [None]}) == [None]  # a log-wide target
    assert filed([amendment], {}) == [None]  # one not known
    Runner(ledger.engine, ledger.store, [CustodyProjection()]).catch_up()
    with ledger.engine.connect() as conn:
        assert routes.target_keys(conn, [amendment]) == {target.event_id: keys}


def test_the_database_gives_each_partition_the_keys_shard_gives_it(ledger: Ledger) -> None:
    """The SQL residue of a signed key (``routes._partition_of``) is ``shard``'s,
    for counts that do and do not divide 2**64."""
    rnd = random.Random(5)
    ids = [f"asset-{rnd.getrandbits(40)}" for _ in range(400)]
    with ledger.engine.begin() as conn:
        routes.write(
            conn,
            [
                {"position": i + 1, "route": shard_key(a), "known_until": None}
                for i, a in enumerate(ids)
            ],
        )
        for count in (1, 2, 3, 7, 16, 32, 1000):
            for index in range(min(count, 8)):
                got = routes.share_positions(conn, 0, 10_000, len(ids), index, count)
                assert got == [i + 1 for i, a in enumerate(ids) if shard(a, count) == index]


def test_a_partition_reads_its_share_and_where_the_logs_knowledge_stood(ledger: Ledger) -> None:
    """Each partition's share is the events filed under no key or under one of its
    keys: every event ``Router.split`` gives it is among them, and nothing naming only
    other partitions' assets; the batch is told the log's knowledge instant at the
    position it read to, whoever's events took it there."""
    _world(ledger)
    Runner(ledger.engine, ledger.store, [CustodyProjection()]).catch_up()
    log = _log(ledger)
    by_id = {e.event_id: e for e in log}
    count = 3
    split = Router(count, by_id.get).split(log)
    partitions = findings_projections(Settings(findings_partitions=count))
    for projection in partitions:
        index = getattr(projection, "partition", None)
        index = None if index is None else index.index
        with ledger.engine.connect() as conn:
            got: list[Any] = []
            after = 0
            while after < log[-1].position:
                share, end = projection.read(conn, after, 37, log[-1].position)  # type: ignore[attr-defined]
                assert share.first == after + 1 and share.last == end > after
                assert share.reached == max(e.reported_at for e in log if e.position <= end)
                got += [e.position for e in share]
                after = end
        wanted = [
            e.position
            for e in log
            if None in (keys := _keys(e, by_id))
            or (
                index is not None
                and any(k is not None and k % 2**64 % count == index for k in keys)
            )
        ]
        assert got == wanted
        assert got == [e.position for e in split[index]]


def test_the_migration_files_the_events_custody_had_indexed(settings: Settings) -> None:
    """0015 writes the rows custody would have written for the events it had indexed,
    and none for those it had not: custody files them when it gets to them; 0016
    files again those 0015 filed under no key and custody now would not."""
    from ledger.bootstrap import build_ledger

    ledger = build_ledger(settings)
    try:
        _world(ledger, 300)
        runner = Runner(ledger.engine, ledger.store, [CustodyProjection()], 200)
        runner.step(runner.projections[0])  # custody at 200 of the log
        projected = _stored_routes(ledger)
        assert projected and max(p for p, _, _ in projected) == 200
        cfg = alembic_config(settings.sqlalchemy_url())
        command.downgrade(cfg, "0014_finding_holders")
        command.upgrade(cfg, "head")
        assert _stored_routes(ledger) == projected
        # 0016: registrations and amendments, filed under no key by 0015, are filed
        # where their assets' events are.
        old_way = {e.position for e in _log(ledger) if e.type.value in ANYONES_0015}
        with ledger.engine.begin() as conn:
            conn.execute(
                event_routes.update().where(event_routes.c.position.in_(old_way)).values(route=None)
            )
        command.downgrade(cfg, "0015_event_routes")
        assert _stored_routes(ledger) != projected
        command.upgrade(cfg, "head")
        assert _stored_routes(ledger) == projected
        Runner(ledger.engine, ledger.store, [CustodyProjection()]).catch_up()
        assert _stored_routes(ledger) == _expected_routes(_log(ledger))
    finally:
        ledger.close()


def test_a_partition_refuses_to_read_past_events_indexed_without_routes(ledger: Ledger) -> None:
    """Events indexed by code older than the route index (an old process left running
    through the migration) have no route rows: a partition that reaches them stops
    with the fix, its position where it was, rather than walk past them unseen."""
    _world(ledger, 200)
    Runner(ledger.engine, ledger.store, [CustodyProjection()]).catch_up()
    end = _log(ledger)[-1].position
    with ledger.engine.begin() as conn:
        conn.execute(event_routes.delete().where(event_routes.c.position > end - 5))
    first = findings_projections(Settings(findings_partitions=2))[0]
    runner = Runner(ledger.engine, ledger.store, [first], 10_000)
    with pytest.raises(routes.RoutesMissing, match="ledger projections rebuild"):
        runner.catch_up()
    assert positions(ledger.engine, [first.name])[first.name] == 0
    Runner(ledger.engine, ledger.store, [CustodyProjection()]).rebuild()
    assert runner.catch_up() == end


def test_a_restart_reads_its_share_of_what_it_holds_and_everyones_without_routes(
    ledger: Ledger,
) -> None:
    """``log_wide`` for a partition: the log-wide events, and of the registrations and
    amendments only its own assets'; a position the route index has no row for (code
    older than it) is every partition's rather than no one's."""
    _world(ledger)
    Runner(ledger.engine, ledger.store, [CustodyProjection()]).catch_up()
    log = _log(ledger)
    end = log[-1].position
    with ledger.engine.connect() as conn:
        whole = {e.position for e in log_wide(conn, end)}
        shares = [{e.position for e in log_wide(conn, end, share=Partition(i, 2))} for i in (0, 1)]
    registrations = [e for e in log if e.type is EventType.ASSET_REGISTERED]
    assert registrations and {e.position for e in registrations} <= whole
    for i, share in enumerate(shares):
        assert share < whole
        assert {e.position for e in registrations if shard(e.asset_ids[0], 2) == i} <= share
        assert not {e.position for e in registrations if shard(e.asset_ids[0], 2) != i} & share
    unrouted = registrations[0]
    with ledger.engine.begin() as conn:
        conn.execute(event_routes.delete().where(event_routes.c.position == unrouted.position))
    with ledger.engine.connect() as conn:
        for i in (0, 1):
            assert unrouted.position in {
                e.position for e in log_wide(conn, end, share=Partition(i, 2))
            }
