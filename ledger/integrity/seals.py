"""Seals: what makes a row at the head of the log provably the append path's.

A hash chain shows that rows were not changed *after* something signed them; it cannot
show who wrote the newest rows. Anyone who can write to the database can add a row
with a valid chain (compute the hash, link it) or cut the tail, and a checkpointer that
only re-checks the chain would then sign the forgery. So every append transaction also
*seals* its last event: an Ed25519 signature, by the ledger's signing key, over

    custody-ledger seal v1\\n
    {position}\\n            decimal, no sign, no leading zeros
    {hash}\\n                64 lowercase hex characters: the event's chain hash

stored in that event's ``seal`` column in the same transaction. The version line keeps
a seal apart from a checkpoint (``custody-ledger checkpoint v1``), so neither can be
passed off as the other. Because each event's hash covers the one before it, a valid
seal on the head vouches for every event back to the previous seal, and so to the
start of the log: a database-only attacker can neither append (no key, no seal) nor
re-chain (the head's hash changes and its seal no longer verifies).

The append path refuses to write on a head that is not sealed (the forgery would
otherwise be chained into, and vouched for by, the next honest seal); checkpoints refuse
to sign one; ``ledger verify --database`` reports it as tampered with the first
position after the last valid seal. Tail cuts leave a well-sealed shorter log, so they
are caught by what the database does not hold: the checkpointer's record of what it
signed last (:mod:`ledger.integrity.signed_state`) and each appending process's memory
of how far it wrote.

Rows written before seals existed (a database migrated from an earlier revision) are
listed by the migration as ``ledger_seal_origin.unsealed_through``; they are trusted as
before — through checkpoints only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.integrity.checkpoints import SIGNATURE_SIZE, Signer

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ledger.integrity.store import IntegrityStore

SEAL_HEADER = b"custody-ledger seal v1\n"
SEAL_SIZE = SIGNATURE_SIZE


def seal_message(position: int, digest: bytes) -> bytes:
    """The exact bytes a seal signs for the event at ``position`` with chain hash ``digest``."""
    if position < 1 or len(digest) != 32:
        raise ValueError("a seal names a position ≥ 1 and a 32-byte hash")
    return b"%s%d\n%s\n" % (SEAL_HEADER, position, digest.hex().encode("ascii"))


class SealChecker:
    """Checks seals with a public key (what an auditor holding only the key can do)."""

    __slots__ = ("_public",)

    def __init__(self, public_key: bytes) -> None:
        self._public = Ed25519PublicKey.from_public_bytes(public_key)

    def check(self, position: int, digest: bytes, seal: bytes | None) -> bool:
        if seal is None or len(seal) != SEAL_SIZE:
            return False
        try:
            self._public.verify(bytes(seal), seal_message(position, bytes(digest)))
        except (InvalidSignature, ValueError):
            return False
        return True


class Sealer(SealChecker):
    """Seals with the ledger's signing key, and checks seals with its public half."""

    __slots__ = ("_signer",)

    def __init__(self, signer: Signer) -> None:
        super().__init__(signer.public_key)
        self._signer = signer

    @property
    def key_id(self) -> str:
        return self._signer.key_id

    def seal(self, position: int, digest: bytes) -> bytes:
        return self._signer.sign(seal_message(position, digest))


def first_unsealed(
    store: IntegrityStore, conn: Connection, checker: SealChecker, signed_through: int, head: int
) -> int | None:
    """The first event in ``signed_through+1..head`` that no valid seal vouches for
    (``None`` when the head is sealed, or older than seals).

    A valid seal at position ``p`` vouches for every event up to ``p`` (through the
    chain); the events after the last valid seal were not written by the append path.
    """
    floor = max(signed_through, store.unsealed_through(conn))
    if head <= floor:
        return None
    for position, digest, seal in store.sealed_rows(conn, floor, head):
        if checker.check(position, digest, seal):
            return None if position == head else position + 1
    return floor + 1


def rechained_append(
    store: IntegrityStore, conn: Connection, checker: SealChecker, head: int
) -> tuple[int, int] | None:
    """Where a re-chained rewrite began, to the append: ``(first, last)`` positions of
    the first append whose seal no longer verifies, when every seal from it to the head
    fails and every seal before it holds (what editing an event and re-hashing all
    later ones does). ``None`` when the seals do not show that shape.

    A re-chain keeps every row self-consistent, so only signed roots catch it, at a
    checkpoint; the seals, one per append, narrow it down — by bisection, so a log of
    a million appends costs about twenty signature checks.
    """
    floor = store.unsealed_through(conn)
    sealed = store.sealed_positions(conn, floor, head)
    if not sealed:
        return None

    def holds(i: int) -> bool:
        return checker.check(sealed[i], *store.sealed_row(conn, sealed[i]))

    if holds(len(sealed) - 1):
        return None
    lo, hi = 0, len(sealed) - 1  # the answer is in [lo, hi]: sealed[hi] fails
    while lo < hi:
        mid = (lo + hi) // 2
        if holds(mid):
            lo = mid + 1
        else:
            hi = mid
    first = sealed[lo - 1] + 1 if lo else floor + 1
    return first, sealed[lo]
