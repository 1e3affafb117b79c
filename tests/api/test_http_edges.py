"""HTTP edges a user and a fuzzer found: body size, media type, unknown query parameters,
the order of refusals, problem types, bounded error lists, undeclared methods. Runs on
SQLite and PostgreSQL.

Decisions these tests pin down:

- a ``Content-Length`` over the limit is a 413 from the header alone, before the body is
  read; a chunked body is a 413 as soon as it crosses the limit, and only the 413 is sent;
- a route that takes a JSON body answers 415 naming ``Content-Type`` unless it is
  ``application/json`` or ``application/*+json`` (charset, if named, UTF-8);
- a query parameter a ``/v1`` route does not declare, or a single-valued one given twice,
  is a 422 naming it; the pages under ``/ui`` read their own;
- refusals come in this order: 401, 403, then the request's shape (415, 422);
- 422 problems are typed ``invalid-event`` for the body, ``invalid-request`` for
  anything else; no message keeps pydantic's ``Value error, ``; not found is "Not found";
- ``errors`` holds at most 100 entries and ``errors_total`` counts them all;
- an undeclared method is a 405 problem with ``Allow``; HEAD works wherever GET does and
  OPTIONS answers 204 with ``Allow``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from tests import wire
from tests.api.conftest import Api

PROBLEM_TYPE = "urn:custody-ledger:problem:"
SINGLE_LIMIT = 256 * 1024


def problem_of(r: Any, status: int, slug: str, field: str | None = None) -> dict[str, Any]:
    """A valid problem document of this status and type, naming ``field`` if given."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = r.json()
    assert doc["type"] == PROBLEM_TYPE + slug, doc
    assert doc["status"] == status
    assert isinstance(doc["title"], str) and isinstance(doc["detail"], str)
    assert doc["errors_total"] >= len(doc["errors"])
    for entry in doc["errors"]:
        assert set(entry) == {"field", "message"}, entry
        assert not entry["message"].startswith(("Value error", "Assertion failed")), entry
    if field is not None:
        assert field in [e["field"] for e in doc["errors"]], doc
        assert field in doc["detail"], doc
    return doc


def post_raw(api: Api, body: bytes, content_type: str | None, role: str = "admin") -> Any:
    headers = api.headers(role)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return api.client.post("/v1/events", content=body, headers=headers)


def small_limits(api: Api) -> FastAPI:
    """The app over the same ledger with the smallest body limits settings allow."""
    settings = api.ledger.settings.model_copy(
        update={"max_body_bytes": 1024, "max_batch_body_bytes": 2048}
    )
    return create_app(settings=settings, ledger=api.ledger)


# --- 1. bodies over the size limit -------------------------------------------------------


def _scope(api: Api, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    auth = api.headers()["Authorization"].encode()
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", auth),
            (b"content-type", b"application/json"),
            *headers,
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }


def _call(api: Api, scope: dict[str, Any], receive: Any) -> list[dict[str, Any]]:
    """Run the app on one request, ASGI-level, and return what it sent."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(api.client.app(scope, receive, send))
    return sent


def _status_and_body(sent: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, "exactly one response"
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return starts[0]["status"], json.loads(body)


def test_declared_length_over_the_limit_is_refused_without_reading_the_body(api: Api) -> None:
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    scope = _scope(api, "/v1/events", [(b"content-length", str(10**12).encode())])
    status, body = _status_and_body(_call(api, scope, receive))
    assert status == 413
    assert body["type"] == PROBLEM_TYPE + "too-large"
    assert body["errors"][0]["field"] == "body"
    assert received == 0, "the body must not be read"
    assert api.log_size() == 0


def test_chunked_body_over_the_limit_is_413_as_soon_as_it_crosses(api: Api) -> None:
    """No Content-Length and an endless body: the 413 comes after the limit's worth of
    chunks, and only the 413 is sent."""
    received = 0
    chunk = 16 * 1024

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b" " * chunk, "more_body": True}

    status, body = _status_and_body(_call(api, _scope(api, "/v1/events", []), receive))
    assert status == 413
    assert body["type"] == PROBLEM_TYPE + "too-large"
    assert received == SINGLE_LIMIT // chunk + 1


def test_chunked_body_over_the_limit_through_the_client(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"type": "custody_transferred", "narrative": "'
        for _ in range(SINGLE_LIMIT // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    headers = {**api.headers(), "Content-Type": "application/json"}
    r = api.client.post("/v1/events", content=chunks(), headers=headers)
    doc = problem_of(r, 413, "too-large", "body")
    assert doc["errors_total"] == 1
    assert r.headers["connection"] == "close"
    assert api.log_size() == 0


def test_chunked_body_within_the_limit_is_appended(seeded: Api) -> None:
    body = json.dumps(wire.transfer(["t1"], "iq-army", "iq-9th", event_id="chunked")).encode()
    before = seeded.log_size()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    headers = {**seeded.headers(), "Content-Type": "application/json"}
    r = seeded.client.post("/v1/events", content=chunks(), headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["event_id"] == "chunked"
    assert seeded.log_size() == before + 1


def test_a_batch_has_its_own_limit(api: Api) -> None:
    with TestClient(small_limits(api), raise_server_exceptions=False) as client:
        headers = {**api.headers(), "Content-Type": "application/json"}
        one = client.post("/v1/events", content=b" " * 1500, headers=headers)
        problem_of(one, 413, "too-large", "body")
        batch = client.post("/v1/events:batch", content=b" " * 1500, headers=headers)
        assert batch.status_code == 422, batch.text  # within 2048: read, and not JSON
        over = client.post("/v1/events:batch", content=b" " * 2100, headers=headers)
        problem_of(over, 413, "too-large", "body")


@contextmanager
def serving(app: FastAPI) -> Iterator[int]:
    """A real uvicorn server on a free port, in a thread."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


def _exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` and read until the server closes the connection (5 s at most)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_real_server_answers_413_from_the_headers_alone(api: Api) -> None:
    """Only headers are sent, announcing a terabyte and asking to be told to continue:
    the answer is the 413 at once — never ``100 Continue``, which the server sends
    when the app starts reading the body."""
    key = api.key("admin")
    request = (
        "POST /v1/events HTTP/1.1\r\nHost: ledger\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10**12}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    with serving(create_app(ledger=api.ledger)) as port:
        started = time.monotonic()
        answer = _exchange(port, request)
        elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"connection: close" in head.lower()
    assert json.loads(body)["type"] == PROBLEM_TYPE + "too-large"
    assert elapsed < 5
    assert api.log_size() == 0


def test_real_server_answers_413_to_a_chunked_body_over_the_limit(api: Api) -> None:
    key = api.key("admin")
    chunks = b"".join(b"200\r\n" + b" " * 0x200 + b"\r\n" for _ in range(3)) + b"0\r\n\r\n"
    request = (
        "POST /v1/events HTTP/1.1\r\nHost: ledger\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode() + chunks
    with serving(small_limits(api)) as port:
        answer = _exchange(port, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1, "only the 413 is sent"
    assert json.loads(body)["errors"][0]["field"] == "body"


# --- 2. the media type of a JSON body ----------------------------------------------------

REFUSED_TYPES = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/json; charset=latin-1",
    "application/jsonx",
    "",
]
ACCEPTED_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    'Application/JSON;Charset="UTF-8"',
    "application/vnd.custody-ledger+json",
    "application/merge-patch+json; charset=utf-8",
]


@pytest.mark.parametrize("content_type", REFUSED_TYPES)
def test_a_body_not_sent_as_json_is_415_naming_the_header(
    seeded: Api, content_type: str | None
) -> None:
    body = json.dumps(wire.transfer(["t1"], "iq-army", "iq-9th")).encode()
    before = seeded.log_size()
    problem_of(post_raw(seeded, body, content_type), 415, "unsupported-media-type", "Content-Type")
    headers = seeded.headers()
    if content_type is not None:
        headers["Content-Type"] = content_type
    batch = seeded.client.post(
        "/v1/events:batch", content=json.dumps({"events": [json.loads(body)]}), headers=headers
    )
    problem_of(batch, 415, "unsupported-media-type", "Content-Type")
    assert seeded.log_size() == before


@pytest.mark.parametrize("content_type", ACCEPTED_TYPES)
def test_json_media_types_are_accepted(seeded: Api, content_type: str) -> None:
    body = json.dumps(wire.transfer(["t1"], "iq-army", "iq-9th")).encode()
    r = post_raw(seeded, body, content_type)
    assert r.status_code == 201, r.text


def test_a_post_without_a_body_is_not_asked_for_a_media_type(api: Api) -> None:
    r = api.client.post("/v1/audit/checkpoints", headers=api.headers())
    assert r.status_code == 201, r.text


# --- 3. unknown query parameters --------------------------------------------------------

UNKNOWN_QUERIES = [
    ("/v1/assets?contrct=fms-1", "contrct"),
    ("/v1/assets/t1?asof=2015-01-01T00:00:00Z", "asof"),
    ("/v1/assets/t1/timeline?known=2015-01-01T00:00:00Z", "known"),
    ("/v1/findings?rul=R01", "rul"),
    ("/v1/findings/some-key?hindsite=true", "hindsite"),
    ("/v1/parties?kind=government", "kind"),
    ("/v1/parties/us-gov?x=1", "x"),
    ("/v1/facilities?operator=us-gov", "operator"),
    ("/v1/contracts/fms-1?terms=1", "terms"),
    ("/v1/contracts/fms-1/report?form=2014-01-01T00:00:00Z", "form"),
    ("/v1/events?afterr=0", "afterr"),
    ("/v1/events/stream?since=0", "since"),
    ("/v1/events/some-event?with=amendments", "with"),
    ("/v1/audit/checkpoints?size=1", "size"),
    ("/v1/audit/proof/some-event?checkpont=1", "checkpont"),
    ("/v1/audit/consistency?from=1&to=1&fro=1", "fro"),
    ("/v1/audit/export?untill=3", "untill"),
    ("/healthz?verbose=1", "verbose"),
    ("/readyz?deep=1", "deep"),
]


@pytest.mark.parametrize(("path", "name"), UNKNOWN_QUERIES)
def test_an_unknown_query_parameter_is_422_naming_it(seeded: Api, path: str, name: str) -> None:
    doc = problem_of(seeded.get(path), 422, "invalid-request", name)
    assert doc["errors"] == [{"field": name, "message": "unknown query parameter"}]
    assert "this route takes" in doc["detail"]


def test_the_typo_no_longer_answers_everything(seeded: Api) -> None:
    """The user's report: ``?contrct=`` returned every asset."""
    seeded.ledger.runner.catch_up()
    assert len(seeded.get("/v1/assets?contract=fms-1").json()["assets"]) == 3
    problem_of(seeded.get("/v1/assets?contrct=nope"), 422, "invalid-request", "contrct")


def test_an_unknown_query_parameter_on_an_append_stores_nothing(seeded: Api) -> None:
    before = seeded.log_size()
    r = seeded.client.post(
        "/v1/events?dry_run=true",
        json=wire.transfer(["t1"], "iq-army", "iq-9th"),
        headers=seeded.headers(),
    )
    problem_of(r, 422, "invalid-request", "dry_run")
    assert seeded.log_size() == before


def test_a_single_valued_parameter_given_twice_is_422(seeded: Api) -> None:
    doc = problem_of(seeded.get("/v1/assets?limit=1&limit=2"), 422, "invalid-request", "limit")
    assert doc["errors"] == [{"field": "limit", "message": "given 2 times; give it once"}]
    problem_of(seeded.get("/v1/audit/consistency?from=1&to=1&to=2"), 422, "invalid-request", "to")


def test_declared_parameters_and_aliases_are_still_taken(seeded: Api) -> None:
    seeded.ledger.runner.catch_up()
    for path in (
        "/v1/assets?contract=fms-1&status=IN_CUSTODY&accounted=true&limit=5&min_position=0",
        "/v1/findings?cleared=any&kind=state&hindsight=true&detected_from=2014-01-01T00:00:00Z",
        "/v1/contracts/fms-1/report?from=2014-01-01T00:00:00Z&to=2016-01-01T00:00:00Z",
        "/v1/events?after=0&limit=2",
        "/v1/assets/t1?as_of=2015-01-01T00:00:00Z&known_at=2030-01-01T00:00:00Z",
    ):
        r = seeded.get(path)
        assert r.status_code == 200, (path, r.text)


def test_pages_keep_their_own_query_parameters(seeded: Api) -> None:
    """``/ui`` pages are not ``/v1`` routes: they read form fields their own way."""
    for path in (
        "/ui/assets?contract=fms-1&custodian=&status=&accounted=&as_of=&known_at=",
        "/ui/findings?rule=&kind=&asset=t1&cleared=any&as_of=&known_at=",
        "/ui/sign-in?next=/ui/assets",
    ):
        r = seeded.get(path, role="investigator")
        assert r.status_code == 200, (path, r.text[:300])
        assert r.headers["content-type"].startswith("text/html")


# --- 4. authorisation first, then the request's shape -----------------------------------

BAD_BODIES: list[tuple[bytes, str | None]] = [
    (b'{"type": "custody_transferred", "type": "asset_captured"}', "application/json"),
    (b"{not json", "application/json"),
    (b'{"type": "nope"}', "application/json"),
    (b'{"type": "custody_transferred"}', "text/plain"),
    (b"", None),
]


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
@pytest.mark.parametrize("role", ["investigator", "auditor"])
def test_a_key_that_may_not_write_is_403_whatever_it_sent(
    seeded: Api, role: str, body: bytes, content_type: str | None
) -> None:
    problem_of(post_raw(seeded, body, content_type, role=role), 403, "forbidden", "Authorization")
    headers = seeded.headers(role)
    if content_type is not None:
        headers["Content-Type"] = content_type
    batch = seeded.client.post("/v1/events:batch?x=1", content=body, headers=headers)
    problem_of(batch, 403, "forbidden", "Authorization")


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
def test_no_key_is_401_whatever_was_sent(
    seeded: Api, body: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    r = seeded.client.post("/v1/events?x=1", content=body, headers=headers)
    problem_of(r, 401, "unauthenticated", "Authorization")


def test_a_reader_is_403_before_an_unknown_query_parameter(seeded: Api) -> None:
    r = seeded.get("/v1/events?afterr=0", role="investigator")  # the log is the auditor's
    problem_of(r, 403, "forbidden", "Authorization")
    problem_of(seeded.get("/v1/assets?x=1", role="writer"), 403, "forbidden", "Authorization")


def test_a_writer_still_hears_what_is_wrong_with_its_body(seeded: Api) -> None:
    problem_of(
        post_raw(seeded, b"{not json", "application/json", role="writer"),
        422,
        "invalid-event",
        "body",
    )


# --- 5. problem types and titles --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/assets?limit=abc", "limit"),  # FastAPI's validation
        ("/v1/assets?as_of=yesterday", "as_of"),  # the edge's own parsing
        ("/v1/findings?kind=rumour", "kind"),
        ("/v1/assets/t1?min_position=-1", "min_position"),
        ("/v1/audit/consistency?from=2&to=1", "from"),  # the ledger's refusal of a read
        ("/v1/audit/export?after=5&until=2", "after"),
    ],
)
def test_a_bad_query_is_an_invalid_request_not_an_invalid_event(
    seeded: Api, path: str, field: str
) -> None:
    doc = problem_of(seeded.get(path), 422, "invalid-request", field)
    assert doc["title"] == "Invalid request"


def test_a_bad_if_match_header_is_an_invalid_request(seeded: Api) -> None:
    r = seeded.post(wire.transfer(["t1"], "iq-army", "iq-9th"), headers={"If-Match": "soon"})
    problem_of(r, 422, "invalid-request", "If-Match")


def test_a_bad_body_is_an_invalid_event_without_pydantic_prefixes(seeded: Api) -> None:
    r = seeded.post(wire.transfer(["t1", "t1"], "iq-army", "iq-9th"))
    doc = problem_of(r, 422, "invalid-event", "asset_ids")
    assert doc["title"] == "Invalid event"
    assert "Value error" not in doc["detail"]


def test_not_found_is_spelt_one_way(seeded: Api) -> None:
    no_route = problem_of(seeded.get("/v1/nowhere"), 404, "not-found", "path")
    no_asset = problem_of(seeded.get("/v1/assets/nope"), 404, "not-found")
    assert no_route["title"] == no_asset["title"] == "Not found"
    assert "Not Found" not in no_route["detail"]


# --- 6. bounded error lists --------------------------------------------------------------


def test_ten_thousand_unknown_assets_give_a_bounded_problem(seeded: Api) -> None:
    ids = [f"ghost-{i}" for i in range(10_000)]
    before = seeded.log_size()
    r = seeded.post(wire.transfer(ids, "iq-army", "iq-9th"))
    doc = problem_of(r, 422, "invalid-event", "asset_ids[0]")
    assert len(doc["errors"]) == 100
    assert doc["errors_total"] == 10_000
    assert [e["field"] for e in doc["errors"]] == [f"asset_ids[{i}]" for i in range(100)]
    assert len(r.content) < 20_000
    assert seeded.log_size() == before


def test_validation_errors_are_bounded_too(seeded: Api) -> None:
    r = seeded.batch([{"type": "nope"}] * 500)
    doc = problem_of(r, 422, "invalid-event", "events[0].type")
    assert len(doc["errors"]) == 100 and doc["errors_total"] == 500
    assert "(and 497 more)" in doc["detail"]
    many = "&".join(f"p{i}=1" for i in range(1000))
    query = problem_of(seeded.get(f"/v1/assets?{many}"), 422, "invalid-request", "p0")
    assert len(query["errors"]) == 100 and query["errors_total"] == 1000


def test_a_short_problem_counts_its_errors(seeded: Api) -> None:
    doc = problem_of(seeded.get("/v1/assets/nope"), 404, "not-found")
    assert doc["errors_total"] == len(doc["errors"]) == 1


# --- 7. methods -------------------------------------------------------------------------

UNDECLARED = [
    ("DELETE", "/v1/events", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("PUT", "/v1/assets/t1", {"GET", "HEAD", "OPTIONS"}),
    ("PATCH", "/v1/events:batch", {"POST", "OPTIONS"}),
    ("GET", "/v1/events:batch", {"POST", "OPTIONS"}),
    ("POST", "/v1/assets", {"GET", "HEAD", "OPTIONS"}),
    ("DELETE", "/v1/audit/checkpoints", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("PUT", "/v1/findings/R01/t1/x", {"GET", "HEAD", "OPTIONS"}),
    ("DELETE", "/healthz", {"GET", "HEAD", "OPTIONS"}),
]


def _allow(r: Any) -> set[str]:
    return {m.strip() for m in r.headers["allow"].split(",")}


@pytest.mark.parametrize(("method", "path", "allowed"), UNDECLARED)
def test_an_undeclared_method_is_405_with_allow(
    seeded: Api, method: str, path: str, allowed: set[str]
) -> None:
    before = seeded.log_size()
    r = seeded.client.request(method, path, headers=seeded.headers(), content=b"{}")
    doc = problem_of(r, 405, "method-not-allowed", "method")
    assert _allow(r) == allowed
    assert doc["title"] == "Method not allowed"
    assert method in doc["detail"]
    assert seeded.log_size() == before


def test_allow_lists_what_openapi_declares_for_every_path(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for template, operations in paths.items():
        path = template.replace("{", "").replace("}", "")  # any value will do
        declared = {m.upper() for m in operations}
        expected = declared | {"OPTIONS"} | ({"HEAD"} if "GET" in declared else set())
        undeclared = next(m for m in ("DELETE", "PUT", "PATCH", "POST") if m not in declared)
        r = api.client.request(undeclared, path, headers=api.headers())
        assert r.status_code == 405, (undeclared, path, r.text)
        assert _allow(r) == expected, (undeclared, path)
        options = api.client.options(path)
        assert options.status_code == 204, (path, options.text)
        assert _allow(options) == expected


def test_head_answers_as_get_without_content(seeded: Api) -> None:
    get = seeded.get("/v1/assets")
    head = seeded.client.head("/v1/assets", headers=seeded.headers())
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["x-ledger-position"] == get.headers["x-ledger-position"]
    assert seeded.client.head("/v1/assets").status_code == 401
    assert seeded.client.head("/healthz").status_code == 200


def test_head_of_the_stream_ends(seeded: Api) -> None:
    r = seeded.client.head("/v1/events/stream", headers=seeded.headers())
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.content == b""


def test_head_where_only_post_is_declared_is_405(seeded: Api) -> None:
    r = seeded.client.head("/v1/events:batch", headers=seeded.headers())
    assert r.status_code == 405
    assert _allow(r) == {"POST", "OPTIONS"}
