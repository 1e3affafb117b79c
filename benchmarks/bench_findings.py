"""Findings (issue: rule catalogue): on a generated ledger of LEDGER_BENCH_FINDINGS_EVENTS
events (default 1,000,000) over LEDGER_BENCH_FINDINGS_ASSETS assets (default 10,000) on
PostgreSQL — the custody benchmark's shape, with 2% captures by an unauthorised party so
that state findings arise (and, the events being dated 2015, one late-recording finding
per event): the findings projection's catch-up rate beside the custody projection's in
the same run, ``GET /v1/findings`` (a page of 100) p50/p99 against a real server, and
the contract report and compliance over every asset (medians of
LEDGER_BENCH_RUNS)."""

from __future__ import annotations

import os
import random
import resource
import statistics
import time
from typing import Any

import httpx
import sqlalchemy as sa
from tqdm import tqdm

from benchmarks.common import RUNS, fresh_postgres, server
from benchmarks.load import body
from domain.vocabulary import Role
from ledger.bootstrap import build_ledger
from ledger.projections.custody import CustodyProjection
from ledger.projections.findings import FindingsProjection
from ledger.projections.runner import Runner
from ledger.settings import Settings
from ledger.store.tables import findings
from ledger.worlds import wire
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

EVENTS = int(os.environ.get("LEDGER_BENCH_FINDINGS_EVENTS", "1000000"))
ASSETS = int(os.environ.get("LEDGER_BENCH_FINDINGS_ASSETS", "10000"))


def generate(url: str) -> None:
    ledger = build_ledger(Settings(database_url=url))
    who = Principal("bench", Role.ADMIN)
    rnd = random.Random(3)
    try:
        ledger.appender.append(
            [EVENT_ADAPTER.validate_python(e) for e in wire.reference_world()], who
        )
        for start in range(0, ASSETS, 1000):
            batch = [wire.asset(f"t{i}") for i in range(start, min(ASSETS, start + 1000))]
            ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in batch], who)
        with tqdm(total=EVENTS, unit="ev", desc="generate", mininterval=5) as bar:
            for start in range(0, EVENTS, 500):
                events: list[dict[str, Any]] = []
                for i in range(start, min(EVENTS, start + 500)):
                    if rnd.random() < 0.02:
                        events.append(
                            wire.capture(
                                [f"t{rnd.randrange(ASSETS)}"],
                                "isil",
                                occurred_at="2015-01-01T00:00:00Z",
                            )
                        )
                    else:
                        events.append(body("f", i, ASSETS))
                ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], who)
                bar.update(len(events))
    finally:
        ledger.close()


def catch_up(url: str, projection: Any) -> float:
    ledger = build_ledger(Settings(database_url=url, run_projections="no"))
    try:
        runner = Runner(ledger.engine, ledger.store, [projection], batch_size=5000)
        start = time.perf_counter()
        with tqdm(unit="ev", desc=projection.name, mininterval=5) as bar:

            def progress(applied: int) -> None:
                bar.update(applied)

            n = runner.catch_up(progress)
        return n / (time.perf_counter() - start)
    finally:
        ledger.close()


def timed_get(client: httpx.Client, path: str, runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        resp = client.get(path)
        samples.append(time.perf_counter() - t)
        assert resp.status_code == 200, resp.text
    return statistics.median(samples)


def timed_get_html(client: httpx.Client, path: str, runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        resp = client.get(path, headers={"Accept": "text/html"})
        samples.append(time.perf_counter() - t)
        assert resp.status_code == 200, resp.text
    return statistics.median(samples)


def run(report: dict[str, Any]) -> None:
    r: dict[str, Any] = {"events": EVENTS, "assets": ASSETS}
    with fresh_postgres() as url:
        generate(url)
        r["custody_catch_up_per_s"] = catch_up(url, CustodyProjection())
        r["findings_catch_up_per_s"] = catch_up(url, FindingsProjection())
        r["findings_catch_up_max_rss_mb"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        )
        r["findings_vs_custody"] = r["findings_catch_up_per_s"] / r["custody_catch_up_per_s"]
        ledger = build_ledger(Settings(database_url=url))
        key = ledger.keys.create("bench-findings", "auditor")
        with ledger.engine.connect() as conn:
            r["findings_total"] = conn.execute(
                sa.select(sa.func.count()).select_from(findings)
            ).scalar_one()
        ledger.close()
        with (
            server(url, LEDGER_RUN_PROJECTIONS="no") as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120
            ) as client,
        ):
            samples = []
            for i in range(60):
                t = time.perf_counter()
                resp = client.get("/v1/findings", params={"limit": 100, "cleared": "any"})
                samples.append(time.perf_counter() - t)
                assert resp.status_code == 200, resp.text
                del i
            samples.sort()
            r["findings_p50_ms"] = statistics.median(samples) * 1000
            r["findings_p99_ms"] = samples[int(len(samples) * 0.99) - 1] * 1000
            r["report_seconds"] = timed_get(client, "/v1/contracts/fms-1/report")
            r["report_html_seconds"] = timed_get_html(client, "/v1/contracts/fms-1/report")
            r["contract_view_seconds"] = timed_get(client, "/v1/contracts/fms-1")
            body = client.get("/v1/contracts/fms-1/report").json()
            r["report_assets"] = body["assets"]["total"]
            r["report_event_findings_total"] = body["event_findings_total"]
    print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)
    report["findings"] = r
