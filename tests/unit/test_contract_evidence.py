"""A contract's evidence bundle holds every event its answer depends on: the subjects
``contract_subjects`` names, over members read off the registrations, give the same
report as the whole log — also when corrections move an asset between contracts in
ways the fold resolves only by knowledge order, and when an inventory of another
contract names (by omission) one of this contract's assets."""

from __future__ import annotations

from domain.history import Event
from domain.rules.lives import Window
from ledger.integrity.evidence_format import (
    contract_answer,
    contract_members,
    contract_subjects,
    subjects_of,
)
from ledger.projections.custody_queries import REGISTRATIONS
from tests.unit.builders import (
    T,
    contract,
    correct,
    inventory,
    register,
    retract,
    transfer,
    world,
)


def _bundled(logged: list, contract_id: str) -> tuple[list[Event], list[Event]]:
    events = [Event.parse(p, r) for p, r in logged]
    filed = subjects_of(events)
    registrations = [e for e in events if REGISTRATIONS in filed[e.event_id]]
    subjects = set(contract_subjects(contract_id, contract_members(registrations, contract_id)))
    return events, [e for e in events if subjects & set(filed[e.event_id])]


def _same_report(events: list[Event], bundled: list[Event], contract_id: str) -> None:
    k = T("2012-01-01")
    head = (len(events), "00" * 32)
    whole = contract_answer(events, contract_id, k, k, head, Window())
    assert contract_answer(bundled, contract_id, k, k, head, Window()) == whole


def test_a_correction_that_applies_only_once_another_is_retracted_keeps_the_asset() -> None:
    """c2 moves X to C2 but applies (on top of c1's value) only once c1 is retracted:
    applied in position order with c1 the chain would never reach C2."""
    reg = register("X", contract_id="C1", at="2011-01-01")
    c1 = correct(reg, {"extensions.x": "s"}, at="2011-02-01")
    c2 = correct(reg, {"extensions.x.y": 1, "payload.contract_id": "C2"}, at="2011-02-02")
    moved = transfer("X", "9th-div", "army", at="2011-03-01")
    logged = [
        *world(),
        contract("C2", at="2010-01-01"),
        reg,
        c1,
        c2,
        retract(c1, at="2011-02-03"),
        moved,
    ]
    events, bundled = _bundled(logged, "C2")
    assert moved[1]["event_id"] in {e.event_id for e in bundled}
    _same_report(events, bundled, "C2")


def test_an_inventory_of_another_contract_is_in_the_bundle() -> None:
    """R14: an inventory of X's custodian that lists only Y (of C2) finds X missing."""
    logged = [
        *world(),
        register("X", at="2011-01-01"),
        contract("C2"),
        register("Y", contract_id="C2", at="2011-01-01"),
        inventory({"Y": "present"}, scope="9th-div", at="2011-06-01"),
    ]
    events, bundled = _bundled(logged, "C1")
    assert any(e.type.value == "inventory_completed" for e in bundled)
    _same_report(events, bundled, "C1")


def test_members_are_named_by_payload_envelope_or_any_correction() -> None:
    a = register("A", contract_id="C1", at="2011-01-01")
    b = register("B", contract_id="C1", at="2011-01-01")
    logged = [*world(), contract("C2"), a, b, correct(b, {"payload.contract_id": "C2"})]
    events = [Event.parse(p, r) for p, r in logged]
    assert contract_members(events, "C1") == ["A", "B"]
    assert contract_members(events, "C2") == ["B"]
    assert contract_members(events, "C3") == []
