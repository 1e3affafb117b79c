"""The offline verifier behind ``ledger verify`` (SPEC.md §4): :func:`verify_bundle` and
:func:`verify_bundle_file` read a bundle once, front to back, and return a
:class:`~ledger.integrity.bundle_report.VerifyReport`.

This module reads the header and the checkpoint and proof lines, then hands the event
lines to :mod:`ledger.integrity.bundle_events` and the final judgement to
:mod:`ledger.integrity.bundle_trust`; what all of them learn is kept in one
:class:`~ledger.integrity.bundle_evidence.Evidence`.

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
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from ledger.integrity.bundle_events import check_events
from ledger.integrity.bundle_evidence import ConsistencyLine, Evidence, InclusionLine
from ledger.integrity.bundle_format import (
    CONSISTENCY_KEYS,
    FORMAT,
    HEADER_KEYS,
    INCLUSION_KEYS,
    METADATA_KINDS,
    ZERO_HASH_HEX,
    hex_list,
    is_hex_hash,
    is_int,
)
from ledger.integrity.bundle_report import FailureLog, Verdict, VerifyReport, error_report
from ledger.integrity.bundle_trust import settle_trust
from ledger.integrity.checkpoints import (
    Checkpoint,
    CheckpointFormatError,
    b64decode_strict,
    key_id_for,
    parse_public_key,
    verify_checkpoint,
)
from ledger.integrity.merkle import EMPTY_ROOT, Frontier, MerkleError, leaf_hash, verify_inclusion


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
            return error_report(f"the trusted public key is invalid: {exc}")
    verifier = _Verifier(trusted_key, trusted_checkpoint, progress)
    try:
        verifier.run(enumerate(lines, start=1))
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
        return error_report(f"could not open the bundle: {exc}")


class _Stop(Exception):
    """Verification cannot go on; the reason has already been recorded."""


class _Verifier:
    """One pass over one bundle: :meth:`run` reads the lines in order, once."""

    def __init__(
        self,
        trusted_key: bytes | None,
        trusted_checkpoint: Mapping[str, Any] | None,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.failures = FailureLog()
        self.report = VerifyReport()
        self.progress = progress
        self.trusted_key = trusted_key
        self.trusted_raw = trusted_checkpoint
        self.verify_key = b""
        self.key_id = ""
        self.ev = Evidence()

    def run(self, numbered: Iterator[tuple[int, bytes]]) -> None:
        self.header(*self._header_line(numbered))
        first_event = self._metadata_lines(numbered)
        ev = self.ev
        self.report.events = check_events(
            ev, self.failures, itertools.chain(first_event, numbered), self.progress
        )
        if ev.ended:
            for line, raw in numbered:
                if raw.strip():
                    self.failures.tampered("there is content after the end line", None, line)
                    break
        self.report.signed_through = settle_trust(ev, self.failures)

    def build_report(self) -> VerifyReport:
        self.report.last_position = self.ev.last_position
        return self.failures.conclude(self.report)

    # reading the lines before the events -----------------------------------------------

    def _header_line(self, numbered: Iterator[tuple[int, bytes]]) -> tuple[Any, int]:
        """The first non-blank line, parsed, and its number."""
        f = self.failures
        for line, raw in numbered:
            if not raw.strip():
                continue
            try:
                return orjson.loads(raw), line
            except orjson.JSONDecodeError:
                if raw.endswith(b"\n") or next(numbered, None) is not None:
                    f.add(
                        Verdict.ERROR, f"not a {FORMAT} bundle: line {line} is not JSON", None, line
                    )
                else:
                    f.incomplete("the bundle is cut off inside its header line", None, line)
                raise _Stop from None
        f.incomplete("the bundle is empty")
        raise _Stop

    def _metadata_lines(self, numbered: Iterator[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
        """Read checkpoint and proof lines; returns the first line after them, if any."""
        for line, raw in numbered:
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                if not raw.strip():
                    continue
                obj = None
            kind = obj.get("kind") if type(obj) is dict else None
            if kind in METADATA_KINDS:
                self.metadata(obj, kind, line)
            else:
                return [(line, raw)]
        return []

    # the header ------------------------------------------------------------------------

    def header(self, obj: Any, line: int) -> None:
        if not isinstance(obj, dict) or obj.get("kind") != "header" or obj.get("format") != FORMAT:
            self.failures.add(
                Verdict.ERROR, f"not a {FORMAT} bundle: line {line} is not its header", None, line
            )
            raise _Stop
        if obj.keys() != HEADER_KEYS:
            self.failures.tampered("header has missing or unknown fields", None, line)
            raise _Stop
        self._read_range(obj, line)
        self._read_key(obj, line)
        self._read_prev_hash(obj, line)
        self._read_frontier(obj, line)
        self.ev.want_root(self.ev.until)
        self._load_trusted()

    def _read_range(self, obj: dict[str, Any], line: int) -> None:
        after, until = obj["after"], obj["until"]
        if not (is_int(after) and is_int(until)) or not 0 <= after <= until:
            self.failures.tampered(
                "header after/until are not integers with 0 <= after <= until", None, line
            )
            raise _Stop
        self.ev.after, self.ev.until, self.ev.last_position = after, until, after
        self.report.after, self.report.until = after, until

    def _read_key(self, obj: dict[str, Any], line: int) -> None:
        """The key the checkpoints must be signed by: the trusted one if pinned."""
        f = self.failures
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

    def _read_prev_hash(self, obj: dict[str, Any], line: int) -> None:
        prev_hash = obj["prev_hash"]
        if not is_hex_hash(prev_hash) or (self.ev.after == 0 and prev_hash != ZERO_HASH_HEX):
            self.failures.tampered(
                "header prev_hash is not a hash (or not zeros for after = 0)", None, line
            )
            raise _Stop
        self.ev.prev_hash = prev_hash

    def _read_frontier(self, obj: dict[str, Any], line: int) -> None:
        """The frontier at ``after``, and ``prev_hash`` proven to be its last leaf."""
        f, ev = self.failures, self.ev
        after = ev.after
        nodes, path = hex_list(obj["frontier"]), hex_list(obj["prev_proof"])
        if nodes is None or path is None:
            f.tampered("header frontier/prev_proof are not lists of hashes", None, line)
            raise _Stop
        try:
            ev.frontier = Frontier.from_nodes(after, nodes)
        except MerkleError as exc:
            f.tampered(f"header frontier: {exc}", None, line)
            raise _Stop from None
        root = ev.frontier.root()
        ev.computed[after] = root
        if after == 0:
            if path:
                f.tampered("header prev_proof must be empty when after = 0", None, line)
        elif not verify_inclusion(
            leaf_hash(bytes.fromhex(ev.prev_hash)), after - 1, after, path, root
        ):
            f.tampered(
                f"header prev_hash is not event {after} of the tree its frontier describes",
                after,
                line,
            )

    def _load_trusted(self) -> None:
        raw = self.trusted_raw
        if raw is None:
            return
        f = self.failures
        size, root_hex = raw.get("tree_size"), raw.get("root")
        if not (is_int(size) and size >= 0 and is_hex_hash(root_hex)):
            f.add(Verdict.ERROR, "the trusted checkpoint needs a tree_size and a 64-hex root")
            raise _Stop
        self.ev.trusted = (size, bytes.fromhex(root_hex))
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
        self.ev.want_root(size)

    # checkpoint and proof lines --------------------------------------------------------

    def metadata(self, obj: dict[str, Any], kind: str, line: int) -> None:
        if kind == "checkpoint":
            self.report.checkpoints += 1
            self._checkpoint(obj, line)
        elif kind == "consistency":
            self.report.consistency_proofs += 1
            self._consistency(obj, line)
        else:
            self.report.inclusion_proofs += 1
            self._inclusion(obj, line)

    def _consistency(self, obj: dict[str, Any], line: int) -> None:
        size1, size2, path = obj.get("from"), obj.get("to"), hex_list(obj.get("proof"))
        if obj.keys() != CONSISTENCY_KEYS or not (
            is_int(size1) and is_int(size2) and min(size1, size2) >= 0
        ):
            path = None
        if path is None:
            self.failures.tampered("malformed consistency proof line", None, line)
            return
        assert is_int(size1) and is_int(size2)
        self.ev.proofs.append(ConsistencyLine(size1, size2, path, line))
        self.ev.want_root(size1)
        self.ev.want_root(size2)

    def _inclusion(self, obj: dict[str, Any], line: int) -> None:
        position, size = obj.get("position"), obj.get("size")
        hash_hex, path = obj.get("hash"), hex_list(obj.get("proof"))
        if (
            obj.keys() != INCLUSION_KEYS
            or not (is_int(position) and is_int(size) and is_hex_hash(hash_hex))
            or not 0 < position <= size
            or path is None
        ):
            self.failures.tampered("malformed inclusion proof line", None, line)
            return
        inclusion = InclusionLine(position, size, bytes.fromhex(hash_hex), path, line)
        self.ev.inclusions.append(inclusion)
        self.ev.want_root(size)
        self.ev.watch_hash(inclusion)

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
        if size in self.ev.signed and self.ev.signed[size][0] != root:
            f.tampered(
                f"two signed checkpoints of size {size} have different roots (a fork)", size, line
            )
            return
        if size == 0 and root != EMPTY_ROOT:
            f.tampered(
                "a signed checkpoint of size 0 has a root other than the empty tree's", None, line
            )
            return
        self.ev.signed[size] = (root, line)
        self.ev.want_root(size)
