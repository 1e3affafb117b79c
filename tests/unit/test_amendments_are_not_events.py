"""Retractions and corrections amend the record; they are not events of the asset
(DOMAIN.md §5, R08), so no rule may take one as its trigger — whatever the event they
amend, and even when their envelope names the asset (issue #17, item 4)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain.rules.evaluation import findings_at
from domain.rules.findings import ClearReason
from domain.rules.tracking import life
from domain.state import History
from domain.vocabulary import EventType
from tests.unit.builders import (
    Logged,
    capture,
    contract,
    contract_action,
    correct,
    decommission,
    destroy,
    disable,
    event,
    facility,
    grant,
    inventory,
    lose,
    observe,
    party,
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

# One event of each type an asset can have, dated after the asset's destruction.
AFTER = "2015-01-01"
TARGETS: dict[str, Callable[[], Logged]] = {
    "custody_transferred": lambda: transfer("A1", "9th-div", "pmf", at=AFTER),
    "asset_captured": lambda: capture("A1", "isis", at=AFTER),
    "asset_recovered": lambda: recover("A1", "pmf", at=AFTER),
    "loss_reported": lambda: lose("A1", at=AFTER),
    "asset_disabled": lambda: disable("A1", at=AFTER),
    "asset_destroyed": lambda: destroy("A1", at=AFTER),
    "asset_decommissioned": lambda: decommission("A1", at=AFTER),
    "repair_started": lambda: repair_start("A1", performer="pmf", at=AFTER),
    "repair_completed": lambda: repair_complete("A1", performer="pmf", at=AFTER),
    "inventory_completed": lambda: inventory({"A1": "absent"}, scope=["army"], at=AFTER),
    "observation": lambda: observe("A1", "pmf", at=AFTER),
    "support_provided": lambda: support("A1", at=AFTER),
    "contract_action": lambda: contract_action("SUPPORT_SUSPENDED", ["A1"], at=AFTER),
    "finding_dispositioned": lambda: event(
        "finding_dispositioned",
        {"finding_key": "R08/x/A1", "disposition": "dismissed", "rationale": "noise"},
        asset_ids=["A1"],
        at=AFTER,
    ),
}


def test_every_asset_event_type_has_a_target_here() -> None:
    wanted = {t.value for t in EventType} - {
        "party_registered",
        "party_reclassified",
        "facility_registered",
        "contract_registered",
        "authorization_granted",
        "authorization_revoked",
        "asset_registered",
        "event_retracted",
        "event_corrected",
    }
    assert set(TARGETS) == wanted


@pytest.mark.parametrize("kind", sorted(TARGETS))
@pytest.mark.parametrize("terminal", [destroy, decommission])
def test_an_amendment_naming_the_asset_is_never_a_trigger(
    kind: str, terminal: Callable[..., Logged]
) -> None:
    """The asset is terminal, so any event of it would be an R08 — a retraction or
    correction naming it, reported later, is none; nor any other rule's trigger."""
    target = TARGETS[kind]()
    amendments = [
        correct(target, {"narrative": "re-read"}, asset_ids=["A1"], at="2015-02-01"),
        correct(target, {"occurred_at": "2015-01-02T00:00:00Z"}, asset_ids=["A1"], at="2015-02-02"),
        retract(target, asset_ids=["A1"], at="2015-03-01", reported="2016-01-01"),
    ]
    logged = [*world(), register("A1"), terminal("A1", at="2014-06-10"), target, *amendments]
    h = History(logged)
    amendment_ids = {a[1]["event_id"] for a in amendments}
    for k in [None, *h.log.knowledge_instants()]:
        for f in findings_at(h, k):
            assert f.trigger_event_id not in amendment_ids, (k, f.finding_key)
    for x in life(h).values():
        for change in x.changes:
            if change.finding is not None:
                assert change.finding.trigger_event_id not in amendment_ids, x.key


def test_a_retraction_of_a_sighting_of_a_wreck_voids_its_r08_and_raises_none() -> None:
    """The issue's case: a sighting of a destroyed tank in use (R08), then its
    retraction naming the tank."""
    seen = observe("A1", "pmf", at="2015-01-01", event_id="seen")
    withdrawn = retract(seen, asset_ids=["A1"], at="2015-02-01", event_id="withdrawn")
    h = History([*world(), register("A1"), destroy("A1", at="2014-06-10"), seen, withdrawn])
    lives = life(h)
    assert {k for k in lives if k.startswith("R08/")} == {"R08/seen/A1"}
    cleared = lives["R08/seen/A1"].at(None)
    assert cleared is not None and cleared.clear_reason is ClearReason.VOIDED_TRIGGER_RETRACTED
    assert not [f for f in findings_at(h, None) if f.rule == "R08"]


REFERENCE: dict[str, Callable[[], Logged]] = {
    "party_registered": lambda: party("scrap-co", "contractor", at=AFTER),
    "party_reclassified": lambda: reclassify("pmf", "armed_group", at=AFTER),
    "facility_registered": lambda: facility("yard", at=AFTER),
    "contract_registered": lambda: contract("C2", at=AFTER),
    "authorization_granted": lambda: grant("AUTH-PMF", "pmf", at=AFTER),
    "authorization_revoked": lambda: revoke("AUTH-ARMY", AFTER, at=AFTER),
}


@pytest.mark.parametrize("kind", sorted(REFERENCE))
def test_an_amendment_of_reference_data_naming_the_asset_is_never_a_trigger(kind: str) -> None:
    target = REFERENCE[kind]()
    amendments = [
        correct(target, {"narrative": "re-read"}, asset_ids=["A1"], at="2015-02-01"),
        retract(target, asset_ids=["A1"], at="2015-03-01"),
    ]
    h = History([*world(), register("A1"), destroy("A1", at="2014-06-10"), target, *amendments])
    amendment_ids = {a[1]["event_id"] for a in amendments}
    for x in life(h).values():
        for change in x.changes:
            if change.finding is not None:
                assert change.finding.trigger_event_id not in amendment_ids, x.key
