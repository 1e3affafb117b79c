"""The one error the ledger's integrity use cases raise when the stored log contradicts
itself or its checkpoints (mapped to HTTP by ``api/errors.py``)."""

from __future__ import annotations

from ledger.errors import LedgerError


class IntegrityFailure(LedgerError):
    """The stored log contradicts itself or its checkpoints: nothing was signed or proven."""

    title = "Integrity failure"
