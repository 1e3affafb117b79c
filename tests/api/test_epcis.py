"""``/v1/epcis`` over HTTP: export pages that validate against GS1's schema, capture of
the standard's own examples (or their precise refusal), roles, idempotency, problems
naming the EPCIS event and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ledger.epcis import mapping as mp
from ledger.epcis.schema import problems
from tests import wire
from tests.api.conftest import Api

SHARED = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "epcis"
CAPTURE = "/v1/epcis/capture"
EVENTS = "/v1/epcis/events"
SGTINS = ("urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018")


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SHARED / name).read_text())
    return loaded


def _capture(api: Api, doc: Any, role: str = "admin", party: str | None = None) -> Any:
    headers = {**api.headers(role, party), "Content-Type": "application/ld+json"}
    return api.client.post(CAPTURE, content=json.dumps(doc), headers=headers)


def _with_gs1_assets(api: Api) -> None:
    """The reference world and the two serials of GS1's examples, as assets."""
    api.seed()
    api.seed([wire.asset(s, serial=s.rsplit(".", 1)[1]) for s in SGTINS])


def _ids(page: dict[str, Any]) -> list[str]:
    return [e["eventID"] for e in page["epcisBody"]["eventList"]]


def test_the_export_is_a_valid_epcis_document_paged_by_cursor(seeded: Api) -> None:
    whole = seeded.get(EVENTS, role="auditor", params={"limit": 1000})
    assert whole.status_code == 200, whole.text
    doc = whole.json()
    assert list(problems(doc)) == []
    assert doc[mp.NEXT_CURSOR] is None
    assert len(doc["epcisBody"]["eventList"]) == seeded.log_size()
    pages: list[str] = []
    params: dict[str, Any] = {"limit": 4}
    while True:
        page = seeded.get(EVENTS, role="auditor", params=params).json()
        assert list(problems(page)) == []
        pages += _ids(page)
        if page[mp.NEXT_CURSOR] is None:
            break
        params["cursor"] = page[mp.NEXT_CURSOR]
    assert pages == _ids(doc)


def test_the_export_filters_by_asset_and_time(seeded: Api) -> None:
    page = seeded.get(EVENTS, role="auditor", params={"asset": "t2"}).json()
    assert [e[mp.EVENT]["type"] for e in page["epcisBody"]["eventList"]] == ["asset_registered"]
    assert page["epcisBody"]["eventList"][0]["epcList"] == [mp.ASSET_URN + "t2"]
    later = seeded.get(EVENTS, role="auditor", params={"event_time_from": "2030-01-01T00:00:00Z"})
    assert later.json()["epcisBody"]["eventList"] == []


def test_the_export_is_for_auditors_and_refuses_a_bad_query(seeded: Api) -> None:
    assert seeded.get(EVENTS, role="investigator").status_code == 403
    assert seeded.get(EVENTS, role="writer").status_code == 403
    bad = seeded.get(EVENTS, params={"event_time_from": "yesterday"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "event_time_from"
    assert seeded.get(EVENTS, params={"cursor": "-1"}).status_code == 422


def test_the_standard_s_object_event_example_captures_once(api: Api) -> None:
    _with_gs1_assets(api)
    before = api.log_size()
    doc = _example("Example_9.6.1-ObjectEvent.jsonld")
    r = _capture(api, doc, role="writer", party="iq-army")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["stored"], body["replayed"]) == (2, 0)
    assert api.log_size() == before + 2
    first = api.get(f"/v1/events/{body['results'][0]['event_id']}").json()
    assert first["type"] == "observation" and first["reporter"] == "iq-army"
    assert first["asset_ids"] == list(SGTINS)
    again = _capture(api, doc, role="writer", party="iq-army")
    assert again.status_code == 200 and again.json()["replayed"] == 2
    assert api.log_size() == before + 2


def test_the_error_declaration_example_retracts_a_known_event_only(api: Api) -> None:
    _with_gs1_assets(api)
    doc = _example("Example_9.6.1-ObjectEvent-with-error-declaration.jsonld")
    before = api.log_size()
    refused = _capture(api, doc, role="writer", party="iq-army")
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert errors[0]["field"] == "epcisBody.eventList[0].eventID"
    assert "unknown event 'cbv-sha256-aa49daa1" in errors[0]["message"]
    assert api.log_size() == before  # the other event was not stored either
    # Once the declared event is known, the declaration retracts it.
    original = copy.deepcopy(doc)
    del original["epcisBody"]["eventList"][0]["errorDeclaration"]
    assert _capture(api, original, role="writer", party="iq-army").status_code == 201
    r = _capture(api, doc, role="writer", party="iq-army")
    assert r.status_code == 201, r.text
    assert (r.json()["stored"], r.json()["replayed"]) == (1, 1)
    target = r.json()["results"][0]
    retraction = api.get(f"/v1/events/{target['event_id']}").json()
    assert retraction["type"] == "event_retracted"
    api.ledger.runner.catch_up()  # amendments are read from the custody projection
    declared = api.get(f"/v1/events/{retraction['payload']['target_event_id']}").json()
    assert [x["event_id"] for x in declared["retracted_by"]] == [target["event_id"]]


def test_examples_the_ledger_cannot_hold_are_refused_whole_with_the_reason(api: Api) -> None:
    _with_gs1_assets(api)
    before = api.log_size()
    cases = {
        "Example_9.6.3-AggregationEvent.jsonld": (
            "epcisBody.eventList[0].type",
            "AggregationEvent",
        ),
        "ErrorDeclarationAndCorrectiveEvent.jsonld": (
            "epcisBody.eventList[0].type",
            "TransformationEvent",
        ),
        "object_event_all_possible_fields.jsonld": (
            "epcisBody.eventList[0].eventID",
            "unknown event 'urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8'",
        ),
    }
    for name, (field, reason) in cases.items():
        r = _capture(api, _example(name), role="writer", party="iq-army")
        assert r.status_code == 422, (name, r.text)
        first = r.json()["errors"][0]
        assert first["field"] == field, name
        assert reason in first["message"], name
    assert api.log_size() == before


def test_capture_keeps_the_roles_of_the_append_path(api: Api) -> None:
    api.seed()
    doc = mp.document(
        [mp.object_event(wire.party("new-unit", reporter="us-gov") | {"asset_ids": []})],
        "2014-01-01T00:00:00Z",
    )
    assert _capture(api, doc, role="investigator").status_code == 403
    r = _capture(api, doc, role="writer")
    assert r.status_code == 403 and "admin only" in r.text
    assert _capture(api, doc, role="admin").status_code == 201


def test_a_schema_invalid_document_names_the_field(api: Api) -> None:
    api.seed()
    doc = _example("Example_9.6.1-ObjectEvent.jsonld")
    doc["epcisBody"]["eventList"][1]["eventTimeZoneOffset"] = "+25:00"
    r = _capture(api, doc, role="writer", party="iq-army")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "epcisBody.eventList[1].eventTimeZoneOffset"


def test_a_capture_may_be_larger_than_one_event_s_body(api: Api) -> None:
    api.seed()
    api.seed([wire.asset("t1")])
    seen = {
        "type": "ObjectEvent",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [mp.ASSET_URN + "t1"],
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
    }
    events = [
        {**seen, "eventTime": f"2014-02-01T00:{i // 60:02d}:{i % 60:02d}Z", "x:pad": "p" * 400}
        for i in range(700)
    ]
    doc = mp.document(events, "2014-03-01T00:00:00Z")
    doc["@context"] = [mp.GS1_CONTEXT, {"x": "https://example.org/x/"}]
    assert len(json.dumps(doc)) > 256 * 1024
    r = _capture(api, doc, role="writer", party="iq-army")
    assert r.status_code == 201, r.text[:500]
    assert r.json()["stored"] == 700


def test_the_documented_capture_example_is_accepted_after_the_event_examples(api: Api) -> None:
    from api.openapi import EVENT_EXAMPLES
    from api.routes.epcis import CAPTURE_EXAMPLE

    for _, _, body in EVENT_EXAMPLES:
        assert api.post(body).status_code == 201
    doc = api.client.get("/openapi.json").json()
    media = doc["paths"][CAPTURE]["post"]["requestBody"]["content"]["application/ld+json"]
    example = media["examples"]["observation"]["value"]
    assert example == CAPTURE_EXAMPLE
    assert list(problems(example)) == []
    r = _capture(api, example)
    assert r.status_code == 201, r.text
    assert r.json()["results"][0]["event_id"] == example["epcisBody"]["eventList"][0]["eventID"]
