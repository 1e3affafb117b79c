"""Tamper evidence as use cases (SPEC.md §4): :class:`IntegrityService` makes signed
checkpoints (on demand and periodically), serves RFC 6962 inclusion and consistency
proofs, and starts export bundles (:mod:`ledger.integrity.export`). Verifying a live
database is :mod:`ledger.integrity.verify_live`.

Checkpoints are incremental. A new one resumes from the frontier stored with the
largest existing checkpoint and reads only the events added since, re-checking each
one's hash and its link to the one before, so the ledger never signs a row that does not
chain to what it signed last time. The work happens outside any lock; the insert then
takes a short writer lock (see :meth:`IntegrityStore.lock`) and starts over if another
process checkpointed in the meantime, so concurrent checkpointers never produce two
checkpoints of one size, and a larger checkpoint is always signed later than a smaller one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import Connection, Engine

from ledger.errors import InvalidEventError, NotFoundError, Problem
from ledger.integrity.checkpoints import (
    Checkpoint,
    CheckpointFormatError,
    KeyFileError,
    Signer,
    verify_checkpoint,
)
from ledger.integrity.errors import IntegrityFailure, TamperedLogError
from ledger.integrity.export import ZERO_HASH, BundleExport, export_bundle
from ledger.integrity.merkle import (
    Frontier,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.integrity.seals import Sealer, first_unsealed
from ledger.integrity.signed_state import read_last, record_signed
from ledger.integrity.store import (
    BLOCK_WIDTH,
    SUBTREE_WIDTH,
    IntegrityStore,
    StoredCheckpoint,
    fold_perfect,
)
from ledger.store.lookups import Lookups

log = logging.getLogger(__name__)

_RETRIES = 3


def _key_of(stored: StoredCheckpoint | None) -> tuple[int, str] | None:
    return (stored.tree_size, stored.key_id) if stored is not None else None


def _check_row(position: int, state: bytes, digest: bytes, expected: int, prev_hex: str) -> None:
    """A row about to be signed is the next one, hashes to its hash and links to the last."""
    if position != expected:
        raise IntegrityFailure(f"event {expected} is missing (event {position} follows)")
    if hashlib.sha256(state).digest() != digest:
        raise IntegrityFailure(f"event {position}: the stored hash is not the SHA-256 of its state")
    try:
        link = orjson.loads(state).get("prev_hash")
    except (orjson.JSONDecodeError, AttributeError):
        link = None
    if link != prev_hex:
        raise IntegrityFailure(
            f"event {position}'s prev_hash is not the hash of event {position - 1}"
        )


@dataclass
class _Extension:
    """A frontier grown from a checkpoint to ``head``, with the subtrees it completed."""

    base: tuple[int, str] | None
    head: int
    frontier: Frontier
    last_hash: bytes | None
    subtrees: list[tuple[int, bytes]]
    blocks: dict[int, bytes]


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
        self._sealer: Sealer | None = None
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

    def sealer(self) -> Sealer:
        """The key as the append path uses it (:mod:`ledger.integrity.seals`)."""
        if self._sealer is None:
            self._sealer = Sealer(self.signer)
        return self._sealer

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
                # outside a write lock see each statement's own snapshot). The record
                # beside the key is written after its checkpoint is committed: it is
                # read first of all (read after the head, another checkpointer's newer
                # record looked like events deleted).
                last = self._last_signed()
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
                self._hold_to_last_signed(conn, signer, last, head)
                if mine is not None and mine.tree_size == head:
                    return mine, False
                self._refuse_unsealed(conn, base.tree_size if base else 0, head)
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
                record_signed(self.signing_key_file, cp)
                log.info("checkpoint %d root %s key %s", cp.tree_size, cp.root, cp.key_id)
                return made, True
            # Another checkpointer got in first: start again from its checkpoint.
        raise AssertionError("unreachable: the last attempt holds the lock")

    def _last_signed(self) -> Checkpoint | None:
        """The last checkpoint recorded beside the key (:mod:`.signed_state`)."""
        try:
            return read_last(self.signing_key_file)
        except CheckpointFormatError as exc:
            raise IntegrityFailure(f"the record of the last checkpoint: {exc}") from None

    def _hold_to_last_signed(
        self, conn: Connection, signer: Signer, last: Checkpoint | None, head: int
    ) -> None:
        """Refuse a log that lost what this key signed last (``last``, the record
        beside the key, read before ``head``)."""
        if last is None or last.key_id != signer.key_id:
            return
        if last.tree_size > head:
            raise TamperedLogError(
                f"the log ends at event {head}, but this key signed checkpoint "
                f"{last.tree_size} at {last.timestamp}: events {head + 1}..{last.tree_size} "
                "were deleted; nothing was signed",
                head + 1,
            )
        stored = self.store.at(conn, last.tree_size, signer.key_id)
        if stored is None or stored.checkpoint.root != last.root:
            raise TamperedLogError(
                f"checkpoint {last.tree_size}, signed at {last.timestamp}, is "
                f"{'missing from' if stored is None else 'altered in'} the database: the log "
                "was cut back and its checkpoints deleted (or the database restored from a "
                "backup); nothing was signed",
                last.tree_size,
            )

    def _refuse_unsealed(self, conn: Connection, signed_through: int, head: int) -> None:
        """Refuse to sign rows that did not come through the append path (no valid seal)."""
        bad = first_unsealed(self.store, conn, self.sealer(), signed_through, head)
        if bad is not None:
            raise TamperedLogError(
                f"events {bad}..{head} carry no valid seal of key {self.signer.key_id}: they "
                "were not written by the append path (forged); nothing was signed",
                bad,
            )

    def _sign(self, conn: Connection, signer: Signer, extension: _Extension) -> StoredCheckpoint:
        """Sign and store ``extension`` in ``conn``'s transaction, which holds the lock."""
        checkpoint = signer.checkpoint(extension.head, extension.frontier.root())
        stored = StoredCheckpoint(
            checkpoint, signer.public_key, extension.frontier, extension.last_hash
        )
        changed = self.store.insert(conn, stored, extension.subtrees, extension.blocks)
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
        """Grow ``base``'s frontier to ``head``, checking every new row's hash and link."""
        frontier, last_hash = self._base_frontier(base)
        start = frontier.size
        chunk = self._unfinished_subtree(frontier)
        completed: list[tuple[int, bytes]] = []
        blocks: dict[int, bytes] = {}
        prev_hex = last_hash.hex()
        expected = start + 1
        for page in self.store.row_pages(start, head):
            for position, state, digest in page:
                _check_row(position, state, digest, expected, prev_hex)
                leaf = leaf_hash(digest)
                frontier.append(leaf)
                chunk.append(leaf)
                if len(chunk) == SUBTREE_WIDTH:
                    block_roots = [
                        fold_perfect(chunk[i : i + BLOCK_WIDTH])
                        for i in range(0, SUBTREE_WIDTH, BLOCK_WIDTH)
                    ]
                    completed.append((position - SUBTREE_WIDTH, fold_perfect(block_roots)))
                    blocks[position - SUBTREE_WIDTH] = b"".join(block_roots)
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
            blocks,
        )

    def _unfinished_subtree(self, frontier: Frontier) -> list[bytes]:
        """The leaves of the unfinished 1024-leaf subtree, to store its root once it is
        complete (``[]`` if the frontier ends on a subtree boundary)."""
        start = frontier.size
        chunk_start = start - start % SUBTREE_WIDTH
        if chunk_start == start:
            return []
        # The frontier's last nodes are exactly this run's subtrees, so comparing them
        # proves these re-read rows are the ones signed last time.
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
        return chunk

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
        """A bundle of events ``after+1 .. until`` (default: the head), ready to stream;
        see :func:`~ledger.integrity.export.export_bundle`."""
        return export_bundle(self, after, until)

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
