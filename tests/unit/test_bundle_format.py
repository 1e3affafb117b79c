"""The bundle format: canonical JSON states, framing that carries no meaning, input that
is not a bundle."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.integrity.bundle_report import Verdict
from ledger.integrity.bundle_verify import verify_bundle
from tests.unit.bundle_builders import (
    BASE,
    LOG,
    Log,
    assert_verdict,
    build,
    chain,
    lines_of,
    record,
    verify,
)

# --- clean bundles ------------------------------------------------------------------


def test_generated_states_are_rfc8785() -> None:
    for _, state, _ in LOG.rows[:5]:
        assert rfc8785.dumps(json.loads(state)) == state


def test_framing_whitespace_carries_no_meaning() -> None:
    crlf = BASE.replace(b"\n", b"\r\n")
    spaced = b"".join(b"  " + line.rstrip(b"\n") + b" \t\n" for line in lines_of(BASE))
    blank_lines = BASE.replace(b"\n", b"\n\n")
    no_final_newline = BASE.rstrip(b"\n")
    for variant in (crlf, spaced, blank_lines, no_final_newline):
        assert_verdict(verify(variant), Verdict.CLEAN)
    assert_verdict(verify_bundle(BASE.splitlines()), Verdict.CLEAN)


# --- tampering with events ----------------------------------------------------------


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


# --- fuzzing ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    magnitude=st.floats(min_value=1e-5, max_value=1e16, exclude_max=True).filter(
        lambda f: not f.is_integer()
    ),
    negative=st.booleans(),
)
def test_orjson_spells_plain_window_floats_like_rfc8785(magnitude: float, negative: bool) -> None:
    # The verifier's fast path relies on this (see bundle_format._PLAIN_FLOAT_MIN/MAX).
    value = -magnitude if negative else magnitude
    assert orjson.dumps(value) == rfc8785.dumps(value)
