"""The ledger's checkpoints as C2SP notes, and the witness cosignatures it keeps.

``GET /v1/audit/checkpoint`` serves the latest checkpoint (or one of a given size) as a
``c2sp.org/tlog-checkpoint`` note: the same tree size and root as the JSON checkpoint
of that size, signed with the same Ed25519 key under the key name = origin
``custody-ledger/<key id>`` (:mod:`ledger.integrity.notes`), followed by every witness
cosignature the ledger was sent for it. Notes are signed when asked for: Ed25519 is
deterministic, so a note has the same bytes every time and nothing more is stored.

``POST /v1/audit/cosignatures?witness=VKEY`` takes the checkpoint note with a
witness's cosignature line(s) and keeps them when they verify, refusing as tlog-witness
would: 404 for a checkpoint this ledger did not sign, 403 for a signature that does not
verify, 409 with the size held for a root other than the ledger's (a split view) or a
size below one this witness already cosigned here (a witness rolling back).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.errors import NotFoundError, Problem
from ledger.integrity.checkpoints import Signer
from ledger.integrity.notes import (
    COSIGNATURE_V1,
    CheckpointBody,
    Note,
    NoteError,
    NoteSignature,
    NoteVerifier,
    checkpoint_note,
    cosignature_time,
    log_verifier,
    origin_for,
    verify_signature,
)
from ledger.integrity.service import IntegrityService
from ledger.integrity.store import StoredCheckpoint
from ledger.integrity.witness import WitnessRefusal
from ledger.store.tables import cosignatures


class CheckpointNotes:
    """Checkpoint notes and cosignatures over one :class:`IntegrityService`."""

    def __init__(self, integrity: IntegrityService) -> None:
        self.integrity = integrity

    @property
    def signer(self) -> Signer:
        return self.integrity.signer

    def verifier(self) -> NoteVerifier:
        return log_verifier(self.signer.public_key, self.signer.key_id)

    def origin(self) -> str:
        return origin_for(self.signer.key_id)

    def stored(self, size: int | None) -> StoredCheckpoint:
        """The checkpoint of ``size`` by this key, or the latest; 404 if there is none."""
        key_id = self.signer.key_id
        with self.integrity.engine.connect() as conn:
            found = (
                self.integrity.store.latest(conn, key_id)
                if size is None
                else self.integrity.store.at(conn, size, key_id)
            )
        if found is None:
            what = "no checkpoint yet" if size is None else f"no checkpoint of tree size {size}"
            raise NotFoundError(
                f"{what} by key {key_id}; an admin can make one with POST /v1/audit/checkpoints",
                [Problem("size", what)],
            )
        return found

    def note_of(self, stored: StoredCheckpoint) -> Note:
        """The signed note of ``stored`` with the cosignatures kept for it."""
        note = checkpoint_note(self.signer, stored.tree_size, stored.checkpoint.root_bytes)
        with self.integrity.engine.connect() as conn:
            lines = conn.execute(
                sa.select(cosignatures.c.line)
                .where(
                    cosignatures.c.tree_size == stored.tree_size,
                    cosignatures.c.key_id == stored.key_id,
                )
                .order_by(cosignatures.c.witness)
            ).scalars()
            extra = [NoteSignature.parse_line(line) for line in lines]
        return note.with_signatures(extra)

    def note(self, size: int | None = None) -> str:
        return self.note_of(self.stored(size)).encode()

    def add_cosignature(self, witness_vkey: str, body: str) -> str:
        """Keep the cosignature(s) by ``witness_vkey`` on the checkpoint note ``body``;
        answer the lines kept. Raises :class:`WitnessRefusal` (see the module docstring)."""
        try:
            witness = NoteVerifier.parse(witness_vkey)
        except NoteError as exc:
            raise WitnessRefusal(422, f"witness: {exc}") from None
        if witness.sig_type != COSIGNATURE_V1:
            raise WitnessRefusal(422, "witness: a cosignature key has type 0x04")
        origin = self.origin()  # the key first: an unusable key is a 500, whatever the body
        try:
            note = Note.parse(body)
            checkpoint = CheckpointBody.parse(note.text)
        except NoteError as exc:
            raise WitnessRefusal(422, f"body: not a checkpoint note: {exc}") from None
        if checkpoint.origin != origin:
            raise WitnessRefusal(404, f"unknown origin {checkpoint.origin!r}")
        if verify_signature(note, self.verifier()) is not True:
            raise WitnessRefusal(403, "the checkpoint is not validly signed by this ledger")
        key_id = self.signer.key_id
        with self.integrity.engine.begin() as conn:
            self.integrity.store.lock(conn)
            stored = self.integrity.store.at(conn, checkpoint.tree_size, key_id)
            if stored is None:
                raise WitnessRefusal(
                    404, f"this ledger signed no checkpoint of size {checkpoint.tree_size}"
                )
            if stored.checkpoint.root_bytes != checkpoint.root:
                raise WitnessRefusal(
                    409,
                    f"split view: this ledger's checkpoint {checkpoint.tree_size} has another root",
                    checkpoint.tree_size,
                )
            held = self._witness_size(conn, key_id, witness.vkey())
            if held is not None and held > checkpoint.tree_size:
                raise WitnessRefusal(
                    409,
                    f"this witness already cosigned size {held} here: a cosignature of a "
                    "smaller tree is a rollback",
                    held,
                )
            kept: list[str] = []
            for sig in note.signatures:
                timestamp = cosignature_time(note.text, sig, witness)
                if sig.matches(witness) and timestamp is None:
                    raise WitnessRefusal(403, "the witness's cosignature does not verify")
                if timestamp is not None:
                    kept.append(sig.line())
                    self._store(
                        conn, checkpoint.tree_size, key_id, witness.vkey(), timestamp, sig.line()
                    )
            if not kept:
                raise WitnessRefusal(403, "no cosignature by this witness on the checkpoint")
        return "".join(kept)

    @staticmethod
    def _witness_size(conn: Connection, key_id: str, vkey: str) -> int | None:
        value = conn.execute(
            sa.select(sa.func.max(cosignatures.c.tree_size)).where(
                cosignatures.c.key_id == key_id, cosignatures.c.witness == vkey
            )
        ).scalar()
        return int(value) if value is not None else None

    @staticmethod
    def _store(
        conn: Connection, size: int, key_id: str, vkey: str, timestamp: int, line: str
    ) -> None:
        where = (
            (cosignatures.c.tree_size == size)
            & (cosignatures.c.key_id == key_id)
            & (cosignatures.c.witness == vkey)
        )
        conn.execute(cosignatures.delete().where(where))
        conn.execute(
            cosignatures.insert().values(
                tree_size=size, key_id=key_id, witness=vkey, timestamp=timestamp, line=line
            )
        )
