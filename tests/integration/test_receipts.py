"""A receipt never lies: the position, hash and ``recorded_at`` a writer is given are
those of the row that holds its event (issue: "a 201 that lies").

eventsourcing retries ``insert_events`` when the connection drops; each attempt is a
new transaction that reads the head again. If another writer commits between two
attempts, the committed attempt stores the event at a later position than the failed
one had computed — and the receipt must say the later one.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
import psycopg
import pytest
import sqlalchemy as sa
from psycopg import Cursor

from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.store.eventstore import EventStore, eventsourcing_env
from ledger.store.recorders import LedgerPostgresRecorder
from ledger.store.tables import events as events_table
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire

ADMIN = Principal("admin", Role.ADMIN)


def stored_rows(ledger: Ledger) -> dict[str, tuple[int, str, str]]:
    """event_id → (position, hash, recorded_at) as the database holds them."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(events_table.c.notification_id, events_table.c.hash, events_table.c.state)
        ).all()
    out: dict[str, tuple[int, str, str]] = {}
    for position, digest, state in rows:
        record = orjson.loads(bytes(state))
        out[record["event_id"]] = (position, bytes(digest).hex(), record["recorded_at"])
    return out


def append(ledger: Ledger, events: list[dict[str, Any]]) -> list[Any]:
    return ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], ADMIN)


def test_receipt_names_the_committed_attempt_after_a_dropped_connection(
    pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = pg_ledger
    append(ledger, wire.reference_world())
    original = LedgerPostgresRecorder._insert_stored_events
    other = EventStore(env=eventsourcing_env(ledger.settings))  # a second writer process
    other.recorder.guard.sealer = ledger.integrity.sealer  # type: ignore[attr-defined]
    attempts: list[int] = []

    def dropping(self: Any, curs: Cursor[Any], stored_events: Any, **kwargs: Any) -> None:
        attempts.append(len(stored_events))
        if len(attempts) == 2:
            # Between the failed attempt and the retry, another writer commits.
            record = {
                **wire.asset("intruder", event_id="ev-intruder"),
                "recorded_at": "2014-06-10T08:00:00.000000Z",
            }
            record.update(reported_at=record["recorded_at"], recorded_by="other")
            other.append_records([record])
        original(self, curs, stored_events, **kwargs)
        if len(attempts) == 1:
            # The server ends this very session: the transaction is lost, the library
            # sees an OperationalError and tries again on a new connection.
            curs.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    monkeypatch.setattr(LedgerPostgresRecorder, "_insert_stored_events", dropping)
    try:
        results = append(ledger, [wire.asset("t-receipt-1"), wire.asset("t-receipt-2")])
    finally:
        other.close()
    assert len(attempts) >= 2, "the connection drop must have forced a retry"
    stored = stored_rows(ledger)
    for r in results:
        assert (r.position, r.hash, r.recorded_at) == stored[r.event_id]
    # The intruder took the position the failed attempt had computed for the first
    # event, so the committed attempt stored both one place later.
    intruder = stored["ev-intruder"][0]
    assert [r.position for r in results] == [intruder + 1, intruder + 2]


def test_receipts_match_rows_under_concurrent_writers(ledger: Ledger) -> None:
    """Many writers, one group committer: every receipt is its own row's."""
    append(ledger, wire.reference_world())
    receipts: list[Any] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        for i in range(10):
            got = append(ledger, [wire.asset(f"w{n}-{i}")])
            with lock:
                receipts.extend(got)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = stored_rows(ledger)
    assert len(receipts) == 80
    for r in receipts:
        assert (r.position, r.hash, r.recorded_at) == stored[r.event_id]
    assert len({r.position for r in receipts}) == 80


def test_pg_terminate_is_an_operational_error() -> None:
    """The retry above relies on psycopg reporting a killed session this way."""
    assert issubclass(psycopg.errors.AdminShutdown, psycopg.OperationalError)
