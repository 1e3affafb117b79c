"""Scratch ledgers and the processes of a deployment, on 127.0.0.1 only.

A :class:`Deployment` is what an operator runs: ``ledger serve`` processes (two on
PostgreSQL, one on SQLite, where the server also runs the projections) and, on
PostgreSQL, one ``ledger project`` worker — all given the same database and the same
signing key file. Each process can be killed with SIGKILL and started again on the same
port. Scratch PostgreSQL databases are named ``faults_*`` and dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from domain.vocabulary import Role
from ledger.bootstrap import Ledger, build_ledger
from ledger.settings import Settings
from ledger.store.migrate import upgrade
from ledger.worlds import wire
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CODE = ROOT
"""Where the ledger processes run from: ``snapshot_code`` points it at a copy."""
HOST = "127.0.0.1"
ADMIN = Principal("faults-admin", Role.ADMIN)
PARTIES = ("iq-army", "iq-9th")


def pg_conninfo(url: str) -> str:
    u = make_url(url)
    return (
        f"host={u.host or HOST} port={u.port or 5432} user={u.username or 'postgres'} "
        f"dbname={u.database or 'postgres'}" + (f" password={u.password}" if u.password else "")
    )


def backend_of(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgres"


def _pg_url(name: str, admin_url: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def scratch_database(
    backend: str, workdir: Path, admin_url: str = PG_ADMIN_URL, *, template: str | None = None
) -> Iterator[str]:
    """A fresh migrated database (or a copy of ``template``'s), gone afterwards."""
    tag = uuid.uuid4().hex[:10]
    if backend == "sqlite":
        path = workdir / f"ledger-{tag}.db"
        if template is None:
            upgrade(f"sqlite:///{path}")
        else:
            source = Path(str(make_url(template).database))
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{source}{suffix}").exists():
                    shutil.copy(f"{source}{suffix}", f"{path}{suffix}")
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"faults_{tag}"
    with psycopg.connect(pg_conninfo(admin_url), autocommit=True, connect_timeout=10) as admin:
        if template is None:
            admin.execute(f'CREATE DATABASE "{name}"')
        else:
            original = make_url(template).database
            # A template must have no other session: a just-closed pool may linger a moment.
            for attempt in range(50):
                try:
                    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{original}"')
                    break
                except psycopg.errors.ObjectInUse:
                    if attempt == 49:
                        raise
                    time.sleep(0.1)
        url = _pg_url(name, admin_url)
        try:
            if template is None:
                upgrade(url)
            yield url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def snapshot_code(into: Path) -> Path:
    """Copy the application packages to ``into`` and run every later ledger process (and
    the fuzzer) from there: others edit this working tree while the suite runs, and a
    process restarted mid-run must run the code the run started with."""
    global CODE
    into.mkdir(parents=True, exist_ok=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("domain", "ledger", "api", "migrations"):
        shutil.copytree(ROOT / package, into / package, ignore=skip)
    (into / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "__init__.py", into / "tests" / "__init__.py")
    shutil.copytree(ROOT / "tests" / "faults", into / "tests" / "faults", ignore=skip)
    CODE = into
    return into


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def ledger_env(url: str, key_file: Path, **extra: str) -> dict[str, str]:
    """The environment of a ledger process: this machine's, less any LEDGER_ setting
    (``make`` exports some), plus this deployment's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        LEDGER_DATABASE_URL=url,
        LEDGER_SIGNING_KEY_FILE=str(key_file),
        LEDGER_LOG_LEVEL="warning",
        LEDGER_ACCESS_LOG="false",
        LEDGER_KEY_CACHE_SECONDS="60",
    )
    env.update(extra)
    return env


@dataclass
class Service:
    """One ledger process: started, killed (SIGKILL) and started again."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: TextIO | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        if self._log is None:
            self._log = open(self.log_path, "a")  # noqa: SIM115 - kept across restarts
        self._log.write(f"--- start {self.starts} at {time.time():.3f}\n")
        self._log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", *self.argv],
            cwd=CODE,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()
        if self._log is not None:
            self._log.close()
            self._log = None

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Seconds until ``/healthz`` answers 200 (from now)."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited with {self.exit_code()}: see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not healthy after {timeout:.0f} s: see {self.log_path}")


class Deployment:
    """API processes (and on PostgreSQL a projection worker) over one database."""

    def __init__(
        self,
        url: str,
        workdir: Path,
        *,
        api_processes: int | None = None,
        checkpoint_interval: float = 10.0,
    ) -> None:
        self.url = url
        self.backend = backend_of(url)
        self.workdir = workdir
        self.key_file = workdir / "signing-key.pem"
        self.env = ledger_env(
            url,
            self.key_file,
            LEDGER_CHECKPOINT_INTERVAL_SECONDS=str(checkpoint_interval),
            LEDGER_PROJECTION_POLL_SECONDS="0.2",
        )
        n = api_processes or (1 if self.backend == "sqlite" else 2)
        self.apis = []
        for i in range(n):
            port = free_port()
            self.apis.append(
                Service(
                    f"api{i}",
                    ["serve", "--host", HOST, "--port", str(port)],
                    self.env,
                    workdir / f"api{i}.log",
                    port,
                )
            )
        self.worker: Service | None = None
        if self.backend == "postgres":
            self.worker = Service("worker", ["project"], self.env, workdir / "worker.log")

    @property
    def services(self) -> list[Service]:
        return [*self.apis, *([self.worker] if self.worker else [])]

    def settings(self) -> Settings:
        return Settings(database_url=self.url, signing_key_file=self.key_file)

    def open_ledger(self) -> Ledger:
        return build_ledger(self.settings())

    def start(self) -> None:
        for s in self.services:
            s.start()
        for api in self.apis:
            api.wait_healthy()

    def stop(self) -> None:
        for s in self.services:
            s.stop()

    def bases(self) -> list[str]:
        return [a.base for a in self.apis if a.alive()]

    def readiness(self) -> dict[str, Any] | None:
        for base in self.bases():
            try:
                r = httpx.get(f"{base}/readyz", timeout=5)
                body: dict[str, Any] = r.json()
                if r.status_code == 200:
                    return body
            except (httpx.HTTPError, ValueError):
                continue
        return None

    def wait_converged(self, timeout: float) -> float | None:
        """Seconds until ``/readyz`` reports projection lag 0 (None: not within ``timeout``)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            ready = self.readiness()
            projections = (ready or {}).get("projections") or {}
            if ready and projections.get("lag") == 0:
                return time.monotonic() - started
            time.sleep(0.1)
        return None


def stored_head(url: str) -> int:
    engine = sa.create_engine(Settings(database_url=url).sqlalchemy_url(), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(sa.text("SELECT max(notification_id) FROM ledger_events")).scalar()
                or 0
            )
    finally:
        engine.dispose()


def seed(ledger: Ledger, assets: int, transfers: int, batch: int = 1000) -> int:
    """The reference world, ``assets`` assets ``a0…`` and ``transfers`` transfers among
    them, appended in batches; returns the head."""
    append(ledger, wire.reference_world())
    for start in range(0, assets, batch):
        append(
            ledger,
            [
                wire.asset(f"a{i}", event_id=f"seed-a{i}")
                for i in range(start, min(assets, start + batch))
            ],
        )
    for start in range(0, transfers, batch):
        append(
            ledger,
            [
                transfer(f"a{i % assets}", i, f"seed-t{i}")
                for i in range(start, min(transfers, start + batch))
            ],
        )
    return ledger.lookups.head()[0]


def append(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], ADMIN)


def transfer(asset: str, i: int, event_id: str) -> dict[str, Any]:
    a, b = PARTIES if i % 2 == 0 else PARTIES[::-1]
    return wire.transfer([asset], a, b, event_id=event_id)
