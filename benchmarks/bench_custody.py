"""Custody projections (issue: custody projections): on a generated ledger of
LEDGER_BENCH_EVENTS events (default 1,000,000) over LEDGER_BENCH_ASSETS assets
(default 10,000) on PostgreSQL — projection catch-up versus eventsourcing's own
read+decode rate in the same run, full rebuild time, asset and timeline latencies at
the current time and with as_of+known_at against a real server, and its memory."""

from __future__ import annotations

import os
import random
import statistics
import time
from typing import Any

import httpx
from tqdm import tqdm

from benchmarks.common import fresh_postgres, server
from benchmarks.load import body
from domain.vocabulary import Role
from ledger.bootstrap import build_ledger, settle_for_a_long_run
from ledger.projections.custody import CustodyProjection
from ledger.projections.runner import Runner
from ledger.settings import Settings
from ledger.worlds import wire
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

EVENTS = int(os.environ.get("LEDGER_BENCH_EVENTS", "1000000"))
ASSETS = int(os.environ.get("LEDGER_BENCH_ASSETS", "10000"))


def generate(url: str) -> int:
    ledger = build_ledger(Settings(database_url=url))
    who = Principal("bench", Role.ADMIN)
    try:
        ledger.appender.append(
            [EVENT_ADAPTER.validate_python(e) for e in wire.reference_world()], who
        )
        with tqdm(total=ASSETS + EVENTS, unit="ev", desc="generate", mininterval=5) as bar:
            for start in range(0, ASSETS, 1000):
                batch = [wire.asset(f"t{i}") for i in range(start, min(ASSETS, start + 1000))]
                ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in batch], who)
                bar.update(len(batch))
            for start in range(0, EVENTS, 1000):
                n = min(1000, EVENTS - start)
                batch = [body("g", i, ASSETS) for i in range(start, start + n)]
                ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in batch], who)
                bar.update(n)
        return ledger.lookups.head()[0]
    finally:
        ledger.close()


def read_decode_rate(url: str) -> float:
    """eventsourcing's own notification read and mapper decode, the whole log."""
    ledger = build_ledger(Settings(database_url=url))
    try:
        recorder, mapper = ledger.store.recorder, ledger.store.mapper
        start, n, position = time.perf_counter(), 0, 0
        while True:
            notes = recorder.select_notifications(start=position + 1, limit=5000)
            if not notes:
                break
            for note in notes:
                mapper.to_domain_event(note)
            n += len(notes)
            position = notes[-1].id
        return n / (time.perf_counter() - start)
    finally:
        ledger.close()


def catch_up(url: str, rebuild: bool) -> tuple[float, float]:
    """The custody projection alone (findings are measured in their own section)."""
    ledger = build_ledger(Settings(database_url=url))
    runner = Runner(  # batches as `ledger project` takes them
        ledger.engine,
        ledger.store,
        [CustodyProjection()],
        ledger.settings.projection_batch_size,
        catch_up_batch_size=ledger.settings.projection_catch_up_batch_size,
    )
    settle_for_a_long_run()  # what `ledger project` and `ledger projections rebuild` do
    try:
        start = time.perf_counter()
        with tqdm(
            total=ledger.lookups.head()[0],
            unit="ev",
            desc="rebuild" if rebuild else "catch-up",
            mininterval=5,
        ) as bar:

            def progress(n: int) -> None:
                bar.update(n)

            n = runner.rebuild(progress) if rebuild else runner.catch_up(progress)
        seconds = time.perf_counter() - start
        return n / seconds, seconds
    finally:
        ledger.close()


def percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
    }


QUERIES = {
    "asset_now": "/v1/assets/{a}",
    "timeline_now": "/v1/assets/{a}/timeline",
    "asset_past": "/v1/assets/{a}?as_of=2015-06-01T00:00:00Z&known_at={k}",
    "timeline_past": "/v1/assets/{a}/timeline?as_of=2015-06-01T00:00:00Z&known_at={k}",
}


def warm_timelines(url: str) -> tuple[float, int]:
    """What the timeline warmer of `ledger project` does after a catch-up: the current
    timeline of every asset stored (seconds, timelines)."""
    ledger = build_ledger(Settings(database_url=url))
    try:
        start = time.perf_counter()
        with tqdm(total=ASSETS, unit="asset", desc="timelines", mininterval=5) as bar:
            n = ledger.timelines.step(lambda k: bar.update(k))
        return time.perf_counter() - start, n
    finally:
        ledger.close()


def latencies(
    url: str, known: str, requests: int = 400, queries: dict[str, str] = QUERIES
) -> dict[str, Any]:
    ledger = build_ledger(Settings(database_url=url))
    key = ledger.keys.create(f"bench-{random.randrange(10**9)}", "investigator")
    ledger.close()
    out: dict[str, Any] = {}
    with server(url, LEDGER_RUN_PROJECTIONS="no") as base:
        rnd = random.Random(1)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
            for name, template in queries.items():
                samples = []
                for _ in range(20):  # warm-up
                    client.get(template.format(a=f"t{rnd.randrange(ASSETS)}", k=known))
                for _ in range(requests):
                    path = template.format(a=f"t{rnd.randrange(ASSETS)}", k=known)
                    t = time.perf_counter()
                    r = client.get(path)
                    samples.append(time.perf_counter() - t)
                    if r.status_code != 200:
                        raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
                out[name] = percentiles(samples)
            pid = int(open_pid(base))
            out["api_rss_mb"] = rss_mb(pid)
    return out


def open_pid(base: str) -> int:
    import subprocess

    port = base.rsplit(":", 1)[1]
    found = subprocess.run(
        ["pgrep", "-f", "ledger.cli serve"], capture_output=True, text=True
    ).stdout.split()
    del port
    return int(found[0])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(report: dict[str, Any]) -> None:
    r: dict[str, Any] = {"events": EVENTS, "assets": ASSETS}
    with fresh_postgres() as url:
        t, wall = time.perf_counter(), time.time()
        r["head"] = generate(url)
        r["generate_seconds"] = time.perf_counter() - t
        # A knowledge time halfway through the generation: half the history known.
        midway = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall + r["generate_seconds"] / 2))
        rates = [read_decode_rate(url) for _ in range(3)]
        r["read_decode_per_s"] = statistics.median(rates)
        r["catch_up_per_s"], r["catch_up_seconds"] = catch_up(url, rebuild=False)
        r["rebuild_per_s"], r["rebuild_seconds"] = catch_up(url, rebuild=True)
        r["catch_up_ratio"] = r["catch_up_per_s"] / r["read_decode_per_s"]
        # The current timeline folded on each read (before the warmer ran), then stored.
        folded = latencies(url, midway, queries={"timeline_now": QUERIES["timeline_now"]})
        r["timeline_now_folded"] = folded["timeline_now"]
        r["warm_timelines_seconds"], r["warm_timelines"] = warm_timelines(url)
        r.update(latencies(url, midway))
    print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)
    report["custody"] = r
