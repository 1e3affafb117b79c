"""Where each projection has got: its row in ``projection_tracking``. The runner
advances it in the same transaction as the projection's rows; readers ask how far the
projections have got."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from ledger.store.tables import projection_tracking


def tracking_position(conn: Connection, name: str, *, lock: bool) -> int:
    """The projection's position. ``lock`` (a batch about to be applied): its tracking
    row is made if missing and locked until the transaction ends. Without it the row is
    only read (0 if missing): a read must not write, since on SQLite a write would hold
    the database's one write lock until the connection's transaction ends, and every
    append would wait for whatever the reader does meanwhile."""
    query = sa.select(projection_tracking.c.position).where(projection_tracking.c.name == name)
    if not lock:
        found = conn.execute(query).scalar_one_or_none()
        return 0 if found is None else int(found)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(projection_tracking)
        .values(name=name, position=0, updated_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["name"])
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return int(conn.execute(query).scalar_one())


def positions(engine: Engine, names: Sequence[str]) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(projection_tracking.c.name, projection_tracking.c.position).where(
                projection_tracking.c.name.in_(list(names))
            )
        )
        found = {n: int(p) for n, p in rows}
    return {n: found.get(n, 0) for n in names}


LAYOUT = "findings.layout"
"""The tracking row that says in how many partitions the stored findings were judged
(its ``position``; ``ledger.projections.findings_partitions``)."""


class LayoutChanged(RuntimeError):
    """The stored findings were judged in another number of partitions."""


def check_layout(conn: Connection, count: int) -> None:
    """Refuse to go on when the stored findings were judged in another number of
    partitions than ``count`` (1: one walk): the new projections would not find their
    own rows, and the contract level would skip the partitions' early records. A
    ledger from before layouts were recorded was judged by one walk."""
    found = conn.execute(
        sa.select(projection_tracking.c.position).where(projection_tracking.c.name == LAYOUT)
    ).scalar_one_or_none()
    if found is None:
        was = 1 if tracking_position(conn, "findings", lock=False) else count
        if was == count:
            set_layout(conn, count)
            return
    else:
        was = int(found)
    if was != count:
        raise LayoutChanged(
            f"the stored findings were judged in {was} partition(s), and "
            f"LEDGER_FINDINGS_PARTITIONS is {count}: run `ledger projections rebuild`"
        )


def set_layout(conn: Connection, count: int) -> None:
    set_tracking(conn, LAYOUT, count)


def set_tracking(conn: Connection, name: str, value: int) -> None:
    """Set a tracking row's ``position`` (made if missing): a projection's position,
    or a number some projection keeps beside it (``LAYOUT``, ``findings.walked``…)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    now = datetime.now(UTC)
    conn.execute(
        dialect.insert(projection_tracking)
        .values(name=name, position=value, updated_at=now)
        .on_conflict_do_update(index_elements=["name"], set_={"position": value, "updated_at": now})
    )


REWRITES = "findings.rewrites"
"""The tracking row that counts the findings partitions' rewrites (its ``position``):
the contract level judges every instant again when it changes, since a rewritten
partition's records replace those it had already read."""


def rewrites(conn: Connection) -> int:
    return tracking_position(conn, REWRITES, lock=False)


def count_rewrite(conn: Connection) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    now = datetime.now(UTC)
    insert = dialect.insert(projection_tracking).values(name=REWRITES, position=1, updated_at=now)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["name"],
            set_={"position": projection_tracking.c.position + 1, "updated_at": now},
        )
    )
