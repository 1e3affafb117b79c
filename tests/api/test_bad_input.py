"""Bad input is a 4xx problem naming the field, never a 500 (the fuzzer's findings), and
an unavailable database is a 503 with ``Retry-After``. Runs on SQLite and PostgreSQL.

Decisions these tests pin down:

- integer query parameters that reach SQL are at most 2^63 − 1 (422 beyond);
- free JSON (``extensions``, corrected values) holds only what RFC 8785 canonical JSON
  represents exactly: integers within ±(2^53 − 1), finite numbers, Unicode scalar
  values; no string anywhere in an event holds U+0000 (PostgreSQL cannot store it);
- an instant is an RFC 3339 text with an offset whose UTC form lies in years
  0001–9999, with at most microsecond precision (more is refused, not truncated);
  Unix times, as numbers or as digit strings, are refused;
- a body is UTF-8 JSON without a byte order mark, and no object repeats a key (422);
- U+0000 in a path or query parameter is a 422 naming the parameter.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import eventsourcing.persistence
import psycopg
import pytest
import sqlalchemy as sa

from tests import wire
from tests.api.conftest import Api

BEYOND_63 = str(2**63)
BEYOND_64 = str(2**64 + 1)


def problem_of(r: Any, status: int, field: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = r.json()
    assert problem["status"] == status
    fields = [e["field"] for e in problem["errors"]]
    assert field in fields, problem
    assert not any(e["message"].startswith("Value error") for e in problem["errors"]), problem
    return problem


def post_raw(api: Api, body: bytes | str, path: str = "/v1/events") -> Any:
    content = body.encode() if isinstance(body, str) else body
    headers = {**api.headers(), "Content-Type": "application/json"}
    return api.client.post(path, content=content, headers=headers)


def rejected_raw(api: Api, body: bytes | str, field: str, path: str = "/v1/events") -> None:
    before = api.log_size()
    problem_of(post_raw(api, body, path), 422, field)
    assert api.log_size() == before, "a rejected event must store nothing"


def rejected(api: Api, body: dict[str, Any], field: str) -> dict[str, Any]:
    before = api.log_size()
    problem = problem_of(api.post(body), 422, field)
    assert api.log_size() == before, "a rejected event must store nothing"
    return problem


def transfer(**common: Any) -> dict[str, Any]:
    return wire.transfer(["t1"], "iq-army", "iq-9th", **common)


# --- integer query parameters that reach SQL --------------------------------------------

ROUTES_WITH_INTEGERS = [
    ("/v1/assets?min_position={}", "min_position"),
    ("/v1/findings?min_position={}", "min_position"),
    ("/v1/parties?min_position={}", "min_position"),
    ("/v1/events?after={}", "after"),
    ("/v1/events/stream?after={}", "after"),
    ("/v1/audit/proof/some-event?checkpoint={}", "checkpoint"),
    ("/v1/audit/consistency?from={}&to=1", "from"),
    ("/v1/audit/consistency?from=1&to={}", "to"),
    ("/v1/audit/export?after={}", "after"),
    ("/v1/audit/export?until={}", "until"),
]


@pytest.mark.parametrize("value", [BEYOND_63, BEYOND_64])
@pytest.mark.parametrize(("route", "field"), ROUTES_WITH_INTEGERS)
def test_integer_query_parameter_beyond_63_bits_is_422_naming_it(
    seeded: Api, route: str, field: str, value: str
) -> None:
    problem_of(seeded.get(route.format(value)), 422, field)


def test_after_at_the_largest_63_bit_integer_is_an_empty_page(seeded: Api) -> None:
    r = seeded.get(f"/v1/events?after={2**63 - 1}")
    assert r.status_code == 200, r.text
    assert r.json()["events"] == []


def test_checkpoint_at_the_largest_63_bit_integer_is_a_4xx(seeded: Api) -> None:
    r = seeded.get(f"/v1/audit/proof/some-event?checkpoint={2**63 - 1}")
    assert 400 <= r.status_code < 500, r.text


def test_consistency_at_the_largest_63_bit_integers_is_a_4xx(seeded: Api) -> None:
    r = seeded.get(f"/v1/audit/consistency?from={2**63 - 2}&to={2**63 - 1}")
    assert 400 <= r.status_code < 500, r.text


def test_if_match_of_non_ascii_digits_is_422_naming_it(seeded: Api) -> None:
    before = seeded.log_size()
    r = seeded.post(transfer(), headers={"If-Match": '"²"'.encode("latin-1")})
    problem_of(r, 422, "If-Match")
    assert seeded.log_size() == before


def test_if_match_beyond_63_bits_is_422_naming_it(seeded: Api) -> None:
    r = seeded.post(transfer(), headers={"If-Match": BEYOND_64})
    problem_of(r, 422, "If-Match")


def test_expected_version_beyond_2_53_is_422_naming_it(seeded: Api) -> None:
    rejected(seeded, transfer(expected_version=2**64), "expected_version")


# --- free JSON: what canonical JSON can represent ----------------------------------------


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**64, 2**70])
def test_extensions_integer_beyond_2_53_is_422(seeded: Api, value: int) -> None:
    rejected(seeded, transfer(extensions={"count": value}), "extensions")


def test_extensions_integer_at_2_53_minus_1_is_stored_exactly(seeded: Api) -> None:
    big = 2**53 - 1
    r = seeded.post(transfer(extensions={"count": big, "neg": -big, "deep": [{"n": big}]}))
    assert r.status_code == 201, r.text
    stored = seeded.get(f"/v1/events/{r.json()['event_id']}").json()
    assert stored["extensions"] == {"count": big, "neg": -big, "deep": [{"n": big}]}


def test_extensions_nested_integer_beyond_2_53_is_422(seeded: Api) -> None:
    rejected(seeded, transfer(extensions={"a": [{"b": 2**60}]}), "extensions")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_extensions_nan_or_infinity_is_422(seeded: Api, literal: str) -> None:
    text = json.dumps(transfer(extensions={"x": 1})).replace('{"x": 1}', '{"x": ' + literal + "}")
    rejected_raw(seeded, text, "extensions")


def test_correction_value_beyond_2_53_is_422(seeded: Api) -> None:
    r = seeded.post(transfer(event_id="to-correct"))
    assert r.status_code == 201, r.text
    body = wire.correction("to-correct", {"extensions": {"n": 2**60}})
    rejected(seeded, body, "payload.corrected_fields")


@pytest.mark.parametrize("value", [2**53, 2**64])
def test_quantity_beyond_its_bound_is_422(api: Api, value: int) -> None:
    api.seed()
    body = wire.contract("fms-big")
    body["payload"]["quantity"] = value
    rejected(api, body, "payload.quantity")


def test_quantity_nan_is_422(api: Api) -> None:
    api.seed()
    text = json.dumps(wire.contract("fms-nan")).replace('"quantity": 140', '"quantity": NaN')
    rejected_raw(api, text, "payload.quantity")


def test_contract_term_beyond_its_bound_is_422(api: Api) -> None:
    api.seed()
    body = wire.contract("fms-long")
    body["payload"]["terms"] = {"unaccounted_max_days": 10**12}
    rejected(api, body, "payload.terms.unaccounted_max_days")


# --- strings: Unicode scalar values, no NUL ----------------------------------------------


def _with(text: str, placeholder: str, replacement: str) -> str:
    assert placeholder in text
    return text.replace(placeholder, replacement)


@pytest.mark.parametrize("escape", [r"\ud800", r"\udfff", r"a\udc00b"])
def test_extensions_key_with_a_lone_surrogate_is_422(seeded: Api, escape: str) -> None:
    text = _with(json.dumps(transfer(extensions={"KEY": 1})), "KEY", escape)
    rejected_raw(seeded, text, "extensions")


def test_extensions_value_with_a_lone_surrogate_is_422(seeded: Api) -> None:
    text = _with(json.dumps(transfer(extensions={"k": "VALUE"})), "VALUE", r"\ud83d")
    rejected_raw(seeded, text, "extensions")


def test_extensions_with_a_surrogate_pair_is_accepted(seeded: Api) -> None:
    text = _with(json.dumps(transfer(extensions={"KEY": "VALUE"})), "KEY", r"\ud83d\ude00")
    r = post_raw(seeded, text)
    assert r.status_code == 201, r.text


def test_narrative_with_a_lone_surrogate_is_422(seeded: Api) -> None:
    text = _with(json.dumps(transfer(narrative="NARRATIVE")), "NARRATIVE", r"x\ud800")
    rejected_raw(seeded, text, "narrative")


def test_payload_text_with_a_lone_surrogate_is_422(seeded: Api) -> None:
    text = _with(json.dumps(transfer()), "reassignment", r"\udbff")
    rejected_raw(seeded, text, "payload.reason")


@pytest.mark.parametrize(
    ("common", "field"),
    [
        ({"narrative": "a\x00b"}, "narrative"),
        ({"extensions": {"k\x00": 1}}, "extensions"),
        ({"extensions": {"k": ["v\x00"]}}, "extensions"),
        ({"source": {"kind": "x\x00", "ref": "r"}}, "source.kind"),
    ],
    ids=["narrative", "extensions-key", "extensions-value", "source-kind"],
)
def test_nul_in_stored_text_is_422(seeded: Api, common: dict[str, Any], field: str) -> None:
    rejected(seeded, transfer(**common), field)


def test_nul_in_a_payload_text_is_422(seeded: Api) -> None:
    body = transfer()
    body["payload"]["reason"] = "re\x00assignment"
    rejected(seeded, body, "payload.reason")


# --- instants in bodies -----------------------------------------------------------------


@pytest.mark.parametrize(
    "instant",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+23:59"],
)
def test_occurred_at_outside_years_1_to_9999_in_utc_is_422(seeded: Api, instant: str) -> None:
    problem = rejected(seeded, transfer(occurred_at=instant), "occurred_at")
    assert "0001" in problem["errors"][0]["message"]


def test_payload_instant_outside_years_1_to_9999_in_utc_is_422(api: Api) -> None:
    api.seed()
    body = wire.authorization("a-x", "iq-army", valid_from="0001-01-01T00:30:00+01:00")
    rejected(api, body, "payload.valid_from")


def test_instant_with_nanoseconds_is_refused_not_truncated(seeded: Api) -> None:
    problem = rejected(
        seeded, transfer(occurred_at="2014-06-10T08:00:00.123456789Z"), "occurred_at"
    )
    assert "microsecond" in problem["errors"][0]["message"]


def test_instant_with_microseconds_is_stored_exactly(seeded: Api) -> None:
    r = seeded.post(transfer(occurred_at="2014-06-10T09:00:00.123456+01:00"))
    assert r.status_code == 201, r.text
    stored = seeded.get(f"/v1/events/{r.json()['event_id']}").json()
    assert stored["occurred_at"] == "2014-06-10T08:00:00.123456Z"


@pytest.mark.parametrize("instant", [1402387200, 1402387200.5, "1402387200", "1402387200.5"])
def test_unix_time_as_an_instant_is_refused(seeded: Api, instant: Any) -> None:
    problem = rejected(seeded, transfer(occurred_at=instant), "occurred_at")
    assert "RFC 3339" in problem["errors"][0]["message"]


def test_an_instant_at_the_end_of_year_9999_is_accepted_or_refused_cleanly(api: Api) -> None:
    """The far future may be refused by the clock-skew check; it must never be a 500."""
    api.seed()
    r = api.post(wire.authorization("a-far", "iq-army", valid_from="9999-12-31T23:59:59Z"))
    assert r.status_code in (201, 422), r.text


# --- instants in query parameters --------------------------------------------------------

QUERY_INSTANTS = [
    ("/v1/assets?as_of={}", "as_of"),
    ("/v1/assets?known_at={}", "known_at"),
    ("/v1/parties?as_of={}", "as_of"),
    ("/v1/findings?active_at={}", "active_at"),
    ("/v1/findings?detected_from={}", "detected_from"),
    ("/v1/findings?detected_to={}", "detected_to"),
    ("/v1/findings?cleared_from={}", "cleared_from"),
    ("/v1/findings?cleared_to={}", "cleared_to"),
    ("/v1/contracts/fms-1/report?from={}", "from"),
    ("/v1/contracts/fms-1/report?to={}", "to"),
]


@pytest.mark.parametrize(("route", "field"), QUERY_INSTANTS)
def test_query_instant_overflowing_utc_is_422_naming_it(
    seeded: Api, route: str, field: str
) -> None:
    problem_of(seeded.get(route.format("0001-01-01T00:00:00%2B01:00")), 422, field)


@pytest.mark.parametrize(
    "value", ["2014-06-10T08:00:00.123456789Z", "1402387200", "9999-12-31T23:59:59-01:00"]
)
def test_query_instant_with_nanoseconds_unix_time_or_overflow_is_422(
    seeded: Api, value: str
) -> None:
    problem_of(seeded.get("/v1/assets", params={"as_of": value}), 422, "as_of")


# Texts each parser accepted on its own (datetime.fromisoformat for queries, pydantic
# for bodies) though the published pattern forbids them; now both refuse them alike.
OFF_PATTERN = [
    "2014-06-10T08:00Z",  # no seconds
    "20140610T080000Z",  # ISO 8601 basic format
    "2014-06-10T08:00:00,5Z",  # a comma before the fraction
    "2014-06-10T08:00:00+0000",  # an offset without its colon
    "2014-06-10T08:00:00+00",  # an offset of hours only
    "\u0662\u0660\u0661\u0664-06-10T08:00:00Z",  # Arabic-Indic digits
]


@pytest.mark.parametrize("value", OFF_PATTERN)
def test_an_instant_off_the_published_pattern_is_refused_in_query_and_body(
    seeded: Api, value: str
) -> None:
    problem_of(seeded.get("/v1/assets", params={"as_of": value}), 422, "as_of")
    rejected(seeded, transfer(occurred_at=value), "occurred_at")


@pytest.mark.parametrize(
    "value", ["2014-06-10T08:00:00Z", "2014-06-10t08:00:00.5z", "2014-06-10 08:00:00+02:00"]
)
def test_an_instant_on_the_published_pattern_is_accepted_in_query_and_body(
    seeded: Api, value: str
) -> None:
    assert seeded.get("/v1/assets", params={"as_of": value}).status_code == 200
    assert seeded.post(transfer(occurred_at=value)).status_code == 201


# --- NUL in path and query parameters ---------------------------------------------------

NUL_ROUTES = [
    ("/v1/events/ev%00x", "event_id"),
    ("/v1/assets/t1%00", "asset_id"),
    ("/v1/assets/t1%00/timeline", "asset_id"),
    ("/v1/parties/iq%00army", "party_id"),
    ("/v1/contracts/fms%001", "contract_id"),
    ("/v1/contracts/fms%001/report", "contract_id"),
    ("/v1/findings/abc%00def", "finding_key"),
    ("/v1/audit/proof/ev%00x", "event_id"),
    ("/v1/assets?contract=fms%001", "contract"),
    ("/v1/assets?custodian=iq%00", "custodian"),
    ("/v1/assets?cursor=%00", "cursor"),
    ("/v1/findings?rule=R%00", "rule"),
    ("/v1/findings?asset=t1%00", "asset"),
    ("/v1/findings?party=%00", "party"),
    ("/v1/findings?contract=%00", "contract"),
    ("/v1/findings?cursor=%00", "cursor"),
    ("/v1/audit/checkpoints?cursor=%00", "cursor"),
    ("/v1/assets?as_of=%00", "as_of"),
]


@pytest.mark.parametrize(("route", "field"), NUL_ROUTES)
def test_nul_in_a_path_or_query_parameter_is_422_naming_it(
    seeded: Api, route: str, field: str
) -> None:
    problem_of(seeded.get(route), 422, field)


# --- the body itself ---------------------------------------------------------------------


def test_duplicate_top_level_key_is_422_naming_it(seeded: Api) -> None:
    text = json.dumps(transfer(narrative="first"))
    text = text[:-1] + ', "narrative": "second"}'
    rejected_raw(seeded, text, "narrative")


def test_duplicate_nested_key_is_422_naming_its_path(seeded: Api) -> None:
    text = _with(json.dumps(transfer()), '"reason": "reassignment"', '"reason": "a", "reason": "b"')
    rejected_raw(seeded, text, "payload.reason")


def test_duplicate_key_inside_extensions_is_422(seeded: Api) -> None:
    text = _with(json.dumps(transfer(extensions={"k": 1})), '{"k": 1}', '{"k": 1, "k": 2}')
    rejected_raw(seeded, text, "extensions.k")


def test_duplicate_key_in_a_batch_names_the_event(seeded: Api) -> None:
    events = [transfer(), wire.transfer(["t2"], "iq-army", "iq-9th")]
    text = json.dumps({"events": events})
    at = text.rindex('"reason"')
    text = text[:at] + '"reason": "again", ' + text[at:]
    rejected_raw(seeded, text, "events[1].payload.reason", path="/v1/events:batch")


def test_utf8_byte_order_mark_is_422_naming_the_body(seeded: Api) -> None:
    problem = problem_of(
        post_raw(seeded, b"\xef\xbb\xbf" + json.dumps(transfer()).encode()), 422, "body"
    )
    assert "UTF-8" in problem["detail"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_or_utf32_body_is_422_naming_the_body(seeded: Api, encoding: str) -> None:
    before = seeded.log_size()
    problem_of(post_raw(seeded, json.dumps(transfer()).encode(encoding)), 422, "body")
    assert seeded.log_size() == before


def test_invalid_utf8_body_is_422_naming_the_body(seeded: Api) -> None:
    body = json.dumps(transfer(narrative="NARRATIVE")).encode().replace(b"NARRATIVE", b"\xff\xfe")
    problem_of(post_raw(seeded, body), 422, "body")


def test_utf8_encoded_surrogate_is_422(seeded: Api) -> None:
    # CESU-style bytes for U+D800: not UTF-8, though a lenient decoder lets them through.
    body = (
        json.dumps(transfer(narrative="NARRATIVE")).encode().replace(b"NARRATIVE", b"\xed\xa0\x80")
    )
    problem_of(post_raw(seeded, body), 422, "body")


# --- the edges of time and other probes of the fuzzer ------------------------------------


def test_events_at_the_edges_of_time_are_stored_and_projected(api: Api) -> None:
    api.seed()
    edge = [
        wire.asset("y1", occurred_at="0001-01-01T00:00:00Z"),
        wire.authorization(
            "a-edge",
            "iq-army",
            valid_from="0001-01-01T00:00:00Z",
            valid_to="9999-12-31T23:59:59.999999Z",
        ),
        wire.transfer(["y1"], "iq-army", "iq-9th", occurred_at="0001-01-01T00:00:01Z"),
        wire.capture(["y1"], "isil", occurred_at="0001-01-02T00:00:00Z"),
    ]
    for body in edge:
        r = api.post(body)
        assert r.status_code == 201, r.text
    api.ledger.runner.catch_up()
    for path in [
        "/v1/assets/y1",
        "/v1/assets/y1/timeline",
        "/v1/findings?asset=y1",
        "/v1/contracts/fms-1",
        "/v1/contracts/fms-1/report",
    ]:
        r = api.get(path)
        assert r.status_code == 200, (path, r.text)


@pytest.mark.parametrize(
    "query",
    [
        "/v1/assets?as_of=0001-01-01T00:00:00Z",
        "/v1/assets?as_of=9999-12-31T23:59:59.999999Z",
        "/v1/assets/t1?known_at=0001-01-01T00:00:00Z",
        "/v1/assets/t1/timeline?as_of=9999-12-31T23:59:59Z",
        "/v1/findings?active_at=9999-12-31T23:59:59Z",
        "/v1/findings?active_at=0001-01-01T00:00:00Z",
        "/v1/contracts/fms-1?as_of=9999-12-31T23:59:59Z",
        "/v1/contracts/fms-1/report?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z",
    ],
)
def test_query_instants_at_the_edges_of_time_are_answered(seeded: Api, query: str) -> None:
    seeded.ledger.runner.catch_up()
    r = seeded.get(query)
    assert r.status_code in (200, 404), r.text


@pytest.mark.parametrize("cursor", [str(2**70), "9" * 19, "!!!"])
def test_checkpoints_cursor_that_is_not_one_is_422_naming_it(seeded: Api, cursor: str) -> None:
    problem_of(seeded.get("/v1/audit/checkpoints", params={"cursor": cursor}), 422, "cursor")


@pytest.mark.parametrize("route", ["/v1/assets", "/v1/findings"])
@pytest.mark.parametrize("cursor", ["!!!", "eyJ4IjoxfQ", "A" * 5000, str(2**70)])
def test_list_cursor_of_any_text_is_never_a_5xx(seeded: Api, route: str, cursor: str) -> None:
    """A list's cursor is the key to page after: any text is a (possibly empty) page."""
    seeded.ledger.runner.catch_up()
    r = seeded.get(route, params={"cursor": cursor})
    assert r.status_code == 200, r.text


def test_unknown_key_with_a_lone_surrogate_is_422(seeded: Api) -> None:
    # pydantic cannot read such a key at all, so the problem names the body.
    text = _with(json.dumps(transfer(extra=1)), '"extra"', r'"\ud800"')
    rejected_raw(seeded, text, "body")


def test_event_type_with_a_lone_surrogate_is_422_naming_type(seeded: Api) -> None:
    text = _with(json.dumps(transfer()), '"custody_transferred"', r'"\ud800"')
    rejected_raw(seeded, text, "type")


def test_number_of_more_digits_than_python_converts_is_422_naming_the_body(seeded: Api) -> None:
    text = _with(json.dumps(transfer(extensions={"n": 1})), '{"n": 1}', '{"n": ' + "9" * 5000 + "}")
    rejected_raw(seeded, text, "body")


@pytest.mark.parametrize("text", ["{", '{"a": 1}x', "{'a': 1}"])
def test_body_that_is_not_json_is_422_naming_the_body(seeded: Api, text: str) -> None:
    rejected_raw(seeded, text, "body")


@pytest.mark.parametrize("text", ["[]", "null", '"x"', "1", '{"events": "x"}'])
@pytest.mark.parametrize("path", ["/v1/events", "/v1/events:batch"])
def test_json_of_the_wrong_shape_is_422(seeded: Api, text: str, path: str) -> None:
    before = seeded.log_size()
    r = post_raw(seeded, text, path)
    assert r.status_code == 422, r.text
    assert seeded.log_size() == before


# --- an unavailable database -------------------------------------------------------------

UNAVAILABLE = [
    sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused")),
    sqlite3.OperationalError("database is locked"),
    psycopg.OperationalError("server closed the connection unexpectedly"),
    eventsourcing.persistence.OperationalError("connection refused"),
]


def _raising(error: Exception) -> Any:
    def raise_(*_: Any, **__: Any) -> Any:
        raise error

    return raise_


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda e: type(e).__module__.split(".")[0])
def test_unavailable_database_on_a_read_is_503_with_retry_after(
    seeded: Api, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    monkeypatch.setattr(seeded.ledger.lookups, "read_log", _raising(error))
    r = seeded.get("/v1/events")
    problem = problem_of(r, 503, "database")
    assert problem["type"].endswith(":unavailable")
    assert int(r.headers["Retry-After"]) > 0


def test_unavailable_database_on_an_append_is_503_and_stores_nothing(
    seeded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = seeded.log_size()
    monkeypatch.setattr(seeded.ledger.lookups, "events_by_id", _raising(UNAVAILABLE[0]))
    r = seeded.post(transfer())
    problem_of(r, 503, "database")
    assert int(r.headers["Retry-After"]) > 0
    monkeypatch.undo()
    assert seeded.log_size() == before


def test_unreachable_database_makes_readiness_503(
    seeded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seeded.ledger.engine, "connect", _raising(UNAVAILABLE[0]))
    r = seeded.client.get("/readyz")
    assert r.status_code == 503, r.text
    assert r.json()["status"] == "unavailable"


def test_projections_behind_min_position_answer_503_with_retry_after(seeded: Api) -> None:
    written = seeded.post(wire.capture(["t1"], "isil"))
    assert written.status_code == 201, written.text
    r = seeded.get(f"/v1/assets?min_position={written.json()['position']}")
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"]


def test_min_position_beyond_the_head_is_refused_at_once(seeded: Api) -> None:
    """No receipt names a position beyond the log's head: waiting for it could not end."""
    head = seeded.log_size()
    started = time.monotonic()
    r = seeded.get(f"/v1/assets?min_position={head + 1000}")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "min_position"
    assert f"({head})" in r.json()["detail"]
    assert time.monotonic() - started < seeded.ledger.settings.read_your_writes_timeout_seconds


@pytest.mark.parametrize("asset_id", [".", ".."])
def test_an_id_no_url_can_name_is_refused(seeded: Api, asset_id: str) -> None:
    """``/v1/assets/..`` is ``/v1`` to every client: an asset so named could never be read."""
    rejected(seeded, wire.asset(asset_id), "asset_ids[0]")
