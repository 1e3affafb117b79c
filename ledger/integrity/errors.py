"""The one error the ledger's integrity use cases raise when the stored log contradicts
itself or its checkpoints (mapped to HTTP by ``api/errors.py``)."""

from __future__ import annotations

from ledger.errors import LedgerError


class IntegrityFailure(LedgerError):
    """The stored log contradicts itself or its checkpoints: nothing was signed or proven."""

    title = "Integrity failure"


class TamperedLogError(IntegrityFailure):
    """The log's head was not written by the append path, or the log went backwards:
    the ledger refuses to append to it, sign it or prove from it."""

    title = "Tampered log"

    def __init__(self, detail: str, position: int) -> None:
        super().__init__(detail)
        self.position = position
