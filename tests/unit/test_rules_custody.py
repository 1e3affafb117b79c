"""The custody rules R01–R03 (DOMAIN.md §5, :mod:`domain.rules.custody`): for each, a
case that fires, a near miss, the exact boundary, and late knowledge that changes the
verdict — with the clearing reason (``resolved`` versus ``voided_*``) it gets."""

from __future__ import annotations

from domain.rules.findings import ClearReason, FindingKind, Severity
from tests.unit.builders import (
    T,
    capture,
    contract,
    correct,
    grant,
    lose,
    party,
    recover,
    register,
    retract,
    revoke,
    transfer,
)
from tests.unit.rule_builders import K, eid, found, lives_of, then

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


# -- every asset rule: nothing before the registration is known -------------------------


def test_registration_not_yet_known_means_no_findings() -> None:
    late_reg = register("A1", at="2011-01-01", reported="2014-07-01")
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-06-10")
    assert not found(late_reg, cap, k="2014-06-30")
    assert found(late_reg, cap, k="2014-07-01", rule="R01")
