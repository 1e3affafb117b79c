"""The EPCIS mapping as pure functions: the table of docs/epcis.md, the CBV hash against
the reference implementation, and what becomes of each of GS1's shared examples."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.vocabulary import EventType
from ledger.epcis import mapping as mp
from ledger.epcis.event_hash import hash_id, namespaces
from ledger.epcis.schema import SCHEMA_FILE, problems, schema
from ledger.worlds.realistic import world_events
from ledger.writing.wire import EVENT_ADAPTER, to_record
from tests.unit.epcis_reference import reference_hash_ids, reference_hash_ids_of_document

SHARED = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "epcis"
EXAMPLES = sorted(p.name for p in SHARED.glob("*.jsonld"))
FEED = mp.Context(party="depot", historical=False)


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SHARED / name).read_text())
    return loaded


def test_the_packaged_schema_is_gs1_s_file_unchanged() -> None:
    packaged = Path(mp.__file__).with_name(SCHEMA_FILE).read_bytes()
    assert packaged == (SHARED / SCHEMA_FILE).read_bytes()
    assert schema()["$schema"].startswith("http://json-schema.org/draft-07")


@pytest.mark.parametrize("name", EXAMPLES)
def test_shared_examples_are_valid_and_hash_as_the_reference_does(name: str) -> None:
    doc = _example(name)
    assert list(problems(doc)) == []
    spaces = namespaces(doc["@context"])
    ours = [hash_id(e, spaces) for e in doc["epcisBody"]["eventList"]]
    assert ours == reference_hash_ids(doc)
    assert ours == reference_hash_ids_of_document(doc)
    assert all(h.startswith("ni:///sha-256;") and h.endswith("?ver=CBV2.0") for h in ours)


def test_the_hash_ignores_record_time_event_id_and_declarations_but_not_extensions() -> None:
    event = _example("Example_9.6.1-ObjectEvent.jsonld")["epcisBody"]["eventList"][0]
    spaces = namespaces(mp.CONTEXT)
    base = hash_id(event, spaces)
    other = {
        **event,
        "recordTime": "2030-01-01T00:00:00Z",
        "eventID": "urn:uuid:1",
        "errorDeclaration": {"declarationTime": "2030-01-01T00:00:00Z"},
    }
    assert hash_id(other, spaces) == base
    assert hash_id({**event, "ledger:x": "1"}, spaces) != base
    # The same instant in another offset, or at finer precision, is the same event.
    shifted = {**event, "eventTime": "2005-04-04T02:33:31.116Z"}
    assert hash_id(shifted, spaces) == base


# --- what becomes of the shared examples (docs/epcis.md, "The standard's examples") -------


def test_the_object_event_example_maps_to_two_observations() -> None:
    mapped = mp.map_document(_example("Example_9.6.1-ObjectEvent.jsonld"), FEED)
    assert mapped.refusals == []
    first, second = (m.event for m in mapped.events)
    assert [first["type"], second["type"]] == ["observation", "observation"]
    assert first["asset_ids"] == [
        "urn:epc:id:sgtin:0614141.107346.2017",
        "urn:epc:id:sgtin:0614141.107346.2018",
    ]
    assert first["payload"]["condition"] == "in_transit"
    assert first["payload"]["activity"] == "EPCIS shipping at urn:epc:id:sgln:0614141.07346.1234"
    assert second["location"] == {"name": "urn:epc:id:sgln:0012345.11111.0"}
    assert first["event_id"] == "cbv-sha256-" + (
        "df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69"
    )
    assert first["extensions"]["epcis_event"]["eventID"].startswith("ni:///")
    assert second["extensions"]["epcis_event"]["example:myField"].startswith("Example")


def test_the_error_declaration_example_retracts_its_event_and_keeps_the_other() -> None:
    mapped = mp.map_document(
        _example("Example_9.6.1-ObjectEvent-with-error-declaration.jsonld"), FEED
    )
    assert mapped.refusals == []
    retraction, observation = (m.event for m in mapped.events)
    assert retraction["type"] == "event_retracted"
    assert retraction["payload"]["target_event_id"] == "cbv-sha256-" + (
        "aa49daa1fe0b773e0437e546078dc87de9c864d5b9babe84488f31478887fdf3"
    )
    assert retraction["occurred_at"] == "2021-02-01T22:46:31.117000+00:00"
    assert "incorrect_data" in retraction["payload"]["reason"]
    assert "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6" in retraction["payload"]["reason"]
    assert observation["type"] == "observation"


@pytest.mark.parametrize(
    ("name", "field", "reason"),
    [
        (
            "Example_9.6.3-AggregationEvent.jsonld",
            "epcisBody.eventList[0].type",
            "AggregationEvent",
        ),
        (
            "ErrorDeclarationAndCorrectiveEvent.jsonld",
            "epcisBody.eventList[0].type",
            "TransformationEvent",
        ),
    ],
)
def test_examples_the_ledger_cannot_hold_are_refused_with_the_reason(
    name: str, field: str, reason: str
) -> None:
    mapped = mp.map_document(_example(name), FEED)
    assert mapped.events == []
    assert len(mapped.refusals) == len(_example(name)["epcisBody"]["eventList"])
    assert mapped.refusals[0].field == field
    assert reason in mapped.refusals[0].message


def test_the_all_fields_example_is_a_declaration_and_maps_to_a_retraction() -> None:
    """Its event carries an errorDeclaration: it declares urn:uuid:374d95fc… erroneous,
    which a capture refuses unless the ledger knows that event (test_epcis.py)."""
    mapped = mp.map_document(_example("object_event_all_possible_fields.jsonld"), FEED)
    assert mapped.refusals == []
    (m,) = mapped.events
    assert m.event["type"] == "event_retracted"
    assert m.event["payload"]["target_event_id"] == "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8"
    assert m.where("payload.target_event_id") == "eventID"


def test_an_event_without_ledger_event_needs_a_party_bound_key() -> None:
    mapped = mp.map_document(
        _example("Example_9.6.1-ObjectEvent.jsonld"), mp.Context(None, historical=True)
    )
    assert [r.field for r in mapped.refusals] == [
        "epcisBody.eventList[0].eventID",
        "epcisBody.eventList[1].eventID",
    ]
    assert "no reporter" in mapped.refusals[0].message


# --- the table ---------------------------------------------------------------------------


def _foreign(**fields: Any) -> dict[str, Any]:
    ev = {
        "type": "ObjectEvent",
        "eventTime": "2015-01-01T00:00:00+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": ["urn:custody-ledger:asset:T-1"],
        "action": "OBSERVE",
        **fields,
    }
    return mp.document([ev], "2015-01-02T00:00:00Z")


def _party(kind: str, party: str) -> list[dict[str, str]]:
    return [{"type": "possessing_party", kind: mp.PARTY_URN + party}]


@pytest.mark.parametrize(
    ("fields", "etype", "payload"),
    [
        (
            {
                "bizStep": "shipping",
                "sourceList": _party("source", "a"),
                "destinationList": _party("destination", "b"),
            },
            "custody_transferred",
            {"from_party": "a", "to_party": "b", "condition": "unknown"},
        ),
        (
            {"disposition": "stolen", "destinationList": _party("destination", "isil")},
            "asset_captured",
            {"captor_party": "isil"},
        ),
        (
            {"disposition": "stolen", "sourceList": _party("source", "unit")},
            "loss_reported",
            {"custodian_at_loss": "unit", "loss_kind": "stolen"},
        ),
        ({"bizStep": "destroying"}, "asset_destroyed", {"assessment": "destroyed"}),
        (
            {"bizStep": "https://ref.gs1.org/cbv/BizStep-decommissioning", "action": "DELETE"},
            "asset_decommissioned",
            {"method": "EPCIS decommissioning"},
        ),
        (
            {"disposition": "damaged", "sourceList": _party("source", "unit")},
            "observation",
            {"condition": "damaged", "observed_party": "unit"},
        ),
    ],
)
def test_events_from_elsewhere_map_by_step_disposition_and_parties(
    fields: dict[str, Any], etype: str, payload: dict[str, Any]
) -> None:
    mapped = mp.map_document(_foreign(**fields), FEED)
    assert mapped.refusals == []
    (m,) = mapped.events
    assert m.event["type"] == etype
    assert payload.items() <= m.event["payload"].items()
    EVENT_ADAPTER.validate_python(m.event)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"action": "ADD", "bizStep": "commissioning"}, "action", "needs ledger:event"),
        ({"bizStep": "repairing"}, "bizStep", "needs ledger:event"),
        ({"disposition": "stolen"}, "sourceList", "is a loss"),
        ({"epcList": []}, "epcList", "names no asset"),
        ({"epcList": ["https://id.gs1.org/01/09520123456788/21/12345"]}, "epcList[0]", "no asset"),
        (
            {"destinationList": [{"type": "possessing_party", "destination": "https://x.org/p/1"}]},
            "destinationList",
            "no party",
        ),
    ],
)
def test_events_from_elsewhere_the_ledger_cannot_read_are_refused(
    fields: dict[str, Any], field: str, reason: str
) -> None:
    mapped = mp.map_document(_foreign(**fields), FEED)
    assert mapped.events == []
    assert [r.field for r in mapped.refusals] == [f"epcisBody.eventList[0].{field}"]
    assert reason in mapped.refusals[0].message


def test_event_ids_follow_from_epcis_ids() -> None:
    assert mp.event_id_for("urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8") == (
        "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8"
    )
    ni = "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0"
    assert mp.event_id_for(ni) == "cbv-sha256-" + "ab" * 32
    other = mp.event_id_for("https://example.org/events/1?x=y")
    assert other.startswith("epcis-") and other == mp.event_id_for(
        "https://example.org/events/1?x=y"
    )


def test_each_asset_event_type_has_its_documented_step_and_disposition() -> None:
    assert mp.shape(EventType.CUSTODY_TRANSFERRED).biz_step == "receiving"
    assert mp.shape(EventType.ASSET_CAPTURED).disposition == "stolen"
    assert mp.shape(EventType.ASSET_DESTROYED) == mp.Shape("DELETE", "destroying", "destroyed")
    assert mp.shape(EventType.ASSET_DECOMMISSIONED).biz_step == "decommissioning"
    assert mp.shape(EventType.INVENTORY_COMPLETED).biz_step == "stock_taking"
    assert mp.shape(EventType.LOSS_REPORTED).disposition == "unknown"
    assert mp.shape(EventType.PARTY_REGISTERED).biz_step == mp.LEDGER_STEP + "party_registered"
    docs = (Path(__file__).resolve().parents[2] / "docs" / "epcis.md").read_text()
    for etype in EventType:
        if etype not in mp.AMENDMENTS:
            assert f"`{etype.value}`" in docs, etype


# --- property: export then capture gives the same wire records ---------------------------


def _records(events: int, seed: int) -> list[dict[str, Any]]:
    out = []
    for i, e in enumerate(world_events(events, seed)):
        record = to_record(EVENT_ADAPTER.validate_python(e))
        record.setdefault("reported_at", record["occurred_at"])
        record["position"] = i + 1
        out.append(record)
    return out


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(min_value=0, max_value=10_000), size=st.integers(40, 400))
def test_any_generated_world_maps_to_epcis_and_back_unchanged(seed: int, size: int) -> None:
    records = _records(size, seed)
    by_id = {r["event_id"]: r for r in records}
    events = [e for r in records for e in mp.exported(r, by_id.get)]
    doc = mp.document(events, "2030-01-01T00:00:00Z")
    assert list(problems(doc)) == []
    mapped = mp.map_document(copy.deepcopy(doc), mp.Context(None, historical=True))
    assert mapped.refusals == []
    back = [to_record(EVENT_ADAPTER.validate_python(m.event)) for m in mapped.events]
    sent = [{k: v for k, v in r.items() if k != "position"} for r in records]
    assert back == sent


def test_an_own_event_whose_parties_disagree_with_its_record_is_refused() -> None:
    record = to_record(
        EVENT_ADAPTER.validate_python(
            {
                "event_id": "t-1",
                "type": "custody_transferred",
                "asset_ids": ["T-1"],
                "occurred_at": "2014-01-01T00:00:00Z",
                "reporter": "a",
                "source": {"kind": "test", "ref": "x"},
                "confidence": "confirmed",
                "payload": {"from_party": "a", "to_party": "b", "reason": "r", "condition": "ok"},
            }
        )
    )
    ev = mp.object_event(record)
    assert mp.map_document(mp.document([ev], "2014-01-02T00:00:00Z"), FEED).refusals == []
    ev["destinationList"] = [{"type": "possessing_party", "destination": mp.PARTY_URN + "c"}]
    mapped = mp.map_document(mp.document([ev], "2014-01-02T00:00:00Z"), FEED)
    assert [r.field for r in mapped.refusals] == ["epcisBody.eventList[0].destinationList"]
    assert "must agree" in mapped.refusals[0].message
