"""The contract report and compliance read from the projections equal the ones folded
from the log, for the view they serve (the present as now known), on both backends;
any other view is folded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from domain.rules import report as report_module
from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.cli.demo import load_demo
from ledger.reading import report as current_module
from ledger.reading.report import current
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire

ADMIN = Principal("admin", Role.ADMIN)
STORY = "fms-iq-m1"


def both(ledger: Ledger, contract: str, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    now = datetime.now(UTC)
    args: dict[str, Any] = {"as_of": now, "known_at": now, "period_from": None, "period_to": None}
    args.update(kw)
    stored = ledger.findings.report(contract, **args)
    folded = ledger.findings.report(contract, **args, fold=True)
    return stored, folded


def uses_projections(ledger: Ledger, contract: str, at: datetime) -> bool:
    with ledger.engine.connect() as conn:
        return current(conn, contract, at, at) is not None


def test_the_story_report_from_the_projections_equals_the_folded_one(ledger: Ledger) -> None:
    load_demo(ledger)
    assert uses_projections(ledger, STORY, datetime.now(UTC))
    stored, folded = both(ledger, STORY)
    assert stored == folded
    assert stored["assets"]["total"] > 0 and stored["open_state_findings"]
    assert stored["corrections"], "the story corrects and retracts reports"
    period = both(
        ledger,
        STORY,
        period_from=datetime(2014, 6, 1, tzinfo=UTC),
        period_to=datetime(2016, 1, 1, tzinfo=UTC),
    )
    assert period[0] == period[1]
    now = datetime.now(UTC)
    stored = ledger.findings.compliance(STORY, as_of=now, known_at=now)
    assert stored == ledger.findings.compliance(STORY, as_of=now, known_at=now, fold=True)


def test_a_long_list_of_event_findings_is_cut_the_same_way(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.appender.append(
        [EVENT_ADAPTER.validate_python(e) for e in wire.reference_world()], ADMIN
    )
    ledger.appender.append(
        [EVENT_ADAPTER.validate_python(wire.asset(f"t{i}")) for i in range(1, 5)], ADMIN
    )
    # Late transfers at one instant (ties on valid_from) and at others: R05 each.
    late = [
        wire.transfer(
            [f"t{1 + i % 4}"],
            "iq-army" if (i // 4) % 2 == 0 else "iq-9th",
            "iq-9th" if (i // 4) % 2 == 0 else "iq-army",
            occurred_at="2015-01-01T00:00:00Z" if i < 8 else f"2015-02-{1 + i:02d}T00:00:00Z",
        )
        for i in range(16)
    ]
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in late], ADMIN)
    ledger.runner.catch_up()
    for module in (report_module, current_module):
        monkeypatch.setattr(module, "EVENT_FINDINGS_LISTED", 5)
    stored, folded = both(ledger, "fms-1")
    assert stored == folded
    assert stored["event_findings_truncated"] and len(stored["event_findings"]) == 5
    assert stored["event_findings_by_rule"]["R05"] == 16 == stored["event_findings_total"]


def test_views_of_the_past_or_behind_the_log_are_folded(ledger: Ledger) -> None:
    load_demo(ledger)
    past = datetime(2016, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    with ledger.engine.connect() as conn:
        assert current(conn, STORY, now, now) is not None
        assert current(conn, STORY, past, now) is None, "the assets' events go on after 2016"
        assert current(conn, STORY, past, past) is None, "knowledge of the past"
        assert current(conn, STORY, now, past) is None, "as_of after known_at"
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE projection_tracking SET position = position - 1"))
    # One event behind the log: still exact as of the projections' position.
    assert uses_projections(ledger, STORY, datetime.now(UTC))
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE projection_tracking SET position = position - 1 WHERE name = 'findings'"
            )
        )
    assert not uses_projections(ledger, STORY, datetime.now(UTC)), "projections apart"


def test_on_a_realistic_world_the_stored_report_equals_the_folded_one(ledger: Ledger) -> None:
    """A generated world (late reports, amendments, inventories, reference changes):
    every contract's report and compliance from the projections equal the folded ones.
    Most asset state findings not cleared have ended by now, and the stored path reads
    only those that last (``valid_to``): the worlds must hold some of each."""
    from ledger.store.tables import findings
    from ledger.worlds.realistic import append_world

    append_world(ledger, 3_000, seed=3, contracts=3)
    ledger.runner.catch_up()
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(findings.c.contract_id, findings.c.valid_to).where(
                findings.c.kind == "state",
                findings.c.cleared_at.is_(None),
                findings.c.rule.like("R%"),
            )
        ).all()
        contracts = sorted({c for c, _ in rows if c is not None})
    assert {v is None for _, v in rows} == {True, False}, "ended and lasting findings"
    assert len(contracts) >= 2
    now = datetime.now(UTC)
    for contract in contracts:
        assert uses_projections(ledger, contract, now)
        stored, folded = both(ledger, contract)
        assert stored == folded, contract
        assert stored["open_state_findings"], contract
        compliance = ledger.findings.compliance(contract, as_of=now, known_at=now)
        assert compliance == ledger.findings.compliance(
            contract, as_of=now, known_at=now, fold=True
        )


def test_inventories_retracted_or_corrected_are_listed_as_the_log_has_them(
    ledger: Ledger,
) -> None:
    """The report lists a period's inventories from their stored summaries, in world
    order; the amended ones as the log has them now: a retracted one left out, one
    whose date was corrected at its new place, one whose correction was retracted as
    first recorded; one of another contract's assets not at all."""
    assets = [f"t{i}" for i in range(1, 4)]
    day = "2015-0{}-01T00:00:00Z".format
    events = [
        *wire.reference_world(),
        *(wire.asset(a) for a in assets),
        wire.contract("fms-2"),
        wire.asset("t9", contract_id="fms-2"),
        wire.inventory(assets, "iq-army", event_id="inv-plain", occurred_at=day(3)),
        wire.inventory(assets, "iq-army", event_id="inv-gone", occurred_at=day(4)),
        wire.inventory(assets, "iq-army", ("t2",), event_id="inv-moved", occurred_at=day(5)),
        wire.inventory(assets, "iq-army", event_id="inv-kept", occurred_at=day(6)),
        wire.inventory(["t9"], "iq-army", event_id="inv-other", occurred_at=day(7)),
        wire.retraction("inv-gone"),
        wire.correction("inv-moved", {"occurred_at": day(2)}),
        wire.correction("inv-kept", {"occurred_at": day(1)}, event_id="fix-kept"),
        wire.retraction("fix-kept"),
    ]
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], ADMIN)
    ledger.runner.catch_up()
    assert uses_projections(ledger, "fms-1", datetime.now(UTC))
    stored, folded = both(ledger, "fms-1")
    assert stored == folded
    assert stored["inventory"]["inventories_in_period"] == ["inv-moved", "inv-plain", "inv-kept"]
    period = both(
        ledger,
        "fms-1",
        period_from=datetime(2015, 2, 15, tzinfo=UTC),
        period_to=datetime(2015, 6, 15, tzinfo=UTC),
    )
    assert period[0] == period[1]
    assert period[0]["inventory"]["inventories_in_period"] == ["inv-plain", "inv-kept"]
    assert [c["target_event_id"] for c in stored["corrections"]] == [
        "inv-gone",
        "inv-moved",
        "inv-kept",
    ]
    assert stored["corrections"][2]["retracted_by"] is not None
