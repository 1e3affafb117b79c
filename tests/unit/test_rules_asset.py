"""The asset rules R01–R16 (DOMAIN.md §5): for each, a case that fires, a near miss,
the exact boundary, and late knowledge that changes the verdict — with the clearing
reason (``resolved`` versus ``voided_*``) it gets."""

from __future__ import annotations

from domain.instants import to_key
from domain.rules.findings import ClearReason, FindingKind, Severity
from tests.unit.builders import (
    T,
    capture,
    contract,
    correct,
    decommission,
    destroy,
    grant,
    inventory,
    lose,
    observe,
    party,
    recover,
    register,
    repair_complete,
    repair_start,
    retract,
    revoke,
    support,
    transfer,
)
from tests.unit.rule_builders import disposition, eid, found, lives_of, then


def K(t: str) -> str:
    return to_key(T(t))


# -- R01 UNAUTHORISED_CUSTODY ------------------------------------------------------------


def test_r01_capture_by_an_armed_group_opens_critical_unauthorised_custody() -> None:
    cap = capture("A1", "isis", at="2014-06-10")
    back = recover("A1", "army", from_party="isis", at="2015-03-01")
    got = found(register("A1"), cap, back, rule="R01")
    f = got[f"R01/A1/isis/{K('2014-06-10')}"]
    assert (f.kind, f.severity, f.parties) == (FindingKind.STATE, Severity.CRITICAL, ("isis",))
    assert (f.valid_from, f.valid_to) == (T("2014-06-10"), T("2015-03-01"))
    assert f.evidence == (eid(cap), eid(back))
    assert f.contract_id == "C1" and f.asset_id == "A1" and f.trigger_event_id is None


def test_r01_severity_is_high_for_a_paramilitary_and_critical_for_a_designated_party() -> None:
    pmf = found(register("A1"), capture("A1", "pmf", at="2015-01-01"), rule="R01")
    assert [f.severity for f in pmf.values()] == [Severity.HIGH]
    marked = found(
        party("kh", "paramilitary", designations=["sanctioned"]),
        register("A1"),
        capture("A1", "kh", at="2015-01-01"),
        rule="R01",
    )
    assert [f.severity for f in marked.values()] == [Severity.CRITICAL]


def test_r01_near_miss_custody_of_an_authorised_party_is_not_a_finding() -> None:
    kurds = grant("AUTH-KURDS", "kurds", valid_from="2014-01-01")
    got = found(register("A1"), kurds, transfer("A1", "9th-div", "kurds", at="2014-06-10"))
    assert not [k for k in got if k.startswith("R01")]


def test_r01_splits_exactly_where_authorisation_changes() -> None:
    auth = grant("AUTH-PMF", "pmf", valid_from="2016-01-01")
    end = revoke("AUTH-PMF", "2017-01-01")
    got = found(register("A1"), capture("A1", "pmf", at="2015-01-01"), auth, end, rule="R01")
    first = got[f"R01/A1/pmf/{K('2015-01-01')}"]
    second = got[f"R01/A1/pmf/{K('2017-01-01')}"]
    assert first.valid_to == T("2016-01-01")
    assert not first.active_at(T("2016-01-01")) and first.active_at(T("2015-12-31T23:59:59"))
    assert second.active_at(T("2017-01-01")) and not second.active_at(T("2016-12-31T23:59:59"))
    assert eid(end) in second.evidence


def test_r01_late_report_is_detected_when_it_arrives_and_retraction_voids_it() -> None:
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-06-20", event_id="cap")
    gone = retract(cap, at="2014-09-01", reported="2014-09-01")
    lives = lives_of(register("A1"), cap, gone)
    key = f"R01/A1/isis/{K('2014-06-10')}"
    assert then(lives, key, "2014-06-19") is None
    f = lives[key].at(None)
    assert f is not None
    assert f.detected_at == T("2014-06-20")
    assert (f.cleared_at, f.clear_reason) == (T("2014-09-01"), ClearReason.VOIDED_TRIGGER_RETRACTED)


def test_r01_late_authorisation_resolves_and_correction_of_captor_voids() -> None:
    cap = capture("A1", "pmf", at="2015-01-01", event_id="cap")
    late_grant = grant("AUTH-PMF", "pmf", valid_from="2014-01-01", reported="2015-06-01")
    lives = lives_of(register("A1"), cap, late_grant)
    f = lives[f"R01/A1/pmf/{K('2015-01-01')}"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED
    assert f.cleared_at == T("2015-06-01")

    fix = correct(cap, {"payload.captor_party": "isis"}, at="2015-02-01", reported="2015-02-01")
    lives = lives_of(register("A1"), cap, fix)
    old = lives[f"R01/A1/pmf/{K('2015-01-01')}"].at(None)
    new = lives[f"R01/A1/isis/{K('2015-01-01')}"].at(None)
    assert old is not None and old.clear_reason is ClearReason.VOIDED_TRIGGER_CORRECTED
    assert new is not None and new.detected_at == T("2015-02-01") and new.cleared_at is None


def test_r01_a_late_recovery_closes_the_interval_without_clearing_it() -> None:
    cap = capture("A1", "isis", at="2014-06-10")
    back = recover("A1", "army", at="2014-12-01", reported="2015-02-01")
    lives = lives_of(register("A1"), cap, back)
    key = f"R01/A1/isis/{K('2014-06-10')}"
    before, after = then(lives, key, "2015-01-31"), then(lives, key, "2015-02-01")
    assert before is not None and before.valid_to is None
    assert after is not None and after.valid_to == T("2014-12-01") and after.cleared_at is None


# -- R02 UNAUTHORISED_TRANSFER ------------------------------------------------------------


def test_r02_authorised_custodian_hands_over_to_an_unauthorised_party_without_consent() -> None:
    tr = transfer("A1", "9th-div", "pmf", at="2015-01-01", event_id="tr")
    f = found(register("A1"), tr, rule="R02")["R02/tr/A1"]
    assert (f.kind, f.severity, f.trigger_event_id) == (FindingKind.EVENT, Severity.HIGH, "tr")
    assert f.parties == ("9th-div", "pmf") and f.valid_from == T("2015-01-01")


def test_r02_near_misses_consent_authorised_receiver_or_unauthorised_giver() -> None:
    consented = transfer("A1", "9th-div", "pmf", consent="DSCA-7", at="2015-01-01")
    assert not found(register("A1"), consented, rule="R02")
    to_kurds = transfer("A1", "9th-div", "kurds", at="2015-01-01")
    kurds = grant("AUTH-KURDS", "kurds", valid_from="2014-01-01")
    assert not found(register("A1"), kurds, to_kurds, rule="R02")
    from_pmf = transfer("A1", "pmf", "kurds", at="2015-02-01")
    got = found(register("A1"), capture("A1", "pmf", at="2015-01-01"), from_pmf, rule="R02")
    assert not got


def test_r02_boundary_an_authorisation_starting_at_the_transfer_instant_counts() -> None:
    tr = transfer("A1", "9th-div", "pmf", at="2015-01-01", event_id="tr")
    at_instant = grant("AUTH-PMF", "pmf", valid_from="2015-01-01")
    assert not found(register("A1"), at_instant, tr, rule="R02")
    a_second_late = grant("AUTH-PMF", "pmf", valid_from="2015-01-01T00:00:01")
    assert "R02/tr/A1" in found(register("A1"), a_second_late, tr, rule="R02")


def test_r02_correction_adding_consent_voids_and_retraction_voids() -> None:
    tr = transfer("A1", "9th-div", "pmf", at="2015-01-01", event_id="tr")
    fix = correct(tr, {"payload.transfer_consent_ref": "DSCA-7"}, at="2015-03-01")
    f = lives_of(register("A1"), tr, fix)["R02/tr/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_CORRECTED
    gone = retract(tr, at="2015-03-01")
    f = lives_of(register("A1"), tr, gone)["R02/tr/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_RETRACTED
    assert f.cleared_at == T("2015-03-01")


# -- R03 UNACCOUNTED ----------------------------------------------------------------------


def test_r03_unaccounted_beyond_thirty_days_starts_at_the_threshold() -> None:
    lost = lose("A1", at="2014-06-10")
    f = found(register("A1"), lost, rule="R03")[f"R03/A1/{K('2014-06-10')}"]
    assert (f.kind, f.severity, f.valid_from, f.valid_to) == (
        FindingKind.STATE,
        Severity.HIGH,
        T("2014-07-10"),
        None,
    )
    assert f.parties == ("9th-div",) and f.evidence == (eid(lost),)


def test_r03_near_miss_recovered_within_the_allowance() -> None:
    got = found(
        register("A1"),
        lose("A1", at="2014-06-10"),
        recover("A1", "army", at="2014-07-09"),
        rule="R03",
    )
    assert not got


def test_r03_boundary_recovery_at_the_threshold_gives_nothing_a_second_later_does() -> None:
    base = (register("A1"), lose("A1", at="2014-06-10"))
    assert not found(*base, recover("A1", "army", at="2014-07-10"), rule="R03")
    got = found(*base, recover("A1", "army", at="2014-07-10T00:00:01"), rule="R03")
    f = got[f"R03/A1/{K('2014-06-10')}"]
    assert (f.valid_from, f.valid_to) == (T("2014-07-10"), T("2014-07-10T00:00:01"))
    assert f.active_at(T("2014-07-10"))


def test_r03_is_detected_when_the_threshold_is_reached_not_when_the_loss_is_known() -> None:
    lives = lives_of(register("A1"), lose("A1", at="2014-06-10"))
    key = f"R03/A1/{K('2014-06-10')}"
    assert lives[key].detected_at == T("2014-07-10")
    assert then(lives, key, "2014-07-09T23:59:59") is None
    late = lives_of(register("A1"), lose("A1", at="2014-06-10", reported="2014-08-01"))
    assert late[key].detected_at == T("2014-08-01")


def test_r03_a_late_recovery_resolves_it() -> None:
    back = recover("A1", "army", at="2014-06-20", reported="2014-08-01")
    lives = lives_of(register("A1"), lose("A1", at="2014-06-10"), back)
    f = lives[f"R03/A1/{K('2014-06-10')}"].at(None)
    assert f is not None
    assert (f.detected_at, f.cleared_at, f.clear_reason) == (
        T("2014-07-10"),
        T("2014-08-01"),
        ClearReason.RESOLVED,
    )


def test_r03_withdrawn_before_its_threshold_was_never_detected() -> None:
    back = recover("A1", "army", at="2014-06-20", reported="2014-06-25")
    lives = lives_of(register("A1"), lose("A1", at="2014-06-10"), back)
    assert f"R03/A1/{K('2014-06-10')}" not in lives


def test_r03_an_earlier_capture_reported_late_supersedes_the_interval() -> None:
    cap = capture("A1", "isis", at="2014-06-01", reported="2014-08-01")
    lives = lives_of(register("A1"), lose("A1", at="2014-06-10"), cap)
    old = lives[f"R03/A1/{K('2014-06-10')}"].at(None)
    new = lives[f"R03/A1/{K('2014-06-01')}"].at(None)
    assert old is not None and old.clear_reason is ClearReason.SUPERSEDED
    assert new is not None and new.detected_at == T("2014-08-01")


def test_r03_longer_allowance_moves_the_start_into_the_future_superseding_it() -> None:
    terms = correct("contract-reg", {"payload.terms.unaccounted_max_days": 90}, at="2014-08-01")
    lives = lives_of(
        contract("C2", event_id="contract-reg"),
        grant("AUTH-C2", "army", contract_id="C2"),
        register("A1", contract_id="C2"),
        lose("A1", at="2014-06-10"),
        terms,
    )
    life = lives[f"R03/A1/{K('2014-06-10')}"]
    assert [(c.at, c.reason) for c in life.changes] == [
        (T("2014-07-10"), None),
        (T("2014-08-01"), ClearReason.SUPERSEDED),
        (T("2014-09-08"), None),
    ]


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


# -- R09 UNAUTHORISED_REPAIR --------------------------------------------------------------


def test_r09_unauthorised_performer_or_facility_not_authorised_for_the_work() -> None:
    by_army = repair_start("A1", "WO-1", performer="army", at="2015-01-01", event_id="r1")
    wrong_work = repair_start(
        "A2", "WO-2", work_type="battle_damage_repair", at="2015-01-01", event_id="r2"
    )
    got = found(register("A1"), register("A2"), by_army, wrong_work, rule="R09")
    assert "performer army" in got["R09/r1/A1"].summary
    assert "facility depot" in got["R09/r2/A2"].summary
    assert got["R09/r1/A1"].severity is Severity.HIGH


def test_r09_near_miss_authorised_facility_and_maintainer() -> None:
    ok = repair_start("A1", "WO-1", at="2015-01-01")
    assert not found(register("A1"), ok, repair_complete("A1", at="2015-02-01"), rule="R09")


def test_r09_boundary_maintainer_authorisation_valid_from_and_valid_to() -> None:
    army = grant(
        "AUTH-ARMY-MNT",
        "army",
        kind="maintainer",
        valid_from="2015-01-01",
        valid_to="2016-01-01",
        includes_descendants=False,
    )

    def repair_at(at: str) -> dict[str, object]:
        return found(
            register("A1"),
            army,
            repair_start("A1", "WO-1", performer="army", at=at, event_id="r"),
            rule="R09",
        )

    assert repair_at("2014-12-31T23:59:59") and not repair_at("2015-01-01")
    assert not repair_at("2015-12-31T23:59:59") and repair_at("2016-01-01")


def test_r09_late_authorisation_resolves_corrected_performer_voids() -> None:
    rep = repair_start("A1", "WO-1", performer="army", at="2015-01-01", event_id="r")
    late = grant("AUTH-ARMY-MNT", "army", kind="maintainer", reported="2015-03-01")
    f = lives_of(register("A1"), rep, late)["R09/r/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED
    fix = correct(rep, {"payload.performed_by_party": "gd"}, at="2015-03-01")
    f = lives_of(register("A1"), rep, fix)["R09/r/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_CORRECTED


# -- R10 SUPPORT_TO_UNACCOUNTED_ASSET ---------------------------------------------------------


def test_r10_repair_of_a_captured_tank() -> None:
    rep = repair_start("A1", "WO-1", at="2015-01-01", event_id="r")
    f = found(register("A1"), capture("A1", "pmf", at="2014-06-10"), rep, rule="R10")["R10/r/A1"]
    assert "unauthorised_custodian" in f.summary and f.kind is FindingKind.EVENT


def test_r10_near_miss_repair_in_authorised_custody() -> None:
    rep = repair_start("A1", "WO-1", at="2015-01-01")
    assert not found(register("A1"), rep, rule="R10")


def test_r10_a_completion_is_judged_at_started_at_when_given() -> None:
    base = (
        register("A1"),
        capture("A1", "pmf", at="2014-06-10"),
        transfer("A1", "pmf", "army", at="2015-01-01"),
    )
    started_before = repair_complete("A1", at="2015-02-01", started_at="2014-12-01", event_id="c")
    assert "R10/c/A1" in found(*base, started_before, rule="R10")
    plain = repair_complete("A1", at="2015-02-01", event_id="c")
    assert not found(*base, plain, rule="R10")


def test_r10_boundary_recovery_at_the_repair_instant_counts_if_earlier_in_world() -> None:
    base = (register("A1"), capture("A1", "pmf", at="2014-06-10"))
    back = transfer("A1", "pmf", "army", at="2015-01-01", reported="2015-01-01")
    rep = repair_start("A1", at="2015-01-01", reported="2015-01-01T00:00:01", event_id="r")
    assert not found(*base, back, rep, rule="R10")
    first = repair_start("A1", at="2015-01-01", reported="2015-01-01", event_id="r")
    later = transfer("A1", "pmf", "army", at="2015-01-01", reported="2015-01-01T00:00:01")
    assert "R10/r/A1" in found(*base, first, later, rule="R10")


def test_r10_late_recovery_resolves_retraction_of_the_repair_voids() -> None:
    rep = repair_start("A1", at="2015-01-01", event_id="r")
    base = (register("A1"), capture("A1", "pmf", at="2014-06-10"), rep)
    back = transfer("A1", "pmf", "army", at="2014-12-01", reported="2015-03-01")
    f = lives_of(*base, back)["R10/r/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED
    f = lives_of(*base, retract(rep, at="2015-03-01"))["R10/r/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_RETRACTED


# -- R12 REPAIR_OPEN_TOO_LONG ------------------------------------------------------------------


def test_r12_an_overhaul_open_beyond_a_year() -> None:
    start = repair_start("A1", "WO-9", at="2015-01-01", event_id="r")
    f = found(register("A1"), start, rule="R12")["R12/A1/WO-9"]
    assert (f.valid_from, f.valid_to, f.kind) == (T("2016-01-01"), None, FindingKind.STATE)
    assert f.evidence == ("r",)


def test_r12_near_miss_completed_within_the_limit_and_limits_by_work_type() -> None:
    start = repair_start("A1", "WO-9", at="2015-01-01")
    done = repair_complete("A1", "WO-9", at="2015-12-31")
    assert not found(register("A1"), start, done, rule="R12")
    field = repair_start("A2", "WO-F", work_type="field_maintenance", at="2015-01-01")
    other = repair_start("A3", "WO-O", work_type="paint", at="2015-01-01")
    got = found(register("A2"), register("A3"), field, other, rule="R12")
    assert got["R12/A2/WO-F"].valid_from == T("2015-01-31")
    assert got["R12/A3/WO-O"].valid_from == T("2015-04-01")


def test_r12_boundary_completion_at_the_limit_gives_nothing() -> None:
    start = repair_start("A1", "WO-9", at="2015-01-01")
    assert not found(
        register("A1"), start, repair_complete("A1", "WO-9", at="2016-01-01"), rule="R12"
    )
    got = found(
        register("A1"), start, repair_complete("A1", "WO-9", at="2016-01-01T00:00:01"), rule="R12"
    )
    assert got["R12/A1/WO-9"].valid_to == T("2016-01-01T00:00:01")


def test_r12_a_destroyed_asset_ends_the_work_order_interval() -> None:
    start = repair_start("A1", "WO-9", at="2015-01-01")
    got = found(register("A1"), start, destroy("A1", at="2016-06-01"), rule="R12")
    assert got["R12/A1/WO-9"].valid_to == T("2016-06-01")


def test_r12_late_completion_resolves_retracted_start_voids() -> None:
    start = repair_start("A1", "WO-9", at="2015-01-01", event_id="r")
    done = repair_complete("A1", "WO-9", at="2015-06-01", reported="2016-03-01")
    f = lives_of(register("A1"), start, done)["R12/A1/WO-9"].at(None)
    assert f is not None and (f.cleared_at, f.clear_reason) == (
        T("2016-03-01"),
        ClearReason.RESOLVED,
    )
    f = lives_of(register("A1"), start, retract(start, at="2016-03-01"))["R12/A1/WO-9"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_RETRACTED


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


def test_registration_not_yet_known_means_no_findings() -> None:
    late_reg = register("A1", at="2011-01-01", reported="2014-07-01")
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-06-10")
    assert not found(late_reg, cap, k="2014-06-30")
    assert found(late_reg, cap, k="2014-07-01", rule="R01")
