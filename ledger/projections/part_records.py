"""The partitions' records (``proj_finding_parts``) as the contract level reads them.

A partition writes a record per knowledge instant it walks: the assets whose R03
findings or contract changed, with their parts, and the ids the instant retracted or
corrected (``domain.rules.partitions.PartRecord``). The contract level reads each
batch's records as it follows (:func:`records`), and a resumed contract level reads
what :meth:`ContractWalk.resume_from` needs of all of them (:func:`resume_records`):
the records of the last instant they name, whole, and each asset's latest part before
it.

Merging every record ever written at each resume grew with the ledger: at a million
realistic events, sixteen partitions had written 156,608 records, 84 MB of JSON, and
merging them was 1.6 s of a 12-second restart. So the contract level keeps the merge
itself (:func:`compact`): a row of its own (partition ``findings.latest``) with each
asset's latest part of every record up to one, written again once that many more
records came after it (:data:`COMPACT_AFTER`). A resume starts from that row and merges
only the records after it. The row stands for records that are stored, so whatever
writes them again — a partition walked again, a new layout — drops it
(:func:`forget_compaction`), and a resume that finds the records after it out of
knowledge order reads them all, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Result

from domain.instants import parse
from domain.rules.partitions import PartRecord
from ledger.projections.findings_codec import finding_from_dict
from ledger.store.tables import finding_parts

LATEST = "findings.latest"
"""The compaction row's partition (not a partition's name: its reads skip it)."""

COMPACT_AFTER = 20_000
"""How many records after the compaction row make the contract level write it again
(at a million realistic events, about one in eight of the records)."""


def record_rows(
    conn: Connection, after: int, upto: int, partitions: Sequence[str], *, stream: bool = False
) -> Result[Any]:
    """The stored records of ``partitions`` (this layout's) in a window of positions,
    in knowledge order; ``stream``: fetched a thousand at a time, not all at once."""
    options = {"yield_per": 1000} if stream else {}
    return conn.execute(
        sa.select(finding_parts)
        .where(
            finding_parts.c.position > after,
            finding_parts.c.position <= upto,
            finding_parts.c.partition.in_(list(partitions)),
        )
        .order_by(finding_parts.c.k, finding_parts.c.position)
        .execution_options(**options)  # this statement's only, not the connection's
    )


def record(row: Any, raw_parts: dict[str, Any] | None = None) -> PartRecord:
    raw = orjson.loads(row.parts) if raw_parts is None else raw_parts
    return PartRecord(
        parse(row.k),
        int(row.position),
        {a: (c, tuple(finding_from_dict(f) for f in fs)) for a, (c, fs) in raw.items()},
        frozenset(orjson.loads(row.retracted)),
        frozenset(orjson.loads(row.corrected)),
    )


def records(conn: Connection, after: int, upto: int, partitions: Sequence[str]) -> list[PartRecord]:
    """The records of ``partitions`` in a window of positions, in knowledge order."""
    return [record(row) for row in record_rows(conn, after, upto, partitions)]


def _compaction(conn: Connection, upto: int) -> Any:
    """The newest compaction row at or before ``upto``, if any."""
    return conn.execute(
        sa.select(finding_parts)
        .where(finding_parts.c.partition == LATEST, finding_parts.c.position <= upto)
        .order_by(finding_parts.c.position.desc())
        .limit(1)
    ).first()


class _Merged:
    """Each asset's latest part of the records before the last instant up to a
    position (``parts``: each asset's as JSON text; ``row``: the last of
    those records, ``None`` when there is none), and the records of that last instant
    (``tail``).

    The records are laid over each other one at a time as they are read, and each
    asset's part is kept as JSON text, not as decoded objects: decoded, the
    compaction row and the 20,000 records after it were the contract level's peak
    memory (118 MB more than it held otherwise at a million realistic events, and
    growing with the assets; decision 0024)."""

    def __init__(self, conn: Connection, upto: int, partitions: Sequence[str]) -> None:
        base = _compaction(conn, upto)
        # No compaction row, or not what one stands before (records written again
        # since): every record.
        if base is None or not self._read(conn, base, upto, partitions):
            self._read(conn, None, upto, partitions)

    def _read(self, conn: Connection, base: Any, upto: int, partitions: Sequence[str]) -> bool:
        after = 0 if base is None else base.position
        with record_rows(conn, after, upto, partitions, stream=True) as rows:
            return self._merge(rows, base)

    def _merge(self, rows: Iterable[Any], base: Any) -> bool:
        """``parts`` from ``base`` and ``rows`` (in knowledge order); ``False`` when the
        first of them is not after ``base`` (or there is none)."""
        self.parts: dict[str, str] = {} if base is None else _fragments(base.parts)
        self.row: Any = base
        group: list[Any] = []  # the records of the instant read last
        for row in rows:
            if base is not None and self.row is base and not group and row.k <= base.k:
                return False
            if group and row.k != group[0].k:
                for earlier in group:
                    self.parts.update(_fragments(earlier.parts))
                self.row, group = group[-1], []
            group.append(row)
        self.tail = group
        return base is None or bool(group)

    def decoded(self) -> dict[str, Any]:
        return {a: orjson.loads(v) for a, v in self.parts.items()}

    def dumped(self) -> str:
        return orjson.dumps({a: orjson.Fragment(v) for a, v in self.parts.items()}).decode()


def _fragments(parts: str | bytes) -> dict[str, str]:
    """A stored record's parts, each asset's as JSON text. Text, not the bytes
    ``orjson.dumps`` gives: those keep the 4 KB buffer they were written in (measured:
    4,097 bytes held for a 79-byte part)."""
    return {a: orjson.dumps(v).decode() for a, v in orjson.loads(parts).items()}


def resume_records(conn: Connection, upto: int, partitions: Sequence[str]) -> list[PartRecord]:
    """What :meth:`ContractWalk.resume_from` reads of the records up to ``upto``, without
    decoding every finding of every record: the records of the last instant they name,
    whole (they are fed again), and one record at the instant before with each asset's
    latest part of every earlier record (what the walk is judged on there:
    ``resume_from`` lays the parts of the earlier records over each other in knowledge
    order), from the compaction row and the records after it."""
    merged = _Merged(conn, upto, partitions)
    kept = [record(row) for row in merged.tail]
    if merged.row is None:
        return kept
    head = record(merged.row, merged.decoded())
    return [PartRecord(head.k, head.position, head.parts), *kept]


def unmerged(conn: Connection, upto: int, partitions: Sequence[str]) -> int:
    """How many records up to ``upto`` the compaction row does not merge."""
    base = _compaction(conn, upto)
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(finding_parts)
            .where(
                finding_parts.c.position > (0 if base is None else base.position),
                finding_parts.c.position <= upto,
                finding_parts.c.partition.in_(list(partitions)),
            )
        ).scalar_one()
    )


def compact(conn: Connection, upto: int, partitions: Sequence[str]) -> None:
    """Write the compaction row again: each asset's latest part of the records before
    the last instant up to ``upto`` (that instant's may go on in the next batch)."""
    merged = _Merged(conn, upto, partitions)
    if merged.row is None or merged.row.partition == LATEST:
        return  # nothing before the last instant, or nothing new before it
    forget_compaction(conn)
    conn.execute(
        finding_parts.insert(),
        [
            {
                "partition": LATEST,
                "position": int(merged.row.position),
                "k": merged.row.k,
                "parts": merged.dumped(),
                "retracted": "[]",
                "corrected": "[]",
            }
        ],
    )


def forget_compaction(conn: Connection) -> None:
    """Drop the compaction row: the records it stands for are written again."""
    conn.execute(finding_parts.delete().where(finding_parts.c.partition == LATEST))
