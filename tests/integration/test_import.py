"""``ledger import``: bulk NDJSON through the same checks as the API, re-runnable."""

from __future__ import annotations

import orjson
import pytest

from ledger.bootstrap import Ledger
from ledger.cli.demo import demo_events
from ledger.writing.importing import ImportLineError, import_events


def lines(events: list[dict[str, object]]) -> list[bytes]:
    return [orjson.dumps(e) for e in events]


def test_import_stores_events_with_their_historical_knowledge_time(ledger: Ledger) -> None:
    events = demo_events()
    summary = import_events(ledger.appender, lines(events), batch_size=7)
    assert summary.stored == len(events)
    assert ledger.lookups.head()[0] == len(events)
    late = ledger.lookups.events_by_id(["demo-militia-recovers"])["demo-militia-recovers"]
    assert late.record["reported_at"] == "2017-02-01T00:00:00.000000Z"
    again = import_events(ledger.appender, lines(events), batch_size=7)
    assert (again.stored, again.replayed) == (0, len(events))


def test_a_bad_line_stops_the_import_naming_line_and_field(ledger: Ledger) -> None:
    events = demo_events()
    events[20]["payload"]["colour"] = "red"  # type: ignore[index]
    data = lines(events)
    with pytest.raises(ImportLineError) as caught:
        import_events(ledger.appender, data, batch_size=10)
    assert caught.value.line == 21
    assert "payload.colour" in caught.value.detail
    assert ledger.lookups.head()[0] == 20, "the batches before the bad line stay stored"


def test_an_unknown_reference_is_reported_at_its_line(ledger: Ledger) -> None:
    events = demo_events()
    events[30 if len(events) > 30 else -1]["reporter"] = "nobody"
    with pytest.raises(ImportLineError) as caught:
        import_events(ledger.appender, lines(events), batch_size=1000)
    assert caught.value.line == min(31, len(events))
    assert ledger.lookups.head()[0] == 0, "the batch is atomic"
