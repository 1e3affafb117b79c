"""Logs, bundles and assertions shared by the bundle tests (``test_bundle_*.py``)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from ledger.integrity.bundle_report import EXIT_CODES, Verdict, VerifyReport
from ledger.integrity.bundle_verify import verify_bundle
from ledger.integrity.bundle_writer import write_bundle
from ledger.integrity.checkpoints import Checkpoint, Signer
from ledger.integrity.merkle import leaf_hash, root

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


# --- a bundle that starts after 0 (writer and trust tests) --------------------------


LONG = Log(make_rows(60))
AFTER = build(LONG, after=20, until=50, sizes=[10, 35, 60], inclusions=[(30, 50)])
