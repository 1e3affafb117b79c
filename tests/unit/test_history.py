"""Effective events known at k: parsing, retraction, correction, world order."""

from __future__ import annotations

import gc
import tracemalloc
from types import MappingProxyType
from typing import Any

import orjson
import pytest

from domain.history import Event, Log
from domain.vocabulary import Confidence, EventType
from ledger.projections.held import Packer, held_event
from tests.unit.builders import (
    T,
    capture,
    correct,
    event,
    inventory,
    observe,
    register,
    retract,
    transfer,
)


def test_event_is_parsed_once_into_typed_read_only_fields() -> None:
    pos, record = capture(
        ["A1", "A2"],
        "isis",
        from_party="9th-div",
        at="2014-06-10T08:00",
        reported="2014-06-12",
        confidence="probable",
        location={"name": "Mosul", "lat": 36.3},
        discovered_at="2014-06-11",
    )
    e = Event.parse(pos, record)

    assert e.type is EventType.ASSET_CAPTURED
    assert e.asset_ids == ("A1", "A2")
    assert e.occurred_at == T("2014-06-10T08:00")
    assert e.reported_at == T("2014-06-12")
    assert e.discovered_at == T("2014-06-11")
    assert e.confidence is Confidence.PROBABLE
    assert e.location is not None and e.location.name == "Mosul"
    assert e.text("captor_party") == "isis"
    assert isinstance(e.payload, MappingProxyType)
    with pytest.raises(TypeError):
        e.payload["captor_party"] = "pmf"  # type: ignore[index]


def test_parsing_does_not_keep_a_reference_to_the_callers_record() -> None:
    pos, record = capture("A1", "isis")
    e = Event.parse(pos, record)
    record["payload"]["captor_party"] = "pmf"
    assert e.text("captor_party") == "isis"


def test_a_record_handed_over_parses_to_the_same_event_and_is_read_only() -> None:
    import copy

    pos, record = inventory({"A1": "present", "A2": "absent"}, at="2014-06-10T08:00")
    record["location"] = {"name": "Mosul", "lat": 36.3}
    record["source"]["evidence"] = [{"uri": "https://x", "sha256": "0" * 64}]
    copied = Event.parse(pos, copy.deepcopy(record))
    owned = Event.parse(pos, record, owned=True)
    assert owned == copied
    assert (owned.payload, owned.source, owned.location) == (
        copied.payload,
        copied.source,
        copied.location,
    )
    assert isinstance(owned.payload["results"], tuple)
    assert isinstance(owned.payload["results"][0], MappingProxyType)
    with pytest.raises(TypeError):
        owned.payload["results"][0]["result"] = "absent"  # type: ignore[index]


@pytest.mark.parametrize(
    "instant", ["2014-06-10T08:00:00.000000Z", "2014-06-10T08:00:00Z", "2014-06-10T10:00:00+02:00"]
)
def test_every_instant_form_parses_to_the_same_utc_moment(instant: str) -> None:
    pos, record = capture("A1", "isis")
    record["occurred_at"] = instant
    e = Event.parse(pos, record)
    assert e.occurred_at == T("2014-06-10T08:00")
    assert e.occurred_at.utcoffset() is not None and not e.occurred_at.utcoffset()


def test_knowledge_time_falls_back_to_recorded_at() -> None:
    pos, record = capture("A1", "isis", reported="2014-07-01")
    del record["reported_at"]
    assert Event.parse(pos, record).reported_at == T("2014-07-01")


def test_only_events_reported_by_k_are_known() -> None:
    early = capture("A1", "isis", at="2014-06-10", reported="2014-06-10")
    late = observe("A1", "isis", at="2014-06-09", reported="2014-08-01")
    log = Log([early, late])

    assert [e.event_id for e in log.at(T("2014-07-01")).events] == [early[1]["event_id"]]
    assert [e.event_id for e in log.at(T("2014-08-01")).events] == [
        late[1]["event_id"],
        early[1]["event_id"],
    ]
    assert len(log.at(None).events) == 2


def test_world_order_is_occurred_then_reported_then_position() -> None:
    a = observe("A1", at="2014-06-10", reported="2014-06-12", pos=10, event_id="a")
    b = observe("A1", at="2014-06-10", reported="2014-06-11", pos=11, event_id="b")
    c = observe("A1", at="2014-06-10", reported="2014-06-11", pos=9, event_id="c")
    d = observe("A1", at="2014-06-09", reported="2014-06-13", pos=12, event_id="d")
    log = Log([a, b, c, d])
    assert [e.event_id for e in log.at(None).events] == ["d", "c", "b", "a"]


def test_an_event_with_several_assets_is_indexed_under_each() -> None:
    e = capture(["A1", "A2", "A3"], "isis")
    view = Log([e]).at(None)
    assert [len(view.of_asset(a)) for a in ("A1", "A2", "A3", "A4")] == [1, 1, 1, 0]


def test_inventory_concerns_assets_listed_only_in_its_results() -> None:
    inv = inventory({"A1": "present", "A2": "absent"}, assets=["A1"])
    view = Log([inv]).at(None)
    assert view.of_asset("A2") and view.of_asset("A1")


def test_retraction_removes_the_target_from_knowledge_after_it_is_reported() -> None:
    cap = capture("A1", "isis", reported="2014-06-10")
    ret = retract(cap, at="2014-07-01", reported="2014-07-01")
    log = Log([cap, ret])

    before = log.at(T("2014-06-30"))
    after = log.at(T("2014-07-01"))
    assert before.get(cap[1]["event_id"]) is not None
    assert after.get(cap[1]["event_id"]) is None
    assert after.retracted_by[cap[1]["event_id"]].event_id == ret[1]["event_id"]
    assert cap[1]["event_id"] in {e.event_id for e in after.known}


def test_correction_of_from_party_applies_from_its_knowledge_time() -> None:
    tr = transfer("A1", "army", "9th-div", reported="2014-06-10")
    fix = correct(tr, {"payload.from_party": "kurds"}, reported="2014-07-01")
    log = Log([tr, fix])

    assert log.at(T("2014-06-30")).by_id[tr[1]["event_id"]].text("from_party") == "army"
    corrected = log.at(T("2014-07-01")).by_id[tr[1]["event_id"]]
    assert corrected.text("from_party") == "kurds"
    assert corrected.original is not None
    assert corrected.original.text("from_party") == "army"
    assert [c.event_id for c in corrected.corrections] == [fix[1]["event_id"]]


def test_correction_of_occurred_at_moves_the_event_in_world_order() -> None:
    first = observe("A1", at="2014-06-10", event_id="first")
    second = observe("A1", at="2014-06-20", event_id="second")
    fix = correct(first, {"occurred_at": "2014-06-30T00:00:00Z"}, reported="2014-07-01")
    view = Log([first, second, fix]).at(None)
    assert [e.event_id for e in view.of_asset("A1")] == ["second", "first"]
    assert view.by_id["first"].occurred_at == T("2014-06-30")


def test_corrections_apply_in_knowledge_order_not_position_order() -> None:
    tr = transfer("A1", "army", "9th-div", reported="2014-06-10")
    later = correct(tr, {"payload.from_party": "pmf"}, reported="2014-08-01", pos=500)
    earlier = correct(tr, {"payload.from_party": "kurds"}, reported="2014-07-01", pos=501)
    view = Log([tr, later, earlier]).at(None)
    assert view.by_id[tr[1]["event_id"]].text("from_party") == "pmf"


def test_nested_and_new_paths_are_set_and_null_removes_a_field() -> None:
    tr = transfer("A1", "army", "9th-div", consent="CONSENT-1")
    fix = correct(
        tr,
        {
            "location.name": "Baiji",
            "payload.transfer_consent_ref": None,
            "confidence": "possible",
        },
    )
    e = Log([tr, fix]).at(None).by_id[tr[1]["event_id"]]
    assert e.location is not None and e.location.name == "Baiji"
    assert "transfer_consent_ref" not in e.payload
    assert e.confidence is Confidence.POSSIBLE


def test_list_items_can_be_corrected_by_index() -> None:
    inv = inventory({"A1": "absent"})
    fix = correct(inv, {"payload.results.0.result": "present"})
    e = Log([inv, fix]).at(None).by_id[inv[1]["event_id"]]
    assert e.inventory_results()["A1"][0] == "present"


def test_type_asset_ids_event_id_and_knowledge_time_are_never_corrected() -> None:
    cap = capture("A1", "isis", reported="2014-06-10")
    fix = correct(
        cap,
        {
            "type": "asset_recovered",
            "asset_ids": ["A2"],
            "event_id": "other",
            "reported_at": "2014-01-01T00:00:00Z",
            "payload.captor_party": "pmf",
        },
    )
    e = Log([cap, fix]).at(None).by_id[cap[1]["event_id"]]
    assert e.type is EventType.ASSET_CAPTURED
    assert e.asset_ids == ("A1",)
    assert e.event_id == cap[1]["event_id"]
    assert e.reported_at == T("2014-06-10")
    assert e.text("captor_party") == "pmf"


def test_a_correction_that_would_not_parse_is_skipped() -> None:
    cap = capture("A1", "isis")
    fix = correct(cap, {"occurred_at": "last tuesday", "payload.captor_party": "pmf"})
    e = Log([cap, fix]).at(None).by_id[cap[1]["event_id"]]
    assert e.text("captor_party") == "isis"
    assert not e.corrected


def test_a_retracted_correction_stops_applying() -> None:
    tr = transfer("A1", "army", "9th-div", reported="2014-06-10")
    fix = correct(tr, {"payload.from_party": "kurds"}, reported="2014-07-01")
    ret = retract(fix, reported="2014-08-01")
    log = Log([tr, fix, ret])
    assert log.at(T("2014-07-15")).by_id[tr[1]["event_id"]].text("from_party") == "kurds"
    restored = log.at(T("2014-08-01")).by_id[tr[1]["event_id"]]
    assert restored.text("from_party") == "army"
    assert not restored.corrected


def test_a_correction_of_a_retracted_event_is_moot() -> None:
    cap = capture("A1", "isis", reported="2014-06-10")
    ret = retract(cap, reported="2014-07-01")
    fix = correct(cap, {"payload.captor_party": "pmf"}, reported="2014-08-01")
    view = Log([cap, ret, fix]).at(None)
    assert view.get(cap[1]["event_id"]) is None
    assert view.of_asset("A1") == ()


def test_a_retraction_of_a_retraction_has_no_effect() -> None:
    cap = capture("A1", "isis")
    ret = retract(cap)
    ret2 = retract(ret)
    view = Log([cap, ret, ret2]).at(None)
    assert view.get(cap[1]["event_id"]) is None
    assert view.get(ret[1]["event_id"]) is not None


def test_corrections_of_corrections_are_moot() -> None:
    tr = transfer("A1", "army", "9th-div")
    fix = correct(tr, {"payload.from_party": "kurds"})
    fix2 = correct(fix, {"payload.corrected_fields": {"payload.from_party": "pmf"}})
    view = Log([tr, fix, fix2]).at(None)
    assert view.by_id[tr[1]["event_id"]].text("from_party") == "kurds"


def test_views_at_the_same_knowledge_cut_are_shared_but_keep_their_k() -> None:
    log = Log([register("A1", reported="2011-01-01"), capture("A1", "isis", reported="2014-06-10")])
    a, b = log.at(T("2012-01-01")), log.at(T("2013-01-01"))
    assert a.events is b.events
    assert (a.known_at, b.known_at) == (T("2012-01-01"), T("2013-01-01"))
    assert log.knowledge_instants() == (T("2011-01-01"), T("2014-06-10"))


def test_a_record_without_optional_fields_parses() -> None:
    pos, record = event("observation", {"condition": "x", "activity": "y"}, asset_ids=["A1"])
    for key in ("recorded_at", "recorded_by", "prev_hash"):
        del record[key]
    e = Event.parse(pos, record)
    assert e.location is None and e.recorded_at is None and e.narrative is None


# -- events that keep their stored bytes (``raw``: the findings walks') ---------------


def _stored(logged: tuple[int, dict[str, Any]]) -> tuple[int, bytes]:
    return logged[0], orjson.dumps(logged[1])


def test_an_event_keeping_its_stored_bytes_is_the_event_decoded_and_holds_no_record() -> None:
    pos, state = _stored(
        capture(["A1"], "isis", from_party="9th-div", location={"name": "Mosul", "lat": 36.3})
    )
    held = held_event(pos, state)
    decoded = Event.parse(pos, orjson.loads(state))
    assert held._record is None and held._raw is not None
    assert held.record == decoded.record and isinstance(held.record, MappingProxyType)
    assert held == decoded and decoded == held and hash(held) == hash(decoded)
    for name in ("event_id", "type", "asset_ids", "occurred_at", "location", "source", "payload"):
        assert getattr(held, name) == getattr(decoded, name), name
    # A view of the stored bytes (what a driver may hand back) is read as bytes.
    viewed = held_event(pos, memoryview(state))  # type: ignore[arg-type]
    assert viewed == held and viewed.record == held.record


def test_events_keeping_other_bytes_at_one_position_compare_by_their_records() -> None:
    pos, record = observe("A1", at="2014-06-10")
    one = held_event(pos, orjson.dumps(record))
    reordered = held_event(pos, orjson.dumps(dict(reversed(list(record.items())))))
    other = held_event(pos, orjson.dumps({**record, "narrative": "seen twice"}))
    assert one._raw != reordered._raw and one == reordered
    assert one != other


def test_a_correction_applies_to_an_event_keeping_its_stored_bytes_as_to_one_decoded() -> None:
    tr = transfer("A1", "army", "9th-div", reported="2014-06-10")
    fix = correct(tr, {"payload.from_party": "kurds"}, reported="2014-07-01")
    held = Log([held_event(*_stored(tr)), held_event(*_stored(fix))]).at(None)
    decoded = Log([tr, fix]).at(None)
    event_id = tr[1]["event_id"]
    assert held.by_id[event_id].text("from_party") == "kurds"
    assert held.by_id[event_id] == decoded.by_id[event_id]
    assert held.by_id[event_id].original == decoded.by_id[event_id].original


def test_events_keeping_their_stored_bytes_take_well_under_the_memory_of_decoded_ones() -> None:
    """What a walk holds per event (decision 0017's budget counts events): the bytes
    and the parsed fields, not the decoded record beside them."""
    rows = [
        _stored(
            observe(
                f"A{i}",
                at="2014-06-10",
                location={"name": f"Garrison {i}", "lat": 36.3, "lon": 43.1},
            )
        )
        for i in range(2000)
    ]

    def traced(parse: Any) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            kept = [parse(p, s) for p, s in rows]
            size = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert len(kept) == len(rows)
        return size

    held = traced(held_event)
    decoded = traced(lambda p, s: Event.parse(p, orjson.loads(s), owned=True))
    assert held < 0.6 * decoded, (held, decoded)  # 0.49 when written


def test_events_keeping_their_stored_bytes_share_the_texts_they_repeat() -> None:
    """Assets' ids, reporters, sources' kinds and the short texts of locations and
    payloads are one string for every event that repeats them (interned)."""
    records = [
        observe("A1", at="2014-06-10", location={"name": "Garrison 2-3", "lat": 36.3}),
        transfer("A1", "army", "9th-div"),
    ]
    one, two = (held_event(p, orjson.dumps(r)) for p, r in records)
    assert one.asset_ids[0] is two.asset_ids[0]
    assert one.reporter is two.reporter
    assert one.recorded_at is two.recorded_at  # recorded in one batch
    # No rule reads the source: it is read from the record when asked.
    assert one._source is None and one.source == Event.parse(*records[0]).source
    again = held_event(records[0][0], orjson.dumps(records[0][1]))
    assert one.location is not None and again.location is not None
    assert one.location.name is again.location.name
    later = held_event(records[1][0], orjson.dumps(records[1][1]))
    assert two.payload["to_party"] is later.payload["to_party"]
    # Nothing else changes: the record reads as stored.
    assert again.record == Event.parse(*records[0]).record


def test_an_inventory_keeping_its_stored_bytes_holds_its_lines_once_as_results() -> None:
    """A walk holds every inventory: its result lines are read into
    ``inventory_results`` when parsed, not kept as JSON objects in the payload too. The
    record, the subjects and the comparison are an inventory decoded's."""
    pos, record = inventory(
        {"A1": "present", "A2": "absent", "A3": "present"}, "1st-bde", assets=["A1"]
    )
    record["payload"]["results"].append({"asset_id": "A2", "result": "present"})
    record["payload"]["results"][0]["found_at_party"] = "2nd-bde"
    held = held_event(pos, orjson.dumps(record))
    decoded = Event.parse(pos, orjson.loads(orjson.dumps(record)))
    assert "results" not in held.payload and "results" in decoded.payload
    assert held.inventory_results() == decoded.inventory_results()
    assert held.inventory_results()["A2"] == ("present", None)  # a line saying present wins
    assert held.inventory_results()["A1"] == ("present", "2nd-bde")
    assert held.subjects == decoded.subjects == ("A1", "A2", "A3")
    assert held.inventory_index() == decoded.inventory_index()
    assert held.record == decoded.record and held == decoded
    assert held.payload["scope_parties"] == decoded.payload["scope_parties"]
    # Lines telling the same thing share one tuple.
    assert held.inventory_results()["A3"] is held.inventory_results()["A2"]


def test_a_correction_of_an_inventory_line_applies_to_an_inventory_keeping_its_bytes() -> None:
    inv = inventory({"A1": "present", "A2": "present"}, "1st-bde", reported="2014-06-10")
    fix = correct(inv, {"payload.results.1.result": "absent"}, reported="2014-07-01")
    held = Log([held_event(*_stored(inv)), held_event(*_stored(fix))]).at(None)
    decoded = Log([inv, fix]).at(None)
    event_id = inv[1]["event_id"]
    assert held.by_id[event_id].inventory_results()["A2"] == ("absent", None)
    assert held.by_id[event_id] == decoded.by_id[event_id]
    assert held.by_id[event_id].original is not None
    assert held.by_id[event_id].original.inventory_results()["A2"] == ("present", None)


def test_a_packer_keeps_its_first_records_as_they_are_then_packs_with_them() -> None:
    records = [orjson.dumps(transfer(f"A{i}", "army", f"{i}th-div")[1]) for i in range(6)]
    packer = Packer(sample=3)
    kept = [packer.pack(r) for r in records[:3]]
    assert kept == [(r, None) for r in records[:3]]  # the dictionary's sample
    packed, unpack = packer.pack(records[3])
    assert unpack is not None and unpack(packed) == records[3]
    assert len(packed) < 0.5 * len(records[3])  # it finds what records repeat
    again, unpacked_by = packer.pack(records[3])
    assert again == packed and unpacked_by is unpack  # alike: the same record
    assert packer.pack(records[4])[0] != packed
    # An event keeps what a packer gives, and reads its record back from it.
    pos, record = transfer("A9", "army", "9th-div")
    stored = orjson.dumps(record)
    raw, unpack = packer.pack(stored)
    e = Event.parse(pos, orjson.loads(stored), owned=True, raw=raw, unpack=unpack)
    assert e._raw == raw and e.record == Event.parse(pos, record).record
    assert e == Event.parse(pos, record) and e == Event.parse(pos, orjson.loads(stored), raw=stored)
    # Two events packed alike are equal without unpacking either.
    calls: list[bytes] = []

    def counted(packed: bytes) -> bytes:
        calls.append(packed)
        return packer.unpack(packed)

    one, two = (
        Event.parse(pos, orjson.loads(stored), owned=True, raw=raw, unpack=counted)
        for _ in range(2)
    )
    assert one == two and not calls
    assert one.record == e.record and calls == [raw]


def test_events_packed_small_read_and_correct_as_events_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ledger.projections.held as held_module

    packer = Packer(sample=1)
    packer.pack(orjson.dumps(observe("A0", at="2014-06-01")[1]))  # the dictionary made
    monkeypatch.setattr(held_module, "PACKER", packer)
    tr = transfer("A1", "army", "9th-div", reported="2014-06-10")
    inv = inventory({"A1": "present", "A2": "present"}, "1st-bde", reported="2014-06-11")
    fixes = [
        correct(tr, {"payload.from_party": "kurds"}, reported="2014-07-01"),
        correct(inv, {"payload.results.1.result": "absent"}, reported="2014-07-02"),
    ]
    logged = [tr, inv, *fixes]
    held_events = [held_event(*_stored(e)) for e in logged]
    assert all(e._unpack is not None for e in held_events)
    held, decoded = Log(held_events).at(None), Log(logged).at(None)
    for original in (tr, inv):
        event_id = original[1]["event_id"]
        assert held.by_id[event_id] == decoded.by_id[event_id]
        assert held.by_id[event_id].record == decoded.by_id[event_id].record
    assert held.by_id[inv[1]["event_id"]].inventory_results()["A2"] == ("absent", None)
    assert held.by_id[tr[1]["event_id"]].text("from_party") == "kurds"


def test_a_held_inventory_takes_well_under_the_memory_of_one_decoded() -> None:
    """Every walk holds every inventory; a large unit's lists hundreds of assets."""
    results = {f"A{i:04}": "present" if i % 7 else "absent" for i in range(800)}
    pos, state = _stored(inventory(results, "1st-bde"))

    def traced(parse: Any) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            e = parse()
            e.inventory_results(), e.inventory_index()  # what the rules make of it
            size = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        return size

    held = traced(lambda: held_event(pos, state))
    decoded = traced(lambda: Event.parse(pos, orjson.loads(state), owned=True))
    assert held < 0.6 * decoded, (held, decoded)
