"""Phase 1: kill -9 under load.

Writers append single events and small batches through the API processes while, at
random moments, an API process or the projection worker is killed with SIGKILL and
started again. After a kill of the worker (on SQLite the server is the worker), the
writers pause (once the process is back) and the time from that pause until ``/readyz``
reports lag 0 is taken; the time from the restart is reported beside it.
Afterwards: every acknowledged event stored at its receipt's position with its hash, no
partial batch, positions gap-free, ``ledger checkpoint`` and ``ledger verify`` clean.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.checks import Audit, Integrity, audit, checkpoint_and_verify, read_stored
from tests.faults.deploy import Deployment, Service, seed, stored_head
from tests.faults.writers import Book, Writers


@dataclass
class KillOptions:
    kills: int = 20
    writers: int = 8
    seed_events: int = 20_000
    assets: int = 200
    budget: float = 300.0
    """seconds for the kill rounds; fewer rounds are run (and reported) if it runs out"""
    converge_timeout: float = 240.0
    between: tuple[float, float] = (0.5, 2.0)
    """seconds of load before each kill, drawn uniformly"""
    down: tuple[float, float] = (0.2, 1.0)
    """seconds a killed process stays down, drawn uniformly"""
    checkpoint_interval: float = 10.0
    rng_seed: int = 16
    cli: bool = True
    """checkpoint and verify with the ``ledger`` commands (else the same functions in process)"""


@dataclass
class KillRound:
    target: str
    load_before: float
    head: int
    """the head when the process came back (kills of the worker: when the writers paused)"""
    restart: float
    """seconds from the restart until the process answered /healthz (the worker: 0)"""
    converge: float | None = None
    """kills of the worker: seconds from the writers' pause (the worker restarted) until
    /readyz reported lag 0"""
    since_restart: float | None = None
    """the same, from the restart"""


@dataclass
class KillResult:
    backend: str
    options: KillOptions
    seed_head: int = 0
    initial_catch_up: float | None = None
    """seconds from starting the processes until the seeded log was projected"""
    rounds: list[KillRound] = field(default_factory=list)
    seconds: float = 0.0
    budget_ran_out: bool = False
    final_converge: float | None = None
    died_by_themselves: list[str] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)
    """seconds spent in each step of the phase"""
    book: Book | None = None
    audit: Audit | None = None
    integrity: Integrity | None = None

    @property
    def worker_rounds(self) -> list[KillRound]:
        return [r for r in self.rounds if r.target in ("worker", "api0 (also the worker)")]

    @property
    def converges(self) -> list[float | None]:
        """Per kill of the worker: seconds from the writers' pause (once the restarted
        process is back) until lag 0, the issue's measure (None: not in time). Appends
        slowed by the restart show in the pause's own length and in the slowest answer,
        which are reported beside it."""
        return [r.converge for r in self.worker_rounds]

    def convergence(self) -> tuple[float | None, float | None, int]:
        """(median, worst, rounds that did not converge in time), from the pause"""
        done = [c for c in self.converges if c is not None]
        missed = len(self.converges) - len(done)
        if not done:
            return None, None, missed
        return statistics.median(done), max(done), missed

    @property
    def ok(self) -> bool:
        return bool(
            self.audit
            and self.audit.ok
            and self.integrity
            and self.integrity.checkpoint_exit == 0
            and self.integrity.verify_exit == 0
            and self.final_converge is not None
            and None not in self.converges
            and not self.died_by_themselves
        )


class Laps:
    """Records the seconds since the previous lap under a name."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.last = time.monotonic()

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self.into[name] = now - self.last
        self.last = now


def _schedule(deploy: Deployment, kills: int, rng: random.Random) -> list[Service]:
    if deploy.worker is None:
        return [deploy.apis[0]] * kills
    pool = [deploy.worker, *deploy.apis]
    plan = [pool[i % len(pool)] for i in range(kills)]
    rng.shuffle(plan)
    return plan


def run_kill_phase(url: str, workdir: Path, opts: KillOptions) -> KillResult:
    rng = random.Random(opts.rng_seed)
    deploy = Deployment(url, workdir, checkpoint_interval=opts.checkpoint_interval)
    result = KillResult(deploy.backend, opts)
    started = time.monotonic()
    lap = Laps(result.steps)
    ledger = deploy.open_ledger()
    try:
        key = ledger.keys.create(f"faults-{uuid.uuid4().hex[:6]}", "admin", None)
        result.seed_head = seed(ledger, opts.assets, opts.seed_events)
    finally:
        ledger.close()
    lap("seed")
    writers = Writers(
        deploy.bases,
        key,
        n=opts.writers,
        assets=opts.assets,
        prefix=f"k{uuid.uuid4().hex[:6]}",
        seed=opts.rng_seed,
    )
    try:
        begun = time.monotonic()
        deploy.start()
        if deploy.wait_converged(opts.converge_timeout) is not None:
            result.initial_catch_up = time.monotonic() - begun
        lap("start and catch up")
        writers.start()
        deadline = time.monotonic() + opts.budget
        for target in _schedule(deploy, opts.kills, rng):
            if time.monotonic() > deadline:
                result.budget_ran_out = True
                break
            for s in deploy.services:  # nothing may die unless killed
                if not s.alive():
                    result.died_by_themselves.append(f"{s.name} (exit {s.exit_code()})")
                    s.start()
            load = rng.uniform(*opts.between)
            time.sleep(load)
            result.rounds.append(_kill_round(deploy, writers, target, load, rng, opts))
        lap("kill rounds")
        writers.pause()
        result.final_converge = deploy.wait_converged(opts.converge_timeout)
        for s in deploy.services:
            if not s.alive():
                result.died_by_themselves.append(f"{s.name} (exit {s.exit_code()})")
        lap("final convergence")
    finally:
        writers.stop()
        deploy.stop()
        lap("stop")
    result.book = writers.book
    result.audit = audit(writers.book, read_stored(url))
    lap("audit")
    result.integrity = checkpoint_and_verify(url, deploy.key_file, cli=opts.cli)
    lap("checkpoint and verify")
    result.seconds = time.monotonic() - started
    return result


def _kill_round(
    deploy: Deployment,
    writers: Writers,
    target: Service,
    load: float,
    rng: random.Random,
    opts: KillOptions,
) -> KillRound:
    projects = target is deploy.worker or deploy.worker is None
    name = target.name if deploy.worker is not None else f"{target.name} (also the worker)"
    target.kill9()
    time.sleep(rng.uniform(*opts.down))
    head = _head(deploy)
    restarted = time.monotonic()
    target.start()
    healthy = target.wait_healthy() if target.port is not None else 0.0
    r = KillRound(name, load, head, healthy)
    if projects:
        # Writers in flight finish (retrying on the restarted server) before the pause.
        writers.pause()
        r.head = _head(deploy)
        r.converge = deploy.wait_converged(opts.converge_timeout)
        r.since_restart = None if r.converge is None else time.monotonic() - restarted
        writers.resume()
    return r


def _head(deploy: Deployment) -> int:
    return stored_head(deploy.url)
