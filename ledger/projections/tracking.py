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
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(projection_tracking)
        .values(name=name, position=0, updated_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["name"])
    )
    query = sa.select(projection_tracking.c.position).where(projection_tracking.c.name == name)
    if lock and conn.dialect.name == "postgresql":
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
