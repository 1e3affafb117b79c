"""Export bundles and ``verify`` against a real database (SQLite and PostgreSQL): bundles
of any range verify offline, and every kind of direct SQL edit is caught by the first
event it breaks, on a bundle and on the live database."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import rfc8785

from ledger.bootstrap import Ledger
from ledger.integrity.bundle_verify import verify_bundle, verify_bundle_file
from ledger.integrity.checkpoints import Checkpoint, Signer
from ledger.integrity.errors import IntegrityFailure
from ledger.integrity.verify_live import verify_database
from tests.integration.integrity_helpers import (
    checkpoint_count,
    export_lines,
    head,
    lie_as_the_key_holder,
    more,
    populate,
    public_key,
    rehash_from,
    row,
    set_row,
    shift_up,
    sql,
    with_recorded_at,
)

# --- bundles ------------------------------------------------------------------------


def test_export_makes_a_checkpoint_when_none_reaches_until(ledger: Ledger) -> None:
    n = populate(ledger, 20)
    assert checkpoint_count(ledger) == 0
    export = ledger.integrity.export()
    assert export.made is not None and export.made.tree_size == n
    report = verify_bundle(export.lines(), trusted_public_key=public_key(ledger))
    assert report.verdict == "clean" and report.events == n and report.signed_through == n
    # Covered now: the next export of the same range makes nothing.
    assert ledger.integrity.export().made is None
    assert checkpoint_count(ledger) == 1


def test_exports_of_any_range_verify_with_proofs_between_checkpoints(ledger: Ledger) -> None:
    populate(ledger, 1200, batch=400)
    sizes = []
    for extra in (0, 300, 300):
        more(ledger, extra)
        stored, _ = ledger.integrity.checkpoint()
        assert stored is not None
        sizes.append(stored.tree_size)
    more(ledger, 50)  # beyond every checkpoint
    n = head(ledger)
    for after, until in [
        (0, None),
        (0, sizes[0]),
        (sizes[0], sizes[1]),
        (sizes[0] - 7, sizes[2] + 3),
        (5, 6),
        (n, n),
        (0, 0),
    ]:
        lines = export_lines(ledger, after, until)
        kinds = [orjson.loads(line)["kind"] for line in lines]
        report = verify_bundle(lines, trusted_public_key=public_key(ledger))
        assert report.verdict == "clean", (after, until, report.reason)
        assert report.events == (n if until is None else until) - after
        first_event = kinds.index("event") if "event" in kinds else len(kinds) - 1
        assert set(kinds[1:first_event]) <= {"checkpoint", "consistency"}
        if report.checkpoints > 1:
            assert report.consistency_proofs >= report.checkpoints - 1


def test_a_checkpoint_from_another_key_is_rejected(ledger: Ledger) -> None:
    populate(ledger, 20)
    lines = export_lines(ledger)
    i = next(i for i, line in enumerate(lines) if line.startswith(b'{"kind":"checkpoint"'))
    genuine = Checkpoint.from_dict({k: v for k, v in orjson.loads(lines[i]).items() if k != "kind"})
    stranger = Signer.generate()
    forged = stranger.checkpoint(genuine.tree_size, genuine.root_bytes, genuine.timestamp)
    lines[i] = orjson.dumps({"kind": "checkpoint", **forged.to_dict()}) + b"\n"
    for pinned in (public_key(ledger), None):
        report = verify_bundle(lines, trusted_public_key=pinned)
        assert report.verdict == "tampered" and report.exit_code == 1
        assert "key" in (report.reason or "")
    # A whole bundle re-signed by another key verifies only against that key.
    resigned = [
        line.replace(genuine.key_id.encode(), forged.key_id.encode())
        for line in export_lines(ledger)
    ]
    assert verify_bundle(resigned, trusted_public_key=public_key(ledger)).verdict == "tampered"


def test_a_log_that_forks_from_a_trusted_checkpoint_is_rejected(ledger: Ledger) -> None:
    populate(ledger, 30)
    trusted, _ = ledger.integrity.checkpoint()
    assert trusted is not None
    more(ledger, 10)
    # The server itself lies: it rewrites event 12, re-chains the log, drops its old
    # checkpoints and signs the forged history with its own (genuine) key.
    state, *_ = row(ledger, 12)
    rehash_from(ledger, 12, state.replace(b"2014", b"2013", 1))
    sql(ledger, "DELETE FROM integrity_checkpoints")
    sql(ledger, "DELETE FROM integrity_subtrees")
    ledger.integrity.store.subtree_cache._memory.clear()
    lie_as_the_key_holder(ledger)
    lines = export_lines(ledger)
    key = public_key(ledger)
    # Internally consistent and signed by the right key...
    assert verify_bundle(lines, trusted_public_key=key).verdict == "clean"
    # ...but not an extension of what the auditor was shown yesterday.
    report = verify_bundle(
        lines, trusted_public_key=key, trusted_checkpoint=trusted.checkpoint.to_dict()
    )
    assert report.verdict == "tampered" and report.exit_code == 1
    assert "fork" in (report.reason or "")
    # A bundle that starts after the trusted size must be linked by a proof, and is.
    later = export_lines(ledger, after=trusted.tree_size + 2)
    linked = verify_bundle(
        later, trusted_public_key=key, trusted_checkpoint=trusted.checkpoint.to_dict()
    )
    assert linked.verdict != "clean"


# --- direct SQL tampering, caught by `ledger verify --database` ---------------------


P = 15  # the event each case tampers with (a transfer: the log has 40 events)


def byte_edited(ledger: Ledger) -> int:
    state, *_ = row(ledger, P)
    i = state.index(b'"occurred_at":"2014') + len(b'"occurred_at":"201')
    set_row(ledger, P, state[:i] + b"5" + state[i + 1 :])
    return P


def row_deleted(ledger: Ledger) -> int:
    sql(ledger, "DELETE FROM ledger_events WHERE notification_id = :p", p=P)
    return P


def forged_row_inserted(ledger: Ledger) -> int:
    state, digest, _, topic = row(ledger, P)
    record = json.loads(state)
    record["event_id"] = "forged-1"
    record["payload"]["to_party"] = "isil"
    record["prev_hash"] = digest.hex()
    forged = rfc8785.dumps(record)
    shift_up(ledger, P)
    sql(
        ledger,
        "INSERT INTO ledger_events (notification_id, originator_id, originator_version, topic,"
        " state, hash) VALUES (:p, :o, 1, :t, :s, :h)",
        p=P + 1,
        # The column is a native uuid on PostgreSQL and text on SQLite.
        o=uuid.uuid4().hex if ledger.settings.is_sqlite else uuid.uuid4(),
        t=topic,
        s=forged,
        h=hashlib.sha256(forged).digest(),
    )
    return P + 1


def rows_swapped(ledger: Ledger) -> int:
    sql(ledger, "UPDATE ledger_events SET notification_id = -1 WHERE notification_id = :p", p=P)
    sql(
        ledger,
        "UPDATE ledger_events SET notification_id = :p WHERE notification_id = :q",
        p=P,
        q=P + 1,
    )
    sql(ledger, "UPDATE ledger_events SET notification_id = :q WHERE notification_id = -1", q=P + 1)
    return P


def tail_truncated(ledger: Ledger) -> int:
    n = head(ledger)
    sql(ledger, "DELETE FROM ledger_events WHERE notification_id > :p", p=n - 3)
    return n - 2


def recorded_at_changed(ledger: Ledger) -> int:
    state, *_ = row(ledger, P)
    set_row(ledger, P, with_recorded_at(state, "2001-01-01T00:00:00.000000Z"))
    return P


def recorded_at_changed_and_rehashed(ledger: Ledger) -> int:
    state, *_ = row(ledger, P)
    changed = with_recorded_at(state, "2001-01-01T00:00:00.000000Z")
    set_row(ledger, P, changed, hashlib.sha256(changed).digest())
    # The stored hash is right for the edited row: the next event's link is what breaks.
    return P + 1


TAMPERING: dict[str, Callable[[Ledger], int]] = {
    "a byte of a state edited": byte_edited,
    "a row deleted": row_deleted,
    "a forged row inserted": forged_row_inserted,
    "two rows swapped": rows_swapped,
    "the tail truncated": tail_truncated,
    "recorded_at changed": recorded_at_changed,
    "recorded_at changed and the row re-hashed": recorded_at_changed_and_rehashed,
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_verify_database_names_the_first_tampered_event(ledger: Ledger, case: str) -> None:
    populate(ledger, 20)
    assert head(ledger) == 40
    ledger.integrity.checkpoint()
    key = public_key(ledger)
    assert verify_database(ledger.engine, public_key=key).verdict == "clean"
    first_bad = TAMPERING[case](ledger)
    report = verify_database(ledger.engine, public_key=key)
    assert report.verdict == "tampered", report.to_dict()
    assert report.exit_code == 1
    assert report.first_position == first_bad, report.to_dict()
    if case == "recorded_at changed and the row re-hashed":
        assert f"event {P} was altered" in (report.reason or "")
    # An export of the same rows is judged the same way offline, where the ledger can
    # still produce one: a log of another length than its checkpoint cannot be exported.
    if head(ledger) == 40:
        offline = verify_bundle(export_lines(ledger), trusted_public_key=key)
        assert (offline.verdict, offline.first_position) == ("tampered", first_bad)
    else:
        with pytest.raises(IntegrityFailure):
            export_lines(ledger)


def test_a_rewrite_that_re_chains_the_log_is_caught_by_the_signed_root(ledger: Ledger) -> None:
    populate(ledger, 20)
    sizes = []
    for _ in range(2):
        stored, _ = ledger.integrity.checkpoint()
        assert stored is not None
        sizes.append(stored.tree_size)
        more(ledger, 10)
    ledger.integrity.checkpoint()
    state, *_ = row(ledger, P)
    rehash_from(ledger, P, with_recorded_at(state, "2001-01-01T00:00:00.000000Z"))
    report = verify_database(ledger.engine, public_key=public_key(ledger))
    assert report.verdict == "tampered"
    # Every row is self-consistent; the first signed root past the edit differs...
    assert any(f.position == sizes[0] and "root" in f.reason for f in report.failures), (
        report.to_dict()
    )
    # ...and the seals, one per append, name the append the rewrite began in: the ten
    # assets registered at 11..20, P among them.
    assert report.first_position == 11 and 11 <= P <= 20
    assert "events 11..20 (one append) were altered" in (report.reason or "")
    # Offline, a bundle has no seals: the signed root is what names it.
    offline = verify_bundle(
        export_lines(ledger, until=sizes[0]), trusted_public_key=public_key(ledger)
    )
    assert offline.verdict == "tampered"


def test_an_unsigned_tail_is_incomplete_and_a_deleted_checkpointed_tail_is_tampered(
    ledger: Ledger,
) -> None:
    n = populate(ledger, 10)
    ledger.integrity.checkpoint()
    more(ledger, 3)
    key = public_key(ledger)
    report = verify_database(ledger.engine, public_key=key)
    assert report.verdict == "incomplete" and report.exit_code == 2
    assert report.first_position == n + 1
    # Removing the checkpoint rows too hides nothing from an auditor who kept one.
    trusted = ledger.integrity.checkpoint()[0]
    assert trusted is not None
    sql(ledger, "DELETE FROM ledger_events WHERE notification_id > :p", p=n)
    sql(ledger, "DELETE FROM integrity_checkpoints WHERE tree_size > :p", p=n)
    assert verify_database(ledger.engine, public_key=key).verdict == "clean"
    report = verify_database(
        ledger.engine, public_key=key, trusted_checkpoint=trusted.checkpoint.to_dict()
    )
    assert report.verdict == "tampered" and report.first_position == n + 1


# --- volume -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_export_of_100k_events_verifies_and_one_changed_byte_does_not(
    ledger: Ledger, tmp_path: Path
) -> None:
    populate(ledger, 100_000 - 20)
    assert head(ledger) == 100_000
    bundle = tmp_path / "bundle.ndjson"
    with open(bundle, "wb") as out:
        for chunk in ledger.integrity.export().chunks():
            out.write(chunk)
    key = public_key(ledger)
    report = verify_bundle_file(bundle, trusted_public_key=key)
    assert report.verdict == "clean", report.reason
    assert report.events == 100_000 and report.signed_through == 100_000

    data = bytearray(bundle.read_bytes())
    at = data.index(b'{"kind":"event","position":54321,')
    at = data.index(b"reassignment", at) + 3
    data[at] ^= 0x01  # one bit of one byte
    bundle.write_bytes(bytes(data))
    report = verify_bundle_file(bundle, trusted_public_key=key)
    assert report.verdict == "tampered" and report.first_position == 54321
