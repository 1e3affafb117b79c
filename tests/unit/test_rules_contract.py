"""The contract rules C01–C05 (DOMAIN.md §5): each fires, misses, meets its exact
boundary, and changes with late knowledge; and one contract's story from suspension
required to a suspension that outlives its cause."""

from __future__ import annotations

from domain.instants import to_key
from domain.rules.evaluation import contract_findings
from domain.rules.findings import ClearReason, FindingKind, Severity
from tests.unit.builders import (
    T,
    capture,
    lose,
    recover,
    register,
    repair_start,
    retract,
    support,
)
from tests.unit.rule_builders import (
    eid,
    found,
    history,
    hold,
    lift,
    lives_of,
    resume,
    suspend,
    then,
)


def K(t: str) -> str:
    return to_key(T(t))


TWO = (register("A1"), register("A2"))


# -- C01 SUSPENSION_REQUIRED ------------------------------------------------------------------


def test_c01_is_the_union_of_the_assets_unaccounted_intervals() -> None:
    lost = lose("A1", at="2014-06-10")
    cap = capture("A2", "isis", at="2014-06-20")
    back = recover(["A1", "A2"], "army", at="2015-01-01")
    got = found(*TWO, lost, cap, back, rule="C01")
    f = got[f"C01/C1/{K('2014-07-10')}"]
    assert (f.kind, f.severity, f.asset_id, f.contract_id) == (
        FindingKind.STATE,
        Severity.HIGH,
        None,
        "C1",
    )
    assert (f.valid_from, f.valid_to) == (T("2014-07-10"), T("2015-01-01"))
    assert {eid(lost), eid(cap)} <= set(f.evidence)
    assert "A1, A2" in f.summary


def test_c01_near_miss_within_the_allowance() -> None:
    got = found(*TWO, lose("A1", at="2014-06-10"), recover("A1", "army", at="2014-07-01"))
    assert not [k for k in got if k.startswith("C0")]


def test_c01_boundary_touching_intervals_make_one_piece() -> None:
    # A1's R03 ends at its recovery, the very instant A2's R03 begins.
    a1 = (lose("A1", at="2014-01-01"), recover("A1", "army", at="2014-03-01"))
    a2 = lose("A2", at="2014-01-30")  # its allowance runs out on 1 March
    got = found(*TWO, *a1, a2, rule="C01")
    assert list(got) == [f"C01/C1/{K('2014-01-31')}"]
    assert got[f"C01/C1/{K('2014-01-31')}"].valid_to is None


def test_c01_late_recovery_resolves_retracted_loss_voids() -> None:
    lost = lose("A1", at="2014-06-10")
    key = f"C01/C1/{K('2014-07-10')}"
    late = recover("A1", "army", at="2014-06-20", reported="2014-08-01")
    f = lives_of(*TWO, lost, late)[key].at(None)
    assert f is not None and (f.cleared_at, f.clear_reason) == (
        T("2014-08-01"),
        ClearReason.RESOLVED,
    )
    f = lives_of(*TWO, lost, retract(lost, at="2014-08-01"))[key].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_RETRACTED


# -- C02 ENFORCEMENT_GAP -------------------------------------------------------------------


def test_c02_boundary_suspension_exactly_at_the_end_of_grace() -> None:
    base = (*TWO, lose("A1", at="2014-06-10"))
    assert not found(*base, suspend(["A1"], at="2014-08-09"), rule="C02")
    got = found(*base, suspend(["A1"], at="2014-08-09T00:00:01"), rule="C02")
    f = got[f"C02/C1/{K('2014-07-10')}"]
    assert (f.valid_from, f.valid_to, f.severity) == (
        T("2014-08-09"),
        T("2014-08-09T00:00:01"),
        Severity.CRITICAL,
    )


def test_c02_near_miss_suspended_within_grace() -> None:
    got = found(*TWO, lose("A1", at="2014-06-10"), suspend(at="2014-07-20"), rule="C02")
    assert not got


def test_c02_a_resumption_while_still_required_opens_a_new_gap() -> None:
    base = (*TWO, lose("A1", at="2014-06-10"), suspend(at="2014-07-20"))
    got = found(*base, resume(at="2014-10-01"), rule="C02")
    f = got[f"C02/C1/{K('2014-10-01')}"]
    assert (f.valid_from, f.valid_to) == (T("2014-10-31"), None)


def test_c02_a_late_reported_suspension_resolves_it() -> None:
    late = suspend(at="2014-07-20", reported="2014-09-01")
    f = lives_of(*TWO, lose("A1", at="2014-06-10"), late)[f"C02/C1/{K('2014-07-10')}"].at(None)
    assert f is not None
    assert (f.detected_at, f.cleared_at, f.clear_reason) == (
        T("2014-08-09"),
        T("2014-09-01"),
        ClearReason.RESOLVED,
    )


# -- C03 SUSPENSION_WITHOUT_CAUSE ----------------------------------------------------------


def test_c03_suspension_without_any_unaccounted_asset() -> None:
    got = found(*TWO, suspend(at="2014-01-01"), resume(at="2014-06-01"), rule="C03")
    f = got[f"C03/C1/{K('2014-01-01')}"]
    assert (f.valid_from, f.valid_to, f.severity) == (
        T("2014-01-31"),
        T("2014-06-01"),
        Severity.MEDIUM,
    )


def test_c03_near_miss_and_boundary_resumed_at_the_end_of_grace() -> None:
    assert not found(*TWO, suspend(at="2014-01-01"), resume(at="2014-01-20"), rule="C03")
    assert not found(*TWO, suspend(at="2014-01-01"), resume(at="2014-01-31"), rule="C03")
    got = found(*TWO, suspend(at="2014-01-01"), resume(at="2014-01-31T00:00:01"), rule="C03")
    assert got[f"C03/C1/{K('2014-01-01')}"].valid_to == T("2014-01-31T00:00:01")


def test_c03_a_late_loss_report_gives_the_suspension_its_cause() -> None:
    late = lose("A1", at="2013-11-01", reported="2014-03-01")
    lives = lives_of(*TWO, suspend(at="2014-01-01"), late)
    f = lives[f"C03/C1/{K('2014-01-01')}"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED


# -- C04 SUPPORT_DURING_SUSPENSION ---------------------------------------------------------


def test_c04_seller_side_support_or_repair_while_suspended() -> None:
    aid = support("A1", "gd", at="2014-03-01", event_id="aid")
    fix = repair_start("A2", performer="gd", at="2014-03-02", event_id="fix")
    stop = suspend(at="2014-01-01")
    got = found(*TWO, stop, aid, fix, rule="C04")
    assert set(got) == {"C04/aid/A1", "C04/fix/A2"}
    f = got["C04/aid/A1"]
    assert (f.kind, f.trigger_event_id, f.asset_id, f.contract_id) == (
        FindingKind.EVENT,
        "aid",
        "A1",
        "C1",
    )
    assert eid(stop) in f.evidence


def test_c04_near_miss_support_by_the_partner_or_after_resumption() -> None:
    got = found(
        *TWO,
        suspend(at="2014-01-01"),
        support("A1", "army", at="2014-03-01"),
        resume(at="2014-04-01"),
        support("A1", "gd", at="2014-05-01"),
        rule="C04",
    )
    assert not got


def test_c04_boundary_in_effect_from_the_suspension_instant_to_before_resumption() -> None:
    stop, go = suspend(at="2014-01-01"), resume(at="2014-04-01")
    at_stop = support("A1", "gd", at="2014-01-01", event_id="s1")
    at_go = support("A1", "gd", at="2014-04-01", event_id="s2")
    assert set(found(*TWO, stop, go, at_stop, at_go, rule="C04")) == {"C04/s1/A1"}


def test_c04_retracted_suspension_resolves_retracted_support_voids() -> None:
    stop = suspend(at="2014-01-01")
    aid = support("A1", "gd", at="2014-03-01", event_id="aid")
    f = lives_of(*TWO, stop, aid, retract(stop, at="2014-05-01"))["C04/aid/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED
    f = lives_of(*TWO, stop, aid, retract(aid, at="2014-05-01"))["C04/aid/A1"].at(None)
    assert f is not None and f.clear_reason is ClearReason.VOIDED_TRIGGER_RETRACTED


# -- C05 DELIVERY_DURING_HOLD --------------------------------------------------------------


def test_c05_delivery_during_a_hold() -> None:
    reg = register("A9", at="2015-02-01", delivered="2015-01-15", event_id="reg9")
    got = found(hold(at="2015-01-01"), reg, rule="C05")
    f = got["C05/reg9/A9"]
    assert (f.kind, f.severity, f.trigger_event_id) == (FindingKind.EVENT, Severity.HIGH, "reg9")


def test_c05_near_miss_and_boundary_delivery_instants() -> None:
    held = (hold(at="2015-01-01"), lift(at="2015-03-01"))
    before = register("A7", at="2015-01-02", delivered="2014-12-31T23:59:59", event_id="r7")
    at_hold = register("A8", at="2015-01-02", delivered="2015-01-01", event_id="r8")
    at_lift = register("A9", at="2015-03-01", delivered="2015-03-01", event_id="r9")
    assert set(found(*held, before, at_hold, at_lift, rule="C05")) == {"C05/r8/A8"}


def test_c05_a_late_reported_lift_resolves_it() -> None:
    reg = register("A9", at="2015-02-01", event_id="reg9")
    late = lift(at="2015-01-15", reported="2015-03-01")
    f = lives_of(hold(at="2015-01-01"), reg, late)["C05/reg9/A9"].at(None)
    assert f is not None and f.clear_reason is ClearReason.RESOLVED


# -- one contract's story --------------------------------------------------------------


def test_contract_story_from_required_suspension_to_a_suspension_without_cause() -> None:
    stop = suspend(["A1", "A2"], at="2014-10-01", event_id="stop")
    story = (
        *TWO,
        lose("A1", at="2014-06-10"),
        capture("A2", "isis", at="2014-08-01"),
        stop,
        support("A1", "gd", at="2014-11-01", event_id="aid"),
        hold(at="2014-12-01"),
        register("A3", at="2015-01-20", delivered="2015-01-15", event_id="reg3"),
        recover("A1", "army", at="2015-03-01"),
        recover("A2", "army", at="2015-04-01"),
        resume(at="2015-08-01"),
    )
    lives = lives_of(*story)
    c01, c02 = f"C01/C1/{K('2014-07-10')}", f"C02/C1/{K('2014-07-10')}"

    # C01 opens when A1 has been unaccounted for 30 days; A2 joins it later.
    opened = then(lives, c01, "2014-07-10")
    assert opened is not None and opened.valid_to is None and "A2" not in opened.summary
    grown = then(lives, c01, "2014-09-01")
    assert grown is not None and "A1, A2" in grown.summary

    # C02 after the 30 days' grace, open until the suspension closes it.
    assert then(lives, c02, "2014-08-08") is None
    gap = then(lives, c02, "2014-09-30")
    assert gap is not None and (gap.valid_from, gap.valid_to) == (T("2014-08-09"), None)
    closed = then(lives, c02, "2014-10-01")
    assert closed is not None and closed.valid_to == T("2014-10-01") and closed.cleared_at is None

    everything = {f.finding_key: f for f in lives.hindsight()}
    assert "C04/aid/A1" in everything and "C05/reg3/A3" in everything
    assert everything[c01].valid_to == T("2015-04-01")

    # The suspension outlives its cause: 30 days after A2's recovery, C03 until resumed.
    c03 = everything[f"C03/C1/{K('2015-04-01')}"]
    assert (c03.valid_from, c03.valid_to) == (T("2015-05-01"), T("2015-08-01"))
    assert {f.rule for f in everything.values() if f.rule.startswith("C")} == {
        "C01",
        "C02",
        "C03",
        "C04",
        "C05",
    }

    # The contract's findings alone, as a projection of one contract would ask.
    alone = {f.finding_key for f in contract_findings(history(*story), "C1", None)}
    assert alone == {k for k in everything if k.startswith("C")}
