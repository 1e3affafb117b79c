"""EPCIS 2.0 export and capture rates (docs/epcis.md, decision 0011).

    .venv/bin/python -m benchmarks.bench_epcis [--events N] [--seed S] [--database URL]

A generated world of N events (``ledger.worlds.realistic``, default 3,000) is appended to
a fresh ledger; then, each the median of 3 runs:

- export: ``EpcisService.document`` of the whole log (read, map, hash every event), and
  the same as ``GET /v1/epcis/events`` pages of 1,000;
- capture: the document into a fresh, empty ledger in captures of 1,000 events (the
  API's limit): GS1 schema, mapping, wire schema, append; and each step alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain.vocabulary import Role
from ledger.bootstrap import Ledger, build_ledger
from ledger.epcis import mapping as mp
from ledger.epcis.event_hash import hash_id
from ledger.epcis.schema import problems
from ledger.epcis.service import EpcisService, Filters
from ledger.settings import Settings
from ledger.store.migrate import upgrade
from ledger.worlds.realistic import append_world
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

ADMIN = Principal("bench", Role.ADMIN)


def _ledger(tmp: Path, name: str, database: str | None) -> Ledger:
    url = database or f"sqlite:///{tmp / (name + '.db')}"
    upgrade(url)
    return build_ledger(Settings(database_url=url, signing_key_file=tmp / f"{name}.pem"))


def _median(runs: int, fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--database", default=None, help="the source ledger (default SQLite)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    source = _ledger(tmp, "source", args.database)
    append_world(source, args.events, args.seed)
    service = EpcisService(source.engine, source.lookups, source.appender)
    n = source.lookups.head()[0]
    doc = service.document(Filters())
    events = doc["epcisBody"]["eventList"]

    def pages() -> None:
        after = 0
        while True:
            page = service.page(Filters(), after, 1000)
            if page[mp.NEXT_CURSOR] is None:
                return
            after = int(page[mp.NEXT_CURSOR])

    rows = [
        ("export: whole log (read, map, hash)", n, _median(3, lambda: service.document(Filters()))),
        ("export: pages of 1,000 (GET /v1/epcis/events)", n, _median(3, pages)),
        (
            "  of which CBV hash ids",
            len(events),
            _median(3, lambda: [hash_id(e, mp.SPACES) for e in events]),
        ),
        (
            "capture: GS1 schema (jsonschema-rs)",
            len(events),
            _median(3, lambda: list(problems(doc))),
        ),
        (
            "capture: mapping",
            len(events),
            _median(3, lambda: mp.map_document(doc, mp.Context(None, True))),
        ),
    ]
    mapped = mp.map_document(doc, mp.Context(None, True)).events
    rows.append(
        (
            "capture: wire schema",
            len(mapped),
            _median(3, lambda: [EVENT_ADAPTER.validate_python(m.event) for m in mapped]),
        )
    )
    captures = []
    for run in range(3):
        target = _ledger(tmp, f"target{run}", None)
        into = EpcisService(target.engine, target.lookups, target.appender)
        start = time.perf_counter()
        for i in range(0, len(events), 1000):
            into.capture(mp.document(events[i : i + 1000], doc["creationDate"]), ADMIN)
        captures.append(time.perf_counter() - start)
        assert target.lookups.head()[0] == n
        target.close()
    rows.append(("capture: whole, in captures of 1,000 (SQLite)", n, statistics.median(captures)))
    source.close()
    print(f"EPCIS on a generated world of {n} events (seed {args.seed}), median of 3")
    print("| step | events | seconds | events/s |")
    print("|---|---:|---:|---:|")
    for name, count, seconds in rows:
        print(f"| {name} | {count} | {seconds:.3f} | {count / seconds:,.0f} |")


if __name__ == "__main__":
    main()
