"""Writing an export bundle (``custody-ledger-bundle/1``): :class:`BundleWriter` streams
one line at a time, :func:`write_bundle` writes a whole bundle from rows, checkpoints and
leaf hashes. The format is described in :mod:`ledger.integrity.bundle_format`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import IO, Any

import orjson

from ledger.integrity.bundle_format import FORMAT, is_int
from ledger.integrity.checkpoints import Checkpoint, b64encode, key_id_for, parse_public_key
from ledger.integrity.merkle import (
    Frontier,
    LeafSource,
    SubtreeCache,
    consistency_proof,
    frontier_at,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
)


class BundleWriteError(ValueError):
    """The writer was used out of order or given data that cannot form a bundle."""


class BundleWriter:
    """Streams a bundle to a binary file object, one line at a time (bounded memory).

    Use: construct (writes the header), then any ``add_checkpoint`` /
    ``add_consistency`` / ``add_inclusion``, then ``add_event`` for every position
    ``after+1 .. until`` in order, then ``finish`` (writes the trailer). The writer
    copies what it is given: it does not check hashes, so a tampered row is exported as
    it is and the verifier reports it. If ``finish`` is never reached, the bundle has
    no trailer and verifies as incomplete, which is the truth.
    """

    def __init__(
        self,
        out: IO[bytes],
        *,
        public_key: bytes,
        after: int,
        until: int,
        prev_hash: bytes,
        frontier: Frontier | None = None,
        prev_proof: Sequence[bytes] = (),
    ) -> None:
        if not (is_int(after) and is_int(until)) or not 0 <= after <= until:
            raise BundleWriteError("need 0 <= after <= until")
        if len(prev_hash) != 32 or (after == 0 and prev_hash != bytes(32)):
            raise BundleWriteError("prev_hash is the 32-byte hash of event `after` (zeros for 0)")
        frontier = frontier if frontier is not None else Frontier()
        if frontier.size != after:
            raise BundleWriteError(f"the frontier is of size {frontier.size}, not {after}")
        if after > 0 and not verify_inclusion(
            leaf_hash(prev_hash), after - 1, after, prev_proof, frontier.root()
        ):
            raise BundleWriteError("prev_proof does not prove prev_hash in the frontier's tree")
        raw_key = parse_public_key(public_key)
        self._out = out
        self._after = after
        self._until = until
        self._next = after + 1
        self._last_hash = prev_hash.hex()
        self._events_started = False
        self._finished = False
        self._write(
            {
                "kind": "header",
                "format": FORMAT,
                "public_key": b64encode(raw_key),
                "key_id": key_id_for(raw_key),
                "after": after,
                "until": until,
                "prev_hash": prev_hash.hex(),
                "frontier": [node.hex() for node in frontier.nodes],
                "prev_proof": [node.hex() for node in prev_proof],
            }
        )

    def _write(self, obj: dict[str, Any]) -> None:
        self._out.write(orjson.dumps(obj) + b"\n")

    def _before_events(self, what: str) -> None:
        if self._events_started or self._finished:
            raise BundleWriteError(f"{what} lines must come before the first event")

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._before_events("checkpoint")
        self._write({"kind": "checkpoint", **checkpoint.to_dict()})

    def add_consistency(self, size1: int, size2: int, proof: Sequence[bytes]) -> None:
        self._before_events("consistency proof")
        self._write(
            {"kind": "consistency", "from": size1, "to": size2, "proof": [p.hex() for p in proof]}
        )

    def add_inclusion(
        self, position: int, size: int, event_hash: bytes, proof: Sequence[bytes]
    ) -> None:
        self._before_events("inclusion proof")
        self._write(
            {
                "kind": "inclusion",
                "position": position,
                "size": size,
                "hash": event_hash.hex(),
                "proof": [p.hex() for p in proof],
            }
        )

    def add_event(self, position: int, state: bytes, event_hash: bytes) -> None:
        """Write one stored event row exactly as stored."""
        if self._finished:
            raise BundleWriteError("the bundle is finished")
        if position != self._next or position > self._until:
            raise BundleWriteError(f"expected event {self._next}, got {position}")
        if len(event_hash) != 32:
            raise BundleWriteError("an event hash has 32 bytes")
        self._events_started = True
        hash_hex = event_hash.hex()
        try:
            body = b'"state":' + orjson.dumps(state.decode("utf-8"))
        except UnicodeDecodeError:
            body = b'"state_b64":"' + base64.b64encode(state) + b'"'
        self._out.write(
            b'{"kind":"event","position":%d,"hash":"%s",%s}\n'
            % (position, hash_hex.encode("ascii"), body)
        )
        self._next += 1
        self._last_hash = hash_hex

    def finish(self) -> None:
        """Write the trailer; refuses if events ``after+1 .. until`` were not all written."""
        if self._finished:
            return
        if self._next != self._until + 1:
            raise BundleWriteError(
                f"events {self._next}..{self._until} were not written; no trailer"
            )
        self._write(
            {
                "kind": "end",
                "events": self._until - self._after,
                "last_position": self._until,
                "last_hash": self._last_hash,
            }
        )
        self._finished = True


def write_bundle(
    out: IO[bytes],
    *,
    public_key: bytes,
    after: int,
    until: int,
    prev_hash: bytes,
    events: Iterable[tuple[int, bytes, bytes]],
    checkpoints: Iterable[Checkpoint],
    get_range: LeafSource,
    subtree_cache: SubtreeCache | None = None,
    inclusions: Iterable[tuple[int, int, bytes]] = (),
) -> None:
    """Write a complete bundle for events ``after+1 .. until``.

    ``events`` yields ``(position, state, hash)`` rows in position order; ``get_range``
    gives leaf hashes (see :mod:`ledger.integrity.merkle`) up to the largest checkpoint.
    Checkpoints before the range get a consistency proof to ``after``, later ones a
    proof from ``until``; ``inclusions`` asks for inclusion proofs, given as
    ``(position, size, event_hash)``.
    The bundle verifies clean only if some checkpoint has a size ``>= until``.
    """
    if after > 0:
        frontier = frontier_at(after, get_range, subtree_cache=subtree_cache)
        prev_proof = inclusion_proof(after - 1, after, get_range, subtree_cache=subtree_cache)
    else:
        frontier, prev_proof = Frontier(), []
    writer = BundleWriter(
        out,
        public_key=public_key,
        after=after,
        until=until,
        prev_hash=prev_hash,
        frontier=frontier,
        prev_proof=prev_proof,
    )
    linked: set[tuple[int, int]] = set()
    for checkpoint in checkpoints:
        writer.add_checkpoint(checkpoint)
        size = checkpoint.tree_size
        pair = (size, after) if size < after else (until, size) if size > until else None
        if pair is not None and pair[0] > 0 and pair not in linked:
            linked.add(pair)
            proof = consistency_proof(*pair, get_range, subtree_cache=subtree_cache)
            writer.add_consistency(pair[0], pair[1], proof)
    for position, size, event_hash in inclusions:
        proof = inclusion_proof(position - 1, size, get_range, subtree_cache=subtree_cache)
        writer.add_inclusion(position, size, event_hash, proof)
    for position, state, event_hash in events:
        writer.add_event(position, state, event_hash)
    writer.finish()
