"""The verifier's hot loop: the event lines of a bundle, from the first event to the end
line (or to the end of input), checked one by one in constant memory.

Every event: ``SHA-256(state) = hash``; ``state`` is RFC 8785 canonical JSON; its
``prev_hash`` is the previous event's hash (the header's ``prev_hash`` for the first);
positions run ``after+1 .. until`` without gap, repeat or reordering. Each hash is
appended to the Merkle frontier, whose root is taken at the sizes the header and the
metadata asked for (:attr:`Evidence.stops`). The end line is checked against the header
and the last event.

The loop is meant to run at about 100k events a second, so the common case of an event
runs inline in :meth:`_EventCursor._check_event` and every failure has its own named
step; the cursor has ``__slots__``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from hashlib import sha256
from typing import Any

import orjson

from ledger.integrity.bundle_evidence import CHECK_HASH, TAKE_ROOT, Evidence
from ledger.integrity.bundle_format import (
    END_KEYS,
    EVENT_B64_KEYS,
    EVENT_KEYS,
    METADATA_KINDS,
    dict_safe,
    is_canonical,
    is_hex_hash,
    is_int,
)
from ledger.integrity.bundle_report import FailureLog
from ledger.integrity.checkpoints import CheckpointFormatError, b64decode_strict

PROGRESS_EVERY = 10_000


class _Garbage:
    """Stands in for a line that is not JSON at all."""


class _Blank:
    """Stands in for a line with nothing to judge yet (blank, or possibly cut off)."""


_GARBAGE: Any = _Garbage()
_BLANK: Any = _Blank()


def check_events(
    evidence: Evidence,
    failures: FailureLog,
    numbered: Iterable[tuple[int, bytes]],
    progress: Callable[[int], None] | None,
) -> int:
    """Check the event lines and the end line; returns how many events were read."""
    cursor = _EventCursor(evidence, failures)
    cursor.run(numbered, progress)
    return cursor.count


class _EventCursor:
    """Where the pass stands: the next position expected and the hashes it must link to."""

    __slots__ = (
        "_append",
        "count",
        "cut",
        "ev",
        "expected",
        "f",
        "prev_hex",
        "prev_prev_hex",
    )

    def __init__(self, evidence: Evidence, failures: FailureLog) -> None:
        self.ev = evidence
        self.f = failures
        self._append = evidence.frontier.append
        self.expected = evidence.after + 1
        # The hash the next event must link to; None after a gap (nothing to compare).
        self.prev_hex: str | None = evidence.prev_hash
        self.prev_prev_hex: str | None = None
        # A line that is not JSON is judged when the next line arrives: if none does and
        # the line has no newline, the input was cut off mid-line (incomplete), not edited.
        self.cut: tuple[int, bytes] | None = None
        self.count = 0

    def run(
        self, numbered: Iterable[tuple[int, bytes]], progress: Callable[[int], None] | None
    ) -> None:
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        countdown = PROGRESS_EVERY
        for line, raw in numbered:
            try:
                obj = loads(raw)
            except decode_error:
                obj = self._undecodable(line, raw)
                if obj is _BLANK:
                    continue
            if self.cut is not None:
                self._judge_cut()
            event = self._event_fields(obj, line)
            if event is None:
                if self._non_event(obj, line):
                    break
                continue
            if not self._check_event(*event, line):
                continue
            countdown -= 1
            if countdown == 0:
                countdown = PROGRESS_EVERY
                if progress is not None:
                    progress(self.count)
        else:
            self._ended_without_trailer()
        self._check_overrun()
        self.ev.last_position = self.expected - 1
        if progress is not None:
            progress(self.count)

    # reading lines ---------------------------------------------------------------------

    def _undecodable(self, line: int, raw: bytes) -> Any:
        """``_BLANK`` for a line with nothing to judge yet, else ``_GARBAGE``."""
        if not raw.strip():
            return _BLANK
        if self.cut is None and not raw.endswith(b"\n"):
            self.cut = (line, raw)
            return _BLANK
        return _GARBAGE

    def _judge_cut(self) -> None:
        """Another line follows the one without a newline: that was damage, not the end."""
        assert self.cut is not None
        cut_line, expected = self.cut[0], self.expected
        self.f.tampered(
            f"line {cut_line} is not JSON (expected event {expected})", expected, cut_line
        )
        self._skip_damaged()
        self.cut = None

    def _event_fields(self, obj: Any, line: int) -> tuple[Any, Any, bytes] | None:
        """``(position, hash, state bytes)`` of an event line; ``None`` for any other line."""
        if type(obj) is not dict or obj.get("kind") != "event":
            return None
        keys = obj.keys()
        if keys == EVENT_KEYS:
            text = obj["state"]
            if type(text) is str:
                state = text.encode("utf-8")
            else:
                self.f.tampered("event state is not a string", self.expected, line)
                state = b""
        elif keys == EVENT_B64_KEYS:
            try:
                state = b64decode_strict(obj["state_b64"])
            except (CheckpointFormatError, AttributeError):
                self.f.tampered("event state_b64 is not canonical base64", self.expected, line)
                state = b""
        else:
            return None
        return obj["position"], obj["hash"], state

    def _non_event(self, obj: Any, line: int) -> bool:
        """Judge a line that is not an event; ``True`` if it is the end line."""
        kind = obj.get("kind") if type(obj) is dict else None
        if kind == "end":
            self._trailer(obj, line)
            return True
        if kind in METADATA_KINDS:
            self.f.tampered(f"{kind} line after the first event", None, line)
            return False
        what = "not JSON" if obj is _GARBAGE else "not an event line"
        expected = self.expected
        self.f.tampered(f"line {line} is {what} (expected event {expected})", expected, line)
        # Most likely the damaged line *was* that event: move past it.
        self._skip_damaged()
        return False

    def _skip_damaged(self) -> None:
        self.expected += 1
        self._break_chain()

    def _break_chain(self) -> None:
        """Events are missing or unreadable: no link to compare, no root worth taking."""
        self.prev_hex = self.prev_prev_hex = None
        self.ev.merkle_ok = False

    # checking one event ----------------------------------------------------------------

    def _check_event(self, position: Any, hash_hex: Any, state: bytes, line: int) -> bool:
        """Check one event and add it to the tree; ``False`` if it was skipped.

        The common case runs inline; each failure has its own step.
        """
        in_sequence = position == self.expected and type(position) is int
        if not in_sequence and not self._out_of_sequence(position, line):
            return False
        digest = sha256(state).digest()
        if digest.hex() != hash_hex:
            digest, hash_hex = self._wrong_hash(digest, hash_hex, position, line)
        try:
            record = orjson.loads(state)
        except orjson.JSONDecodeError:
            record = None
        if type(record) is not dict:
            self.f.tampered("the state is not a JSON object", position, line)
        else:
            if self.prev_hex is not None and record.get("prev_hash") != self.prev_hex:
                self._broken_link(record.get("prev_hash"), position, line)
            # The common case of is_canonical, inlined: an all-ASCII record that orjson
            # reproduces byte for byte and that holds no number it could spell
            # differently from RFC 8785.
            try:
                plain = (
                    state.isascii()
                    and orjson.dumps(record, option=orjson.OPT_SORT_KEYS) == state
                    and dict_safe(record)
                )
            except (orjson.JSONEncodeError, RecursionError):
                plain = False  # nested too deeply for orjson or the walk
            if not plain and not is_canonical(state, record):
                self.f.tampered("the state is not RFC 8785 canonical JSON", position, line)
        self._append(sha256(b"\x00" + digest).digest())
        if position in self.ev.stops:
            self._stop(position, digest)
        self.prev_prev_hex, self.prev_hex = self.prev_hex, hash_hex
        self.expected = position + 1
        self.count += 1
        return True

    def _out_of_sequence(self, position: Any, line: int) -> bool:
        """Report a position other than the next; ``True`` if the event is still checked
        (a gap), ``False`` if it is skipped (repeated, earlier or not a number)."""
        expected = self.expected
        if type(position) is not int or position < expected:
            self.f.tampered(
                f"event position {position!r} is repeated, out of order or not a "
                f"number (expected {expected})",
                position if type(position) is int and position > self.ev.after else expected,
                line,
            )
            self.ev.merkle_ok = False
            return False
        gap = (
            f"event {expected} is"
            if position == expected + 1
            else (f"events {expected}..{position - 1} are")
        )
        self.f.tampered(f"{gap} missing (event {position} follows)", expected, line)
        self._break_chain()
        return True

    def _wrong_hash(
        self, digest: bytes, hash_hex: Any, position: int, line: int
    ) -> tuple[bytes, str]:
        """The hash to carry on (bytes and hex) when the line's is not the state's."""
        if is_hex_hash(hash_hex):
            self.f.tampered("the SHA-256 of the state is not the event's hash", position, line)
            # The stored hash is what the next event and the signed tree committed
            # to; carrying it on makes one edited state one failure, not a cascade.
            return bytes.fromhex(hash_hex), hash_hex
        self.f.tampered("the event hash is not 64 lowercase hex characters", position, line)
        return digest, digest.hex()

    def _broken_link(self, link: Any, position: int, line: int) -> None:
        if link is not None and link == self.prev_prev_hex:
            self.f.tampered(
                f"event {position} links to event {position - 2}, so event "
                f"{position - 1} is not part of the original chain (inserted)",
                position - 1,
                line,
            )
        else:
            self.f.tampered(
                f"event {position}'s prev_hash is not the hash of event "
                f"{position - 1}: event {position - 1} was altered and re-hashed, "
                f"events were removed or inserted before {position}, or event "
                f"{position} is forged",
                position,
                line,
            )

    def _stop(self, position: int, digest: bytes) -> None:
        """At a watched position: take the root, compare the hash inclusion proofs name."""
        ev = self.ev
        what = ev.stops[position]
        if what & TAKE_ROOT and ev.merkle_ok:
            ev.computed[position] = ev.frontier.root()
        if what & CHECK_HASH:
            for inclusion in ev.watched[position]:
                if inclusion.event_hash != digest:
                    self.f.tampered(
                        f"an inclusion proof names another hash for event {position}",
                        position,
                        inclusion.line,
                    )

    # the end ---------------------------------------------------------------------------

    def _trailer(self, obj: dict[str, Any], line: int) -> None:
        f, ev = self.f, self.ev
        ev.ended = True
        if obj.keys() != END_KEYS:
            f.tampered("the end line has missing or unknown fields", None, line)
            return
        last, until = self.expected - 1, ev.until
        events, last_position = obj["events"], obj["last_position"]
        if not is_int(last_position) or last_position != until:
            f.tampered(
                f"the end line's last_position {last_position!r} is not the header's {until}",
                None,
                line,
            )
        if not is_int(events) or events != until - ev.after:
            f.tampered(
                f"the end line counts {events!r} events, the header's range {until - ev.after}",
                None,
                line,
            )
        if last < until:
            f.incomplete(
                f"events {last + 1}..{until} are missing at the end of the bundle", last + 1, line
            )
        elif obj["last_hash"] != self.prev_hex and ev.merkle_ok:
            f.tampered("the end line's last_hash is not the last event's hash", last, line)

    def _ended_without_trailer(self) -> None:
        last, until = self.expected - 1, self.ev.until
        missing = f" (events {last + 1}..{until} missing)" if last < until else ""
        where = f", cut off in line {self.cut[0]}" if self.cut is not None else ""
        self.f.incomplete(
            f"the bundle ends without its end line, after event {last}{missing}{where}",
            last + 1,
        )

    def _check_overrun(self) -> None:
        until = self.ev.until
        if self.expected - 1 > until:
            self.f.tampered(
                f"events after the header's last position {until} (up to {self.expected - 1})",
                until + 1,
            )
