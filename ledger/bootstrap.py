"""The composition root: one function builds the ledger from settings.

Nothing is built at import time. Tests pass other settings through the same function.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ledger.errors import LedgerError
from ledger.integrity.service import IntegrityService
from ledger.projections.custody import CustodyProjection
from ledger.projections.findings import FindingsProjection
from ledger.projections.findings_partitions import FindingsContracts, FindingsPartition
from ledger.projections.leases import Leases
from ledger.projections.residency import Residency
from ledger.projections.runner import Projection, Runner
from ledger.reading.custody import Reads
from ledger.reading.findings import FindingsReads
from ledger.reading.timelines import TimelineWarmer
from ledger.settings import Settings
from ledger.store.eventstore import EventStore, eventsourcing_env
from ledger.store.lookups import Lookups
from ledger.writing.append import Appender
from ledger.writing.keys import KeyStore

GC_YOUNG_THRESHOLD = 20_000
"""Allocations between two collections of the youngest generation (Python's default:
700)."""


def settle_for_a_long_run() -> None:
    """Tune the garbage collector for a server or worker, once it is built.

    A batch of 1,000 events allocates a few hundred thousand dicts and strings that live
    until its answer is sent. With Python's defaults they reach the oldest generation,
    and each full collection then walks every object of the process: a third of a batch
    append's time went there (measured in-process, docs/decisions/0013). Freezing what
    startup built moves it out of the collector's walks for good; a larger first
    threshold lets a request's short-lived objects die before a collection sees them.
    Reference cycles are still collected."""
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, second, third)


def make_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url()
    if settings.is_sqlite:
        path = sa.engine.make_url(url).database
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # ``pool_size`` connections stay open; the overflow is opened under load and closed
    # when returned, so an idle process holds few (a default PostgreSQL server allows
    # 100 connections for every process sharing it).
    return sa.create_engine(
        url, pool_size=settings.db_pool_size, max_overflow=12, pool_pre_ping=True
    )


@dataclass
class Ledger:
    """Everything a process needs, built once."""

    settings: Settings
    engine: Engine
    store: EventStore
    lookups: Lookups
    keys: KeyStore
    appender: Appender
    reads: Reads
    runner: Runner
    integrity: IntegrityService
    findings: FindingsReads
    timelines: TimelineWarmer
    extras: dict[str, Any] = field(default_factory=dict)

    def start_projections(self) -> None:
        """Follow the log in this process (the embedded, single-process deployment)."""
        self.appender.on_commit = self.runner.wake.set
        self.runner.start(self.settings.projection_poll_seconds)
        self.timelines.start(self.settings.projection_poll_seconds)
        self.start_checkpoints()

    def start_checkpoints(self) -> None:
        """Sign a checkpoint every ``checkpoint_interval_seconds`` (0 = never) in this
        process; loads the signing key now, generating it on the very first start."""
        self.integrity.start_periodic(self.settings.checkpoint_interval_seconds)

    def close(self) -> None:
        self.integrity.stop_periodic()
        self.timelines.stop()
        self.runner.stop()
        self.appender.close()
        self.store.close()
        self.engine.dispose()


class SchemaNotReadyError(LedgerError):
    title = "Database not migrated"


def check_schema(engine: Engine) -> None:
    """Fail fast, with the fix, on a database that is not at the code's revision."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from ledger.store.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise SchemaNotReadyError(
            f"the database is at revision {current or 'none'}, the code needs {head}: "
            "run `ledger migrate` (or `make migrate`)"
        )


def findings_projections(settings: Settings) -> list[Projection]:
    """One walk, or partitions of the assets and the contract level (docs/decisions/0015)."""
    n = settings.findings_partitions
    if n == 1:
        return [FindingsProjection()]
    residency = Residency(settings.findings_resident_events)
    partitions = [FindingsPartition(i, n, residency) for i in range(n)]
    return [*partitions, FindingsContracts(n, residency)]


def leases_of(
    engine: Engine, projections: Sequence[Projection], *, seconds: float, owner: str | None = None
) -> Leases | None:
    """This worker's leases on the projections shared out among workers, if any. The
    contract level comes first: a worker keeps the first of its share and gives the
    last up, so the contract level (the lightest) goes with a partition, and the
    partitions spread over the workers (two workers, two partitions: one each)."""
    leased = sorted(
        (p.name for p in projections if getattr(p, "leased", False)),
        key=lambda name: name != FindingsContracts.name,
    )
    return Leases(engine, leased, seconds=seconds, owner=owner) if leased else None


def build_ledger(settings: Settings | None = None, *, check: bool = True) -> Ledger:
    settings = settings or Settings()
    engine = make_engine(settings)
    if check:
        check_schema(engine)
    store = EventStore(env=eventsourcing_env(settings))
    lookups = Lookups(engine)
    keys = KeyStore(engine, settings.key_cache_seconds)
    appender = Appender(store, lookups, settings.group_commit_max_events)
    projections: list[Projection] = [CustodyProjection(), *findings_projections(settings)]
    runner = Runner(
        engine,
        store,
        projections,
        settings.projection_batch_size,
        catch_up_batch_size=settings.projection_catch_up_batch_size,
        leases=leases_of(engine, projections, seconds=settings.lease_seconds),
    )
    reads = Reads(engine, [p.name for p in projections])
    integrity = IntegrityService(engine, lookups, settings.signing_key_file)
    # Every append seals its last event with the ledger's key (loaded, or made on a new
    # ledger, at the first append): see ledger.integrity.seals.
    store.recorder.guard.sealer = integrity.sealer  # type: ignore[attr-defined]
    findings = FindingsReads(engine, lookups)
    timelines = TimelineWarmer(engine, store, reads)
    return Ledger(
        settings,
        engine,
        store,
        lookups,
        keys,
        appender,
        reads,
        runner,
        integrity,
        findings,
        timelines,
    )
