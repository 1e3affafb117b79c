"""Reference data as known at k, and the predicates of DOMAIN.md §2 and §6."""

from __future__ import annotations

from typing import Any

import pytest

from domain.history import Log
from domain.reference import Reference, RepairLimits, Terms
from domain.vocabulary import Confidence, PartyKind
from tests.unit.builders import (
    CONTRACT,
    T,
    contract,
    correct,
    facility,
    grant,
    party,
    reclassify,
    retract,
    revoke,
    world,
)


def ref_of(*logged: tuple[int, dict[str, Any]], k: str | None = None) -> Reference:
    log = Log([*world(), *logged])
    return Reference.build(log.at(None if k is None else T(k)).events)


def test_descends_follows_parents_and_includes_the_party_itself() -> None:
    ref = ref_of()
    assert ref.descends("9th-div", "iraq")
    assert ref.descends("army", "army")
    assert not ref.descends("iraq", "army")
    assert not ref.descends("pmf", "iraq")
    assert not ref.descends(None, "iraq")


def test_related_is_descent_either_way() -> None:
    ref = ref_of()
    assert ref.related("iraq", "9th-div") and ref.related("9th-div", "iraq")
    assert not ref.related("9th-div", "pmf")


def test_a_parent_cycle_does_not_loop() -> None:
    ref = ref_of(party("x", parent="y"), party("y", parent="x"))
    assert ref.descends("x", "y") and ref.descends("y", "x")
    assert not ref.descends("x", "iraq")


def test_descendants_are_the_parties_whose_lineage_holds_the_party() -> None:
    """``descendants`` (the parties an inventory's scope covers, for R14's impact) is
    the converse of ``lineage``, over a cycle, a self-parent and a parent never
    registered too."""
    ref = ref_of(
        party("x", parent="y"),
        party("y", parent="x"),
        party("z", parent="y"),
        party("solo", parent="solo"),
        party("orphan", parent="ghost"),
    )
    names = [*ref.parties, "ghost", "nobody"]
    for q in names:
        assert ref.descendants(q) == {p for p in names if q in ref.lineage(p)}, q
    assert ref.descendants("iraq") >= {"iraq", "9th-div"}
    assert ref.descendants("y") == {"x", "y", "z"}
    assert ref.descendants("ghost") == {"ghost", "orphan"}
    assert ref.descendants("nobody") == {"nobody"}


def test_descendants_are_not_asked_of_a_reading_view() -> None:
    """A view records questions for an evaluation kept across reference data; the
    parties under a scope depend on every party's parent, which no question stands for."""
    with pytest.raises(TypeError):
        ref_of().reading(set()).descendants("iraq")


def test_partner_is_descent_from_the_title_holder() -> None:
    ref = ref_of()
    assert ref.partner("9th-div", CONTRACT)
    assert not ref.partner("pmf", CONTRACT)
    assert not ref.partner("9th-div", "unknown-contract")


def test_seller_side_follows_acts_for_recursively_and_guards_cycles() -> None:
    ref = ref_of(
        party("gd-sub", "contractor", acts_for="gd"),
        party("gd-team", "contractor", parent="gd"),
        party("loop-a", "contractor", acts_for="loop-b"),
        party("loop-b", "contractor", acts_for="loop-a"),
    )
    assert ref.seller_side("usa", CONTRACT)
    assert ref.seller_side("gd", CONTRACT)
    assert ref.seller_side("gd-sub", CONTRACT)
    # DOMAIN.md is literal: only p's own acts_for counts, not its parent's.
    assert not ref.seller_side("gd-team", CONTRACT)
    assert not ref.seller_side("loop-a", CONTRACT)
    assert not ref.seller_side("army", CONTRACT)


def test_authorisation_covers_descendants_only_when_it_says_so() -> None:
    ref = ref_of(
        grant("AUTH-KURDS", "kurds", includes_descendants=False),
        party("peshmerga-1", parent="kurds"),
    )
    t = T("2014-01-01")
    assert ref.authorised("9th-div", CONTRACT, t)
    assert ref.authorised("kurds", CONTRACT, t)
    assert not ref.authorised("peshmerga-1", CONTRACT, t)
    assert not ref.authorised("pmf", CONTRACT, t)
    assert not ref.authorised(None, CONTRACT, t)


def test_authorisation_is_valid_on_a_half_open_interval() -> None:
    ref = ref_of(grant("AUTH-PMF", "pmf", valid_from="2015-01-01", valid_to="2016-01-01"))
    assert not ref.authorised("pmf", CONTRACT, T("2014-12-31T23:59:59"))
    assert ref.authorised("pmf", CONTRACT, T("2015-01-01"))
    assert ref.authorised("pmf", CONTRACT, T("2015-12-31T23:59:59"))
    assert not ref.authorised("pmf", CONTRACT, T("2016-01-01"))


def test_revocation_takes_effect_at_its_effective_instant() -> None:
    ref = ref_of(revoke("AUTH-ARMY", "2014-06-10", reported="2014-06-11"))
    assert ref.authorised("army", CONTRACT, T("2014-06-09T23:59:59"))
    assert not ref.authorised("army", CONTRACT, T("2014-06-10"))


def test_revocation_counts_only_once_known() -> None:
    rev = revoke("AUTH-ARMY", "2014-06-10", reported="2014-09-01")
    assert ref_of(rev, k="2014-08-31").authorised("army", CONTRACT, T("2014-07-01"))
    assert not ref_of(rev, k="2014-09-01").authorised("army", CONTRACT, T("2014-07-01"))


def test_a_retracted_revocation_no_longer_counts() -> None:
    rev = revoke("AUTH-ARMY", "2014-06-10", reported="2014-06-10")
    ref = ref_of(rev, retract(rev, reported="2014-07-01"))
    assert ref.authorised("army", CONTRACT, T("2014-08-01"))


def test_reclassifying_a_party_changes_its_kind_not_its_authorisation() -> None:
    ref = ref_of(reclassify("9th-div", "paramilitary", at="2014-03-01"))
    p = ref.party("9th-div")
    assert p is not None
    assert p.kind is PartyKind.PARAMILITARY
    assert p.kind_at(T("2014-02-28")) is PartyKind.STATE_UNIT
    assert p.kind_at(T("2014-03-01")) is PartyKind.PARAMILITARY
    assert ref.authorised("9th-div", CONTRACT, T("2014-06-01"))

    militia = ref_of(reclassify("pmf", "state_unit", at="2018-03-01"))
    assert not militia.authorised("pmf", CONTRACT, T("2018-06-01"))


def test_repair_facility_authorisation_matches_facility_time_and_work_type() -> None:
    ref = ref_of(facility("tehran-works", "pmf"))
    t = T("2015-01-01")
    assert ref.repair_facility_authorisation("depot", CONTRACT, t, "overhaul") is not None
    assert ref.repair_facility_authorisation("depot", CONTRACT, t, "battle_damage_repair") is None
    assert ref.repair_facility_authorisation("tehran-works", CONTRACT, t, "overhaul") is None
    assert ref.repair_facility_authorisation("depot", CONTRACT, T("2009-01-01"), "overhaul") is None


def test_maintainer_authorisation_without_work_types_covers_any_work() -> None:
    ref = ref_of()
    t = T("2015-01-01")
    assert ref.maintainer_authorisation("gd", CONTRACT, t, "battle_damage_repair") is not None
    assert ref.maintainer_authorisation("pmf", CONTRACT, t, "overhaul") is None
    # an end_user authorisation is not a maintainer authorisation
    assert ref.maintainer_authorisation("army", CONTRACT, t, "overhaul") is None


def test_authorisation_changes_list_every_instant_that_can_flip_it() -> None:
    ref = ref_of(
        grant("AUTH-PMF", "pmf", valid_from="2015-01-01", valid_to="2016-01-01"),
        revoke("AUTH-PMF", "2015-06-01"),
        grant("AUTH-OTHER", "kurds", valid_from="2015-02-01"),
    )
    assert [c.at for c in ref.authorisation_changes("pmf", CONTRACT)] == [
        T("2015-01-01"),
        T("2015-06-01"),
        T("2016-01-01"),
    ]
    assert [c.at for c in ref.authorisation_changes("9th-div", CONTRACT)] == [T("2010-01-01")]
    assert ref.authorisation_changes(None, CONTRACT) == ()


def test_contract_terms_default_field_by_field_including_repair_limits() -> None:
    ref = ref_of(
        contract(
            "C2",
            terms={
                "unaccounted_max_days": 10,
                "repair_open_max_days": {"overhaul": 400},
                "terminal_min_confidence": "probable",
            },
        )
    )
    terms = ref.terms("C2")
    assert terms.unaccounted_max_days == 10
    assert terms.inventory_period_days == 365
    assert terms.repair_open_max_days == RepairLimits(overhaul=400)
    assert terms.repair_open_max_days.days_for("field_maintenance") == 30
    assert terms.repair_open_max_days.days_for("paint") == 90
    assert terms.terminal_min_confidence is Confidence.PROBABLE
    assert terms.conflict_min_confidence is Confidence.PROBABLE
    assert ref.terms(CONTRACT) == Terms()
    assert ref.terms("unknown") == Terms()


def test_corrected_party_parent_changes_descent() -> None:
    reg = party("brigade-5", parent="army")
    ref = ref_of(reg, correct(reg, {"payload.parent": "pmf"}))
    assert ref.descends("brigade-5", "pmf")
    assert not ref.authorised("brigade-5", CONTRACT, T("2014-01-01"))


def test_the_first_registration_of_an_id_counts() -> None:
    ref = ref_of(party("9th-div", "armed_group", at="2012-01-01"))
    p = ref.party("9th-div")
    assert p is not None and p.kind is PartyKind.STATE_UNIT
