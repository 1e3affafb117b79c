"""Write path (issue: foundation): direct eventsourcing single-event saves (the
baseline a team would hand-roll), HTTP single appends at 1, 8 and 32 clients against a
real uvicorn process, HTTP batches of 1000, and raw psycopg ``executemany`` — on SQLite
and PostgreSQL, in one run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from sqlalchemy.engine import make_url

from benchmarks.common import ROOT, fresh_postgres, fresh_sqlite, median_of, server
from benchmarks.load import body
from ledger.bootstrap import make_engine
from ledger.settings import Settings
from ledger.worlds import wire
from ledger.writing.keys import KeyStore

ASSETS = 64


class Tank(Aggregate):
    @event("Delivered")
    def __init__(self, custodian: str) -> None:
        self.custodian = custodian


def direct_single_saves(url: str, n: int) -> float:
    """eventsourcing's own recorder and tables, one event per save."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(u.database),
            "CREATE_TABLE": "y",
        }
    else:
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(u.database),
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": "5432",
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "",
            "CREATE_TABLE": "y",
        }
    env["PERSISTENCE_MODULE"] = env["PERSISTENCE_MODULE"]
    app = Application(env={**env, "NAME": "Baseline"})
    start = time.perf_counter()
    for i in range(n):
        app.save(Tank(custodian=f"unit-{i}"))
    seconds = time.perf_counter() - start
    app.close()
    return n / seconds


def seed(base: str, key: str) -> None:
    events = wire.reference_world() + [wire.asset(f"t{i}") for i in range(ASSETS)]
    r = httpx.post(
        f"{base}/v1/events:batch",
        json={"events": events},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    r.raise_for_status()


def http_singles(base: str, key: str, concurrency: int, count: int) -> float:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.load",
            base,
            key,
            str(concurrency),
            str(count),
            uuid.uuid4().hex[:8],
            str(ASSETS),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["errors"]:
        raise RuntimeError(f"load errors: {result}")
    return float(result["events"] / result["seconds"])


def http_batches(base: str, key: str, batches: int, size: int = 1000) -> float:
    prefix = uuid.uuid4().hex[:8]
    payloads = [
        json.dumps({"events": [body(f"{prefix}-{b}", i, ASSETS) for i in range(size)]}).encode()
        for b in range(batches)
    ]
    with httpx.Client(
        base_url=base,
        timeout=120,
        headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
    ) as client:
        start = time.perf_counter()
        for p in payloads:
            r = client.post("/v1/events:batch", content=p)
            if r.status_code != 201:
                raise RuntimeError(r.text[:500])
        seconds = time.perf_counter() - start
    return batches * size / seconds


def raw_executemany(url: str, batches: int, size: int = 1000) -> float:
    """Rows shaped like the ledger's (uuid, version, topic, ~560 bytes of state, hash)."""
    u = make_url(url)
    state = json.dumps(body("raw", 1, ASSETS)).encode() * 2
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=u.database) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS raw_events (id bigint PRIMARY KEY, originator_id uuid NOT NULL,"
            " originator_version bigint NOT NULL, topic text NOT NULL, state bytea NOT NULL, hash bytea NOT NULL,"
            " UNIQUE (originator_id, originator_version))"
        )
        conn.execute("TRUNCATE raw_events")
        conn.commit()
        next_id = 1
        start = time.perf_counter()
        for _ in range(batches):
            rows = []
            for _ in range(size):
                rows.append(
                    (
                        next_id,
                        uuid.uuid4(),
                        1,
                        "domain.entries:CustodyTransferred",
                        state,
                        b"\x00" * 32,
                    )
                )
                next_id += 1
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO raw_events (id, originator_id, originator_version, topic, state, hash)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    rows,
                )
            conn.commit()
        seconds = time.perf_counter() - start
    return batches * size / seconds


def raw_autocommit_inserts(url: str, count: int, clients: int = 1) -> float:
    """Rows shaped like the ledger's, one INSERT per transaction (autocommit), from
    ``clients`` connections at once: what a service that writes one row per request
    with no framework at all would reach."""
    import threading

    u = make_url(url)
    state = json.dumps(body("raw", 1, ASSETS)).encode() * 2
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=u.database) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS raw_single (id bigserial PRIMARY KEY, originator_id uuid"
            " NOT NULL, topic text NOT NULL, state bytea NOT NULL, hash bytea NOT NULL)"
        )
        conn.execute("TRUNCATE raw_single")
        conn.commit()

    def writer(n: int) -> None:
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname=u.database, autocommit=True
        ) as conn:
            for _ in range(n):
                conn.execute(
                    "INSERT INTO raw_single (originator_id, topic, state, hash)"
                    " VALUES (%s, %s, %s, %s)",
                    (uuid.uuid4(), "domain.entries:CustodyTransferred", state, b"\x00" * 32),
                )

    threads = [threading.Thread(target=writer, args=(count // clients,)) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (count // clients) * clients / (time.perf_counter() - start)


def run(report: dict[str, Any]) -> None:
    results: dict[str, Any] = {}
    for backend in ("postgres", "sqlite"):
        ctx = fresh_postgres() if backend == "postgres" else fresh_sqlite()
        with ctx as url:
            r: dict[str, Any] = {}
            with (
                fresh_postgres(migrate=False) if backend == "postgres" else fresh_sqlite()
            ) as base_url:
                r["direct_single_save"] = median_of(lambda u=base_url: direct_single_saves(u, 1500))
            engine = make_engine(Settings(database_url=url))
            key = KeyStore(engine).create("bench", "admin")
            engine.dispose()
            # PostgreSQL is the multi-process deployment: two API processes (this machine
            # has two cores); SQLite is the embedded one: one process.
            workers = "2" if backend == "postgres" else "1"
            r["api_processes"] = (int(workers), [int(workers)])
            # The write path alone: projections and checkpoints would share the CPU (on
            # SQLite, the process) and are measured in their own sections.
            with server(
                url,
                LEDGER_WORKERS=workers,
                LEDGER_RUN_PROJECTIONS="no",
                LEDGER_CHECKPOINT_INTERVAL_SECONDS="0",
            ) as base:
                seed(base, key)
                for c, n in ((1, 1000), (8, 3000), (32, 4000)):
                    r[f"http_single_c{c}"] = median_of(
                        lambda b=base, k=key, c=c, n=n: http_singles(b, k, c, n)
                    )
                r["http_batch_1000"] = median_of(lambda b=base, k=key: http_batches(b, k, 10))
            if backend == "postgres":
                r["raw_executemany_1000"] = median_of(lambda u=url: raw_executemany(u, 20))
                r["raw_autocommit_c1"] = median_of(lambda u=url: raw_autocommit_inserts(u, 2000))
                r["raw_autocommit_c32"] = median_of(
                    lambda u=url: raw_autocommit_inserts(u, 4000, clients=32)
                )
            results[backend] = r
            print(backend, {k: round(v[0]) for k, v in r.items()}, flush=True)
    report["write"] = results
