"""What an evaluation asks of the reference data, and evaluations kept across a change
of it (``Reference.reading``, ``Reference.answers_alike``, ``AssetMemo.sees``).

An asset's evaluation is a function of its events, the knowledge cut and the answers
the reference data gives to the questions it asks. A view records those questions
(also when the answer is memoised, which every view shares with its data); new
reference data that answers them alike leaves the evaluation standing, so a new party
or an authorisation of a unit the asset never met does not fold its history again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.history import Log
from domain.reference import Read, Reference
from domain.rules.asset_memo import AssetMemo
from domain.rules.tracking import life
from domain.state import History
from tests.unit.builders import (
    CONTRACT,
    T,
    grant,
    party,
    register,
    revoke,
    transfer,
    world,
)

AT = T("2012-01-01")

QUESTIONS: list[tuple[str, Callable[[Reference], Any], set[Read]]] = [
    ("party", lambda r: r.party("army"), {("party", "army")}),
    ("facility", lambda r: r.facility("depot"), {("facility", "depot")}),
    ("contract", lambda r: r.contract(CONTRACT), {("contract", CONTRACT)}),
    ("terms", lambda r: r.terms(CONTRACT), {("contract", CONTRACT)}),
    ("ancestors", lambda r: r.ancestors("9th-div"), {("anc", "9th-div")}),
    ("lineage", lambda r: r.lineage("9th-div"), {("anc", "9th-div")}),
    ("descends", lambda r: r.descends("9th-div", "iraq"), {("anc", "9th-div")}),
    ("descends_from_any", lambda r: r.descends_from_any("9th-div", ["army"]), {("anc", "9th-div")}),
    ("related", lambda r: r.related("army", "9th-div"), {("anc", "army"), ("anc", "9th-div")}),
    ("partner", lambda r: r.partner("army", CONTRACT), {("partner", "army", CONTRACT)}),
    ("seller_side", lambda r: r.seller_side("gd", CONTRACT), {("seller", "gd", CONTRACT)}),
    ("authorised", lambda r: r.authorised("army", CONTRACT, AT), {("end_user", "army", CONTRACT)}),
    (
        "end_user_authorisations",
        lambda r: r.end_user_authorisations("army", CONTRACT, AT),
        {("end_user", "army", CONTRACT)},
    ),
    (
        "authorisation_changes",
        lambda r: r.authorisation_changes("army", CONTRACT),
        {("end_user", "army", CONTRACT)},
    ),
    (
        "maintainer_authorisation",
        lambda r: r.maintainer_authorisation("gd", CONTRACT, AT, "overhaul"),
        {("maintainer", "gd", CONTRACT)},
    ),
    (
        "repair_facility_authorisation",
        lambda r: r.repair_facility_authorisation("depot", CONTRACT, AT, "overhaul"),
        {("repair_facility", "depot", CONTRACT)},
    ),
]


WORLD = world()  # one set of events (ids) for every reference data compared


def ref_of(*logged: tuple[int, dict[str, Any]]) -> Reference:
    return Reference.build(Log([*WORLD, *logged]).at(None).events)


@pytest.mark.parametrize(("name", "ask", "expected"), QUESTIONS, ids=[q[0] for q in QUESTIONS])
def test_a_view_records_each_question_even_when_its_answer_is_memoised(
    name: str, ask: Callable[[Reference], Any], expected: set[Read]
) -> None:
    ref = ref_of()
    answer = ask(ref)  # the data memoises the answer; the view shares the memo
    reads: set[Read] = set()
    assert ask(ref.reading(reads)) == answer
    assert expected <= reads
    assert ref._reads is None  # the data itself records nothing


def test_answers_alike_tells_which_questions_new_reference_data_answers_otherwise() -> None:
    before = ref_of()
    after = ref_of(grant("AUTH-PMF", "pmf", at="2013-01-01"))
    assert before.answers_alike(after, {("end_user", "army", CONTRACT), ("anc", "pmf")})
    assert not before.answers_alike(after, {("end_user", "pmf", CONTRACT)})
    # A revocation changes the authorisation's answers to its subject and to the units
    # it covers through includes_descendants, not to a party outside it.
    revoked = ref_of(revoke("AUTH-ARMY", "2013-01-01", at="2013-02-01"))
    assert not before.answers_alike(revoked, {("end_user", "9th-div", CONTRACT)})
    assert before.answers_alike(
        revoked, {("end_user", "pmf", CONTRACT), ("partner", "army", CONTRACT)}
    )


def test_an_empty_id_is_asked_again_as_itself_not_as_no_party() -> None:
    """Found by review: keys once wrote a missing party as "" and read "" back as none,
    so an authorisation of the party "" was answered as no party's."""
    before = ref_of()
    after = ref_of(grant("AUTH-EMPTY", "", at="2013-01-01"))
    assert not before.answers_alike(after, {("end_user", "", CONTRACT)})
    assert before.answers_alike(after, {("end_user", None, CONTRACT), ("partner", None, CONTRACT)})


def test_a_parent_registered_later_changes_the_ancestry_of_its_children() -> None:
    orphan = party("5th-bde", parent="5th-div")
    before = ref_of(orphan)
    after = ref_of(orphan, party("5th-div", parent="army", at="2013-01-01"))
    assert not before.answers_alike(after, {("anc", "5th-bde")})
    assert not before.answers_alike(after, {("partner", "5th-bde", CONTRACT)})
    assert before.answers_alike(after, {("anc", "9th-div"), ("party", "5th-bde")})


@pytest.mark.source_only  # spies on the domain's functions
def test_new_reference_data_folds_again_only_the_assets_whose_questions_it_answers_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A1 goes to the PMF (unauthorised: R01), A2 stays with the 9th division. The PMF
    is later authorised retroactively, and an unrelated party registered: A1 is folded
    again and its R01 is resolved; A2's evaluation stands. Every life is what the walk
    from scratch gives."""
    logged = [
        register("A1", at="2011-01-01"),
        register("A2", at="2011-01-01"),
        transfer("A1", "9th-div", "pmf", at="2011-03-01"),
        party("militia-x", "paramilitary", at="2011-06-01"),
        grant("AUTH-PMF", "pmf", valid_from="2011-01-01", at="2011-09-01"),
    ]
    built: list[str] = []
    original = AssetMemo.build.__func__  # type: ignore[attr-defined]

    def counting(cls: type[AssetMemo], history: History, asset_id: str, *args: Any) -> AssetMemo:
        built.append(asset_id)
        return original(cls, history, asset_id, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(AssetMemo, "build", classmethod(counting))
    h = History([*world(), *logged])
    lives = life(h)
    assert built.count("A2") == 1  # registered once, never folded again
    assert built.count("A1") == 2  # registered, then the PMF's authorisation
    r01 = [key for key in lives if key.startswith("R01/A1/pmf/")]
    assert r01 and lives[r01[0]].at(None) is not None
    assert lives[r01[0]].at(None).clear_reason is not None  # resolved by the grant
    monkeypatch.undo()
    scratch = life(History([*world(), *logged]), incremental=False)
    assert {k: v.at(None) for k, v in lives.items()} == {k: v.at(None) for k, v in scratch.items()}
