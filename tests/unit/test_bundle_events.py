"""The verifier's pass over event lines: every tampering with events, and truncation."""

from __future__ import annotations

import hashlib

import orjson

from ledger.integrity.bundle_report import Verdict
from tests.unit.bundle_builders import (
    BASE,
    LOG,
    SIGNER,
    Log,
    assert_verdict,
    build,
    chain,
    edit_state,
    event_index,
    lines_of,
    record,
    verify,
)

# --- tampering with events ----------------------------------------------------------


def test_a_byte_of_a_state_edited_is_caught_at_that_event() -> None:
    lines = lines_of(BASE)
    i = event_index(lines, 7)
    lines[i] = edit_state(lines[i], b"depot-7-writer", b"depot-8-writer")
    report = verify(b"".join(lines))
    assert_verdict(report, Verdict.TAMPERED, 7)
    assert "SHA-256" in (report.reason or "")
    assert report.failures_total == 1, "one edited state is one finding, not a cascade"


def test_an_event_deleted_is_caught_at_its_position() -> None:
    lines = lines_of(BASE)
    del lines[event_index(lines, 12)]
    report = verify(b"".join(lines))
    assert_verdict(report, Verdict.TAMPERED, 12)
    assert "missing" in (report.reason or "")


def test_an_event_deleted_from_the_database_and_renumbered_is_caught() -> None:
    rows = [(p if p < 12 else p - 1, s, h) for p, s, h in LOG.rows if p != 12]
    report = verify(build(Log(rows), checkpoints=[SIGNER.checkpoint(16, LOG.root(16))]))
    assert_verdict(report, Verdict.TAMPERED, 12)


def test_a_forged_event_inserted_is_caught_at_its_position() -> None:
    forged = chain([record(12, "", "forged")], start=12, prev=LOG.hash_of(11).hex())
    rows = LOG.rows[:11] + forged + [(p + 1, s, h) for p, s, h in LOG.rows[11:]]
    checkpoints = [SIGNER.checkpoint(16, LOG.root(16)), SIGNER.checkpoint(40, LOG.root(40))]
    report = verify(build(Log(rows), checkpoints=checkpoints))
    assert_verdict(report, Verdict.TAMPERED, 12)
    assert "inserted" in (report.reason or "")


def test_a_forged_line_with_a_taken_position_is_caught() -> None:
    lines = lines_of(BASE)
    i = event_index(lines, 12)
    lines.insert(i + 1, edit_state(lines[i], b"depot-7-writer", b"depot-9-writer"))
    assert_verdict(verify(b"".join(lines)), Verdict.TAMPERED, 12)


def test_two_event_lines_swapped_are_caught() -> None:
    lines = lines_of(BASE)
    i, j = event_index(lines, 20), event_index(lines, 21)
    lines[i], lines[j] = lines[j], lines[i]
    assert_verdict(verify(b"".join(lines)), Verdict.TAMPERED, 20)


def test_two_events_swapped_in_the_database_are_caught() -> None:
    rows = list(LOG.rows)
    (p20, s20, h20), (p21, s21, h21) = rows[19], rows[20]
    rows[19], rows[20] = (p20, s21, h21), (p21, s20, h20)
    checkpoints = [SIGNER.checkpoint(40, LOG.root(40))]
    report = verify(build(Log(rows), checkpoints=checkpoints))
    assert_verdict(report, Verdict.TAMPERED, 20)


def test_a_changed_recorded_at_is_caught_at_that_event() -> None:
    lines = lines_of(BASE)
    i = event_index(lines, 9)
    lines[i] = edit_state(lines[i], b"12:00:00.000009Z", b"11:00:00.000009Z")
    assert_verdict(verify(b"".join(lines)), Verdict.TAMPERED, 9)


def test_a_changed_recorded_at_with_its_hash_recomputed_breaks_the_next_link() -> None:
    rows = list(LOG.rows)
    position, state, _ = rows[8]
    state = state.replace(b"12:00:00.000009Z", b"11:00:00.000009Z")
    rows[8] = (position, state, hashlib.sha256(state).digest())
    report = verify(build(Log(rows), checkpoints=[SIGNER.checkpoint(40, LOG.root(40))]))
    # Event 9 is self-consistent now; what fails first is event 10's record of it.
    assert_verdict(report, Verdict.TAMPERED, 10)
    assert "event 9 was altered" in (report.reason or "")


def test_a_rewrite_with_the_whole_chain_recomputed_is_caught_by_the_checkpoint() -> None:
    records = [orjson.loads(s) for _, s, _ in LOG.rows]
    records[8]["recorded_at"] = "2024-05-01T11:00:00.000009Z"
    rows = chain(records)
    checkpoints = [SIGNER.checkpoint(16, LOG.root(16)), SIGNER.checkpoint(40, LOG.root(40))]
    report = verify(build(Log(rows), checkpoints=checkpoints))
    assert_verdict(report, Verdict.TAMPERED, 16)
    assert "Merkle root" in (report.reason or "")


# --- truncation ---------------------------------------------------------------------


def test_the_tail_truncated_is_incomplete() -> None:
    lines = lines_of(BASE)
    report = verify(b"".join(lines[: event_index(lines, 30) + 1]))
    assert_verdict(report, Verdict.INCOMPLETE, 31)
    assert report.exit_code == 2 and report.last_position == 30


def test_a_bundle_cut_mid_line_is_incomplete() -> None:
    cut_in_event = BASE[: BASE.index(b'"position":30,') + 100]
    assert_verdict(verify(cut_in_event), Verdict.INCOMPLETE, 30)
    cut_in_trailer = BASE[:-10]
    assert_verdict(verify(cut_in_trailer), Verdict.INCOMPLETE)
    assert_verdict(verify(BASE[:50]), Verdict.INCOMPLETE)
    assert_verdict(verify(b""), Verdict.INCOMPLETE)


def test_missing_events_at_the_end_are_incomplete_even_with_a_trailer() -> None:
    lines = lines_of(BASE)
    del lines[event_index(lines, 40)]
    assert_verdict(verify(b"".join(lines)), Verdict.INCOMPLETE, 40)


def test_a_damaged_line_in_the_middle_is_tampering_not_truncation() -> None:
    lines = lines_of(BASE)
    i = event_index(lines, 25)
    lines[i] = lines[i][:50] + b"\n"
    assert_verdict(verify(b"".join(lines)), Verdict.TAMPERED, 25)
    lines[i] = lines[i][:50]  # no newline: glued to the next line
    assert_verdict(verify(b"".join(lines)), Verdict.TAMPERED, 25)


def test_content_after_the_end_line_is_tampering() -> None:
    extra = lines_of(BASE)[3]
    assert_verdict(verify(BASE + extra), Verdict.TAMPERED)
