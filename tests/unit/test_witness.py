"""A witness (c2sp.org/tlog-witness): add-checkpoint with the specification's status
codes, and a follower that reports a forked, split or rolled-back log and never
cosigns it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ledger.integrity.checkpoints import Signer
from ledger.integrity.merkle import Frontier, consistency_proof, leaf_hash
from ledger.integrity.notes import (
    COSIGNATURE_V1,
    Note,
    NoteSignature,
    NoteVerifier,
    checkpoint_note,
    cosignature_time,
    count_cosigners,
    log_verifier,
)
from ledger.integrity.witness import (
    Follower,
    Witness,
    WitnessRefusal,
    add_checkpoint_body,
)

LOG = Signer.generate()
LOG_VERIFIER = log_verifier(LOG.public_key)


class FakeLog:
    """A ledger serving checkpoint notes and consistency proofs over its leaves; the
    leaves can be swapped to play a forked or rolled-back ledger with the same key."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.cosigned: list[str] = []

    def root(self, size: int) -> bytes:
        f = Frontier()
        f.extend(self.leaves[:size])
        return f.root()

    def note(self) -> Note:
        return checkpoint_note(LOG, len(self.leaves), self.root(len(self.leaves)))

    def proof(self, a: int, b: int) -> list[bytes]:
        return consistency_proof(a, b, lambda s, e: self.leaves[s:e])

    def __call__(self, method: str, path: str, body: bytes | None) -> tuple[int, str]:
        if path == "/v1/audit/checkpoint":
            return 200, self.note().encode()
        if path.startswith("/v1/audit/consistency"):
            query = dict(p.split("=") for p in path.split("?")[1].split("&"))
            a, b = int(query["from"]), int(query["to"])
            return 200, json.dumps({"proof": [h.hex() for h in self.proof(a, b)]})
        assert method == "POST" and body is not None
        self.cosigned.append(body.decode())
        return 200, ""


def leaves(tag: str, n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(f"{tag}{i}".encode()).digest()) for i in range(n)]


def witness(tmp_path: Path, clock: float = 1_700_000_000.0) -> Witness:
    return Witness(
        "witness.example/w1",
        Signer.generate(),
        {LOG_VERIFIER.name: LOG_VERIFIER},
        tmp_path / "witness.json",
        clock=lambda: clock,
    )


# --- add-checkpoint ------------------------------------------------------------------


def test_add_checkpoint_cosigns_a_consistent_log_and_keeps_its_size(tmp_path: Path) -> None:
    w = witness(tmp_path)
    log = FakeLog(leaves("a", 5))
    line = w.add_checkpoint(add_checkpoint_body(0, [], log.note()))
    sig = NoteSignature.parse_line(line)
    assert cosignature_time(log.note().text, sig, w.verifier) == 1_700_000_000
    log.leaves += leaves("b", 3)
    w.add_checkpoint(add_checkpoint_body(5, log.proof(5, 8), log.note()))
    held = w.held(LOG_VERIFIER.name)
    assert held is not None and held.size == 8
    # Persisted: a restarted witness holds the same.
    again = Witness(w.name, w.signer, w.logs, w.state_file)
    assert again.held(LOG_VERIFIER.name) == held


def test_add_checkpoint_refuses_as_the_specification_says(tmp_path: Path) -> None:
    w = witness(tmp_path)
    log = FakeLog(leaves("a", 5))
    w.add_checkpoint(add_checkpoint_body(0, [], log.note()))
    log.leaves += leaves("b", 3)

    def status(body: str) -> tuple[int, int | None]:
        with pytest.raises(WitnessRefusal) as info:
            w.add_checkpoint(body)
        return info.value.status, info.value.size

    other_log = Signer.generate()
    foreign = checkpoint_note(other_log, 8, log.root(8))
    assert status(add_checkpoint_body(5, log.proof(5, 8), foreign))[0] == 404
    forged = Note(log.note().text, checkpoint_note(other_log, 8, log.root(8)).signatures)
    forged = Note(
        log.note().text,
        (NoteSignature(LOG_VERIFIER.name, LOG_VERIFIER.key_id, forged.signatures[0].signature),),
    )
    assert status(add_checkpoint_body(5, log.proof(5, 8), forged))[0] == 403
    assert status(add_checkpoint_body(9, [], log.note()))[0] == 400
    assert status(add_checkpoint_body(3, log.proof(3, 8), log.note())) == (409, 5)
    assert status(add_checkpoint_body(5, log.proof(4, 8), log.note()))[0] == 422
    assert status("old 5\nnot base64!\n\n" + log.note().encode())[0] == 400
    # Same size, another root: a split view (409, the size held).
    split = FakeLog(leaves("z", 5))
    assert status(add_checkpoint_body(5, [], split.note())) == (409, 5)
    assert w.held(LOG_VERIFIER.name).size == 5  # type: ignore[union-attr]


# --- following a ledger --------------------------------------------------------------


def test_a_follower_cosigns_each_new_checkpoint_and_sends_it_back(tmp_path: Path) -> None:
    w = witness(tmp_path)
    log = FakeLog(leaves("a", 3))
    follower = Follower(w, LOG_VERIFIER, log)
    assert follower.step().kind == "cosigned"
    assert follower.step().kind == "unchanged"
    log.leaves += leaves("b", 4)
    outcome = follower.step()
    assert (outcome.kind, outcome.size) == ("cosigned", 7)
    sent = Note.parse(log.cosigned[-1])
    assert count_cosigners(sent, [w.verifier]) == [w.verifier.vkey()]


def test_a_witness_on_a_forked_ledger_reports_the_fork(tmp_path: Path) -> None:
    w = witness(tmp_path)
    log = FakeLog(leaves("a", 5))
    follower = Follower(w, LOG_VERIFIER, log)
    assert follower.step().kind == "cosigned"
    # The same key now serves a history that rewrote event 4 and grew: no consistency
    # proof from what the witness holds can exist.
    log.leaves = leaves("a", 3) + leaves("fork", 4)
    outcome = follower.step()
    assert outcome.alarm and outcome.kind == "fork", outcome
    assert "forked" in outcome.detail
    assert len(log.cosigned) == 1  # nothing cosigned since


def test_a_split_view_and_a_rollback_are_reported_and_never_cosigned(tmp_path: Path) -> None:
    w = witness(tmp_path)
    log = FakeLog(leaves("a", 5))
    follower = Follower(w, LOG_VERIFIER, log)
    follower.step()
    log.leaves = leaves("z", 5)
    split = follower.step()
    assert (split.kind, split.alarm) == ("split_view", True)
    log.leaves = leaves("a", 4)
    rollback = follower.step()
    assert (rollback.kind, rollback.alarm) == ("rollback", True)
    assert "refused" in rollback.detail
    assert len(log.cosigned) == 1


def test_a_checkpoint_by_another_key_is_reported(tmp_path: Path) -> None:
    w = witness(tmp_path)
    impostor = NoteVerifier(LOG_VERIFIER.name, LOG_VERIFIER.sig_type, Signer.generate().public_key)
    outcome = Follower(w, impostor, FakeLog(leaves("a", 2))).step()
    assert outcome.kind == "bad_signature"


def test_cosignature_verifier_keys_round_trip(tmp_path: Path) -> None:
    w = witness(tmp_path)
    assert NoteVerifier.parse(w.verifier.vkey()) == w.verifier
    assert w.verifier.sig_type == COSIGNATURE_V1
