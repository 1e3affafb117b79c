"""The verifier's trust step: checkpoints, keys, proofs, forks and trusted checkpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from ledger.integrity.bundle_report import Verdict
from tests.unit.bundle_builders import (
    AFTER,
    BASE,
    LOG,
    LONG,
    OTHER,
    SIGNER,
    Log,
    assert_verdict,
    build,
    chain,
    lines_of,
    record,
    verify,
)

# --- checkpoints and keys -----------------------------------------------------------


def test_a_checkpoint_with_a_wrong_root_is_caught_at_its_size() -> None:
    wrong = SIGNER.checkpoint(16, LOG.root(15))
    data = build(LOG, checkpoints=[wrong, SIGNER.checkpoint(40, LOG.root(40))])
    assert_verdict(verify(data), Verdict.TAMPERED, 16)


def test_a_checkpoint_root_edited_without_re_signing_is_caught() -> None:
    good = SIGNER.checkpoint(16, LOG.root(16))
    edited = replace(good, root=LOG.root(15).hex())
    report = verify(build(LOG, checkpoints=[edited, SIGNER.checkpoint(40, LOG.root(40))]))
    assert_verdict(report, Verdict.TAMPERED)
    assert "signature" in (report.reason or "")


def test_a_checkpoint_signed_by_another_key_is_caught() -> None:
    foreign = OTHER.checkpoint(16, LOG.root(16))
    report = verify(build(LOG, checkpoints=[foreign, SIGNER.checkpoint(40, LOG.root(40))]))
    assert_verdict(report, Verdict.TAMPERED)
    relabelled = replace(foreign, key_id=SIGNER.key_id)
    report = verify(build(LOG, checkpoints=[relabelled, SIGNER.checkpoint(40, LOG.root(40))]))
    assert_verdict(report, Verdict.TAMPERED)


def test_a_bundle_re_signed_by_another_key_is_caught_when_the_key_is_pinned() -> None:
    resigned = build(LOG, sizes=[16, 40], signer=OTHER)
    assert_verdict(verify(resigned), Verdict.CLEAN)  # internally consistent, not authentic
    report = verify(resigned, trusted_public_key=SIGNER.public_key)
    assert_verdict(report, Verdict.TAMPERED)
    assert "trusted key" in (report.reason or "")


def test_a_header_key_id_that_does_not_match_its_key_is_caught() -> None:
    data = BASE.replace(SIGNER.key_id.encode(), OTHER.key_id.encode(), 1)
    assert_verdict(verify(data), Verdict.TAMPERED)


def test_events_not_covered_by_a_signature_are_incomplete() -> None:
    report = verify(build(LOG, sizes=[16]))
    assert_verdict(report, Verdict.INCOMPLETE, 17)
    assert report.signed_through == 16
    assert_verdict(verify(build(LOG, checkpoints=[])), Verdict.INCOMPLETE, 1)


# --- proofs, forks and trust --------------------------------------------------------


def _edit_json_line(data: bytes, kind: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    lines = lines_of(data)
    i = next(i for i, line in enumerate(lines) if f'"kind":"{kind}"'.encode() in line)
    obj = json.loads(lines[i])
    edit(obj)
    lines[i] = orjson.dumps(obj) + b"\n"
    return b"".join(lines)


def _flip_hex(value: str) -> str:
    return ("1" if value[0] == "0" else "0") + value[1:]


def test_a_forged_consistency_proof_is_caught() -> None:
    def forge(obj: dict[str, Any]) -> None:
        obj["proof"][0] = _flip_hex(obj["proof"][0])

    report = verify(_edit_json_line(AFTER, "consistency", forge))
    assert_verdict(report, Verdict.TAMPERED)
    assert "consistency proof" in (report.reason or "")

    def drop(obj: dict[str, Any]) -> None:
        del obj["proof"][-1]

    assert_verdict(verify(_edit_json_line(AFTER, "consistency", drop)), Verdict.TAMPERED)


def test_a_forged_inclusion_proof_is_caught() -> None:
    def forge(obj: dict[str, Any]) -> None:
        obj["proof"][-1] = _flip_hex(obj["proof"][-1])

    assert_verdict(verify(_edit_json_line(AFTER, "inclusion", forge)), Verdict.TAMPERED, 30)

    def other_event(obj: dict[str, Any]) -> None:
        obj["hash"] = LONG.hash_of(31).hex()

    assert_verdict(verify(_edit_json_line(AFTER, "inclusion", other_event)), Verdict.TAMPERED, 30)


def test_a_forged_frontier_in_the_header_is_caught() -> None:
    def forge(obj: dict[str, Any]) -> None:
        obj["frontier"][0] = _flip_hex(obj["frontier"][0])

    assert_verdict(verify(_edit_json_line(AFTER, "header", forge)), Verdict.TAMPERED)


def test_a_forged_prev_hash_in_the_header_is_caught() -> None:
    def forge(obj: dict[str, Any]) -> None:
        obj["prev_hash"] = LONG.hash_of(19).hex()

    assert_verdict(verify(_edit_json_line(AFTER, "header", forge)), Verdict.TAMPERED)


def _forked_log() -> Log:
    # Same ledger key, same first 25 events, different history afterwards.
    return Log(
        LONG.rows[:25]
        + chain((record(p, "", "fork") for p in range(26, 61)), 26, LONG.hash_of(25).hex())
    )


def test_a_log_that_forks_from_a_trusted_checkpoint_is_caught() -> None:
    fork = _forked_log()
    data = build(fork, until=40, sizes=[16, 40])
    trusted = SIGNER.checkpoint(30, LONG.root(30)).to_dict()
    assert_verdict(verify(data, trusted_public_key=SIGNER.public_key), Verdict.CLEAN)
    report = verify(data, trusted_public_key=SIGNER.public_key, trusted_checkpoint=trusted)
    assert_verdict(report, Verdict.TAMPERED, 30)
    assert "forks" in (report.reason or "")


def test_a_fork_after_the_trusted_checkpoint_is_not_a_fork_of_it() -> None:
    data = build(_forked_log(), until=40, sizes=[40])
    trusted = SIGNER.checkpoint(20, LONG.root(20)).to_dict()
    report = verify(data, trusted_public_key=SIGNER.public_key, trusted_checkpoint=trusted)
    assert_verdict(report, Verdict.CLEAN)


def test_a_fork_beyond_the_bundle_is_caught_through_the_consistency_proof() -> None:
    fork = _forked_log()
    data = build(fork, until=20, sizes=[20, 60])  # proof 20 -> 60 in the forked log
    trusted = SIGNER.checkpoint(60, LONG.root(60)).to_dict()
    report = verify(data, trusted_public_key=SIGNER.public_key, trusted_checkpoint=trusted)
    # The bundle's own checkpoint of size 60 contradicts the trusted one: equivocation.
    assert_verdict(report, Verdict.TAMPERED)
    assert "trusted" in (report.reason or "")


def test_a_bundle_that_cannot_be_linked_to_the_trusted_checkpoint_is_incomplete() -> None:
    data = build(LONG, until=40, sizes=[40])
    trusted = SIGNER.checkpoint(60, LONG.root(60)).to_dict()
    report = verify(data, trusted_public_key=SIGNER.public_key, trusted_checkpoint=trusted)
    assert_verdict(report, Verdict.INCOMPLETE)


def test_a_trusted_checkpoint_signed_by_another_key_is_refused() -> None:
    foreign = OTHER.checkpoint(16, LOG.root(16)).to_dict()
    report = verify(BASE, trusted_public_key=SIGNER.public_key, trusted_checkpoint=foreign)
    assert_verdict(report, Verdict.ERROR)
    assert_verdict(verify(BASE, trusted_checkpoint=foreign), Verdict.TAMPERED)


def test_two_signed_checkpoints_of_one_size_that_disagree_are_a_fork() -> None:
    equivocation = [
        SIGNER.checkpoint(50, LONG.root(50)),
        SIGNER.checkpoint(50, _forked_log().root(50)),
    ]
    report = verify(
        build(LONG, until=40, checkpoints=[SIGNER.checkpoint(40, LONG.root(40)), *equivocation])
    )
    assert_verdict(report, Verdict.TAMPERED)
