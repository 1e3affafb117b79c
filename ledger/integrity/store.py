"""Persistence for tamper evidence: the event rows as Merkle leaves, signed checkpoints
with the frontier they were made from, and the roots of 1024-leaf subtrees.

The primitives in this package (``merkle``, ``checkpoints``, ``bundle``) never touch the
database; this module is the only place that reads ``ledger_events`` for them and writes
``integrity_checkpoints`` and ``integrity_subtrees`` (declared in
``ledger.store.tables``). What it keeps, and why:

* each checkpoint row holds the Merkle frontier at its size and the hash of its last
  event, so the next checkpoint starts there and reads only the events added since
  (plus at most 1023 older hashes to finish a partial subtree);
* every aligned run of ``SUBTREE_WIDTH`` leaves completed by a checkpoint gets its root
  stored, so :class:`StoredSubtreeCache` answers any wider perfect subtree by folding
  ``width / 1024`` stored roots instead of rehashing the log: a proof over a million
  events reads about a thousand 32-byte rows, once per process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.integrity.checkpoints import Checkpoint
from ledger.integrity.merkle import HASH_SIZE, Frontier, leaf_hash, node_hash
from ledger.store.tables import checkpoints, events, seal_origin, subtrees

SUBTREE_WIDTH = 1024
BLOCK_WIDTH = 32
"""Each stored subtree also keeps the roots of its 32-leaf blocks (``blocks``)."""
ROW_PAGE = 2000

Row = tuple[int, bytes, bytes]
"""``(position, state, hash)`` of one stored event, exactly as stored."""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint row: the signed statement plus what the next checkpoint resumes from."""

    checkpoint: Checkpoint
    public_key: bytes
    frontier: Frontier
    last_hash: bytes | None

    @property
    def tree_size(self) -> int:
        return self.checkpoint.tree_size

    @property
    def key_id(self) -> str:
        return self.checkpoint.key_id


def _stored(row: Any) -> StoredCheckpoint:
    raw = bytes(row.frontier)
    nodes = [raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)]
    checkpoint = Checkpoint(
        tree_size=int(row.tree_size),
        root=bytes(row.root).hex(),
        timestamp=row.timestamp,
        key_id=row.key_id,
        signature=row.signature,
    )
    return StoredCheckpoint(
        checkpoint,
        bytes(row.public_key),
        Frontier.from_nodes(int(row.tree_size), nodes),
        bytes(row.last_hash) if row.last_hash is not None else None,
    )


def fold_perfect(roots: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree from its equal-width child roots, left to right."""
    level = list(roots)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


class StoredSubtreeCache:
    """A :class:`~ledger.integrity.merkle.SubtreeCache` backed by ``integrity_subtrees``.

    Subtrees narrower than ``SUBTREE_WIDTH`` are left to the leaf source (at most 1023
    hashes each). A wider one is folded from its stored 1024-leaf roots, read in one
    query, and remembered in process memory with anything the tree code offers
    (about ``2n / 1024`` entries for ``n`` events). If some of its 1024-leaf roots are
    missing the cache answers nothing and the caller hashes leaves instead.
    """

    def __init__(self, engine: Engine, width: int = SUBTREE_WIDTH) -> None:
        self.engine = engine
        self.width = width
        self._memory: dict[tuple[int, int], bytes] = {}

    def get(self, start: int, end: int) -> bytes | None:
        if end - start < self.width:
            return None
        hit = self._memory.get((start, end))
        if hit is not None:
            return hit
        with self.engine.connect() as conn:
            roots = [
                bytes(r)
                for r in conn.execute(
                    sa.select(subtrees.c.root)
                    .where(subtrees.c.start >= start, subtrees.c.start < end)
                    .order_by(subtrees.c.start)
                ).scalars()
            ]
        if len(roots) != (end - start) // self.width:
            return None
        result = fold_perfect(roots)
        self._memory[(start, end)] = result
        return result

    def put(self, start: int, end: int, root: bytes) -> None:
        if end - start >= self.width:
            self._memory[(start, end)] = root

    def __len__(self) -> int:
        return len(self._memory)


class IntegrityStore:
    """Reads of the log and reads/writes of checkpoints and subtree roots."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.subtree_cache = StoredSubtreeCache(engine)

    # --- the log --------------------------------------------------------------------

    def head(self, conn: Connection) -> int:
        """The last position in the log (0 when empty)."""
        return int(conn.execute(sa.select(sa.func.max(events.c.notification_id))).scalar() or 0)

    def event_hash(self, conn: Connection, position: int) -> bytes | None:
        value = conn.execute(
            sa.select(events.c.hash).where(events.c.notification_id == position)
        ).scalar()
        return bytes(value) if value is not None else None

    def unsealed_through(self, conn: Connection) -> int:
        """The head when seals were introduced (events up to it have none)."""
        return int(
            conn.execute(sa.select(sa.func.max(seal_origin.c.unsealed_through))).scalar() or 0
        )

    def sealed_rows(
        self, conn: Connection, after: int, until: int
    ) -> Iterator[tuple[int, bytes, bytes]]:
        """``(position, hash, seal)`` of the sealed events in ``after+1..until``, newest
        first (the head's first)."""
        result = conn.execute(
            sa.select(events.c.notification_id, events.c.hash, events.c.seal)
            .where(
                events.c.notification_id > after,
                events.c.notification_id <= until,
                events.c.seal.is_not(None),
            )
            .order_by(events.c.notification_id.desc())
        )
        for position, digest, seal in result:
            yield int(position), bytes(digest), bytes(seal)

    def sealed_positions(self, conn: Connection, after: int, until: int) -> list[int]:
        """The positions in ``after+1..until`` that carry a seal, in order."""
        return [
            int(p)
            for p in conn.execute(
                sa.select(events.c.notification_id)
                .where(
                    events.c.notification_id > after,
                    events.c.notification_id <= until,
                    events.c.seal.is_not(None),
                )
                .order_by(events.c.notification_id)
            ).scalars()
        ]

    def sealed_row(self, conn: Connection, position: int) -> tuple[bytes, bytes | None]:
        """``(hash, seal)`` of the event at ``position``."""
        digest, seal = conn.execute(
            sa.select(events.c.hash, events.c.seal).where(events.c.notification_id == position)
        ).one()
        return bytes(digest), None if seal is None else bytes(seal)

    def rows(self, conn: Connection, after: int, until: int, limit: int) -> list[Row]:
        """Stored rows with ``after < position <= until``, at most ``limit``, in order."""
        result = conn.execute(
            sa.select(events.c.notification_id, events.c.state, events.c.hash)
            .where(events.c.notification_id > after, events.c.notification_id <= until)
            .order_by(events.c.notification_id)
            .limit(limit)
        )
        return [(int(p), bytes(s), bytes(h)) for p, s, h in result]

    def row_pages(self, after: int, until: int, page: int = ROW_PAGE) -> Iterator[list[Row]]:
        """Rows ``after+1 .. until`` as they are stored (gaps and all), a page at a time.

        Each page is its own short read (keyset on the position), so a long export or
        verification holds no transaction and at most one page in memory.
        """
        while after < until:
            with self.engine.connect() as conn:
                batch = self.rows(conn, after, until, page)
            if not batch:
                return
            yield batch
            after = batch[-1][0]

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf source for :mod:`ledger.integrity.merkle`: leaves ``start .. end-1``.

        Leaf ``i`` is event ``i + 1``; a missing row yields fewer leaves than asked for,
        which the Merkle code reports as an error rather than proving a different tree.
        """
        with self.engine.connect() as conn:
            result = conn.execute(
                sa.select(events.c.hash)
                .where(events.c.notification_id > start, events.c.notification_id <= end)
                .order_by(events.c.notification_id)
            ).scalars()
            return [leaf_hash(bytes(h)) for h in result]

    # --- checkpoints ----------------------------------------------------------------

    def lock(self, conn: Connection) -> None:
        """Serialise checkpoint writers until ``conn``'s transaction ends.

        Must be the first statement of the transaction. SQLite: take the database's
        write lock now (``BEGIN IMMEDIATE``), not at the first insert. PostgreSQL: an
        EXCLUSIVE table lock blocks other checkpoint writers, never plain readers.
        """
        if self.is_sqlite:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("LOCK TABLE integrity_checkpoints IN EXCLUSIVE MODE")

    def _one(self, conn: Connection, query: sa.Select[Any]) -> StoredCheckpoint | None:
        row = conn.execute(query.limit(1)).first()
        return _stored(row) if row is not None else None

    def latest(self, conn: Connection, key_id: str | None = None) -> StoredCheckpoint | None:
        """The largest checkpoint, of one key or of any."""
        query = sa.select(checkpoints).order_by(
            checkpoints.c.tree_size.desc(), checkpoints.c.key_id
        )
        if key_id is not None:
            query = query.where(checkpoints.c.key_id == key_id)
        return self._one(conn, query)

    def other_key_checkpoint(self, conn: Connection, key_id: str) -> StoredCheckpoint | None:
        """The smallest checkpoint signed by a key other than ``key_id``, if any."""
        return self._one(
            conn,
            sa.select(checkpoints)
            .where(checkpoints.c.key_id != key_id)
            .order_by(checkpoints.c.tree_size)
            .limit(1),
        )

    def at(self, conn: Connection, size: int, key_id: str) -> StoredCheckpoint | None:
        return self._one(
            conn,
            sa.select(checkpoints).where(
                checkpoints.c.tree_size == size, checkpoints.c.key_id == key_id
            ),
        )

    def covering(self, conn: Connection, size: int, key_id: str) -> StoredCheckpoint | None:
        """The smallest checkpoint of ``key_id`` with ``tree_size >= size``."""
        return self._one(
            conn,
            sa.select(checkpoints)
            .where(checkpoints.c.tree_size >= size, checkpoints.c.key_id == key_id)
            .order_by(checkpoints.c.tree_size),
        )

    def before(self, conn: Connection, size: int, key_id: str) -> StoredCheckpoint | None:
        """The largest checkpoint of ``key_id`` with ``0 < tree_size < size``."""
        return self._one(
            conn,
            sa.select(checkpoints)
            .where(
                checkpoints.c.tree_size < size,
                checkpoints.c.tree_size > 0,
                checkpoints.c.key_id == key_id,
            )
            .order_by(checkpoints.c.tree_size.desc()),
        )

    def between(self, low: int, high: int, key_id: str, page: int = 500) -> Iterator[Checkpoint]:
        """Checkpoints of ``key_id`` with ``low <= tree_size <= high``, smallest first, paged."""
        while low <= high:
            with self.engine.connect() as conn:
                batch = [
                    _stored(r).checkpoint
                    for r in conn.execute(
                        sa.select(checkpoints)
                        .where(
                            checkpoints.c.tree_size >= low,
                            checkpoints.c.tree_size <= high,
                            checkpoints.c.key_id == key_id,
                        )
                        .order_by(checkpoints.c.tree_size)
                        .limit(page)
                    )
                ]
            yield from batch
            if len(batch) < page:
                return
            low = batch[-1].tree_size + 1

    def newest_first(self, key_id: str, below: int | None, limit: int) -> list[Checkpoint]:
        """A page of ``key_id``'s checkpoints, largest first, sizes below ``below``."""
        query = sa.select(checkpoints).where(checkpoints.c.key_id == key_id)
        if below is not None:
            query = query.where(checkpoints.c.tree_size < below)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(checkpoints.c.tree_size.desc()).limit(limit))
            return [_stored(r).checkpoint for r in rows]

    def insert(
        self,
        conn: Connection,
        stored: StoredCheckpoint,
        new_subtrees: Sequence[tuple[int, bytes]],
        blocks: Mapping[int, bytes] | None = None,
    ) -> list[int]:
        """Write a checkpoint and the subtree roots it completed, in ``conn``'s transaction.

        Subtree roots already stored are left alone; the starts of those that differ
        from the new ones are returned (the log changed under a stored root), and the
        caller decides what that means.
        """
        cp = stored.checkpoint
        conn.execute(
            checkpoints.insert().values(
                tree_size=cp.tree_size,
                key_id=cp.key_id,
                root=cp.root_bytes,
                timestamp=cp.timestamp,
                signature=cp.signature,
                public_key=stored.public_key,
                frontier=b"".join(stored.frontier.nodes),
                last_hash=stored.last_hash,
            )
        )
        if not new_subtrees:
            return []
        starts = [start for start, _ in new_subtrees]
        existing = {
            int(start): bytes(root)
            for start, root in conn.execute(
                sa.select(subtrees.c.start, subtrees.c.root).where(
                    subtrees.c.start >= min(starts), subtrees.c.start <= max(starts)
                )
            )
        }
        blocks = blocks or {}
        fresh = [
            {"start": start, "root": root, "blocks": blocks.get(start)}
            for start, root in new_subtrees
            if start not in existing
        ]
        if fresh:
            conn.execute(subtrees.insert(), fresh)
        return [
            start for start, root in new_subtrees if start in existing and existing[start] != root
        ]
