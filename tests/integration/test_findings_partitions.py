"""Findings judged in partitions by several workers (``LEDGER_FINDINGS_PARTITIONS``;
``ledger.projections.findings_partitions``) store exactly what one walk stores: the
same finding rows and every change of their lives, on the realistic world (late
reports, retractions and corrections, inventories, reference changes), with workers
that take turns, and workers stopped at random points that resume from what is
stored. Leases share the partitions out among the workers alive and pass a dead
worker's on."""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from domain.history import Event
from domain.rules.impact import NOTHING_KNOWN
from domain.rules.partitions import (
    CONTRACT_RULES,
    GLOBAL_TYPES,
    ContractWalk,
    Partition,
    PartitionWalk,
    key_asset,
    shard,
)
from domain.vocabulary import EventType, Role
from ledger.bootstrap import Ledger, build_ledger, findings_projections, leases_of
from ledger.projections import findings_partitions, findings_seeding, part_records
from ledger.projections.custody import CustodyProjection
from ledger.projections.findings import FindingsProjection
from ledger.projections.leases import Leases
from ledger.projections.runner import Runner
from ledger.projections.stored_lives import SharedReads
from ledger.projections.tracking import (
    LayoutChanged,
    positions,
    set_tracking,
    tracking_position,
)
from ledger.settings import Settings
from ledger.store.tables import (
    events,
    finding_changes,
    finding_parts,
    findings,
    projection_leases,
)
from ledger.worlds.realistic import WorldConfig, generate
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire

SHARED = GLOBAL_TYPES - {EventType.INVENTORY_COMPLETED}
"""What a worker's walks share (inventories: each its own lines, decision 0024)."""

WHO = Principal("world", Role.ADMIN)


def _stored(ledger: Ledger) -> tuple[list[Any], list[Any]]:
    with ledger.engine.connect() as conn:
        heads = [
            tuple(r) for r in conn.execute(sa.select(findings).order_by(findings.c.finding_key))
        ]
        changes = [
            tuple(r)
            for r in conn.execute(
                sa.select(finding_changes).order_by(
                    finding_changes.c.finding_key, finding_changes.c.seq
                )
            )
        ]
    return heads, changes


def _append(ledger: Ledger, worker: Runner, *events: dict[str, Any]) -> None:
    """Append ``events`` and let ``worker`` catch up."""
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], WHO)
    worker.catch_up()


def _apart() -> tuple[str, str, str]:
    """Three asset ids: the first two judged in different partitions of two."""
    ids = [f"t{i}" for i in range(1, 30)]
    a = ids[0]
    b = next(x for x in ids if shard(x, 2) != shard(a, 2))
    return a, b, next(x for x in ids if x not in (a, b))


def _captured(
    ledger: Ledger,
    worker: Runner,
    assets: tuple[str, ...],
    captures: list[tuple[str, str, str]],
) -> None:
    """The reference data and ``assets`` known from the start, then a capture of each
    ``(asset, occurred_at, reported_at)`` by isil, each appended on its own."""
    _append(ledger, worker, *({**e, "reported_at": wire.T0} for e in wire.reference_world()))
    _append(ledger, worker, *(wire.asset(x, reported_at=wire.T0) for x in assets))
    for asset, occurred, reported in captures:
        _append(
            ledger,
            worker,
            wire.capture([asset], "isil", occurred_at=occurred, reported_at=reported),
        )


def _worker(
    ledger: Ledger, count: int, size: int, owner: str | None = None, seconds: float = 30
) -> Runner:
    projections = [CustodyProjection(), *findings_projections(Settings(findings_partitions=count))]
    return Runner(
        ledger.engine,
        ledger.store,
        projections,
        size,
        leases=leases_of(ledger.engine, projections, seconds=seconds, owner=owner),
    )


def _one_walk(ledger: Ledger) -> tuple[list[Any], list[Any]]:
    """What one walk stores for the whole log, from scratch."""
    single = Runner(ledger.engine, ledger.store, [CustodyProjection(), FindingsProjection()], 500)
    single.rebuild()
    return _stored(ledger)


def _walked_to_the_end(ledger: Ledger, workers: list[Runner], count: int) -> None:
    """Whoever holds what, the workers catch up until every partition and the contract
    level have walked the whole log. One round each is not always enough: a lease may
    pass between two workers' turns (its renewal runs on a thread of its own), and
    the contract level never overtakes a partition its holder has not caught up yet."""
    names = [*findings_partitions.partition_names(count), "findings"]
    with ledger.engine.connect() as conn:
        end = conn.execute(sa.select(sa.func.max(events.c.notification_id))).scalar_one()
    for _ in range(20):
        for w in workers:
            w.catch_up()
        if set(positions(ledger.engine, names).values()) == {end}:
            return
    raise AssertionError(f"not walked to {end}: {positions(ledger.engine, names)}")


def _assert_one_walk_stores_the_same(ledger: Ledger) -> None:
    """What is stored now is what one walk stores from scratch (read before the walk
    rewrites it: ``_one_walk(ledger) == _stored(ledger)`` would compare the walk's rows
    with themselves)."""
    stored = _stored(ledger)
    assert _one_walk(ledger) == stored


def _walked_then_stopped(ledger: Ledger, batches: list[list[Any]], count: int, size: int) -> None:
    """``batches`` appended and walked, one at a time, by a worker of ``count``
    partitions, which then stops (its leases given up)."""
    first = _worker(ledger, count, size)
    for batch in batches:
        ledger.appender.append(batch, WHO)
        first.catch_up()
    first.stop()


def _batches(events: int, seed: int) -> list[list[Any]]:
    config = WorldConfig(events=events, seed=seed, assets=20, contracts=2, batch_size=37)
    return [[EVENT_ADAPTER.validate_python(e) for e in batch] for batch in generate(config)]


@pytest.mark.parametrize("count", [2, 3])
def test_two_partitioned_workers_store_what_one_walk_stores(ledger: Ledger, count: int) -> None:
    workers = [_worker(ledger, count, 50, owner="a"), _worker(ledger, count, 70, owner="b")]
    for i, batch in enumerate(_batches(1200, seed=count)):
        ledger.appender.append(batch, WHO)
        workers[i % 2].catch_up()
    for w in workers:
        w.catch_up()
    held = [w.leases.held(now=True) for w in workers if w.leases is not None]
    assert held[0] and held[1] and not held[0] & held[1]  # shared out
    _walked_to_the_end(ledger, workers, count)
    heads, changes = _stored(ledger)
    assert any(key_asset(h[0]) is None for h in heads)  # C01–C03 stored
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(finding_parts)).scalar_one()
    assert _one_walk(ledger) == (heads, changes)


def test_workers_stopped_at_random_points_resume_and_store_what_one_walk_stores(
    ledger: Ledger, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each restarted worker's partitions resume without reading the log
    (``PartitionWalk.resumed_lazily``, decision 0016), never from the whole log."""
    resumed: list[str] = []
    lazily, wholly = PartitionWalk.resumed_lazily, PartitionWalk.resumed

    def counted(how: str, original: Any) -> Any:
        def resume(*args: Any) -> Any:
            resumed.append(how)
            return original(*args)

        return resume

    monkeypatch.setattr(PartitionWalk, "resumed_lazily", counted("lazily", lazily))
    monkeypatch.setattr(PartitionWalk, "resumed", counted("wholly", wholly))
    monkeypatch.setattr(
        findings_partitions, "_share", counted("log read", findings_partitions._share)
    )
    rng = random.Random(7)
    current = _worker(ledger, 2, rng.choice((40, 90)))
    restarts = 0
    with caplog.at_level(logging.WARNING, logger="ledger.projections.findings_partitions"):
        for batch in _batches(900, seed=5):
            ledger.appender.append(batch, WHO)
            current.catch_up()
            if rng.random() < 0.3:
                current.stop()  # gives its leases up
                current, restarts = _worker(ledger, 2, rng.choice((40, 90))), restarts + 1
    assert restarts >= 3
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # resumed, never rewritten
    # The first worker resumed its partitions and contract level from nothing stored;
    # every later one without reading the log.
    first = resumed.index("lazily")
    assert sorted(resumed[:first]) == ["log read"] * 3 + ["wholly"] * 2
    assert resumed[first:] == ["lazily"] * (2 * restarts)
    stored = _stored(ledger)
    assert _one_walk(ledger) == stored


def test_a_worker_within_a_budget_holds_one_partition_at_a_time_and_stores_what_one_walk_stores(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``LEDGER_FINDINGS_RESIDENT_EVENTS``: a worker whose partitions together hold
    more events than the budget forgets the one it used least recently, which resumes
    from the store (lazily, decision 0016) when it next has a batch; catching up, it
    holds one partition's walk at a time."""
    settings = Settings(findings_partitions=3, findings_resident_events=1)
    projections = [CustodyProjection(), *findings_projections(settings)]
    parts = [p for p in projections if isinstance(p, findings_partitions.FindingsPartition)]
    lazily: list[Any] = []
    others: list[int] = []  # the other partitions' walks held while one applies a batch
    resumed, followed = (
        PartitionWalk.resumed_lazily,
        findings_partitions.FindingsPartition._followed,
    )

    def counted(*args: Any) -> Any:
        lazily.append(args[0])
        return resumed(*args)

    def following(self: Any, *args: Any, **kwargs: Any) -> Any:
        others.append(sum(1 for p in parts if p is not self and p.held()))
        return followed(self, *args, **kwargs)

    contracts: list[int] = []  # the partitions' walks held while the contract level works
    records = findings_partitions._records

    def reading(*args: Any) -> Any:
        contracts.append(sum(1 for p in parts if p.held()))
        return records(*args)

    monkeypatch.setattr(PartitionWalk, "resumed_lazily", counted)
    monkeypatch.setattr(findings_partitions.FindingsPartition, "_followed", following)
    monkeypatch.setattr(findings_partitions, "_records", reading)
    worker = Runner(ledger.engine, ledger.store, projections, 60)
    for batch in _batches(900, seed=11):
        ledger.appender.append(batch, WHO)
        worker.catch_up()
    assert len(others) > 30 and not any(others)  # never two partitions' walks at once
    assert contracts and not any(contracts)  # none beside the contract level's
    assert len(lazily) >= 10  # each batch after the first resumed a forgotten partition
    stored = _stored(ledger)
    assert _one_walk(ledger) == stored


@pytest.mark.source_only  # spies on Event.parse
def test_a_workers_walks_decode_the_log_wide_events_once_and_share_them(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partitions and the contract level of one worker hold the same objects for
    the log-wide events (``Residency.parsed``), and a partition resumed from the store
    decodes none of those again (``log_wide``). Inventories are the exception: each
    walk holds its own assets' lines of one, and the contract level none (decision
    0024)."""
    settings = Settings(findings_partitions=3)
    projections = [CustodyProjection(), *findings_projections(settings)]
    worker = Runner(ledger.engine, ledger.store, projections, 80)
    batches = _batches(700, seed=13)
    for batch in batches[:-1]:
        ledger.appender.append(batch, WHO)
        worker.catch_up()
    walks = [getattr(p, "_walk", None) for p in projections[1:]]
    assert all(w is not None for w in walks)
    logs = [w.history.log for w in walks if w is not None]
    wide = [e for e in logs[-1].events if e.type in SHARED]
    assert len(wide) > 50
    for log in logs[:-1]:
        assert all(log.get(e.event_id) is e for e in wide)
    lines: dict[str, set[str]] = {}
    records: dict[str, Any] = {}
    residency = getattr(projections[1], "_residency", None)
    assert residency is not None and all(residency.known(e.position) for e in wide)
    for p, log in zip(projections[1:], logs, strict=True):
        counted = [e for e in log.events if e.type is EventType.INVENTORY_COMPLETED]
        assert counted
        for e in counted:
            mine = set(e.inventory_results())
            assert all(p.partition.owns(a) for a in mine)  # the contract level: none
            assert not lines.get(e.event_id, set()) & mine
            lines.setdefault(e.event_id, set()).update(mine)
            records[e.event_id] = e.record  # the record as stored: every line
            assert residency.known(e.position) is None  # the worker keeps none whole
    for event_id, found in lines.items():  # between them, every line
        assert found == {r["asset_id"] for r in records[event_id]["payload"]["results"]}
    end = max(e.position for e in logs[0].events)
    for p in projections[1:-1]:
        p.forget()  # as a worker forgets a partition (a budget, a lease lost)
    parsed: list[tuple[int, Any]] = []
    parse = Event.parse.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, /, position: int, record: Any, **kwargs: Any) -> Any:
        e = parse(cls, position, record, **kwargs)
        parsed.append((position, e.type))
        return e

    ledger.appender.append(batches[-1], WHO)
    Runner(ledger.engine, ledger.store, projections[:1]).catch_up()  # custody's own reads
    monkeypatch.setattr(Event, "parse", classmethod(counting))
    worker.catch_up()
    again = [t for position, t in parsed if position <= end and t in SHARED]
    assert parsed and not again  # the partitions resumed (their assets' events read)
    # Each holds its own assets' registrations and amendments only (decision 0023).
    resumed = [p for p in projections[1:-1] if getattr(p, "_walk", None) is not None]
    held = [(p, e) for p in resumed for e in p._walk.history.log.events]  # type: ignore[attr-defined]
    registered = [(p, e) for p, e in held if e.type is EventType.ASSET_REGISTERED]
    assert registered and all(p.partition.owns(e.asset_ids[0]) for p, e in registered)
    # ... and its own lines of each inventory.
    counted = [(p, e) for p, e in held if e.type is EventType.INVENTORY_COMPLETED]
    assert counted and any(e.inventory_results() for p, e in counted)
    assert all(p.partition.owns(a) for p, e in counted for a in e.inventory_results())
    _assert_one_walk_stores_the_same(ledger)


def test_a_restarted_worker_reads_the_store_once_for_all_its_partitions(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The lazy resumes of one worker's partitions share what they read of the whole
    store (``SharedReads``): a restart of three partitions makes each read once, not
    three times, and stores what one walk stores; a partition that wrote since makes
    them again."""
    batches = _batches(900, seed=19)
    _walked_then_stopped(ledger, batches[:-2], 3, 70)
    settings = Settings(findings_partitions=3)
    projections = [CustodyProjection(), *findings_projections(settings)]
    residency = getattr(projections[1], "_residency", None)
    assert residency is not None
    lazily: list[Any] = []
    resumed = PartitionWalk.resumed_lazily

    def counted(*args: Any) -> Any:
        lazily.append(args[0])
        return resumed(*args)

    monkeypatch.setattr(PartitionWalk, "resumed_lazily", counted)
    worker = Runner(ledger.engine, ledger.store, projections, 500)
    ledger.appender.append(batches[-2], WHO)
    worker.catch_up()
    assert len(lazily) == 3
    once = residency.reads.made
    assert 0 < once <= 5  # the lives, the assets, the changes, the holders, the log-wide
    for p in projections[1:-1]:
        p.forget()  # each wrote since: its resume reads again
    ledger.appender.append(batches[-1], WHO)
    with caplog.at_level(logging.WARNING, logger="ledger.projections.findings_partitions"):
        worker.catch_up()
    assert len(lazily) == 6 and residency.reads.made > once
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # none walked whole
    _assert_one_walk_stores_the_same(ledger)


def test_a_restarted_worker_reads_the_log_wide_positions_once_for_its_contract_level_too(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log-wide positions a restarted worker's partitions read (up to the last
    instant) serve its contract level's resume too (up to the position itself): one
    query for the worker, not one for the partitions and one for the contract level;
    and it stores what one walk stores."""
    batches = _batches(900, seed=23)
    _walked_then_stopped(ledger, batches[:-1], 2, 70)
    queries: list[int] = []
    routed = findings_seeding._log_wide_routed

    def counted(end: int) -> Any:
        queries.append(end)
        return routed(end)

    monkeypatch.setattr(findings_seeding, "_log_wide_routed", counted)
    worker = _worker(ledger, 2, 500)
    ledger.appender.append(batches[-1], WHO)
    worker.catch_up()
    assert len(queries) == 1, queries
    assert positions(ledger.engine, ["findings"])["findings"] == _last_position(ledger)
    _assert_one_walk_stores_the_same(ledger)


def test_log_wide_positions_read_up_to_a_later_position_serve_an_earlier_one_exactly(
    ledger: Ledger,
) -> None:
    """What ``log_wide`` keeps at a position from the rows read up to a later one
    (:meth:`SharedReads.log_wide`) is what it reads there alone — the positions it
    fetches, and the events it holds — for every partition and the contract level, at
    positions an amendment after them still leaves its target out: an event becomes
    log-wide where it is amended, not before."""
    for batch in _batches(600, seed=29):
        ledger.appender.append(batch, WHO)
    ledger.runner.catch_up()
    last = _last_position(ledger)
    shares = [Partition(0, 2), Partition(1, 2), Partition(None, 2)]
    with ledger.engine.connect() as conn:
        reads = SharedReads()
        rows = reads.log_wide(last, lambda: _routed_rows(conn, last))
        later_targets = 0
        for end in range(last, 0, -37):
            later_targets += sum(1 for p, since, _ in rows if p <= end < since)
            at_end = _routed_rows(conn, end)
            for share in shares:
                assert findings_seeding.log_wide_positions(
                    rows, end, share
                ) == findings_seeding.log_wide_positions(at_end, end, share)
                alone = findings_seeding.log_wide(conn, end, share=share)
                kept = findings_seeding.log_wide(conn, end, reads=reads, share=share, upto=last)
                assert [e.position for e in kept] == [e.position for e in alone], (end, share)
        assert reads.made == 1
        assert later_targets, "no amendment after a position amends an event before it"


def _routed_rows(conn: Any, end: int) -> list[tuple[int, int, int | None]]:
    return [(int(p), int(s), r) for p, s, r in conn.execute(findings_seeding._log_wide_routed(end))]


def _last_position(ledger: Ledger) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(events.c.notification_id))).scalar_one())


def test_the_contract_level_resumes_from_each_assets_latest_part_not_every_record(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """A restarted contract level decodes the records of the last instant and each
    asset's latest part before it, not every finding of every record (most of its
    resume at a million events), and stands where a resume from every record stands."""
    batches = _batches(900, seed=23)
    _walked_then_stopped(ledger, batches[:-1], 2, 60)
    level = findings_projections(Settings(findings_partitions=2))[-1]
    assert isinstance(level, findings_partitions.FindingsContracts)
    with ledger.engine.connect() as conn:
        upto = tracking_position(conn, level.name, lock=False)
        every = findings_partitions._records(conn, 0, upto, level.after)
        latest = findings_partitions._resume_records(conn, upto, level.after)
        logged = level._logged(conn, upto)

        def resumed(records: list[Any]) -> Any:
            stored = findings_partitions.StoredLives(conn, lambda key: key_asset(key) is None)
            walk = ContractWalk.resume_from(logged, records, stored.upto)
            walk.tick(level._reached)
            drained = walk.drain()
            stored.check(drained)  # what was stored: else StoredLivesDisagree
            return walk, drained

        (walk_every, drained_every), (walk_latest, drained_latest) = map(resumed, (every, latest))
    decoded = [sum(len(r.parts) for r in rs) for rs in (every, latest)]
    assert decoded[1] < decoded[0] / 3, decoded
    assert {a for r in every for a in r.parts} == {a for r in latest for a in r.parts}
    assert drained_latest == drained_every
    assert (walk_latest.k, walk_latest._prev) == (walk_every.k, walk_every._prev)
    # ... and the two go on alike: the next batch judged the same way.
    worker = _worker(ledger, 2, 60)
    with caplog.at_level(logging.WARNING, logger="ledger.projections.findings_partitions"):
        ledger.appender.append(batches[-1], WHO)
        worker.catch_up()
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    _assert_one_walk_stores_the_same(ledger)


def test_the_contract_level_keeps_its_merge_of_the_records_and_resumes_from_it(
    ledger: Ledger, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every so many records the contract level writes each asset's latest part of
    them in a row of its own, and a resume merges only the records after that row
    (at a million events, merging every record was 1.6 s of a restart): it reads the
    same as a merge of every record, and goes on alike. A partition walked again drops
    the row: it stood for records written again."""
    monkeypatch.setattr(findings_partitions, "COMPACT_AFTER", 8)
    monkeypatch.setattr(part_records, "PIECE_ASSETS", 3)  # written, and read, in pieces
    batches = _batches(900, seed=23)
    _walked_then_stopped(ledger, batches[:-1], 2, 60)
    level = findings_projections(Settings(findings_partitions=2))[-1]
    assert isinstance(level, findings_partitions.FindingsContracts)

    def compaction(conn: sa.Connection) -> Any:
        return conn.execute(
            sa.select(finding_parts).where(finding_parts.c.partition.like(part_records.PIECE + "%"))
        ).first()

    with ledger.engine.connect() as conn:
        upto = tracking_position(conn, level.name, lock=False)
        row = compaction(conn)
        assert row is not None and 0 < row.position <= upto
        pieces = conn.execute(
            sa.select(finding_parts.c.parts).where(finding_parts.c.position == row.position)
        ).all()
        assert len(pieces) > 2  # ... in pieces of three assets
        after = len(part_records.records(conn, row.position, upto, level.after))
        every = len(part_records.records(conn, 0, upto, level.after))
        assert after < every / 3, (after, every)  # what a resume merges now
        kept = part_records.resume_records(conn, upto, level.after)
        with conn.begin_nested() as undone:
            part_records.forget_compaction(conn)
            merged_every = part_records.resume_records(conn, upto, level.after)
            undone.rollback()
    assert kept == merged_every
    assert len(kept) > 1 and kept[0].position == max(
        r.position for r in merged_every if r.k < merged_every[-1].k
    )
    # A restarted worker resumes from it, writes it again as it goes, and stores what
    # one walk stores.
    worker = _worker(ledger, 2, 60)
    with caplog.at_level(logging.WARNING, logger="ledger.projections.findings_partitions"):
        ledger.appender.append(batches[-1], WHO)
        worker.catch_up()
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    with ledger.engine.connect() as conn:
        again = compaction(conn)
    assert again is not None and again.position >= row.position
    worker.stop()
    _assert_one_walk_stores_the_same(ledger)
    # A partition's rows forgotten (walked again, reset): the merge goes with them.
    partition = findings_projections(Settings(findings_partitions=2))[0]
    with ledger.engine.begin() as conn:
        conn.execute(
            finding_parts.insert(),
            [
                {
                    "partition": name,
                    "position": 1,
                    "k": "2000-01-01T00:00:00.000000Z",
                    "parts": "{}",
                    "retracted": "[]",
                    "corrected": "[]",
                }
                for name in (part_records.PIECE + "0", part_records.LATEST)  # and before
            ],
        )
        partition.reset(conn)
        assert compaction(conn) is None
        left = sa.select(finding_parts).where(finding_parts.c.partition == part_records.LATEST)
        assert conn.execute(left).first() is None


def test_the_contract_level_reads_only_the_lives_of_its_rules(ledger: Ledger) -> None:
    """Its resume reads the stored C01–C03 lives and their changes, not every
    partition's (at a million events, reading them all made its peak: 686 MB against
    270 MB for the rest of its walk)."""
    _walked_then_stopped(ledger, _batches(600, seed=31), 2, 60)
    stored = findings_partitions.StoredLives
    with ledger.engine.connect() as conn:
        every = [key for key, _ in stored(conn).rows()]
        rules = stored(conn, rules=CONTRACT_RULES)
        own = [key for key, _ in rules.rows()]
        changed = [key for key, _, _ in rules.changed_after(NOTHING_KNOWN)]
        changed_every = [key for key, _, _ in stored(conn).changed_after(NOTHING_KNOWN)]
    contract = [key for key in every if key_asset(key) is None]
    assert contract and len(contract) < len(every)
    assert sorted(own) == sorted(contract)
    assert changed and sorted(changed) == sorted(k for k in changed_every if key_asset(k) is None)


def _observed(seed: int, asset: str, at: datetime) -> dict[str, Any]:
    """An observation of ``asset`` like one the world of ``_batches(…, seed)`` made,
    occurred and reported at ``at``."""
    config = WorldConfig(events=900, seed=seed, assets=20, contracts=2, batch_size=37)
    like = next(
        e
        for batch in generate(config)
        for e in batch
        if e["type"] == "observation" and e["asset_ids"] == [asset]
    )
    when = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {**like, "event_id": f"seen-{asset}-{when}", "occurred_at": when, "reported_at": when}


def test_a_restart_resumes_only_the_partitions_a_batch_concerns_or_comes_due_in(
    ledger: Ledger,
) -> None:
    """A partition whose walk is not in memory and to which a batch brings nothing —
    none of its events, no pending finding of its come due before the instant the batch
    reaches — is not resumed: only its stamp advances. A pending finding that comes
    due resumes it, and is detected when one walk detects it."""
    seed = 23
    _walked_then_stopped(ledger, _batches(900, seed=seed), 3, 60)
    names = findings_partitions.partition_names(3)
    with ledger.engine.connect() as conn:
        due = {n: findings_seeding.idle_until(conn, n) for n in names}
        last = findings_seeding.walked_to(conn, names[0])
    assert last is not None and all(known for known, _ in due.values())
    waiting = max(names, key=lambda n: due[n][1] or last)  # the latest to come due
    waits_until = due[waiting][1]
    assert waits_until is not None and waits_until > last + timedelta(hours=1)
    asset = next(
        f"w-a{i:05d}" for i in range(1, 21) if shard(f"w-a{i:05d}", 3) != names.index(waiting)
    )

    def restarted() -> tuple[Runner, list[Any]]:
        worker = _worker(ledger, 3, 60)
        return worker, [p for p in worker.projections if hasattr(p, "idled")]

    worker, parts = restarted()
    _append(ledger, worker, _observed(seed, asset, last + timedelta(hours=1)))
    idle = {p.name for p in parts if p.idled}
    assert waiting in idle and parts[shard(asset, 3)].name not in idle
    assert all((p._walk is None) == (p.name in idle) for p in parts)
    worker.stop()

    worker, parts = restarted()
    _append(ledger, worker, _observed(seed, asset, waits_until + timedelta(days=1)))
    assert not parts[names.index(waiting)].idled  # came due: resumed, and detected it
    worker.stop()
    _assert_one_walk_stores_the_same(ledger)


def _spied(monkeypatch: pytest.MonkeyPatch, *names: str) -> dict[str, list[int]]:
    """The positions each of the contract level's methods ``names`` is called with."""
    calls: dict[str, list[int]] = {name: [] for name in names}
    for name in names:
        original = getattr(findings_partitions.FindingsContracts, name)

        def spied(self: Any, conn: Any, upto: int, _name: str = name, _of: Any = original) -> Any:
            calls[_name].append(upto)
            return _of(self, conn, upto)

        monkeypatch.setattr(findings_partitions.FindingsContracts, name, spied)
    return calls


def _restarted_behind(ledger: Ledger, batches: list[list[Any]]) -> tuple[Runner, Any, int]:
    """A worker of two partitions restarted after ``batches`` were appended, custody
    caught up and its findings not: the worker, its contract level, and the contract
    level's position before."""
    worker = _worker(ledger, 2, 60)
    custody, contracts = worker.projections[0], worker.projections[-1]
    assert contracts.name == "findings"
    before = positions(ledger.engine, ["findings"])["findings"]
    for batch in batches:
        ledger.appender.append(batch, WHO)
    worker.step(custody, limit=10_000)
    return worker, contracts, before


def test_a_restarted_contract_level_resumes_while_its_partitions_catch_up(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contract level's walk is resumed in the runner's warm step, before it looks
    whether its partitions are ahead: a worker whose contract level waits for another
    worker's partition has resumed it by then. It is resumed once, and stores what
    one walk stores."""
    batches = _batches(700, seed=29)
    _walked_then_stopped(ledger, batches[:-3], 2, 60)
    calls = _spied(monkeypatch, "_from_store")
    worker, contracts, before = _restarted_behind(ledger, batches[-3:])
    try:
        assert worker.step(contracts) == 0  # its partitions are behind: it waits for them
        assert calls == {"_from_store": [before]}  # but its walk is resumed already
        _walked_to_the_end(ledger, [worker], 2)
        assert calls == {"_from_store": [before]}  # and not again
    finally:
        worker.stop()
    _assert_one_walk_stores_the_same(ledger)


def test_a_contract_level_whose_store_disagrees_is_read_once_while_it_waits(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A restarted contract level whose stored lives disagree with the log (one was
    deleted) finds it out in ``warm``, reads the store no more at each step while its
    partitions catch up, then judges every instant again once, without reading the
    store a second time, and stores what one walk stores."""
    batches = _batches(700, seed=29)
    _walked_then_stopped(ledger, batches[:-3], 2, 60)
    with ledger.engine.begin() as conn:
        victim = conn.execute(
            sa.select(sa.func.min(findings.c.finding_key)).where(
                findings.c.rule.in_(sorted(CONTRACT_RULES))
            )
        ).scalar_one()
        assert victim is not None
        conn.execute(finding_changes.delete().where(finding_changes.c.finding_key == victim))
        conn.execute(findings.delete().where(findings.c.finding_key == victim))
    calls = _spied(monkeypatch, "_from_store", "_rewritten")
    worker, contracts, before = _restarted_behind(ledger, batches[-3:])
    try:
        with caplog.at_level(logging.WARNING, logger="ledger.projections.findings_partitions"):
            assert worker.step(contracts) == 0 and worker.step(contracts) == 0
            assert calls == {"_from_store": [before], "_rewritten": []}  # read once
            assert any("disagrees" in r.getMessage() for r in caplog.records)
            _walked_to_the_end(ledger, [worker], 2)
        assert calls == {"_from_store": [before], "_rewritten": [before]}
    finally:
        worker.stop()
    assert victim in {r[0] for r in _stored(ledger)[0]}  # written again
    _assert_one_walk_stores_the_same(ledger)


def test_a_partition_written_by_other_code_resumes_from_the_log_whoever_stamped_since(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each projection stamps the code that wrote its findings in a row of its own
    (``findings_seeding.code_row``): a partition whose row names other code resumes
    from the whole log even when the contract level, or another partition, was
    stamped by this code since."""
    batches = _batches(600, seed=23)
    _walked_then_stopped(ledger, batches[:-1], 2, 90)
    with ledger.engine.begin() as conn:
        set_tracking(conn, findings_seeding.code_row("findings.1of2"), 12345)  # other code
        stamp_code = findings_seeding.FINGERPRINT
        assert findings_seeding.code_row("findings") == findings_seeding.CODE
        assert tracking_position(conn, findings_seeding.CODE, lock=False) == stamp_code
    how: list[tuple[str, int | None]] = []
    lazily, wholly = PartitionWalk.resumed_lazily, PartitionWalk.resumed

    def counted(label: str, original: Any) -> Any:
        def resume(partition: Any, *args: Any) -> Any:
            how.append((label, partition.index))
            return original(partition, *args)

        return resume

    monkeypatch.setattr(PartitionWalk, "resumed_lazily", counted("lazily", lazily))
    monkeypatch.setattr(PartitionWalk, "resumed", counted("wholly", wholly))
    ledger.appender.append(batches[-1], WHO)
    _worker(ledger, 2, 500).catch_up()
    assert sorted(how) == [("lazily", 0), ("wholly", 1)]
    _assert_one_walk_stores_the_same(ledger)


@pytest.mark.source_only  # spies on Event.parse
def test_a_partition_parses_only_the_events_that_may_be_its_own(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker running its partitions one after the other: the events naming only
    other partitions' assets are neither read nor parsed (``FindingsPartition.read``
    asks the route index for its share), and the runner still counts every position
    it passed."""
    for batch in _batches(400, seed=17):
        ledger.appender.append(batch, WHO)
    Runner(ledger.engine, ledger.store, [CustodyProjection()]).catch_up()
    first = findings_projections(Settings(findings_partitions=2))[0]
    parsed: list[Any] = []
    parse = Event.parse.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, /, position: int, record: Any, **kwargs: Any) -> Any:
        e = parse(cls, position, record, **kwargs)
        parsed.append(e)
        return e

    monkeypatch.setattr(Event, "parse", classmethod(counting))
    applied = Runner(ledger.engine, ledger.store, [first], 90).catch_up()
    with ledger.engine.connect() as conn:
        end = conn.execute(sa.select(sa.func.max(events.c.notification_id))).scalar_one()
    assert applied == end == positions(ledger.engine, [first.name])[first.name]
    amended = {e.target_event_id for e in parsed if e.target_event_id}  # routed by them
    theirs = [
        e
        for e in parsed
        if e.type not in GLOBAL_TYPES
        and e.asset_ids
        and e.target_event_id is None
        and e.event_id not in amended
        and all(shard(a, 2) == 1 for a in e.asset_ids)
    ]
    mine = [e for e in parsed if e.asset_ids and all(shard(a, 2) == 0 for a in e.asset_ids)]
    assert mine and not theirs
    # The contract level parses only what the router may give it: the log-wide
    # events, the amendments and what they amend (and events naming no asset).
    partitions = findings_projections(Settings(findings_partitions=2))
    Runner(ledger.engine, ledger.store, partitions[:-1], 90).catch_up()
    parsed.clear()
    level = findings_projections(Settings(findings_partitions=2))[-1]  # decoding alone
    applied = Runner(ledger.engine, ledger.store, [level], 90).catch_up()
    assert applied == end == positions(ledger.engine, [level.name])[level.name]
    amended = {e.target_event_id for e in parsed if e.target_event_id}
    assets = [e for e in parsed if e.type not in GLOBAL_TYPES and e.asset_ids]
    assert parsed and all(e.target_event_id or e.event_id in amended for e in assets)
    # Not the registrations: the partitions' records say each asset's contract.
    assert not [e for e in parsed if e.type is EventType.ASSET_REGISTERED]


def test_leases_are_shared_out_and_a_dead_workers_are_taken_over(ledger: Ledger) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    names = ["findings", "findings.0of2", "findings.1of2"]

    def leases(owner: str) -> Leases:
        return Leases(ledger.engine, names, owner=owner, seconds=30, clock=lambda: now[0])

    a, b = leases("a"), leases("b")
    assert a.held(now=True) == set(names)  # alone: every one
    assert b.held(now=True) == set()  # all held; b is now alive
    assert a.held(now=True) == set(names[:2])  # a gives the last up: its share is two
    assert b.held(now=True) == {"findings.1of2"}
    assert not a.held() & b.held()
    now[0] += timedelta(seconds=20)
    assert len(b.held(now=True)) == 1  # renewed, nothing to take
    now[0] += timedelta(seconds=15)  # a has not renewed for 35 s: dead
    assert b.held(now=True) == set(names)
    b.release()
    c = leases("c")
    assert c.held(now=True) == set(names)  # released at once


def test_a_worker_arriving_gets_its_share_within_a_second_not_a_renewal_later(
    ledger: Ledger,
) -> None:
    """Two workers started together: the first takes every lease, the second none.
    Their renewing threads look every ``BALANCE_SECONDS`` whether the share-out is
    fair, so the first gives a partition up and the second takes it well before
    either renews (30 s leases: every 10 s; the test allows 8 s for a busy machine).
    Waiting for the renewals, the second worker of a restart sat idle for 2 s of 6 s
    leases at a million events."""
    names = ["findings", "findings.0of2", "findings.1of2"]
    a = Leases(ledger.engine, names, owner="a", seconds=30)
    b = Leases(ledger.engine, names, owner="b", seconds=30)
    assert a.held(now=True) == set(names)
    assert b.held(now=True) == set()  # b is alive, a has not looked yet
    assert a.unbalanced() and not b.unbalanced()  # nothing lies free for b yet
    started = time.monotonic()
    a.keep_renewed()
    b.keep_renewed()
    try:
        while time.monotonic() - started < 8 and not (b.held() and len(a.held()) == 2):
            time.sleep(0.05)
        took = time.monotonic() - started
        assert a.held() == set(names[:2]) and b.held() == {"findings.1of2"}
        assert took < 8  # about 1 s; not the 10 s of a renewal (slack for a busy machine)
        assert not a.unbalanced() and not b.unbalanced()  # fair: nothing more to move
    finally:
        a.release()
        b.release()


def test_a_late_report_and_a_retraction_in_one_partition_reach_the_contract_level(
    ledger: Ledger,
) -> None:
    """``a`` and ``b`` are judged in different partitions: ``b``'s capture, reported
    late, moves the contract's suspension (C01) that ``a``'s opened; once both are
    back, ``c``'s capture, retracted, voids another. The contract level sees both as one walk does."""
    a, b, c = _apart()
    worker = _worker(ledger, 2, 2)

    def append(*events: dict[str, Any]) -> None:
        _append(ledger, worker, *events)

    _captured(
        ledger,
        worker,
        (a, b, c),
        [
            (a, "2014-06-01T00:00:00Z", "2014-06-02T00:00:00Z"),
            (b, "2014-05-15T00:00:00Z", "2014-09-01T00:00:00Z"),
        ],
    )
    back = "2015-01-01T00:00:00Z"
    append(wire.transfer([a, b], "isil", "iq-army", occurred_at=back, reported_at=back))
    append(
        wire.capture(
            [c],
            "isil",
            event_id="cap-c",
            occurred_at="2016-01-01T00:00:00Z",
            reported_at="2016-01-02T00:00:00Z",
        )
    )
    append(wire.retraction("cap-c", reported_at="2016-06-01T00:00:00Z"))
    heads, changes = _stored(ledger)
    reasons = {row[3] for row in changes if row[0].startswith("C01/") and row[3]}
    assert reasons == {"superseded", "voided_trigger_retracted"}
    assert _one_walk(ledger) == (heads, changes)


def test_two_workers_following_at_once_share_the_partitions_and_store_what_one_walk_stores(
    pg_ledger: Ledger,
) -> None:
    """On PostgreSQL, two workers follow the log in threads while it is appended to:
    their leases (renewed every 0.2 s) share the partitions out, and what they store is
    one walk's."""
    ledger = pg_ledger
    workers = [_worker(ledger, 2, 60, owner=o, seconds=0.6) for o in ("a", "b")]
    stop = threading.Event()
    worked: dict[str, set[str]] = {"a": set(), "b": set()}

    errors: list[BaseException] = []

    def follow(w: Runner) -> None:
        assert w.leases is not None
        while not stop.is_set():
            try:
                worked[w.leases.owner] |= w.leases.held()
                if not w.catch_up():
                    time.sleep(0.01)
            except Exception as e:  # a deadlock, say: the test fails below
                errors.append(e)
                time.sleep(0.1)

    threads = [threading.Thread(target=follow, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    try:
        for batch in _batches(1500, seed=11):
            ledger.appender.append(batch, WHO)
        deadline = time.monotonic() + 300
        with ledger.engine.connect() as conn:
            end = conn.execute(sa.select(sa.func.max(events.c.notification_id))).scalar_one()
        while positions(ledger.engine, ["findings"])["findings"] < end:
            assert time.monotonic() < deadline, "the workers did not catch up"
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert worked["a"] and worked["b"]  # both held partitions
    stored = _stored(ledger)
    assert _one_walk(ledger) == stored


def test_a_changed_number_of_partitions_is_refused_until_a_rebuild(ledger: Ledger) -> None:
    """Findings stored by one walk are not taken up by two partitions (they would not
    find their own rows, and the contract level would skip the partitions' early
    records): the worker says to rebuild; after the rebuild they store one walk's."""
    batches = _batches(300, seed=2)
    for batch in batches:
        ledger.appender.append(batch, WHO)
    ledger.runner.catch_up()  # one walk (the default)
    worker = _worker(ledger, 2, 100)
    with pytest.raises(LayoutChanged, match="projections rebuild"):
        worker.catch_up()
    worker.rebuild()
    stored = _stored(ledger)
    assert _one_walk(ledger) == stored
    with pytest.raises(LayoutChanged, match="judged in 1 partition"):
        _worker(ledger, 3, 100).catch_up()


def test_a_historical_import_in_one_partition_is_judged_again_by_the_contract_level(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    """``a``'s capture, reported late, opened a suspension (C01); then a recovery that
    happened before that report is imported with its own, earlier, knowledge time. The
    partition of ``a`` walks its share again; the contract level, whose earlier
    records changed, judges every instant again: the suspension ends as one walk says."""
    a, b, _ = _apart()
    worker = _worker(ledger, 2, 3)

    def append(*events: dict[str, Any]) -> None:
        _append(ledger, worker, *events)

    _captured(
        ledger,
        worker,
        (a, b),
        [
            (a, "2014-03-01T00:00:00Z", "2014-06-01T00:00:00Z"),
            (b, "2014-07-01T00:00:00Z", "2014-07-02T00:00:00Z"),
        ],
    )
    with caplog.at_level(logging.WARNING, logger="ledger.projections.findings_partitions"):
        append(
            wire.transfer(
                [a],
                "isil",
                "iq-army",
                occurred_at="2014-04-15T00:00:00Z",
                reported_at="2014-04-16T00:00:00Z",
            )
        )
    assert any("walked again" in r.getMessage() for r in caplog.records)
    heads, changes = _stored(ledger)
    assert _one_walk(ledger) == (heads, changes)


def test_a_lease_is_kept_through_a_step_longer_than_the_lease(ledger: Ledger) -> None:
    names = ["findings", "findings.0of2", "findings.1of2"]
    a = Leases(ledger.engine, names, owner="a", seconds=0.3)
    assert a.held(now=True) == set(names)
    a.keep_renewed()  # as a worker does
    time.sleep(1.0)  # one long step: three leases long
    b = Leases(ledger.engine, names, owner="b", seconds=0.3)
    assert b.held(now=True) == set()  # nothing lapsed: every one still a's
    a.release()
    assert b.held(now=True) == set(names)
    b.release()


def _until(ledger: Ledger, names: list[str]) -> dict[str, datetime]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(projection_leases.c.name, projection_leases.c.lease_until).where(
                projection_leases.c.name.in_(names)
            )
        )
        return {n: u if u.tzinfo else u.replace(tzinfo=UTC) for n, u in rows}


def test_a_worker_extends_its_leases_over_a_collector_sweep(ledger: Ledger) -> None:
    """A sweep of the garbage collector holds the whole process, the renewing thread
    too: at a million events, two workers on two cores swept for up to 7 s, past the
    benchmark's 6 s leases, and each took the other's partitions over (decision 0029).
    Told of a pause longer than a third of its lease, a worker renews its leases to
    last that much longer; the next renewals do not shorten that; a shorter pause
    costs no renewal; a worker that dies in the pause loses them once it is over."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = [start]
    names = ["findings", "findings.0of2", "findings.1of2"]

    def leases(owner: str) -> Leases:
        return Leases(ledger.engine, names, owner=owner, seconds=30, clock=lambda: now[0])

    a, b = leases("a"), leases("b")
    assert a.held(now=True) == set(names)
    now[0] += timedelta(seconds=5)
    a.pausing(10.0)  # a third of the lease: the renewals every third cover it
    assert set(_until(ledger, names).values()) == {start + timedelta(seconds=30)}
    if ledger.engine.dialect.name == "sqlite":
        # One worker, nobody to take its leases; and the renewal would wait for the
        # write lock the sweeping step holds: nothing is renewed.
        a.pausing(45.0)
        assert set(_until(ledger, names).values()) == {start + timedelta(seconds=30)}
        return
    a.pausing(45.0)
    assert set(_until(ledger, names).values()) == {now[0] + timedelta(seconds=75)}
    a.held(now=True)  # an ordinary renewal (the thread's, before the pause began)
    assert set(_until(ledger, names).values()) == {now[0] + timedelta(seconds=75)}
    now[0] += timedelta(seconds=60)  # the pause: twice the lease, no renewal
    assert b.held(now=True) == set()  # a is alive: nothing to take
    now[0] += timedelta(seconds=20)  # a never came back
    assert b.held(now=True) == set(names)
    b.release()


def test_a_renewal_under_way_does_not_undo_a_pauses_extension(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The renewing thread may have begun a renewal (its lease's end computed) when
    the walk extends the leases over a pause: the renewals take turns, so the
    thread's ends first and the extension stands (found by review: the thread's
    shorter lease was written last)."""
    names = ["findings", "findings.0of2"]
    a = Leases(ledger.engine, names, owner="a", seconds=30)
    assert a.held(now=True) == set(names)
    computed, original = threading.Event(), Leases._lock

    def late(self: Leases, conn: Any) -> Any:
        if threading.current_thread().name == "renewer":
            computed.set()  # its lease's end is computed; the rows not yet written
            time.sleep(0.5)
        return original(self, conn)

    monkeypatch.setattr(Leases, "_lock", late)
    renewer = threading.Thread(target=lambda: a.held(now=True), name="renewer")
    renewer.start()
    assert computed.wait(5)
    a.held(now=True, extra=600.0)  # the extension over a pause
    renewer.join(5)
    ends = _until(ledger, names)
    assert min(ends.values()) - datetime.now(UTC) > timedelta(minutes=9)
    a.release()


def test_a_sweep_announced_by_the_walk_extends_a_workers_leases(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring: a worker that keeps its leases renewed hears of each sweep
    (``collector.before_sweeps``) and extends them by the pause expected; once it
    has given them up, it no longer does."""
    from domain.rules import collector

    names = ["findings", "findings.0of2"]
    a = Leases(ledger.engine, names, owner="a", seconds=30)
    assert a.held(now=True) == set(names)
    sqlite = ledger.engine.dialect.name == "sqlite"
    hooks = len(collector._before_sweep)
    a.keep_renewed()
    assert len(collector._before_sweep) == hooks + 1
    before = min(_until(ledger, names).values())
    # A sweep of ten minutes expected (twenty with its margin): far past the lease.
    monkeypatch.setattr(collector, "_last", {"end": 0.0, "took": 0.0, "per_object": 0.0})
    gc.freeze()  # the heap a walk leaves (the sweep unfreezes it)
    monkeypatch.setattr(collector, "PER_OBJECT_SECONDS", 600.0 / gc.get_freeze_count())
    if sqlite:  # as inside a step, whose transaction holds the write lock
        with ledger.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE projection_tracking SET name = name WHERE 0")
            started = time.monotonic()
            collector._sweep()
            assert time.monotonic() - started < 10  # no wait for the lock (30 s)
    else:
        collector._sweep()
    extended = min(_until(ledger, names).values())
    if sqlite:  # see the test above
        assert extended == before
    else:
        assert extended - before > timedelta(minutes=9)
    a.release()
    assert len(collector._before_sweep) == hooks  # no longer a's to extend
    b = Leases(ledger.engine, names, owner="b", seconds=30)
    assert b.held(now=True) == set(names)  # given up at once, extension or not
    b.release()


def test_a_released_worker_does_not_take_its_leases_back(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renewal under way when the worker gives its leases up (its thread waiting on
    a slow database) ends before they are given up, not after: it took them all
    back, and no other worker could run them until they lapsed (seen on a loaded
    machine)."""
    names = ["findings", "findings.0of2"]
    a = Leases(ledger.engine, names, owner="a", seconds=0.3)
    assert a.held(now=True) == set(names)
    renewing, original = threading.Event(), Leases._renew

    def slow(self: Leases, conn: Any, extra: float = 0.0) -> frozenset[str]:
        if threading.current_thread().name == "ledger-leases":
            renewing.set()
            time.sleep(0.3)
        return original(self, conn, extra)

    monkeypatch.setattr(Leases, "_renew", slow)
    a.keep_renewed()
    assert renewing.wait(5)
    a.release()
    time.sleep(0.4)  # whatever the renewal would have done, it has done
    b = Leases(ledger.engine, names, owner="b", seconds=0.3)
    assert b.held(now=True) == set(names)
    b.release()


def test_the_setting_builds_partitions_that_a_closing_ledger_gives_up(
    settings: Settings,
) -> None:
    """``LEDGER_FINDINGS_PARTITIONS`` wires the partitions, the contract level and the
    leases into the ledger's runner; closing the ledger gives its leases up at once (a
    restarted worker need not wait for them to lapse)."""
    ledger = build_ledger(settings.model_copy(update={"findings_partitions": 2}))
    try:
        names = [p.name for p in ledger.runner.projections]
        assert names == ["custody", "findings.0of2", "findings.1of2", "findings"]
        for batch in _batches(200, seed=3):
            ledger.appender.append(batch, WHO)
        ledger.runner.catch_up()
        with ledger.engine.connect() as conn:
            end = conn.execute(sa.select(sa.func.max(events.c.notification_id))).scalar_one()
        assert positions(ledger.engine, ["findings"])["findings"] == end
        assert ledger.runner.leases is not None
        assert ledger.runner.leases.held() == set(names[1:])
    finally:
        ledger.close()
    with ledger.engine.connect() as conn:
        owners = conn.execute(sa.select(projection_leases.c.owner)).scalars().all()
    assert owners and not any(owners)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("findings_partitions", 0),
        ("findings_partitions", 65),
        ("lease_seconds", 0),
        ("findings_resident_events", 0),
    ],
)
def test_bad_partition_settings_are_refused_at_start(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings.model_validate({"findings_partitions": 2, field: value})


def test_a_budget_without_partitions_is_refused_at_start() -> None:
    """One walk holds every asset: a budget would bound nothing, so it is refused,
    not ignored."""
    with pytest.raises(ValidationError, match="LEDGER_FINDINGS_PARTITIONS above 1"):
        Settings.model_validate({"findings_resident_events": 100_000})
    assert Settings(findings_partitions=4, findings_resident_events=100_000)
