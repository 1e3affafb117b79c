"""The event store: an eventsourcing ``Application`` over the ledger's recorders.

Every ledger event is the creation event of one ``LedgerEntry`` (see
``domain.entries``). The mapper stores the event's record as RFC 8785 canonical JSON —
the very bytes that are hashed — instead of the library's transcoded form, so a stored
row can be checked with nothing but a JSON canonicaliser and SHA-256.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, cast
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from sqlalchemy.engine import make_url

from domain.entries import EVENT_CLASSES, LedgerEntry
from domain.instants import parse
from ledger.settings import Settings
from ledger.writing.canonical import ZERO_HASH, canonical

_ENTRY_TOPIC = get_topic(LedgerEntry)


_TOPICS = {t.value: get_topic(cls) for t, cls in EVENT_CLASSES.items()}


def stored_event(record: dict[str, Any]) -> StoredEvent:
    """The stored form of a ledger record: the creation event (version 1) of the
    ``LedgerEntry`` its ``event_id`` names, stored by its class's topic, its state the
    canonical JSON of the record with a ``prev_hash`` hole (filled by the recorder)."""
    return StoredEvent(
        originator_id=LedgerEntry.create_id(record["event_id"]),
        originator_version=1,
        topic=_TOPICS[record["type"]],
        state=canonical({**record, "prev_hash": ZERO_HASH}),
    )


class RecordMapper(Mapper[UUID]):
    """Stores ``event.record`` as canonical JSON with a ``prev_hash`` hole."""

    def __init__(self) -> None:
        super().__init__(transcoder=JSONTranscoder())

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        stored = stored_event(domain_event.record)  # type: ignore[attr-defined]
        if stored.topic != get_topic(type(domain_event)):
            raise ValueError(f"a {type(domain_event).__name__} recording another type")
        return stored

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


class _StateReader(Protocol):
    def read_states(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, bytes]]: ...


class EventStore(Application[UUID]):
    """The ledger's eventsourcing application (name ``Ledger``)."""

    name = "Ledger"

    def construct_mapper(self) -> Mapper[UUID]:
        return RecordMapper()

    def read_states(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, bytes]]:
        """``(position, stored bytes)`` of up to ``limit`` events from position
        ``start`` to ``stop``, in order (the ledger's recorders, both backends)."""
        recorder = cast(_StateReader, self.recorder)
        return recorder.read_states(start, limit, stop)

    def append_records(
        self, records: Sequence[dict[str, Any]], **kwargs: Any
    ) -> list[tuple[int, bytes, str]]:
        """Store ``records`` atomically as the creation events of their entries;
        ``(position, hash, recorded_at)`` per record (``recorded_at`` as stored: the
        recorder keeps it non-decreasing).

        The stored events go straight to the library's recorder: ``Application.save``
        would want an event object per record only to map it back to these very bytes,
        and that was a fifth of a batch's time on the write path."""
        results: list[tuple[int, bytes, str]] = []
        self.recorder.insert_events([stored_event(r) for r in records], results=results, **kwargs)
        return results
