"""Findings (issue: findings at production scale), on PostgreSQL, for two ledgers of
LEDGER_BENCH_FINDINGS_EVENTS events (default 1,000,000) over
LEDGER_BENCH_FINDINGS_ASSETS assets (default 10,000), all under one contract:

* ``realistic`` — the realistic world (``ledger.worlds.realistic``, seed 1): late
  reports, amendments, inventories, reference changes, every rule family;
* ``stress`` — the one-day-dated stress ledger of the earlier runs (2% captures by an
  unauthorised party, every event dated 2015: one late-recording finding each), kept so
  that old and new results compare.

LEDGER_BENCH_FINDINGS_VARIANTS picks them (default ``realistic,stress``); a name with a
suffix (``realistic-2m``) is the same ledger at the size the environment sets, kept in a
column of its own (the issue's 2M / 20k growth run). For each: the
custody projection's catch-up, then the findings projection's in a process of its own
(its rate and peak RSS: the worker's memory, not the generator's); a restart — a new
process appends one event and catches up, seconds to "lag 0"; ``GET /v1/findings`` (a
page of 100) p50/p99 against a real server, and the contract report (JSON and HTML)
and the contract view over every asset (medians of LEDGER_BENCH_RUNS).

``python -m benchmarks.bench_findings`` runs it alone."""

from __future__ import annotations

import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from tqdm import tqdm

from benchmarks.common import RUNS, fresh_postgres, peak_rss_mb, server
from benchmarks.load import body
from domain.vocabulary import Role
from ledger.bootstrap import build_ledger, findings_projections, leases_of, settle_for_a_long_run
from ledger.projections.custody import CustodyProjection
from ledger.projections.findings import FindingsProjection
from ledger.projections.runner import Runner
from ledger.projections.tracking import positions
from ledger.settings import Settings
from ledger.store.tables import events as events_table
from ledger.store.tables import (
    finding_changes,
    finding_parts,
    findings,
    projection_leases,
    projection_tracking,
)
from ledger.worlds import wire
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

EVENTS = int(os.environ.get("LEDGER_BENCH_FINDINGS_EVENTS", "1000000"))
ASSETS = int(os.environ.get("LEDGER_BENCH_FINDINGS_ASSETS", "10000"))
VARIANTS = os.environ.get("LEDGER_BENCH_FINDINGS_VARIANTS", "realistic,stress").split(",")
CONTRACT = {"realistic": "w-fms-01", "stress": "fms-1"}
WHO = Principal("bench", Role.ADMIN)


def generate_stress(url: str) -> None:
    ledger = build_ledger(Settings(database_url=url))
    rnd = random.Random(3)
    try:
        ledger.appender.append(
            [EVENT_ADAPTER.validate_python(e) for e in wire.reference_world()], WHO
        )
        for start in range(0, ASSETS, 1000):
            batch = [wire.asset(f"t{i}") for i in range(start, min(ASSETS, start + 1000))]
            ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in batch], WHO)
        with tqdm(total=EVENTS, unit="ev", desc="stress", mininterval=5) as bar:
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
                ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], WHO)
                bar.update(len(events))
    finally:
        ledger.close()


# The name the restart benchmark imports.
generate = generate_stress


def generate_realistic(url: str) -> None:
    from benchmarks.world import fill

    fill(url, EVENTS, ASSETS, contracts=1)


def catch_up(url: str, projection: Any) -> float:
    """Events per second of one projection catching up from where it stands."""
    ledger = build_ledger(Settings(database_url=url, run_projections="no"))
    try:
        runner = Runner(ledger.engine, ledger.store, [projection], batch_size=5000)
        start = time.perf_counter()
        with tqdm(unit="ev", desc=projection.name, mininterval=10) as bar:

            def progress(applied: int) -> None:
                bar.update(applied)

            n = runner.catch_up(progress)
        return n / (time.perf_counter() - start)
    finally:
        ledger.close()


def child_catch_up(url: str) -> None:
    """The findings worker, alone in its process (``--catch-up``): rate and peak RSS."""
    settle_for_a_long_run()
    per_s = catch_up(url, FindingsProjection())
    rss = peak_rss_mb()
    print(json.dumps({"findings_catch_up_per_s": per_s, "findings_worker_max_rss_mb": rss}))


PARTITIONS = int(os.environ.get("LEDGER_BENCH_FINDINGS_PARTITIONS", "2"))
BUDGETED = int(os.environ.get("LEDGER_BENCH_FINDINGS_BUDGETED", "16"))
"""Partitions of the worker within a memory budget (decision 0017; 0: not measured)."""
BUDGET = {"LEDGER_FINDINGS_RESIDENT_EVENTS": os.environ.get("LEDGER_BENCH_RESIDENT_EVENTS", "1")}
"""Its budget: 1 holds one partition's walk at a time."""
LEASE_SECONDS = 6.0  # renewed every 2 s; a worker arriving gets its share within about 1 s


def child_partitioned(url: str, partitions: int) -> None:
    """One findings worker of several (``--partitioned URL N``): partitions of the
    assets and the contract level, leased; works until the contract level has
    reached the log's end, then gives its leases up."""
    settle_for_a_long_run()
    settings = Settings(
        database_url=url,
        run_projections="no",
        findings_partitions=partitions,
        lease_seconds=LEASE_SECONDS,
    )
    ledger = build_ledger(settings)
    try:
        projections = findings_projections(settings)
        runner = Runner(
            ledger.engine,
            ledger.store,
            projections,
            batch_size=5000,
            leases=leases_of(ledger.engine, projections, seconds=LEASE_SECONDS),
        )
        with ledger.engine.connect() as conn:
            end = int(
                conn.execute(sa.select(sa.func.max(events_table.c.notification_id))).scalar_one()
            )
        applied = 0
        while positions(ledger.engine, ["findings"])["findings"] < end:
            n = runner.catch_up()
            applied += n
            if not n:
                time.sleep(0.2)
        runner.stop()
    finally:
        ledger.close()
    rss = peak_rss_mb()
    print(json.dumps({"applied": applied, "max_rss_mb": rss}))


def partitioned(
    url: str, workers: int, partitions: int = PARTITIONS, env: dict[str, str] | None = None
) -> dict[str, float]:
    """Every finding forgotten, then ``workers`` worker processes judge the log in
    ``partitions`` partitions together: events per second of wall time to the contract
    level's end, and each worker's peak RSS. ``env``: more of the workers' settings."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in (finding_changes, findings, finding_parts, projection_leases):
            conn.execute(table.delete())
        conn.execute(
            projection_tracking.delete().where(projection_tracking.c.name.like("findings%"))
        )
        total = int(
            conn.execute(sa.select(sa.func.max(events_table.c.notification_id))).scalar_one()
        )
    engine.dispose()
    cmd = [sys.executable, "-m", "benchmarks.bench_findings", "--partitioned", url, str(partitions)]
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=full_env)
        for _ in range(workers)
    ]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    seconds = time.perf_counter() - start
    assert all(p.returncode == 0 for p in procs)
    return {"per_s": total / seconds, "max_rss_mb": max(o["max_rss_mb"] for o in outs)}


def append_one(ledger: Any, *, frontier: bool = False) -> None:
    """Append one event like the log's last plain one, dated now. ``frontier``: dated
    a second after the last knowledge instant of the log instead — what the next
    append to a live ledger is. The realistic world ends years before today, so an
    append dated now also moves knowledge time on by years, and every finding that
    comes due in them (an inventory overdue for every asset) is judged in the
    restart's batch: that is the work of years passing, not of the restart."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(events_table.c.state)
            .order_by(events_table.c.notification_id.desc())
            .limit(200)
        ).all()
    record = next(
        r
        for r in (orjson.loads(row.state) for row in rows)
        if r["type"] in ("observation", "support_provided", "custody_transferred")
    )
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if frontier:
        last = max(datetime.fromisoformat(orjson.loads(row.state)["reported_at"]) for row in rows)
        now = (last + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for server_field in ("prev_hash", "recorded_at", "recorded_by"):
        record.pop(server_field, None)
    record.update(event_id=f"restart-{time.time_ns()}", occurred_at=now, reported_at=now)
    ledger.appender.append([EVENT_ADAPTER.validate_python(record)], WHO)


def resume_wholly() -> None:
    """Make this process's findings workers resume from the whole stored log, as
    before decision 0016: the stored findings look written by other code."""
    from ledger.projections import findings as single
    from ledger.projections import findings_partitions as parts

    single.stamped = parts.stamped = lambda *args: False


def child_restart(url: str, *, full: bool = False) -> None:
    """A restarted worker (``--restart``): a new process appends one event like the
    log's last plain one and catches both projections up; seconds from its start.
    ``full`` (``--restart-full``): the walk resumed from the whole stored log, as
    before the lazy resume (decision 0016), for the ratio in the same run."""
    if full:
        resume_wholly()
    started = time.perf_counter()
    ledger = build_ledger(Settings(database_url=url, run_projections="no"))
    try:
        append_one(ledger)
        runner = Runner(ledger.engine, ledger.store, [CustodyProjection(), FindingsProjection()])
        runner.catch_up()
        seconds = time.perf_counter() - started
    finally:
        ledger.close()
    rss = peak_rss_mb()
    print(json.dumps({"restart_s": seconds, "restart_max_rss_mb": rss}))


def partitioned_restart(
    url: str,
    *,
    full: bool = False,
    workers: int = 2,
    partitions: int = PARTITIONS,
    env: dict[str, str] | None = None,
    frontier: bool = False,
) -> float:
    """``workers`` partitioned workers restarted after one append (custody caught up
    first): seconds from their start to the contract level at the log's end. ``full``:
    they resume from the whole stored log (:func:`resume_wholly`). ``frontier``: the
    append is dated at the log's last instant, not now (:func:`append_one`)."""
    ledger = build_ledger(Settings(database_url=url, run_projections="no"))
    try:
        append_one(ledger, frontier=frontier)
        Runner(ledger.engine, ledger.store, [CustodyProjection()]).catch_up()
    finally:
        ledger.close()
    cmd = [sys.executable, "-m", "benchmarks.bench_findings", "--partitioned", url, str(partitions)]
    start = time.perf_counter()
    full_env = {**os.environ, **(env or {})}
    if full:
        full_env["LEDGER_BENCH_RESUME_WHOLLY"] = "1"
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=full_env)
        for _ in range(workers)
    ]
    for p in procs:
        p.communicate()
    assert all(p.returncode == 0 for p in procs)
    return time.perf_counter() - start


def _stored_findings(url: str) -> int:
    """A digest of every stored finding row and change (equal stores, equal digests)."""
    engine = sa.create_engine(url)
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table, order in (
            (findings, [findings.c.finding_key]),
            (finding_changes, [finding_changes.c.finding_key, finding_changes.c.seq]),
        ):
            for row in conn.execute(sa.select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode())
    engine.dispose()
    return int.from_bytes(digest.digest()[:8], "big")


def _child(flag: str, url: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_findings", flag, url],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def timed_get(
    client: httpx.Client, path: str, runs: int = RUNS, html: bool = False
) -> tuple[float, int]:
    """Median seconds of ``runs`` GETs, and the size of the last body."""
    samples, size = [], 0
    headers = {"Accept": "text/html"} if html else {}
    for _ in range(runs):
        t = time.perf_counter()
        resp = client.get(path, headers=headers)
        samples.append(time.perf_counter() - t)
        assert resp.status_code == 200, resp.text
        size = len(resp.content)
    return statistics.median(samples), size


def variant(name: str, r: dict[str, Any]) -> dict[str, Any]:
    """Measure one ledger into ``r``, filled as it goes: a step that fails leaves the
    ones before it recorded (``run`` keeps them)."""
    r.update(events=EVENTS, assets=ASSETS)
    kind = name.split("-")[0]
    contract = CONTRACT[kind]
    with fresh_postgres() as url:
        (generate_realistic if kind == "realistic" else generate_stress)(url)
        r["custody_catch_up_per_s"] = catch_up(url, CustodyProjection())
        r.update(_child("--catch-up", url))
        r["findings_vs_custody"] = r["findings_catch_up_per_s"] / r["custody_catch_up_per_s"]
        rows = _stored_findings(url)
        for workers in (1, 2):
            got = partitioned(url, workers)
            r[f"partitioned_{workers}_per_s"] = got["per_s"]
            r[f"partitioned_{workers}_max_rss_mb"] = got["max_rss_mb"]
            assert _stored_findings(url) == rows, "partitions store what one walk stores"
        r["partitions"] = PARTITIONS
        r["two_workers_vs_one_walk"] = r["partitioned_2_per_s"] / r["findings_catch_up_per_s"]
        r["partitioned_restart_s"] = statistics.median(
            partitioned_restart(url) for _ in range(RUNS)
        )
        r["partitioned_restart_full_s"] = statistics.median(
            partitioned_restart(url, full=True) for _ in range(RUNS)
        )
        restarts = [_child("--restart", url) for _ in range(RUNS)]
        r["restart_s"] = statistics.median(x["restart_s"] for x in restarts)
        r["restart_max_rss_mb"] = max(x["restart_max_rss_mb"] for x in restarts)
        full = [_child("--restart-full", url) for _ in range(RUNS)]
        r["restart_full_s"] = statistics.median(x["restart_s"] for x in full)
        r["restart_full_max_rss_mb"] = max(x["restart_max_rss_mb"] for x in full)
        r["restart_full_vs_lazy"] = r["restart_full_s"] / r["restart_s"]
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
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=600
            ) as client,
        ):
            samples = []
            for _ in range(60):
                t = time.perf_counter()
                resp = client.get("/v1/findings", params={"limit": 100, "cleared": "any"})
                samples.append(time.perf_counter() - t)
                assert resp.status_code == 200, resp.text
            samples.sort()
            r["findings_p50_ms"] = statistics.median(samples) * 1000
            r["findings_p99_ms"] = samples[int(len(samples) * 0.99) - 1] * 1000
            report = f"/v1/contracts/{contract}/report"
            r["report_seconds"], r["report_bytes"] = timed_get(client, report)
            r["report_html_seconds"], r["report_html_bytes"] = timed_get(client, report, html=True)
            r["contract_view_seconds"], r["contract_view_bytes"] = timed_get(
                client, f"/v1/contracts/{contract}"
            )
            doc = client.get(report).json()
            r["report_assets"] = doc["assets"]["total"]
            r["report_longest_list"] = max(doc["page"]["totals"].values())
            r["report_event_findings_total"] = doc["event_findings_total"]
        if BUDGETED:  # last: it leaves the findings in another layout
            # The restarts above appended events dated now (years after the world's
            # end), so the store is no longer the one walk's of ``rows``: the worker
            # from zero is held to what the restarted workers left.
            rows = _stored_findings(url)
            got = partitioned(url, 1, BUDGETED, BUDGET)
            assert _stored_findings(url) == rows, "partitions store what one walk stores"
            r["budgeted_partitions"] = BUDGETED
            r["budgeted_per_s"] = got["per_s"]
            r["budgeted_max_rss_mb"] = got["max_rss_mb"]
            r["budgeted_restart_frontier_s"] = statistics.median(
                partitioned_restart(url, workers=1, partitions=BUDGETED, env=BUDGET, frontier=True)
                for _ in range(RUNS)
            )
            r["budgeted_restart_s"] = statistics.median(
                partitioned_restart(url, workers=1, partitions=BUDGETED, env=BUDGET)
                for _ in range(RUNS)
            )
    print(name, {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)
    return r


def run(report: dict[str, Any]) -> None:
    # The variants not run now stay as last measured (LEDGER_BENCH_MERGE keeps the
    # report; a report without them starts empty).
    kept = report.get("findings") or {}
    out: dict[str, Any] = {k: v for k, v in kept.items() if isinstance(v, dict)}
    for name in VARIANTS:
        out[name] = {}
        report["findings"] = out  # kept as each variant goes (run.py writes it, failed too)
        variant(name, out[name])


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--catch-up":
        child_catch_up(argv[1])
        return 0
    if argv and argv[0] == "--partitioned":
        if os.environ.get("LEDGER_BENCH_RESUME_WHOLLY"):
            resume_wholly()
        child_partitioned(argv[1], int(argv[2]))
        return 0
    if argv and argv[0] in ("--restart", "--restart-full"):
        child_restart(argv[1], full=argv[0] == "--restart-full")
        return 0
    report: dict[str, Any] = {}
    run(report)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
