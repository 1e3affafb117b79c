"""Integrity (issue: integrity): offline bundle verification throughput on one core,
Merkle frontier appends, and RFC 6962 root/proof generation over a 1M-leaf in-memory
tree, next to pymerkle doing the same work on the same leaves; then the ledger's own
integrity layer on a real database: the time to checkpoint 1,000 new events on a
ledger of ``LEDGER_BENCH_CHECKPOINT_EVENTS`` (default 1M) events (target < 100 ms, which
only an incremental checkpoint can meet), the first checkpoint over the whole log, a
cold inclusion proof, and the export rate.

The big ledger is written straight into ``ledger_events`` as chained, canonical rows
(the append path has its own section, ``bench_write``): this section measures only what
the integrity layer costs. ``LEDGER_BENCH_CHECKPOINT_BACKENDS`` picks the databases
(default ``sqlite,postgres``).

Every figure is the median of ``LEDGER_BENCH_RUNS`` (default 3) runs, stored as
``(median, [runs])`` like the other sections, under ``report["integrity"]``.
Run alone with ``python -m benchmarks.bench_integrity`` (prints the JSON).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from pymerkle import BaseMerkleTree

from benchmarks.common import fresh_postgres, fresh_sqlite
from ledger.bootstrap import make_engine
from ledger.integrity.bundle_verify import verify_bundle_file
from ledger.integrity.bundle_writer import BundleWriter
from ledger.integrity.checkpoints import Signer
from ledger.integrity.merkle import (
    Frontier,
    MemorySubtreeCache,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
)
from ledger.integrity.seals import Sealer
from ledger.integrity.service import IntegrityService
from ledger.settings import Settings
from ledger.store.lookups import Lookups, entry_id
from ledger.store.tables import events as events_table

RUNS = int(os.environ.get("LEDGER_BENCH_RUNS", "3"))
VERIFY_EVENTS = int(os.environ.get("LEDGER_BENCH_VERIFY_EVENTS", "200000"))
TREE_LEAVES = int(os.environ.get("LEDGER_BENCH_TREE_LEAVES", "1000000"))
VERIFY_TARGET = 100_000  # events/s on one core
CHECKPOINT_EVENTS = int(os.environ.get("LEDGER_BENCH_CHECKPOINT_EVENTS", "1000000"))
CHECKPOINT_BACKENDS = os.environ.get("LEDGER_BENCH_CHECKPOINT_BACKENDS", "sqlite,postgres")
CHECKPOINT_NEW_EVENTS = 1000
CHECKPOINT_TARGET_S = 0.1
WARM_PROOFS = 200


def median_of(fn: Callable[[], float], runs: int = RUNS) -> tuple[float, list[float]]:
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values


@contextmanager
def one_core() -> Iterator[None]:
    """Pin this process to one CPU, so "per core" means what it says."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _record(position: int, prev_hash: str) -> dict[str, Any]:
    # Shaped like a stored transfer event (about 540 bytes of canonical JSON).
    return {
        "event_id": f"bench-{position:09d}",
        "type": "AssetTransferred",
        "recorded_at": f"2024-05-01T12:00:00.{position % 1_000_000:06d}Z",
        "recorded_by": "depot-7-writer",
        "occurred_at": "2024-04-30T08:00:00.000000Z",
        "asset_ids": [f"M1A1-{position % 97:04d}"],
        "payload": {
            "from_party": "ministry-of-defence",
            "to_party": "9th-armoured-division",
            "location": {"name": "Depot 7", "country": "UA"},
            "note": "handover at gate 3",
        },
        "source": {"kind": "unit_report", "ref": f"9th-armd-div/{position}", "evidence": []},
        "prev_hash": prev_hash,
    }


def write_bench_bundle(path: Path, events: int, signer: Signer) -> int:
    """A clean bundle of ``events`` chained events with checkpoints at half and at the end."""
    rows = []
    prev = "0" * 64
    for position in range(1, events + 1):
        # orjson with sorted keys is RFC 8785 for these records (ASCII, no floats).
        state = orjson.dumps(_record(position, prev), option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha256(state).digest()
        rows.append((position, state, digest))
        prev = digest.hex()
    frontier = Frontier()
    checkpoints = []
    for position, _, digest in rows:
        frontier.append_data(digest)
        if position in (events // 2, events):
            checkpoints.append(signer.checkpoint(position, frontier.root()))
    with open(path, "wb") as out:
        writer = BundleWriter(
            out, public_key=signer.public_key, after=0, until=events, prev_hash=bytes(32)
        )
        for checkpoint in checkpoints:
            writer.add_checkpoint(checkpoint)
        for position, state, digest in rows:
            writer.add_event(position, state, digest)
        writer.finish()
    return path.stat().st_size


def bench_verify(results: dict[str, Any], units: dict[str, str]) -> None:
    signer = Signer.generate()
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        path = Path(tmp) / "bundle.ndjson"
        size = write_bench_bundle(path, VERIFY_EVENTS, signer)

        cpu_rates: list[float] = []

        def once() -> float:
            start, cpu_start = time.perf_counter(), time.process_time()
            report = verify_bundle_file(path, trusted_public_key=signer.public_key)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            if report.verdict != "clean" or report.events != VERIFY_EVENTS:
                raise RuntimeError(f"benchmark bundle did not verify: {report.reason}")
            cpu_rates.append(VERIFY_EVENTS / cpu)
            return VERIFY_EVENTS / seconds

        with one_core():
            once()  # warm the page cache and the interpreter
            cpu_rates.clear()
            results["verify_events_per_s"] = median_of(once)
    # CPU time of this process: what one core does, even when other work shares the
    # machine and stretches the wall clock.
    results["verify_events_per_cpu_s"] = (statistics.median(cpu_rates), cpu_rates)
    units["verify_events_per_s"] = (
        f"events/s wall clock, {VERIFY_EVENTS} events, {size} bytes, pinned to one core"
    )
    units["verify_events_per_cpu_s"] = "events per CPU-second of the verifying process"
    results["bundle_bytes_per_event"] = (size / VERIFY_EVENTS, [size / VERIFY_EVENTS])
    units["bundle_bytes_per_event"] = "bytes"


def bench_frontier(leaves: list[bytes], results: dict[str, Any], units: dict[str, str]) -> None:
    def once() -> float:
        frontier = Frontier()
        append = frontier.append
        start = time.perf_counter()
        for leaf in leaves:
            append(leaf)
        frontier.root()
        return len(leaves) / (time.perf_counter() - start)

    results["frontier_appends_per_s"] = median_of(once)
    units["frontier_appends_per_s"] = f"leaf appends/s over {len(leaves)} leaves"


class ListTree(BaseMerkleTree):  # type: ignore[misc]
    """pymerkle over a flat list of leaf hashes: its documented storage extension point."""

    def __init__(self, leaves: list[bytes]) -> None:
        self._leaves = leaves
        super().__init__("sha256")

    def _encode_entry(self, data: bytes) -> bytes:
        return data

    def _store_leaf(self, data: bytes, digest: bytes) -> int:
        self._leaves.append(digest)
        return len(self._leaves)

    def _get_leaf(self, index: int) -> bytes:
        return self._leaves[index - 1]

    def _get_leaves(self, offset: int, width: int) -> list[bytes]:
        return self._leaves[offset : offset + width]

    def _get_size(self) -> int:
        return len(self._leaves)


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_proofs(leaves: list[bytes], results: dict[str, Any], units: dict[str, str]) -> None:
    n = len(leaves)
    rng = random.Random(6962)

    def get_range(start: int, end: int) -> list[bytes]:
        return leaves[start:end]

    # Cold: nothing cached, every subtree root hashed from the leaves (a fresh pymerkle
    # tree each run, so its subroot cache starts empty too).
    results["ours_root_s"] = median_of(lambda: _seconds(lambda: root(n, get_range)))
    results["pymerkle_root_s"] = median_of(lambda: _seconds(lambda: ListTree(leaves).get_root()))
    results["ours_inclusion_cold_s"] = median_of(
        lambda: _seconds(lambda: inclusion_proof(rng.randrange(n), n, get_range))
    )
    results["pymerkle_inclusion_cold_s"] = median_of(
        lambda: _seconds(lambda: ListTree(leaves).prove_inclusion(rng.randrange(n) + 1, n))
    )
    results["ours_consistency_cold_s"] = median_of(
        lambda: _seconds(lambda: consistency_proof(rng.randrange(1, n), n, get_range))
    )
    results["pymerkle_consistency_cold_s"] = median_of(
        lambda: _seconds(lambda: ListTree(leaves).prove_consistency(rng.randrange(1, n), n))
    )

    # Warm: subtree roots kept between proofs (ours: a MemorySubtreeCache holding
    # subtrees of >= 256 leaves; pymerkle: its own LRU subroot cache, default threshold).
    cache = MemorySubtreeCache(min_width=256)
    results["ours_cache_fill_s"] = median_of(
        lambda: _seconds(lambda: root(n, get_range, subtree_cache=cache)), runs=1
    )
    tree = ListTree(leaves)
    tree.get_root()

    def warm(prove: Callable[[], object]) -> float:
        return _seconds(lambda: [prove() for _ in range(WARM_PROOFS)]) / WARM_PROOFS

    results["ours_inclusion_warm_s"] = median_of(
        lambda: warm(lambda: inclusion_proof(rng.randrange(n), n, get_range, subtree_cache=cache))
    )
    results["pymerkle_inclusion_warm_s"] = median_of(
        lambda: warm(lambda: tree.prove_inclusion(rng.randrange(n) + 1, n))
    )
    results["ours_consistency_warm_s"] = median_of(
        lambda: warm(
            lambda: consistency_proof(rng.randrange(1, n), n, get_range, subtree_cache=cache)
        )
    )
    results["pymerkle_consistency_warm_s"] = median_of(
        lambda: warm(lambda: tree.prove_consistency(rng.randrange(1, n), n))
    )
    for key in results:
        if key.startswith(("ours_", "pymerkle_")):
            units[key] = f"seconds, tree of {n} leaves given as an in-memory list"
    units["ours_cache_fill_s"] = "seconds, one root computation filling the cache (1 run)"


class _Chain:
    """Chained, canonical event rows written straight into ``ledger_events``."""

    def __init__(self) -> None:
        self.position = 0
        self.prev = "0" * 64

    def rows(self, count: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(count):
            self.position += 1
            record = _record(self.position, self.prev)
            state = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
            digest = hashlib.sha256(state).digest()
            out.append(
                {
                    "notification_id": self.position,
                    # The id the store derives from the event id, so proofs can find it.
                    "originator_id": entry_id(record["event_id"]),
                    "originator_version": 1,
                    "topic": "bench",
                    "state": state,
                    "hash": digest,
                    "seal": None,
                }
            )
            self.prev = digest.hex()
        return out

    def write(
        self, engine: sa.engine.Engine, count: int, sealer: Sealer, batch: int = 10_000
    ) -> None:
        """Append ``count`` rows, each batch's last one sealed with the ledger's key as
        the append path seals each append's last event (an unsealed head is a forgery
        to the checkpointer, and it refuses to sign)."""
        for start in range(0, count, batch):
            rows = self.rows(min(batch, count - start))
            rows[-1]["seal"] = sealer.seal(rows[-1]["notification_id"], rows[-1]["hash"])
            with engine.begin() as conn:
                conn.execute(events_table.insert(), rows)


class _Discard:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)


def _once(seconds: float) -> tuple[float, list[float]]:
    """A measurement that is only taken once, in the section's ``(median, [runs])`` shape."""
    return seconds, [seconds]


def bench_ledger_checkpoints(backend: str, events: int) -> dict[str, Any]:
    """Checkpoint, proof and export timings of the integrity layer on one database."""
    out: dict[str, Any] = {"events": events}
    fresh = fresh_sqlite if backend == "sqlite" else fresh_postgres
    with fresh() as url, tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        engine = make_engine(Settings(database_url=url))
        key_file = Path(tmp) / "signing-key.pem"
        try:
            chain = _Chain()
            service = IntegrityService(engine, Lookups(engine), key_file)
            sealer = service.sealer()
            out["load_s"] = _once(_seconds(lambda: chain.write(engine, events, sealer)))
            out["first_checkpoint_s"] = _once(_seconds(service.checkpoint))

            def incremental() -> float:
                chain.write(engine, CHECKPOINT_NEW_EVENTS, sealer)
                start = time.perf_counter()
                stored, made = service.checkpoint()
                seconds = time.perf_counter() - start
                assert made and stored is not None and stored.tree_size == chain.position
                return seconds

            out["checkpoint_after_1000_s"] = median_of(incremental)
            # A fresh process: nothing in memory, the stored 1024-leaf roots only.
            cold = IntegrityService(engine, Lookups(engine), key_file)
            event_id = _record(chain.position // 3, "")["event_id"]
            out["inclusion_proof_cold_s"] = _once(_seconds(lambda: cold.inclusion(event_id, None)))
            out["inclusion_proof_warm_s"] = _once(_seconds(lambda: cold.inclusion(event_id, None)))

            def export() -> float:
                sink = _Discard()
                start = time.perf_counter()
                for line in service.export().lines():
                    sink.write(line)
                return chain.position / (time.perf_counter() - start)

            out["export_events_per_s"] = median_of(export)
        finally:
            engine.dispose()
    return out


def bench_integrity_layer(results: dict[str, Any], units: dict[str, str]) -> None:
    for backend in [b for b in CHECKPOINT_BACKENDS.split(",") if b]:
        measured = bench_ledger_checkpoints(backend, CHECKPOINT_EVENTS)
        print(
            backend,
            "checkpoint after 1000 new events",
            f"{measured['checkpoint_after_1000_s'][0] * 1000:.1f} ms,",
            "export",
            round(measured["export_events_per_s"][0]),
            "events/s",
            flush=True,
        )
        for key, value in measured.items():
            if key != "events":
                results[f"{backend}_{key}"] = value
        n = measured["events"]
        units[f"{backend}_load_s"] = f"seconds to write {n} chained rows (setup)"
        units[f"{backend}_first_checkpoint_s"] = (
            f"seconds, first checkpoint over {n} events (reads and checks every row)"
        )
        units[f"{backend}_checkpoint_after_1000_s"] = (
            f"seconds to checkpoint {CHECKPOINT_NEW_EVENTS} new events on a ledger of "
            f"{n}+ events (target < {CHECKPOINT_TARGET_S})"
        )
        units[f"{backend}_inclusion_proof_cold_s"] = (
            "seconds, one inclusion proof in a fresh service (stored subtree roots only)"
        )
        units[f"{backend}_inclusion_proof_warm_s"] = "seconds, the same proof again"
        units[f"{backend}_export_events_per_s"] = (
            f"events/s, export of the whole ledger ({n}+ events) to a null sink"
        )


def run(report: dict[str, Any]) -> None:
    results: dict[str, Any] = {}
    units: dict[str, str] = {}
    bench_verify(results, units)
    print("verify", round(results["verify_events_per_s"][0]), "events/s", flush=True)
    leaves = [leaf_hash(hashlib.sha256(i.to_bytes(8, "big")).digest()) for i in range(TREE_LEAVES)]
    bench_frontier(leaves, results, units)
    bench_proofs(leaves, results, units)
    ratios = {
        name: results[f"pymerkle_{name}_s"][0] / results[f"ours_{name}_s"][0]
        for name in (
            "root",
            "inclusion_cold",
            "consistency_cold",
            "inclusion_warm",
            "consistency_warm",
        )
    }
    bench_integrity_layer(results, units)
    checkpoint_times = {
        key: value[0] for key, value in results.items() if key.endswith("checkpoint_after_1000_s")
    }
    report["integrity"] = {
        "measurements": results,
        "units": units,
        "ratios_pymerkle_time_over_ours": ratios,
        "verify_target_events_per_s": VERIFY_TARGET,
        "verify_target_met": results["verify_events_per_cpu_s"][0] >= VERIFY_TARGET,
        "checkpoint_target_s": CHECKPOINT_TARGET_S,
        "checkpoint_target_met": all(t < CHECKPOINT_TARGET_S for t in checkpoint_times.values()),
        "python": sys.version.split()[0],
    }


if __name__ == "__main__":
    out: dict[str, Any] = {}
    run(out)
    print(json.dumps(out, indent=2))
