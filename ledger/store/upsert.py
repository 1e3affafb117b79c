"""Bulk inserts and insert-or-update for the projections' hot path.

PostgreSQL gets one statement per call, the rows travelling as one array per column
(``INSERT … SELECT FROM unnest(…)``): one round trip and no per-row SQL compilation,
which SQLAlchemy's generic paths cost at projection rates. SQLite gets the driver's
native ``executemany``, which is already a tight loop in C."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def _array_of(type_: sa.types.TypeEngine[Any]) -> str:
    """The element type of an ``unnest`` array: a collation is the column's business
    (``VARCHAR(400) COLLATE "C"[]`` is not a type)."""
    compiled = type_.compile(dialect=_PG)
    return compiled.split(" COLLATE ")[0]


def _pg_statement(table: sa.Table, columns: list[str], conflict: str) -> str:
    # %b: binary parameters, so text arrays are not escaped element by element.
    casts = ", ".join(f"%b::{_array_of(table.c[c].type)}[]" for c in columns)
    names = ", ".join(columns)
    return f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({casts}){conflict}"


def _pg_execute(
    conn: Connection, sql: str, rows: Sequence[dict[str, Any]], columns: list[str]
) -> None:
    arrays = tuple([row[c] for row in rows] for c in columns)
    conn.exec_driver_sql(sql, arrays)


def insert_many(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    if conn.dialect.name == "postgresql":
        _pg_execute(conn, _pg_statement(table, columns, ""), rows, columns)
    else:
        conn.execute(table.insert(), list(rows))


def upsert(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: list[str]
) -> None:
    """Insert or update; ``rows`` must not repeat a key."""
    if not rows:
        return
    columns = list(rows[0])
    updates = [c for c in columns if c not in keys]
    if conn.dialect.name == "postgresql":
        conflict = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(
            f"{c} = EXCLUDED.{c}" for c in updates
        )
        _pg_execute(conn, _pg_statement(table, columns, conflict), rows, columns)
        return
    stmt = sqlite.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in updates}
    )
    conn.execute(stmt, list(rows))


def insert_new(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: list[str]
) -> None:
    """Insert the rows whose key is not stored yet; ``rows`` must not repeat a key."""
    if not rows:
        return
    columns = list(rows[0])
    if conn.dialect.name == "postgresql":
        conflict = f" ON CONFLICT ({', '.join(keys)}) DO NOTHING"
        _pg_execute(conn, _pg_statement(table, columns, conflict), rows, columns)
        return
    stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, list(rows))


def delete_each(conn: Connection, column: sa.Column[Any], keys: Sequence[Any]) -> None:
    """Delete the rows whose ``column`` is one of ``keys``: one statement per key,
    sent together (``executemany``), so that PostgreSQL finds each through the index on
    ``column`` whatever it knows of the table. An ``IN`` list of hundreds of keys, on a
    table it has not analysed (autovacuum off, or not yet run), is planned as a scan of
    the whole table testing every row against each key: seconds a batch at 2M events."""
    if keys:
        table = column.table
        assert isinstance(table, sa.Table)
        stmt = table.delete().where(column == sa.bindparam("each_key"))
        conn.execute(stmt, [{"each_key": k} for k in keys])
