"""Export and capture of EPCIS 2.0 documents: the IO around ``ledger.epcis.mapping``.

**Export** reads the log in position order (``Lookups.read_log``), keeps the events the
filters select and maps each (an amendment with its target, read by id). A page ends
after ``limit`` events or after scanning ``MAX_SCAN`` rows; ``ledger:nextCursor`` is
the position to go on after, or null at the head of the log.

**Capture** stores a whole document or nothing, through the normal append path
(``Appender.append``: the same roles, checks and idempotency as ``POST
/v1/events:batch``). In order: the GS1 schema; the mapping of every event; the wire
schema of every mapped event; then the append. Every refusal names the EPCIS event by
its place (``epcisBody.eventList[i]``), the EPCIS field, and its ``eventID``. The
ledger event id of each EPCIS event follows from its ``eventID`` (or its hash id)
(``mapping.event_id_for``), or is the one a ledger export carried, so a retried capture
is a replay: nothing new is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from domain import links as refs
from domain.instants import to_stored
from domain.vocabulary import EventType
from ledger.epcis import mapping as mp
from ledger.epcis.schema import path_of, problems
from ledger.errors import InvalidEventError, LedgerError, Problem
from ledger.store.lookups import Lookups, StoredRecord
from ledger.store.tables import assets as assets_table
from ledger.writing.append import Appender, AppendResult
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER, EventBase

MAX_SCAN = 20_000
"""Rows of the log one page reads at most, whatever the filters keep."""
_CHUNK = 1000
_EVENTS_FIELD = re.compile(r"^events\[(\d+)\]\.?(.*)$")


@dataclass(frozen=True)
class Filters:
    """Which events an export keeps; instants as stored (``to_stored``)."""

    asset: str | None = None
    contract: str | None = None
    party: str | None = None
    event_time_from: str | None = None
    event_time_to: str | None = None
    record_time_from: str | None = None
    record_time_to: str | None = None

    @classmethod
    def of(cls, **given: Any) -> Filters:
        out = {
            k: (to_stored(v) if isinstance(v, datetime) else v)
            for k, v in given.items()
            if v is not None
        }
        return cls(**out)


@dataclass(frozen=True)
class Captured:
    """One EPCIS event and the ledger event it became."""

    epcis_event_id: str
    result: AppendResult


@dataclass(frozen=True)
class CaptureOutcome:
    captured: list[Captured]
    skipped: list[str]

    @property
    def stored(self) -> int:
        return sum(not c.result.replayed for c in self.captured)


class EpcisService:
    def __init__(self, engine: Engine, lookups: Lookups, appender: Appender) -> None:
        self.engine = engine
        self.lookups = lookups
        self.appender = appender

    # --- export ---------------------------------------------------------------------------

    def page(self, filters: Filters, after: int, limit: int) -> dict[str, Any]:
        """An ``EPCISDocument`` of at most ``limit`` events after position ``after``."""
        events: list[dict[str, Any]] = []
        head = self.lookups.head()[0]
        scanned_to = after
        for stored in self._scan(filters, after, MAX_SCAN, limit):
            events.extend(stored[1])
            scanned_to = stored[0]
        next_cursor = str(scanned_to) if scanned_to < head else None
        return mp.document(events, _now(), **{mp.NEXT_CURSOR: next_cursor})

    def events(
        self, filters: Filters, after: int = 0, until: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every selected EPCIS event after ``after`` (up to ``until``), for an export."""
        for position, events in self._scan(filters, after, None, None):
            if until is not None and position > until:
                return
            yield from events

    def document(
        self, filters: Filters, after: int = 0, until: int | None = None
    ) -> dict[str, Any]:
        return mp.document(list(self.events(filters, after, until)), _now())

    def _scan(
        self, filters: Filters, after: int, budget: int | None, limit: int | None
    ) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """``(position, its EPCIS events)`` of each selected event; stops after ``limit``
        selected records or ``budget`` rows read."""
        members = self._contract_assets(filters.contract)
        cache: dict[str, Mapping[str, Any]] = {}
        kept = read = 0
        position = after
        while budget is None or read < budget:
            size = _CHUNK if budget is None else min(_CHUNK, budget - read)
            rows = self.lookups.read_log(position, size)
            if not rows:
                return
            records = [_record(r) for r in rows]
            for rec in records:
                cache[rec["event_id"]] = rec
            self._fetch(cache, mp.amendment_targets(records))
            for rec in records:
                read += 1
                position = rec["position"]
                if _selected(rec, filters, members, cache):
                    yield position, mp.exported(rec, lambda e: _lookup(self, cache, e))
                    kept += 1
                    if limit is not None and kept >= limit:
                        return
                else:
                    yield position, []

    def _fetch(self, cache: dict[str, Mapping[str, Any]], ids: set[str]) -> None:
        missing = ids - cache.keys()
        while missing:
            found = {e: _record(s) for e, s in self.lookups.events_by_id(missing).items()}
            cache.update(found)
            missing = mp.amendment_targets(found.values()) - cache.keys()

    def _contract_assets(self, contract: str | None) -> set[str] | None:
        """The assets registered under ``contract`` (custody projection), if filtered."""
        if contract is None:
            return None
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(assets_table.c.asset_id).where(assets_table.c.contract_id == contract)
            )
            return {r[0] for r in rows}

    # --- capture --------------------------------------------------------------------------

    def capture(
        self, document: Any, principal: Principal, *, max_events: int | None = None
    ) -> CaptureOutcome:
        """Store every event of ``document`` atomically, or raise naming what is wrong."""
        found = [Problem(f, f"EPCIS 2.0 schema: {m}") for f, m in problems(document)]
        if not found and (
            not isinstance(document, dict) or document.get("type") != "EPCISDocument"
        ):
            # GS1's schema also admits a query document or a bare event at the top.
            found = [Problem("type", "EPCIS capture: only an EPCISDocument is captured")]
        if found:
            raise InvalidEventError(_detail(found), found)
        count = len(document["epcisBody"]["eventList"])
        if max_events is not None and count > max_events:
            p = Problem("epcisBody.eventList", f"EPCIS capture: at most {max_events} events")
            raise InvalidEventError(_detail([p]), [p])
        ctx = mp.Context(principal.party, principal.may("append_historical"))
        mapped = mp.map_document(document, ctx)
        found = [Problem(r.field, f"EPCIS mapping: {r.message}") for r in mapped.refusals]
        events: list[EventBase] = []
        for m in mapped.events:
            try:
                events.append(EVENT_ADAPTER.validate_python(m.event))
            except ValidationError as e:
                for err in e.errors():
                    loc = [p for p in err["loc"] if p not in _TAGS]
                    message = f"EPCIS mapping: {err['msg']}"
                    found.append(_problem(m, path_of(loc), message))
        if found:
            raise InvalidEventError(_detail(found), found)
        if not events:
            return CaptureOutcome([], mapped.skipped)
        try:
            results = self.appender.append(events, principal)
        except LedgerError as e:
            raise _translated(e, mapped.events) from None
        captured = [Captured(m.epcis_id, r) for m, r in zip(mapped.events, results, strict=True)]
        return CaptureOutcome(captured, mapped.skipped)


_TAGS = frozenset(t.value for t in EventType)


def _now() -> str:
    return to_stored(datetime.now(UTC))


def _record(s: StoredRecord) -> dict[str, Any]:
    return {**s.record, "position": s.position, "hash": s.hash.hex()}


def _lookup(service: EpcisService, cache: dict[str, Mapping[str, Any]], event_id: str) -> Any:
    if event_id not in cache:
        service._fetch(cache, {event_id})
    return cache.get(event_id)


def _selected(
    rec: Mapping[str, Any],
    f: Filters,
    members: set[str] | None,
    cache: Mapping[str, Mapping[str, Any]],
) -> bool:
    occurred, known = rec["occurred_at"], rec["reported_at"]
    if f.event_time_from is not None and occurred < f.event_time_from:
        return False
    if f.event_time_to is not None and occurred >= f.event_time_to:
        return False
    if f.record_time_from is not None and known < f.record_time_from:
        return False
    if f.record_time_to is not None and known >= f.record_time_to:
        return False
    about = rec
    if EventType(rec["type"]) in mp.AMENDMENTS:
        # An amendment is about what its target is about.
        about = cache.get(rec["payload"]["target_event_id"], rec)
    return _concerns(about, f, members) or (about is not rec and _concerns(rec, f, members))


def _concerns(rec: Mapping[str, Any], f: Filters, members: set[str] | None) -> bool:
    asset_ids = rec.get("asset_ids", [])
    if f.asset is not None and f.asset not in asset_ids:
        return False
    if f.contract is not None:
        payload = rec.get("payload", {})
        named = {
            rec.get("contract_id"),
            payload.get("contract_id"),
            payload.get("target_contract_id"),
        }
        if f.contract not in named and not (members and members.intersection(asset_ids)):
            return False
    if f.party is not None:
        parties = {r.natural_id for r in refs.references(rec) if r.kind == refs.PARTY}
        if rec["type"] == EventType.PARTY_REGISTERED:
            parties.add(rec["payload"]["party_id"])
        parties.add(rec["reporter"])
        if f.party not in parties:
            return False
    return True


def _problem(m: mp.Mapped, ledger_field: str, message: str) -> Problem:
    where = m.where(ledger_field)
    at = f"epcisBody.eventList[{m.index}]"
    return Problem(
        f"{at}.{where}" if where else at, f"{message} (event {m.epcis_id}: {ledger_field})"
    )


def _translated(e: LedgerError, mapped: list[mp.Mapped]) -> LedgerError:
    """The append path's problems (``events[3].payload.to_party``) named in EPCIS terms:
    the same error, its problems and detail rewritten."""
    out: list[Problem] = []
    for p in e.problems:
        hit = _EVENTS_FIELD.match(p.field)
        if hit and int(hit.group(1)) < len(mapped):
            out.append(_problem(mapped[int(hit.group(1))], hit.group(2), p.message))
        else:
            out.append(p)
    if out:
        e.problems = out
        e.detail = _detail(out)
    return e


def _detail(found: list[Problem]) -> str:
    first = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"{first.field}: {first.message}{more}"
