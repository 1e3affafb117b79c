"""The event store: an eventsourcing ``Application`` over the ledger's recorders.

Every ledger event is the creation event of one ``LedgerEntry`` (see
``domain.entries``). The mapper stores the event's record as RFC 8785 canonical JSON —
the very bytes that are hashed — instead of the library's transcoded form, so a stored
row can be checked with nothing but a JSON canonicaliser and SHA-256.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from sqlalchemy.engine import make_url

from domain.entries import LedgerEntry
from domain.instants import parse
from ledger.settings import Settings
from ledger.writing.canonical import ZERO_HASH, canonical

_ENTRY_TOPIC = get_topic(LedgerEntry)


class RecordMapper(Mapper[UUID]):
    """Stores ``event.record`` as canonical JSON with a ``prev_hash`` hole."""

    def __init__(self) -> None:
        super().__init__(transcoder=JSONTranscoder())

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        record = domain_event.record  # type: ignore[attr-defined]
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=canonical({**record, "prev_hash": ZERO_HASH}),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        cls = resolve_topic(stored_event.topic)
        record = orjson.loads(stored_event.state)
        event = object.__new__(cls)
        event.__dict__.update(
            originator_id=stored_event.originator_id,
            originator_version=stored_event.originator_version,
            timestamp=parse(record["recorded_at"]),
            originator_topic=_ENTRY_TOPIC,
            record=record,
        )
        return event  # type: ignore[no-any-return]


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The library's settings for our database; tables are Alembic's, never its own."""
    url = make_url(settings.database_url)
    env = {"CREATE_TABLE": "n", "IS_SNAPSHOTTING_ENABLED": "n"}
    if url.get_backend_name() == "sqlite":
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=str(url.database),
            SQLITE_LOCK_TIMEOUT="30",
            APPLICATION_RECORDER_TOPIC="ledger.store.recorders:LedgerSQLiteRecorder",
        )
    else:
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=str(url.database),
            POSTGRES_HOST=url.host or "127.0.0.1",
            POSTGRES_PORT=str(url.port or 5432),
            POSTGRES_USER=url.username or "postgres",
            POSTGRES_PASSWORD=url.password or "",
            # Appends go through one group-commit writer and projections read in
            # pages: two kept open, at most four (the library's pool closes the extra
            # two after ten idle minutes).
            POSTGRES_POOL_SIZE="2",
            POSTGRES_MAX_OVERFLOW="2",
            POSTGRES_CONNECT_TIMEOUT="5",
            POSTGRES_LOCK_TIMEOUT="30",
            POSTGRES_PRE_PING="n",
            POSTGRES_ENABLE_DB_FUNCTIONS="n",
            APPLICATION_RECORDER_TOPIC="ledger.store.recorders:LedgerPostgresRecorder",
        )
    return env


class EventStore(Application[UUID]):
    """The ledger's eventsourcing application (name ``Ledger``)."""

    name = "Ledger"

    def construct_mapper(self) -> Mapper[UUID]:
        return RecordMapper()

    def record(
        self, entries: Sequence[LedgerEntry.Recorded], **kwargs: Any
    ) -> list[tuple[int, bytes, str]]:
        """Save the entries' creation events atomically; ``(position, hash, recorded_at)``
        per entry (``recorded_at`` as stored: the recorder keeps it non-decreasing)."""
        results: list[tuple[int, bytes, str]] = []
        self.save(*entries, results=results, **kwargs)
        return results
