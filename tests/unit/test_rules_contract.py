"""The contract rules C01–C05 (DOMAIN.md §5): each fires, misses, meets its exact
boundary, and changes with late knowledge; and one contract's story from suspension
required to a suspension that outlives its cause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.instants import to_key
from domain.rules.compliance import compliance
from domain.rules.contract import StateRules, _covers, contract_state_rules
from domain.rules.custody import R03
from domain.rules.evaluation import Evaluator, contract_findings
from domain.rules.facts import AssetPart, contract_facts
from domain.rules.findings import ClearReason, Finding, FindingKind, Severity, ordered
from domain.rules.making import make_finding
from domain.rules.spans import Span, ends_before, union
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
    # A1's interval alone proves the piece (its cover): A2's, inside it, is not named.
    assert eid(lost) in f.evidence and eid(cap) not in f.evidence
    assert "A1 unaccounted" in f.summary and "A2" not in f.summary


def test_c01_names_the_fewest_intervals_that_chain_from_the_start_to_the_end() -> None:
    """A1 [07-10, 08-01) and A4 [07-10, 09-01) start together, A3 [07-15, 08-20) is
    inside them, A2 [08-31, 2015-01-01) reaches on: the cover is A4 (the one of the
    first two reaching further, though A1 comes first) then A2."""
    a1 = (lose("A1", at="2014-06-10"), recover("A1", "army", at="2014-08-01"))
    a4 = (lose("A4", at="2014-06-10"), recover("A4", "army", at="2014-09-01"))
    a3 = (lose("A3", at="2014-06-15"), recover("A3", "army", at="2014-08-20"))
    a2 = capture("A2", "isis", at="2014-08-01")
    back = recover("A2", "army", at="2015-01-01")
    assets = (*TWO, register("A3"), register("A4"))
    got = found(*assets, *a1, *a4, *a3, a2, back, rule="C01")
    f = got[f"C01/C1/{K('2014-07-10')}"]
    assert (f.valid_from, f.valid_to) == (T("2014-07-10"), T("2015-01-01"))
    assert "A2, A4 unaccounted" in f.summary and "A1" not in f.summary and "A3" not in f.summary
    assert {eid(a4[0]), eid(a4[1]), eid(a2), eid(back)} <= set(f.evidence)
    assert not {eid(a1[0]), eid(a3[0])} & set(f.evidence)
    # A change to a member outside the cover leaves the finding as it was.
    later = recover("A3", "army", at="2014-08-25", event_id="a3-later")
    assert found(*assets, *a1, *a4, a3[0], later, a2, back, rule="C01")[f.finding_key] == f


@dataclass(frozen=True)
class _Interval:
    """What the pieces of C01 read of an R03 finding."""

    valid_from: datetime
    valid_to: datetime | None
    finding_key: str


@pytest.mark.source_only  # stand-ins for findings: compiled, the function checks their type
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.one_of(st.none(), st.integers(1, 15))), max_size=25)
)
def test_c01_pieces_are_the_union_and_each_cover_the_fewest_intervals_that_chain_it(
    drawn: list[tuple[int, int | None]],
) -> None:
    day = T("2014-01-01")
    rows = sorted(
        (
            _Interval(
                day + timedelta(days=a),
                None if n is None else day + timedelta(days=a + n),
                f"R03/A{i:02}",
            )
            for i, (a, n) in enumerate(drawn)
        ),
        key=lambda x: (x.valid_from, x.finding_key),
    )
    pieces = _covers(rows)  # type: ignore[arg-type]
    # The union, merged as C02 and C03 merge spans (domain.rules.spans, tested apart).
    assert [(c[0].valid_from, stop) for c, stop in pieces] == [
        (s.valid_from, s.valid_to) for s in union(Span(x.valid_from, x.valid_to) for x in rows)
    ]
    for cover, stop in pieces:
        inside = [
            x
            for x in rows
            if cover[0].valid_from <= x.valid_from and not ends_before(stop, x.valid_from)
        ]
        assert all(x in inside for x in cover)
        # The cover chains: each link starts within the one before; the last ends the piece.
        for a, b in pairwise(cover):
            assert not ends_before(a.valid_to, b.valid_from)
        assert cover[-1].valid_to == stop
        assert len(cover) == _fewest(inside, cover[0].valid_from, stop)


def _fewest(rows: list[_Interval], start: datetime, stop: datetime | None) -> int:
    """The fewest intervals chaining from ``start`` to ``stop``, by breadth-first search."""
    reached: set[datetime | None] = {start}
    for n in range(1, len(rows) + 1):
        nxt = {
            x.valid_to
            for x in rows
            for r in reached
            if r is not None and x.valid_from <= r and ends_before(r, x.valid_to)
        }
        if stop in nxt:
            return n
        reached |= nxt
    raise AssertionError("the piece is not chained")


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

    # C01 opens when A1 has been unaccounted for 30 days. A2 goes missing too, but
    # while A1 is still missing A1 alone proves the piece: the contract view lists
    # both as holding support back.
    opened = then(lives, c01, "2014-07-10")
    assert opened is not None and opened.valid_to is None and "A2" not in opened.summary
    assert then(lives, c01, "2014-09-01") == opened
    view = compliance(history(*story), "C1", T("2014-09-01"), T("2014-09-01"))
    assert [x.asset_id for x in view.holding_support_back] == ["A1", "A2"]
    # Once A1 is back, its interval ends before the piece does: A2 joins the cover.
    grown = then(lives, c01, "2015-03-01")
    assert grown is not None and "A1, A2 unaccounted" in grown.summary

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


def _r03(asset: str, start: int, length: int | None, tag: object) -> Finding:
    """An R03 finding of ``asset`` from day ``start`` of 2014 for ``length`` days
    (``None``: open)."""
    frm = T("2014-01-01") + timedelta(days=start)
    return make_finding(
        R03,
        f"R03/{asset}/{to_key(frm)}",
        Severity.HIGH,
        asset_id=asset,
        contract_id="C1",
        parties=(asset.lower(),),
        evidence=(f"{asset}-{tag}-{start}",),
        summary=f"{asset} unaccounted",
        valid_from=frm,
        valid_to=None if length is None else frm + timedelta(days=length),
    )


@st.composite
def _r03_histories(draw: st.DrawFn) -> list[dict[str, tuple[Finding, ...]]]:
    """Successive states of a contract's R03 findings: each step replaces one asset's
    (a few intervals, some open, some touching) or takes them away."""
    held: dict[str, tuple[Finding, ...]] = {}
    out = []
    for step in range(draw(st.integers(1, 30))):
        asset = draw(st.sampled_from([f"A{i}" for i in range(1, 9)]))
        drawn = draw(
            st.lists(
                st.tuples(st.integers(0, 30), st.one_of(st.none(), st.integers(1, 8))),
                max_size=3,
                unique_by=lambda x: x[0],
            )
        )
        held[asset] = tuple(_r03(asset, start, length, step) for start, length in drawn)
        if not held[asset]:
            del held[asset]
        out.append(dict(held))
    return out


def _judged_as_from_scratch(
    states: list[dict[str, tuple[Finding, ...]]], suspended: bool = False
) -> None:
    logged = [*TWO]
    if suspended:
        logged += [suspend(at="2014-01-20"), resume(at="2014-02-10")]
    h = history(*logged)
    cut = Evaluator(h).refresh(None)
    ref = h.reference(None)
    rules, told = StateRules(), StateRules()  # told: only the assets that changed
    last: dict[str, tuple[Finding, ...]] = {}
    for held in states:
        parts = [AssetPart(a, found, (), None) for a, found in held.items()]
        facts = contract_facts("C1", ref, cut, parts)
        expected = ordered(contract_state_rules(facts))
        assert ordered(rules.findings(facts)) == expected
        changed = {a: held.get(a, ()) for a in {*held, *last} if held.get(a) != last.get(a)}
        assert ordered(told.findings(contract_facts("C1", ref, cut, []), changed)) == expected
        last = held


@settings(max_examples=300, deadline=None)
@given(states=_r03_histories(), suspended=st.booleans())
def test_c01_to_c03_kept_from_judgement_to_judgement_are_those_judged_from_scratch(
    states: list[dict[str, tuple[Finding, ...]]], suspended: bool
) -> None:
    """``StateRules`` regroups only the pieces each replacement overlaps or touches, and
    keeps the findings of a piece whose cover and end stay: at every step, what
    ``contract_state_rules`` gives from every R03 finding, whether it is given every
    part or told only the assets that changed."""
    _judged_as_from_scratch(states, suspended)


def test_c01_an_interval_that_ends_where_a_piece_starts_joins_it() -> None:
    """Touching at either end merges: the piece after, the piece before, and one that
    opens the gap between them again when the interval goes."""
    a1 = {"A1": (_r03("A1", 10, 10, 0),)}  # [10, 20)
    before = {**a1, "A2": (_r03("A2", 5, 5, 1),)}  # [5, 10): ends where A1 starts
    after = {**before, "A3": (_r03("A3", 20, 4, 2),)}  # [20, 24): starts where A1 ends
    _judged_as_from_scratch([a1, before, after, a1, after, {}])
