"""A restarted findings worker: seconds from its start to "lag 0 after a new append".

On :mod:`benchmarks.bench_findings`'s stress ledger (LEDGER_BENCH_RESTART_EVENTS events,
default 100,000, over LEDGER_BENCH_RESTART_ASSETS assets, default 1,000; PostgreSQL),
caught up once by a worker; then, each in a new process (a restart), medians of
LEDGER_BENCH_RUNS:

* ``resume``: the findings projection as it is — the walk resumed from the stored log
  and lives (``domain.rules.walk.Walk.resume``), one new event appended, caught up;
* ``rewalk``: the same with the walk rebuilt by walking the whole stored log again (what
  a restart did before ``Walk.resume``), for the ratio in the same run;
* the child's peak RSS.

Run ``python -m benchmarks.bench_restart``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import peak_rss_mb

EVENTS = int(os.environ.get("LEDGER_BENCH_RESTART_EVENTS", "100000"))
ASSETS = int(os.environ.get("LEDGER_BENCH_RESTART_ASSETS", "1000"))
RUNS = int(os.environ.get("LEDGER_BENCH_RUNS", "3"))


def child(url: str, how: str) -> None:
    """A restarted worker: append one event, catch up; prints seconds and peak RSS."""
    from benchmarks.load import body
    from domain.vocabulary import Role
    from ledger.bootstrap import build_ledger
    from ledger.projections import findings as module
    from ledger.projections.custody import CustodyProjection
    from ledger.projections.findings import FindingsProjection
    from ledger.projections.runner import Runner
    from ledger.settings import Settings
    from ledger.writing.principal import Principal
    from ledger.writing.wire import EVENT_ADAPTER

    if how == "rewalk":

        def rewalk(conn: Any, upto: int) -> Any:
            return module._walk_of(module._load(conn, 0, upto), lambda walk, drained: None)

        module._resumed = rewalk
    ledger = build_ledger(Settings(database_url=url, run_projections="no"))
    try:
        started = time.perf_counter()
        runner = Runner(ledger.engine, ledger.store, [CustodyProjection(), FindingsProjection()])
        event = EVENT_ADAPTER.validate_python(body(f"restart-{time.time_ns()}", 0, ASSETS))
        ledger.appender.append([event], Principal("bench", Role.ADMIN))
        runner.catch_up()
        seconds = time.perf_counter() - started
    finally:
        ledger.close()
    rss = peak_rss_mb()
    print(json.dumps({how: seconds, f"{how}_rss_mb": rss}))


def _in_child(url: str, how: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_restart", "--child", url, how],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def run() -> dict[str, Any]:
    from benchmarks import bench_findings
    from benchmarks.common import fresh_postgres
    from ledger.bootstrap import build_ledger
    from ledger.settings import Settings

    bench_findings.EVENTS, bench_findings.ASSETS = EVENTS, ASSETS
    out: dict[str, Any] = {"events": EVENTS, "assets": ASSETS, "runs": RUNS}
    with fresh_postgres() as url:
        bench_findings.generate(url)
        ledger = build_ledger(Settings(database_url=url, run_projections="no"))
        try:
            started = time.perf_counter()
            ledger.runner.catch_up()
            out["first_catch_up_s"] = time.perf_counter() - started
        finally:
            ledger.close()
        samples: dict[str, list[float]] = {}
        for i in range(RUNS):
            for how in ("resume", "rewalk"):
                got = _in_child(url, how)
                print(f"  run {i + 1}: {got}", flush=True)
                for name, value in got.items():
                    samples.setdefault(name, []).append(value)
    for name, values in samples.items():
        out[name] = statistics.median(values)
    out["rewalk_vs_resume"] = out["rewalk"] / out["resume"]
    return out


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return 0
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in run().items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
