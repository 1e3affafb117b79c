"""The OpenAPI document describes every answer: each route declares the schema of its
success response, so a client generated from ``/openapi.json`` knows every shape; each
route documents exactly the statuses it answers, problems as problem documents; and the
document states the constraints the server enforces on shape."""

from __future__ import annotations

import copy
import re
import urllib.parse
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.openapi import EVENT_EXAMPLES, IF_MATCH, INSTANT, NO_NUL, PATH_ID
from api.routes.epcis import CAPTURE_EXAMPLE
from ledger.bootstrap import build_ledger
from ledger.integrity.checkpoints import Signer
from ledger.integrity.notes import Note, NoteVerifier, checkpoint_note, cosign
from tests.api.conftest import Api

STREAM = "/v1/events/stream"
COSIGNATURES = "/v1/audit/cosignatures"
EPCIS_CAPTURE = "/v1/epcis/capture"
ROLES = ("writer", "investigator", "auditor")


def _success(operation: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(code, r) for code, r in operation["responses"].items() if code in ("200", "201")]


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_route_documents_its_success_response_schema(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    missing = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            success = _success(operation)
            schemas = [
                media.get("schema")
                for _, response in success
                for media in response.get("content", {}).values()
            ]
            if not success or not any(s and s != {} for s in schemas):
                missing.append(f"{method.upper()} {path}")
    assert missing == []


def test_read_schemas_name_their_fields(api: Api) -> None:
    """Not an empty object: the asset, timeline and findings schemas list fields."""
    doc = api.client.get("/openapi.json").json()
    components = doc["components"]["schemas"]
    for name in ("AssetView", "Timeline", "FindingsPage", "ContractReport", "LogPage"):
        assert components[name]["properties"], name
    asset = doc["paths"]["/v1/assets/{asset_id}"]["get"]
    ref = asset["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/AssetView")


def test_reads_document_not_found_and_not_ready(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    asset = doc["paths"]["/v1/assets/{asset_id}"]["get"]["responses"]
    assert {"404", "503"} <= set(asset)
    assert "409" not in asset and "413" not in asset


def test_no_read_documents_a_conflict_a_body_too_large_or_a_media_type(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    wrong = {
        f"GET {path}: {code}"
        for method, path, operation in _operations(doc)
        if method == "GET"
        for code in operation["responses"]
        if code in ("409", "413", "415")
    }
    assert wrong == set()
    lists = ["/v1/events", "/v1/assets", "/v1/parties", "/v1/facilities", "/v1/findings"]
    assert [p for p in lists if "404" in doc["paths"][p]["get"]["responses"]] == []


def test_problems_are_documented_as_problem_documents(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    for method, path, operation in _operations(doc):
        for code, response in operation["responses"].items():
            if int(code) < 400 or (path == "/readyz" and code == "503"):
                continue
            if path == COSIGNATURES and code == "409":
                # tlog-witness: the size held, as text/x.tlog.size (api.routes.audit).
                assert set(response["content"]) == {"text/x.tlog.size"}
                continue
            assert response["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDoc"}}
            }, f"{method} {path} {code}"
    problem = doc["components"]["schemas"]["ProblemDoc"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"errors", "errors_total", "lag"} <= set(problem["properties"])
    retry = doc["paths"]["/v1/assets"]["get"]["responses"]["503"]["headers"]
    assert "Retry-After" in retry


# --- documented statuses are the statuses the routes answer ------------------------------


class Calls:
    """Requests made to drive each operation into each answer it can give, and the
    statuses each operation answered."""

    def __init__(self, api: Api, doc: dict[str, Any]) -> None:
        self.api = api
        self.doc = doc
        self.answered: dict[str, set[int]] = defaultdict(set)

    def call(
        self,
        op: str,
        url: str,
        role: str | None = "admin",
        client: TestClient | None = None,
        **kw: Any,
    ) -> Any:
        headers = dict(kw.pop("headers", {}))
        if role is not None:
            headers.update(self.api.headers(role))
        method = op.split(" ", 1)[0]
        r = (client or self.api.client).request(method, url, headers=headers, **kw)
        self.answered[op].add(r.status_code)
        return r


def _url(path: str, operation: dict[str, Any], **values: str) -> str:
    for p in operation.get("parameters", []):
        if p["in"] == "path":
            value = values.get(p["name"], p.get("example"))
            path = path.replace("{" + p["name"] + "}", str(value))
    return path


def _query(operation: dict[str, Any]) -> dict[str, Any]:
    return {
        p["name"]: p["example"]
        for p in operation.get("parameters", [])
        if p["in"] == "query" and "example" in p
    }


def _refused_value(schema: dict[str, Any]) -> str:
    """A query value the parameter's schema refuses."""
    if schema.get("type") == "integer":
        return "one"
    if schema.get("type") == "boolean":
        return "maybe"
    if schema.get("pattern", NO_NUL) != NO_NUL:
        return "!!"
    return "a\x00b"


def _observation(event_id: str) -> dict[str, Any]:
    body = next(b for _, _, b in EVENT_EXAMPLES if b["type"] == "observation")
    return {**body, "event_id": event_id}


def _epcis(event_id: str) -> dict[str, Any]:
    """An EPCIS document of one observation in the ledger's own form (api.routes.epcis)."""
    doc = copy.deepcopy(CAPTURE_EXAMPLE)
    doc["epcisBody"]["eventList"][0]["ledger:event"]["event_id"] = event_id
    return doc


def _body(path: str, n: list[int] = [0]) -> dict[str, Any] | None:  # noqa: B006
    """A new event for an append (a fresh id each time), else no body."""
    n[0] += 1
    if path == EPCIS_CAPTURE:
        return _epcis(f"ex-epcis-drive-{n[0]}")
    if path == "/v1/events":
        return _observation(f"ex-drive-{n[0]}")
    if path == "/v1/events:batch":
        return {"events": [_observation(f"ex-drive-{n[0]}")]}
    return None


def _drive(calls: Calls, tree_size: int) -> None:
    """Every operation: success, no key, each other role, an unknown id, each bad query
    parameter, an unknown query parameter."""
    for method, path, operation in _operations(calls.doc):
        op = f"{method} {path}"
        url, query = _url(path, operation), _query(operation)
        if path == "/v1/audit/consistency":
            query = {"from": tree_size, "to": tree_size}
        if method == "GET" and path != STREAM:
            r = calls.call(op, url, params=query)
            assert r.status_code == 200, f"{op}: {r.text}"
        if operation.get("security"):
            calls.call(op, url, role=None, params=query, json=_body(path))
            # An auditor's stream would never end.
            for role in ROLES if path != STREAM else ("writer", "investigator"):
                calls.call(op, url, role=role, params=query, json=_body(path))
        for p in operation.get("parameters", []):
            if p["in"] == "path":
                calls.call(op, _url(path, operation, **{p["name"]: "no-such-thing"}), params=query)
            if p["in"] == "query":
                bad = {**query, p["name"]: _refused_value(p["schema"])}
                assert calls.call(op, url, params=bad).status_code == 422, (op, bad)
        calls.call(op, url, params={**query, "no_such_parameter": "1"}, json=_body(path))
        r = calls.call(op, url, params={**query, "nul": "a\x00b"}, json=_body(path))
        assert r.status_code == 422, (op, r.text)
    consistency = "GET /v1/audit/consistency"
    calls.call(consistency, "/v1/audit/consistency", params={"from": 1, "to": 10**6})
    calls.call("GET /v1/audit/proof/{event_id}", "/v1/audit/proof/party-us-gov?checkpoint=999999")


def _drive_posts(calls: Calls, limit: int) -> None:
    one, batch, made = "POST /v1/events", "POST /v1/events:batch", "POST /v1/audit/checkpoints"
    assert calls.call(one, "/v1/events", json=_observation("ex-new-1")).status_code == 201
    assert calls.call(one, "/v1/events", json=_observation("ex-new-1")).status_code == 200
    changed = {**_observation("ex-new-1"), "confidence": "doubtful"}
    assert calls.call(one, "/v1/events", json=changed).status_code == 409
    for url, op, body in (
        ("/v1/events:batch", batch, {"events": [_observation("ex-new-2")]}),
        ("/v1/events", one, _observation("ex-new-3")),
    ):
        if op == batch:
            assert calls.call(op, url, json=body).status_code == 201
            assert calls.call(op, url, json=body).status_code == 200
            assert calls.call(op, url, json={"events": [changed]}).status_code == 409
        calls.call(op, url, json={"events": []} if op == batch else {"type": "observation"})
        calls.call(op, url, content=b"{}", headers={"Content-Type": "text/plain"})
        calls.call(
            op, url, content=b"x" * (limit + 1), headers={"Content-Type": "application/json"}
        )
    assert calls.call(made, "/v1/audit/checkpoints").status_code == 201
    assert calls.call(made, "/v1/audit/checkpoints").status_code == 200
    calls.call(made, "/v1/audit/checkpoints", content=b"x" * (256 * 1024 + 1))


def _drive_unhealthy(calls: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every operation with the database unreachable."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(calls.api.ledger.engine, "connect", refuse)
    try:
        for method, path, operation in _operations(calls.doc):
            body = _observation("ex-new-9") if method == "POST" else None
            calls.call(f"{method} {path}", _url(path, operation), json=body)
    finally:
        monkeypatch.undo()


def _drive_epcis(calls: Calls, limit: int) -> None:
    """A capture stored, replayed, conflicting, not JSON, too large."""
    op = f"POST {EPCIS_CAPTURE}"
    assert calls.call(op, EPCIS_CAPTURE, json=_epcis("ex-epcis-1")).status_code == 201
    assert calls.call(op, EPCIS_CAPTURE, json=_epcis("ex-epcis-1")).status_code == 200
    changed = _epcis("ex-epcis-1")
    changed["epcisBody"]["eventList"][0]["ledger:event"]["confidence"] = "doubtful"
    assert calls.call(op, EPCIS_CAPTURE, json=changed).status_code == 409
    calls.call(op, EPCIS_CAPTURE, content=b"{}", headers={"Content-Type": "text/plain"})
    big = b"x" * (limit + 1)
    calls.call(op, EPCIS_CAPTURE, content=big, headers={"Content-Type": "application/json"})


def _witness_vkey(signer: Signer | None = None) -> str:
    return NoteVerifier("w.example/w", 0x04, (signer or _WITNESS).public_key).vkey()


_WITNESS = Signer.generate()


def _drive_witness(calls: Calls, monkeypatch: pytest.MonkeyPatch) -> None:
    """The C2SP checkpoint of a size never signed; a witness's cosignature kept, sent for
    a smaller tree after a larger (409 with the size), not verifying, of another log,
    malformed, and with the database down; a contract-level finding's evidence."""
    note_op, cosig_op = "GET /v1/audit/checkpoint", f"POST {COSIGNATURES}"
    assert calls.call(note_op, "/v1/audit/checkpoint?size=999999").status_code == 404
    first = Note.parse(calls.call(note_op, "/v1/audit/checkpoint").text)
    calls.call("POST /v1/audit/checkpoints", "/v1/audit/checkpoints")
    calls.call("POST /v1/events", "/v1/events", json=_observation("ex-witness-1"))
    calls.call("POST /v1/audit/checkpoints", "/v1/audit/checkpoints")
    later = Note.parse(calls.call(note_op, "/v1/audit/checkpoint").text)
    vkey = _witness_vkey()
    text = {"Content-Type": "text/plain"}

    def send(note: Note, signer: Signer = _WITNESS, **kw: Any) -> int:
        line = cosign(note.text, "w.example/w", signer, 1_700_000_000)
        body = note.with_signatures([line]).encode()
        url = f"{COSIGNATURES}?witness={urllib.parse.quote(vkey)}"
        return int(calls.call(cosig_op, url, content=body, headers=text, **kw).status_code)

    assert send(later) == 200
    assert send(first) == 409
    assert send(later, Signer.generate()) == 403
    foreign = checkpoint_note(Signer.generate(), 1, b"\0" * 32)
    assert send(foreign) == 404
    url = f"{COSIGNATURES}?witness={urllib.parse.quote(vkey)}"
    assert calls.call(cosig_op, url, content=b"not a note", headers=text).status_code == 422
    finding = "GET /v1/evidence/findings/{finding_key}"
    assert calls.call(finding, "/v1/evidence/findings/C01/fms-iq-m1a1/x").status_code == 404
    monkeypatch.setattr(calls.api.ledger.engine, "connect", _refuse)
    try:
        assert send(later) == 503
    finally:
        monkeypatch.undo()


def _refuse(*_: Any, **__: Any) -> Any:
    raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))


def _drive_unsigned(calls: Calls, tmp_path: Path) -> None:
    """Audit operations and appends of a ledger whose signing key is unusable."""
    bad_key = tmp_path / "unusable-key.pem"
    bad_key.write_text("not a key\n")
    bad_key.chmod(0o600)
    settings = calls.api.ledger.settings.model_copy(update={"signing_key_file": bad_key})
    other = build_ledger(settings)
    try:
        with TestClient(create_app(ledger=other), raise_server_exceptions=False) as client:
            for method, path, operation in _operations(calls.doc):
                if not (path.startswith("/v1/audit/") or method == "POST" or "evidence" in path):
                    continue
                query = {"from": 1, "to": 1} if path.endswith("/consistency") else {}
                query = {"witness": _witness_vkey()} if path == COSIGNATURES else query
                body = _observation("ex-new-10") if path == "/v1/events" else None
                body = {"events": [_observation("ex-new-11")]} if path.endswith(":batch") else body
                body = _epcis("ex-epcis-unsigned") if path == EPCIS_CAPTURE else body
                r = calls.call(
                    f"{method} {path}",
                    _url(path, operation),
                    client=client,
                    params=query,
                    json=body,
                )
                assert r.status_code == 500, f"{method} {path}: {r.text}"
    finally:
        other.close()


def test_each_route_documents_exactly_the_statuses_it_answers(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    doc = api.client.get("/openapi.json").json()
    for path in ("/v1/events", "/v1/events:batch"):
        examples = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        for value in examples["examples"].values():
            assert (
                api.client.post(path, json=value["value"], headers=api.headers()).status_code == 201
            )
    made = api.client.post("/v1/audit/checkpoints", headers=api.headers()).json()
    api.ledger.runner.catch_up()
    calls = Calls(api, doc)
    _drive(calls, made["checkpoint"]["tree_size"])
    _drive_posts(calls, api.ledger.settings.max_batch_body_bytes)
    _drive_epcis(calls, api.ledger.settings.max_batch_body_bytes)
    _drive_witness(calls, monkeypatch)
    _drive_unhealthy(calls, monkeypatch)
    _drive_unsigned(calls, tmp_path)
    # A live stream never ends: its 200 is tests/e2e/test_stream.py's to show.
    calls.answered[f"GET {STREAM}"].add(200)
    mismatched = {}
    for method, path, operation in _operations(doc):
        documented = {int(code) for code in operation["responses"]}
        answered = calls.answered[f"{method} {path}"]
        if documented != answered:
            mismatched[f"{method} {path}"] = {
                "documented, never answered": sorted(documented - answered),
                "answered, not documented": sorted(answered - documented),
            }
    assert mismatched == {}


# --- constraints on shape ----------------------------------------------------------------


def _parameter(doc: dict[str, Any], method: str, path: str, name: str) -> dict[str, Any]:
    operation = doc["paths"][path][method.lower()]
    found: dict[str, Any] = next(p for p in operation["parameters"] if p["name"] == name)
    return found


def test_parameters_state_the_server_s_bounds_and_patterns(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    after = _parameter(doc, "GET", "/v1/events", "after")["schema"]
    assert (after["type"], after["minimum"], after["maximum"]) == ("integer", 0, 2**63 - 1)
    limit = _parameter(doc, "GET", "/v1/assets", "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 1000)
    as_of = _parameter(doc, "GET", "/v1/assets/{asset_id}", "as_of")["schema"]
    assert as_of == {**as_of, "type": "string", "pattern": INSTANT} and "anyOf" not in as_of
    asset_id = _parameter(doc, "GET", "/v1/assets/{asset_id}", "asset_id")["schema"]
    assert asset_id["pattern"] == PATH_ID
    if_match = _parameter(doc, "POST", "/v1/events", "if-match")["schema"]
    assert if_match["pattern"] == IF_MATCH
    custodian = _parameter(doc, "GET", "/v1/assets", "custodian")["schema"]
    assert custodian["pattern"] == NO_NUL


@pytest.mark.parametrize(
    ("text", "admitted"),
    [
        ("2014-06-10T08:00:00Z", True),
        ("2016-02-29T23:59:59.999999+05:30", True),
        ("2000-02-29 00:00:00z", True),
        ("2015-02-29T00:00:00Z", False),
        ("1900-02-29T00:00:00Z", False),
        ("2014-04-31T00:00:00Z", False),
        ("2014-06-10T24:00:00Z", False),
        ("2014-06-10T08:00:00.1234567Z", False),
        ("2014-06-10T08:00:00", False),
        ("0000-01-01T00:00:00Z", False),
        ("1402387200", False),
    ],
)
def test_the_instant_pattern_admits_exactly_calendar_instants(text: str, admitted: bool) -> None:
    assert bool(re.match(INSTANT, text)) is admitted


IF_MATCH_CASES = [
    ("0", True),
    ('"7"', True),
    ('W/"12"', True),
    (str(2**63 - 1), True),
    ("007", True),
    (str(2**63), False),
    ("-1", False),
    ("1.0", False),
    ("", False),
    ("seven", False),
]


@pytest.mark.parametrize(("value", "admitted"), IF_MATCH_CASES)
def test_if_match_pattern_admits_exactly_what_the_server_reads(
    seeded: Api, value: str, admitted: bool
) -> None:
    assert bool(re.match(IF_MATCH, value)) is admitted
    body = {
        **_observation("if-match-probe"),
        "asset_ids": ["t1"],
        "payload": {"observed_party": "isil", "condition": "operational", "activity": "seen"},
    }
    body["reporter"] = "us-gov"
    r = seeded.post(body, headers={"If-Match": value})
    assert (r.status_code != 422) is admitted, r.text


def test_each_event_type_says_how_many_assets_it_takes(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    registered = schemas["AssetRegisteredEvent"]
    assert registered["properties"]["asset_ids"]["minItems"] == 1
    assert registered["properties"]["asset_ids"]["maxItems"] == 1
    assert "asset_ids" in registered["required"]
    assert schemas["PartyRegisteredEvent"]["properties"]["asset_ids"]["maxItems"] == 0
    capture = schemas["AssetCapturedEvent"]["properties"]["asset_ids"]
    assert capture["minItems"] == 1 and capture["uniqueItems"] is True
    batch = schemas["BatchRequest"]["properties"]["events"]
    assert (batch["minItems"], batch["maxItems"]) == (1, 1000)
