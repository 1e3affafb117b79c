"""The record rules R06–R08 and R16 (DOMAIN.md §5, :mod:`domain.rules.record`): for
each, a case that fires, a near miss, the exact boundary, and late knowledge that
changes the verdict — with the clearing reason (``resolved`` versus ``voided_*``) it
gets."""

from __future__ import annotations

from domain.rules.findings import ClearReason, FindingKind, Severity
from tests.unit.builders import (
    T,
    capture,
    contract,
    correct,
    decommission,
    destroy,
    inventory,
    lose,
    observe,
    recover,
    register,
    retract,
    support,
    transfer,
)
from tests.unit.rule_builders import disposition, eid, found, lives_of, then

# -- R06 CHAIN_OF_CUSTODY_BREAK -----------------------------------------------------------


def test_r06_transfer_from_a_party_unrelated_to_the_custodian() -> None:
    tr = transfer("A1", "kurds", "army", at="2014-06-01", event_id="tr")
    f = found(register("A1"), tr, rule="R06")["R06/tr/A1"]
    assert (f.kind, f.severity) == (FindingKind.DISCREPANCY, Severity.MEDIUM)
    assert f.parties[:2] == ("kurds", "9th-div")


def test_r06_near_miss_a_superior_unit_or_no_from_party() -> None:
    base = register("A1")
    assert not found(base, transfer("A1", "army", "kurds", at="2014-06-01"), rule="R06")
    assert not found(base, capture("A1", "isis", at="2014-06-01"), rule="R06")


def test_r06_a_prior_custodian_of_none_counts_as_unrelated() -> None:
    back = recover("A1", "army", from_party="isis", at="2014-09-01", event_id="back")
    got = found(register("A1"), lose("A1", at="2014-06-10"), back, rule="R06")
    assert "R06/back/A1" in got


def test_r06_boundary_events_at_the_same_instant_follow_world_order() -> None:
    out = transfer("A1", "9th-div", "kurds", at="2014-06-01", reported="2014-06-01")
    back = transfer(
        "A1", "kurds", "army", at="2014-06-01", reported="2014-06-01T00:00:01", event_id="back"
    )
    assert not found(register("A1"), out, back, rule="R06")
    first = transfer("A1", "kurds", "army", at="2014-06-01", reported="2014-06-01", event_id="back")
    then_out = transfer("A1", "9th-div", "kurds", at="2014-06-01", reported="2014-06-01T00:00:01")
    assert "R06/back/A1" in found(register("A1"), first, then_out, rule="R06")


def test_r06_a_late_intermediate_transfer_resolves_it_a_correction_voids_it() -> None:
    tr = transfer("A1", "kurds", "army", at="2014-06-10", event_id="tr")
    gap = transfer("A1", "9th-div", "kurds", at="2014-06-01", reported="2014-07-01")
    f = lives_of(register("A1"), tr, gap)["R06/tr/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED
    fix = correct(tr, {"payload.from_party": "9th-div"}, at="2014-07-01")
    f = lives_of(register("A1"), tr, fix)["R06/tr/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_CORRECTED


# -- R07 OBSERVED_CUSTODY_CONFLICT ----------------------------------------------------------


def test_r07_probable_sighting_with_an_unrelated_party() -> None:
    seen = observe("A1", "isis", confidence="probable", at="2014-06-01", event_id="seen")
    f = found(register("A1"), seen, rule="R07")["R07/seen/A1"]
    assert (f.kind, f.parties) == (FindingKind.DISCREPANCY, ("isis", "9th-div"))


def test_r07_near_misses_low_confidence_related_party_or_a_wreck() -> None:
    base = register("A1")
    assert not found(base, observe("A1", "isis", confidence="possible"), rule="R07")
    assert not found(base, observe("A1", "army", confidence="confirmed"), rule="R07")
    wreck = (destroy("A1", at="2014-06-01"), observe("A1", "isis", at="2014-07-01"))
    assert not found(base, *wreck, rule="R07")


def test_r07_boundary_confidence_equal_to_the_minimum_counts() -> None:
    c2 = contract("C2", terms={"conflict_min_confidence": "confirmed"})
    reg = register("A1", contract_id="C2")
    probable = observe("A1", "isis", confidence="probable", at="2014-06-01")
    confirmed = observe("A1", "isis", confidence="confirmed", at="2014-06-02", event_id="c")
    assert list(found(c2, reg, probable, confirmed, rule="R07")) == ["R07/c/A1"]


def test_r07_a_late_capture_report_resolves_it_retraction_voids_it() -> None:
    seen = observe("A1", "isis", at="2014-06-20", event_id="seen")
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-07-01")
    f = lives_of(register("A1"), seen, cap)["R07/seen/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED
    f = lives_of(register("A1"), seen, retract(seen, at="2014-07-01"))["R07/seen/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_RETRACTED


# -- R08 EVENT_AFTER_TERMINAL ---------------------------------------------------------------


def test_r08_a_destroyed_tank_seen_running_or_captured() -> None:
    gone = destroy("A1", at="2014-06-10")
    running = observe("A1", "pmf", at="2015-01-01", event_id="seen")
    cap = capture("A1", "isis", at="2015-02-01", event_id="cap")
    got = found(register("A1"), gone, running, cap, rule="R08")
    assert set(got) == {"R08/seen/A1", "R08/cap/A1"}
    assert eid(gone) in got["R08/seen/A1"].evidence


def test_r08_near_misses_wreck_sighting_wreck_transfer_inventory_decommission() -> None:
    wreck = observe("A1", None, at="2015-01-01")
    wreck[1]["payload"]["condition"] = "Burnt-out"
    got = found(
        register("A1"),
        destroy("A1", at="2014-06-10"),
        wreck,
        transfer("A1", "army", "9th-div", at="2015-02-01"),
        inventory({"A1": "present"}, at="2015-03-01"),
        decommission("A1", at="2015-04-01"),
        rule="R08",
    )
    assert not got


def test_r08_boundary_the_same_instant_as_the_destruction_follows_world_order() -> None:
    gone = destroy("A1", at="2014-06-10", reported="2014-06-10T01:00")
    same = support("A1", at="2014-06-10", reported="2014-06-10", event_id="aid")
    assert not found(register("A1"), gone, same, rule="R08")
    after = support("A1", at="2014-06-10T00:00:01", event_id="aid")
    assert "R08/aid/A1" in found(register("A1"), gone, after, rule="R08")


def test_r08_retracting_the_destruction_resolves_retracting_the_trigger_voids() -> None:
    gone = destroy("A1", at="2014-06-10")
    aid = support("A1", at="2015-01-01", event_id="aid")
    f = lives_of(register("A1"), gone, aid, retract(gone, at="2015-02-01"))["R08/aid/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED
    f = lives_of(register("A1"), gone, aid, retract(aid, at="2015-02-01"))["R08/aid/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_RETRACTED


# -- R16 POTENTIAL_UNAUTHORISED_USE --------------------------------------------------------


def test_r16_a_sighting_assessed_as_potentially_unauthorised() -> None:
    seen = observe(
        "A1", "pmf", use_assessment="potentially_unauthorised", at="2016-01-01", event_id="s"
    )
    f = found(register("A1"), seen, rule="R16")["R16/s/A1"]
    assert (f.kind, f.valid_to, f.severity) == (FindingKind.DISCREPANCY, None, Severity.MEDIUM)


def test_r16_near_miss_a_sighting_without_assessment() -> None:
    assert not found(register("A1"), observe("A1", "army", at="2016-01-01"), rule="R16")


def test_r16_stays_until_dispositioned_exactly() -> None:
    seen = observe(
        "A1", "pmf", use_assessment="potentially_unauthorised", at="2016-01-01", event_id="s"
    )
    decided = disposition("R16/s/A1", "referred", at="2016-03-01", event_id="d")
    lives = lives_of(register("A1"), seen, decided)
    before = then(lives, "R16/s/A1", "2016-02-28")
    assert before is not None and before.valid_to is None and before.disposition is None
    after = then(lives, "R16/s/A1", "2016-03-01")
    assert after is not None and after.valid_to == T("2016-03-01") and after.cleared_at is None
    assert after.disposition is not None and after.disposition.event_id == "d"
    assert after.active_at(T("2016-02-29T23:59:59")) and not after.active_at(T("2016-03-01"))


def test_r16_retracting_the_disposition_reopens_retracting_the_sighting_voids() -> None:
    seen = observe(
        "A1", "pmf", use_assessment="potentially_unauthorised", at="2016-01-01", event_id="s"
    )
    decided = disposition("R16/s/A1", "dismissed", at="2016-03-01")
    lives = lives_of(register("A1"), seen, decided, retract(decided, at="2016-04-01"))
    f = then(lives, "R16/s/A1", "2016-04-01")
    assert f is not None and f.valid_to is None and f.disposition is None
    f = lives_of(register("A1"), seen, retract(seen, at="2016-04-01"))["R16/s/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_RETRACTED
