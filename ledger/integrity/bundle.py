"""The export bundle (``custody-ledger-bundle/1``) and the offline verifier behind
``ledger verify`` (SPEC.md §4).

A bundle is everything an auditor needs to check a range of the log with no server and
no database: the events ``after+1 .. until`` with their hashes, signed checkpoints, and
the Merkle proofs that tie them together. :func:`verify_bundle` reads it once, front to
back, in bounded memory (a Merkle frontier and the handful of roots it must compare, never
one entry per event), and returns a :class:`VerifyReport`.

Format
======

NDJSON: UTF-8, one JSON object per line, lines separated by ``\\n``. Hashes, roots and
proof elements are 64 lowercase hex characters; keys and signatures are standard padded
base64 in canonical form. Every object has exactly the keys shown. Lines come in this
order:

1. One header::

     {"kind":"header","format":"custody-ledger-bundle/1",
      "public_key":<base64 raw Ed25519 key>,"key_id":<16 hex>,
      "after":A,"until":U,"prev_hash":<hash of event A, 64 zeros if A = 0>,
      "frontier":[<hex>...],"prev_proof":[<hex>...]}

   ``frontier`` is the Merkle frontier of the first ``A`` events (the roots of the
   perfect subtrees of the tree of size ``A``, largest first; ``[]`` if ``A = 0``) and
   ``prev_proof`` the RFC 6962 inclusion proof of event ``A`` (leaf ``A-1``) in that tree.

2. Any number of checkpoint and proof lines, in any order, all before the first event::

     {"kind":"checkpoint","tree_size":n,"root":<hex>,"timestamp":"…Z","key_id":…,"signature":<b64>}
     {"kind":"consistency","from":n1,"to":n2,"proof":[<hex>...]}
     {"kind":"inclusion","position":p,"size":n,"hash":<event hash>,"proof":[<hex>...]}

   They come first because the verifier must know, before the events stream past, at
   which tree sizes to take the Merkle root; keeping every root instead would cost
   32 bytes per event.

3. The events ``A+1 .. U``, in position order::

     {"kind":"event","position":p,"hash":<hex>,"state":"<the stored canonical JSON, as a string>"}

4. One trailer, so that a bundle cut short anywhere is recognisably incomplete::

     {"kind":"end","events":U-A,"last_position":U,"last_hash":<hash of event U>}

Why ``state`` is a JSON *string* holding the stored bytes, not an embedded object: the
hash is over bytes, and a JSON string decodes to exactly one sequence of code points,
so ``state.encode("utf-8")`` gives back exactly the stored bytes with any JSON parser.
An embedded object would have to be re-serialised to be hashed, and the result would
depend on the verifier's number parsing, duplicate-key handling and canonicaliser — the
very code under scrutiny. The string keeps the event readable (``jq '.state|fromjson'``)
and checkable with standard tools (``jq -j .state | sha256sum``). A stored row that is
not valid UTF-8 (which canonical JSON always is) cannot be a JSON string; the writer
then emits ``"state_b64"`` with the raw bytes in base64 instead of ``"state"``, so the
export never alters or drops a row and the verifier reports it.

Framing bytes carry no meaning: whitespace around JSON values, ``\\r\\n`` line ends,
a missing final newline and blank lines are accepted and ignored, and everything that
does carry meaning is either hashed, signed, proven or cross-checked, so no other
change to a bundle goes unnoticed. Uppercase hex and non-canonical base64, which
would decode to the same bytes, are refused for the same reason. A last line that is
not JSON and has no newline is a bundle cut off mid-line (incomplete); anywhere else a
line that is not JSON is damage (tampered).

What the verifier checks
========================

* every event: ``SHA-256(state) = hash``; ``state`` is RFC 8785 canonical JSON; its
  ``prev_hash`` is the previous event's hash (the header's ``prev_hash`` for the first);
  positions run ``A+1 .. U`` without gap, repeat or reordering;
* the header: ``key_id`` is that of ``public_key``; ``prev_hash`` is leaf ``A-1`` of the
  tree given by ``frontier`` (via ``prev_proof``);
* every checkpoint: signed by the bundle's key (by the trusted key, if one is given);
  two checkpoints of one size agree; a checkpoint of a size in ``A .. U`` has the root the
  verifier computes from the frontier and the events;
* every consistency and inclusion proof, against the roots known for its sizes (computed
  ones first, else signed checkpoints, else the trusted checkpoint);
* the trailer against the header and the last event.

Trust, and bundles that start after 0
=====================================

The computed roots are what the events *say*; a valid signature over an equal root is
what makes them *authentic*. A computed root is authenticated by a signed checkpoint of
the same size, or by a valid consistency proof from it to an authenticated root (a tree
whose prefix is signed is signed in that prefix). A bundle is clean only if the root of
the whole range (size ``U``) is authenticated, so every event in it is covered by a
signature; otherwise it is incomplete. An exporter should therefore include a
checkpoint of size ``U`` or later (with a consistency proof from ``U``), making one on
demand if the latest is older than ``U``.

A bundle with ``A > 0`` cannot recompute the root from leaf 0. It starts from the
header's frontier, which is not trusted on its own: a root computed from it and the
bundle's events is compared with signed roots exactly like any other, and since the
frontier's subtrees are nodes of every later tree, a match authenticates the frontier
and the events together (forging either means a SHA-256 collision). ``prev_proof`` then
ties the header's ``prev_hash`` to that authenticated tree, so the first event's link
to the event before the range is checked too.

Without ``trusted_public_key`` the signatures are checked against the key the bundle
names, which proves internal consistency only: anyone can re-sign a rewritten log with
their own key. Pin the ledger's published key (and ideally a checkpoint obtained
earlier) to make "clean" mean "authentic". A ``trusted_checkpoint`` must be linked to the
bundle: its size within ``A .. U`` (roots compared), or a chain of valid consistency
proofs between it and a computed root; a mismatch or a failing proof is a fork
(tampered), no link at all is incomplete.

Verdicts and exit codes: ``clean`` 0; ``tampered`` 1 (any hash, chain, signature, root
or proof mismatch, malformed or misplaced lines, positions missing, repeated or out of
order before the end, another key, a fork from the trusted checkpoint); ``incomplete``
2 (the bundle ends early — no trailer, or events missing at the end — or lacks a root or
proof needed to check something, or events not covered by a signature); ``error`` 3
(not a bundle of this format, unreadable input, or trusted inputs that contradict
themselves). When several apply, tampered wins over error, error over incomplete.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, TypeGuard

import orjson
import rfc8785

from ledger.integrity.checkpoints import (
    Checkpoint,
    CheckpointFormatError,
    b64decode_strict,
    b64encode,
    key_id_for,
    parse_public_key,
    verify_checkpoint,
)
from ledger.integrity.merkle import (
    EMPTY_ROOT,
    Frontier,
    LeafSource,
    MerkleError,
    SubtreeCache,
    consistency_proof,
    frontier_at,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

FORMAT = "custody-ledger-bundle/1"
ZERO_HASH_HEX = "0" * 64
MAX_RECORDED_FAILURES = 100
PROGRESS_EVERY = 10_000

_HEADER_KEYS = frozenset(
    (
        "kind",
        "format",
        "public_key",
        "key_id",
        "after",
        "until",
        "prev_hash",
        "frontier",
        "prev_proof",
    )
)
_EVENT_KEYS = frozenset(("kind", "position", "hash", "state"))
_EVENT_B64_KEYS = frozenset(("kind", "position", "hash", "state_b64"))
_CONSISTENCY_KEYS = frozenset(("kind", "from", "to", "proof"))
_INCLUSION_KEYS = frozenset(("kind", "position", "size", "hash", "proof"))
_END_KEYS = frozenset(("kind", "events", "last_position", "last_hash"))
_HEX = frozenset("0123456789abcdef")
_SAFE_INT = 2**53 - 1


class Verdict(StrEnum):
    CLEAN = "clean"
    TAMPERED = "tampered"
    INCOMPLETE = "incomplete"
    ERROR = "error"


EXIT_CODES = {Verdict.CLEAN: 0, Verdict.TAMPERED: 1, Verdict.INCOMPLETE: 2, Verdict.ERROR: 3}
_SEVERITY = {Verdict.CLEAN: 0, Verdict.INCOMPLETE: 1, Verdict.ERROR: 2, Verdict.TAMPERED: 3}


class BundleWriteError(ValueError):
    """The writer was used out of order or given data that cannot form a bundle."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One problem found: what it means, why, and where (event position and/or line)."""

    verdict: Verdict
    reason: str
    position: int | None = None
    line: int | None = None


@dataclass(slots=True)
class VerifyReport:
    """The outcome of :func:`verify_bundle`.

    ``first_position`` and ``reason`` headline the findings of the worst kind (those
    that set the verdict): the lowest event position any of them names, or, if none
    names an event (a bad signature, a failing proof, another key), no position and the
    first such finding's reason. An edited event is named itself; a broken link names
    the event whose ``prev_hash`` no longer matches (the reason names the one before it
    too, since either may be the altered one), except that an event linking to the one
    two back names the inserted event between them; a re-hashed rewrite that keeps the
    chain intact is named by the first checkpoint size whose root differs.
    ``failures`` keeps the first 100 findings of any kind; ``failures_total`` counts all.
    ``signed_through`` is the largest tree size in the bundle's range whose computed root
    is authenticated by a signature (or the trusted checkpoint).
    """

    verdict: Verdict = Verdict.CLEAN
    exit_code: int = 0
    events: int = 0
    checkpoints: int = 0
    consistency_proofs: int = 0
    inclusion_proofs: int = 0
    after: int | None = None
    until: int | None = None
    last_position: int | None = None
    key_id: str | None = None
    key_pinned: bool = False
    signed_through: int | None = None
    first_position: int | None = None
    reason: str | None = None
    failures: list[Failure] = field(default_factory=list)
    failures_total: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        data["failures"] = [{**asdict(f), "verdict": str(f.verdict)} for f in self.failures]
        return data


# --- helpers ------------------------------------------------------------------------


def _is_int(value: object) -> TypeGuard[int]:
    return type(value) is int


def _is_hex_hash(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value)


def _hex_list(value: object) -> list[bytes] | None:
    if not isinstance(value, list) or not all(_is_hex_hash(item) for item in value):
        return None
    return [bytes.fromhex(item) for item in value]


# Floats that orjson and RFC 8785 (ECMAScript Number::toString) spell identically: both
# print the shortest round-tripping digits, and both use plain notation in this window
# (orjson switches to exponents outside [1e-5, 1e16), ECMAScript outside [1e-6, 1e21)).
# Integral floats are excluded: orjson writes "1.0" where RFC 8785 writes "1".
_PLAIN_FLOAT_MIN = 1e-5
_PLAIN_FLOAT_MAX = 1e16


def _scalar_safe(value: object, kind: type) -> bool:
    if isinstance(value, int) and kind is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if isinstance(value, float):
        return _PLAIN_FLOAT_MIN <= abs(value) < _PLAIN_FLOAT_MAX and not value.is_integer()
    return kind is bool or value is None


def _values_safe(values: Iterable[Any]) -> bool:
    for value in values:
        kind = type(value)
        if kind is str:
            continue
        if kind is dict:
            ok = _values_safe(value.values())
        elif kind is list:
            ok = _values_safe(value)
        else:
            ok = _scalar_safe(value, kind)
        if not ok:
            return False
    return True


def _dict_safe(record: dict[str, Any]) -> bool:
    return _values_safe(record.values())


def _keys_in_bmp(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            if any(not key.isascii() and max(key) > "\uffff" for key in item):
                return False
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return True


def _orjson_is_rfc8785(state: bytes, record: dict[str, Any]) -> bool:
    """Whether ``state`` is orjson's sorted output for ``record`` and that output is RFC 8785's.

    orjson with sorted keys writes RFC 8785's bytes for JSON whose numbers are integers
    within ±(2^53-1) or floats in the window above, and whose object keys are in the
    Basic Multilingual Plane (RFC 8785 sorts keys by UTF-16 code units, orjson by code
    points; the two orders differ only for keys beyond U+FFFF). String escaping is the
    same in both. Keys outside ASCII are only looked at when the state is not ASCII.
    """
    try:
        if orjson.dumps(record, option=orjson.OPT_SORT_KEYS) != state or not _dict_safe(record):
            return False
    except (orjson.JSONEncodeError, RecursionError):
        return False
    return state.isascii() or _keys_in_bmp(record)


def _is_canonical(state: bytes, record: Any) -> bool:
    """``rfc8785.dumps(json.loads(state)) == state``, usually without running rfc8785.

    rfc8785 (the reference implementation) manages about 30k records/s, too slow for a
    verifier meant to do 100k events/s; :func:`_orjson_is_rfc8785` settles the common
    case in about 1.5 µs and anything it cannot vouch for goes to rfc8785 itself.
    """
    if type(record) is dict and _orjson_is_rfc8785(state, record):
        return True
    try:
        return bool(rfc8785.dumps(json.loads(state)) == state)
    except (ValueError, TypeError, RecursionError, rfc8785.CanonicalizationError):
        return False


# --- writer -------------------------------------------------------------------------


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
        if not (_is_int(after) and _is_int(until)) or not 0 <= after <= until:
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


# --- verifier -----------------------------------------------------------------------


class _Failures:
    def __init__(self) -> None:
        self.items: list[Failure] = []
        self.total = 0
        self.worst = Verdict.CLEAN

    def add(
        self, verdict: Verdict, reason: str, position: int | None = None, line: int | None = None
    ) -> None:
        self.total += 1
        if _SEVERITY[verdict] > _SEVERITY[self.worst]:
            self.worst = verdict
        if len(self.items) < MAX_RECORDED_FAILURES:
            self.items.append(Failure(verdict, reason, position, line))

    def tampered(self, reason: str, position: int | None = None, line: int | None = None) -> None:
        self.add(Verdict.TAMPERED, reason, position, line)

    def incomplete(self, reason: str, position: int | None = None, line: int | None = None) -> None:
        self.add(Verdict.INCOMPLETE, reason, position, line)


class _Stop(Exception):
    """Verification cannot go on; the reason has already been recorded."""


@dataclass(slots=True)
class _Proof:
    size1: int
    size2: int
    proof: list[bytes]
    line: int


@dataclass(slots=True)
class _Inclusion:
    position: int
    size: int
    event_hash: bytes
    proof: list[bytes]
    line: int


class _Garbage:
    """Stands in for a line that is not JSON at all."""


_GARBAGE: Any = _Garbage()
_METADATA_KINDS = ("checkpoint", "consistency", "inclusion")
_TAKE_ROOT = 1
_CHECK_HASH = 2


class _Verifier:
    """One pass over one bundle. Methods are called in line order by :func:`_run`."""

    def __init__(
        self,
        trusted_key: bytes | None,
        trusted_checkpoint: Mapping[str, Any] | None,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.failures = _Failures()
        self.report = VerifyReport()
        self.progress = progress
        self.trusted_key = trusted_key
        self.trusted_raw = trusted_checkpoint
        self.trusted: tuple[int, bytes] | None = None
        self.verify_key = b""
        self.key_id = ""
        self.after = self.until = 0
        self.prev_hash = ZERO_HASH_HEX
        self.frontier = Frontier()
        # Roots the events produce, at the few sizes something needs to be compared.
        self.computed: dict[int, bytes] = {}
        # Roots of checkpoints whose signature verified: size -> (root, line).
        self.signed: dict[int, tuple[bytes, int]] = {}
        self.proofs: list[_Proof] = []
        self.inclusions: list[_Inclusion] = []
        # position -> what to do when the event at that position has been appended.
        self.stops: dict[int, int] = {}
        self.watched: dict[int, list[_Inclusion]] = {}
        # False once events are missing, repeated or unreadable: roots computed after
        # that are meaningless, so they are neither compared nor reported.
        self.merkle_ok = True
        self.last_position: int | None = None
        self.ended = False

    # header and metadata -------------------------------------------------------------

    def header(self, obj: Any, line: int) -> None:
        f = self.failures
        if not isinstance(obj, dict) or obj.get("kind") != "header" or obj.get("format") != FORMAT:
            f.add(
                Verdict.ERROR, f"not a {FORMAT} bundle: line {line} is not its header", None, line
            )
            raise _Stop
        if obj.keys() != _HEADER_KEYS:
            f.tampered("header has missing or unknown fields", None, line)
            raise _Stop
        after, until = obj["after"], obj["until"]
        if not (_is_int(after) and _is_int(until)) or not 0 <= after <= until:
            f.tampered("header after/until are not integers with 0 <= after <= until", None, line)
            raise _Stop
        self.after, self.until, self.last_position = after, until, after
        self.report.after, self.report.until = after, until
        try:
            public_key = b64decode_strict(obj["public_key"], 32)
        except (CheckpointFormatError, AttributeError):
            f.tampered("header public_key is not a canonical base64 Ed25519 key", None, line)
            raise _Stop from None
        self.key_id = key_id_for(public_key)
        self.report.key_id = self.key_id
        if obj["key_id"] != self.key_id:
            f.tampered("header key_id is not the id of its public_key", None, line)
        self.verify_key = public_key
        if self.trusted_key is not None:
            self.report.key_pinned = True
            if public_key != self.trusted_key:
                f.tampered(
                    f"the bundle is signed by key {self.key_id}, not by the trusted key "
                    f"{key_id_for(self.trusted_key)}",
                    None,
                    line,
                )
            self.verify_key = self.trusted_key
        prev_hash = obj["prev_hash"]
        if not _is_hex_hash(prev_hash) or (after == 0 and prev_hash != ZERO_HASH_HEX):
            f.tampered("header prev_hash is not a hash (or not zeros for after = 0)", None, line)
            raise _Stop
        self.prev_hash = prev_hash
        nodes, path = _hex_list(obj["frontier"]), _hex_list(obj["prev_proof"])
        if nodes is None or path is None:
            f.tampered("header frontier/prev_proof are not lists of hashes", None, line)
            raise _Stop
        try:
            self.frontier = Frontier.from_nodes(after, nodes)
        except MerkleError as exc:
            f.tampered(f"header frontier: {exc}", None, line)
            raise _Stop from None
        root = self.frontier.root()
        self.computed[after] = root
        if after == 0:
            if path:
                f.tampered("header prev_proof must be empty when after = 0", None, line)
        elif not verify_inclusion(
            leaf_hash(bytes.fromhex(prev_hash)), after - 1, after, path, root
        ):
            f.tampered(
                f"header prev_hash is not event {after} of the tree its frontier describes",
                after,
                line,
            )
        self._want_root(until)
        self._load_trusted()

    def _load_trusted(self) -> None:
        raw = self.trusted_raw
        if raw is None:
            return
        f = self.failures
        size, root_hex = raw.get("tree_size"), raw.get("root")
        if not (_is_int(size) and size >= 0 and _is_hex_hash(root_hex)):
            f.add(Verdict.ERROR, "the trusted checkpoint needs a tree_size and a 64-hex root")
            raise _Stop
        self.trusted = (size, bytes.fromhex(root_hex))
        if "signature" in raw:
            try:
                checkpoint = Checkpoint.from_dict(dict(raw))
            except CheckpointFormatError as exc:
                f.add(Verdict.ERROR, f"trusted checkpoint: {exc}")
                raise _Stop from None
            if not verify_checkpoint(checkpoint, self.verify_key):
                if self.trusted_key is not None:
                    f.add(Verdict.ERROR, "the trusted checkpoint is not signed by the trusted key")
                    raise _Stop
                f.tampered(
                    f"the trusted checkpoint (key {checkpoint.key_id}) was not signed by the "
                    f"bundle's key {self.key_id}"
                )
        self._want_root(size)

    def _want_root(self, size: int) -> None:
        if self.after < size <= self.until:
            self.stops[size] = self.stops.get(size, 0) | _TAKE_ROOT

    def metadata(self, obj: dict[str, Any], kind: str, line: int) -> None:
        if kind == "checkpoint":
            self.report.checkpoints += 1
            self._checkpoint(obj, line)
        elif kind == "consistency":
            self.report.consistency_proofs += 1
            size1, size2, path = obj.get("from"), obj.get("to"), _hex_list(obj.get("proof"))
            if obj.keys() != _CONSISTENCY_KEYS or not (
                _is_int(size1) and _is_int(size2) and min(size1, size2) >= 0
            ):
                path = None
            if path is None:
                self.failures.tampered("malformed consistency proof line", None, line)
                return
            assert _is_int(size1) and _is_int(size2)
            self.proofs.append(_Proof(size1, size2, path, line))
            self._want_root(size1)
            self._want_root(size2)
        else:
            self.report.inclusion_proofs += 1
            position, size = obj.get("position"), obj.get("size")
            hash_hex, path = obj.get("hash"), _hex_list(obj.get("proof"))
            if (
                obj.keys() != _INCLUSION_KEYS
                or not (_is_int(position) and _is_int(size) and _is_hex_hash(hash_hex))
                or not 0 < position <= size
                or path is None
            ):
                self.failures.tampered("malformed inclusion proof line", None, line)
                return
            inclusion = _Inclusion(position, size, bytes.fromhex(hash_hex), path, line)
            self.inclusions.append(inclusion)
            self._want_root(size)
            if self.after < position <= self.until:
                self.stops[position] = self.stops.get(position, 0) | _CHECK_HASH
                self.watched.setdefault(position, []).append(inclusion)

    def _checkpoint(self, obj: dict[str, Any], line: int) -> None:
        f = self.failures
        try:
            checkpoint = Checkpoint.from_dict({k: v for k, v in obj.items() if k != "kind"})
        except CheckpointFormatError as exc:
            f.tampered(f"malformed checkpoint line: {exc}", None, line)
            return
        size = checkpoint.tree_size
        if checkpoint.key_id != self.key_id:
            f.tampered(
                f"checkpoint of size {size} names key {checkpoint.key_id}, not the bundle's "
                f"key {self.key_id}",
                None,
                line,
            )
            return
        if not verify_checkpoint(checkpoint, self.verify_key):
            f.tampered(f"checkpoint of size {size}: the signature does not verify", None, line)
            return
        root = checkpoint.root_bytes
        if size in self.signed and self.signed[size][0] != root:
            f.tampered(
                f"two signed checkpoints of size {size} have different roots (a fork)", size, line
            )
            return
        if size == 0 and root != EMPTY_ROOT:
            f.tampered(
                "a signed checkpoint of size 0 has a root other than the empty tree's", None, line
            )
            return
        self.signed[size] = (root, line)
        self._want_root(size)

    # events --------------------------------------------------------------------------

    def events(self, numbered: Iterable[tuple[int, bytes]]) -> None:
        """The hot loop over event lines, ending at the trailer or at the end of input."""
        f = self.failures
        loads, dumps, sort_keys = orjson.loads, orjson.dumps, orjson.OPT_SORT_KEYS
        decode_error, encode_error = orjson.JSONDecodeError, orjson.JSONEncodeError
        sha256 = hashlib.sha256
        append = self.frontier.append
        stops = self.stops
        event_keys = _EVENT_KEYS
        dict_safe = _dict_safe
        progress = self.progress
        countdown = PROGRESS_EVERY
        expected = self.after + 1
        # The hash the next event must link to; None after a gap (nothing to compare).
        prev_hex: str | None = self.prev_hash
        prev_prev_hex: str | None = None
        count = 0

        # A line that is not JSON is judged when the next line arrives: if none does and
        # the line has no newline, the input was cut off mid-line (incomplete), not edited.
        cut: tuple[int, bytes] | None = None
        for line, raw in numbered:
            try:
                obj = loads(raw)
            except decode_error:
                if not raw.strip():
                    continue
                if cut is None and not raw.endswith(b"\n"):
                    cut = (line, raw)
                    continue
                obj = _GARBAGE
            if cut is not None:
                f.tampered(
                    f"line {cut[0]} is not JSON (expected event {expected})", expected, cut[0]
                )
                expected += 1
                prev_hex = prev_prev_hex = None
                self.merkle_ok = False
                cut = None
            if type(obj) is dict and obj.keys() == event_keys and obj["kind"] == "event":
                position, hash_hex, text = obj["position"], obj["hash"], obj["state"]
                if type(text) is str:
                    state = text.encode("utf-8")
                else:
                    f.tampered("event state is not a string", expected, line)
                    state = b""
            elif type(obj) is dict and obj.keys() == _EVENT_B64_KEYS and obj["kind"] == "event":
                position, hash_hex = obj["position"], obj["hash"]
                try:
                    state = b64decode_strict(obj["state_b64"])
                except (CheckpointFormatError, AttributeError):
                    f.tampered("event state_b64 is not canonical base64", expected, line)
                    state = b""
            else:
                kind = obj.get("kind") if type(obj) is dict else None
                if kind == "end":
                    self._trailer(obj, line, expected - 1, prev_hex)
                    break
                if kind in _METADATA_KINDS:
                    f.tampered(f"{kind} line after the first event", None, line)
                    continue
                what = "not JSON" if obj is _GARBAGE else "not an event line"
                f.tampered(f"line {line} is {what} (expected event {expected})", expected, line)
                # Most likely the damaged line *was* that event: move past it.
                expected += 1
                prev_hex = prev_prev_hex = None
                self.merkle_ok = False
                continue

            if position != expected or type(position) is not int:
                if type(position) is not int or position < expected:
                    f.tampered(
                        f"event position {position!r} is repeated, out of order or not a "
                        f"number (expected {expected})",
                        position if type(position) is int and position > self.after else expected,
                        line,
                    )
                    self.merkle_ok = False
                    continue
                gap = (
                    f"event {expected} is"
                    if position == expected + 1
                    else (f"events {expected}..{position - 1} are")
                )
                f.tampered(f"{gap} missing (event {position} follows)", expected, line)
                self.merkle_ok = False
                prev_hex = prev_prev_hex = None

            digest = sha256(state).digest()
            if digest.hex() != hash_hex:
                if _is_hex_hash(hash_hex):
                    f.tampered("the SHA-256 of the state is not the event's hash", position, line)
                    # The stored hash is what the next event and the signed tree committed
                    # to; carrying it on makes one edited state one failure, not a cascade.
                    digest = bytes.fromhex(hash_hex)
                else:
                    f.tampered("the event hash is not 64 lowercase hex characters", position, line)
                    hash_hex = digest.hex()
            try:
                record = loads(state)
            except decode_error:
                record = None
            if type(record) is not dict:
                f.tampered("the state is not a JSON object", position, line)
            else:
                link = record.get("prev_hash")
                if prev_hex is not None and link != prev_hex:
                    if link is not None and link == prev_prev_hex:
                        f.tampered(
                            f"event {position} links to event {position - 2}, so event "
                            f"{position - 1} is not part of the original chain (inserted)",
                            position - 1,
                            line,
                        )
                    else:
                        f.tampered(
                            f"event {position}'s prev_hash is not the hash of event "
                            f"{position - 1}: event {position - 1} was altered and re-hashed, "
                            f"events were removed or inserted before {position}, or event "
                            f"{position} is forged",
                            position,
                            line,
                        )
                # The common case of _is_canonical, inlined: an all-ASCII record that
                # orjson reproduces byte for byte and that holds no number it could
                # spell differently from RFC 8785.
                try:
                    fast = (
                        state.isascii()
                        and dumps(record, option=sort_keys) == state
                        and dict_safe(record)
                    )
                except (encode_error, RecursionError):
                    fast = False  # nested too deeply for orjson or the walk
                if not fast and not _is_canonical(state, record):
                    f.tampered("the state is not RFC 8785 canonical JSON", position, line)

            append(sha256(b"\x00" + digest).digest())
            if position in stops:
                self._stop(position, digest)
            prev_prev_hex, prev_hex = prev_hex, hash_hex
            expected = position + 1
            count += 1
            countdown -= 1
            if countdown == 0:
                countdown = PROGRESS_EVERY
                if progress is not None:
                    progress(count)
        else:
            last = expected - 1
            missing = f" (events {last + 1}..{self.until} missing)" if last < self.until else ""
            where = f", cut off in line {cut[0]}" if cut is not None else ""
            f.incomplete(
                f"the bundle ends without its end line, after event {last}{missing}{where}",
                last + 1,
            )
        if expected - 1 > self.until:
            f.tampered(
                f"events after the header's last position {self.until} (up to {expected - 1})",
                self.until + 1,
            )
        self.report.events = count
        self.last_position = expected - 1
        if progress is not None:
            progress(count)

    def _stop(self, position: int, digest: bytes) -> None:
        what = self.stops[position]
        if what & _TAKE_ROOT and self.merkle_ok:
            self.computed[position] = self.frontier.root()
        if what & _CHECK_HASH:
            for inclusion in self.watched[position]:
                if inclusion.event_hash != digest:
                    self.failures.tampered(
                        f"an inclusion proof names another hash for event {position}",
                        position,
                        inclusion.line,
                    )

    def _trailer(self, obj: dict[str, Any], line: int, last: int, last_hex: str | None) -> None:
        f = self.failures
        self.ended = True
        if obj.keys() != _END_KEYS:
            f.tampered("the end line has missing or unknown fields", None, line)
            return
        events, last_position = obj["events"], obj["last_position"]
        if not _is_int(last_position) or last_position != self.until:
            f.tampered(
                f"the end line's last_position {last_position!r} is not the header's {self.until}",
                None,
                line,
            )
        if not _is_int(events) or events != self.until - self.after:
            f.tampered(
                f"the end line counts {events!r} events, the header's range "
                f"{self.until - self.after}",
                None,
                line,
            )
        if last < self.until:
            f.incomplete(
                f"events {last + 1}..{self.until} are missing at the end of the bundle",
                last + 1,
                line,
            )
        elif obj["last_hash"] != last_hex and self.merkle_ok:
            f.tampered("the end line's last_hash is not the last event's hash", last, line)

    # roots, proofs and trust ---------------------------------------------------------

    def _root_at(self, size: int) -> bytes | None:
        """The root to check proofs against: computed, else signed, else trusted."""
        if size == 0:
            return EMPTY_ROOT
        if size in self.computed:
            return self.computed[size]
        if size in self.signed:
            return self.signed[size][0]
        if self.trusted is not None and self.trusted[0] == size:
            return self.trusted[1]
        return None

    def finish(self) -> None:
        """After the last line: compare roots, check proofs, decide what is signed."""
        f = self.failures
        computed = self.computed
        # Once the events are known to be broken, roots and proofs that could not be
        # computed are consequences, not separate findings.
        quiet = not (self.merkle_ok and self.ended and self.last_position == self.until)
        for size, (root, line) in sorted(self.signed.items()):
            if size in computed and computed[size] != root:
                f.tampered(
                    f"the Merkle root of events 1..{size} is not the signed checkpoint's "
                    f"root: an event up to {size} was altered with the chain re-hashed, or "
                    "the checkpoint is wrong",
                    size,
                    line,
                )

        valid: list[_Proof] = []
        for p in self.proofs:
            root1, root2 = self._root_at(p.size1), self._root_at(p.size2)
            if not 0 < p.size1 <= p.size2:
                # No roots could make this verify, so it is wrong rather than uncheckable.
                f.tampered(
                    f"consistency proof {p.size1}->{p.size2}: impossible sizes", None, p.line
                )
            elif root1 is None or root2 is None:
                if not quiet:
                    size = p.size1 if root1 is None else p.size2
                    f.incomplete(
                        f"consistency proof {p.size1}->{p.size2}: no root is known for size {size}",
                        None,
                        p.line,
                    )
            elif verify_consistency(p.size1, p.size2, p.proof, root1, root2):
                valid.append(p)
            else:
                trusted = self.trusted is not None and self.trusted[0] in (p.size1, p.size2)
                f.tampered(
                    f"consistency proof {p.size1}->{p.size2} does not verify"
                    + (": the log forks from the trusted checkpoint" if trusted else ""),
                    None,
                    p.line,
                )

        for inc in self.inclusions:
            tree_root = self._root_at(inc.size)
            if tree_root is None:
                if not quiet:
                    f.incomplete(
                        f"inclusion proof of event {inc.position}: no root is known for size "
                        f"{inc.size}",
                        None,
                        inc.line,
                    )
            elif not verify_inclusion(
                leaf_hash(inc.event_hash), inc.position - 1, inc.size, inc.proof, tree_root
            ):
                f.tampered(
                    f"the inclusion proof of event {inc.position} in the tree of size "
                    f"{inc.size} does not verify",
                    inc.position if self.after < inc.position <= self.until else None,
                    inc.line,
                )

        authenticated = set(self.signed)
        if self.trusted is not None:
            authenticated.add(self.trusted[0])
            self._check_trusted(valid, quiet)
        # A valid proof a -> b with b authenticated authenticates a: whoever signed the
        # tree of size b vouched for each of its prefixes. Few proofs: iterate to a fixpoint.
        grown = True
        while grown:
            grown = False
            for p in valid:
                if p.size2 in authenticated and p.size1 not in authenticated:
                    authenticated.add(p.size1)
                    grown = True
        covered = [
            size
            for size, root in computed.items()
            if size in authenticated and self._root_agrees(size, root)
        ]
        signed_through = max(covered) if covered else None
        self.report.signed_through = signed_through
        if (
            quiet
            or self.until == 0
            or (signed_through is not None and signed_through >= self.until)
        ):
            return
        start = max(self.after, signed_through or 0) + 1
        if start <= self.until:
            f.incomplete(
                f"events {start}..{self.until} are not covered by any signed checkpoint", start
            )
        else:
            f.incomplete(f"the frontier at {self.after} is not covered by any signed checkpoint")

    def _root_agrees(self, size: int, root: bytes) -> bool:
        if size in self.signed and self.signed[size][0] != root:
            return False
        return not (
            self.trusted is not None and self.trusted[0] == size and self.trusted[1] != root
        )

    def _check_trusted(self, valid: list[_Proof], quiet: bool) -> None:
        assert self.trusted is not None
        f = self.failures
        size, root = self.trusted
        if size == 0:
            # Every log extends the empty tree; only its root can be wrong.
            if root != EMPTY_ROOT:
                f.add(Verdict.ERROR, "the trusted checkpoint of size 0 has a non-empty root")
            return
        if size in self.signed and self.signed[size][0] != root:
            f.tampered(
                f"the bundle's checkpoint of size {size} contradicts the trusted checkpoint "
                "(a fork)",
                size if self.after < size <= self.until else None,
                self.signed[size][1],
            )
        if size in self.computed:
            if self.computed[size] != root:
                f.tampered(
                    f"the log forks from the trusted checkpoint: the root of events 1..{size} "
                    "differs from the trusted root",
                    size if size > self.after else None,
                )
            return
        if quiet:
            return
        # Linked if valid proofs lead, in the direction of growth, from the trusted size
        # to a computed root (trusted tree is a prefix of the bundle's) or from a computed
        # root to the trusted size (the bundle's tree is a prefix of the trusted one).
        edges: dict[int, list[int]] = {}
        for p in valid:
            edges.setdefault(p.size1, []).append(p.size2)
        if size < self.after:
            sources, targets = {size}, set(self.computed)
        else:
            sources, targets = set(self.computed), {size}
        seen = set(sources)
        queue = deque(sources)
        while queue:
            node = queue.popleft()
            if node in targets:
                return
            for nxt in edges.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        f.incomplete(
            f"no consistency proof links the bundle to the trusted checkpoint of size {size}"
        )

    def build_report(self) -> VerifyReport:
        report, f = self.report, self.failures
        report.verdict = f.worst
        report.exit_code = EXIT_CODES[f.worst]
        report.failures = f.items
        report.failures_total = f.total
        report.last_position = self.last_position
        # The headline is the worst kind of finding: a missing signature on a tampered
        # bundle is a consequence, not the news.
        worst = [x for x in f.items if x.verdict == f.worst]
        positioned = [x for x in worst if x.position is not None]
        if positioned:
            first = min(positioned, key=lambda x: x.position or 0)
            report.first_position, report.reason = first.position, first.reason
        elif worst:
            report.reason = worst[0].reason
        return report


def _run(verifier: _Verifier, numbered: Iterator[tuple[int, bytes]]) -> None:
    f = verifier.failures
    header: tuple[int, Any] | None = None
    for line, raw in numbered:
        if not raw.strip():
            continue
        try:
            header = (line, orjson.loads(raw))
        except orjson.JSONDecodeError:
            if raw.endswith(b"\n") or next(numbered, None) is not None:
                f.add(Verdict.ERROR, f"not a {FORMAT} bundle: line {line} is not JSON", None, line)
            else:
                f.incomplete("the bundle is cut off inside its header line", None, line)
            raise _Stop from None
        break
    if header is None:
        f.incomplete("the bundle is empty")
        raise _Stop
    verifier.header(header[1], header[0])

    first_event: list[tuple[int, bytes]] = []
    for line, raw in numbered:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if not raw.strip():
                continue
            obj = None
        kind = obj.get("kind") if type(obj) is dict else None
        if kind in _METADATA_KINDS:
            verifier.metadata(obj, kind, line)
        else:
            first_event.append((line, raw))
            break
    verifier.events(itertools.chain(first_event, numbered))
    if verifier.ended:
        for line, raw in numbered:
            if raw.strip():
                f.tampered("there is content after the end line", None, line)
                break
    verifier.finish()


def _error_report(reason: str) -> VerifyReport:
    failure = Failure(Verdict.ERROR, reason)
    return VerifyReport(
        verdict=Verdict.ERROR, exit_code=3, reason=reason, failures=[failure], failures_total=1
    )


def verify_bundle(
    lines: Iterable[bytes],
    trusted_public_key: bytes | str | None = None,
    trusted_checkpoint: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify a bundle given line by line (an open binary file will do). Never raises.

    ``trusted_public_key``: the ledger's Ed25519 key (raw 32 bytes, or base64) obtained
    out of band; every checkpoint must then be signed by it. ``trusted_checkpoint``: a
    checkpoint dict the auditor already holds (``tree_size`` and ``root`` at least; a
    signature, if present, is checked too). ``progress`` is called with the number of
    events verified so far, every 10,000 events and at the end.
    """
    trusted_key = None
    if trusted_public_key is not None:
        try:
            trusted_key = parse_public_key(trusted_public_key)
        except CheckpointFormatError as exc:
            return _error_report(f"the trusted public key is invalid: {exc}")
    verifier = _Verifier(trusted_key, trusted_checkpoint, progress)
    try:
        _run(verifier, enumerate(lines, start=1))
    except _Stop:
        pass
    except OSError as exc:
        verifier.failures.add(Verdict.ERROR, f"could not read the bundle: {exc}")
    except Exception as exc:  # a verifier bug must end as a verdict, not a traceback
        verifier.failures.add(Verdict.ERROR, f"internal error: {type(exc).__name__}: {exc}")
    return verifier.build_report()


def verify_bundle_file(
    path: str | Path,
    trusted_public_key: bytes | str | None = None,
    trusted_checkpoint: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """:func:`verify_bundle` on a file; a file that cannot be opened is an ``error``."""
    try:
        with open(path, "rb") as handle:
            return verify_bundle(handle, trusted_public_key, trusted_checkpoint, progress)
    except OSError as exc:
        return _error_report(f"could not open the bundle: {exc}")
