"""The maintenance rules R09–R12 (DOMAIN.md §5, :mod:`domain.rules.maintenance`): for
each, a case that fires, a near miss, the exact boundary, and late knowledge that
changes the verdict — with the clearing reason (``resolved`` versus ``voided_*``) it
gets."""

from __future__ import annotations

from domain.rules.findings import ClearReason, FindingKind, Severity
from tests.unit.builders import (
    T,
    capture,
    correct,
    destroy,
    grant,
    register,
    repair_complete,
    repair_start,
    retract,
    transfer,
)
from tests.unit.rule_builders import found, lives_of

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
