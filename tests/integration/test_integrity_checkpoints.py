"""Signed checkpoints and proofs against a real database (SQLite and PostgreSQL):
incremental checkpoints, concurrent checkpointers, the periodic checkpointer, the
signing key, and inclusion and consistency proofs against signed roots."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.bootstrap import Ledger
from ledger.integrity import merkle
from ledger.integrity.bundle_verify import verify_bundle
from ledger.integrity.checkpoints import Checkpoint, verify_checkpoint
from ledger.integrity.errors import IntegrityFailure
from ledger.integrity.service import IntegrityService
from ledger.integrity.store import SUBTREE_WIDTH
from ledger.settings import Settings
from tests.integration.integrity_helpers import (
    checkpoint_count,
    export_lines,
    head,
    leaves_from_raw_rows,
    more,
    populate,
    public_key,
    row,
    set_row,
)

# --- checkpoints --------------------------------------------------------------------


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


def test_a_checkpoint_signed_after_the_head_was_read_is_no_deletion(
    ledger: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two checkpointers sharing the key: A reads the log's head, then B signs events
    # appended since and records its checkpoint beside the key. A must not read that
    # record as events deleted (it once did, under load: the record was read after
    # the head; a checkpoint is recorded only after its events, so it is read first).
    populate(ledger, 200, batch=50)
    a, b = (
        IntegrityService(ledger.engine, ledger.lookups, settings.signing_key_file) for _ in range(2)
    )
    a.checkpoint()
    read_head = a.store.head
    raced = []

    def head_then_race(conn: Any) -> int:
        h = read_head(conn)
        if not raced:
            raced.append(h)
            more(ledger, 20)
            b.checkpoint()
        return h

    monkeypatch.setattr(a.store, "head", head_then_race)
    stored, _ = a.checkpoint()
    # A answers for the log as it read it; B's larger checkpoint stands beside it.
    assert len(raced) == 1 and head(ledger) == raced[0] + 20
    assert stored is not None and stored.tree_size == raced[0]
    again, made = a.checkpoint()
    assert not made and again is not None and again.tree_size == head(ledger)


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
