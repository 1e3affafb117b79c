"""Custody bands and not-accounted-for intervals (what R01, R03 and C01 build on)."""

from __future__ import annotations

from typing import Any

from domain.state import Band, BandMark, History
from domain.vocabulary import Status
from tests.unit.builders import (
    T,
    capture,
    destroy,
    disable,
    grant,
    inventory,
    lose,
    observe,
    reclassify,
    recover,
    register,
    revoke,
    transfer,
    world,
)

Logged = tuple[int, dict[str, Any]]


def history(*logged: Logged) -> History:
    return History([*world(), *logged])


def eid(logged: Logged) -> str:
    return str(logged[1]["event_id"])


def summary(bands: tuple[Band, ...]) -> list[tuple[str | None, BandMark, str, str | None]]:
    return [
        (
            b.custodian,
            b.mark,
            b.valid_from.strftime("%Y-%m-%d"),
            None if b.valid_to is None else b.valid_to.strftime("%Y-%m-%d"),
        )
        for b in bands
    ]


def test_bands_follow_custody_through_capture_loss_recovery_and_destruction() -> None:
    reg = register("A1", at="2011-01-01")
    cap = capture("A1", "isis", at="2014-06-10")
    lost = lose("A1", "isis", at="2015-01-01")
    rec = recover("A1", "army", at="2016-01-01")
    gone = destroy("A1", at="2017-01-01")
    bands = history(reg, cap, lost, rec, gone).custody_bands("A1", None)
    assert summary(bands) == [
        ("9th-div", BandMark.AUTHORISED, "2011-01-01", "2014-06-10"),
        ("isis", BandMark.UNAUTHORISED, "2014-06-10", "2015-01-01"),
        (None, BandMark.NONE, "2015-01-01", "2016-01-01"),
        ("army", BandMark.AUTHORISED, "2016-01-01", "2017-01-01"),
        (None, BandMark.TERMINAL, "2017-01-01", None),
    ]
    assert [b.opened_by for b in bands] == [(eid(e),) for e in (reg, cap, lost, rec, gone)]
    assert [b.status for b in bands][-1] is Status.DESTROYED


def test_an_authorisation_granted_mid_custody_splits_the_band() -> None:
    auth = grant("AUTH-PMF", "pmf", valid_from="2016-01-01")
    bands = history(register("A1"), capture("A1", "pmf", at="2015-01-01"), auth).custody_bands(
        "A1", None
    )
    assert summary(bands)[1:] == [
        ("pmf", BandMark.UNAUTHORISED, "2015-01-01", "2016-01-01"),
        ("pmf", BandMark.AUTHORISED, "2016-01-01", None),
    ]
    assert bands[-1].opened_by == (eid(auth),)


def test_the_split_appears_only_once_the_grant_is_known() -> None:
    auth = grant("AUTH-PMF", "pmf", valid_from="2016-01-01", reported="2016-06-01")
    h = history(register("A1"), capture("A1", "pmf", at="2015-01-01"), auth)
    assert len(h.custody_bands("A1", T("2016-05-31"))) == 2
    assert len(h.custody_bands("A1", T("2016-06-01"))) == 3


def test_a_revocation_and_an_expiry_split_the_band() -> None:
    h = history(
        register("A1", "kurds"),
        grant("AUTH-K", "kurds", valid_from="2012-01-01", valid_to="2014-01-01"),
        revoke("AUTH-K", "2013-01-01"),
    )
    assert summary(h.custody_bands("A1", None)) == [
        ("kurds", BandMark.UNAUTHORISED, "2011-01-01", "2012-01-01"),
        ("kurds", BandMark.AUTHORISED, "2012-01-01", "2013-01-01"),
        ("kurds", BandMark.UNAUTHORISED, "2013-01-01", None),
    ]


def test_a_reclassified_custodian_keeps_one_band() -> None:
    h = history(register("A1"), reclassify("9th-div", "paramilitary", at="2014-01-01"))
    assert summary(h.custody_bands("A1", None)) == [
        ("9th-div", BandMark.AUTHORISED, "2011-01-01", None)
    ]


def test_events_that_keep_the_custodian_do_not_split_a_band() -> None:
    h = history(
        register("A1"),
        disable("A1", at="2013-01-01"),
        observe("A1", "pmf", at="2013-02-01"),
        inventory({"A1": "absent"}, at="2013-03-01"),
    )
    assert len(h.custody_bands("A1", None)) == 1


def test_a_transfer_between_authorised_partners_opens_a_new_band() -> None:
    h = history(register("A1"), transfer("A1", "9th-div", "army", at="2013-01-01"))
    assert [b.custodian for b in h.custody_bands("A1", None)] == ["9th-div", "army"]


def test_until_leaves_out_later_events_and_authorisation_changes() -> None:
    h = history(
        register("A1"),
        capture("A1", "pmf", at="2015-01-01"),
        grant("AUTH-PMF", "pmf", valid_from="2016-01-01"),
        lose("A1", "pmf", at="2017-01-01"),
    )
    assert summary(h.custody_bands("A1", None, until=T("2015-12-31"))) == [
        ("9th-div", BandMark.AUTHORISED, "2011-01-01", "2015-01-01"),
        ("pmf", BandMark.UNAUTHORISED, "2015-01-01", None),
    ]
    # An event exactly at ``until`` counts, as it does for state(a, until, k).
    assert len(h.custody_bands("A1", None, until=T("2017-01-01"))) == 4


def test_no_bands_for_an_unregistered_asset() -> None:
    assert history().custody_bands("A1", None) == ()


def test_events_at_one_instant_open_one_band_with_the_final_custodian() -> None:
    cap = capture("A1", "isis", at="2014-06-10", reported="2014-06-10")
    rec = recover("A1", "pmf", at="2014-06-10", reported="2014-06-11")
    bands = history(register("A1"), cap, rec).custody_bands("A1", None)
    assert [(b.custodian, b.opened_by) for b in bands][1:] == [("pmf", (eid(cap), eid(rec)))]


# -- not accounted for --------------------------------------------------------------


def intervals(h: History, until: str | None = None) -> list[tuple[str, str | None]]:
    return [
        (
            i.valid_from.strftime("%Y-%m-%d"),
            None if i.valid_to is None else i.valid_to.strftime("%Y-%m-%d"),
        )
        for i in h.accounted_intervals("A1", None, None if until is None else T(until))
    ]


def test_capture_then_loss_is_one_not_accounted_interval_until_recovery() -> None:
    cap = capture("A1", "isis", at="2014-06-10")
    h = history(
        register("A1"),
        cap,
        lose("A1", "isis", at="2015-01-01"),
        recover("A1", "army", at="2016-01-01"),
    )
    assert intervals(h) == [("2014-06-10", "2016-01-01")]
    assert h.accounted_intervals("A1", None)[0].opened_by == (eid(cap),)


def test_a_not_accounted_interval_still_running_is_open() -> None:
    h = history(register("A1"), capture("A1", "isis", at="2014-06-10"))
    assert intervals(h) == [("2014-06-10", None)]


def test_missing_at_inventory_opens_an_interval_until_found() -> None:
    h = history(
        register("A1"),
        inventory({"A1": "absent"}, at="2013-01-01"),
        inventory({"A1": "present"}, at="2013-06-01"),
    )
    assert intervals(h) == [("2013-01-01", "2013-06-01")]


def test_a_revocation_opens_an_interval_named_after_it() -> None:
    rev = revoke("AUTH-ARMY", "2014-06-10")
    h = history(register("A1"), rev)
    assert intervals(h) == [("2014-06-10", None)]
    assert h.accounted_intervals("A1", None)[0].opened_by == (eid(rev),)


def test_a_destruction_below_minimum_confidence_stays_not_accounted() -> None:
    h = history(
        register("A1"),
        capture("A1", "isis", at="2014-06-10"),
        destroy("A1", at="2015-01-01", confidence="probable"),
    )
    assert intervals(h) == [("2014-06-10", None)]
    h2 = history(
        register("A1"),
        capture("A1", "isis", at="2014-06-10"),
        destroy("A1", at="2015-01-01", confidence="confirmed"),
    )
    assert intervals(h2) == [("2014-06-10", "2015-01-01")]


def test_accounted_intervals_agree_with_accounted_at_every_boundary() -> None:
    h = history(
        register("A1"),
        capture("A1", "pmf", at="2014-06-10"),
        grant("AUTH-PMF", "pmf", valid_from="2016-01-01", valid_to="2017-01-01"),
        inventory({"A1": "absent"}, scope="pmf", at="2016-06-01"),
        transfer("A1", "pmf", "army", at="2016-09-01"),
    )
    got = h.accounted_intervals("A1", None)
    assert intervals(h) == [("2014-06-10", "2016-01-01"), ("2016-06-01", "2016-09-01")]
    for seg in h.segments("A1", None):
        assert seg.accounted == h.accounted("A1", seg.valid_from, None)
    assert got[1].opened_by != ()
