"""Streaming an export bundle out of the event store: :func:`export_bundle` checks the range
and prepares the header before any byte is sent, then :class:`BundleExport` yields the
checkpoints, proofs and events while the caller streams them.

An export includes the checkpoints of the ledger's current key that cover its range:
the last one before ``after``, every one within ``after .. until``, and the first one at
or beyond ``until``, with a consistency proof between each consecutive pair (and from
the last one before ``after`` to ``after``, and from ``until`` to the one beyond it). If
no checkpoint reaches ``until`` the export makes one first, at the current head, so the
bundle can verify clean: an auditor's export is never left unsigned.

Rows go out as stored, through :class:`BundleWriter` while they run without a gap; the
line helpers here (:class:`LineSink`, :func:`event_lines`) are shared with
:mod:`ledger.integrity.verify_live`, which streams the same lines into the verifier.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol, cast

import orjson

from ledger.errors import InvalidEventError, Problem
from ledger.integrity.bundle_writer import BundleWriteError, BundleWriter
from ledger.integrity.checkpoints import Checkpoint, Signer, b64encode
from ledger.integrity.errors import IntegrityFailure
from ledger.integrity.merkle import MerkleError, consistency_proof, frontier_at, inclusion_proof
from ledger.integrity.store import IntegrityStore, Row, StoredCheckpoint

ZERO_HASH = bytes(32)


class Checkpointer(Protocol):
    """What an export needs from :class:`~ledger.integrity.service.IntegrityService`."""

    store: IntegrityStore

    @property
    def signer(self) -> Signer: ...

    def checkpoint(self, *, skip_empty: bool = False) -> tuple[StoredCheckpoint | None, bool]: ...


class LineSink:
    """A write-only binary file that keeps each write (one bundle line) until drained.

    :class:`BundleWriter` writes exactly one line per ``write`` call, which is what lets
    the verifier consume its output line by line with nothing in between.
    """

    def __init__(self) -> None:
        self._lines: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._lines.append(bytes(data))
        return len(data)

    def drain(self) -> list[bytes]:
        lines, self._lines = self._lines, []
        return lines

    def as_file(self) -> IO[bytes]:
        return cast(IO[bytes], self)


def _event_line(position: int, state: bytes, digest: bytes) -> bytes:
    # The bytes BundleWriter.add_event writes. Used only once rows are missing, which
    # the writer (rightly) refuses to write a bundle around: exporting what is there
    # lets the verifier name the gap instead of the export failing without a word.
    try:
        body = b'"state":' + orjson.dumps(state.decode("utf-8"))
    except UnicodeDecodeError:
        body = b'"state_b64":"' + b64encode(state).encode("ascii") + b'"'
    return b'{"kind":"event","position":%d,"hash":"%s",%s}\n' % (
        position,
        digest.hex().encode("ascii"),
        body,
    )


def _end_line(after: int, until: int, last_hash: str) -> bytes:
    return (
        orjson.dumps(
            {"kind": "end", "events": until - after, "last_position": until, "last_hash": last_hash}
        )
        + b"\n"
    )


def event_lines(
    writer: BundleWriter, sink: LineSink, pages: Iterator[list[Row]], after: int, until: int
) -> Iterator[bytes]:
    """Event lines and the trailer for the rows as stored, through ``writer`` while they
    run gap-free and as raw lines of the same format after a gap."""
    expected = after + 1
    as_stored = False
    last_hex = ""
    for page in pages:
        for position, state, digest in page:
            if not as_stored and position != expected:
                as_stored = True
            if as_stored:
                sink.write(_event_line(position, state, digest))
            else:
                writer.add_event(position, state, digest)
            expected = position + 1
            last_hex = digest.hex()
        yield from sink.drain()
    if as_stored or expected != until + 1:
        sink.write(_end_line(after, until, last_hex))
    else:
        writer.finish()
    yield from sink.drain()


@dataclass
class BundleExport:
    """An export ready to stream: its range, the checkpoint made for it if any, its lines."""

    after: int
    until: int
    made: Checkpoint | None
    _lines: Iterator[bytes]

    @property
    def events(self) -> int:
        return self.until - self.after

    def lines(self) -> Iterator[bytes]:
        """The bundle, one NDJSON line per item (each ending in a line feed)."""
        return self._lines

    def chunks(self, size: int = 256 * 1024) -> Iterator[bytes]:
        """The bundle in pieces of about ``size`` bytes, for a stream or a file."""
        buffer: list[bytes] = []
        held = 0
        for line in self._lines:
            buffer.append(line)
            held += len(line)
            if held >= size:
                yield b"".join(buffer)
                buffer, held = [], 0
        if buffer:
            yield b"".join(buffer)


@dataclass
class _Anchors:
    """The checkpoints around the range and the hash of event ``after``."""

    earlier: StoredCheckpoint | None
    beyond: StoredCheckpoint | None
    made: Checkpoint | None
    prev_hash: bytes


def export_bundle(source: Checkpointer, after: int = 0, until: int | None = None) -> BundleExport:
    """A bundle of events ``after+1 .. until`` (default: the head), ready to stream.

    Validation, the checkpoint made if none reaches ``until``, and the header (the
    frontier at ``after`` and its proof) happen now, so their errors come before any
    byte is sent; checkpoints, proofs and events are produced while streaming.
    """
    store = source.store
    with store.engine.connect() as conn:
        head = store.head(conn)
    until = head if until is None else until
    _check_range(after, until, head)
    signer = source.signer
    anchors = _anchors(source, signer, after, until, head)
    sink = LineSink()
    writer = _start_bundle(store, signer, sink, after, until, anchors.prev_hash)
    earlier = anchors.earlier.checkpoint if anchors.earlier is not None else None
    beyond = anchors.beyond.checkpoint if anchors.beyond is not None else None
    lines = _bundle_lines(store, signer.key_id, writer, sink, after, until, earlier, beyond)
    return BundleExport(after, until, anchors.made, lines)


def _check_range(after: int, until: int, head: int) -> None:
    if after < 0 or until < 0:
        raise InvalidEventError(
            "after/until: positions are not negative", [Problem("after", "at least 0")]
        )
    if until > head:
        raise InvalidEventError(
            f"until: the log has {head} events", [Problem("until", f"at most {head}")]
        )
    if after > until:
        raise InvalidEventError(
            "after: must not be beyond until", [Problem("after", f"at most {until}")]
        )


def _anchors(source: Checkpointer, signer: Signer, after: int, until: int, head: int) -> _Anchors:
    """The checkpoints to include, making one if none reaches ``until``."""
    store = source.store
    made: Checkpoint | None = None
    with store.engine.connect() as conn:
        latest = store.latest(conn, signer.key_id)
        beyond = store.covering(conn, until, signer.key_id) if until > 0 else None
        earlier = store.before(conn, after, signer.key_id) if after > 0 else None
        prev_hash = store.event_hash(conn, after) if after > 0 else ZERO_HASH
    if latest is not None and latest.tree_size > head:
        raise IntegrityFailure(
            f"the log ends at event {head} but checkpoint {latest.tree_size} was signed "
            f"over {latest.tree_size} events: events were deleted"
        )
    if until > 0 and beyond is None:
        beyond, created = source.checkpoint()
        made = beyond.checkpoint if beyond is not None and created else None
    if prev_hash is None:
        raise IntegrityFailure(f"event {after} is missing from the log")
    return _Anchors(earlier, beyond, made, prev_hash)


def _start_bundle(
    store: IntegrityStore, signer: Signer, sink: LineSink, after: int, until: int, prev_hash: bytes
) -> BundleWriter:
    """A writer that has written the header: the frontier at ``after`` and its proof."""
    cache = store.subtree_cache
    try:
        frontier = frontier_at(after, store.leaf_hashes, subtree_cache=cache)
        prev_proof = (
            inclusion_proof(after - 1, after, store.leaf_hashes, subtree_cache=cache)
            if after > 0
            else []
        )
        return BundleWriter(
            sink.as_file(),
            public_key=signer.public_key,
            after=after,
            until=until,
            prev_hash=prev_hash,
            frontier=frontier,
            prev_proof=prev_proof,
        )
    except (MerkleError, BundleWriteError) as exc:
        raise IntegrityFailure(f"the stored log cannot start a bundle at {after}: {exc}") from None


def _bundle_lines(
    store: IntegrityStore,
    key_id: str,
    writer: BundleWriter,
    sink: LineSink,
    after: int,
    until: int,
    earlier: Checkpoint | None,
    beyond: Checkpoint | None,
) -> Iterator[bytes]:
    yield from sink.drain()
    cache = store.subtree_cache
    get_range = store.leaf_hashes

    proven: set[tuple[int, int]] = set()

    def prove(size1: int, size2: int) -> None:
        if (size1, size2) in proven:
            return
        proven.add((size1, size2))
        writer.add_consistency(
            size1, size2, consistency_proof(size1, size2, get_range, subtree_cache=cache)
        )

    def included() -> Iterator[Checkpoint]:
        if earlier is not None:
            yield earlier
        yield from store.between(max(after, 1), until, key_id)
        if beyond is not None and beyond.tree_size > until:
            yield beyond

    previous = 0
    for checkpoint in included():
        writer.add_checkpoint(checkpoint)
        if previous:
            prove(previous, checkpoint.tree_size)
        previous = checkpoint.tree_size
        yield from sink.drain()
    # The two links that tie the range itself to its neighbours (skipped when a pair
    # above was exactly that link).
    if earlier is not None and after > 0:
        prove(earlier.tree_size, after)
    if beyond is not None and beyond.tree_size > until > 0:
        prove(until, beyond.tree_size)
    yield from sink.drain()
    yield from event_lines(writer, sink, store.row_pages(after, until), after, until)
