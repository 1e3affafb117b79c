"""The contract report (DOMAIN.md §7) as data: every section, restatements from late
knowledge, and a reproducibility block; and the findings views and filters."""

from __future__ import annotations

import json

from domain.instants import to_key
from domain.rules import RULES_VERSION
from domain.rules.findings import ClearReason, FindingKind
from domain.rules.lives import Filters, Window, known_then, select
from domain.rules.report import contract_report
from domain.rules.tracking import life
from domain.state import History
from tests.unit.builders import (
    T,
    capture,
    correct,
    inventory,
    lose,
    observe,
    recover,
    register,
    retract,
    transfer,
)
from tests.unit.rule_builders import history
from tests.unit.test_rules_story import story

HEAD = "ab" * 32


def K(t: str) -> str:
    return to_key(T(t))


def test_the_story_report_has_every_section() -> None:
    logged = [
        *story(),
        correct("mosul", {"location": {"name": "Mosul"}}, at="2018-01-10"),
        retract("sighting", at="2018-07-01"),
    ]
    h = History(logged)
    report = contract_report(
        h,
        "C1",
        as_of=T("2018-06-01"),
        known_at=T("2018-06-01"),
        head_position=len(logged),
        head_hash=HEAD,
        period=Window(T("2017-01-01"), T("2018-06-01")),
    )
    d = report.to_dict()
    json.dumps(d)  # JSON-friendly throughout
    assert d["assets"]["total"] == 10 and d["assets"]["accounted"] == 8
    assert d["assets"]["not_accounted_for"] == [
        {"asset_id": "T02", "reason": "unauthorised_custodian"},
        {"asset_id": "T03", "reason": "unauthorised_custodian"},
    ]
    e = d["enforcement"]
    assert (e["support"], e["suspension_in_effect"], e["delivery_hold_in_effect"]) == (
        "suspend",
        True,
        True,
    )
    assert e["enforcement_gap"] is False
    assert [g["valid_to"] for g in e["enforcement_gaps"]] == ["2017-12-15T00:00:00.000000Z"]
    assert e["enforcement_gaps"][0]["detected_at"] == "2014-08-09T00:00:00.000000Z"
    assert e["suspensions"][0]["opened_by"] == ["suspend"]
    open_state = {f["finding_key"] for f in d["open_state_findings"]}
    assert {f"R03/T02/{K('2014-06-10')}", f"C01/C1/{K('2014-07-10')}"} <= open_state
    assert f"R01/T02/pmf/{K('2015-03-01')}" in open_state
    assert [f["finding_key"] for f in d["event_findings"]] == ["R16/sighting/T02"]
    assert d["inventory"]["overdue"] == 7 and d["inventory"]["in_scope"] == 7
    assert [(c["type"], c["target_event_id"]) for c in d["corrections"]] == [
        ("event_corrected", "mosul")
    ]
    # The sighting's retraction comes after the report: the report is restated.
    assert [(r["finding_key"], r["change"], r["clear_reason"]) for r in d["restatements"]] == [
        ("R16/sighting/T02", "withdrawn", "voided_trigger_retracted")
    ]
    repro = d["reproducibility"]
    assert repro["log_head_position"] == len(logged) and repro["log_head_hash"] == HEAD
    assert repro["rules_version"] == RULES_VERSION == "2"
    assert repro["terms"]["unaccounted_max_days"] == 30
    assert "events_known" not in repro, "the head position and known_at name the cut"


def test_restatements_are_findings_whose_interval_late_knowledge_changed() -> None:
    logged = (
        register("A1"),
        register("A2"),
        register("A3"),
        lose("A1", at="2014-06-01"),
        # Known at the report time, but closed after it: not a restatement.
        capture("A3", "isis", at="2014-06-15"),
        recover("A3", "army", at="2014-09-01"),
        # Late: A1 was back on the 20th; A2 had been captured in May.
        recover("A1", "army", at="2014-06-20", reported="2014-08-01", event_id="late-back"),
        capture("A2", "isis", at="2014-05-01", reported="2014-09-01", event_id="late-cap"),
    )
    report = contract_report(
        history(*logged),
        "C1",
        as_of=T("2014-07-15"),
        known_at=T("2014-07-15"),
        head_position=99,
        head_hash=HEAD,
    )
    got = {r.finding_key: r for r in report.restatements}
    withdrawn = got[f"R03/A1/{K('2014-06-01')}"]
    assert withdrawn.change == "withdrawn" and withdrawn.restated_at == T("2014-08-01")
    assert withdrawn.now is not None and withdrawn.now.clear_reason is ClearReason.RESOLVED
    added = got[f"R01/A2/isis/{K('2014-05-01')}"]
    assert added.change == "added" and added.late_evidence == ("late-cap",)
    assert added.restated_at == T("2014-09-01")
    assert f"R01/A3/isis/{K('2014-06-15')}" not in got
    assert f"R03/A3/{K('2014-06-15')}" not in got
    c01 = got[f"C01/C1/{K('2014-07-01')}"]
    assert c01.change == "withdrawn"


def test_inventories_in_the_period_and_verification_dates() -> None:
    logged = (
        register("A1", at="2011-01-01"),
        inventory({"A1": "present"}, at="2011-03-01", event_id="inv"),
    )
    report = contract_report(
        history(*logged),
        "C1",
        as_of=T("2011-06-01"),
        known_at=T("2011-06-01"),
        head_position=2,
        head_hash=HEAD,
        period=Window(T("2011-01-01"), None),
    )
    assert report.inventories_in_period == ("inv",)
    line = report.inventory[0]
    assert (line.last_verified_at, line.due_at, line.overdue) == (
        T("2011-03-01"),
        T("2012-02-29"),
        False,
    )


def test_known_then_hides_what_was_not_yet_known_hindsight_shows_it() -> None:
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-07-01", event_id="cap")
    lives = life(history(register("A1"), cap))
    key = f"R01/A1/isis/{K('2014-06-10')}"
    assert key not in {f.finding_key for f in known_then(lives, T("2014-06-30"))}
    assert key in {f.finding_key for f in known_then(lives, T("2014-07-01"))}
    assert key in {f.finding_key for f in lives.hindsight(T("2014-06-15"))}
    assert key not in {f.finding_key for f in lives.hindsight(T("2014-06-09"))}


def test_select_applies_the_findings_filters() -> None:
    seen = observe("A1", "pmf", at="2014-06-20", event_id="seen")
    lives = life(
        history(
            register("A1"),
            register("A2"),
            capture("A1", "isis", at="2014-06-10"),
            transfer("A2", "kurds", "army", at="2014-06-12", event_id="tr"),
            seen,
            retract(seen, at="2014-08-01"),
        )
    )
    everything = lives.hindsight()
    assert {f.rule for f in select(everything, Filters(rule="R01"))} == {"R01"}
    assert {f.kind for f in select(everything, Filters(kind=FindingKind.DISCREPANCY))} == {
        FindingKind.DISCREPANCY
    }
    by_asset = select(everything, Filters(asset="A2", cleared=None))
    assert {f.asset_id for f in by_asset} == {"A2"}
    assert {f.finding_key for f in select(everything, Filters(party="kurds"))} == {"R06/tr/A2"}
    cleared = select(everything, Filters(cleared=True))
    assert [f.finding_key for f in cleared] == ["R07/seen/A1"]
    assert not select(everything, Filters(rule="R07"))
    active = select(everything, Filters(active_at=T("2014-06-11")))
    assert {f.rule for f in active} == {"R01", "R13"}
    window = Filters(detected=Window(T("2014-06-10"), T("2014-06-11")), cleared=None)
    assert {f.rule for f in select(everything, window)} == {"R01"}
    gone = Filters(cleared_within=Window(T("2014-08-01"), None), cleared=None)
    assert [f.finding_key for f in select(everything, gone)] == ["R07/seen/A1"]
    assert all(f.open for f in select(everything, Filters(open=True, rule="R01")))
