"""The findings walk's rate on the stress ledger, and whether it stays flat as the
ledger grows: the old code beside the new in the same run, and the custody
projection's catch-up for the ratio.

The ledger is :mod:`benchmarks.bench_findings`'s (every event dated 2015-01-01, 2%
captures by an unauthorised party), LEDGER_BENCH_WALK_EVENTS events (default 100,000)
over LEDGER_BENCH_WALK_ASSETS assets (default 1,000), generated once on a fresh
PostgreSQL database. Measured, medians of LEDGER_BENCH_RUNS (default 3), each in its
own process, alternately with the old code — ``domain`` as in git revision
LEDGER_BENCH_WALK_OLD (default ``HEAD``), exported with ``git archive`` into a
temporary directory and put first on ``sys.path`` — and with the working tree's (or
the one in the directory LEDGER_BENCH_WALK_NEW):

* the walk (``domain.rules.walk.Walk``, fed 5,000 events at a time and drained, as the
  findings projection is): its rate over the first fifth of the log, over the last
  fifth (after the rest was fed), and the seconds to walk the whole log (what a
  restarted findings worker spends before it writes anything);
* the custody and the findings projections' catch-up from zero (``Runner.rebuild``,
  batches of 5,000), and their ratio. The ``ledger`` package is the working tree's
  either way; only ``domain`` differs.

Rates are events per second of wall time; the process's CPU time is printed beside
them (``*_cpu``), steadier on a shared machine. Run ``python benchmarks/bench_walk.py``;
``--dump FILE`` also keeps the log as JSON lines, ``--from-dump FILE`` measures the
walks only, from such a file (no database).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = int(os.environ.get("LEDGER_BENCH_WALK_EVENTS", "100000"))
ASSETS = int(os.environ.get("LEDGER_BENCH_WALK_ASSETS", "1000"))
RUNS = int(os.environ.get("LEDGER_BENCH_RUNS", "3"))
OLD = os.environ.get("LEDGER_BENCH_WALK_OLD", "HEAD")
NEW = Path(os.environ.get("LEDGER_BENCH_WALK_NEW", str(ROOT)))
PIECE = 5000  # the runner's batch size in bench_findings


# -- in a child process: one walk, or one projection rebuilt ----------------------------


def child_walk(domain_root: str, dump: str) -> None:
    """One walk over the dumped log; prints its timings as one JSON line."""
    sys.path.insert(0, domain_root)
    import orjson

    import domain
    from domain.history import Event
    from domain.rules.walk import Walk

    assert Path(domain.__file__).resolve().is_relative_to(Path(domain_root).resolve())
    with open(dump, "rb") as f:
        lines = [line.split(b"\t", 1) for line in f]
    events = [Event.parse(int(p), orjson.loads(s)) for p, s in lines]
    n = len(events)
    fifth = n // 5
    walk = Walk()
    # Pieces as the projection's batches, cut at the edges of the first and last fifth.
    edges = sorted({*range(0, n, PIECE), fifth, n - fifth, n})
    wall: dict[int, float] = {0: time.perf_counter()}
    cpu: dict[int, float] = {0: time.process_time()}
    for lo, hi in pairwise(edges):
        walk.feed(events[lo:hi])
        walk.drain()
        wall[hi], cpu[hi] = time.perf_counter(), time.process_time()
    out = {}
    for name, at in (("", wall), ("_cpu", cpu)):
        out[f"first{name}"] = fifth / (at[fifth] - at[0])
        out[f"last{name}"] = fifth / (at[n] - at[n - fifth])
        out[f"seconds{name}"] = at[n] - at[0]
    print(json.dumps(out))


def child_catch_up(domain_root: str, url: str, name: str) -> None:
    """One projection rebuilt from zero; prints its rate as one JSON line."""
    sys.path[:0] = [domain_root, str(ROOT)]
    import domain
    from ledger.bootstrap import build_ledger
    from ledger.projections.custody import CustodyProjection
    from ledger.projections.findings import FindingsProjection
    from ledger.projections.runner import Runner
    from ledger.settings import Settings

    assert Path(domain.__file__).resolve().is_relative_to(Path(domain_root).resolve())
    projection = CustodyProjection() if name == "custody" else FindingsProjection()
    ledger = build_ledger(Settings(database_url=url, run_projections="no"))
    try:
        runner = Runner(ledger.engine, ledger.store, [projection], batch_size=PIECE)
        wall, cpu = time.perf_counter(), time.process_time()
        n = runner.rebuild()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        ledger.close()
    print(json.dumps({name: n / wall, f"{name}_cpu": n / cpu}))


def _in_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


# -- the parent: the ledger, the old code, the runs ---------------------------------------


def _old_domain(tmp: Path) -> Path:
    """``domain`` as in revision OLD, exported (read-only) into ``tmp``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", OLD, "domain"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp, filter="data")
    return tmp


def dump_log(url: str, path: Path) -> int:
    """The stored log, one ``position<TAB>record`` line per event."""
    import sqlalchemy as sa

    from ledger.store.tables import events

    engine = sa.create_engine(url)
    n = 0
    with engine.connect() as conn, open(path, "wb") as f:
        rows = conn.execute(
            sa.select(events.c.notification_id, events.c.state).order_by(events.c.notification_id)
        )
        for position, state in rows:
            f.write(b"%d\t%s\n" % (position, bytes(state).replace(b"\n", b" ")))
            n += 1
    engine.dispose()
    return n


def measure(dump: Path, url: str | None) -> dict[str, Any]:
    """Old and new alternately, RUNS times each: the projections' catch-up (with a
    database ``url``) and the walk; medians."""
    samples: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="bench-walk-old-") as tmp:
        roots = {"old": _old_domain(Path(tmp)), "new": NEW}
        for i in range(RUNS):
            for label in ("old", "new"):
                root = str(roots[label])
                got: dict[str, float] = {}
                if url is not None:
                    got.update(_in_child("catch-up", root, url, "custody"))
                    got.update(_in_child("catch-up", root, url, "findings"))
                got.update(_in_child("walk", root, str(dump)))
                print(f"  {label} run {i + 1}: {_rounded(got)}", flush=True)
                samples[label].append(got)
    out: dict[str, Any] = {}
    for label, runs in samples.items():
        for name in runs[0]:
            out[f"{label}_{name}"] = statistics.median(r[name] for r in runs)
        out[f"{label}_last_vs_first"] = out[f"{label}_last"] / out[f"{label}_first"]
        if url is not None:
            custody = out[f"{label}_custody"]
            out[f"{label}_findings_vs_custody"] = out[f"{label}_findings"] / custody
            out[f"{label}_walk_last_vs_custody"] = out[f"{label}_last"] / custody
    return out


def _rounded(d: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in d.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--dump", type=Path, help="keep the generated log here")
    parser.add_argument("--from-dump", type=Path, help="measure the walks of this log only")
    args = parser.parse_args()
    if args.child:
        what, *rest = args.child
        (child_walk if what == "walk" else child_catch_up)(*rest)
        return 0
    r: dict[str, Any] = {"old": OLD, "runs": RUNS}
    if args.from_dump:
        r.update(measure(args.from_dump, None))
    else:
        sys.path.insert(0, str(ROOT))
        from benchmarks import bench_findings
        from benchmarks.common import fresh_postgres

        bench_findings.EVENTS, bench_findings.ASSETS = EVENTS, ASSETS
        with fresh_postgres() as url, tempfile.TemporaryDirectory() as tmp:
            bench_findings.generate(url)
            dump = args.dump or Path(tmp) / "log.jsonl"
            r["events"], r["assets"] = dump_log(url, dump), ASSETS
            r.update(measure(dump, url))
    print(json.dumps(_rounded(r)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
