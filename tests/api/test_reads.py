"""Reads through HTTP: asset state and timeline at (as_of, known_at), before and after
a late report and a retraction; lists; reference data; read-your-writes."""

from __future__ import annotations

from typing import Any

import pytest

from tests import wire
from tests.api.conftest import Api


def project(api: Api) -> None:
    api.ledger.runner.catch_up()


def post(api: Api, body: dict[str, Any], role: str = "admin") -> dict[str, Any]:
    r = api.post(body, role=role)
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture
def story(seeded: Api) -> Api:
    """t1 captured by an armed group in June 2014, recovered by a militia in 2015."""
    post(
        seeded,
        wire.capture(["t1", "t2"], "isil", event_id="cap", occurred_at="2014-06-10T00:00:00Z"),
    )
    post(
        seeded,
        wire.event(
            "asset_recovered",
            {"recovered_by_party": "pmf", "circumstances": "battle"},
            asset_ids=["t1"],
            event_id="rec",
            occurred_at="2015-03-01T00:00:00Z",
        ),
    )
    project(seeded)
    return seeded


def test_current_state_comes_from_the_projection(story: Api) -> None:
    r = story.get("/v1/assets/t1", role="investigator")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["custodian"] == "pmf"
    assert body["status"] == "IN_CUSTODY"
    assert body["custodian_authorised"] is False
    assert body["accounted_for"] is False
    assert body["last_event_id"] == "rec"
    assert int(r.headers["X-Ledger-Position"]) == story.log_size()


def test_state_as_of_a_past_valid_time(story: Api) -> None:
    body = story.get("/v1/assets/t1?as_of=2014-07-01T00:00:00Z").json()
    assert body["custodian"] == "isil"
    before = story.get("/v1/assets/t1?as_of=2014-05-01T00:00:00Z").json()
    assert before["custodian"] == "iq-army"
    assert before["accounted_for"] is True


def test_a_late_report_rewrites_the_past_only_from_when_it_was_known(story: Api) -> None:
    knew_before = story.get("/v1/events/rec").json()["recorded_at"]
    # Reported now: t1 was in fact handed from the militia to the 9th division in 2016.
    post(
        story,
        wire.transfer(["t1"], "pmf", "iq-9th", event_id="late", occurred_at="2016-01-01T00:00:00Z"),
    )
    project(story)
    now = story.get("/v1/assets/t1?as_of=2016-06-01T00:00:00Z").json()
    assert now["custodian"] == "iq-9th"
    then = story.get(f"/v1/assets/t1?as_of=2016-06-01T00:00:00Z&known_at={knew_before}").json()
    assert then["custodian"] == "pmf"


def test_a_retraction_restores_the_earlier_state_for_later_knowledge(story: Api) -> None:
    before_retraction = story.get("/v1/events/rec").json()["recorded_at"]
    post(story, wire.retraction("rec", event_id="ret"))
    project(story)
    assert story.get("/v1/assets/t1").json()["custodian"] == "isil"
    assert story.get(f"/v1/assets/t1?known_at={before_retraction}").json()["custodian"] == "pmf"
    event = story.get("/v1/events/rec").json()
    assert [a["event_id"] for a in event["retracted_by"]] == ["ret"]


def test_the_timeline_strikes_retracted_events_and_draws_bands(story: Api) -> None:
    post(story, wire.retraction("rec", event_id="ret"))
    project(story)
    tl = story.get("/v1/assets/t1/timeline").json()
    rec = next(e for e in tl["events"] if e["event_id"] == "rec")
    assert rec["retracted"]["event_id"] == "ret"
    custodians = [b["custodian"] for b in tl["bands"]]
    assert custodians == ["iq-army", "isil"]
    assert tl["related_assets"] == ["t2"]
    known_then = story.get(f"/v1/assets/t1/timeline?known_at={rec['recorded_at']}").json()
    assert [b["custodian"] for b in known_then["bands"]] == ["iq-army", "isil", "pmf"]


def test_a_correction_shows_before_and_after(story: Api) -> None:
    post(story, wire.correction("rec", {"payload.recovered_by_party": "iq-9th"}, event_id="cor"))
    project(story)
    tl = story.get("/v1/assets/t1/timeline").json()
    rec = next(e for e in tl["events"] if e["event_id"] == "rec")
    assert rec["corrections"][0]["fields"]["payload.recovered_by_party"] == {
        "before": "pmf",
        "after": "iq-9th",
    }
    assert story.get("/v1/assets/t1").json()["custodian"] == "iq-9th"


def test_list_filters_by_custodian_and_accounted(story: Api) -> None:
    r = story.get("/v1/assets?accounted=false", role="investigator").json()
    assert sorted(a["asset_id"] for a in r["assets"]) == ["t1", "t2"]
    r = story.get("/v1/assets?custodian=iq-army").json()
    assert [a["asset_id"] for a in r["assets"]] == ["t3"]
    page1 = story.get("/v1/assets?limit=2").json()
    assert len(page1["assets"]) == 2 and page1["cursor"]
    page2 = story.get(f"/v1/assets?limit=2&cursor={page1['cursor']}").json()
    assert [a["asset_id"] for a in page2["assets"]] == ["t3"]
    past = story.get("/v1/assets?custodian=iq-army&as_of=2014-01-02T00:00:00Z").json()
    assert sorted(a["asset_id"] for a in past["assets"]) == ["t1", "t2", "t3"]


def test_min_position_waits_for_projections_else_503(seeded: Api) -> None:
    written = post(seeded, wire.capture(["t3"], "isil"))
    r = seeded.get(f"/v1/assets/t3?min_position={written['position']}")
    assert r.status_code == 503
    assert r.json()["lag"] >= 1
    project(seeded)
    r = seeded.get(f"/v1/assets/t3?min_position={written['position']}")
    assert r.status_code == 200
    assert r.json()["custodian"] == "isil"


def test_reference_data_as_known(story: Api) -> None:
    parties = story.get("/v1/parties", role="investigator").json()["parties"]
    assert {"iq-army", "isil", "pmf"} <= {p["party_id"] for p in parties}
    army = story.get("/v1/parties/iq-army").json()
    assert army["parent"] == "iq-gov" and army["children"] == ["iq-9th"]
    assert story.get("/v1/facilities").json()["facilities"][0]["facility_id"] == "besmaya-depot"
    contract = story.get("/v1/contracts/fms-1").json()
    assert contract["terms"]["unaccounted_max_days"] == 30
    assert contract["authorizations"][0]["subject_id"] == "iq-army"
    assert story.get("/v1/contracts/nope").status_code == 404


def test_readiness_reports_projection_lag(seeded: Api) -> None:
    body = seeded.client.get("/readyz").json()
    assert body["projections"]["lag"] == body["head"]
    project(seeded)
    assert seeded.client.get("/readyz").json()["projections"]["lag"] == 0


def test_bad_as_of_is_a_problem_naming_it(story: Api) -> None:
    r = story.get("/v1/assets/t1?as_of=yesterday")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "as_of"
