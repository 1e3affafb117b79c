"""Verifying a live database: :func:`verify_database` streams the stored rows through the
bundle writer into :func:`~ledger.integrity.bundle_verify.verify_bundle` (no file in
between), so a live database is judged by the same code as a bundle. It adds one check a
bundle cannot make: a log shorter than a checkpoint the ledger signed has lost its tail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from ledger.integrity.bundle_report import Failure, Verdict, VerifyReport, error_report
from ledger.integrity.bundle_verify import verify_bundle
from ledger.integrity.bundle_writer import BundleWriter
from ledger.integrity.checkpoints import (
    Checkpoint,
    CheckpointFormatError,
    KeyFileError,
    Signer,
    key_id_for,
    parse_public_key,
    verify_checkpoint,
)
from ledger.integrity.export import ZERO_HASH, LineSink, event_lines
from ledger.integrity.seals import SealChecker, first_unsealed, rechained_append
from ledger.integrity.signed_state import read_last
from ledger.integrity.store import IntegrityStore, StoredCheckpoint


def verify_database(
    engine: Engine,
    *,
    public_key: bytes | str | None = None,
    trusted_checkpoint: Mapping[str, Any] | None = None,
    signing_key_file: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify the whole stored log like a bundle of it, plus its length against checkpoints.

    Checks every row's hash, canonical form and link, every checkpoint of the chosen key
    (``public_key`` if given, which also pins it) against the roots the rows produce, and
    that no checkpoint of that key, and not ``trusted_checkpoint``, is longer than the log.
    Events after the latest checkpoint are checked but not signed: the verdict is then
    ``incomplete`` until a checkpoint covers them (``ledger checkpoint``) — unless they
    carry no valid seal of the key (:mod:`.seals`): rows added to the database directly
    are ``tampered``. With the ledger's ``signing_key_file``, the checkpoint recorded
    beside it (:mod:`.signed_state`) is held as trusted too, which catches a tail cut
    together with its checkpoints. Never raises.
    """
    store = IntegrityStore(engine)
    pinned: bytes | None = None
    try:
        if public_key is not None:
            pinned = parse_public_key(public_key)
        key, source = _header_key(store, pinned, signing_key_file)
        if trusted_checkpoint is None and signing_key_file is not None:
            last = read_last(signing_key_file)
            if last is not None and last.key_id == key_id_for(key):
                trusted_checkpoint = last.to_dict()
        with engine.connect() as conn:
            head = store.head(conn)
        report = verify_bundle(
            _database_lines(store, key, head),
            trusted_public_key=pinned,
            trusted_checkpoint=trusted_checkpoint,
            progress=progress,
        )
        seen = _look_beyond_the_rows(engine, store, report, key, source, pinned, head)
    except CheckpointFormatError as exc:
        return error_report(f"the trusted public key or checkpoint is invalid: {exc}")
    except Exception as exc:  # a database that cannot be read is a verdict, not a traceback
        return error_report(f"could not read the database: {type(exc).__name__}: {exc}")
    size = trusted_checkpoint.get("tree_size") if trusted_checkpoint is not None else None
    trusted_size = size if isinstance(size, int) and not isinstance(size, bool) else None
    _explain(report, seen, key, head, trusted_size)
    return report


@dataclass(frozen=True, slots=True)
class _Seen:
    """What the tables say beyond the rows' own chain and roots."""

    longer: StoredCheckpoint | None
    """the latest checkpoint of the key (longer than the log if the tail was cut)"""
    newest: StoredCheckpoint | None
    """the latest checkpoint of any key"""
    stranger: StoredCheckpoint | None
    """a checkpoint by another key than the ledger's (only looked for when it is known)"""
    foreign: bool
    """a pinned key that signed none of the database's checkpoints"""
    unsealed: int | None
    """the first event after the last checkpoint without a valid seal"""
    rewritten: tuple[int, int] | None
    """the append a re-chained rewrite began in, from the seals"""


def _look_beyond_the_rows(
    engine: Engine,
    store: IntegrityStore,
    report: VerifyReport,
    key: bytes,
    source: str,
    pinned: bytes | None,
    head: int,
) -> _Seen:
    known = source != "none"
    with engine.connect() as conn:
        longer = store.latest(conn, key_id_for(key))
        newest = store.latest(conn)
        # The ledger writes checkpoints with its own key only: with that key known
        # (pinned, or from the key file), a row by any other key was written by someone
        # else.
        stranger = (
            store.other_key_checkpoint(conn, key_id_for(key))
            if source in ("pinned", "key file")
            else None
        )
        # A pinned key that signed none of the database's checkpoints is the wrong key
        # (or the checkpoints were replaced): say that, not "every row forged".
        foreign = pinned is not None and newest is not None and longer is None
        unsealed = (
            first_unsealed(store, conn, SealChecker(key), longer.tree_size if longer else 0, head)
            if known and not foreign
            else None
        )
        # A rewrite that re-chained the log shows only at a signed root; the seals say
        # which append it began in.
        rewritten = (
            rechained_append(store, conn, SealChecker(key), head)
            if known and not foreign and _only_roots_differ(report)
            else None
        )
    return _Seen(longer, newest, stranger, foreign, unsealed, rewritten)


def _explain(
    report: VerifyReport, seen: _Seen, key: bytes, head: int, trusted_size: int | None
) -> None:
    """Add to the report what ``seen`` shows was tampered with, each with its position."""
    if seen.foreign and seen.newest is not None:
        _add_tampered(
            report,
            f"the database's checkpoints are signed by key {seen.newest.key_id}, not by the "
            f"trusted key {key_id_for(key)}: the key is not this ledger's, or its "
            "checkpoints were replaced",
            1,
        )
    if seen.stranger is not None and not seen.foreign:
        _add_tampered(
            report,
            f"checkpoint {seen.stranger.tree_size} in the database is signed by key "
            f"{seen.stranger.key_id}, not by the ledger's key {key_id_for(key)}: the "
            "checkpoints table was written to outside the ledger",
            seen.stranger.tree_size,
        )
    if seen.rewritten is not None and (
        report.first_position is None or seen.rewritten[0] < report.first_position
    ):
        start, end = seen.rewritten
        _add_tampered(
            report,
            f"events {start}..{end} (one append) were altered and every later event "
            f"re-hashed to match: the seal on event {end} no longer verifies",
            start,
        )
    cut = seen.longer is not None and seen.longer.tree_size > head
    if seen.longer is not None and cut:
        _signed_beyond_head(report, seen.longer.checkpoint, key, head)
    cut = cut or (trusted_size is not None and trusted_size > head)
    # A cut explains an unsealed head (it was mid-append): name the cut, not the seal.
    if seen.unsealed is not None and not cut:
        _add_tampered(
            report,
            f"events {seen.unsealed}..{head} carry no valid seal of key {key_id_for(key)}: "
            "they were not written by the append path (forged)",
            seen.unsealed,
        )
    if trusted_size is not None and trusted_size > head:
        _add_tampered(
            report,
            f"the log ends at event {head}, but the trusted checkpoint covers "
            f"{trusted_size} events: events {head + 1}..{trusted_size} were deleted",
            head + 1,
        )


def _only_roots_differ(report: VerifyReport) -> bool:
    """Whether the rows are self-consistent and only a signed root disagrees: what a
    rewrite that re-hashed every later event leaves (the seals can then narrow it)."""
    return report.verdict == Verdict.TAMPERED and all(
        "root" in f.reason for f in report.failures if f.verdict == Verdict.TAMPERED
    )


def _signed_beyond_head(report: VerifyReport, cp: Checkpoint, key: bytes, head: int) -> None:
    """A checkpoint of this key is longer than the log: its tail was deleted (or forged)."""
    if verify_checkpoint(cp, key):
        reason = (
            f"the log ends at event {head}, but checkpoint {cp.tree_size} signed at "
            f"{cp.timestamp} covers {cp.tree_size} events: events {head + 1}.."
            f"{cp.tree_size} were deleted"
        )
    else:
        reason = f"the checkpoint row of size {cp.tree_size} is not validly signed (forged)"
    _add_tampered(report, reason, head + 1)


def _header_key(
    store: IntegrityStore, public_key: bytes | None, signing_key_file: Path | None
) -> tuple[bytes, str]:
    """The key whose checkpoints and seals are checked, and where it came from:
    ``pinned``, else the ledger's own ``key file``, else the key of the latest checkpoint
    in the ``database`` (which proves consistency only: the report says "not pinned"),
    else ``none`` (a throwaway key, whose seals nothing carries)."""
    if public_key is not None:
        return public_key, "pinned"
    if signing_key_file is not None and signing_key_file.is_file():
        try:
            return Signer.from_file(signing_key_file, create=False).public_key, "key file"
        except KeyFileError:
            pass
    with store.engine.connect() as conn:
        latest = store.latest(conn)
    if latest is not None:
        return latest.public_key, "database"
    # No key anywhere and no checkpoint to check: any key will do for the header, and
    # the verdict will say the events are not covered by a signature.
    return Signer.generate().public_key, "none"


def _database_lines(store: IntegrityStore, public_key: bytes, head: int) -> Iterator[bytes]:
    sink = LineSink()
    writer = BundleWriter(
        sink.as_file(), public_key=public_key, after=0, until=head, prev_hash=ZERO_HASH
    )
    yield from sink.drain()
    for checkpoint in store.between(1, head, key_id_for(public_key)):
        writer.add_checkpoint(checkpoint)
        yield from sink.drain()
    yield from event_lines(writer, sink, store.row_pages(0, head), 0, head)


def _add_tampered(report: VerifyReport, reason: str, position: int) -> None:
    report.failures.insert(0, Failure(Verdict.TAMPERED, reason, position))
    report.failures_total += 1
    headline = report.verdict != Verdict.TAMPERED or (
        report.first_position is None or position < report.first_position
    )
    report.verdict = Verdict.TAMPERED
    report.exit_code = 1
    if headline:
        report.first_position, report.reason = position, reason
