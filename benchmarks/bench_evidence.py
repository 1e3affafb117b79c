"""Evidence bundles (docs/decisions/0012): build and verify the bundle of one asset
with 100 events on a ledger of EVENTS events (default 100,000; issue #15 asks for
1M — give ``--events 1000000`` where there is time to build it).

    .venv/bin/python -m benchmarks.bench_evidence [--events N] [--database URL]

The ledger: the reference world, then batches of 1,000 captures spread over 1,000
filler assets, with the measured asset's 100 events (registration, then transfers)
interleaved, the custody projection caught up (the index a bundle reads; the findings
projection plays no part in a bundle) and a checkpoint signed. Then the bundle is built
(``EvidenceBuilder.asset``, what ``GET /v1/assets/{id}/evidence`` runs) and verified
(``verify_evidence``, what ``ledger verify --evidence`` runs), each the median of 5.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from domain.vocabulary import Role
from ledger.bootstrap import Ledger, build_ledger
from ledger.integrity.evidence import EvidenceBuilder
from ledger.integrity.evidence_verify import verify_evidence
from ledger.projections.custody import CustodyProjection
from ledger.projections.runner import Runner
from ledger.settings import Settings
from ledger.store.migrate import upgrade
from ledger.worlds import wire
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--database", default=None)
    parser.add_argument(
        "--existing", metavar="DIR", help="measure again a ledger built before (its folder)"
    )
    args = parser.parse_args()
    tmp = Path(args.existing or tempfile.mkdtemp())
    url = args.database or f"sqlite:///{tmp / 'ledger.db'}"
    upgrade(url)
    settings = Settings(database_url=url, signing_key_file=tmp / "key.pem", key_cache_seconds=0)
    ledger = build_ledger(settings)
    if args.existing:
        measure(ledger, url)
        return
    print(f"building in {tmp}", flush=True)
    admin = Principal("bench", Role.ADMIN)

    def append(raw: list[dict]) -> None:
        ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in raw], admin)

    start = time.perf_counter()
    append(wire.reference_world())
    fillers = [f"f{i}" for i in range(1000)]
    append([wire.asset(a) for a in fillers] + [wire.asset("target")])
    holders = ["iq-army", "isil"]
    own = 1
    written = ledger.lookups.head()[0]
    batch_no = 0
    while written < args.events:
        batch = [
            wire.capture([fillers[(batch_no * 1000 + i) % 1000]], holders[i % 2])
            for i in range(999)
        ]
        if own < 100:
            frm, to = holders[own % 2], holders[(own + 1) % 2]
            batch.append(wire.transfer(["target"], frm, to))
            own += 1
        append(batch)
        written = ledger.lookups.head()[0]
        batch_no += 1
    while own < 100:
        frm, to = holders[own % 2], holders[(own + 1) % 2]
        append([wire.transfer(["target"], frm, to)])
        own += 1
    # A bundle reads the custody projection's index (and the log); the findings
    # projection plays no part in it and would take most of the build at 1M events.
    Runner(ledger.engine, ledger.store, [CustodyProjection()]).catch_up()
    ledger.integrity.checkpoint()
    size = ledger.lookups.head()[0]
    took = time.perf_counter() - start
    print(f"ledger of {size} events built in {took:.0f} s ({url.split(':')[0]})")
    measure(ledger, url)


def measure(ledger: Ledger, url: str) -> None:
    print(f"ledger of {ledger.lookups.head()[0]} events ({url.split(':')[0]})")
    builder = EvidenceBuilder(ledger)
    builds, verifies, build_cpu, verify_cpu = [], [], [], []
    bundle = None
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        bundle = builder.asset("target", as_of=None, known_at=None)
        builds.append(time.perf_counter() - t0)
        build_cpu.append(time.process_time() - c0)
        key = bundle["log"]["public_key"]
        t0, c0 = time.perf_counter(), time.process_time()
        report = verify_evidence(bundle, key)
        verifies.append(time.perf_counter() - t0)
        verify_cpu.append(time.process_time() - c0)
        assert report.exit_code == 0, report.reason
    assert bundle is not None
    own_events = sum('"target"' in e["state"] for e in bundle["events"])
    print(
        f"bundle: {len(bundle['events'])} events ({own_events} of the asset, the rest reference "
        f"data); build median {statistics.median(builds) * 1000:.1f} ms, verify median "
        f"{statistics.median(verifies) * 1000:.1f} ms (wall clock); CPU time of this process: "
        f"build {statistics.median(build_cpu) * 1000:.1f} ms, verify "
        f"{statistics.median(verify_cpu) * 1000:.1f} ms; load average {os.getloadavg()[0]:.1f}"
    )
    ledger.close()


if __name__ == "__main__":
    main()
