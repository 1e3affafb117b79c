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
"""The compaction row's partition when it was one row (read no more, dropped with the
pieces; code before the pieces reads only this one, so it merges every record)."""

PIECE = "findings.latest."
"""The compaction's rows' partitions, ``PIECE`` and the piece's number (not a
partition's name: its reads skip them); the pieces of one compaction share its
position."""

PIECE_ASSETS = 1000
"""Assets per piece: decoded whole, the one row of 10,000 assets' parts (6.2 MB of
JSON at a million realistic events) was the contract level's peak, 102 MB."""

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
        .order_by(finding_parts.c.k, finding_parts.c.position, finding_parts.c.partition)
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


def _compaction(conn: Connection, upto: int) -> list[Any]:
    """The pieces of the newest compaction at or before ``upto`` (none: there is none)."""
    pieces = finding_parts.c.partition.like(PIECE + "%")
    at = conn.execute(
        sa.select(sa.func.max(finding_parts.c.position)).where(
            pieces, finding_parts.c.position <= upto
        )
    ).scalar()
    if at is None:
        return []
    return list(
        conn.execute(sa.select(finding_parts).where(pieces, finding_parts.c.position == at))
    )


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
        pieces = _compaction(conn, upto)
        # No compaction, or not what one stands before (records written again since):
        # every record.
        if not pieces or not self._read(conn, pieces, upto, partitions):
            self._read(conn, [], upto, partitions)

    def _read(
        self, conn: Connection, pieces: list[Any], upto: int, partitions: Sequence[str]
    ) -> bool:
        after = pieces[0].position if pieces else 0
        with record_rows(conn, after, upto, partitions, stream=True) as rows:
            return self._merge(rows, pieces)

    def _merge(self, rows: Iterable[Any], pieces: list[Any]) -> bool:
        """``parts`` from the compaction's ``pieces`` and ``rows`` (in knowledge
        order); ``False`` when the first of them is not after the compaction (or there
        is none)."""
        self.parts: dict[str, str] = {}
        for piece in pieces:  # one at a time: decoded, each is PIECE_ASSETS assets
            self.parts.update(_fragments(piece.parts))
        base: Any = pieces[0] if pieces else None
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

    def pieces(self) -> list[str]:
        """``parts`` as the JSON of the compaction's pieces, :data:`PIECE_ASSETS` assets
        each (one, empty, when there are none)."""
        items = list(self.parts.items())
        return [
            orjson.dumps({a: orjson.Fragment(v) for a, v in items[i : i + PIECE_ASSETS]}).decode()
            for i in range(0, len(items), PIECE_ASSETS)
        ] or ["{}"]


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
    pieces = _compaction(conn, upto)
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(finding_parts)
            .where(
                finding_parts.c.position > (pieces[0].position if pieces else 0),
                finding_parts.c.position <= upto,
                finding_parts.c.partition.in_(list(partitions)),
            )
        ).scalar_one()
    )


def compact(conn: Connection, upto: int, partitions: Sequence[str]) -> None:
    """Write the compaction row again: each asset's latest part of the records before
    the last instant up to ``upto`` (that instant's may go on in the next batch)."""
    merged = _Merged(conn, upto, partitions)
    if merged.row is None or merged.row.partition.startswith(PIECE):
        return  # nothing before the last instant, or nothing new before it
    forget_compaction(conn)
    conn.execute(
        finding_parts.insert(),
        [
            {
                "partition": f"{PIECE}{i}",
                "position": int(merged.row.position),
                "k": merged.row.k,
                "parts": piece,
                "retracted": "[]",
                "corrected": "[]",
            }
            for i, piece in enumerate(merged.pieces())
        ],
    )


def forget_compaction(conn: Connection) -> None:
    """Drop the compaction row: the records it stands for are written again."""
    conn.execute(
        finding_parts.delete().where(
            sa.or_(finding_parts.c.partition == LATEST, finding_parts.c.partition.like(PIECE + "%"))
        )
    )
