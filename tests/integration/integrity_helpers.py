"""Building, reading and tampering with a real ledger database, shared by the
``test_integrity_*.py`` tests."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785
import sqlalchemy as sa

from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.integrity import merkle
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire

ADMIN = Principal("admin", Role.ADMIN)


# --- helpers ------------------------------------------------------------------------


def append(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], ADMIN)


def populate(ledger: Ledger, transfers: int, batch: int = 1000) -> int:
    """The reference world, ten assets and ``transfers`` transfers; returns the head."""
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(10)])
    more(ledger, transfers, batch)
    return head(ledger)


def more(ledger: Ledger, transfers: int, batch: int = 1000) -> None:
    for start in range(0, transfers, batch):
        n = min(batch, transfers - start)
        append(ledger, [wire.transfer([f"t{i % 10}"], "iq-army", "iq-9th") for i in range(n)])


def head(ledger: Ledger) -> int:
    return ledger.lookups.head()[0]


def sql(ledger: Ledger, statement: str, **params: Any) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def row(ledger: Ledger, position: int) -> tuple[bytes, bytes, Any, str]:
    with ledger.engine.connect() as conn:
        r = conn.execute(
            sa.text(
                "SELECT state, hash, originator_id, topic FROM ledger_events"
                " WHERE notification_id = :p"
            ),
            {"p": position},
        ).one()
    return bytes(r[0]), bytes(r[1]), r[2], r[3]


def set_row(ledger: Ledger, position: int, state: bytes, digest: bytes | None = None) -> None:
    if digest is None:
        sql(
            ledger,
            "UPDATE ledger_events SET state = :s WHERE notification_id = :p",
            s=state,
            p=position,
        )
    else:
        sql(
            ledger,
            "UPDATE ledger_events SET state = :s, hash = :h WHERE notification_id = :p",
            s=state,
            h=digest,
            p=position,
        )


def shift_up(ledger: Ledger, after: int) -> None:
    # Two steps: a unique key is checked row by row, so +1 in place would collide.
    sql(
        ledger,
        "UPDATE ledger_events SET notification_id = notification_id + 1000000 WHERE notification_id > :p",
        p=after,
    )
    sql(
        ledger,
        "UPDATE ledger_events SET notification_id = notification_id - 999999 WHERE notification_id > 1000000",
    )


def rehash_from(ledger: Ledger, position: int, new_state: bytes) -> None:
    """Replace event ``position`` and re-chain every later event, as a careful forger would."""
    last = head(ledger)
    state = new_state
    prev = b""
    for p in range(position, last + 1):
        if p > position:
            record = json.loads(row(ledger, p)[0])
            record["prev_hash"] = prev.hex()
            state = rfc8785.dumps(record)
        prev = hashlib.sha256(state).digest()
        set_row(ledger, p, state, prev)


def with_recorded_at(state: bytes, value: str) -> bytes:
    record = json.loads(state)
    record["recorded_at"] = value
    return rfc8785.dumps(record)


def export_lines(ledger: Ledger, after: int = 0, until: int | None = None) -> list[bytes]:
    return list(ledger.integrity.export(after, until).lines())


def checkpoint_count(ledger: Ledger) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM integrity_checkpoints")).scalar_one())


def public_key(ledger: Ledger) -> bytes:
    return ledger.integrity.signer.public_key


def leaves_from_raw_rows(ledger: Ledger) -> list[bytes]:
    with ledger.engine.connect() as conn:
        hashes = conn.execute(
            sa.text("SELECT hash FROM ledger_events ORDER BY notification_id")
        ).scalars()
        return [merkle.leaf_hash(bytes(h)) for h in hashes]


def lie_as_the_key_holder(ledger: Ledger) -> None:
    """What only the holder of the signing key can do after rewriting the log: seal the
    new head and forget the record of what it signed before (``.signed_state``)."""
    from ledger.integrity.signed_state import state_file

    last = head(ledger)
    digest = row(ledger, last)[1]
    sql(
        ledger,
        "UPDATE ledger_events SET seal = :s WHERE notification_id = :p",
        s=ledger.integrity.sealer().seal(last, digest),
        p=last,
    )
    state_file(ledger.settings.signing_key_file).unlink(missing_ok=True)
