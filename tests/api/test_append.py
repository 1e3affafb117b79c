"""Appends that succeed: results, idempotent retries, batches, multi-asset events,
the role matrix and the log read."""

from __future__ import annotations

import pytest

from tests import wire
from tests.api.conftest import Api


def test_append_answers_position_hash_and_recorded_at(seeded: Api) -> None:
    before = seeded.log_size()
    r = seeded.post(wire.transfer(["t1"], "iq-army", "iq-9th", event_id="tr-1"), role="writer")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["event_id"] == "tr-1"
    assert body["position"] == before + 1
    assert len(body["hash"]) == 64
    assert body["recorded_at"].endswith("Z")


def test_server_makes_an_event_id_when_none_is_sent(seeded: Api) -> None:
    body = wire.transfer(["t1"], "iq-army", "iq-9th")
    del body["event_id"]
    r = seeded.post(body)
    assert r.status_code == 201
    assert len(r.json()["event_id"]) == 36


def test_same_event_id_and_body_returns_the_first_result_and_stores_nothing(seeded: Api) -> None:
    body = wire.transfer(["t1"], "iq-army", "iq-9th", event_id="tr-1")
    first = seeded.post(body, role="writer")
    size = seeded.log_size()
    again = seeded.post(body, role="writer")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert seeded.log_size() == size


def test_retry_of_a_historical_import_is_idempotent(seeded: Api) -> None:
    body = wire.transfer(
        ["t1"], "iq-army", "iq-9th", event_id="imp-1", reported_at="2015-01-01T00:00:00+01:00"
    )
    first = seeded.post(body, role="importer")
    assert first.status_code == 201
    again = seeded.post(body, role="importer")
    assert again.status_code == 200
    assert again.json() == first.json()
    stored = seeded.get("/v1/events/imp-1").json()
    assert stored["reported_at"] == "2014-12-31T23:00:00.000000Z"
    assert stored["recorded_by"] == "importer"


def test_recorded_by_comes_from_the_key_never_the_body(seeded: Api) -> None:
    body = {**wire.transfer(["t1"], "iq-army", "iq-9th"), "recorded_by": "someone-else"}
    assert seeded.post(body).status_code == 422
    body.pop("recorded_by")
    r = seeded.post(body, role="writer")
    assert seeded.get(f"/v1/events/{r.json()['event_id']}").json()["recorded_by"] == "writer"


def test_a_capture_of_two_assets_is_one_event_at_one_position(seeded: Api) -> None:
    before = seeded.log_size()
    r = seeded.post(wire.capture(["t1", "t2"], "isil", event_id="cap-1"), role="writer")
    assert r.status_code == 201, r.text
    assert seeded.log_size() == before + 1
    stored = seeded.get("/v1/events/cap-1").json()
    assert stored["asset_ids"] == ["t1", "t2"]
    assert stored["position"] == r.json()["position"]


def test_expected_version_counts_the_events_naming_the_asset(seeded: Api) -> None:
    # t1: registered (1); the capture of t1 and t2 makes t1 version 2.
    assert seeded.post(wire.capture(["t1", "t2"], "isil")).status_code == 201
    ok = seeded.post(wire.transfer(["t1"], "isil", "pmf", expected_version=2))
    assert ok.status_code == 201, ok.text
    stale = seeded.post(wire.transfer(["t1"], "pmf", "isil", expected_version=2))
    assert stale.status_code == 409
    by_map = seeded.post(wire.transfer(["t1"], "pmf", "isil", expected_version={"t1": 3}))
    assert by_map.status_code == 201, by_map.text
    header = seeded.post(wire.transfer(["t2"], "isil", "pmf"), headers={"If-Match": '"2"'})
    assert header.status_code == 201, header.text


def test_a_batch_is_stored_in_order_with_consecutive_positions(api: Api) -> None:
    before = api.log_size()
    events = [*wire.reference_world(), wire.asset("t1"), wire.capture(["t1"], "isil")]
    r = api.batch(events)
    assert r.status_code == 201, r.text
    positions = [x["position"] for x in r.json()["results"]]
    assert positions == list(range(before + 1, before + 1 + len(events)))


def test_one_bad_event_in_a_batch_of_1000_stores_none(seeded: Api) -> None:
    events = [
        wire.transfer(
            ["t1"], "iq-army" if i % 2 == 0 else "iq-9th", "iq-9th" if i % 2 == 0 else "iq-army"
        )
        for i in range(1000)
    ]
    events[737] = wire.transfer(["t1"], "iq-army", "ghost")
    before = seeded.log_size()
    r = seeded.batch(events)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["events[737].payload.to_party"]
    assert seeded.log_size() == before
    events[737] = wire.transfer(["t1"], "iq-army", "iq-9th")
    r = seeded.batch(events)
    assert r.status_code == 201
    assert seeded.log_size() == before + 1000


def test_a_batch_over_1000_events_is_rejected(seeded: Api) -> None:
    events = [wire.transfer(["t1"], "iq-army", "iq-9th") for _ in range(1001)]
    r = seeded.batch(events)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "events"


def test_schema_errors_in_a_batch_name_the_event(seeded: Api) -> None:
    events = [wire.transfer(["t1"], "iq-army", "iq-9th") for _ in range(3)]
    events[1]["confidence"] = "certain"
    r = seeded.batch(events)
    assert r.status_code == 422
    assert "events[1].confidence" in [e["field"] for e in r.json()["errors"]]


def test_a_replayed_batch_returns_the_first_results(seeded: Api) -> None:
    events = [
        wire.transfer(["t1"], "iq-army", "iq-9th"),
        wire.transfer(["t1"], "iq-9th", "iq-army"),
    ]
    first = seeded.batch(events)
    size = seeded.log_size()
    again = seeded.batch(events)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert seeded.log_size() == size


def test_events_registered_earlier_in_a_batch_can_be_referenced(api: Api) -> None:
    r = api.batch(
        [
            wire.party("us-gov"),
            wire.party("iq-gov", reporter="us-gov"),
            wire.contract(title_holder="iq-gov"),
            wire.asset("t1", custodian="iq-gov"),
            wire.capture(["t1"], "iq-gov", event_id="c1"),
            wire.retraction("c1"),
        ]
    )
    assert r.status_code == 201, r.text


# --- the role matrix (SPEC.md §2) -------------------------------------------------------------

READS = ["/v1/events/ev-x", "/v1/events?after=0"]


@pytest.mark.parametrize(
    ("role", "asset_event", "reference_event", "historical", "read_event", "read_log"),
    [
        ("writer", 201, 403, 403, 403, 403),
        ("importer", 201, 403, 201, 403, 403),
        ("investigator", 403, 403, 403, 404, 403),
        ("auditor", 403, 403, 403, 404, 200),
        ("admin", 201, 201, 201, 404, 200),
    ],
)
def test_role_matrix(
    seeded: Api,
    role: str,
    asset_event: int,
    reference_event: int,
    historical: int,
    read_event: int,
    read_log: int,
) -> None:
    assert (
        seeded.post(wire.transfer(["t1"], "iq-army", "iq-9th"), role=role).status_code
        == asset_event
    )
    assert (
        seeded.post(wire.party(f"p-{role}", reporter="us-gov"), role=role).status_code
        == reference_event
    )
    imported = wire.transfer(["t2"], "iq-army", "iq-9th", reported_at="2015-01-01T00:00:00Z")
    assert seeded.post(imported, role=role).status_code == historical
    assert seeded.get("/v1/events/ev-x", role=role).status_code == read_event
    assert seeded.get("/v1/events?after=0", role=role).status_code == read_log


def test_reading_the_log_pages_in_position_order(seeded: Api) -> None:
    head = seeded.log_size()
    seen: list[int] = []
    after = 0
    while True:
        page = seeded.get(f"/v1/events?after={after}&limit=4", role="auditor")
        assert page.status_code == 200
        body = page.json()
        seen += [e["position"] for e in body["events"]]
        if body["next_after"] is None:
            break
        after = body["next_after"]
    assert seen == list(range(1, head + 1))
    assert page.headers["X-Ledger-Position"] == str(head)


def test_openapi_documents_each_event_type_and_the_errors(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    post = spec["paths"]["/v1/events"]["post"]
    for code in ("401", "403", "409", "413", "422"):
        assert code in post["responses"]
    schemas = spec["components"]["schemas"]
    assert "AssetCapturedEvent" in schemas
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_a_retried_batch_of_registrations_is_a_replay_not_a_conflict(api: Api) -> None:
    world = wire.reference_world()
    first = api.batch(world)
    again = api.batch(world)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
