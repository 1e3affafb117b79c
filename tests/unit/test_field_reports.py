"""Field reports as they really come (issue #17) in the domain: repairs without a work
order and how a completion pairs with a start (DOMAIN.md §3), the write-side rule for
an absent work order, parts with serials."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.fold import AssetState
from domain.history import Event
from domain.parts import PartLine, part_lines, serials_of
from domain.rules.evaluation import findings_at
from domain.state import History
from domain.validation import check_event
from domain.vocabulary import Operational
from tests.unit.builders import (
    Logged,
    T,
    capture,
    correct,
    register,
    repair_complete,
    repair_start,
    world,
)

NOW = T("2030-01-01")


def state(*logged: Logged) -> tuple[History, AssetState]:
    h = History([*world(), register("A1"), *logged])
    s = h.state("A1", NOW, None)
    assert s is not None
    return h, s


def test_a_completion_without_work_order_closes_the_open_one() -> None:
    _, s = state(
        repair_start("A1", "WO-1", at="2015-01-01"),
        repair_complete("A1", None, performer="pmf", at="2015-02-01"),  # type: ignore[arg-type]
    )
    assert (s.operational, s.open_work_order) == (Operational.OPERATIONAL, None)


def test_a_completion_of_another_named_order_still_leaves_the_open_one_open() -> None:
    _, s = state(
        repair_start("A1", "WO-1", at="2015-01-01"),
        repair_complete("A1", "WO-2", at="2015-02-01"),
    )
    assert (s.operational, s.open_work_order) == (Operational.UNDER_REPAIR, "WO-1")


def test_a_completion_with_no_known_start_is_a_repair_of_its_own() -> None:
    h, s = state(repair_complete("A1", None, performer="pmf", at="2015-02-01"))  # type: ignore[arg-type]
    assert (s.operational, s.open_work_order) == (Operational.OPERATIONAL, None)
    assert not [f for f in findings_at(h, None) if f.rule == "R12"]


def test_a_start_without_work_order_opens_none_and_keeps_an_open_one() -> None:
    _, alone = state(repair_start("A1", None, performer="pmf", at="2015-01-01"))  # type: ignore[arg-type]
    assert (alone.operational, alone.open_work_order) == (Operational.UNDER_REPAIR, None)
    h, kept = state(
        repair_start("A1", "WO-1", at="2015-01-01"),
        repair_start("A1", None, performer="pmf", at="2015-01-05"),  # type: ignore[arg-type]
    )
    assert kept.open_work_order == "WO-1"
    # R12 still times WO-1 (an overhaul: 365 days) from its own start.
    r12 = [f for f in findings_at(h, None) if f.rule == "R12"]
    assert [f.finding_key for f in r12] == ["R12/A1/WO-1"]
    assert r12[0].valid_from == T("2016-01-01")


def test_a_leaked_repair_of_a_captured_asset_raises_r09_and_r10() -> None:
    leak = repair_complete(
        "A1",
        None,  # type: ignore[arg-type]
        performer="pmf",
        facility_id="depot",
        work_type="overhaul",
        at="2015-01-01",
        event_id="leak",
    )
    h, _ = state(capture("A1", "isis", at="2014-06-10"), leak)
    found = {f.finding_key: f for f in findings_at(h, None)}
    assert "R10/leak/A1" in found
    assert "R09/leak/A1" in found
    assert "no work order" in found["R09/leak/A1"].summary


def _record(**payload: object) -> dict[str, object]:
    return {
        "type": "repair_started",
        "occurred_at": "2015-01-01T00:00:00Z",
        "reporter": "gd",
        "asset_ids": ["A1"],
        "payload": {"facility_id": "depot", "work_type": "overhaul", **payload},
    }


def test_only_someone_other_than_the_performer_may_leave_out_the_work_order() -> None:
    at = datetime(2016, 1, 1, tzinfo=UTC)
    own = check_event(_record(performed_by_party="gd"), at)
    assert [p.field for p in own] == ["payload.work_order_id"]
    assert check_event(_record(performed_by_party="pmf"), at) == []
    assert check_event(_record(performed_by_party="gd", work_order_id="WO-1"), at) == []


def test_parts_may_be_names_or_structured_with_serials() -> None:
    done = repair_complete("A1", "WO-1", at="2015-01-01")
    done[1]["payload"]["parts"] = [
        "road wheel",
        {"part": "AGT1500 engine", "serial": "E-1", "quantity": 1},
        {"part": "track pin"},
    ]
    e = Event.parse(*done)
    assert part_lines(e) == (
        PartLine("road wheel"),
        PartLine("AGT1500 engine", "E-1", 1),
        PartLine("track pin"),
    )
    assert serials_of(e) == {"E-1"}
    fix = Event.parse(*correct(done, {"payload.parts.1.serial": "E-2"}))
    assert serials_of(fix) == {"E-2"}
    whole = Event.parse(*correct(done, {"payload.parts": [{"part": "x", "serial": "E-3"}, "y"]}))
    assert serials_of(whole) == {"E-3"}
    assert serials_of(Event.parse(*correct(done, {"narrative": "E-4"}))) == frozenset()
