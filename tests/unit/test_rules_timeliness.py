"""The timeliness rules R04–R05 (DOMAIN.md §5, :mod:`domain.rules.timeliness`): for
each, a case that fires, a near miss, the exact boundary, and late knowledge that
changes the verdict — with the clearing reason (``resolved`` versus ``voided_*``) it
gets."""

from __future__ import annotations

from domain.rules.findings import ClearReason, FindingKind, Severity
from tests.unit.builders import (
    capture,
    contract,
    correct,
    inventory,
    lose,
    observe,
    register,
    support,
    transfer,
)
from tests.unit.rule_builders import found, lives_of

# -- R04 LATE_LOSS_NOTICE -----------------------------------------------------------------


def test_r04_loss_by_an_authorised_custodian_reported_after_24_hours() -> None:
    lost = lose("A1", at="2014-06-10", reported="2014-06-11T01:00", event_id="loss")
    got = found(register("A1"), lost)
    f = got["R04/loss/A1"]
    assert (f.kind, f.severity) == (FindingKind.EVENT, Severity.MEDIUM)
    assert "R05/loss/A1" not in got


def test_r04_boundary_exactly_24_hours_is_on_time_a_second_more_is_late() -> None:
    on_time = lose("A1", at="2014-06-10", reported="2014-06-11", event_id="loss")
    assert not found(register("A1"), on_time, rule="R04")
    late = lose("A1", at="2014-06-10", reported="2014-06-11T00:00:01", event_id="loss")
    assert "R04/loss/A1" in found(register("A1"), late, rule="R04")


def test_r04_near_misses_discovery_basis_and_unauthorised_prior_custodian() -> None:
    discovered = lose(
        "A1", at="2014-06-10", discovered_at="2014-06-12", reported="2014-06-12T12:00"
    )
    assert not found(register("A1"), discovered, rule="R04")
    by_pmf = capture("A1", "isis", at="2015-02-01", reported="2015-02-03")
    base = (register("A1"), capture("A1", "pmf", at="2015-01-01"))
    assert not found(*base, by_pmf, rule="R04")


def test_r04_late_knowledge_voids_or_resolves() -> None:
    lost = lose("A1", at="2014-06-10", reported="2014-06-12", event_id="loss")
    fix = correct(lost, {"discovered_at": "2014-06-11T12:00:00Z"}, at="2014-07-01")
    f = lives_of(register("A1"), lost, fix)["R04/loss/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_CORRECTED
    earlier = capture("A1", "isis", at="2014-06-01", reported="2014-07-01")
    f = lives_of(register("A1"), lost, earlier)["R04/loss/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED


# -- R05 LATE_RECORDING -----------------------------------------------------------------


def test_r05_transfer_recorded_more_than_seven_days_late() -> None:
    tr = transfer("A1", "9th-div", "army", at="2014-06-01", reported="2014-06-09", event_id="tr")
    f = found(register("A1"), tr, rule="R05")["R05/tr/A1"]
    assert (f.kind, f.severity) == (FindingKind.EVENT, Severity.LOW)


def test_r05_boundary_seven_days_exactly_is_on_time() -> None:
    tr = transfer("A1", "9th-div", "army", at="2014-06-01", reported="2014-06-08", event_id="tr")
    assert not found(register("A1"), tr, rule="R05")
    late = transfer(
        "A1", "9th-div", "army", at="2014-06-01", reported="2014-06-08T00:00:01", event_id="tr"
    )
    assert "R05/tr/A1" in found(register("A1"), late, rule="R05")


def test_r05_near_miss_measured_from_occurred_latest_and_observations_do_not_count() -> None:
    fuzzy = transfer(
        "A1",
        "9th-div",
        "army",
        at="2014-06-01",
        occurred_latest="2014-06-03",
        reported="2014-06-09",
    )
    seen = observe("A1", "army", at="2014-06-01", reported="2014-07-01")
    assert not found(register("A1"), fuzzy, seen, rule="R05")


def test_r05_each_asset_of_a_late_inventory_and_late_support_are_flagged() -> None:
    inv = inventory(
        {"A1": "present", "A2": "present"}, at="2014-06-01", reported="2014-07-01", event_id="inv"
    )
    aid = support("A1", at="2014-06-01", reported="2014-07-01", event_id="aid")
    got = found(register("A1"), register("A2"), inv, aid, rule="R05")
    assert {"R05/inv/A1", "R05/inv/A2", "R05/aid/A1"} <= set(got)


def test_r05_corrected_date_voids_and_longer_limit_resolves() -> None:
    tr = transfer("A1", "9th-div", "army", at="2014-06-01", reported="2014-06-20", event_id="tr")
    fix = correct(tr, {"occurred_at": "2014-06-18T00:00:00Z"}, at="2014-07-01")
    f = lives_of(register("A1"), tr, fix)["R05/tr/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_CORRECTED
    lives = lives_of(
        contract("C2", event_id="c2"),
        register("A1", contract_id="C2"),
        tr,
        correct("c2", {"payload.terms.record_limit_days": 30}, at="2014-07-01"),
    )
    f = lives["R05/tr/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED
