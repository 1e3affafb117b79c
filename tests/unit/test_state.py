"""The asset state fold (DOMAIN.md §3 effect table, §4): state, prior, accounted."""

from __future__ import annotations

from typing import Any

from domain.fold import AssetState, Unaccounted, apply, fold
from domain.history import Event
from domain.reference import Reference
from domain.state import History
from domain.vocabulary import Confidence, Operational, Status
from tests.unit.builders import (
    CONTRACT,
    T,
    capture,
    contract,
    contract_action,
    correct,
    decommission,
    destroy,
    disable,
    grant,
    inventory,
    lose,
    observe,
    reclassify,
    recover,
    register,
    repair_complete,
    repair_start,
    retract,
    revoke,
    support,
    transfer,
    world,
)

Logged = tuple[int, dict[str, Any]]
NOW = T("2030-01-01")


def history(*logged: Logged) -> History:
    return History([*world(), *logged])


def now(h: History, asset_id: str = "A1") -> AssetState:
    s = h.state(asset_id, NOW, None)
    assert s is not None
    return s


def eid(logged: Logged) -> str:
    return str(logged[1]["event_id"])


# -- registration --------------------------------------------------------------------


def test_registration_puts_the_asset_in_custody_of_its_initial_custodian() -> None:
    reg = register("A1", "9th-div", at="2011-01-05", delivered="2011-01-01", serial="SN-42")
    s = now(history(reg))
    assert (s.asset_id, s.serial, s.model, s.contract_id) == ("A1", "SN-42", "M1A1", CONTRACT)
    assert s.status is Status.IN_CUSTODY
    assert s.custodian == "9th-div"
    assert s.last_custodian is None
    assert s.since == T("2011-01-01")
    assert s.operational is Operational.OPERATIONAL
    assert s.partner_entry_at == T("2011-01-01")
    assert s.last_verified_at is None
    assert not s.missing_at_inventory
    assert s.open_work_order is None and s.terminal_confidence is None
    assert s.last_event_id == eid(reg)


def test_an_asset_has_no_state_before_its_registration() -> None:
    h = history(register("A1", at="2011-01-01"))
    assert h.state("A1", T("2010-12-31"), None) is None
    assert h.state("A2", NOW, None) is None


def test_events_dated_before_registration_change_nothing() -> None:
    h = history(register("A1", at="2011-01-01"), capture("A1", "isis", at="2010-06-01"))
    s = now(h)
    assert s.custodian == "9th-div"
    assert h.state("A1", T("2010-07-01"), None) is None


def test_a_second_registration_of_the_same_asset_is_ignored() -> None:
    first = register("A1", "9th-div", at="2011-01-01")
    h = history(first, register("A1", "pmf", at="2012-01-01"))
    assert now(h).custodian == "9th-div"
    assert now(h).last_event_id == eid(first)


def test_delivery_to_a_non_partner_sets_no_partner_entry() -> None:
    assert now(history(register("A1", "pmf"))).partner_entry_at is None


# -- custody changes -----------------------------------------------------------------


def test_transfer_moves_custody_and_remembers_the_previous_custodian() -> None:
    tr = transfer("A1", "9th-div", "army", at="2013-01-01")
    s = now(history(register("A1"), tr))
    assert (s.custodian, s.last_custodian, s.since) == ("army", "9th-div", T("2013-01-01"))
    assert s.last_event_id == eid(tr)


def test_capture_by_armed_group_moves_custody_to_captor() -> None:
    s = now(history(register("A1"), capture("A1", "isis", at="2014-06-10")))
    assert s.status is Status.IN_CUSTODY
    assert (s.custodian, s.last_custodian, s.since) == ("isis", "9th-div", T("2014-06-10"))


def test_one_capture_of_three_tanks_moves_each_of_them() -> None:
    cap = capture(["A1", "A2", "A3"], "isis", at="2014-06-10")
    h = history(register("A1"), register("A2"), register("A3", "army"), cap)
    for asset, before in (("A1", "9th-div"), ("A2", "9th-div"), ("A3", "army")):
        s = now(h, asset)
        assert (s.custodian, s.last_custodian, s.last_event_id) == ("isis", before, eid(cap))


def test_recovery_moves_custody_to_the_recovering_party() -> None:
    h = history(
        register("A1"),
        capture("A1", "isis", at="2014-06-10"),
        recover("A1", "pmf", at="2015-03-01"),
    )
    s = now(h)
    assert (s.custodian, s.last_custodian, s.since) == ("pmf", "isis", T("2015-03-01"))


def test_loss_leaves_no_custodian_and_remembers_who_lost_it() -> None:
    where = {"name": "Mosul", "country": "IQ"}
    h = history(register("A1"), lose("A1", at="2014-06-10", last_known_location=where))
    s = now(h)
    assert (s.status, s.custodian, s.last_custodian) == (Status.LOST, None, "9th-div")
    assert s.since == T("2014-06-10")
    assert s.location is not None and s.location.name == "Mosul"


def test_recovery_after_loss_keeps_the_last_real_custodian() -> None:
    h = history(register("A1"), lose("A1", at="2014-06-10"), recover("A1", "pmf", at="2015-01-01"))
    assert now(h).last_custodian == "9th-div"


def test_a_repeated_report_of_the_same_custody_keeps_since() -> None:
    h = history(
        register("A1"),
        capture("A1", "isis", at="2014-06-10"),
        capture("A1", "isis", at="2014-06-12"),
    )
    s = now(h)
    assert (s.since, s.last_custodian) == (T("2014-06-10"), "9th-div")


def test_disablement_changes_condition_not_custody() -> None:
    dis = disable("A1", at="2014-06-10")
    s = now(history(register("A1"), dis))
    assert s.operational is Operational.DISABLED
    assert (s.status, s.custodian, s.since) == (Status.IN_CUSTODY, "9th-div", T("2011-01-01"))
    assert s.last_event_id == eid(dis)


def test_destruction_ends_custody_with_the_reports_confidence() -> None:
    s = now(history(register("A1"), destroy("A1", at="2014-06-10", confidence="probable")))
    assert (s.status, s.custodian, s.last_custodian) == (Status.DESTROYED, None, "9th-div")
    assert s.operational is Operational.DESTROYED
    assert s.terminal_confidence is Confidence.PROBABLE
    assert s.since == T("2014-06-10")


def test_a_second_destruction_report_raises_confidence_and_keeps_since() -> None:
    h = history(
        register("A1"),
        destroy("A1", at="2014-06-10", confidence="probable"),
        destroy("A1", at="2014-06-20", confidence="confirmed"),
        destroy("A1", at="2014-06-30", confidence="doubtful"),
    )
    s = now(h)
    assert (s.since, s.terminal_confidence) == (T("2014-06-10"), Confidence.CONFIRMED)


def test_decommission_is_a_confirmed_terminal_state() -> None:
    s = now(history(register("A1"), decommission("A1", at="2020-01-01", confidence="possible")))
    assert (s.status, s.custodian) == (Status.DECOMMISSIONED, None)
    assert s.terminal_confidence is Confidence.CONFIRMED
    assert s.operational is Operational.OPERATIONAL


def test_a_transfer_of_a_wreck_moves_its_custodian_but_leaves_it_destroyed() -> None:
    """DOMAIN.md §5 "Readings": the custodian and ``since`` change, the status does not."""
    wreck = transfer("A1", "9th-div", "army", at="2014-07-01", location={"name": "scrapyard"})
    s = now(history(register("A1"), destroy("A1", at="2014-06-10"), wreck))
    assert (s.status, s.custodian, s.since) == (Status.DESTROYED, "army", T("2014-07-01"))
    assert s.terminal_confidence is Confidence.CONFIRMED
    assert s.operational is Operational.DESTROYED
    assert s.location is not None and s.location.name == "scrapyard"
    assert s.last_event_id == eid(wreck)


def test_a_second_transfer_of_a_wreck_keeps_it_terminal_and_names_the_giver_last() -> None:
    first = transfer("A1", "9th-div", "army", at="2014-07-01")
    second = transfer("A1", "army", "scrap-co", at="2014-08-01")
    s = now(history(register("A1"), decommission("A1", at="2014-06-10"), first, second))
    assert (s.status, s.custodian, s.last_custodian) == (
        Status.DECOMMISSIONED,
        "scrap-co",
        "army",
    )
    assert s.since == T("2014-08-01")


def test_a_disablement_of_a_terminal_asset_changes_nothing() -> None:
    h = history(
        register("A1"),
        decommission("A1", at="2014-06-10"),
        disable("A1", "isil", at="2014-07-01"),
    )
    before = h.state("A1", T("2014-06-30"), None)
    assert now(h) is before


def test_a_recovery_of_a_destroyed_asset_moves_the_wreck_but_it_stays_terminal() -> None:
    """DOMAIN.md §5 "Readings": a terminal asset stays terminal; R08 flags the report."""
    h = history(
        register("A1"),
        destroy("A1", at="2014-06-10", confidence="probable"),
        recover("A1", "pmf", at="2015-01-01"),
    )
    s = now(h)
    assert (s.status, s.custodian, s.terminal_confidence) == (
        Status.DESTROYED,
        "pmf",
        Confidence.PROBABLE,
    )
    assert s.since == T("2015-01-01")
    assert s.operational is Operational.DESTROYED


def test_a_loss_of_a_held_wreck_drops_its_holder() -> None:
    h = history(
        register("A1"),
        decommission("A1", at="2014-06-10"),
        transfer("A1", "9th-div", "army", at="2014-07-01"),
        lose("A1", at="2014-08-01"),
    )
    s = now(h)
    assert (s.status, s.custodian, s.last_custodian) == (Status.DECOMMISSIONED, None, "army")


def test_a_capture_by_the_holder_in_place_changes_nothing() -> None:
    h = history(
        register("A1"),
        capture("A1", "isis", at="2014-06-10"),
        capture("A1", "isis", at="2014-06-12"),
    )
    s = now(h)
    assert s.since == T("2014-06-10")
    assert s.last_event_id == h.state("A1", T("2014-06-11"), None).last_event_id  # type: ignore[union-attr]


def test_disabling_a_wreck_leaves_it_destroyed() -> None:
    h = history(register("A1"), destroy("A1", at="2014-06-10"), disable("A1", at="2014-06-11"))
    assert now(h).operational is Operational.DESTROYED


def test_repairs_open_and_close_the_work_order() -> None:
    start = repair_start("A1", "WO-7", at="2016-01-01")
    done = repair_complete("A1", "WO-7", at="2016-03-01")
    h = history(register("A1"), disable("A1", at="2015-12-01"), start, done)
    during = h.state("A1", T("2016-02-01"), None)
    assert during is not None
    assert (during.operational, during.open_work_order) == (Operational.UNDER_REPAIR, "WO-7")
    s = now(h)
    assert (s.operational, s.open_work_order, s.last_event_id) == (
        Operational.OPERATIONAL,
        None,
        eid(done),
    )


def test_a_completion_without_a_start_makes_the_asset_operational() -> None:
    h = history(
        register("A1"),
        disable("A1", at="2015-12-01"),
        repair_complete("A1", "WO-9", at="2016-01-01"),
    )
    assert now(h).operational is Operational.OPERATIONAL


def test_completing_another_work_order_leaves_the_open_one_open() -> None:
    h = history(
        register("A1"),
        repair_start("A1", "WO-1", at="2016-01-01"),
        repair_complete("A1", "WO-2", at="2016-02-01"),
    )
    s = now(h)
    assert (s.operational, s.open_work_order) == (Operational.UNDER_REPAIR, "WO-1")


def test_observation_support_and_contract_action_change_nothing() -> None:
    reg = register("A1")
    before = now(history(reg))
    after = now(
        history(
            reg,
            observe("A1", "pmf", at="2014-01-01", location={"name": "Baiji"}),
            support("A1", at="2014-02-01"),
            contract_action("SUPPORT_SUSPENDED", ["A1"], at="2014-03-01"),
        )
    )
    assert after == before


def test_an_applied_event_with_a_location_moves_the_asset() -> None:
    h = history(register("A1"), disable("A1", at="2014-06-10", location={"name": "Ramadi"}))
    loc = now(h).location
    assert loc is not None and loc.name == "Ramadi"


# -- partner_entry_at ------------------------------------------------------------------


def test_partner_entry_is_set_on_reentry_from_a_captor() -> None:
    h = history(
        register("A1", delivered="2011-01-01"),
        capture("A1", "pmf", at="2015-01-01"),
        recover("A1", "army", at="2017-10-16"),
    )
    assert now(h).partner_entry_at == T("2017-10-16")
    mid = h.state("A1", T("2016-01-01"), None)
    assert mid is not None and mid.partner_entry_at == T("2011-01-01")


def test_partner_entry_is_not_moved_by_a_partner_to_partner_transfer() -> None:
    h = history(register("A1", delivered="2011-01-01"), transfer("A1", "9th-div", "army"))
    assert now(h).partner_entry_at == T("2011-01-01")


def test_partner_entry_is_set_on_recovery_after_loss() -> None:
    h = history(register("A1"), lose("A1", at="2014-06-10"), recover("A1", "army", at="2015-01-01"))
    assert now(h).partner_entry_at == T("2015-01-01")


# -- inventory -----------------------------------------------------------------------


def test_inventory_present_verifies_the_asset_and_clears_missing() -> None:
    h = history(
        register("A1"),
        inventory({"A1": "absent"}, at="2013-01-01"),
        inventory({"A1": "present"}, at="2013-02-01"),
    )
    s = now(h)
    assert (s.last_verified_at, s.missing_at_inventory) == (T("2013-02-01"), False)


def test_inventory_absent_while_custodian_descends_from_scope_marks_missing() -> None:
    inv = inventory({"A1": "absent"}, scope="iraq", at="2013-01-01")
    s = now(history(register("A1", "9th-div"), inv))
    assert s.missing_at_inventory
    assert s.last_event_id == eid(inv)


def test_inventory_absent_outside_the_custodians_scope_changes_nothing() -> None:
    s = now(history(register("A1", "9th-div"), inventory({"A1": "absent"}, scope="kurds")))
    assert not s.missing_at_inventory


def test_inventory_absent_of_a_lost_asset_changes_nothing() -> None:
    h = history(register("A1"), lose("A1", at="2012-01-01"), inventory({"A1": "absent"}))
    assert not now(h).missing_at_inventory


def test_a_custody_change_clears_missing_at_inventory() -> None:
    h = history(
        register("A1"),
        inventory({"A1": "absent"}, at="2013-01-01"),
        transfer("A1", "9th-div", "army", at="2013-02-01"),
    )
    assert not now(h).missing_at_inventory


# -- knowledge: late reports, retractions, corrections -------------------------------


def test_a_late_report_rewrites_the_past() -> None:
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-09-01")
    h = history(register("A1"), cap)
    t = T("2014-07-01")
    before, after = h.state("A1", t, T("2014-08-31")), h.state("A1", t, T("2014-09-01"))
    assert before is not None and before.custodian == "9th-div"
    assert after is not None and after.custodian == "isis"


def test_a_retracted_capture_stops_counting_once_the_retraction_is_known() -> None:
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-06-10")
    h = history(register("A1"), cap, retract(cap, at="2014-07-01", reported="2014-07-01"))
    s1 = h.state("A1", NOW, T("2014-06-30"))
    s2 = h.state("A1", NOW, T("2014-07-01"))
    assert s1 is not None and s1.custodian == "isis"
    assert s2 is not None and s2.custodian == "9th-div"


def test_a_retracted_correction_restores_the_original_effect() -> None:
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-06-10")
    fix = correct(cap, {"payload.captor_party": "pmf"}, reported="2014-07-01")
    h = history(register("A1"), cap, fix, retract(fix, reported="2014-08-01"))
    assert [
        s.custodian if (s := h.state("A1", NOW, T(k))) else None
        for k in ("2014-06-30", "2014-07-01", "2014-08-01")
    ] == ["isis", "pmf", "isis"]


def test_correcting_occurred_at_moves_the_event_in_world_order() -> None:
    tr = transfer("A1", "9th-div", "army", at="2014-06-01", reported="2014-06-01")
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-06-10")
    fix = correct(tr, {"occurred_at": "2014-06-20T00:00:00Z"}, reported="2014-07-01")
    h = history(register("A1"), tr, cap, fix)
    assert now(h).custodian == "army"
    old = h.state("A1", NOW, T("2014-06-30"))
    assert old is not None and old.custodian == "isis"
    mid = h.state("A1", T("2014-06-15"), None)
    assert mid is not None and mid.custodian == "isis"


def test_correction_of_from_party_changes_the_effective_event_not_the_custody() -> None:
    tr = transfer("A1", "pmf", "army", at="2014-06-01", reported="2014-06-01")
    fix = correct(tr, {"payload.from_party": "9th-div"}, reported="2014-07-01")
    h = history(register("A1"), tr, fix)
    effective = h.known(None).by_id[eid(tr)]
    prior = h.prior("A1", effective, None)
    assert effective.text("from_party") == "9th-div"
    assert prior is not None and prior.custodian == effective.text("from_party")
    assert now(h).custodian == "army"


# -- prior -----------------------------------------------------------------------------


def test_prior_is_the_state_just_before_the_event_without_it() -> None:
    reg = register("A1")
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-06-10")
    # Same instant, reported later: after the capture in world order.
    rec = recover("A1", "army", at="2014-06-10", reported="2014-06-11")
    h = history(reg, cap, rec)
    p_cap = h.prior("A1", eid(cap), None)
    p_rec = h.prior("A1", eid(rec), None)
    assert p_cap is not None and p_cap.custodian == "9th-div"
    assert p_rec is not None and p_rec.custodian == "isis"
    assert h.prior("A1", eid(reg), None) is None


def test_prior_of_a_retracted_event_is_the_state_at_its_place() -> None:
    cap = capture("A1", "isis", at="2014-06-10")
    h = history(register("A1"), cap, retract(cap, reported="2014-06-11"))
    p = h.prior("A1", eid(cap), None)
    assert p is not None and p.custodian == "9th-div"


# -- accounted for -------------------------------------------------------------------


def test_authorised_custody_is_accounted_for() -> None:
    h = history(register("A1"))
    assert h.accounted("A1", T("2012-01-01"), None)


def test_custody_of_an_unauthorised_party_is_not_accounted_for() -> None:
    h = history(register("A1"), capture("A1", "isis", at="2014-06-10"))
    t = T("2014-06-10")
    assert not h.accounted("A1", t, None)
    assert h.unaccounted_reason("A1", t, None) is Unaccounted.UNAUTHORISED_CUSTODIAN


def test_an_asset_missing_at_inventory_is_not_accounted_for() -> None:
    h = history(register("A1"), inventory({"A1": "absent"}, at="2013-01-01"))
    assert h.unaccounted_reason("A1", NOW, None) is Unaccounted.MISSING_AT_INVENTORY


def test_a_lost_asset_is_not_accounted_for() -> None:
    h = history(register("A1"), lose("A1", at="2014-06-10"))
    assert h.unaccounted_reason("A1", NOW, None) is Unaccounted.LOST


def test_a_confirmed_destruction_is_accounted_for() -> None:
    assert history(register("A1"), destroy("A1")).accounted("A1", NOW, None)


def test_a_destruction_below_terminal_min_confidence_is_not_accounted_for() -> None:
    h = history(register("A1"), destroy("A1", confidence="probable"))
    assert h.unaccounted_reason("A1", NOW, None) is Unaccounted.TERMINAL_CONFIDENCE_TOO_LOW


def test_terminal_min_confidence_comes_from_the_contract_terms() -> None:
    lenient = contract("C2", terms={"terminal_min_confidence": "probable"})
    h = history(lenient, register("A1", contract_id="C2"), destroy("A1", confidence="probable"))
    assert h.accounted("A1", NOW, None)
    h2 = history(lenient, register("A1", contract_id="C2"), destroy("A1", confidence="possible"))
    assert not h2.accounted("A1", NOW, None)


def test_a_decommissioned_asset_is_accounted_for() -> None:
    assert history(register("A1"), decommission("A1")).accounted("A1", NOW, None)


def test_an_asset_not_yet_registered_is_not_accounted_for() -> None:
    h = history(register("A1", at="2011-01-01"))
    assert h.unaccounted_reason("A1", T("2010-01-01"), None) is Unaccounted.NOT_REGISTERED


def test_revocation_makes_custody_unaccounted_from_its_effective_instant() -> None:
    h = history(register("A1"), revoke("AUTH-ARMY", "2014-06-10"))
    assert h.accounted("A1", T("2014-06-09"), None)
    assert not h.accounted("A1", T("2014-06-10"), None)


def test_reclassifying_the_custodian_does_not_change_accounted() -> None:
    h = history(register("A1"), reclassify("9th-div", "paramilitary", at="2014-01-01"))
    assert h.accounted("A1", T("2015-01-01"), None)


# -- the incremental fold --------------------------------------------------------------


def test_applying_events_one_by_one_in_world_order_gives_the_history_state() -> None:
    events = [
        register("A1"),
        capture(["A1", "A2"], "isis", at="2014-06-10"),
        observe("A1", "isis", at="2014-07-01"),
        recover("A1", "pmf", at="2015-01-01"),
        repair_start("A1", at="2016-01-01"),
        inventory({"A1": "absent"}, scope="pmf", at="2016-02-01"),
    ]
    h = history(*events)
    ref: Reference = h.reference(None)
    state: AssetState | None = None
    for pos, record in events:
        state = apply(state, Event.parse(pos, record), ref, "A1")
    assert state == now(h)
    assert fold([Event.parse(p, r) for p, r in reversed(events)], ref, "A1") == now(h)


def test_apply_returns_the_same_state_for_an_event_of_another_asset() -> None:
    h = history(register("A1"))
    s = now(h)
    other = Event.parse(*capture("A2", "isis"))
    assert apply(s, other, h.reference(None)) is s


def test_grant_mid_custody_changes_accounted_at_valid_from() -> None:
    h = history(
        register("A1"),
        capture("A1", "pmf", at="2015-01-01"),
        grant("AUTH-PMF", "pmf", valid_from="2016-01-01", reported="2016-06-01"),
    )
    assert not h.accounted("A1", T("2016-02-01"), T("2016-05-31"))
    assert h.accounted("A1", T("2016-02-01"), T("2016-06-01"))
    assert not h.accounted("A1", T("2015-12-31"), None)


def test_asset_ids_lists_registered_assets_known_at_k_by_contract() -> None:
    h = history(
        contract("C2"),
        register("A1", reported="2011-01-01"),
        register("A2", contract_id="C2", reported="2012-01-01"),
    )
    assert h.asset_ids(None) == ("A1", "A2")
    assert h.asset_ids(None, "C2") == ("A2",)
    assert h.asset_ids(T("2011-06-01")) == ("A1",)
