"""Catching up (issue: write path and custody throughput): the runner reads the log's
stored bytes itself (``EventStore.read_states``), and a projection found behind takes
larger batches on PostgreSQL — never on SQLite, where a batch holds the only write
lock. Whatever the batches, the rows are the same."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.history import Event
from domain.vocabulary import Role
from ledger.bootstrap import GC_YOUNG_THRESHOLD, Ledger, settle_for_a_long_run
from ledger.projections.custody import CustodyProjection
from ledger.projections.runner import Runner
from ledger.store.tables import assets, event_amendments, event_index, inventories, part_serials
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire

ADMIN = Principal("admin", Role.ADMIN)


def append(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], ADMIN)


def history(n: int) -> list[dict[str, Any]]:
    """Four assets passed back and forth; some reports late (out of world order), one
    retracted and one corrected: the projection folds some assets again."""
    events = wire.reference_world() + [wire.asset(f"cu{i}") for i in range(4)]
    for i in range(n):
        a, b = ("iq-army", "iq-9th") if (i // 4) % 2 == 0 else ("iq-9th", "iq-army")
        day = 28 - i // 2 if i % 7 == 3 else 1 + i // 4  # every seventh event is late
        events.append(
            wire.transfer([f"cu{i % 4}"], a, b, occurred_at=f"2015-03-{day:02d}T00:00:00Z")
        )
    transfers = [e for e in events if e["type"] == "custody_transferred"]
    if len(transfers) > 12:
        events.append(wire.retraction(transfers[5]["event_id"]))
        events.append(
            wire.correction(transfers[10]["event_id"], {"occurred_at": "2015-02-01T00:00:00Z"})
        )
    return events


class Recording:
    """A projection that only remembers the size and positions of its batches."""

    name = "recording"
    bulk_catch_up = True

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def process(self, conn: Connection, batch: Sequence[Event]) -> None:
        self.batches.append([e.position for e in batch])

    def reset(self, conn: Connection) -> None:
        self.batches.clear()

    def forget(self) -> None:
        pass


def test_read_states_gives_the_stored_bytes_in_order(ledger: Ledger) -> None:
    append(ledger, history(6))
    notes = ledger.store.recorder.select_notifications(start=3, limit=5)
    assert ledger.store.read_states(3, 5) == [(n.id, bytes(n.state)) for n in notes]
    assert [p for p, _ in ledger.store.read_states(3, 100, stop=6)] == [3, 4, 5, 6]
    assert ledger.store.read_states(10_000, 5) == []


def test_a_projection_behind_takes_its_catch_up_batches_on_postgresql_only(
    ledger: Ledger,
) -> None:
    append(ledger, history(30))
    head = ledger.lookups.head()[0]
    projection = Recording()
    runner = Runner(ledger.engine, ledger.store, [projection], batch_size=3, catch_up_batch_size=10)
    assert runner.catch_up() == head
    sizes = [len(b) for b in projection.batches]
    positions = [p for b in projection.batches for p in b]
    assert positions == list(range(1, head + 1))  # each event once, in order
    if ledger.engine.dialect.name == "sqlite":
        assert set(sizes[:-1]) == {3}
    else:
        assert sizes[0] == 3 and set(sizes[1:-1]) == {10}


def snapshot(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with ledger.engine.connect() as conn:
        for table in (assets, event_index, event_amendments, inventories, part_serials):
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def test_custody_rows_do_not_depend_on_the_batches(ledger: Ledger) -> None:
    append(ledger, history(40))
    Runner(ledger.engine, ledger.store, [CustodyProjection()], batch_size=100_000).rebuild()
    whole = snapshot(ledger)
    assert len(whole["proj_event_amendments"]) == 2
    small = Runner(
        ledger.engine, ledger.store, [CustodyProjection()], batch_size=2, catch_up_batch_size=7
    )
    small.rebuild()
    assert snapshot(ledger) == whole


def test_settling_freezes_what_exists_and_raises_the_first_threshold() -> None:
    before = gc.get_threshold()
    try:
        settle_for_a_long_run()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_late_report_after_a_correction_folds_the_corrected_version(ledger: Ledger) -> None:
    """The custody tail (``custody.Held``) is built from corrected versions, which keep
    their event's position; a later late report must not fold in the event as
    recorded."""
    first = wire.transfer(["cu0"], "iq-army", "iq-9th", occurred_at="2015-03-01T00:00:00Z")
    second = wire.transfer(["cu0"], "iq-9th", "iq-army", occurred_at="2015-03-10T00:00:00Z")
    late = wire.transfer(["cu0"], "iq-9th", "iq-army", occurred_at="2015-03-05T00:00:00Z")
    append(ledger, [*wire.reference_world(), wire.asset("cu0"), first, second])
    append(ledger, [wire.correction(second["event_id"], {"occurred_at": "2015-03-20T00:00:00Z"})])
    append(ledger, [late])
    Runner(ledger.engine, ledger.store, [CustodyProjection()], batch_size=100_000).rebuild()
    whole = snapshot(ledger)
    Runner(ledger.engine, ledger.store, [CustodyProjection()], batch_size=1).rebuild()
    assert snapshot(ledger) == whole
    [row] = whole["proj_assets"]
    assert "2015-03-20" in str(row)  # the corrected instant is the asset's last
