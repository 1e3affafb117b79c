"""The documented examples are real requests: posted in the documented order to an empty
ledger with an admin key, each is accepted; they are valid against the documented
schemas; their event ids are distinct; and the documented path and query parameter
examples name things those requests made."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs

from domain.vocabulary import EventType
from tests.api.conftest import Api

APPENDS = ("/v1/events", "/v1/events:batch")


def _doc(api: Api) -> dict[str, Any]:
    doc: dict[str, Any] = api.client.get("/openapi.json").json()
    return doc


def _examples(doc: dict[str, Any], path: str) -> list[tuple[str, Any]]:
    """The request examples of ``POST path``, in their documented order."""
    media = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return [(name, example["value"]) for name, example in media["examples"].items()]


def _events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    single = [body for _, body in _examples(doc, "/v1/events")]
    batched = [e for _, body in _examples(doc, "/v1/events:batch") for e in body["events"]]
    return single + batched


def _post_all(api: Api, doc: dict[str, Any]) -> list[tuple[str, str, Any]]:
    answers = []
    for path in APPENDS:
        for name, body in _examples(doc, path):
            r = api.client.post(path, json=body, headers=api.headers("admin"))
            answers.append((path, name, r))
    return answers


def test_documented_examples_are_accepted_in_their_order_on_an_empty_ledger(api: Api) -> None:
    doc = _doc(api)
    assert api.log_size() == 0
    answers = _post_all(api, doc)
    refused = [
        (path, name, r.status_code, r.text) for path, name, r in answers if r.status_code != 201
    ]
    assert refused == []
    assert api.log_size() == len(_events(doc))
    # Posted again, each is a replay: 200, nothing new stored.
    again = _post_all(api, doc)
    assert {r.status_code for _, _, r in again} == {200}
    assert api.log_size() == len(_events(doc))


def test_documented_examples_are_small_distinct_and_cover_every_event_type(api: Api) -> None:
    doc = _doc(api)
    events = _events(doc)
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "an event id is reused"
    serials = [
        (e["payload"]["model"], e["payload"]["serial"]) for e in events if "serial" in e["payload"]
    ]
    assert len(serials) == len(set(serials))
    assets = [e["asset_ids"][0] for e in events if e["type"] == "asset_registered"]
    assert len(assets) == len(set(assets)) >= 3
    assert {e["type"] for e in events} == {t.value for t in EventType}
    batch = _examples(doc, "/v1/events:batch")
    assert batch and all(len(body["events"]) >= 2 for _, body in batch)
    assert max(len(json.dumps(e)) for e in events) < 1500, "an example is not small"


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    root = {"components": doc["components"], **schema}
    return jsonschema_rs.validator_for(root)


def test_documented_examples_are_valid_against_the_documented_schemas(api: Api) -> None:
    doc = _doc(api)
    problems = []
    for path in APPENDS:
        media = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        validator = _validator(doc, media["schema"])
        for name, body in _examples(doc, path):
            problems += [f"{path} {name}: {e}" for e in validator.iter_errors(body)]
    for name, schema in doc["components"]["schemas"].items():
        for i, example in enumerate(schema.get("examples", [])):
            validator = _validator(doc, {"$ref": f"#/components/schemas/{name}"})
            problems += [f"{name}.examples[{i}]: {e}" for e in validator.iter_errors(example)]
    assert problems == []


def test_each_event_schema_shows_the_examples_of_its_type(api: Api) -> None:
    doc = _doc(api)
    schemas = doc["components"]["schemas"]
    for _, body in _examples(doc, "/v1/events"):
        name = "".join(p.title() for p in body["type"].split("_")) + "Event"
        assert body in schemas[name]["examples"], name


def test_documented_parameter_examples_name_what_the_examples_made(api: Api) -> None:
    doc = _doc(api)
    assert all(r.status_code == 201 for _, _, r in _post_all(api, doc))
    assert api.client.post("/v1/audit/checkpoints", headers=api.headers()).status_code == 201
    api.ledger.runner.catch_up()
    answered = {}
    for path, item in doc["paths"].items():
        operation = item.get("get")
        if operation is None or path == "/v1/events/stream":
            continue
        params = operation.get("parameters", [])
        if any(p["required"] and "example" not in p for p in params):
            continue  # e.g. the consistency proof's tree sizes
        url = path
        for p in params:
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", p["example"])
        query = {p["name"]: p["example"] for p in params if p["in"] == "query" and "example" in p}
        r = api.client.get(url, params=query, headers=api.headers())
        answered[path] = r.status_code
        assert r.status_code == 200, f"{url} {query}: {r.text}"
    named = {"/v1/assets/{asset_id}", "/v1/events/{event_id}", "/v1/parties/{party_id}"}
    named |= {"/v1/contracts/{contract_id}", "/v1/findings/{finding_key}"}
    named |= {"/v1/audit/proof/{event_id}", "/v1/contracts/{contract_id}/report"}
    assert named <= set(answered)
    asset = api.get("/v1/assets/M1A1-0042", params={"as_of": "2015-06-01T00:00:00Z"}).json()
    assert asset["custodian"] == "pmf"  # recovered by the militia, in the story's order
