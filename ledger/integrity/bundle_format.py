"""The export bundle format, ``custody-ledger-bundle/1`` (SPEC.md §4): its constants, the
exact keys of each line, and the parsing both the writer and the verifier rely on.

A bundle is everything an auditor needs to check a range of the log with no server and
no database: the events ``after+1 .. until`` with their hashes, signed checkpoints, and
the Merkle proofs that tie them together. :mod:`ledger.integrity.bundle_writer` writes
one; :mod:`ledger.integrity.bundle_verify` reads it once, front to back, in bounded
memory (a Merkle frontier and the handful of roots it must compare, never one entry per
event), and returns a :class:`~ledger.integrity.bundle_report.VerifyReport`.

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

What the verifier checks is told in :mod:`ledger.integrity.bundle_verify`, how trust is
decided in :mod:`ledger.integrity.bundle_trust`, and the verdicts in
:mod:`ledger.integrity.bundle_report`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeGuard

import orjson
import rfc8785

FORMAT = "custody-ledger-bundle/1"
ZERO_HASH_HEX = "0" * 64

# The exact keys of each kind of line: a line with any other set is malformed.
HEADER_KEYS = frozenset(
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
EVENT_KEYS = frozenset(("kind", "position", "hash", "state"))
EVENT_B64_KEYS = frozenset(("kind", "position", "hash", "state_b64"))
CONSISTENCY_KEYS = frozenset(("kind", "from", "to", "proof"))
INCLUSION_KEYS = frozenset(("kind", "position", "size", "hash", "proof"))
END_KEYS = frozenset(("kind", "events", "last_position", "last_hash"))
METADATA_KINDS = ("checkpoint", "consistency", "inclusion")
_HEX = frozenset("0123456789abcdef")
_SAFE_INT = 2**53 - 1


# --- line fields --------------------------------------------------------------------


def is_int(value: object) -> TypeGuard[int]:
    """A JSON integer: ``bool`` is not one, though Python says it is an ``int``."""
    return type(value) is int


def is_hex_hash(value: object) -> TypeGuard[str]:
    """64 lowercase hex characters: uppercase would decode to the same bytes, so is refused."""
    return isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value)


def hex_list(value: object) -> list[bytes] | None:
    """A list of hex hashes as bytes, or ``None`` if ``value`` is not exactly that."""
    if not isinstance(value, list) or not all(is_hex_hash(item) for item in value):
        return None
    return [bytes.fromhex(item) for item in value]


# --- canonical JSON -----------------------------------------------------------------

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


def dict_safe(record: dict[str, Any]) -> bool:
    """Whether every number in ``record`` is one orjson and RFC 8785 spell alike."""
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
        if orjson.dumps(record, option=orjson.OPT_SORT_KEYS) != state or not dict_safe(record):
            return False
    except (orjson.JSONEncodeError, RecursionError):
        return False
    return state.isascii() or _keys_in_bmp(record)


def is_canonical(state: bytes, record: Any) -> bool:
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
