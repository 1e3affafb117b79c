"""What is checked after a phase: the stored log against the writers' book, and the
integrity commands an operator would run (``ledger checkpoint``, ``ledger verify``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from ledger.settings import Settings
from tests.faults import deploy
from tests.faults.deploy import ledger_env
from tests.faults.writers import Book


@dataclass
class Stored:
    """The stored log, read by SQL: position → (event_id, hash hex)."""

    rows: dict[int, tuple[str, str]]
    by_id: dict[str, list[int]]

    @property
    def head(self) -> int:
        return max(self.rows, default=0)


def read_stored(url: str) -> Stored:
    engine = sa.create_engine(Settings(database_url=url).sqlalchemy_url(), poolclass=NullPool)
    rows: dict[int, tuple[str, str]] = {}
    by_id: dict[str, list[int]] = {}
    try:
        with engine.connect() as conn:
            result = conn.execute(
                sa.text("SELECT notification_id, hash, state FROM ledger_events ORDER BY 1")
            )
            for position, digest, state in result:
                event_id = str(json.loads(bytes(state))["event_id"])
                rows[int(position)] = (event_id, bytes(digest).hex())
                by_id.setdefault(event_id, []).append(int(position))
    finally:
        engine.dispose()
    return Stored(rows, by_id)


@dataclass
class Audit:
    """The book held against the stored log."""

    appends: int = 0
    acked_appends: int = 0
    acked_events: int = 0
    indeterminate_appends: int = 0
    indeterminate_stored: int = 0
    refused_appends: int = 0
    error_appends: int = 0
    lost: list[str] = field(default_factory=list)
    lying: list[str] = field(default_factory=list)
    partial_batches: list[str] = field(default_factory=list)
    stored_twice: list[str] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)
    head: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.lying or self.partial_batches or self.stored_twice or self.gaps
        )

    def problems(self) -> list[str]:
        out = []
        for name in ("lost", "lying", "partial_batches", "stored_twice", "gaps"):
            found = getattr(self, name)
            if found:
                out.append(f"{len(found)} {name.replace('_', ' ')}, e.g. {found[:3]}")
        return out


def audit(book: Book, stored: Stored) -> Audit:
    """Every acknowledged event stored at its receipt's position with its receipt's hash,
    every batch all or none, each event once, positions gap-free."""
    a = Audit(head=stored.head)
    a.gaps = [p for p in range(1, stored.head + 1) if p not in stored.rows][:100]
    a.stored_twice = [i for i, ps in stored.by_id.items() if len(ps) > 1][:100]
    with book.lock:
        appends = list(book.appends)
    for ap in appends:
        a.appends += 1
        present = [i for i in ap.event_ids if i in stored.by_id]
        if present and len(present) != len(ap.event_ids):
            a.partial_batches.append(f"{ap.event_ids[0]}: {len(present)}/{len(ap.event_ids)}")
        if ap.outcome == "acked":
            a.acked_appends += 1
            a.acked_events += len(ap.receipts)
            if sorted(r[0] for r in ap.receipts) != sorted(ap.event_ids):
                a.lying.append(f"{ap.event_ids[0]}: receipts name other events")
            for event_id, position, digest in ap.receipts:
                if event_id not in stored.by_id:
                    a.lost.append(event_id)
                elif stored.rows.get(position) != (event_id, digest):
                    a.lying.append(
                        f"{event_id}: receipt says {position}/{digest[:12]}, stored "
                        f"{stored.by_id[event_id]}/{stored.rows.get(position, ('', ''))[1][:12]}"
                    )
        elif ap.outcome == "indeterminate":
            a.indeterminate_appends += 1
            a.indeterminate_stored += bool(present)
        elif ap.outcome == "refused":
            a.refused_appends += 1
        elif ap.outcome == "error":
            a.error_appends += 1
    return a


@dataclass
class Integrity:
    checkpoint_exit: int
    checkpoint_said: str
    verify_exit: int
    verify_said: str
    seconds: float


def _cli(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        cwd=deploy.CODE,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout.strip() or done.stderr.strip()


def checkpoint_and_verify(
    url: str, key_file: Path, timeout: float = 300.0, *, cli: bool = True
) -> Integrity:
    """``ledger checkpoint`` then ``ledger verify --database URL``, as an operator would
    (``cli=False``: the functions those commands call, in this process)."""
    started = time.monotonic()
    if not cli:
        return _in_process(url, key_file, started)
    env = ledger_env(url, key_file)
    cp_exit, cp_said = _cli(["checkpoint"], env, timeout)
    try:
        size = f"checkpoint {json.loads(cp_said)['tree_size']}"
    except (ValueError, KeyError, TypeError):
        size = cp_said[-300:]
    v_exit, v_said = _cli(["verify", "--database", url, "--quiet"], env, timeout)
    headline = [ln for ln in v_said.splitlines() if ln.startswith(("verdict:", "events:", "first"))]
    return Integrity(
        cp_exit, size, v_exit, "; ".join(headline) or v_said[-300:], time.monotonic() - started
    )


def _in_process(url: str, key_file: Path, started: float) -> Integrity:
    from ledger.bootstrap import build_ledger
    from ledger.integrity.verify_live import verify_database

    ledger = build_ledger(Settings(database_url=url, signing_key_file=key_file))
    try:
        try:
            cp, _ = ledger.integrity.checkpoint()
            cp_exit, said = 0, f"checkpoint {cp.tree_size if cp else None}"
        except Exception as exc:  # reported as the command would, with a failing exit
            cp_exit, said = 1, f"{type(exc).__name__}: {exc}"
        report = verify_database(ledger.engine, signing_key_file=key_file)
    finally:
        ledger.close()
    verdict = f"verdict: {report.verdict} (exit {report.exit_code}); events: {report.events}"
    if report.first_position is not None:
        verdict += f"; first failing event: {report.first_position}: {report.reason}"
    return Integrity(cp_exit, said, report.exit_code, verdict, time.monotonic() - started)
