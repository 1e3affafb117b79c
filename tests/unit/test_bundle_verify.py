"""The bundle verifier end to end: clean round trips, unreadable input, fuzzing, volume."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ledger.integrity.bundle_report import Verdict
from ledger.integrity.bundle_verify import verify_bundle, verify_bundle_file
from ledger.integrity.bundle_writer import write_bundle
from ledger.integrity.merkle import root
from tests.unit.bundle_builders import (
    BASE,
    SIGNER,
    Log,
    assert_verdict,
    build,
    lines_of,
    make_rows,
    verify,
)

# --- clean bundles ------------------------------------------------------------------


def test_round_trip_is_clean() -> None:
    report = verify(BASE)
    assert_verdict(report, Verdict.CLEAN)
    assert report.exit_code == 0
    assert (report.events, report.checkpoints, report.after, report.until) == (40, 2, 0, 40)
    assert report.signed_through == 40 and report.last_position == 40
    assert report.first_position is None and report.failures == []
    assert report.key_id == SIGNER.key_id and not report.key_pinned
    json.dumps(report.to_dict())


def test_round_trip_with_a_pinned_key_is_clean() -> None:
    report = verify(BASE, trusted_public_key=SIGNER.public_key)
    assert_verdict(report, Verdict.CLEAN)
    assert report.key_pinned
    assert verify(BASE, trusted_public_key=SIGNER.public_key_b64).verdict == Verdict.CLEAN


def test_a_bundle_starting_after_zero_is_clean_and_anchored_by_later_checkpoints() -> None:
    log = Log(make_rows(60))
    data = build(log, after=20, until=50, sizes=[10, 35, 60], inclusions=[(30, 50), (5, 35)])
    report = verify(data, trusted_public_key=SIGNER.public_key)
    assert_verdict(report, Verdict.CLEAN)
    assert (report.events, report.checkpoints, report.consistency_proofs) == (30, 3, 2)
    assert report.inclusion_proofs == 2 and report.signed_through == 50


@pytest.mark.parametrize("size", [10, 20, 35, 50, 60])
def test_a_trusted_checkpoint_before_inside_or_after_the_range_links(size: int) -> None:
    log = Log(make_rows(60))
    data = build(log, after=20, until=50, sizes=[10, 35, 60])
    trusted = SIGNER.checkpoint(size, log.root(size)).to_dict()
    report = verify(data, trusted_public_key=SIGNER.public_key, trusted_checkpoint=trusted)
    assert_verdict(report, Verdict.CLEAN)


def test_an_empty_range_is_clean_when_its_frontier_is_signed() -> None:
    log = Log(make_rows(30))
    assert_verdict(verify(build(log, after=30, until=30, sizes=[30])), Verdict.CLEAN)
    assert_verdict(verify(build(Log([]), sizes=[0])), Verdict.CLEAN)


def test_progress_is_reported() -> None:
    seen: list[int] = []
    verify(BASE, progress=seen.append)
    assert seen[-1] == 40


def test_a_bundle_file_verifies(tmp_path: Path) -> None:
    path = tmp_path / "b.ndjson"
    path.write_bytes(BASE)
    assert_verdict(verify_bundle_file(path), Verdict.CLEAN)
    assert_verdict(verify_bundle_file(tmp_path / "missing.ndjson"), Verdict.ERROR)


# --- not a bundle -------------------------------------------------------------------


def test_an_invalid_trusted_key_is_an_error() -> None:
    assert_verdict(verify(BASE, trusted_public_key=b"too short"), Verdict.ERROR)


def test_a_reader_that_fails_is_an_error() -> None:
    def failing() -> Iterable[bytes]:
        yield lines_of(BASE)[0]
        raise OSError("disk on fire")

    assert_verdict(verify_bundle(failing()), Verdict.ERROR)


# --- fuzzing ------------------------------------------------------------------------


SMALL_LOG = Log(make_rows(15, "small"))
SMALL = build(SMALL_LOG, after=3, until=12, sizes=[2, 8, 15], inclusions=[(5, 8)])


def _meaning(data: bytes) -> list[Any] | None:
    """What a bundle says: its JSON values in order; framing whitespace does not count."""
    try:
        return [orjson.loads(line) for line in data.split(b"\n") if line.strip()]
    except orjson.JSONDecodeError:
        return None


def test_the_small_fuzzing_bundle_is_clean() -> None:
    assert_verdict(verify(SMALL), Verdict.CLEAN)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(SMALL) - 1), value=st.integers(0, 255))
def test_no_single_byte_mutation_is_reported_clean_unless_it_means_nothing(
    index: int, value: int
) -> None:
    assume(SMALL[index] != value)
    mutated = SMALL[:index] + bytes([value]) + SMALL[index + 1 :]
    report = verify(mutated)
    if _meaning(mutated) == _meaning(SMALL):
        assert report.verdict == Verdict.CLEAN, (index, value)
    else:
        assert report.verdict != Verdict.CLEAN, (index, value, mutated[index - 20 : index + 20])


def _non_event_offsets(data: bytes) -> list[int]:
    offsets: list[int] = []
    at = 0
    for line in lines_of(data):
        if b'"kind":"event"' not in line:
            offsets.extend(range(at, at + len(line)))
        at += len(line)
    return offsets


SMALL_FRAME = _non_event_offsets(SMALL)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.sampled_from(SMALL_FRAME), value=st.integers(0, 255))
def test_no_single_byte_mutation_of_header_checkpoints_proofs_or_trailer_goes_unnoticed(
    index: int, value: int
) -> None:
    # Uniform offsets mostly land in event states; these lines are where a format's
    # loose ends would hide (encodings, sizes, key ids, proof elements, counts).
    assume(SMALL[index] != value)
    mutated = SMALL[:index] + bytes([value]) + SMALL[index + 1 :]
    report = verify(mutated)
    if _meaning(mutated) == _meaning(SMALL):
        assert report.verdict == Verdict.CLEAN, (index, value)
    else:
        assert report.verdict != Verdict.CLEAN, (index, value, mutated[index - 20 : index + 20])


# --- volume -------------------------------------------------------------------------


def test_a_100k_event_bundle_verifies_clean_and_one_changed_byte_does_not() -> None:
    started = time.perf_counter()
    log = Log(make_rows(100_000, "big"))
    leaves = log.leaves

    def get_range(start: int, end: int) -> list[bytes]:
        return leaves[start:end]

    checkpoints = [SIGNER.checkpoint(s, root(s, get_range)) for s in (50_000, 100_000)]
    out = io.BytesIO()
    write_bundle(
        out,
        public_key=SIGNER.public_key,
        after=0,
        until=100_000,
        prev_hash=bytes(32),
        events=log.rows,
        checkpoints=checkpoints,
        get_range=get_range,
    )
    data = out.getvalue()
    report = verify(data, trusted_public_key=SIGNER.public_key)
    assert_verdict(report, Verdict.CLEAN)
    assert report.events == 100_000 and report.signed_through == 100_000

    at = data.index(b'"position":77777,')
    at = data.index(b"depot-7-writer", at)
    mutated = data[:at] + b"D" + data[at + 1 :]
    assert_verdict(verify(mutated), Verdict.TAMPERED, 77777)
    assert time.perf_counter() - started < 20
