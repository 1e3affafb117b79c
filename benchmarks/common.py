"""Shared harness pieces: fresh databases, a real server process, medians."""

from __future__ import annotations

import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

from ledger.store.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get(
    "LEDGER_BENCH_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
RUNS = int(os.environ.get("LEDGER_BENCH_RUNS", "3"))


def median_of(fn: Callable[[], float], runs: int = RUNS) -> tuple[float, list[float]]:
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values


@contextmanager
def fresh_sqlite() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="ledger-bench-")
    url = f"sqlite:///{d}/ledger.db"
    upgrade(url)
    try:
        yield url
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextmanager
def fresh_postgres(migrate: bool = True) -> Iterator[str]:
    name = f"ledger_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    if migrate:
        upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MB: the kernel's high-water mark of its
    own address space (``VmHWM``). Not ``getrusage``'s ``ru_maxrss``: Linux carries
    that over from the process that spawned this one (the address space forked, then
    replaced by ``exec``), so a worker started by a harness holding 780 MB reported
    780 MB however little it used (``max(own, parent's at the spawn)``)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(url: str, **env: str) -> Iterator[str]:
    """A real ``ledger serve`` process on loopback."""
    port = free_port()
    full_env = {
        **os.environ,
        "LEDGER_DATABASE_URL": url,
        "LEDGER_LOG_LEVEL": "warning",
        "LEDGER_ACCESS_LOG": "false",
        "LEDGER_KEY_CACHE_SECONDS": "60",
        "LEDGER_SIGNING_KEY_FILE": os.path.join(
            tempfile.gettempdir(), "ledger-bench-signing-key.pem"
        ),
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", "serve", "--port", str(port)], cwd=ROOT, env=full_env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}{_postgres()}"


def _postgres() -> str:
    """The PostgreSQL server's version and whether autovacuum runs: without it, no
    table is vacuumed or analysed, which the projections' catch-ups feel at scale."""
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
            version = admin.execute("SHOW server_version").fetchone()
            autovacuum = admin.execute("SHOW autovacuum").fetchone()
    except psycopg.Error:
        return ""
    assert version is not None and autovacuum is not None
    return f", PostgreSQL {version[0].split()[0]} (autovacuum {autovacuum[0]})"
