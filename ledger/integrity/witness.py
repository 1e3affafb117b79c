"""Witnessing a ledger (``c2sp.org/tlog-witness``, ``c2sp.org/tlog-cosignature``).

A witness is another party that keeps, for each log it follows, the latest checkpoint
it verified, and cosigns a new checkpoint only if a consistency proof shows the new
tree extends the one it holds. Two checkpoints of one size with different roots (a
split view), a smaller checkpoint than the one held (a rollback), or a proof that does
not verify (a fork) are refused and reported: that is the whole point of a witness.

* :class:`Witness` — the witness's state and ``add-checkpoint`` with the exact
  semantics of tlog-witness (404 unknown origin, 403 no trusted signature, 400 bad
  request, 409 with the size held, 422 bad proof), persisted to a JSON file before it
  answers, check-and-update under one lock.
* :class:`Follower` — what ``ledger witness --log URL`` runs: fetch the ledger's
  checkpoint note and a consistency proof from what the witness holds, put them to the
  witness, and send the cosignature back to the ledger (``POST /v1/audit/cosignatures``).

Pure apart from the state file; the HTTP calls go through an injected transport.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger.integrity.checkpoints import Signer
from ledger.integrity.merkle import verify_consistency
from ledger.integrity.notes import (
    COSIGNATURE_V1,
    CheckpointBody,
    Note,
    NoteError,
    NoteVerifier,
    cosign,
    verify_signature,
)

MAX_PROOF_LINES = 63


class WitnessRefusal(Exception):
    """An ``add-checkpoint`` (or a cosignature sent to the ledger) refused, with the HTTP
    status tlog-witness gives it; ``size`` is the size held, for a 409."""

    def __init__(self, status: int, detail: str, size: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.size = size


@dataclass(frozen=True, slots=True)
class Held:
    """The latest checkpoint a witness verified and cosigned for one origin."""

    size: int
    root: bytes
    note: str


def parse_add_checkpoint(body: str) -> tuple[int, list[bytes], Note]:
    """An add-checkpoint request body: ``old N``, proof lines, a blank line, the note."""
    head, sep, rest = body.partition("\n\n")
    if not sep:
        raise WitnessRefusal(400, "the request has no blank line before the checkpoint")
    lines = head.split("\n")
    old = lines[0]
    if not old.startswith("old ") or not old[4:].isdigit() or (old[4:] != str(int(old[4:]))):
        raise WitnessRefusal(400, "the first line is 'old N'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessRefusal(400, f"more than {MAX_PROOF_LINES} proof lines")
    proof = []
    for line in lines[1:]:
        try:
            raw = base64.b64decode(line.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise WitnessRefusal(400, "a proof line is not base64") from None
        if len(raw) != 32:
            raise WitnessRefusal(400, "a proof hash has 32 bytes")
        proof.append(raw)
    try:
        note = Note.parse(rest)
    except NoteError as exc:
        raise WitnessRefusal(400, f"the checkpoint: {exc}") from None
    return int(old[4:]), proof, note


def add_checkpoint_body(old: int, proof: list[bytes], note: Note) -> str:
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return "".join(f"{line}\n" for line in lines) + "\n" + note.encode()


class Witness:
    """A witness: its cosigning key and name, the logs it trusts, what it holds."""

    def __init__(
        self,
        name: str,
        signer: Signer,
        logs: Mapping[str, NoteVerifier],
        state_file: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.signer = signer
        self.verifier = NoteVerifier(name, COSIGNATURE_V1, signer.public_key)
        self.logs = dict(logs)
        self.state_file = state_file
        self.clock = clock
        self._lock = threading.Lock()
        self._held: dict[str, Held] = self._load()

    def _load(self) -> dict[str, Held]:
        if self.state_file is None or not self.state_file.exists():
            return {}
        data = json.loads(self.state_file.read_text())
        return {
            origin: Held(int(h["size"]), base64.b64decode(h["root"]), str(h["note"]))
            for origin, h in data.items()
        }

    def _save(self) -> None:
        if self.state_file is None:
            return
        data = {
            origin: {"size": h.size, "root": base64.b64encode(h.root).decode(), "note": h.note}
            for origin, h in self._held.items()
        }
        temp = self.state_file.with_name(f".{self.state_file.name}.{secrets.token_hex(6)}")
        temp.write_text(json.dumps(data, indent=1))
        with open(temp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temp, self.state_file)

    def held(self, origin: str) -> Held | None:
        with self._lock:
            return self._held.get(origin)

    def add_checkpoint(self, body: str) -> str:
        """tlog-witness ``add-checkpoint``: the cosignature line(s), or
        :class:`WitnessRefusal` with the status the specification gives."""
        old, proof, note = parse_add_checkpoint(body)
        try:
            checkpoint = CheckpointBody.parse(note.text)
        except NoteError as exc:
            raise WitnessRefusal(400, f"not a checkpoint: {exc}") from None
        log = self.logs.get(checkpoint.origin)
        if log is None:
            raise WitnessRefusal(404, f"unknown log origin {checkpoint.origin!r}")
        if verify_signature(note, log) is not True:
            raise WitnessRefusal(403, "the checkpoint is not signed by the log's trusted key")
        if old > checkpoint.tree_size:
            raise WitnessRefusal(400, f"old size {old} is above the checkpoint's size")
        with self._lock:
            held = self._held.get(checkpoint.origin)
            held_size = held.size if held else 0
            if old != held_size:
                raise WitnessRefusal(
                    409, f"this witness holds size {held_size}, not {old}", held_size
                )
            if held is not None and old == checkpoint.tree_size:
                if held.root != checkpoint.root:
                    raise WitnessRefusal(
                        409,
                        f"split view: two checkpoints of size {old} with different roots",
                        held_size,
                    )
            elif old == 0:
                if proof:
                    raise WitnessRefusal(422, "the proof from size 0 must be empty")
            elif held is None or not verify_consistency(
                old, checkpoint.tree_size, proof, held.root, checkpoint.root
            ):
                raise WitnessRefusal(
                    422,
                    f"the consistency proof from {old} to {checkpoint.tree_size} does not "
                    "verify: the log forked",
                )
            self._held[checkpoint.origin] = Held(
                checkpoint.tree_size, checkpoint.root, Note(note.text, note.signatures).encode()
            )
            self._save()
            sig = cosign(note.text, self.name, self.signer, int(self.clock()))
        return sig.line()


# --- following a ledger --------------------------------------------------------------

Transport = Callable[[str, str, bytes | None], tuple[int, str]]
"""``(method, path with query, body) -> (status, response text)``."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one step of following found: ``cosigned``, ``unchanged``, ``rollback``,
    ``split_view``, ``fork``, ``bad_signature`` or ``error``."""

    kind: str
    size: int | None
    detail: str

    @property
    def alarm(self) -> bool:
        return self.kind in ("rollback", "split_view", "fork", "bad_signature")


class Follower:
    """Follows one ledger's checkpoints for one :class:`Witness` (``ledger witness``)."""

    def __init__(self, witness: Witness, log: NoteVerifier, transport: Transport) -> None:
        self.witness = witness
        self.log = log
        self.transport = transport
        witness.logs.setdefault(log.name, log)

    def step(self) -> Outcome:
        status, text = self.transport("GET", "/v1/audit/checkpoint", None)
        if status != 200:
            return Outcome("error", None, f"GET /v1/audit/checkpoint answered {status}: {text}")
        try:
            note = Note.parse(text)
            body = CheckpointBody.parse(note.text)
        except NoteError as exc:
            return Outcome("error", None, f"the ledger's checkpoint is malformed: {exc}")
        if body.origin != self.log.name or verify_signature(note, self.log) is not True:
            return Outcome(
                "bad_signature", body.tree_size, "the checkpoint is not signed by the log's key"
            )
        held = self.witness.held(body.origin)
        if held is not None and body.tree_size < held.size:
            return Outcome(
                "rollback",
                body.tree_size,
                f"rollback: the ledger now shows size {body.tree_size}, but this witness "
                f"cosigned size {held.size}; refused",
            )
        if held is not None and body.tree_size == held.size:
            if body.root != held.root:
                return Outcome(
                    "split_view",
                    body.tree_size,
                    f"split view: size {held.size} with root "
                    f"{base64.b64encode(body.root).decode()}, but this witness cosigned root "
                    f"{base64.b64encode(held.root).decode()}",
                )
            return Outcome("unchanged", body.tree_size, "nothing new")
        proof: list[bytes] = []
        old = held.size if held else 0
        if old > 0:
            status, text = self.transport(
                "GET", f"/v1/audit/consistency?from={old}&to={body.tree_size}", None
            )
            if status != 200:
                return Outcome(
                    "fork",
                    body.tree_size,
                    f"the ledger gives no consistency proof from {old} to {body.tree_size} "
                    f"({status}): it no longer holds the checkpoint this witness cosigned",
                )
            proof = [bytes.fromhex(h) for h in json.loads(text)["proof"]]
        try:
            line = self.witness.add_checkpoint(add_checkpoint_body(old, proof, note))
        except WitnessRefusal as exc:
            kind = "fork" if exc.status == 422 else "split_view" if exc.status == 409 else "error"
            return Outcome(kind, body.tree_size, exc.detail)
        query = urllib.parse.urlencode({"witness": self.witness.verifier.vkey()})
        cosigned = note.encode() + line
        status, text = self.transport(
            "POST", f"/v1/audit/cosignatures?{query}", cosigned.encode("utf-8")
        )
        if status != 200:
            return Outcome(
                "error", body.tree_size, f"the ledger refused the cosignature ({status}): {text}"
            )
        return Outcome("cosigned", body.tree_size, f"cosigned size {body.tree_size}")


def http_transport(base_url: str, api_key: str | None, timeout: float = 10.0) -> Transport:
    """A :data:`Transport` over ``urllib`` (the command line; no extra dependency)."""
    import urllib.error
    import urllib.request

    def call(method: str, path: str, body: bytes | None) -> tuple[int, str]:
        request = urllib.request.Request(base_url.rstrip("/") + path, data=body, method=method)
        request.add_header("Accept", "text/plain, application/json")
        if body is not None:
            request.add_header("Content-Type", "text/plain; charset=utf-8")
        if api_key:
            request.add_header("Authorization", f"Bearer {api_key}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return int(response.status), response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            with contextlib.suppress(Exception):
                return int(exc.code), exc.read().decode("utf-8")
            return int(exc.code), ""

    return call
