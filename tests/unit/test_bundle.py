"""The export bundle and the offline verifier: clean round trips and every tampering."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ledger.integrity.bundle import (
    EXIT_CODES,
    FORMAT,
    BundleWriteError,
    BundleWriter,
    Verdict,
    VerifyReport,
    verify_bundle,
    verify_bundle_file,
    write_bundle,
)
from ledger.integrity.checkpoints import Checkpoint, Signer
from ledger.integrity.merkle import Frontier, consistency_proof, leaf_hash, root

ZERO = "0" * 64
Row = tuple[int, bytes, bytes]

# --- building logs and bundles ------------------------------------------------------


def record(position: int, prev_hash: str, salt: str = "") -> dict[str, Any]:
    return {
        "event_id": f"ev{salt}-{position:08d}",
        "type": "AssetTransferred",
        "recorded_at": f"2024-05-01T12:00:00.{position % 1_000_000:06d}Z",
        "recorded_by": "depot-7-writer",
        "occurred_at": "2024-04-30T08:00:00.000000Z",
        "asset_ids": [f"M1A1-{position % 97:04d}"],
        "payload": {
            "from_party": "ministry-of-defence",
            "to_party": "9th-armoured-division",
            "location": {"name": "Depot 7", "country": "UA"},
        },
        "source": {"kind": "unit_report", "ref": f"9th/{salt}{position}", "evidence": []},
        "prev_hash": prev_hash,
    }


def encode(rec: dict[str, Any]) -> bytes:
    # orjson with sorted keys is RFC 8785 for these records (no floats, ASCII keys);
    # test_generated_states_are_rfc8785 holds that true.
    return orjson.dumps(rec, option=orjson.OPT_SORT_KEYS)


def chain(
    records: Iterable[dict[str, Any]],
    start: int = 1,
    prev: str = ZERO,
    dump: Callable[[dict[str, Any]], bytes] = encode,
) -> list[Row]:
    rows = []
    for position, rec in enumerate(records, start=start):
        state = dump({**rec, "prev_hash": prev})
        digest = hashlib.sha256(state).digest()
        rows.append((position, state, digest))
        prev = digest.hex()
    return rows


def make_rows(n: int, salt: str = "") -> list[Row]:
    return chain(record(p, "", salt) for p in range(1, n + 1))


@dataclass
class Log:
    rows: list[Row]

    @cached_property
    def leaves(self) -> list[bytes]:
        return [leaf_hash(h) for _, _, h in self.rows]

    def get_range(self, start: int, end: int) -> list[bytes]:
        return self.leaves[start:end]

    def root(self, size: int) -> bytes:
        return root(size, self.get_range)

    def hash_of(self, position: int) -> bytes:
        return self.rows[position - 1][2] if position else bytes(32)


SIGNER = Signer.generate()
OTHER = Signer.generate()


def build(
    log: Log,
    *,
    after: int = 0,
    until: int | None = None,
    sizes: Sequence[int] | None = None,
    signer: Signer = SIGNER,
    inclusions: Sequence[tuple[int, int]] = (),
    checkpoints: Sequence[Checkpoint] | None = None,
) -> bytes:
    until = len(log.rows) if until is None else until
    if checkpoints is None:
        checkpoints = [signer.checkpoint(s, log.root(s)) for s in (sizes or [until])]
    out = io.BytesIO()
    write_bundle(
        out,
        public_key=signer.public_key,
        after=after,
        until=until,
        prev_hash=log.hash_of(after),
        events=log.rows[after:until],
        checkpoints=checkpoints,
        get_range=log.get_range,
        inclusions=[(p, s, log.hash_of(p)) for p, s in inclusions],
    )
    return out.getvalue()


def verify(data: bytes, **kwargs: Any) -> VerifyReport:
    return verify_bundle(io.BytesIO(data), **kwargs)


def lines_of(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def event_index(lines: Sequence[bytes], position: int) -> int:
    needle = b'"kind":"event","position":%d,' % position
    return next(i for i, line in enumerate(lines) if needle in line)


def edit_state(line: bytes, old: bytes, new: bytes) -> bytes:
    assert old in line
    return line.replace(old, new, 1)


def assert_verdict(
    report: VerifyReport, verdict: Verdict, first_position: int | None = None
) -> None:
    assert report.verdict == verdict, report.failures
    assert report.exit_code == EXIT_CODES[verdict]
    if first_position is not None:
        assert report.first_position == first_position, report.failures


LOG = Log(make_rows(40))
BASE = build(LOG, sizes=[16, 40])


# --- clean bundles ------------------------------------------------------------------


def test_generated_states_are_rfc8785() -> None:
    for _, state, _ in LOG.rows[:5]:
        assert rfc8785.dumps(json.loads(state)) == state


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


def test_the_state_on_a_line_is_exactly_the_stored_bytes() -> None:
    lines = lines_of(BASE)
    line = json.loads(lines[event_index(lines, 7)])
    _, state, digest = LOG.rows[6]
    assert line["state"].encode("utf-8") == state
    assert line["hash"] == digest.hex() == hashlib.sha256(state).hexdigest()


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


def test_framing_whitespace_carries_no_meaning() -> None:
    crlf = BASE.replace(b"\n", b"\r\n")
    spaced = b"".join(b"  " + line.rstrip(b"\n") + b" \t\n" for line in lines_of(BASE))
    blank_lines = BASE.replace(b"\n", b"\n\n")
    no_final_newline = BASE.rstrip(b"\n")
    for variant in (crlf, spaced, blank_lines, no_final_newline):
        assert_verdict(verify(variant), Verdict.CLEAN)
    assert_verdict(verify_bundle(BASE.splitlines()), Verdict.CLEAN)


def test_progress_is_reported() -> None:
    seen: list[int] = []
    verify(BASE, progress=seen.append)
    assert seen[-1] == 40


def test_a_bundle_file_verifies(tmp_path: Path) -> None:
    path = tmp_path / "b.ndjson"
    path.write_bytes(BASE)
    assert_verdict(verify_bundle_file(path), Verdict.CLEAN)
    assert_verdict(verify_bundle_file(tmp_path / "missing.ndjson"), Verdict.ERROR)


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


def test_a_state_that_is_not_canonical_is_caught() -> None:
    rows = chain((record(p, "") for p in range(1, 11)), dump=lambda r: json.dumps(r).encode())
    report = verify(build(Log(rows)))
    assert_verdict(report, Verdict.TAMPERED, 1)
    assert "canonical" in (report.reason or "")


def test_floats_are_checked_with_rfc8785() -> None:
    def with_coordinates(p: int) -> dict[str, Any]:
        rec = record(p, "")
        rec["payload"]["location"].update(lat=48.5 + p / 7, lon=35.1, weight=1e21, scale=1.0)
        return rec

    canonical_rows = chain((with_coordinates(p) for p in range(1, 6)), dump=rfc8785.dumps)
    assert b'"scale":1,' in canonical_rows[0][1]
    assert_verdict(verify(build(Log(canonical_rows))), Verdict.CLEAN)
    orjson_rows = chain(with_coordinates(p) for p in range(1, 6))  # writes 1.0 and 1e+21
    assert_verdict(verify(build(Log(orjson_rows))), Verdict.TAMPERED, 1)


def test_non_ascii_states_are_checked() -> None:
    def named(p: int) -> dict[str, Any]:
        rec = record(p, "")
        rec["payload"]["location"]["name"] = "Краматорськ 🛡"
        rec["payload"]["notes"] = {
            "\U0001f600": 1,
            "\uff61": 2,
        }  # orjson and RFC 8785 sort these differently
        return rec

    canonical_rows = chain((named(p) for p in range(1, 4)), dump=rfc8785.dumps)
    assert_verdict(verify(build(Log(canonical_rows))), Verdict.CLEAN)
    orjson_rows = chain(named(p) for p in range(1, 4))
    assert_verdict(verify(build(Log(orjson_rows))), Verdict.TAMPERED, 1)


def test_a_row_that_is_not_utf8_is_exported_as_base64_and_reported() -> None:
    rows = list(LOG.rows)
    position, state, _ = rows[4]
    broken = state.replace(b"Depot 7", b"Depot \xff")
    rows[4] = (position, broken, hashlib.sha256(broken).digest())
    data = build(Log(rows), checkpoints=[SIGNER.checkpoint(40, LOG.root(40))])
    assert b'"state_b64":' in data
    report = verify(data)
    assert_verdict(report, Verdict.TAMPERED, 5)


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

LONG = Log(make_rows(60))
AFTER = build(LONG, after=20, until=50, sizes=[10, 35, 60], inclusions=[(30, 50)])


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


# --- not a bundle -------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"hello\n",
        b'{"kind":"header","format":"something-else/1"}\n',
        b"[1,2,3]\n",
    ],
)
def test_input_that_is_not_a_bundle_is_an_error(data: bytes) -> None:
    report = verify(data)
    assert_verdict(report, Verdict.ERROR)
    assert report.exit_code == 3


def test_an_invalid_trusted_key_is_an_error() -> None:
    assert_verdict(verify(BASE, trusted_public_key=b"too short"), Verdict.ERROR)


def test_a_reader_that_fails_is_an_error() -> None:
    def failing() -> Iterable[bytes]:
        yield lines_of(BASE)[0]
        raise OSError("disk on fire")

    assert_verdict(verify_bundle(failing()), Verdict.ERROR)


# --- the writer ---------------------------------------------------------------------


def test_the_writer_refuses_misuse() -> None:
    out = io.BytesIO()
    writer = BundleWriter(out, public_key=SIGNER.public_key, after=0, until=2, prev_hash=bytes(32))
    with pytest.raises(BundleWriteError):
        writer.add_event(2, b"{}", bytes(32))
    writer.add_event(1, b"{}", bytes(32))
    with pytest.raises(BundleWriteError):
        writer.add_checkpoint(SIGNER.checkpoint(1, bytes(32)))
    with pytest.raises(BundleWriteError):
        writer.finish()
    assert b'"kind":"end"' not in out.getvalue()
    with pytest.raises(BundleWriteError):
        BundleWriter(
            io.BytesIO(), public_key=SIGNER.public_key, after=0, until=1, prev_hash=b"\x01" * 32
        )
    with pytest.raises(BundleWriteError):
        BundleWriter(
            io.BytesIO(),
            public_key=SIGNER.public_key,
            after=3,
            until=4,
            prev_hash=LOG.hash_of(3),
            frontier=Frontier(),
        )


def test_the_header_is_the_first_line_and_documents_the_format() -> None:
    header = json.loads(lines_of(AFTER)[0])
    assert header["kind"] == "header" and header["format"] == FORMAT
    assert header["after"] == 20 and header["until"] == 50
    assert header["prev_hash"] == LONG.hash_of(20).hex()
    assert len(header["frontier"]) == (20).bit_count()
    end = json.loads(lines_of(AFTER)[-1])
    assert end == {
        "kind": "end",
        "events": 30,
        "last_position": 50,
        "last_hash": LONG.hash_of(50).hex(),
    }


def test_the_writer_adds_consistency_proofs_for_checkpoints_outside_the_range() -> None:
    kinds = [json.loads(line)["kind"] for line in lines_of(AFTER)]
    assert kinds[:1] == ["header"] and kinds[-1] == "end"
    proofs = [json.loads(line) for line in lines_of(AFTER) if b'"consistency"' in line]
    assert {(p["from"], p["to"]) for p in proofs} == {(10, 20), (50, 60)}
    assert proofs[0]["proof"] == [h.hex() for h in consistency_proof(10, 20, LONG.get_range)]


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


@settings(max_examples=300, deadline=None)
@given(
    magnitude=st.floats(min_value=1e-5, max_value=1e16, exclude_max=True).filter(
        lambda f: not f.is_integer()
    ),
    negative=st.booleans(),
)
def test_orjson_spells_plain_window_floats_like_rfc8785(magnitude: float, negative: bool) -> None:
    # The verifier's fast path relies on this (see bundle._PLAIN_FLOAT_MIN/MAX).
    value = -magnitude if negative else magnitude
    assert orjson.dumps(value) == rfc8785.dumps(value)


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
