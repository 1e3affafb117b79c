"""EPCIS 2.0 export and capture on SQLite and PostgreSQL (issue #14, docs/epcis.md).

Every exported document validates against GS1's schema and carries the reference
implementation's hash ids; an export captured into an empty ledger gives the same
custody, timelines and findings at every knowledge time (the story, and generated
worlds); bad documents are refused whole, naming the EPCIS event and field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from domain.instants import parse
from domain.vocabulary import Role
from ledger.bootstrap import Ledger, build_ledger
from ledger.cli.demo import load_demo
from ledger.epcis import mapping as mp
from ledger.epcis.schema import problems, schema
from ledger.errors import InvalidEventError, LedgerError
from ledger.facade import LedgerService
from ledger.reading.findings import FindingsQuery
from ledger.settings import Settings
from ledger.worlds.realistic import append_world
from ledger.writing.principal import Principal
from tests.faults.fuzz import database
from tests.unit.epcis_reference import reference_hash_ids

ADMIN = Principal("epcis-import", Role.ADMIN)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "epcis"
SERVER_FIELDS = {"position", "recorded_at", "recorded_by", "hash", "prev_hash", "seal"}


@pytest.fixture
def empty(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    """A second, empty ledger on the same backend."""
    backend = database_url.split(":", 1)[0].split("+", 1)[0]
    backend = "postgres" if backend.startswith("postgres") else backend
    with database(backend) as url:
        other = build_ledger(Settings(database_url=url, signing_key_file=tmp_path / "b.pem"))
        try:
            yield other
        finally:
            other.close()


def _export(ledger: Ledger) -> dict[str, Any]:
    service = LedgerService(ledger)
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = service.epcis_events(after=after, limit=1000)
        events.extend(page["epcisBody"]["eventList"])
        if page[mp.NEXT_CURSOR] is None:
            return mp.document(events, page["creationDate"])
        after = int(page[mp.NEXT_CURSOR])


def _valid(doc: dict[str, Any]) -> None:
    """Valid by both validators: the runtime's (jsonschema-rs) and pure-Python jsonschema."""
    assert list(problems(doc)) == []
    Draft7Validator(schema(), format_checker=Draft7Validator.FORMAT_CHECKER).validate(doc)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in SERVER_FIELDS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _views(ledger: Ledger, known_at: datetime, as_of: datetime) -> dict[str, Any]:
    ledger.runner.catch_up()
    service = LedgerService(ledger)
    assets = service.assets(as_of=as_of, known_at=known_at, limit=1000).plain()
    out: dict[str, Any] = {"assets": _strip(assets)}
    for a in assets["assets"]:
        timeline = service.timeline(a["asset_id"], as_of=as_of, known_at=known_at).plain()
        out[f"timeline {a['asset_id']}"] = _strip(timeline)
    query = FindingsQuery(known_at=known_at, cleared=None, limit=1000)
    out["findings"] = _strip(service.findings(query).plain())
    return out


def _knowledge_times(ledger: Ledger) -> list[datetime]:
    times = sorted({parse(s.record["reported_at"]) for s in ledger.lookups.read_log(0, 100_000)})
    picks = [*times[:: max(1, len(times) // 6)], times[-1], datetime.now(UTC)]
    return sorted(set(picks))


def _same_at_every_known_at(a: Ledger, b: Ledger) -> None:
    as_of = datetime.now(UTC) + timedelta(days=1)
    for k in _knowledge_times(a):
        left, right = _views(a, k, as_of), _views(b, k, as_of)
        assert left == right, f"differs at known_at={k}"


def _log(ledger: Ledger) -> list[dict[str, Any]]:
    return [_strip(s.record) for s in ledger.lookups.read_log(0, 100_000)]


# --- export ------------------------------------------------------------------------------


def test_the_story_exports_as_a_schema_valid_document_with_reference_hash_ids(
    ledger: Ledger,
) -> None:
    load_demo(ledger)
    doc = _export(ledger)
    _valid(doc)
    events = doc["epcisBody"]["eventList"]
    assert len(events) == ledger.lookups.head()[0]
    assert reference_hash_ids(doc) == [e["eventID"] for e in events]
    stored = {s.record["event_id"]: s for s in ledger.lookups.read_log(0, 1000)}
    for e in events:
        own = e.get("errorDeclaration", e)
        record = stored[own[mp.EVENT]["event_id"]]
        assert own[mp.HASH] == record.hash.hex()
        assert own[mp.POSITION] == record.position
    retraction = next(e for e in events if "errorDeclaration" in e)
    assert retraction["errorDeclaration"]["reason"] == "did_not_occur"
    target = retraction[mp.EVENT]["event_id"]
    assert (
        next(e for e in events if e[mp.EVENT].get("event_id") == target)["eventID"]
        == (retraction["eventID"])
    )


def test_export_filters_select_by_asset_party_contract_and_time(ledger: Ledger) -> None:
    load_demo(ledger)
    ledger.runner.catch_up()
    service = LedgerService(ledger)

    def ids(**filters: Any) -> set[str]:
        page = service.epcis_events(limit=1000, **filters)
        assert list(problems(page)) == []
        return {
            e.get("errorDeclaration", e)[mp.EVENT]["event_id"]
            for e in page["epcisBody"]["eventList"]
        }

    everything = ids()
    asset = ids(asset="M1A1-002")
    assert asset and asset < everything
    for s in ledger.lookups.read_log(0, 1000):
        r = s.record
        if r["event_id"] in asset and r["type"] != "event_retracted":
            assert "M1A1-002" in r["asset_ids"]
    assert ids(contract="fms-iq-m1") >= asset
    assert "demo-sighting-retracted" in ids(asset="M1A1-003")  # about its target's asset
    since = datetime(2015, 1, 1, tzinfo=UTC)
    for s in ledger.lookups.read_log(0, 1000):
        in_window = parse(s.record["occurred_at"]) >= since
        assert (s.record["event_id"] in ids(event_time_from=since)) is in_window
    assert ids(party="no-such-party") == set()


def test_pages_follow_the_cursor_to_the_head(ledger: Ledger) -> None:
    load_demo(ledger)
    service = LedgerService(ledger)
    seen: list[str] = []
    after, pages = 0, 0
    while True:
        page = service.epcis_events(after=after, limit=5)
        pages += 1
        seen += [e["eventID"] for e in page["epcisBody"]["eventList"]]
        if page[mp.NEXT_CURSOR] is None:
            break
        after = int(page[mp.NEXT_CURSOR])
    assert pages == 6
    assert seen == [e["eventID"] for e in _export(ledger)["epcisBody"]["eventList"]]


# --- round trips ------------------------------------------------------------------------


def test_the_story_round_trips_with_the_same_custody_timelines_and_findings(
    ledger: Ledger, empty: Ledger
) -> None:
    load_demo(ledger)
    doc = _export(ledger)
    outcome = LedgerService(empty).epcis_capture(json.loads(json.dumps(doc)), ADMIN)
    assert outcome.stored == ledger.lookups.head()[0]
    assert _log(empty) == _log(ledger)
    _same_at_every_known_at(ledger, empty)
    # Captured again: a replay, nothing new.
    again = LedgerService(empty).epcis_capture(doc, ADMIN)
    assert again.stored == 0 and len(again.captured) == outcome.stored
    # And the second ledger exports the same events (its own hashes aside).
    assert [_strip(e[mp.EVENT]) for e in _export(empty)["epcisBody"]["eventList"]] == [
        _strip(e[mp.EVENT]) for e in doc["epcisBody"]["eventList"]
    ]


@pytest.mark.parametrize("seed", [3, 11])
def test_generated_worlds_round_trip(ledger: Ledger, empty: Ledger, seed: int) -> None:
    append_world(ledger, 600, seed)
    doc = _export(ledger)
    _valid(doc)
    # The reference expands JSON-LD, some 20 ms an event: a fifth of them, every kind.
    sample = doc["epcisBody"]["eventList"][::5]
    kinds = {e.get("errorDeclaration", e)[mp.EVENT]["type"] for e in sample}
    sample += [e for e in doc["epcisBody"]["eventList"] if "errorDeclaration" in e]
    sample_doc = mp.document(sample, doc["creationDate"])
    assert reference_hash_ids(sample_doc) == [e["eventID"] for e in sample]
    assert len(kinds) >= 15
    types = {e.get("errorDeclaration", e)[mp.EVENT]["type"] for e in doc["epcisBody"]["eventList"]}
    assert {"asset_registered", "custody_transferred", "party_registered"} <= types
    _capture_in_pages(empty, doc)
    assert _log(empty) == _log(ledger)
    _same_at_every_known_at(ledger, empty)


def _capture_in_pages(ledger: Ledger, doc: dict[str, Any]) -> None:
    events = doc["epcisBody"]["eventList"]
    for i in range(0, len(events), 1000):
        LedgerService(ledger).epcis_capture(
            mp.document(events[i : i + 1000], doc["creationDate"]), ADMIN
        )


def test_corrections_round_trip_as_declaration_and_corrective_event(
    ledger: Ledger, empty: Ledger
) -> None:
    load_demo(ledger)
    service = LedgerService(ledger)
    from ledger.writing.wire import EVENT_ADAPTER

    correction = {
        "event_id": "fix-capture-place",
        "type": "event_corrected",
        "occurred_at": "2016-01-01T00:00:00Z",
        "reported_at": "2016-01-02T00:00:00Z",
        "reporter": "us-dos",
        "source": {"kind": "demo", "ref": "correction"},
        "confidence": "confirmed",
        "payload": {
            "target_event_id": "demo-sighting-wrong",
            "corrected_fields": {"payload.activity": "convoy near Baiji"},
            "reason": "the report named the wrong town",
        },
    }
    ledger.appender.append([EVENT_ADAPTER.validate_python(correction)], ADMIN)
    retract = {
        **correction,
        "event_id": "unfix",
        "type": "event_retracted",
        "occurred_at": "2016-02-01T00:00:00Z",
        "reported_at": "2016-02-02T00:00:00Z",
        "payload": {"target_event_id": "fix-capture-place", "reason": "the first was right"},
    }
    ledger.appender.append([EVENT_ADAPTER.validate_python(retract)], ADMIN)
    doc = _export(ledger)
    _valid(doc)
    events = doc["epcisBody"]["eventList"]
    assert reference_hash_ids(doc) == [e["eventID"] for e in events]
    declared = [e for e in events if "errorDeclaration" in e]
    fixed = next(d for d in declared if d["errorDeclaration"]["reason"] == "incorrect_data")
    corrective = next(e for e in events if e.get(mp.CORRECTION) == "fix-capture-place")
    assert fixed["errorDeclaration"]["correctiveEventIDs"] == [corrective["eventID"]]
    assert corrective[mp.EVENT]["payload"]["activity"] == "convoy near Baiji"
    # The retraction of the correction declares the corrective event erroneous.
    unfixed = next(d for d in declared if d["errorDeclaration"][mp.EVENT]["event_id"] == "unfix")
    assert unfixed["eventID"] == corrective["eventID"]
    outcome = service.epcis_capture(doc, ADMIN)
    assert outcome.stored == 0  # into the same ledger: all replays
    LedgerService(empty).epcis_capture(doc, ADMIN)
    assert _log(empty) == _log(ledger)
    _same_at_every_known_at(ledger, empty)


# --- capture: refusals ------------------------------------------------------------------


def _story_doc(ledger: Ledger) -> dict[str, Any]:
    load_demo(ledger)
    return _export(ledger)


def _refused(ledger: Ledger, doc: Any, principal: Principal = ADMIN) -> LedgerError:
    before = ledger.lookups.head()[0]
    with pytest.raises(LedgerError) as caught:
        LedgerService(ledger).epcis_capture(doc, principal)
    assert ledger.lookups.head()[0] == before, "a refused document stored something"
    return caught.value


def test_a_schema_invalid_document_is_refused_whole(ledger: Ledger, empty: Ledger) -> None:
    doc = _story_doc(ledger)
    doc["epcisBody"]["eventList"][5]["action"] = "MOVE"
    error = _refused(empty, doc)
    assert isinstance(error, InvalidEventError)
    fields = {p.field for p in error.problems}
    assert "epcisBody.eventList[5].action" in fields
    assert all(p.message.startswith("EPCIS 2.0 schema: ") for p in error.problems)


def test_an_unknown_party_refuses_the_whole_document_naming_event_and_field(
    ledger: Ledger, empty: Ledger
) -> None:
    doc = _story_doc(ledger)
    events = doc["epcisBody"]["eventList"]
    i = next(i for i, e in enumerate(events) if e[mp.EVENT]["type"] == "asset_captured")
    events[i][mp.EVENT]["payload"]["captor_party"] = "no-such-militia"
    # Told the same way to EPCIS readers: else the disagreement itself is refused.
    events[i]["destinationList"][0]["destination"] = mp.party_uri("no-such-militia")
    error = _refused(empty, doc)
    assert [p.field for p in error.problems] == [
        f"epcisBody.eventList[{i}].ledger:event.payload.captor_party"
    ]
    message = error.problems[0].message
    assert "unknown party 'no-such-militia'" in message and events[i]["eventID"] in message


def test_a_declaration_for_an_unknown_event_is_refused_whole(ledger: Ledger) -> None:
    load_demo(ledger)
    iq_army = Principal("iq-army-feed", Role.WRITER, "us-dos")
    doc = mp.document(
        [
            {
                "type": "ObjectEvent",
                "eventID": "urn:uuid:0b8e4a3c-9a43-4f0e-8f3c-3c7e1d2b9a10",
                "eventTime": "2015-01-01T00:00:00Z",
                "eventTimeZoneOffset": "+00:00",
                "epcList": ["urn:custody-ledger:asset:M1A1-001"],
                "action": "OBSERVE",
                "bizStep": "inspecting",
            },
            {
                "type": "ObjectEvent",
                "eventID": "urn:uuid:00000000-0000-4000-8000-000000000000",
                "eventTime": "2015-01-01T00:00:00Z",
                "eventTimeZoneOffset": "+00:00",
                "epcList": ["urn:custody-ledger:asset:M1A1-001"],
                "action": "OBSERVE",
                "errorDeclaration": {"declarationTime": "2015-02-01T00:00:00Z"},
            },
        ],
        "2015-03-01T00:00:00Z",
    )
    error = _refused(ledger, doc, iq_army)
    assert [p.field for p in error.problems] == ["epcisBody.eventList[1].eventID"]
    assert "unknown event" in error.problems[0].message


def test_a_declaration_on_a_captured_event_retracts_it(ledger: Ledger) -> None:
    load_demo(ledger)
    feed = Principal("depot-feed", Role.WRITER, "us-dos")
    seen = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:0b8e4a3c-9a43-4f0e-8f3c-3c7e1d2b9a10",
        "eventTime": "2015-01-01T00:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:custody-ledger:asset:M1A1-001"],
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "sourceList": [{"type": "possessing_party", "source": "urn:custody-ledger:party:isil"}],
    }
    service = LedgerService(ledger)
    first = service.epcis_capture(mp.document([seen], "2015-01-02T00:00:00Z"), feed)
    stored = ledger.lookups.events_by_id([first.captured[0].result.event_id])
    record = next(iter(stored.values())).record
    assert record["type"] == "observation"
    assert record["payload"]["observed_party"] == "isil"
    assert record["event_id"] == "urn:uuid:0b8e4a3c-9a43-4f0e-8f3c-3c7e1d2b9a10"
    declared = {
        **seen,
        "errorDeclaration": {"declarationTime": "2015-02-01T00:00:00Z", "reason": "did_not_occur"},
    }
    second = service.epcis_capture(mp.document([declared], "2015-02-02T00:00:00Z"), feed)
    retraction = ledger.lookups.events_by_id([second.captured[0].result.event_id])
    r = next(iter(retraction.values())).record
    assert r["type"] == "event_retracted"
    assert r["payload"]["target_event_id"] == record["event_id"]
    assert "did_not_occur" in r["payload"]["reason"]
    # The same declaration again is a replay.
    assert service.epcis_capture(mp.document([declared], "2015-02-02T00:00:00Z"), feed).stored == 0


def test_a_writer_s_capture_keeps_knowledge_time_its_own(ledger: Ledger) -> None:
    """recordTime is the repository's: only importer and admin keys may keep it."""
    load_demo(ledger)
    feed = Principal("depot-feed", Role.WRITER, "us-dos")
    seen = {
        "type": "ObjectEvent",
        "eventTime": "2015-01-01T00:00:00Z",
        "recordTime": "2015-01-05T00:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": ["urn:custody-ledger:asset:M1A1-001"],
        "action": "OBSERVE",
    }
    out = LedgerService(ledger).epcis_capture(mp.document([seen], "2015-01-06T00:00:00Z"), feed)
    record = next(iter(ledger.lookups.events_by_id([out.captured[0].result.event_id]).values()))
    assert record.record["reported_at"] == record.record["recorded_at"]
    assert out.captured[0].epcis_event_id.startswith("ni:///sha-256;")


def test_a_bare_event_or_a_query_document_is_not_a_capture(ledger: Ledger) -> None:
    load_demo(ledger)
    bare = dict(_export(ledger)["epcisBody"]["eventList"][20])
    bare["@context"] = mp.CONTEXT
    assert list(problems(bare)) == []  # GS1's schema admits an event on its own
    error = _refused(ledger, bare)
    assert [p.field for p in error.problems] == ["type"]
