"""What the checkpointer signed last, kept where the database cannot change it.

Cutting the tail of the log and deleting its checkpoints leaves a shorter log that is
chained, sealed and signed throughout: nothing *in* the database can tell it from a
ledger that never had those events. So the checkpointer also records its latest
checkpoint in a file beside the signing key (``<key file>.last-checkpoint.json``); a
signer never signs a log that is shorter than that checkpoint or does not contain it,
and ``ledger verify --database`` holds the database to it (exit 1, tampered). Witnesses
(several parties holding checkpoints) extend the same protection beyond this machine.

Restoring the database from a backup looks exactly like a cut, and is reported as one:
after a deliberate restore, move this file aside (and keep it: it proves what was
signed before the restore).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import orjson

from ledger.integrity.checkpoints import Checkpoint, CheckpointFormatError

SUFFIX = ".last-checkpoint.json"


def state_file(signing_key_file: Path) -> Path:
    return signing_key_file.with_name(signing_key_file.name + SUFFIX)


def read_last(signing_key_file: Path) -> Checkpoint | None:
    """The last checkpoint recorded beside the key; ``None`` if there is none.

    Raises :class:`CheckpointFormatError` if the file exists but is not a checkpoint.
    """
    try:
        data = state_file(signing_key_file).read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Checkpoint.from_dict(orjson.loads(data))
    except orjson.JSONDecodeError as exc:
        raise CheckpointFormatError(f"{state_file(signing_key_file)}: {exc}") from None


def record_signed(signing_key_file: Path, checkpoint: Checkpoint) -> None:
    """Record ``checkpoint`` unless a larger one is recorded already (atomic replace)."""
    target = state_file(signing_key_file)
    with contextlib.suppress(CheckpointFormatError):
        last = read_last(signing_key_file)
        if (
            last is not None
            and last.key_id == checkpoint.key_id
            and last.tree_size >= checkpoint.tree_size
        ):
            return
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    temp.write_bytes(orjson.dumps(checkpoint.to_dict()))
    os.replace(temp, target)
