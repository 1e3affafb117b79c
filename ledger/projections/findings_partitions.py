"""The findings projection shared out among workers (``LEDGER_FINDINGS_PARTITIONS`` >
1): one projection per partition of the assets (:class:`FindingsPartition`, tracked as
``findings.IofN``) and one for the contract level (:class:`FindingsContracts`, tracked
as ``findings``, so that what waits for findings waits for all of them).

A partition walks the global events and its assets' events
(``domain.rules.partitions``), writes its assets' findings and, per knowledge instant,
a row of ``proj_finding_parts`` for the contract level: the assets whose R03 findings
or contract changed, and the ids the instant retracted or corrected. The contract
level follows the slowest partition (its ``after``), reads the global events and those
rows, and writes C01–C03. Each projection is leased to one worker at a time
(``ledger.projections.leases``); a worker that takes one over, or restarts, resumes
its walk from the stored lives (``Walk.resume``) — it does not walk again. The rows
each writes are disjoint (a finding key names its asset, or its contract: C01–C03).
See docs/decisions/0015.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import pairwise

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.history import Event
from domain.instants import to_stored
from domain.rules.collector import collector_paused
from domain.rules.partitions import (
    CONTRACT_RULES,
    ContractWalk,
    Partition,
    PartitionWalk,
    Router,
)
from domain.rules.tracking import Drained, StoredLivesDisagree
from domain.vocabulary import EventType
from ledger.projections import routes
from ledger.projections.custody_queries import events_by_id
from ledger.projections.findings import store
from ledger.projections.findings_codec import dump
from ledger.projections.findings_seeding import (
    StoredEventsIn,
    StoredSeed,
    due_row,
    idle_until,
    last_instant,
    log_wide,
    set_due,
    stamp,
    stamped,
    walked_to,
)
from ledger.projections.held import held_event, held_events
from ledger.projections.part_records import (
    COMPACT_AFTER,
    compact,
    forget_compaction,
    unmerged,
)
from ledger.projections.part_records import records as _records
from ledger.projections.part_records import resume_records as _resume_records
from ledger.projections.residency import Residency
from ledger.projections.stored_lives import StoredLives
from ledger.projections.tracking import (
    check_layout,
    count_rewrite,
    rewrites,
    set_layout,
    tracking_position,
)
from ledger.store.tables import (
    finding_changes,
    finding_parts,
    findings,
    projection_tracking,
)
from ledger.store.upsert import delete_each

log = logging.getLogger(__name__)

_PIECE = 20_000  # events read from the log at a time when resuming


def partition_names(count: int) -> list[str]:
    return [f"findings.{i}of{count}" for i in range(count)]


class FindingsPartition:
    """The findings of one partition's assets (``R…``, C04, C05)."""

    after = "custody"
    leased = True

    def __init__(self, index: int, count: int, residency: Residency | None = None) -> None:
        self.partition = Partition(index, count)
        self.name = partition_names(count)[index]
        self._residency = residency  # shared by the worker's partitions
        self.idled = (
            0  # batches that changed nothing of it, walk not resumed (the tests count them)
        )
        self._walk: PartitionWalk | None = None
        self._end = 0  # the log position the walk has followed to
        self._reached: datetime | None = None  # the knowledge instant the log had reached
        self._source: StoredEventsIn | None = None  # a lazily resumed walk's

    def reset(self, conn: Connection) -> None:
        self._forget_rows(conn)
        set_layout(conn, self.partition.count)

    def _forget_rows(self, conn: Connection) -> None:
        if self._residency is not None:
            self._residency.reads.wrote(self.name)
        _delete_lives(conn, self._own_keys(conn))
        conn.execute(finding_parts.delete().where(finding_parts.c.partition == self.name))
        forget_compaction(conn)  # it merged this partition's records
        conn.execute(
            projection_tracking.delete().where(projection_tracking.c.name == due_row(self.name))
        )
        self.forget()

    def forget(self) -> None:
        self._walk, self._end, self._source = None, 0, None

    def held(self) -> int:
        """How many events the walk holds in memory (``ledger.projections.residency``)."""
        return 0 if self._walk is None else self._walk.history.log.held

    def read(self, conn: Connection, after: int, limit: int, stop: int) -> tuple[Share, int]:
        """Up to ``limit`` of this partition's events after position ``after`` (up to
        ``stop``), from the route index (``Runner.step``): the events naming only
        other partitions' assets are neither shipped nor parsed (a worker that runs
        its partitions one after the other read the whole log once for each); the
        log-wide ones are shared with the worker's other walks."""
        return _read_share(conn, after, limit, stop, self.partition, self._residency)

    def process(self, conn: Connection, batch: Sequence[Event]) -> None:
        window = Share.of(batch)
        if window.first is None:
            return
        if self._walk is None and self._idle(conn, window):
            return
        if self._residency is not None:
            self._residency.settle(self)  # the others' walks, before this one grows
        walk, self._walk = self._walk, None  # until this batch is applied
        try:
            walk = self._followed(conn, walk, window)
        except StoredLivesDisagree as e:  # found by a lazily resumed walk as it goes
            log.warning("%s: %s; resuming from the whole log", self.name, e)
            walk = self._followed(conn, None, window, lazily=False)
        self._write(conn, walk, walk.drain())
        stamp(conn, walk.k, self.name)
        set_due(conn, self.name, walk.tracker.next_due())
        if self._residency is not None:
            self._residency.reads.wrote(self.name)
        self._walk, self._end = walk, window.last
        if self._residency is not None:
            self._residency.settle(self)

    def _idle(self, conn: Connection, batch: Share) -> bool:
        """Whether ``batch`` changes nothing of this partition, whose walk is not in
        memory (a restart, or forgotten for the budget): none of its events are the
        partition's, and none of the partition's pending findings comes due before
        the instant the batch reaches. A walk fed it would only advance to that
        instant (``Walk.tick``); the stamp does that instead, and the walk is resumed
        when a batch brings it something. A restart after one append then resumes
        one partition, not all of them."""
        known, due = idle_until(conn, self.name)
        reached = batch.reached
        if not known or (due is not None and reached is not None and due < reached):
            return False
        if routed(conn, batch, self.partition.count).get(self.partition.index):
            return False
        walked = walked_to(conn, self.name)
        if reached is not None and (walked is None or reached > walked):
            stamp(conn, reached, self.name)
        self.idled += 1
        return True

    def _followed(
        self,
        conn: Connection,
        walk: PartitionWalk | None,
        batch: Share,
        *,
        lazily: bool = True,
    ) -> PartitionWalk:
        assert batch.first is not None
        start = batch.first - 1
        if self._source is not None:
            self._source.conn = conn
        if walk is None or self._end != start:
            walk = self._resumed(conn, start, lazily=lazily)
        mine = routed(conn, batch, self.partition.count).get(self.partition.index, [])
        if walk.follows(mine):
            walk.follow(mine, batch.reached)
        else:  # knowledge older than what was walked (a historical import)
            walk = self._rewritten(conn, [*self._logged(conn, start), *mine])
            walk.tick(batch.reached)
        return walk

    def _write(self, conn: Connection, walk: PartitionWalk, drained: Sequence[Drained]) -> None:
        store(conn, walk, drained)
        rows = [
            {
                "partition": self.name,
                "position": r.position,
                "k": to_stored(r.k),
                "parts": dump({a: [c, list(fs)] for a, (c, fs) in r.parts.items()}),
                "retracted": dump(sorted(r.retracted)),
                "corrected": dump(sorted(r.corrected)),
            }
            for r in walk.take_records()
        ]
        if rows:
            conn.execute(finding_parts.insert(), rows)

    def _logged(self, conn: Connection, upto: int) -> list[Event]:
        logged, self._reached = _share(conn, upto, self.partition.count, self.partition.index)
        return logged

    def _resumed(self, conn: Connection, upto: int, *, lazily: bool = True) -> PartitionWalk:
        check_layout(conn, self.partition.count)
        self._source = None
        if lazily and (walk := self._lazily(conn, upto)) is not None:
            return walk
        logged = self._logged(conn, upto)
        stored = StoredLives(conn, self.partition.owns_key)
        try:
            walk = PartitionWalk.resumed(self.partition, logged, stored.upto)
            walk.tick(self._reached)  # detections made when the log passed them
            stored.check(walk.drain())
            return walk
        except StoredLivesDisagree as e:
            log.warning("%s: rewriting its findings: %s", self.name, e)
        except ValueError as e:
            log.warning("%s: walking the log again (%s)", self.name, e)
        return self._rewritten(conn, logged)

    def _lazily(self, conn: Connection, upto: int) -> PartitionWalk | None:
        """The walk resumed without reading the log (``PartitionWalk.resumed_lazily``,
        decision 0016), or ``None`` when the store does not allow it (as
        ``findings.resumed_lazily``)."""
        tail = last_instant(conn, upto, self._residency)
        if not tail or not stamped(conn, tail[-1].reported_at, self.name):
            return None
        reads = None
        if self._residency is not None:
            reads = self._residency.reads
            reads.begin(upto, self.name)
        stored = StoredSeed(conn, self.partition.owns_key, reads)
        mine = routed(conn, tail, self.partition.count).get(self.partition.index, [])
        source = StoredEventsIn(conn, upto, self._residency)
        seed = stored.seeding(conn, upto, tail, mine, source, self._residency, self.partition)
        if not seed.held_by and any(e.type is EventType.ASSET_REGISTERED for e in seed.held):
            return None
        try:
            walk = PartitionWalk.resumed_lazily(self.partition, seed, source)
            walk.tick(tail[-1].reported_at)
            stored.check(walk.drain())
        except ValueError as e:  # StoredLivesDisagree, or a log not in knowledge order
            log.warning("%s: %s; resuming from the whole log", self.name, e)
            return None
        self._source, self._reached = source, tail[-1].reported_at
        return walk

    def _rewritten(self, conn: Connection, logged: list[Event]) -> PartitionWalk:
        self._forget_rows(conn)
        count_rewrite(conn)  # the contract level must read every record again
        walk = PartitionWalk(self.partition)
        pieces = [logged] if not _in_knowledge_order(logged) else _chunks(logged)
        for piece in pieces:
            walk.feed(piece)
            self._write(conn, walk, walk.drain())
        walk.tick(self._reached)
        self._write(conn, walk, walk.drain())
        return walk

    def _own_keys(self, conn: Connection) -> list[str]:
        keys = conn.execute(sa.select(findings.c.finding_key)).scalars()
        return [k for k in keys if self.partition.owns_key(k)]


class FindingsContracts:
    """C01–C03 of every contract, from the partitions' rows and the global events."""

    name = "findings"
    leased = True

    def __init__(self, count: int, residency: Residency | None = None) -> None:
        self.count = count
        self._residency = residency  # the log-wide events it shares with the partitions
        self.after = tuple(partition_names(count))
        self._walk: ContractWalk | None = None
        self._end = 0
        self._reached: datetime | None = None
        self._rewrites = 0  # the partitions' rewrites counted when last read
        self._unmerged = 0  # records past the compaction row (``part_records``)
        # Where the store disagreed with the log when ``warm`` resumed: (the position,
        # the partitions' rewrites then); ``process`` judges every instant again there.
        self._disagreed: tuple[int, int] | None = None

    def reset(self, conn: Connection) -> None:
        """Every C01–C03 forgotten, and every partition's records (of any layout:
        the partitions are reset too, and write theirs again)."""
        self._forget_rows(conn)
        conn.execute(finding_parts.delete())
        set_layout(conn, self.count)

    def _forget_rows(self, conn: Connection) -> None:
        keys = conn.execute(
            sa.select(findings.c.finding_key).where(findings.c.rule.in_(sorted(CONTRACT_RULES)))
        ).scalars()
        _delete_lives(conn, list(keys))
        self.forget()

    def forget(self) -> None:
        self._walk, self._end = None, 0

    def warm(self, conn: Connection) -> None:
        """Resume the walk (after a restart) before the runner takes the tracking row's
        lock (``Runner.step``), as ``FindingsProjection.warm`` does, and before the
        runner looks whether the partitions it follows are ahead: while another worker
        still catches its partition up, this resume is done by the time it has, not
        after (two workers restarted together at a million events: 1.5 s of the
        restart). Read-only: a store that disagrees with the log is left for
        :meth:`process` to judge again, under the lock, and not read again meanwhile
        at each step. A restarted worker thus resumes its contract level at its first
        step even if no event comes: 1.5 s of CPU at a million events, once."""
        if self._walk is not None:
            return
        position = tracking_position(conn, self.name, lock=False)
        if not position:
            return
        seen = rewrites(conn)
        if self._disagreed == (position, seen):
            return
        if self._residency is not None:
            self._residency.make_room()  # as process does, before this walk grows
        walk = self._from_store(conn, position)
        if walk is None:
            self._disagreed = (position, seen)
        else:
            self._walk, self._end, self._rewrites = walk, position, seen

    def read(self, conn: Connection, after: int, limit: int, stop: int) -> tuple[Share, int]:
        """As :meth:`FindingsPartition.read`: the events filed under no asset (the
        log-wide ones, their amendments and those naming no asset: about one in 250
        of a realistic log), of at most ``limit`` positions of the log. A batch reads
        the partitions' records of every position it passes (``part_records``), so it passes no more than one
        read whole would: 5,000 of its own events pass about 140,000 positions of a
        realistic log, whose records doubled the contract level's peak memory."""
        stop = min(stop, after + limit)
        return _read_share(conn, after, limit, stop, Partition(None, self.count), self._residency)

    def process(self, conn: Connection, batch: Sequence[Event]) -> None:
        window = Share.of(batch)
        if window.first is None:
            return
        start, end = window.first - 1, window.last
        if self._residency is not None:
            self._residency.make_room()  # the partitions' walks, before this one grows
        walk, self._walk = self._walk, None
        seen = rewrites(conn)
        if walk is None or self._end != start:
            if self._disagreed == (start, seen):  # found by ``warm``: not read again
                walk = self._rewritten(conn, start)
            else:
                walk = self._resumed(conn, start)
            self._disagreed = None
        elif seen != self._rewrites:
            # A partition walked its share again (a historical import, or stored
            # lives that disagreed): its records before this batch changed.
            log.warning("findings (contracts): a partition was walked again; so is this")
            walk = self._rewritten(conn, start)
        self._rewrites = seen
        mine = routed(conn, window, self.count).get(None, [])
        records = _records(conn, start, end, self.after)
        try:
            walk.feed(mine, records, window.reached)
        except ValueError:  # a historical import among the global events
            walk = self._rewritten(conn, end)
        else:
            store(conn, walk, walk.drain())
        self._unmerged += len(records)
        if self._unmerged >= COMPACT_AFTER:
            compact(conn, end, self.after)
            self._unmerged = unmerged(conn, end, self.after)
        stamp(conn, walk.k, self.name)
        self._walk, self._end = walk, end

    def _logged(self, conn: Connection, upto: int) -> list[Event]:
        """The contract level's events up to ``upto``: the global ones (and the
        amendments of those). Read through the event index when this code walked the
        stored ones to the log's last instant (decision 0016), else from the log."""
        tail = last_instant(conn, upto, self._residency)
        if tail and stamped(conn, tail[-1].reported_at, self.name):
            self._reached = tail[-1].reported_at
            reads = None if self._residency is None else self._residency.reads
            wide = log_wide(conn, upto, self._residency, reads, Partition(None, self.count))
            return routed(conn, wide, self.count).get(None, [])
        logged, self._reached = _share(conn, upto, self.count, None)
        return logged

    def _resumed(self, conn: Connection, upto: int) -> ContractWalk:
        """The walk as it stood at ``upto``: from the store, or every instant judged
        again when the store disagrees with the log."""
        walk = self._from_store(conn, upto)
        return walk if walk is not None else self._rewritten(conn, upto)

    def _from_store(self, conn: Connection, upto: int) -> ContractWalk | None:
        """The walk as it stood at ``upto``, resumed from the store without writing;
        ``None`` when the store disagrees with the log."""
        check_layout(conn, self.count)
        logged, records = self._logged(conn, upto), _resume_records(conn, upto, self.after)
        stored = StoredLives(
            conn, lambda key: findings_rule(key) in CONTRACT_RULES, rules=CONTRACT_RULES
        )
        self._unmerged = unmerged(conn, upto, self.after)
        try:
            walk = ContractWalk.resume_from(logged, records, stored.upto)
            walk.tick(self._reached)
            stored.check(walk.drain())
            return walk
        except (StoredLivesDisagree, ValueError) as e:
            log.warning(
                "findings (contracts): the store disagrees with the log (%s): "
                "every instant is judged again",
                e,
            )
            return None

    def _rewritten(self, conn: Connection, upto: int) -> ContractWalk:
        self._forget_rows(conn)
        walk = ContractWalk()
        walk.feed(self._logged(conn, upto), _records(conn, 0, upto, self.after), self._reached)
        store(conn, walk, walk.drain())
        return walk


class Share(list[Event]):
    """The events of a batch read from the log (positions ``first`` to ``last``) that
    may be one partition's, and the knowledge instant the log reached with the batch
    (what :meth:`PartitionWalk.follow` is told, whoever's events took it there)."""

    first: int | None = None
    last: int = 0
    reached: datetime | None = None

    @classmethod
    def of(cls, batch: Sequence[Event]) -> Share:
        """``batch`` itself when it is a share; else every event of it is."""
        if isinstance(batch, Share):
            return batch
        share = cls(batch)
        if batch:
            share.first, share.last, share.reached = (
                batch[0].position,
                batch[-1].position,
                _reached(batch),
            )
        return share


def _read_share(
    conn: Connection,
    after: int,
    limit: int,
    stop: int,
    partition: Partition,
    residency: Residency | None,
) -> tuple[Share, int]:
    """``partition``'s share of the log after ``after`` (``routes.share_rows``), and
    the position read up to: the knowledge instant reached is the log's there,
    whoever's events took it there. The log-wide events a worker's other walks
    parsed are theirs (``Residency``); each other record's parse is let go as soon
    as its event is held."""
    rows, end = routes.share_rows(conn, after, limit, stop, partition.index, partition.count)
    share = Share()
    with collector_paused():
        for position, state in rows:
            if residency is None:
                share.append(held_event(position, state))
            elif (known := residency.known(position)) is not None:
                share.append(known)
            else:
                share.append(residency.parsed(position, state))
    share.first, share.last = after + 1, end
    # A partition's ``stop`` is custody's position: an event it indexed, routes and all.
    indexed = partition.index is not None and end == stop
    share.reached = routes.known_until(conn, end, indexed=indexed)
    return share, end


def _share(
    conn: Connection, upto: int, count: int, index: int | None
) -> tuple[list[Event], datetime | None]:
    """Partition ``index``'s events (``None``: the contract level's) of the log up to
    ``upto``, and the knowledge instant the log had reached there."""
    out: list[Event] = []
    with collector_paused():  # as findings._load: the events read all stay
        for piece in _pieces(conn, upto, count, index):
            out += routed(conn, piece, count).get(index, [])
    return out, routes.known_until(conn, upto)


def _reached(batch: Sequence[Event]) -> datetime | None:
    """The knowledge instant the log has reached with ``batch``."""
    return max((e.reported_at for e in batch), default=None)


def findings_rule(key: str) -> str:
    return key.split("/", 1)[0]


def routed(conn: Connection, batch: Sequence[Event], count: int) -> dict[int | None, list[Event]]:
    """The batch's events per partition (``None``: the contract level's); the targets
    of amendments outside the batch are read from the log (amendments are rare)."""
    known = {e.event_id: e for e in batch}
    wanted = {e.target_event_id for e in batch if e.target_event_id} - known.keys()
    while wanted:  # a correction's target, a retracted correction's… (each earlier)
        found = events_by_id(conn, wanted)
        known.update(found)
        wanted = {e.target_event_id for e in found.values() if e.target_event_id} - known.keys()
    return Router(count, known.get).split(batch)


def _pieces(conn: Connection, upto: int, count: int, index: int | None) -> Iterable[list[Event]]:
    """Partition ``index``'s share of the log up to ``upto`` (``routes.share_rows``),
    a piece at a time."""
    after = 0
    while after < upto:
        rows, after = routes.share_rows(conn, after, _PIECE, upto, index, count)
        yield held_events(rows)


def _in_knowledge_order(logged: Sequence[Event]) -> bool:
    return all(a.knowledge_key < b.knowledge_key for a, b in pairwise(logged))


def _chunks(logged: list[Event]) -> Iterable[list[Event]]:
    for i in range(0, len(logged), _PIECE):
        yield logged[i : i + _PIECE]


def _delete_lives(conn: Connection, keys: list[str]) -> None:
    delete_each(conn, finding_changes.c.finding_key, keys)
    delete_each(conn, findings.c.finding_key, keys)
