"""Tamper evidence against a real database (SQLite and PostgreSQL): incremental signed
checkpoints, proofs, export bundles, and ``ledger verify`` — offline on a bundle and
against the live database — catching every kind of direct SQL edit by the first event
it breaks."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import rfc8785
import sqlalchemy as sa

from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.cli import main as cli
from ledger.integrity import merkle
from ledger.integrity.bundle import verify_bundle, verify_bundle_file
from ledger.integrity.checkpoints import Checkpoint, Signer, verify_checkpoint
from ledger.integrity.service import IntegrityFailure, IntegrityService, verify_database
from ledger.integrity.store import SUBTREE_WIDTH
from ledger.settings import Settings
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


# --- checkpoints ----------------------------------------------------------------------


def test_checkpoint_signs_the_rfc6962_root_of_every_event_hash(ledger: Ledger) -> None:
    n = populate(ledger, 30)
    stored, made = ledger.integrity.checkpoint()
    assert made and stored is not None
    cp = stored.checkpoint
    leaves = leaves_from_raw_rows(ledger)
    assert cp.tree_size == n == len(leaves)
    assert cp.root == merkle.root(n, lambda a, b: leaves[a:b]).hex()
    assert verify_checkpoint(cp, public_key(ledger))
    # Asking again with nothing new signs nothing new.
    again, made_again = ledger.integrity.checkpoint()
    assert not made_again and again is not None and again.checkpoint == cp
    assert checkpoint_count(ledger) == 1


def test_checkpoints_are_incremental_and_store_subtree_roots(ledger: Ledger) -> None:
    populate(ledger, 2500)
    first, _ = ledger.integrity.checkpoint()
    assert first is not None
    more(ledger, 1000)
    store = ledger.integrity.store
    reads: list[tuple[str, int, int]] = []
    real_pages, real_leaves = store.row_pages, store.leaf_hashes

    def pages(after: int, until: int, page: int = 2000) -> Iterator[list[Any]]:
        reads.append(("rows", after, until))
        return real_pages(after, until, page)

    def leaves(start: int, end: int) -> list[bytes]:
        reads.append(("leaves", start, end))
        return real_leaves(start, end)

    store.row_pages = pages  # type: ignore[method-assign]
    store.leaf_hashes = leaves  # type: ignore[method-assign]
    try:
        second, made = ledger.integrity.checkpoint()
    finally:
        store.row_pages, store.leaf_hashes = real_pages, real_leaves  # type: ignore[method-assign]
    assert made and second is not None
    # Only the new events, plus the unfinished 1024-leaf run they complete, were read.
    chunk_start = first.tree_size - first.tree_size % SUBTREE_WIDTH
    assert reads and all(start >= chunk_start for _, start, _ in reads), reads
    assert sum(end - start for _, start, end in reads) < 1000 + SUBTREE_WIDTH

    all_leaves = leaves_from_raw_rows(ledger)
    n = second.tree_size
    assert second.checkpoint.root == merkle.root(n, lambda a, b: all_leaves[a:b]).hex()
    assert second.frontier.nodes == merkle.frontier_at(n, lambda a, b: all_leaves[a:b]).nodes
    with ledger.engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT start, root FROM integrity_subtrees")).all())
    assert sorted(stored) == list(range(0, n - SUBTREE_WIDTH + 1, SUBTREE_WIDTH))
    for start, root in stored.items():
        chunk = all_leaves[start : start + SUBTREE_WIDTH]
        assert bytes(root) == merkle.root(SUBTREE_WIDTH, lambda a, b, c=chunk: c[a:b])


def test_concurrent_checkpointers_never_sign_one_size_twice(
    ledger: Ledger, settings: Settings
) -> None:
    populate(ledger, 200, batch=50)
    # Separate services stand for separate processes sharing the key file and database.
    services = [
        IntegrityService(ledger.engine, ledger.lookups, settings.signing_key_file) for _ in range(4)
    ]
    errors: list[BaseException] = []
    stop = threading.Event()

    def checkpointer(service: IntegrityService) -> None:
        try:
            while not stop.is_set():
                service.checkpoint()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=checkpointer, args=(s,)) for s in services]
    for t in threads:
        t.start()
    try:
        more(ledger, 300, batch=20)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    ledger.integrity.checkpoint()
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT tree_size, key_id, timestamp FROM integrity_checkpoints ORDER BY tree_size"
            )
        ).all()
    sizes = [r[0] for r in rows]
    assert len(sizes) == len(set(sizes)) and sizes[-1] == head(ledger)
    assert len(sizes) > 2, "the checkpointers raced the appends"
    assert len({r[1] for r in rows}) == 1
    stamps = [r[2] for r in rows]
    assert stamps == sorted(stamps), "a larger checkpoint is always signed later"
    report = verify_bundle(export_lines(ledger), trusted_public_key=public_key(ledger))
    assert report.verdict == "clean", report.reason
    assert report.checkpoints == len(rows)


def test_a_checkpointer_that_keeps_losing_the_race_works_under_the_lock(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.integrity.service as service

    monkeypatch.setattr(service, "_RETRIES", 0)  # straight to the locked attempt
    populate(ledger, 1100, batch=550)
    stored, made = ledger.integrity.checkpoint()
    assert made and stored is not None and stored.tree_size == head(ledger)
    more(ledger, 10)
    again, made = ledger.integrity.checkpoint()
    assert made and again is not None and again.tree_size == head(ledger)
    report = verify_bundle(export_lines(ledger), trusted_public_key=public_key(ledger))
    assert report.verdict == "clean", report.reason


def test_a_checkpoint_is_refused_over_events_that_do_not_chain(ledger: Ledger) -> None:
    n = populate(ledger, 10)
    ledger.integrity.checkpoint()
    more(ledger, 10)
    state, *_ = row(ledger, n + 4)
    set_row(ledger, n + 4, state.replace(b"reassignment", b"reassignmenT"))
    with pytest.raises(IntegrityFailure, match=f"event {n + 4}"):
        ledger.integrity.checkpoint()
    assert checkpoint_count(ledger) == 1


def test_the_periodic_checkpointer_follows_the_log(ledger: Ledger) -> None:
    ledger.integrity.start_periodic(0)  # 0 = off
    assert ledger.integrity._thread is None
    populate(ledger, 5)
    ledger.integrity.start_periodic(0.05)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with ledger.engine.connect() as conn:
                latest = conn.execute(
                    sa.text("SELECT max(tree_size) FROM integrity_checkpoints")
                ).scalar()
            if latest == head(ledger):
                break
            time.sleep(0.05)
        assert latest == head(ledger)
        more(ledger, 7)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and checkpoint_count(ledger) < 2:
            time.sleep(0.05)
        assert checkpoint_count(ledger) == 2
    finally:
        ledger.integrity.stop_periodic()


def test_the_signing_key_file_is_made_once_readable_by_its_owner_only(
    ledger: Ledger, settings: Settings
) -> None:
    assert not settings.signing_key_file.exists()
    key_id = ledger.integrity.key_info()["key_id"]
    mode = stat.S_IMODE(os.stat(settings.signing_key_file).st_mode)
    assert mode == 0o600
    again = IntegrityService(ledger.engine, ledger.lookups, settings.signing_key_file)
    assert again.key_info()["key_id"] == key_id


# --- proofs -------------------------------------------------------------------------


def test_inclusion_and_consistency_proofs_verify_against_signed_roots(ledger: Ledger) -> None:
    populate(ledger, 2100, batch=700)
    sizes = []
    for extra in (0, 1, 1030):
        more(ledger, extra)
        stored, _ = ledger.integrity.checkpoint()
        assert stored is not None
        sizes.append(stored.tree_size)
    key = public_key(ledger)
    for position in (1, 2, 1024, 1025, 2047, sizes[0], sizes[1]):
        event_id = ledger.lookups.read_log(position - 1, 1)[0].record["event_id"]
        for size in (None, *[s for s in sizes if s >= position]):
            p = ledger.integrity.inclusion(event_id, size)
            cp = Checkpoint.from_dict(p["checkpoint"])
            assert verify_checkpoint(cp, key)
            assert p["tree_size"] == cp.tree_size == (size or sizes[-1])
            proof = [bytes.fromhex(x) for x in p["proof"]]
            leaf = merkle.leaf_hash(bytes.fromhex(p["hash"]))
            assert merkle.verify_inclusion(leaf, position - 1, cp.tree_size, proof, cp.root_bytes)
    for i, size1 in enumerate(sizes):
        for size2 in sizes[i:]:
            c = ledger.integrity.consistency(size1, size2)
            roots = [
                Checkpoint.from_dict(c[k]).root_bytes for k in ("from_checkpoint", "to_checkpoint")
            ]
            proof = [bytes.fromhex(x) for x in c["proof"]]
            assert merkle.verify_consistency(size1, size2, proof, *roots)


# --- bundles --------------------------------------------------------------------------


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


def test_cli_checkpoint_export_and_verify(
    ledger: Ledger,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))
    url = settings.database_url
    n = populate(ledger, 40)
    assert cli.main(["--database", url, "checkpoint"]) == 0
    out = capsys.readouterr()
    cp_file = tmp_path / "cp.json"
    cp_file.write_text(out.out)
    assert json.loads(out.out)["tree_size"] == n
    key_b64 = ledger.integrity.key_info()["public_key"]
    assert key_b64 in out.err

    bundle = tmp_path / "bundle.ndjson"
    assert cli.main(["--database", url, "export", "-o", str(bundle), "--after", "3"]) == 0
    assert "export" in capsys.readouterr().err  # the progress bar is on stderr
    pinned = ["--public-key", key_b64, "--quiet"]
    assert cli.main(["verify", str(bundle), *pinned]) == 0
    assert "verdict: clean" in capsys.readouterr().out
    assert cli.main(["verify", str(bundle), *pinned, "--checkpoint", str(cp_file)]) == 0
    key_file = tmp_path / "key.txt"
    key_file.write_text(key_b64 + "\n")
    assert cli.main(["verify", str(bundle), "--public-key", str(key_file), "--quiet"]) == 0
    listing = tmp_path / "key.json"  # as saved from GET /v1/audit/checkpoints
    listing.write_text(json.dumps(ledger.integrity.list_checkpoints(None, 10)))
    assert cli.main(["verify", str(bundle), "--public-key", str(listing), "--quiet"]) == 0

    lines = bundle.read_bytes().splitlines(keepends=True)
    tampered = tmp_path / "tampered.ndjson"
    target = next(i for i, line in enumerate(lines) if b'"position":25,' in line)
    lines_t = list(lines)
    lines_t[target] = lines_t[target].replace(b"reassignment", b"reassignmenT", 1)
    tampered.write_bytes(b"".join(lines_t))
    capsys.readouterr()
    assert cli.main(["verify", str(tampered), *pinned]) == 1
    assert "first failing event: 25" in capsys.readouterr().out

    cut = tmp_path / "cut.ndjson"
    cut.write_bytes(b"".join(lines[:-5]))
    assert cli.main(["verify", str(cut), *pinned]) == 2
    other = Signer.generate().public_key_b64
    assert cli.main(["verify", str(bundle), "--public-key", other, "--quiet"]) == 1
    assert cli.main(["verify", str(tmp_path / "missing.ndjson"), "--quiet"]) == 3
    (tmp_path / "junk").write_text("hello\n")
    assert cli.main(["verify", str(tmp_path / "junk"), "--quiet"]) == 3
    assert cli.main(["verify", "--no-such-option"]) == 3
    assert cli.main(["verify", "--quiet"]) == 3

    capsys.readouterr()
    assert cli.main(["verify", "--database", url, *pinned]) == 0
    assert f"events: {n}" in capsys.readouterr().out
    more(ledger, 3)
    assert cli.main(["verify", "--database", url, *pinned]) == 2  # the new events are unsigned
    assert f"first failing event: {n + 1}" in capsys.readouterr().out
    set_row(ledger, 5, row(ledger, 5)[0].replace(b"2014", b"2015", 1))
    assert cli.main(["verify", "--database", url, "--quiet", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["first_position"] == 5


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


# --- direct SQL tampering, caught by `ledger verify --database` -------------------------

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
    # Every row is self-consistent; the first signed root past the edit is what differs.
    assert report.first_position == sizes[0]
    assert "root" in (report.reason or "")


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
