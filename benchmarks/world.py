"""The realistic world (``ledger.worlds.realistic``) for the benchmarks: how fast it is
generated, and a database filled with it.

``fill(url, events, assets)`` appends a world through the write path (what
``bench_custody.generate`` and ``bench_findings.generate`` do today with their
one-day-dated stress world, which stays as it is); ``generation_rate(events)`` measures
the generator alone. ``python -m benchmarks.world [EVENTS] [--append URL]`` prints one
JSON line; ``run(report)`` records the same under ``report["world"]`` for a harness
section (docs/worlds.md, "Benchmarks").

Rates are given in wall-clock and in CPU time of this process: on a shared machine
the two differ by whatever else runs, and CPU time is what the generator costs."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from tqdm import tqdm

from benchmarks.common import peak_rss_mb
from ledger.settings import Settings
from ledger.worlds.realistic import WorldConfig, append_world, generate

EVENTS = int(os.environ.get("LEDGER_BENCH_WORLD_EVENTS", "1000000"))
SEED = int(os.environ.get("LEDGER_BENCH_WORLD_SEED", "1"))


def generation_rate(events: int = EVENTS, seed: int = SEED) -> dict[str, float]:
    """Generate ``events`` events and drop them: events per second (wall and CPU) and
    the process's peak memory."""
    wall, cpu = time.perf_counter(), time.process_time()
    n = 0
    for batch in generate(WorldConfig(events=events, seed=seed)):
        n += len(batch)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "events": n,
        "seconds": wall,
        "per_s_wall": n / wall,
        "per_s_cpu": n / cpu,
        "max_rss_mb": peak_rss_mb(),
    }


def fill(
    url: str,
    events: int = EVENTS,
    assets: int | None = None,
    seed: int = SEED,
    contracts: int | None = None,
) -> int:
    """Append a realistic world to the (migrated) database at ``url``; returns the
    events stored. The projections are left to the caller, as the benchmarks time them.
    ``contracts=1`` puts every asset under ``w-fms-01`` (a report over all of them)."""
    with tqdm(total=events, unit="ev", desc="world", mininterval=5) as bar:
        settings = Settings(database_url=url)
        return append_world(settings, events, seed, bar.update, assets=assets, contracts=contracts)


def run(report: dict[str, Any]) -> None:
    r = generation_rate()
    print({k: round(v, 1) for k, v in r.items()}, flush=True)
    report["world"] = r


def main(argv: list[str]) -> int:
    events = int(argv[0]) if argv and not argv[0].startswith("-") else EVENTS
    out: dict[str, Any] = {"generation": generation_rate(events)}
    if "--append" in argv:
        url = argv[argv.index("--append") + 1]
        start = time.perf_counter()
        stored = fill(url, events)
        out["append"] = {"stored": stored, "per_s": stored / (time.perf_counter() - start)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
