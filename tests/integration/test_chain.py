"""The hash chain recomputed independently from the raw rows — with the database
driver, ``hashlib`` and ``rfc8785`` only, none of the ledger's own code."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import rfc8785
from sqlalchemy.engine import make_url

from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.writing import append as appending
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire

ADMIN = Principal("admin", Role.ADMIN)


def raw_rows(url: str) -> list[tuple[int, bytes, bytes]]:
    u = make_url(url)
    sql = "SELECT notification_id, state, hash FROM ledger_events ORDER BY notification_id"
    if u.get_backend_name() == "sqlite":
        with sqlite3.connect(str(u.database)) as conn:
            return [(r[0], bytes(r[1]), bytes(r[2])) for r in conn.execute(sql)]
    with psycopg.connect(
        host=u.host, port=u.port or 5432, user=u.username, dbname=u.database
    ) as conn:
        return [(r[0], bytes(r[1]), bytes(r[2])) for r in conn.execute(sql)]


def recompute(rows: list[tuple[int, bytes, bytes]]) -> None:
    prev = "0" * 64
    for expected_position, (position, state, digest) in enumerate(rows, start=1):
        assert position == expected_position, "positions must be gap-free"
        record: dict[str, Any] = json.loads(state)
        assert record["prev_hash"] == prev, f"chain broken at {position}"
        assert rfc8785.dumps(record) == state, f"not canonical at {position}"
        assert hashlib.sha256(state).digest() == digest, f"hash mismatch at {position}"
        assert "hash" not in record and "position" not in record
        prev = digest.hex()


def append(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], ADMIN)


def test_chain_recomputes_from_raw_rows(ledger: Ledger) -> None:
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(20)])
    append(
        ledger,
        [
            wire.capture(
                ["t1", "t2"], "isil", location={"name": "Mosul", "lat": 36.34, "lon": 43.13}
            ),
            wire.transfer(
                ["t3"], "iq-army", "iq-9th", extensions={"note": "ünïcödé ✓", "n": 1.5e-7}
            ),
        ],
    )
    rows = raw_rows(ledger.settings.database_url)
    assert len(rows) == len(wire.reference_world()) + 22
    recompute(rows)


def test_every_stored_field_but_hash_and_position_is_hashed(ledger: Ledger) -> None:
    append(ledger, wire.reference_world())
    rows = raw_rows(ledger.settings.database_url)
    record = json.loads(rows[-1][1])
    for server_field in ("recorded_at", "recorded_by", "prev_hash", "reported_at"):
        assert server_field in record


def test_recorded_at_never_goes_back_in_the_log(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request stamped before the log's head (another process committed a later
    stamp first) is stored with the head's ``recorded_at`` — and ``reported_at``
    with it, unless an importer set that — so knowledge order follows the log; the
    answer tells the stored stamp and the chain still recomputes."""
    ledger.appender.append(
        [EVENT_ADAPTER.validate_python(e) for e in wire.reference_world()], ADMIN
    )
    head = ledger.appender.append([EVENT_ADAPTER.validate_python(wire.asset("t1"))], ADMIN)[0]

    class Lagging(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:
            return datetime(2020, 1, 1, tzinfo=UTC)

    monkeypatch.setattr(appending, "datetime", Lagging)
    late = ledger.appender.append(
        [
            EVENT_ADAPTER.validate_python(wire.transfer(["t1"], "iq-army", "iq-9th")),
            EVENT_ADAPTER.validate_python(
                wire.transfer(["t1"], "iq-9th", "iq-army", reported_at="2019-06-01T00:00:00Z")
            ),
        ],
        ADMIN,
    )
    assert [r.recorded_at for r in late] == [head.recorded_at] * 2
    rows = raw_rows(ledger.settings.database_url)
    records = [json.loads(state) for _, state, _ in rows]
    stamps = [r["recorded_at"] for r in records]
    assert stamps == sorted(stamps)
    assert records[-2]["reported_at"] == head.recorded_at
    assert records[-1]["reported_at"] == "2019-06-01T00:00:00.000000Z"
    recompute(rows)
