"""The bundle writer: what it writes, and the misuse it refuses."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from ledger.integrity.bundle_format import FORMAT
from ledger.integrity.bundle_report import Verdict
from ledger.integrity.bundle_writer import BundleWriteError, BundleWriter
from ledger.integrity.merkle import Frontier, consistency_proof
from tests.unit.bundle_builders import (
    AFTER,
    BASE,
    LOG,
    LONG,
    SIGNER,
    Log,
    assert_verdict,
    build,
    event_index,
    lines_of,
    verify,
)

# --- clean bundles ------------------------------------------------------------------


def test_the_state_on_a_line_is_exactly_the_stored_bytes() -> None:
    lines = lines_of(BASE)
    line = json.loads(lines[event_index(lines, 7)])
    _, state, digest = LOG.rows[6]
    assert line["state"].encode("utf-8") == state
    assert line["hash"] == digest.hex() == hashlib.sha256(state).hexdigest()


# --- tampering with events ----------------------------------------------------------


def test_a_row_that_is_not_utf8_is_exported_as_base64_and_reported() -> None:
    rows = list(LOG.rows)
    position, state, _ = rows[4]
    broken = state.replace(b"Depot 7", b"Depot \xff")
    rows[4] = (position, broken, hashlib.sha256(broken).digest())
    data = build(Log(rows), checkpoints=[SIGNER.checkpoint(40, LOG.root(40))])
    assert b'"state_b64":' in data
    report = verify(data)
    assert_verdict(report, Verdict.TAMPERED, 5)


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
