"""The log's route index (``proj_event_routes``): which findings partitions each event
may concern, and the knowledge instant the log had reached with it.

A worker that runs its partitions one after the other (decision 0017) read the whole
log once for each, and parsed enough of every record to route it; at a million
events and sixteen partitions, that is sixteen million records shipped and parsed.
The custody projection, which reads every event once anyway, files each under the
keys of the assets it names (``domain.rules.partitions.route_keys``), so a partition
asks the database for its share only (:func:`share_rows`): the rows filed under no
key, or under a key whose partition is its own. It is told where the log's knowledge
stood at the end of what it read (:func:`known_until`) without reading the rest.

A partition's key among ``count`` is the key taken as unsigned, modulo ``count``
(:func:`domain.rules.partitions.shard`). The database holds the key signed (a
``BIGINT``); a negative key ``k`` stands for ``k + 2**64``, whose residue is
``(k % count + 2**64 % count) % count`` — :func:`_partition_of` writes that in SQL
both backends evaluate alike (their ``%`` keeps the dividend's sign). Tested against
``shard`` on both backends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.history import Event
from domain.instants import stored_instant, to_stored
from domain.rules.impact import AMENDMENTS
from domain.rules.partitions import route_keys
from ledger.store.tables import event_index, event_routes, events
from ledger.store.upsert import insert_many


def rows_of(
    batch: Sequence[Event],
    known: datetime | None,
    targets: Mapping[str, Sequence[int | None]] | None = None,
) -> tuple[list[dict[str, Any]], datetime | None]:
    """The route rows of ``batch`` (in log order), and the knowledge instant the log
    has reached after it, from ``known`` before it. ``targets``: the keys the events
    amended from outside the batch are filed under (:func:`target_keys`); an
    amendment is filed under its target's."""
    rows: list[dict[str, Any]] = []
    filed: dict[str, list[int | None]] = {}
    for e in batch:
        if known is None or e.reported_at > known:
            known = e.reported_at
        until = to_stored(known)
        target = None
        if e.target_event_id and e.type in AMENDMENTS:
            target = filed.get(e.target_event_id) or (targets or {}).get(e.target_event_id)
        keys = route_keys(e.type.value, e.asset_ids, target)
        filed[e.event_id] = keys
        for key in keys:
            rows.append({"position": e.position, "route": key, "known_until": until})
    return rows, known


def target_keys(conn: Connection, batch: Sequence[Event]) -> dict[str, list[int | None]]:
    """The keys the events ``batch`` amends, from before it, are filed under (by event
    id; one not indexed is missing: its amendment goes to every partition)."""
    ids = {e.target_event_id for e in batch if e.type in AMENDMENTS and e.target_event_id}
    ids -= {e.event_id for e in batch}
    out: dict[str, list[int | None]] = {}
    for i in range(0, len(ids), 500):
        wanted = sorted(ids)[i : i + 500]
        for event_id, route in conn.execute(
            sa.select(event_index.c.event_id, event_routes.c.route)
            .join(event_routes, event_routes.c.position == event_index.c.position)
            .where(event_index.c.event_id.in_(wanted))
            .distinct()
        ):
            out.setdefault(event_id, []).append(route)
    return {event_id: _ordered(keys) for event_id, keys in out.items()}


def _ordered(keys: list[int | None]) -> list[int | None]:
    return [None] if None in keys else [*sorted(k for k in keys if k is not None)]


def write(conn: Connection, rows: list[dict[str, Any]]) -> None:
    insert_many(conn, event_routes, rows)


def file(conn: Connection, batch: Sequence[Event], known: datetime | None) -> datetime | None:
    """Write the route rows of ``batch`` (:func:`rows_of`, the amended events before it
    read back: :func:`target_keys`); returns the knowledge instant the log has
    reached after it."""
    rows, known = rows_of(batch, known, target_keys(conn, batch))
    write(conn, rows)
    return known


class RoutesMissing(RuntimeError):
    """An event the custody projection indexed has no route rows."""


def known_until(conn: Connection, position: int, *, indexed: bool = False) -> datetime | None:
    """The knowledge instant the log had reached at ``position`` (``None``: no event
    indexed yet). ``indexed``: ``position`` is one the custody projection has
    indexed, so its route rows must be there; :class:`RoutesMissing` when they are
    not (code older than the index indexed it), rather than a partition that reads
    past events it cannot see."""
    row = conn.execute(
        sa.select(event_routes.c.position, event_routes.c.known_until)
        .where(event_routes.c.position <= position)
        .order_by(event_routes.c.position.desc())
        .limit(1)
    ).first()
    if indexed and position > 0 and (row is None or row.position != position):
        raise RoutesMissing(
            f"the route index has no row for position {position}, which the custody "
            "projection has indexed: a process running code older than migration "
            "0015 indexed it. Stop it, then run `ledger projections rebuild`."
        )
    return None if row is None else stored_instant(row.known_until)


def _partition_of(count: int) -> sa.ColumnElement[Any]:
    """The partition of a route's key among ``count``, in SQL (see the module's doc)."""
    route = event_routes.c.route
    wrap = (1 << 64) % count
    return sa.case(
        (route >= 0, route % count),
        else_=((route % count) + count + wrap) % count,
    )


def share_rows(
    conn: Connection, after: int, limit: int, stop: int, index: int | None, count: int
) -> tuple[list[tuple[int, bytes]], int]:
    """Up to ``limit`` events of partition ``index`` of ``count`` (``None``: the
    contract level's, the events filed under no key) after position ``after``, up
    to ``stop``: their positions and stored records, and the position read up to —
    the last one's when ``limit`` were found, else ``stop``."""
    positions = _positions(after, limit, stop, index, count).subquery()
    rows = [
        (int(p), s)
        for p, s in conn.execute(
            sa.select(events.c.notification_id, events.c.state)
            .join(positions, positions.c.position == events.c.notification_id)
            .order_by(events.c.notification_id)
        )
    ]
    return rows, (rows[-1][0] if len(rows) == limit else stop)


def share_positions(
    conn: Connection, after: int, limit: int, stop: int, index: int | None, count: int
) -> list[int]:
    """The positions :func:`share_rows` reads."""
    return [int(p) for p in conn.execute(_positions(after, limit, stop, index, count)).scalars()]


def _positions(after: int, limit: int, stop: int, index: int | None, count: int) -> sa.Select[Any]:
    mine: sa.ColumnElement[bool] = event_routes.c.route.is_(None)
    if index is not None:
        mine = sa.or_(mine, _partition_of(count) == index)
    return (
        sa.select(event_routes.c.position)
        .where(event_routes.c.position > after, event_routes.c.position <= stop, mine)
        .distinct()
        .order_by(event_routes.c.position)
        .limit(limit)
    )


def backfill(conn: Connection, upto: int, chunk: int = 20_000) -> int:
    """Route rows for the stored events up to position ``upto`` (those the custody
    projection indexed before the table existed); returns how many were read."""
    after, known, n = 0, None, 0
    while True:
        got = conn.execute(
            sa.select(events.c.notification_id, events.c.state)
            .where(events.c.notification_id > after, events.c.notification_id <= upto)
            .order_by(events.c.notification_id)
            .limit(chunk)
        ).all()
        if not got:
            return n
        batch = [Event.parse(int(p), orjson.loads(state), owned=True) for p, state in got]
        known = file(conn, batch, known)
        after, n = got[-1][0], n + len(got)


def backfill_indexed(conn: Connection) -> int:
    """Route rows for every stored event the custody projection has indexed (what
    migrations 0015 and 0016 write); returns how many were read."""
    indexed = conn.execute(
        sa.text("SELECT position FROM projection_tracking WHERE name = 'custody'")
    ).scalar()
    return backfill(conn, upto=int(indexed)) if indexed else 0
