"""A realistic world (``ledger.worlds.realistic``) appended for real, on SQLite and
PostgreSQL: nothing the write path rejects, and once the projections have caught up,
findings of every rule family.

The findings are read from a smaller world than the append: the findings projection
catches up on this generator's worlds far slower than the custody projection (late
reports, amendments, inventories and reference changes make it evaluate assets and
contracts again; docs/decisions/0014), so a 20,000-event world would take a minute per
backend."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from ledger.bootstrap import Ledger
from ledger.projections.custody import CustodyProjection, Held
from ledger.projections.runner import Runner
from ledger.reading.findings import FindingsQuery
from ledger.store.tables import assets, findings
from ledger.worlds.realistic import append_world, world_events
from ledger.writing.wire import EVENT_ADAPTER, to_record

FAMILIES = {
    "custody": {"R01", "R02", "R03", "R06", "R07"},
    "timeliness": {"R04", "R05"},
    "record": {"R08", "R16"},
    "maintenance": {"R09", "R10", "R12"},
    "inventory": {"R13", "R14"},
    "contract": {"C01", "C02", "C03", "C04", "C05"},
}


def rules_found(ledger: Ledger) -> Counter[str]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(findings.c.rule, sa.func.count()).group_by(findings.c.rule))
        return Counter({rule: n for rule, n in rows})


def test_twenty_thousand_events_append_without_a_rejection(ledger: Ledger) -> None:
    stored = append_world(ledger, 20_000, seed=3)
    assert stored == 20_000
    assert ledger.lookups.head()[0] == 20_000


def test_the_log_holds_each_event_as_sent_and_a_rerun_replays_it(ledger: Ledger) -> None:
    sent = list(world_events(1_500, seed=5))
    assert append_world(ledger, 1_500, seed=5) == 1_500
    stored = {r.record["event_id"]: r.record for r in ledger.lookups.read_log(0, 2_000)}
    for event in sent:
        record = to_record(EVENT_ADAPTER.validate_python(event))
        kept = {k: v for k, v in stored[event["event_id"]].items() if k in record}
        assert kept == record, event["event_id"]
    assert append_world(ledger, 1_500, seed=5) == 0
    assert ledger.lookups.head()[0] == 1_500


def test_a_world_yields_findings_of_every_rule_family(ledger: Ledger) -> None:
    assert append_world(ledger, 4_000, seed=3) == 4_000
    ledger.runner.catch_up()
    found = rules_found(ledger)
    for family, rules in FAMILIES.items():
        assert found.keys() & rules, f"no {family} finding among {sorted(found)}"
    assert len(found) >= 14
    # The read side agrees: GET /v1/findings answers from FindingsReads.search.
    page = ledger.findings.search(FindingsQuery(rule="R16", hindsight=True, cleared=None))
    assert page["findings"] and all(f["rule"] == "R16" for f in page["findings"])
    critical = ledger.findings.search(
        FindingsQuery(rule="R01", hindsight=True, cleared=None, limit=1000)
    )
    assert {f["severity"] for f in critical["findings"]} >= {"critical"}


def test_custody_rows_in_small_batches_are_the_fold_of_the_whole_log(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Late reports, amendments and reference changes as the world makes them: caught
    up in batches of 25 (late reports folded in from each asset's last steps, or its
    whole history), the asset rows are those of one batch holding the whole log, which
    folds each asset once, in world order."""
    assert append_world(ledger, 3_000, seed=7) == 3_000
    Runner(ledger.engine, ledger.store, [CustodyProjection()], batch_size=100_000).rebuild()
    whole = asset_rows(ledger)
    rewinds: list[int] = []
    original = Held.rewind_to

    def counting(self: Held, key: str) -> list[int] | None:
        again = original(self, key)
        rewinds.append(-1 if again is None else len(again))
        return again

    monkeypatch.setattr(Held, "rewind_to", counting)
    small = Runner(
        ledger.engine, ledger.store, [CustodyProjection()], batch_size=25, catch_up_batch_size=25
    )
    small.rebuild()
    assert asset_rows(ledger) == whole
    assert sum(1 for n in rewinds if n > 0) > 50  # folded in from the tail
    assert -1 in rewinds  # and reports later than the tail: the whole history


def asset_rows(ledger: Ledger) -> list[tuple[object, ...]]:
    with ledger.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(assets).order_by(assets.c.asset_id))]
