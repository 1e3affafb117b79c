"""Every write-side rejection of DOMAIN.md §3 and SPEC.md §2: the status, the field the
problem names, and that the log did not grow. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests import wire
from tests.api.conftest import Api


def rejected(
    api: Api, body: Any, status: int, field: str, role: str = "admin", **kw: Any
) -> dict[str, Any]:
    before = api.log_size()
    r = api.post(body, role=role, **kw)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == status
    fields = [e["field"] for e in problem["errors"]]
    assert field in fields, problem
    assert field in problem["detail"]
    assert api.log_size() == before, "a rejected event must store nothing"
    return problem


def soon(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


# --- schema and enums -----------------------------------------------------------------


def test_unknown_top_level_field_is_rejected_not_dropped(seeded: Api) -> None:
    rejected(
        seeded, {**wire.transfer(["t1"], "iq-army", "iq-9th"), "narative": "typo"}, 422, "narative"
    )


def test_unknown_payload_field_is_rejected(seeded: Api) -> None:
    body = wire.transfer(["t1"], "iq-army", "iq-9th")
    body["payload"]["consent"] = "x"
    rejected(seeded, body, 422, "payload.consent")


def test_bad_enum_value_names_the_field(seeded: Api) -> None:
    rejected(
        seeded, wire.transfer(["t1"], "iq-army", "iq-9th", confidence="sure"), 422, "confidence"
    )


def test_missing_required_field_names_the_field(seeded: Api) -> None:
    body = wire.transfer(["t1"], "iq-army", "iq-9th")
    del body["reporter"]
    rejected(seeded, body, 422, "reporter")


def test_unknown_event_type_names_type(seeded: Api) -> None:
    rejected(
        seeded,
        {**wire.transfer(["t1"], "iq-army", "iq-9th"), "type": "asset_teleported"},
        422,
        "type",
    )


def test_instant_without_offset_is_rejected(seeded: Api) -> None:
    rejected(
        seeded,
        wire.transfer(["t1"], "iq-army", "iq-9th", occurred_at="2015-01-01T00:00:00"),
        422,
        "occurred_at",
    )


def test_bad_event_id_is_rejected(seeded: Api) -> None:
    rejected(
        seeded, wire.transfer(["t1"], "iq-army", "iq-9th", event_id="has space"), 422, "event_id"
    )


def test_extensions_over_16_kib_are_rejected(seeded: Api) -> None:
    body = wire.transfer(["t1"], "iq-army", "iq-9th", extensions={"blob": "x" * 17000})
    rejected(seeded, body, 422, "extensions")


def test_asset_event_without_assets_is_rejected(seeded: Api) -> None:
    rejected(seeded, wire.transfer([], "iq-army", "iq-9th"), 422, "asset_ids")


# --- times -------------------------------------------------------------------------------


def test_occurred_at_more_than_five_minutes_ahead_is_rejected(seeded: Api) -> None:
    rejected(
        seeded, wire.transfer(["t1"], "iq-army", "iq-9th", occurred_at=soon(6)), 422, "occurred_at"
    )


def test_occurred_at_within_five_minutes_of_clock_skew_is_accepted(seeded: Api) -> None:
    r = seeded.post(wire.transfer(["t1"], "iq-army", "iq-9th", occurred_at=soon(4)))
    assert r.status_code == 201, r.text


def test_discovered_at_in_the_future_is_rejected(seeded: Api) -> None:
    body = wire.capture(["t1"], "isil", discovered_at=soon(10))
    rejected(seeded, body, 422, "discovered_at")


def test_occurred_earliest_after_occurred_at_is_rejected(seeded: Api) -> None:
    body = wire.transfer(
        ["t1"],
        "iq-army",
        "iq-9th",
        occurred_at="2015-01-01T00:00:00Z",
        occurred_earliest="2015-01-02T00:00:00Z",
    )
    rejected(seeded, body, 422, "occurred_earliest")


def test_occurred_latest_before_occurred_at_is_rejected(seeded: Api) -> None:
    body = wire.transfer(
        ["t1"],
        "iq-army",
        "iq-9th",
        occurred_at="2015-01-02T00:00:00Z",
        occurred_latest="2015-01-01T00:00:00Z",
    )
    rejected(seeded, body, 422, "occurred_latest")


def test_historical_reported_at_in_the_future_is_rejected(seeded: Api) -> None:
    body = wire.transfer(["t1"], "iq-army", "iq-9th", reported_at=soon(60))
    rejected(seeded, body, 422, "reported_at", role="importer")


# --- references --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (lambda: wire.transfer(["nope"], "iq-army", "iq-9th"), "asset_ids[0]"),
        (lambda: wire.transfer(["t1"], "iq-army", "nobody"), "payload.to_party"),
        (lambda: wire.transfer(["t1"], "iq-army", "iq-9th", reporter="ghost"), "reporter"),
        (lambda: wire.asset("t9", contract_id="no-contract"), "payload.contract_id"),
        (
            lambda: wire.authorization("a9", "iq-army", contract_id="no-contract"),
            "payload.contract_id",
        ),
        (lambda: wire.retraction("no-such-event"), "payload.target_event_id"),
        (
            lambda: wire.event(
                "repair_started",
                {
                    "work_order_id": "wo1",
                    "facility_id": "no-facility",
                    "performed_by_party": "iq-army",
                    "work_type": "overhaul",
                },
                asset_ids=["t1"],
            ),
            "payload.facility_id",
        ),
        (
            lambda: wire.event(
                "authorization_revoked",
                {"authorization_id": "no-auth", "effective_at": wire.T0, "reason": "r"},
            ),
            "payload.authorization_id",
        ),
        (
            lambda: wire.transfer(["t1"], "iq-army", "iq-9th", location={"facility_id": "nowhere"}),
            "location.facility_id",
        ),
    ],
    ids=[
        "asset",
        "party",
        "reporter",
        "contract",
        "authorization-contract",
        "target-event",
        "facility",
        "authorization",
        "location-facility",
    ],
)
def test_unknown_reference_is_rejected(seeded: Api, body: Any, field: str) -> None:
    rejected(seeded, body(), 422, field)


def test_a_party_may_report_its_own_registration(api: Api) -> None:
    r = api.post(wire.party("first", reporter="first"))
    assert r.status_code == 201, r.text


def test_transfer_to_the_same_party_is_rejected(seeded: Api) -> None:
    rejected(seeded, wire.transfer(["t1"], "iq-army", "iq-army"), 422, "payload.to_party")


# --- duplicates --------------------------------------------------------------------------


def test_registering_an_existing_asset_id_is_a_conflict(seeded: Api) -> None:
    rejected(seeded, wire.asset("t1", serial="other-serial"), 409, "asset_ids[0]")


def test_registering_a_serial_twice_under_one_model_is_a_conflict(seeded: Api) -> None:
    rejected(seeded, wire.asset("t9", serial="SN-t1"), 409, "payload.serial")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (lambda: wire.party("iq-army", reporter="us-gov"), "payload.party_id"),
        (lambda: wire.facility("besmaya-depot"), "payload.facility_id"),
        (lambda: wire.contract(), "payload.contract_id"),
        (lambda: wire.authorization("auth-iq-army", "iq-9th"), "payload.authorization_id"),
    ],
    ids=["party", "facility", "contract", "authorization"],
)
def test_duplicate_registration_is_a_conflict(seeded: Api, body: Any, field: str) -> None:
    rejected(seeded, body(), 409, field)


def test_event_id_reused_with_another_body_is_a_conflict(seeded: Api) -> None:
    first = wire.transfer(["t1"], "iq-army", "iq-9th", event_id="tr-1")
    assert seeded.post(first).status_code == 201
    rejected(seeded, {**first, "narrative": "changed"}, 409, "event_id")


def test_retracting_a_retraction_is_rejected(seeded: Api) -> None:
    assert (
        seeded.post(wire.transfer(["t1"], "iq-army", "iq-9th", event_id="tr-1")).status_code == 201
    )
    assert seeded.post(wire.retraction("tr-1", event_id="re-1")).status_code == 201
    rejected(seeded, wire.retraction("re-1"), 422, "payload.target_event_id")


@pytest.mark.parametrize("path", ["type", "asset_ids", "event_id"])
def test_a_correction_cannot_touch_identity_fields(seeded: Api, path: str) -> None:
    assert (
        seeded.post(wire.transfer(["t1"], "iq-army", "iq-9th", event_id="tr-1")).status_code == 201
    )
    rejected(seeded, wire.correction("tr-1", {path: "x"}), 422, f"payload.corrected_fields.{path}")


def test_a_correction_that_would_make_the_event_invalid_is_rejected(seeded: Api) -> None:
    assert (
        seeded.post(wire.transfer(["t1"], "iq-army", "iq-9th", event_id="tr-1")).status_code == 201
    )
    problem = rejected(
        seeded,
        wire.correction("tr-1", {"payload.colour": "red"}),
        422,
        "payload.corrected_fields.payload.colour",
    )
    assert "invalid" in problem["errors"][0]["message"]


def test_expected_version_mismatch_is_a_conflict(seeded: Api) -> None:
    rejected(
        seeded,
        wire.transfer(["t1"], "iq-army", "iq-9th", expected_version=5),
        409,
        "expected_version",
    )


def test_if_match_mismatch_is_a_conflict(seeded: Api) -> None:
    rejected(
        seeded,
        wire.transfer(["t1"], "iq-army", "iq-9th"),
        409,
        "expected_version",
        headers={"If-Match": '"7"'},
    )


# --- permission --------------------------------------------------------------------------


def test_writer_may_not_append_reference_data(seeded: Api) -> None:
    rejected(seeded, wire.party("newcomer", reporter="us-gov"), 403, "type", role="writer")


@pytest.mark.parametrize("role", ["investigator", "auditor"])
def test_readers_may_not_append(seeded: Api, role: str) -> None:
    # Refused at the edge, before the body is read: the key's role is what is wrong.
    rejected(seeded, wire.transfer(["t1"], "iq-army", "iq-9th"), 403, "Authorization", role=role)


def test_writer_may_not_set_reported_at(seeded: Api) -> None:
    body = wire.transfer(["t1"], "iq-army", "iq-9th", reported_at="2015-01-01T00:00:00Z")
    rejected(seeded, body, 403, "reported_at", role="writer")


def test_party_bound_key_may_not_report_as_another_party(seeded: Api) -> None:
    body = wire.transfer(["t1"], "iq-army", "iq-9th", reporter="pmf")
    before = seeded.log_size()
    r = seeded.post(body, role="writer", party="iq-army")
    assert r.status_code == 403, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["reporter"]
    assert seeded.log_size() == before


def test_party_bound_key_reporting_as_an_unregistered_party_is_told_it_is_unregistered(
    seeded: Api,
) -> None:
    # The README walk-through's trap: a unit that was never registered is not "another
    # party"; the 403 must say what is actually wrong.
    body = wire.transfer(["t1"], "iq-army", "iq-9th", reporter="iq-10th")
    r = seeded.post(body, role="writer", party="iq-army")
    assert r.status_code == 403, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "reporter"
    assert error["message"] == (
        "'iq-10th' is not a registered party; this key may only report as iq-army or a "
        "unit under it"
    )
    other = seeded.post(
        wire.transfer(["t1"], "iq-army", "iq-9th", reporter="pmf"), role="writer", party="iq-army"
    )
    assert other.json()["errors"][0]["message"] == (
        "this key may only report as iq-army or a unit under it"
    )


def test_party_bound_key_may_report_as_a_unit_under_its_party(seeded: Api) -> None:
    r = seeded.post(
        wire.transfer(["t1"], "iq-army", "iq-9th", reporter="iq-9th"),
        role="writer",
        party="iq-army",
    )
    assert r.status_code == 201, r.text


def test_contract_action_needs_a_seller_side_reporter(seeded: Api) -> None:
    body = wire.event(
        "contract_action",
        {
            "action": "SUPPORT_SUSPENDED",
            "target_contract_id": "fms-1",
            "decided_by_party": "us-gov",
        },
        reporter="iq-gov",
    )
    rejected(seeded, body, 403, "reporter", role="writer")


def test_contractor_acting_for_the_seller_may_record_a_contract_action(seeded: Api) -> None:
    body = wire.event(
        "contract_action",
        {
            "action": "SUPPORT_SUSPENDED",
            "target_contract_id": "fms-1",
            "decided_by_party": "us-gov",
        },
        reporter="us-contractor",
    )
    assert seeded.post(body, role="writer").status_code == 201


# --- authentication and size ---------------------------------------------------------------


def test_missing_key_is_401(seeded: Api) -> None:
    before = seeded.log_size()
    r = seeded.client.post("/v1/events", json=wire.transfer(["t1"], "iq-army", "iq-9th"))
    assert r.status_code == 401
    assert r.json()["errors"][0]["field"] == "Authorization"
    assert seeded.log_size() == before


def test_unknown_key_is_401(seeded: Api) -> None:
    r = seeded.client.post(
        "/v1/events",
        json=wire.transfer(["t1"], "iq-army", "iq-9th"),
        headers={"Authorization": "Bearer lk_nope"},
    )
    assert r.status_code == 401


def test_revoked_key_is_401(seeded: Api) -> None:
    headers = seeded.headers("writer")
    seeded.ledger.keys.revoke("writer")
    r = seeded.client.post(
        "/v1/events", json=wire.transfer(["t1"], "iq-army", "iq-9th"), headers=headers
    )
    assert r.status_code == 401


def test_body_over_256_kib_is_413(seeded: Api) -> None:
    before = seeded.log_size()
    body = wire.transfer(["t1"], "iq-army", "iq-9th", narrative="x" * (300 * 1024))
    r = seeded.post(body)
    assert r.status_code == 413
    assert r.json()["errors"][0]["field"] == "body"
    assert seeded.log_size() == before


def test_absurdly_nested_extensions_are_rejected(seeded: Api) -> None:
    nested: dict[str, object] = {}
    node = nested
    for _ in range(300):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    rejected(
        seeded, wire.transfer(["t1"], "iq-army", "iq-9th", extensions=nested), 422, "extensions"
    )
