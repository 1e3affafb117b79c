"""What one pass of the bundle verifier has learned so far: the range, the frontier the
events grow, the roots computed at the few sizes that matter, the signed roots, and the
proofs waiting to be checked once the events have streamed past.

The header and metadata lines fill it (:mod:`ledger.integrity.bundle_verify`), the
event lines extend it (:mod:`ledger.integrity.bundle_events`), and the trust step reads
it at the end (:mod:`ledger.integrity.bundle_trust`). It holds no entry per event, so a
pass runs in bounded memory however long the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.integrity.bundle_format import ZERO_HASH_HEX
from ledger.integrity.merkle import EMPTY_ROOT, Frontier

# What to do when the event at a watched position has been appended (bit flags).
TAKE_ROOT = 1
CHECK_HASH = 2


@dataclass(slots=True)
class ConsistencyLine:
    """A consistency proof from the bundle, checked once the roots are known."""

    size1: int
    size2: int
    proof: list[bytes]
    line: int


@dataclass(slots=True)
class InclusionLine:
    """An inclusion proof from the bundle, checked once the roots are known."""

    position: int
    size: int
    event_hash: bytes
    proof: list[bytes]
    line: int


@dataclass(slots=True)
class Evidence:
    """The state of one pass; the header sets the range, everything else grows from it."""

    after: int = 0
    until: int = 0
    prev_hash: str = ZERO_HASH_HEX
    frontier: Frontier = field(default_factory=Frontier)
    # Roots the events produce, at the few sizes something needs to be compared.
    computed: dict[int, bytes] = field(default_factory=dict)
    # Roots of checkpoints whose signature verified: size -> (root, line).
    signed: dict[int, tuple[bytes, int]] = field(default_factory=dict)
    # The trusted checkpoint given by the auditor: (size, root).
    trusted: tuple[int, bytes] | None = None
    proofs: list[ConsistencyLine] = field(default_factory=list)
    inclusions: list[InclusionLine] = field(default_factory=list)
    # position -> what to do when the event at that position has been appended.
    stops: dict[int, int] = field(default_factory=dict)
    watched: dict[int, list[InclusionLine]] = field(default_factory=dict)
    # False once events are missing, repeated or unreadable: roots computed after
    # that are meaningless, so they are neither compared nor reported.
    merkle_ok: bool = True
    last_position: int | None = None
    ended: bool = False

    def want_root(self, size: int) -> None:
        """Take the root when the events reach ``size``, if that is within the range."""
        if self.after < size <= self.until:
            self.stops[size] = self.stops.get(size, 0) | TAKE_ROOT

    def watch_hash(self, inclusion: InclusionLine) -> None:
        """Compare the hash an inclusion proof names with the event's, if in range."""
        position = inclusion.position
        if self.after < position <= self.until:
            self.stops[position] = self.stops.get(position, 0) | CHECK_HASH
            self.watched.setdefault(position, []).append(inclusion)

    def root_at(self, size: int) -> bytes | None:
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

    def root_agrees(self, size: int, root: bytes) -> bool:
        """Whether no signed or trusted root of ``size`` contradicts ``root``."""
        if size in self.signed and self.signed[size][0] != root:
            return False
        return not (
            self.trusted is not None and self.trusted[0] == size and self.trusted[1] != root
        )

    @property
    def complete(self) -> bool:
        """Whether the events all arrived, in order, up to the trailer."""
        return self.merkle_ok and self.ended and self.last_position == self.until
