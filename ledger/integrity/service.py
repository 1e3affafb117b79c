"""Tamper evidence as use cases (SPEC.md §4): make signed checkpoints, serve RFC 6962
inclusion and consistency proofs, stream export bundles, and verify a live database
with exactly the checks the offline verifier runs on a bundle.

Checkpoints are incremental. A new one resumes from the frontier stored with the
largest existing checkpoint and reads only the events added since, re-checking each
one's hash and its link to the one before, so the ledger never signs a row that does not
chain to what it signed last time. The work happens outside any lock; the insert then
takes a short writer lock (see :meth:`IntegrityStore.lock`) and starts over if another
process checkpointed in the meantime, so concurrent checkpointers never produce two
checkpoints of one size, and a larger checkpoint is always signed later than a smaller one.

An export includes the checkpoints of the ledger's current key that cover its range:
the last one before ``after``, every one within ``after .. until``, and the first one at
or beyond ``until``, with a consistency proof between each consecutive pair (and from
the last one before ``after`` to ``after``, and from ``until`` to the one beyond it). If
no checkpoint reaches ``until`` the export makes one first, at the current head, so the
bundle can verify clean: an auditor's export is never left unsigned.

:func:`verify_database` streams the rows through the bundle writer into
:func:`~ledger.integrity.bundle.verify_bundle` (no file in between), so a live database
is judged by the same code as a bundle. It adds one check a bundle cannot make: a log
shorter than a checkpoint the ledger signed has lost its tail.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import orjson
from sqlalchemy.engine import Connection, Engine

from ledger.errors import InvalidEventError, LedgerError, NotFoundError, Problem
from ledger.integrity.bundle import (
    BundleWriteError,
    BundleWriter,
    Failure,
    Verdict,
    VerifyReport,
    verify_bundle,
)
from ledger.integrity.checkpoints import (
    Checkpoint,
    CheckpointFormatError,
    KeyFileError,
    Signer,
    b64encode,
    key_id_for,
    parse_public_key,
    verify_checkpoint,
)
from ledger.integrity.merkle import (
    Frontier,
    MerkleError,
    consistency_proof,
    frontier_at,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.integrity.store import (
    SUBTREE_WIDTH,
    IntegrityStore,
    Row,
    StoredCheckpoint,
    fold_perfect,
)
from ledger.store.lookups import Lookups

log = logging.getLogger(__name__)

ZERO_HASH = bytes(32)
_RETRIES = 3


class IntegrityFailure(LedgerError):
    """The stored log contradicts itself or its checkpoints: nothing was signed or proven."""

    title = "Integrity failure"


def _key_of(stored: StoredCheckpoint | None) -> tuple[int, str] | None:
    return (stored.tree_size, stored.key_id) if stored is not None else None


@dataclass
class _Extension:
    """A frontier grown from a checkpoint to ``head``, with the subtrees it completed."""

    base: tuple[int, str] | None
    head: int
    frontier: Frontier
    last_hash: bytes | None
    subtrees: list[tuple[int, bytes]]


class _Lines:
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


def _event_lines(
    writer: BundleWriter, sink: _Lines, pages: Iterator[list[Row]], after: int, until: int
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


class IntegrityService:
    """Checkpoints, proofs and exports for one ledger database and one signing key.

    The key is loaded (or, if its file does not exist, generated with mode 0600) the
    first time something needs it: the periodic checkpointer's start, or the first
    audit request. It is never logged and never leaves :class:`Signer`.
    """

    def __init__(self, engine: Engine, lookups: Lookups, signing_key_file: Path) -> None:
        self.engine = engine
        self.lookups = lookups
        self.store = IntegrityStore(engine)
        self.signing_key_file = signing_key_file
        self._signer: Signer | None = None
        self._signer_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the key ------------------------------------------------------------------

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            with self._signer_lock:
                if self._signer is None:
                    try:
                        self._signer = Signer.from_file(self.signing_key_file, create=True)
                    except KeyFileError as exc:
                        raise IntegrityFailure(f"the checkpoint signing key: {exc}") from None
                    log.info("checkpoint signing key %s loaded", self._signer.key_id)
        return self._signer

    def key_info(self) -> dict[str, str]:
        """What auditors pin: the public key (base64, raw 32 bytes) and its id."""
        signer = self.signer
        return {
            "algorithm": "Ed25519",
            "key_id": signer.key_id,
            "public_key": signer.public_key_b64,
        }

    # --- checkpoints --------------------------------------------------------------

    def checkpoint(self, *, skip_empty: bool = False) -> tuple[StoredCheckpoint | None, bool]:
        """A checkpoint of the whole log as it is now: ``(checkpoint, made_now)``.

        If this key already signed the current head, that checkpoint is returned and
        nothing is made. With ``skip_empty`` an empty log gets no checkpoint (``None``).
        Raises :class:`IntegrityFailure` if the new events do not chain to the last
        checkpoint, or the log is shorter than a checkpoint already signed.
        """
        signer = self.signer
        for attempt in range(_RETRIES + 1):
            # Optimistic first: extend outside the lock, insert only if nobody else
            # checkpointed meanwhile. The last attempt locks before reading, so a
            # checkpointer that keeps losing the race still gets its turn.
            pessimistic = attempt == _RETRIES
            with self.engine.begin() as conn:
                if pessimistic:
                    self.store.lock(conn)
                # Checkpoints first, the head after: a checkpoint of size n is committed
                # only after events 1..n, so read in this order the head is never
                # behind a checkpoint unless events really went missing (SQLite reads
                # outside a write lock see each statement's own snapshot).
                base = self.store.latest(conn)
                mine = self.store.latest(conn, signer.key_id)
                head = self.store.head(conn)
                if skip_empty and head == 0:
                    return None, False
                for signed in (base, mine):
                    if signed is not None and signed.tree_size > head:
                        raise IntegrityFailure(
                            f"the log ends at event {head} but checkpoint {signed.tree_size} "
                            f"(key {signed.key_id}) was signed over {signed.tree_size} events: "
                            "events were deleted; run `ledger verify --database`"
                        )
                if mine is not None and mine.tree_size == head:
                    return mine, False
                made = self._sign(conn, signer, self._extend(base, head)) if pessimistic else None
            if made is None:
                extension = self._extend(base, head)
                with self.engine.begin() as conn:
                    self.store.lock(conn)
                    if _key_of(self.store.latest(conn)) == extension.base:
                        made = self._sign(conn, signer, extension)
            if made is not None:
                # Logged once committed; the key id and root are public, the key never is.
                cp = made.checkpoint
                log.info("checkpoint %d root %s key %s", cp.tree_size, cp.root, cp.key_id)
                return made, True
            # Another checkpointer got in first: start again from its checkpoint.
        raise AssertionError("unreachable: the last attempt holds the lock")

    def _sign(self, conn: Connection, signer: Signer, extension: _Extension) -> StoredCheckpoint:
        """Sign and store ``extension`` in ``conn``'s transaction, which holds the lock."""
        checkpoint = signer.checkpoint(extension.head, extension.frontier.root())
        stored = StoredCheckpoint(
            checkpoint, signer.public_key, extension.frontier, extension.last_hash
        )
        changed = self.store.insert(conn, stored, extension.subtrees)
        if changed:
            raise IntegrityFailure(
                f"events {changed[0] + 1}..{changed[0] + SUBTREE_WIDTH} no longer hash to "
                "the subtree root stored when they were first checkpointed"
            )
        return stored

    def _base_frontier(self, base: StoredCheckpoint | None) -> tuple[Frontier, bytes]:
        """The frontier to resume from and the hash of its last event, both checked."""
        if base is None:
            return Frontier(), ZERO_HASH
        cp = base.checkpoint
        if base.frontier.root() != cp.root_bytes or not verify_checkpoint(cp, base.public_key):
            raise IntegrityFailure(
                f"the stored checkpoint {cp.tree_size} (key {cp.key_id}) does not verify: "
                "its row was altered"
            )
        last_hash = base.last_hash
        if last_hash is None and base.tree_size > 0:
            with self.engine.connect() as conn:
                last_hash = self.store.event_hash(conn, base.tree_size)
        if last_hash is None:
            last_hash = ZERO_HASH
        return base.frontier.copy(), last_hash

    def _extend(self, base: StoredCheckpoint | None, head: int) -> _Extension:
        frontier, last_hash = self._base_frontier(base)
        start = frontier.size
        chunk_start = start - start % SUBTREE_WIDTH
        chunk: list[bytes] = []
        if chunk_start < start:
            # The leaves of the unfinished 1024-leaf subtree, to store its root once it
            # is complete. The frontier's last nodes are exactly this run's subtrees, so
            # comparing them proves these re-read rows are the ones signed last time.
            chunk = self.store.leaf_hashes(chunk_start, start)
            partial = Frontier()
            partial.extend(chunk)
            if len(chunk) != start - chunk_start or (
                partial.nodes != frontier.nodes[len(frontier.nodes) - len(partial.nodes) :]
            ):
                raise IntegrityFailure(
                    f"events {chunk_start + 1}..{start} are not the ones checkpoint {start} "
                    "signed: rows were altered, deleted or inserted"
                )
        completed: list[tuple[int, bytes]] = []
        prev_hex = last_hash.hex()
        expected = start + 1
        sha256 = hashlib.sha256
        for page in self.store.row_pages(start, head):
            for position, state, digest in page:
                if position != expected:
                    raise IntegrityFailure(
                        f"event {expected} is missing (event {position} follows)"
                    )
                if sha256(state).digest() != digest:
                    raise IntegrityFailure(
                        f"event {position}: the stored hash is not the SHA-256 of its state"
                    )
                try:
                    link = orjson.loads(state).get("prev_hash")
                except (orjson.JSONDecodeError, AttributeError):
                    link = None
                if link != prev_hex:
                    raise IntegrityFailure(
                        f"event {position}'s prev_hash is not the hash of event {position - 1}"
                    )
                leaf = leaf_hash(digest)
                frontier.append(leaf)
                chunk.append(leaf)
                if len(chunk) == SUBTREE_WIDTH:
                    completed.append((position - SUBTREE_WIDTH, fold_perfect(chunk)))
                    chunk = []
                prev_hex = digest.hex()
                expected = position + 1
        if expected != head + 1:
            raise IntegrityFailure(f"events {expected}..{head} are missing")
        return _Extension(
            _key_of(base),
            head,
            frontier,
            bytes.fromhex(prev_hex) if head > 0 else None,
            completed,
        )

    def list_checkpoints(self, cursor: str | None, limit: int) -> dict[str, Any]:
        """This key's checkpoints, newest first, with the key auditors should pin."""
        below = None
        if cursor is not None:
            if not cursor.isdigit():
                raise InvalidEventError(
                    "cursor: not a cursor from this list", [Problem("cursor", "invalid")]
                )
            below = int(cursor)
        page = self.store.newest_first(self.signer.key_id, below, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        return {
            **self.key_info(),
            "checkpoints": [cp.to_dict() for cp in page],
            "cursor": str(page[-1].tree_size) if more else None,
        }

    def _checkpoint_of_size(self, size: int, field: str) -> StoredCheckpoint:
        with self.engine.connect() as conn:
            found = self.store.at(conn, size, self.signer.key_id)
        if found is None:
            raise NotFoundError(
                f"{field}: no checkpoint of tree size {size} by key {self.signer.key_id}",
                [Problem(field, "no checkpoint of this tree size")],
            )
        return found

    # --- proofs -------------------------------------------------------------------

    def _proof_error(self, exc: MerkleError) -> IntegrityFailure:
        return IntegrityFailure(f"the stored log cannot produce the proof: {exc}")

    def inclusion(self, event_id: str, size: int | None) -> dict[str, Any]:
        """RFC 6962 inclusion proof of one event in a checkpoint's tree (default: the latest)."""
        found = self.lookups.events_by_id([event_id]).get(event_id)
        if found is None:
            raise NotFoundError(f"no event {event_id!r}", [Problem("event_id", "unknown")])
        position = found.position
        if size is None:
            with self.engine.connect() as conn:
                stored = self.store.latest(conn, self.signer.key_id)
            if stored is None or stored.tree_size < position:
                latest = f"the latest has size {stored.tree_size}" if stored else "there is none"
                raise NotFoundError(
                    f"checkpoint: no checkpoint covers event {event_id!r} (position {position}) "
                    f"yet ({latest}); an admin can make one with POST /v1/audit/checkpoints",
                    [Problem("checkpoint", "none covers this event yet")],
                )
        else:
            stored = self._checkpoint_of_size(size, "checkpoint")
            if stored.tree_size < position:
                raise InvalidEventError(
                    f"checkpoint: the tree of size {size} does not contain event {event_id!r} "
                    f"(position {position})",
                    [Problem("checkpoint", f"must be at least {position}")],
                )
        cp = stored.checkpoint
        try:
            proof = inclusion_proof(
                position - 1,
                cp.tree_size,
                self.store.leaf_hashes,
                subtree_cache=self.store.subtree_cache,
            )
        except MerkleError as exc:
            raise self._proof_error(exc) from None
        leaf = leaf_hash(found.hash)
        # A proof from tampered rows would not verify; say so instead of handing it out.
        if not verify_inclusion(leaf, position - 1, cp.tree_size, proof, cp.root_bytes):
            raise IntegrityFailure(
                f"the stored log no longer matches checkpoint {cp.tree_size}: the proof of "
                f"event {position} does not verify against its root"
            )
        return {
            "event_id": event_id,
            "position": position,
            "leaf_index": position - 1,
            "hash": found.hash.hex(),
            "leaf_hash": leaf.hex(),
            "tree_size": cp.tree_size,
            "proof": [p.hex() for p in proof],
            "checkpoint": cp.to_dict(),
            **self.key_info(),
        }

    def consistency(self, size1: int, size2: int) -> dict[str, Any]:
        """RFC 6962 consistency proof between two checkpoints of this key."""
        if not 0 < size1 <= size2:
            raise InvalidEventError(
                "from: need 0 < from <= to",
                [Problem("from", "must be positive and at most `to`")],
            )
        first = self._checkpoint_of_size(size1, "from").checkpoint
        second = self._checkpoint_of_size(size2, "to").checkpoint
        try:
            proof = consistency_proof(
                size1, size2, self.store.leaf_hashes, subtree_cache=self.store.subtree_cache
            )
        except MerkleError as exc:
            raise self._proof_error(exc) from None
        if not verify_consistency(size1, size2, proof, first.root_bytes, second.root_bytes):
            raise IntegrityFailure(
                f"the stored log no longer matches checkpoints {size1} and {size2}"
            )
        return {
            "from": size1,
            "to": size2,
            "proof": [p.hex() for p in proof],
            "from_checkpoint": first.to_dict(),
            "to_checkpoint": second.to_dict(),
            **self.key_info(),
        }

    # --- export -------------------------------------------------------------------

    def export(self, after: int = 0, until: int | None = None) -> BundleExport:
        """A bundle of events ``after+1 .. until`` (default: the head), ready to stream.

        Validation, the checkpoint made if none reaches ``until``, and the header (the
        frontier at ``after`` and its proof) happen now, so their errors come before any
        byte is sent; checkpoints, proofs and events are produced while streaming.
        """
        with self.engine.connect() as conn:
            head = self.store.head(conn)
        until = head if until is None else until
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
        signer = self.signer
        made: Checkpoint | None = None
        with self.engine.connect() as conn:
            latest = self.store.latest(conn, signer.key_id)
            beyond = self.store.covering(conn, until, signer.key_id) if until > 0 else None
            earlier = self.store.before(conn, after, signer.key_id) if after > 0 else None
            prev_hash = self.store.event_hash(conn, after) if after > 0 else ZERO_HASH
        if latest is not None and latest.tree_size > head:
            raise IntegrityFailure(
                f"the log ends at event {head} but checkpoint {latest.tree_size} was signed "
                f"over {latest.tree_size} events: events were deleted"
            )
        if until > 0 and beyond is None:
            beyond, created = self.checkpoint()
            made = beyond.checkpoint if beyond is not None and created else None
        if prev_hash is None:
            raise IntegrityFailure(f"event {after} is missing from the log")
        cache = self.store.subtree_cache
        sink = _Lines()
        try:
            frontier = frontier_at(after, self.store.leaf_hashes, subtree_cache=cache)
            prev_proof = (
                inclusion_proof(after - 1, after, self.store.leaf_hashes, subtree_cache=cache)
                if after > 0
                else []
            )
            writer = BundleWriter(
                cast(IO[bytes], sink),
                public_key=signer.public_key,
                after=after,
                until=until,
                prev_hash=prev_hash,
                frontier=frontier,
                prev_proof=prev_proof,
            )
        except (MerkleError, BundleWriteError) as exc:
            raise IntegrityFailure(
                f"the stored log cannot start a bundle at {after}: {exc}"
            ) from None
        earlier_cp = earlier.checkpoint if earlier is not None else None
        beyond_cp = beyond.checkpoint if beyond is not None else None
        lines = self._bundle_lines(writer, sink, after, until, earlier_cp, beyond_cp)
        return BundleExport(after, until, made, lines)

    def _bundle_lines(
        self,
        writer: BundleWriter,
        sink: _Lines,
        after: int,
        until: int,
        earlier: Checkpoint | None,
        beyond: Checkpoint | None,
    ) -> Iterator[bytes]:
        yield from sink.drain()
        key_id = self.signer.key_id
        cache = self.store.subtree_cache
        get_range = self.store.leaf_hashes

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
            yield from self.store.between(max(after, 1), until, key_id)
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
        yield from _event_lines(writer, sink, self.store.row_pages(after, until), after, until)

    # --- the periodic checkpointer ------------------------------------------------

    def start_periodic(self, interval: float) -> None:
        """Checkpoint every ``interval`` seconds in a daemon thread (``0`` = never)."""
        if interval <= 0 or (self._thread is not None and self._thread.is_alive()):
            return
        self.signer  # noqa: B018 -- load or make the key at start, not at the first tick
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run_periodic, args=(interval,), name="ledger-checkpointer", daemon=True
        )
        self._thread.start()

    def _run_periodic(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.checkpoint(skip_empty=True)
            except Exception:
                # Keep the thread alive: a tampered log is reported on every tick until
                # someone looks, and a database blip must not end checkpointing.
                log.exception("periodic checkpoint failed")

    def stop_periodic(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


# --- verifying a live database ------------------------------------------------------


def _header_key(
    store: IntegrityStore, public_key: bytes | None, signing_key_file: Path | None
) -> bytes:
    """The key whose checkpoints are checked: pinned, else the ledger's own key file,
    else the key of the latest checkpoint in the database."""
    if public_key is not None:
        return public_key
    if signing_key_file is not None and signing_key_file.is_file():
        try:
            return Signer.from_file(signing_key_file, create=False).public_key
        except KeyFileError:
            pass
    with store.engine.connect() as conn:
        latest = store.latest(conn)
    if latest is not None:
        return latest.public_key
    # No key anywhere and no checkpoint to check: any key will do for the header, and
    # the verdict will say the events are not covered by a signature.
    return Signer.generate().public_key


def _database_lines(store: IntegrityStore, public_key: bytes, head: int) -> Iterator[bytes]:
    sink = _Lines()
    writer = BundleWriter(
        cast(IO[bytes], sink), public_key=public_key, after=0, until=head, prev_hash=ZERO_HASH
    )
    yield from sink.drain()
    for checkpoint in store.between(1, head, key_id_for(public_key)):
        writer.add_checkpoint(checkpoint)
        yield from sink.drain()
    yield from _event_lines(writer, sink, store.row_pages(0, head), 0, head)


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
    ``incomplete`` until a checkpoint covers them (``ledger checkpoint``). Never raises.
    """
    store = IntegrityStore(engine)
    pinned: bytes | None = None
    try:
        if public_key is not None:
            pinned = parse_public_key(public_key)
        key = _header_key(store, pinned, signing_key_file)
        with engine.connect() as conn:
            head = store.head(conn)
        report = verify_bundle(
            _database_lines(store, key, head),
            trusted_public_key=pinned,
            trusted_checkpoint=trusted_checkpoint,
            progress=progress,
        )
        with engine.connect() as conn:
            longer = store.latest(conn, key_id_for(key))
    except CheckpointFormatError as exc:
        return _error(f"the trusted public key is invalid: {exc}")
    except Exception as exc:  # a database that cannot be read is a verdict, not a traceback
        return _error(f"could not read the database: {type(exc).__name__}: {exc}")
    if longer is not None and longer.tree_size > head:
        cp = longer.checkpoint
        if verify_checkpoint(cp, key):
            reason = (
                f"the log ends at event {head}, but checkpoint {cp.tree_size} signed at "
                f"{cp.timestamp} covers {cp.tree_size} events: events {head + 1}.."
                f"{cp.tree_size} were deleted"
            )
        else:
            reason = f"the checkpoint row of size {cp.tree_size} is not validly signed (forged)"
        _add_tampered(report, reason, head + 1)
    size = trusted_checkpoint.get("tree_size") if trusted_checkpoint is not None else None
    if isinstance(size, int) and not isinstance(size, bool) and size > head:
        _add_tampered(
            report,
            f"the log ends at event {head}, but the trusted checkpoint covers {size} events: "
            f"events {head + 1}..{size} were deleted",
            head + 1,
        )
    return report


def _error(reason: str) -> VerifyReport:
    return VerifyReport(
        verdict=Verdict.ERROR,
        exit_code=3,
        reason=reason,
        failures=[Failure(Verdict.ERROR, reason)],
        failures_total=1,
    )
