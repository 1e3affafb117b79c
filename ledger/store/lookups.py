"""Read-side lookups the append path needs: registered natural keys and stored events.

Registrations are append-only, so a key once seen to exist exists forever: positive
answers are cached per process; negative ones always ask the database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from domain.entries import LedgerEntry
from ledger.store.tables import events, registry

_CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class StoredRecord:
    position: int
    hash: bytes
    record: dict[str, Any]
    state: bytes


def row_to_stored(row: Any) -> StoredRecord:
    state = bytes(row.state)
    return StoredRecord(row.notification_id, bytes(row.hash), orjson.loads(state), state)


class Lookups:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: dict[tuple[str, str], dict[str, Any] | None] = {}

    def registered(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any] | None]:
        """The subset of ``keys`` that is registered, with each one's attributes."""
        wanted = set(keys)
        found = {k: self._known[k] for k in wanted if k in self._known}
        missing = wanted - found.keys()
        if missing:
            by_kind: dict[str, list[str]] = {}
            for kind, natural_id in missing:
                by_kind.setdefault(kind, []).append(natural_id)
            with self.engine.connect() as conn:
                for kind, ids in by_kind.items():
                    for chunk in _chunks(ids, 500):
                        rows = conn.execute(
                            sa.select(registry.c.natural_id, registry.c.attrs).where(
                                registry.c.kind == kind, registry.c.natural_id.in_(chunk)
                            )
                        )
                        for natural_id, attrs in rows:
                            value = orjson.loads(attrs) if attrs else None
                            found[(kind, natural_id)] = value
            if len(self._known) > _CACHE_LIMIT:
                self._known.clear()
            self._known.update({k: found[k] for k in missing if k in found})
        return found

    def events_by_id(self, event_ids: Iterable[str]) -> dict[str, StoredRecord]:
        ids = {LedgerEntry.create_id(e): e for e in event_ids}
        out: dict[str, StoredRecord] = {}
        if not ids:
            return out
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids), 500):
                rows = conn.execute(
                    sa.select(
                        events.c.notification_id,
                        events.c.originator_id,
                        events.c.state,
                        events.c.hash,
                    ).where(events.c.originator_id.in_(chunk))
                )
                for row in rows:
                    stored = row_to_stored(row)
                    out[stored.record["event_id"]] = stored
        return out

    def asset_versions(self, asset_ids: Iterable[str]) -> dict[str, int]:
        ids = list(asset_ids)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(registry.c.natural_id, registry.c.version).where(
                    registry.c.kind == "asset", registry.c.natural_id.in_(ids)
                )
            )
            return {r[0]: r[1] for r in rows}

    def read_log(self, after: int, limit: int) -> list[StoredRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(events.c.notification_id, events.c.state, events.c.hash)
                .where(events.c.notification_id > after)
                .order_by(events.c.notification_id)
                .limit(limit)
            )
            return [row_to_stored(r) for r in rows]

    def head(self) -> tuple[int, bytes | None]:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(events.c.notification_id, events.c.hash)
                .order_by(events.c.notification_id.desc())
                .limit(1)
            ).first()
        return (row[0], bytes(row[1])) if row else (0, None)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def entry_id(event_id: str) -> UUID:
    return LedgerEntry.create_id(event_id)
