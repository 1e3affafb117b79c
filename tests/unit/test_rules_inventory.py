"""The inventory rules R13–R14 (DOMAIN.md §5, :mod:`domain.rules.inventory`): for each,
a case that fires, a near miss, the exact boundary, and late knowledge that changes the
verdict — with the clearing reason (``resolved`` versus ``voided_*``) it gets."""

from __future__ import annotations

from domain.rules.findings import ClearReason, Severity
from tests.unit.builders import (
    T,
    capture,
    correct,
    inventory,
    register,
    retract,
    transfer,
)
from tests.unit.rule_builders import K, found, lives_of

# -- R13 INVENTORY_OVERDUE ----------------------------------------------------------------


def test_r13_no_inventory_within_90_days_of_delivery() -> None:
    got = found(register("A1", at="2011-01-01"), rule="R13")
    f = got[f"R13/A1/{K('2011-04-01')}"]
    assert (f.valid_from, f.valid_to, f.severity) == (T("2011-04-01"), None, Severity.LOW)


def test_r13_near_miss_verified_in_time_then_due_a_year_later() -> None:
    inv = inventory({"A1": "present"}, at="2011-03-31")
    got = found(register("A1", at="2011-01-01"), inv, rule="R13")
    assert list(got) == [f"R13/A1/{K('2012-03-30')}"]


def test_r13_boundary_verification_exactly_at_the_due_instant() -> None:
    reg = register("A1", at="2011-01-01")
    on_time = inventory({"A1": "present"}, at="2011-04-01")
    assert f"R13/A1/{K('2011-04-01')}" not in found(reg, on_time, rule="R13")
    late = inventory({"A1": "present"}, at="2011-04-01T00:00:01")
    f = found(reg, late, rule="R13")[f"R13/A1/{K('2011-04-01')}"]
    assert f.valid_to == T("2011-04-01T00:00:01")


def test_r13_ends_when_the_asset_leaves_authorised_partner_custody() -> None:
    got = found(register("A1", at="2011-01-01"), capture("A1", "isis", at="2011-06-01"), rule="R13")
    assert got[f"R13/A1/{K('2011-04-01')}"].valid_to == T("2011-06-01")


def test_r13_late_inventory_resolves_and_its_retraction_reopens() -> None:
    inv = inventory({"A1": "present"}, at="2011-03-01", reported="2011-05-01")
    lives = lives_of(register("A1", at="2011-01-01"), inv)
    f = lives[f"R13/A1/{K('2011-04-01')}"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED
    lives = lives_of(register("A1", at="2011-01-01"), inv, retract(inv, at="2011-06-01"))
    life = lives[f"R13/A1/{K('2011-04-01')}"]
    assert [c.at for c in life.changes] == [T("2011-04-01"), T("2011-05-01"), T("2011-06-01")]
    again = life.at(None)
    assert again is not None and again.cleared_at is None
    assert again.detected_at == T("2011-04-01")


# -- R14 INVENTORY_DISCREPANCY --------------------------------------------------------------


def test_r14_expected_but_absent_not_listed_and_found_but_not_expected() -> None:
    inv = inventory(
        {"A1": "absent", "A3": "present"}, scope="army", at="2014-01-01", event_id="inv"
    )
    got = found(
        register("A1"),
        register("A2"),
        register("A3"),
        capture("A3", "pmf", at="2013-01-01"),
        inv,
        rule="R14",
    )
    assert set(got) == {"R14/inv/A1", "R14/inv/A2", "R14/inv/A3"}
    assert "absent" in got["R14/inv/A1"].summary
    assert "not listed" in got["R14/inv/A2"].summary
    assert "found" in got["R14/inv/A3"].summary


def test_r14_near_miss_present_where_expected_or_outside_the_scope() -> None:
    inv = inventory({"A1": "present"}, scope="army", at="2014-01-01")
    other = capture("A2", "pmf", at="2013-01-01")
    assert not found(register("A1"), register("A2"), other, inv, rule="R14")


def test_r14_boundary_a_transfer_at_the_inventory_instant_follows_world_order() -> None:
    inv = inventory({"A1": "present"}, scope="army", at="2014-01-01", event_id="inv")
    out = transfer("A2", "9th-div", "kurds", at="2014-01-01", reported="2013-12-31")
    assert not found(register("A1"), register("A2"), out, inv, rule="R14")
    out_after = transfer("A2", "9th-div", "kurds", at="2014-01-01", reported="2014-01-02")
    assert "R14/inv/A2" in found(register("A1"), register("A2"), inv, out_after, rule="R14")


def test_r14_late_transfer_resolves_corrected_line_voids_retraction_voids() -> None:
    inv = inventory({"A1": "absent"}, scope="army", at="2014-01-01", event_id="inv")
    moved = transfer("A1", "9th-div", "kurds", at="2013-12-01", reported="2014-02-01")
    f = lives_of(register("A1"), inv, moved)["R14/inv/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED
    fix = correct(inv, {"payload.results.0.result": "present"}, at="2014-02-01")
    f = lives_of(register("A1"), inv, fix)["R14/inv/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_CORRECTED
    gone = retract(inv, at="2014-02-01")
    f = lives_of(register("A1"), inv, gone)["R14/inv/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_RETRACTED
