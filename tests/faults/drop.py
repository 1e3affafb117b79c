"""Phase 2 (PostgreSQL only): dropped database connections.

While writers append through two API processes, every backend of the ledger's database
but the harness's own is terminated (``pg_terminate_backend``) at random moments — the
API processes' pools, the projection worker's connections and its LISTEN. Clients may
see 201, 200, 409 or 503 with ``Retry-After``: never a 500, never a broken connection,
never a hang past the client's timeout. Afterwards the deployment must recover by itself
(a new append succeeds on every API process, projections reach lag 0) and the stored log
must match every receipt.

SQLite has no server connections to drop: a file cannot be disconnected.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from tests.faults.checks import Audit, Integrity, audit, checkpoint_and_verify, read_stored
from tests.faults.deploy import Deployment, pg_conninfo, seed, transfer
from tests.faults.writers import Book, Writers

TERMINATE = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@dataclass
class DropOptions:
    duration: float = 60.0
    writers: int = 8
    seed_events: int = 2000
    assets: int = 100
    every: tuple[float, float] = (0.5, 2.0)
    """seconds between two rounds of terminations, drawn uniformly"""
    request_timeout: float = 20.0
    recover_timeout: float = 120.0
    rng_seed: int = 16


@dataclass
class DropResult:
    backend: str
    options: DropOptions
    rounds: int = 0
    terminated: int = 0
    seconds: float = 0.0
    recovered_appends: float | None = None
    """seconds from the last termination until a new append was acknowledged by every
    API process"""
    converge: float | None = None
    """then, writers stopped: seconds until /readyz reported lag 0"""
    died_by_themselves: list[str] = field(default_factory=list)
    book: Book | None = None
    audit: Audit | None = None
    integrity: Integrity | None = None

    def violations(self) -> list[str]:
        out: list[str] = []
        if self.book is None:
            return ["no book"]
        for what, n in sorted(self.book.answers.items()):
            if what not in ("200", "201", "409", "503"):
                out.append(f"{n}× {what}")
        if self.book.missing_retry_after:
            out.append(f"{self.book.missing_retry_after}× 503 without Retry-After")
        return out

    @property
    def ok(self) -> bool:
        return bool(
            not self.violations()
            and self.audit
            and self.audit.ok
            and self.integrity
            and self.integrity.checkpoint_exit == 0
            and self.integrity.verify_exit == 0
            and self.recovered_appends is not None
            and self.converge is not None
            and not self.died_by_themselves
        )


def run_drop_phase(url: str, workdir: Path, opts: DropOptions) -> DropResult:
    rng = random.Random(opts.rng_seed)
    deploy = Deployment(url, workdir)
    result = DropResult(deploy.backend, opts)
    started = time.monotonic()
    ledger = deploy.open_ledger()
    try:
        key = ledger.keys.create(f"faults-{uuid.uuid4().hex[:6]}", "admin", None)
        seed(ledger, opts.assets, opts.seed_events)
    finally:
        ledger.close()
    writers = Writers(
        deploy.bases,
        key,
        n=opts.writers,
        assets=opts.assets,
        prefix=f"d{uuid.uuid4().hex[:6]}",
        seed=opts.rng_seed,
        timeout=opts.request_timeout,
    )
    try:
        deploy.start()
        deploy.wait_converged(opts.recover_timeout)
        writers.start()
        with psycopg.connect(pg_conninfo(url), autocommit=True) as admin:
            end = time.monotonic() + opts.duration
            while time.monotonic() < end:
                time.sleep(rng.uniform(*opts.every))
                row = admin.execute(TERMINATE).fetchone()
                result.terminated += int(row[0]) if row else 0
                result.rounds += 1
        last = time.monotonic()
        writers.pause()
        result.recovered_appends = _appends_recover(deploy, key, last, opts.recover_timeout)
        paused = time.monotonic()
        if deploy.wait_converged(opts.recover_timeout) is not None:
            result.converge = time.monotonic() - paused
        result.died_by_themselves = [
            f"{s.name} (exit {s.exit_code()})" for s in deploy.services if not s.alive()
        ]
    finally:
        writers.stop()
        deploy.stop()
    result.book = writers.book
    result.audit = audit(writers.book, read_stored(url))
    result.integrity = checkpoint_and_verify(url, deploy.key_file)
    result.seconds = time.monotonic() - started
    return result


def _appends_recover(deploy: Deployment, key: str, since: float, timeout: float) -> float | None:
    """Seconds from ``since`` until one new append was acknowledged by each API process."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=10, headers=headers) as client:
        for n, api in enumerate(deploy.apis):
            body = transfer("a0", n, f"probe-{uuid.uuid4().hex[:8]}")
            while True:
                if time.monotonic() - since > timeout:
                    return None
                try:
                    if client.post(f"{api.base}/v1/events", json=body).status_code in (200, 201):
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
    return time.monotonic() - since
