"""The mapping between the ledger's events and GS1 EPCIS 2.0 / CBV 2.0 — pure functions.

The table and its reasons are in ``docs/epcis.md`` and ``docs/decisions/0011-epcis.md``.
In short: every stored event becomes one ``ObjectEvent`` (serials as EPCs, parties as
``possessing_party`` source/destination, facilities as ``bizLocation``, occurred_at as
``eventTime``, knowledge time as ``recordTime``) whose ``ledger:event`` extension keeps
the rest of the ledger's record, so that a capture of the ledger's own document gives
back the same events. A retraction or correction becomes an ``errorDeclaration`` on a
copy of its target (and a correction also a corrective event). Events from elsewhere
(no ``ledger:event``) map by ``bizStep``, ``disposition``, source and destination.

Nothing here reads or writes: ``ledger.epcis.service`` does, around these functions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.vocabulary import EventType
from ledger.epcis.event_hash import hash_id, namespaces
from ledger.writing.wire_payloads import ID_PATTERN as WIRE_ID_PATTERN

NS = "urn:custody-ledger:epcis:"
"""The IRI of the ledger's extension namespace, prefix ``ledger``."""
GS1_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
CONTEXT: list[Any] = [GS1_CONTEXT, {"ledger": NS}]
SPACES = namespaces(CONTEXT)
SCHEMA_VERSION = "2.0"

ASSET_URN = "urn:custody-ledger:asset:"
PARTY_URN = "urn:custody-ledger:party:"
FACILITY_URN = "urn:custody-ledger:facility:"
LEDGER_STEP = NS + "bizstep:"
"""Business steps CBV has no word for: ``urn:custody-ledger:epcis:bizstep:<type>``."""

EVENT = "ledger:event"
HASH = "ledger:hash"
POSITION = "ledger:position"
RECORDED_AT = "ledger:recordedAt"
RECORDED_BY = "ledger:recordedBy"
CORRECTION = "ledger:correction"
"""On a corrective event: the ledger event id of the correction it shows."""
NEXT_CURSOR = "ledger:nextCursor"

ID_PATTERN = re.compile(WIRE_ID_PATTERN)
_NI = re.compile(r"^ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.0$")

# What a stored record holds beyond the wire form: kept beside the event, never in it.
_SERVER_FIELDS = ("reported_at", "recorded_at", "recorded_by", "position", "hash", "prev_hash")
_STANDARD_FIELDS = ("occurred_at", "asset_ids")
"""Wire fields the standard's own fields carry (``eventTime``, ``epcList``)."""

_CBV_PREFIXES = (
    "https://ref.gs1.org/cbv/BizStep-",
    "https://ref.gs1.org/cbv/Disp-",
    "urn:epcglobal:cbv:bizstep:",
    "urn:epcglobal:cbv:disp:",
    "https://ref.gs1.org/cbv/SDT-",
    "urn:epcglobal:cbv:sdt:",
    "https://ref.gs1.org/cbv/ER-",
    "urn:epcglobal:cbv:er:",
)


@dataclass(frozen=True)
class Shape:
    """How one ledger event type looks in EPCIS."""

    action: str
    biz_step: str | None
    disposition: str | None
    source: str | None = None
    """The payload field that names the possessing party before the event."""
    destination: str | None = None
    """The payload field that names the possessing party after it."""


SHAPES: dict[EventType, Shape] = {
    EventType.ASSET_REGISTERED: Shape(
        "ADD", "commissioning", "active", destination="initial_custodian"
    ),
    EventType.CUSTODY_TRANSFERRED: Shape(
        "OBSERVE", "receiving", "in_progress", "from_party", "to_party"
    ),
    EventType.ASSET_CAPTURED: Shape("OBSERVE", None, "stolen", "from_party", "captor_party"),
    EventType.ASSET_RECOVERED: Shape(
        "OBSERVE", "receiving", "in_progress", "from_party", "recovered_by_party"
    ),
    EventType.LOSS_REPORTED: Shape("OBSERVE", None, "unknown", source="custodian_at_loss"),
    EventType.ASSET_DISABLED: Shape("OBSERVE", "inspecting", "damaged"),
    EventType.ASSET_DESTROYED: Shape("DELETE", "destroying", "destroyed"),
    EventType.ASSET_DECOMMISSIONED: Shape("DELETE", "decommissioning", "inactive"),
    EventType.REPAIR_STARTED: Shape("OBSERVE", "repairing", "unavailable"),
    EventType.REPAIR_COMPLETED: Shape("OBSERVE", "repairing", "available"),
    EventType.INVENTORY_COMPLETED: Shape("OBSERVE", "stock_taking", None),
    EventType.OBSERVATION: Shape("OBSERVE", "inspecting", None),
}
"""The table of docs/epcis.md. Types not listed (reference data, support, contract
actions, finding dispositions) are ``OBSERVE`` with a ledger business step and no
disposition; retractions and corrections are error declarations."""

AMENDMENTS = (EventType.EVENT_RETRACTED, EventType.EVENT_CORRECTED)


def shape(etype: EventType) -> Shape:
    return SHAPES.get(etype) or Shape("OBSERVE", LEDGER_STEP + etype.value, None)


# --- identifiers --------------------------------------------------------------------------


def epc(asset_id: str) -> str:
    """An asset's EPC: its id when it is already an EPC URI, else the ledger's URN."""
    return asset_id if asset_id.startswith("urn:epc:id:") else ASSET_URN + asset_id


def party_uri(party_id: str) -> str:
    return party_id if party_id.startswith("urn:epc:id:pgln:") else PARTY_URN + party_id


def facility_uri(facility_id: str) -> str:
    return facility_id if facility_id.startswith("urn:epc:id:sgln:") else FACILITY_URN + facility_id


def _natural(uri: str, urn: str) -> str | None:
    """The ledger id a URI names: after the ledger's URN prefix, or the URI itself when
    it is a valid id (an EPC or PGLN URN is one), else None."""
    if uri.startswith(urn):
        uri = uri[len(urn) :]
    return uri if ID_PATTERN.match(uri) else None


def asset_id(uri: str) -> str | None:
    return _natural(uri, ASSET_URN)


def party_id(uri: str) -> str | None:
    return _natural(uri, PARTY_URN)


def event_id_for(epcis_id: str) -> str:
    """The ledger event id of an EPCIS ``eventID`` (or hash id): the id itself when it
    is a valid ledger id (``urn:uuid:…`` is), ``cbv-sha256-<hex>`` for a CBV hash id,
    else ``epcis-<sha-256 of the id>``. The same EPCIS id always gives the same
    ledger id: that is what makes a retried capture a replay."""
    if ID_PATTERN.match(epcis_id):
        return epcis_id
    ni = _NI.match(epcis_id)
    if ni:
        return "cbv-sha256-" + ni.group(1)
    return "epcis-" + hashlib.sha256(epcis_id.encode()).hexdigest()


def bare(word: str | None) -> str | None:
    """A CBV word without its URI prefix (``…/BizStep-shipping`` → ``shipping``)."""
    if word is None:
        return None
    for prefix in _CBV_PREFIXES:
        if word.startswith(prefix):
            return word[len(prefix) :]
    return word


# --- export -------------------------------------------------------------------------------


def wire_part(record: Mapping[str, Any], *, keep: Iterable[str] = ()) -> dict[str, Any]:
    """The record's wire fields but those the standard's fields carry (and the server's)."""
    kept = set(keep)
    return {
        k: v
        for k, v in record.items()
        if k not in _SERVER_FIELDS and (k not in _STANDARD_FIELDS or k in kept)
    }


def _storage(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger's own integrity fields, beside the event (hashed into the CBV hash)."""
    out: dict[str, Any] = {}
    if "hash" in record:
        out[HASH] = record["hash"]
    if "position" in record:
        out[POSITION] = record["position"]
    if "recorded_at" in record:
        out[RECORDED_AT] = record["recorded_at"]
    if "recorded_by" in record:
        out[RECORDED_BY] = record["recorded_by"]
    return out


def _parties(names: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"type": "possessing_party", kind: party_uri(p)} for kind, p in names]


def object_event(record: Mapping[str, Any], *, storage: bool = True) -> dict[str, Any]:
    """The ``ObjectEvent`` of an asset, contract or reference event, with its hash id."""
    etype = EventType(record["type"])
    s = shape(etype)
    payload: Mapping[str, Any] = record.get("payload", {})
    ev: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": record["occurred_at"],
        "eventTimeZoneOffset": "+00:00",
    }
    if "reported_at" in record:
        ev["recordTime"] = record["reported_at"]
    ev["epcList"] = [epc(a) for a in record.get("asset_ids", [])]
    ev["action"] = s.action
    if s.biz_step:
        ev["bizStep"] = s.biz_step
    if s.disposition:
        ev["disposition"] = s.disposition
    facility = payload.get("facility_id") or (record.get("location") or {}).get("facility_id")
    if facility and etype is not EventType.FACILITY_REGISTERED:
        ev["bizLocation"] = {"id": facility_uri(facility)}
    if s.source and payload.get(s.source):
        ev["sourceList"] = _parties([("source", payload[s.source])])
    if s.destination and payload.get(s.destination):
        ev["destinationList"] = _parties([("destination", payload[s.destination])])
    ev[EVENT] = wire_part(record)
    if storage:
        ev.update(_storage(record))
    return _identified(ev)


def _identified(ev: dict[str, Any]) -> dict[str, Any]:
    """``ev`` with its CBV hash id as ``eventID``, placed after ``type``."""
    ev.pop("eventID", None)
    eid = hash_id(ev, SPACES)
    return {"type": ev["type"], "eventID": eid, **{k: v for k, v in ev.items() if k != "type"}}


def corrected(target: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """``target`` with a correction's ``corrected_fields`` (dotted paths) replaced."""
    out: dict[str, Any] = _deep_copy(target)
    for path, value in fields.items():
        node = out
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return out


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


Lookup = Callable[[str], Mapping[str, Any] | None]
"""A stored record by event id (targets of amendments), or None."""


def exported(record: Mapping[str, Any], lookup: Lookup) -> list[dict[str, Any]]:
    """The EPCIS events of one stored record (one, or two for a correction)."""
    etype = EventType(record["type"])
    if etype not in AMENDMENTS:
        return [object_event(record)]
    target = lookup(record["payload"]["target_event_id"])
    if target is None:  # the append path never stores one: a broken log, said plainly
        raise LookupError(f"event {record['event_id']}: its target is not in the log")
    copy = _deep_copy(_view(target, lookup))
    declaration: dict[str, Any] = {
        "declarationTime": record["occurred_at"],
        "reason": "did_not_occur" if etype is EventType.EVENT_RETRACTED else "incorrect_data",
    }
    out = [copy]
    if etype is EventType.EVENT_CORRECTED:
        fixed = corrected(target, record["payload"]["corrected_fields"])
        fixed["reported_at"] = record["reported_at"]
        corrective = object_event(fixed, storage=False)
        corrective[CORRECTION] = record["event_id"]
        corrective = _identified(corrective)
        declaration["correctiveEventIDs"] = [corrective["eventID"]]
        out.append(corrective)
    declaration[EVENT] = wire_part(record, keep=["asset_ids"])
    declaration.update(_storage(record))
    copy["errorDeclaration"] = declaration
    copy["recordTime"] = record["reported_at"]
    return out


def _view(record: Mapping[str, Any], lookup: Lookup) -> dict[str, Any]:
    """The one EPCIS event that stands for ``record``: itself, or for a correction the
    corrective event (what a retraction of the correction declares erroneous)."""
    events = exported(record, lookup)
    return events[-1] if EventType(record["type"]) is EventType.EVENT_CORRECTED else events[0]


def document(events: list[dict[str, Any]], created: str, **extra: Any) -> dict[str, Any]:
    """An ``EPCISDocument`` holding ``events``."""
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": created,
        "epcisBody": {"eventList": events},
    }
    doc.update(extra)
    return doc


def amendment_targets(records: Iterable[Mapping[str, Any]]) -> set[str]:
    return {r["payload"]["target_event_id"] for r in records if EventType(r["type"]) in AMENDMENTS}


# --- capture ------------------------------------------------------------------------------


@dataclass
class Mapped:
    """One ledger event made from EPCIS event ``index`` of the document, with where
    each of its fields came from (to name the EPCIS field in a refusal)."""

    index: int
    epcis_id: str
    event: dict[str, Any]
    fields: dict[str, str] = field(default_factory=dict)
    """ledger field (prefix) → EPCIS field, relative to the EPCIS event."""
    default: str = ""
    """The EPCIS field a ledger field not in ``fields`` came from (a prefix)."""

    def where(self, ledger_field: str) -> str:
        best = ""
        for prefix in self.fields:
            if (ledger_field == prefix or ledger_field.startswith(prefix + ".")) and len(
                prefix
            ) > len(best):
                best = prefix
        if best:
            return self.fields[best]
        return self.default + ledger_field if self.default else ledger_field


@dataclass(frozen=True)
class Refusal:
    """An EPCIS field the mapping cannot use: ``field`` is relative to the document."""

    field: str
    message: str


@dataclass
class Capture:
    """A document mapped to ledger events, or the reasons it cannot be."""

    events: list[Mapped] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """EPCIS ids of corrective events shown only for a correction the document carries."""


def _at(index: int, name: str = "") -> str:
    return f"epcisBody.eventList[{index}]" + (f".{name}" if name else "")


def _possessing(entries: Any, kind: str) -> list[str]:
    if not isinstance(entries, list):
        return []
    return [
        e[kind]
        for e in entries
        if isinstance(e, Mapping) and bare(e.get("type")) == "possessing_party" and kind in e
    ]


@dataclass(frozen=True)
class Context:
    """Who captures: a key's party (the reporter of events that do not name one) and
    whether it may keep a historical knowledge time (``recordTime``)."""

    party: str | None
    historical: bool


def map_document(doc: Mapping[str, Any], ctx: Context) -> Capture:
    """Map every event of a schema-valid document, collecting every refusal."""
    out = Capture()
    events = doc["epcisBody"]["eventList"]
    spaces = namespaces(doc.get("@context"))
    for i, ev in enumerate(events):
        epcis_id = ev.get("eventID") or hash_id(ev, spaces)
        before = len(out.refusals)
        if ev.get("type") != "ObjectEvent":
            out.refusals.append(
                Refusal(
                    _at(i, "type"),
                    f"{ev.get('type')} ({epcis_id}) cannot be mapped: the ledger records "
                    "custody of serialised assets, and only an ObjectEvent says what "
                    "happened to one",
                )
            )
            continue
        declaration = ev.get("errorDeclaration")
        if isinstance(declaration, Mapping):
            mapped = _declaration(i, epcis_id, ev, declaration, ctx, out)
        elif CORRECTION in ev:
            # The corrective event of a correction this document declares: the
            # declaration carries the correction itself.
            out.skipped.append(epcis_id)
            continue
        elif EVENT in ev:
            mapped = _own(i, epcis_id, ev, ctx, out)
        else:
            mapped = _foreign(i, epcis_id, ev, ctx, out)
        if mapped is not None and len(out.refusals) == before:
            out.events.append(mapped)
    return out


def _times(ev: Mapping[str, Any], event: dict[str, Any], ctx: Context) -> None:
    if ctx.historical and "recordTime" in ev:
        event["reported_at"] = ev["recordTime"]


def _assets(i: int, epcis_id: str, ev: Mapping[str, Any], out: Capture) -> list[str] | None:
    found = []
    for j, uri in enumerate(ev.get("epcList", [])):
        a = asset_id(uri)
        if a is None:
            out.refusals.append(
                Refusal(
                    _at(i, f"epcList[{j}]"),
                    f"{uri!r} ({epcis_id}) names no asset this ledger can hold: an EPC URN "
                    f"(urn:epc:id:…) or {ASSET_URN}<asset id> of 1–128 characters of "
                    "A-Za-z0-9._:-",
                )
            )
            return None
        found.append(a)
    if "quantityList" in ev:
        out.refusals.append(
            Refusal(
                _at(i, "quantityList"),
                f"class-level quantities ({epcis_id}) cannot be mapped: custody is kept "
                "per serialised asset",
            )
        )
        return None
    return found


def _own(i: int, epcis_id: str, ev: Mapping[str, Any], ctx: Context, out: Capture) -> Mapped | None:
    """An event the ledger exported: ``ledger:event`` holds the rest of its record."""
    rest = ev[EVENT]
    if not isinstance(rest, Mapping):
        out.refusals.append(Refusal(_at(i, EVENT), f"must be an object ({epcis_id})"))
        return None
    assets = _assets(i, epcis_id, ev, out)
    if assets is None or not _agrees(i, epcis_id, ev, rest, out):
        return None
    event = dict(rest)
    event["occurred_at"] = ev["eventTime"]
    event["asset_ids"] = assets
    event.setdefault("event_id", event_id_for(epcis_id))
    _times(ev, event, ctx)
    fields = {
        "occurred_at": "eventTime",
        "reported_at": "recordTime",
        "asset_ids": "epcList",
        "event_id": "eventID",
    }
    if "event_id" in rest:
        fields["event_id"] = f"{EVENT}.event_id"
    return Mapped(i, epcis_id, event, fields, default=f"{EVENT}.")


def _agrees(
    i: int, epcis_id: str, ev: Mapping[str, Any], rest: Mapping[str, Any], out: Capture
) -> bool:
    """The possessing parties the standard's lists name are those ``ledger:event`` names:
    a document must not tell EPCIS readers one thing and the ledger another."""
    try:
        s = shape(EventType(str(rest.get("type"))))
    except ValueError:
        return True  # the wire schema names the unknown type
    given = rest.get("payload")
    payload: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    for name, kind, named in (
        ("sourceList", "source", s.source),
        ("destinationList", "destination", s.destination),
    ):
        listed = _possessing(ev.get(name), kind)
        if not listed:
            continue
        wanted = payload.get(named) if named else None
        if wanted is None or listed != [party_uri(str(wanted))]:
            said = f"payload.{named} names {wanted!r}" if named else "it names no party there"
            out.refusals.append(
                Refusal(
                    _at(i, name),
                    f"names {listed} ({epcis_id}) but {EVENT}.{said}: the two must agree",
                )
            )
            return False
    return True


def _declaration(
    i: int,
    epcis_id: str,
    ev: Mapping[str, Any],
    declaration: Mapping[str, Any],
    ctx: Context,
    out: Capture,
) -> Mapped | None:
    """An error declaration: a retraction of the declared event (or, from the ledger's
    own document, the retraction or correction it carries)."""
    prefix = "errorDeclaration."
    own = declaration.get(EVENT)
    if isinstance(own, Mapping):
        carried: dict[str, Any] = dict(own)
        carried["occurred_at"] = declaration["declarationTime"]
        _times(ev, carried, ctx)
        fields = {
            "occurred_at": prefix + "declarationTime",
            "reported_at": "recordTime",
            "payload.target_event_id": "eventID",
        }
        return Mapped(i, epcis_id, carried, fields, default=f"{prefix}{EVENT}.")
    if ctx.party is None:
        out.refusals.append(_no_reporter(i, epcis_id, "errorDeclaration"))
        return None
    rest = ev.get(EVENT)
    target = (
        rest["event_id"]
        if isinstance(rest, Mapping) and isinstance(rest.get("event_id"), str)
        else event_id_for(epcis_id)
    )
    reason = bare(declaration.get("reason")) or "declared erroneous"
    corrective = declaration.get("correctiveEventIDs") or []
    text = f"EPCIS error declaration ({reason})"
    if corrective:
        text += "; corrective events: " + ", ".join(str(c) for c in corrective)
    key = f"{target}|{declaration['declarationTime']}"
    event: dict[str, Any] = {
        "event_id": "epcis-decl-" + hashlib.sha256(key.encode()).hexdigest()[:40],
        "type": EventType.EVENT_RETRACTED.value,
        "occurred_at": declaration["declarationTime"],
        "reporter": ctx.party,
        "source": {"kind": "epcis", "ref": _short(epcis_id)},
        "confidence": "confirmed",
        "payload": {"target_event_id": target, "reason": text[:4000]},
    }
    _times(ev, event, ctx)
    fields = {
        "occurred_at": prefix + "declarationTime",
        "reported_at": "recordTime",
        "payload.target_event_id": "eventID",
        "payload.reason": prefix + "reason",
        "reporter": "(the key's party, reporter of the declaration)",
    }
    return Mapped(i, epcis_id, event, fields, default=prefix)


def _no_reporter(i: int, epcis_id: str, name: str) -> Refusal:
    return Refusal(
        _at(i, name),
        f"{epcis_id}: no reporter — an event without {EVENT} is reported by the key's "
        "party, and this key is bound to none",
    )


def _short(text: str) -> str:
    return (
        text
        if len(text) <= 256
        else text[:200] + "…" + hashlib.sha256(text.encode()).hexdigest()[:16]
    )


def _foreign(
    i: int, epcis_id: str, ev: Mapping[str, Any], ctx: Context, out: Capture
) -> Mapped | None:
    """An event from elsewhere, mapped by what the standard's fields say."""
    assets = _assets(i, epcis_id, ev, out)
    if assets is None:
        return None
    if not assets:
        out.refusals.append(
            Refusal(_at(i, "epcList"), f"names no asset ({epcis_id}): nothing to record")
        )
        return None
    if ctx.party is None:
        out.refusals.append(_no_reporter(i, epcis_id, "eventID"))
        return None
    parties = _possessing_parties(i, epcis_id, ev, out)
    if parties is None:
        return None
    step, disp = bare(ev.get("bizStep")), bare(ev.get("disposition"))
    where = (ev.get("bizLocation") or ev.get("readPoint") or {}).get("id")
    what = f"EPCIS {step or 'event'}" + (f" at {where}" if where else "")
    kind = _foreign_kind(i, epcis_id, ev["action"], step, disp, parties, what)
    if isinstance(kind, Refusal):
        out.refusals.append(kind)
        return None
    etype, payload, payload_fields = kind
    fields = {
        "asset_ids": "epcList",
        "occurred_at": "eventTime",
        "reported_at": "recordTime",
        "event_id": "eventID",
        "reporter": "(the key's party, reporter of events without ledger:event)",
        **payload_fields,
    }
    event: dict[str, Any] = {
        "event_id": event_id_for(epcis_id),
        "type": etype.value,
        "asset_ids": assets,
        "occurred_at": ev["eventTime"],
        "reporter": ctx.party,
        "source": {"kind": "epcis", "ref": _short(epcis_id)},
        "confidence": "confirmed",
        "payload": payload,
        "extensions": {"epcis_event": dict(ev)},
    }
    if where:
        event["location"] = {"name": _short(where)}
        fields["location"] = "bizLocation"
    _times(ev, event, ctx)
    fields["extensions"] = "(the whole event, kept as extensions.epcis_event)"
    return Mapped(i, epcis_id, event, fields)


def _possessing_parties(
    i: int, epcis_id: str, ev: Mapping[str, Any], out: Capture
) -> tuple[str | None, str | None] | None:
    """(source, destination): the one possessing party each list names, as party ids."""
    parties: dict[str, str | None] = {}
    for name, kind in (("sourceList", "source"), ("destinationList", "destination")):
        found = _possessing(ev.get(name), kind)
        if len(found) > 1:
            out.refusals.append(
                Refusal(_at(i, name), f"names {len(found)} possessing parties ({epcis_id})")
            )
            return None
        pid = party_id(found[0]) if found else None
        if found and pid is None:
            out.refusals.append(
                Refusal(
                    _at(i, name),
                    f"{found[0]!r} ({epcis_id}) names no party this ledger can hold: a PGLN "
                    f"URN or {PARTY_URN}<party id>",
                )
            )
            return None
        parties[kind] = pid
    return parties["source"], parties["destination"]


def _foreign_kind(
    i: int,
    epcis_id: str,
    action: str,
    step: str | None,
    disp: str | None,
    parties: tuple[str | None, str | None],
    what: str,
) -> tuple[EventType, dict[str, Any], dict[str, str]] | Refusal:
    """The ledger event type a foreign event maps to, its payload and where each payload
    field came from; or why it cannot be mapped without ``ledger:event``."""
    src, dst = parties
    payload: dict[str, Any]
    fields: dict[str, str]
    if action == "ADD":
        return Refusal(
            _at(i, "action"),
            f"ADD ({epcis_id}) would register assets, which needs {EVENT}: a "
            "registration names model, contract and first custodian",
        )
    if step == "repairing":
        return Refusal(
            _at(i, "bizStep"),
            f"repairing ({epcis_id}) needs {EVENT}: a repair names its facility, "
            "performer and work type",
        )
    if step == "destroying" or disp == "destroyed":
        return (
            EventType.ASSET_DESTROYED,
            {"cause": what, "assessment": disp or "destroyed"},
            {"payload": "disposition"},
        )
    if step == "decommissioning" or action == "DELETE":
        payload = {
            "method": what[:256],
            "consent_ref": "none given (EPCIS capture)",
            "certificate_ref": _short(epcis_id),
        }
        return EventType.ASSET_DECOMMISSIONED, payload, {"payload": "bizStep"}
    if disp == "stolen" and dst is not None:
        payload = {"captor_party": dst, "circumstances": what}
        if src is not None:
            payload["from_party"] = src
        fields = {"payload.captor_party": "destinationList", "payload.from_party": "sourceList"}
        return EventType.ASSET_CAPTURED, payload, fields
    if disp == "stolen":
        if src is None:
            return Refusal(
                _at(i, "sourceList"),
                f"stolen without a destination ({epcis_id}) is a loss, which names the "
                "possessing party at the loss: give it as the source possessing_party",
            )
        payload = {"custodian_at_loss": src, "loss_kind": "stolen"}
        return EventType.LOSS_REPORTED, payload, {"payload.custodian_at_loss": "sourceList"}
    if src is not None and dst is not None and src != dst:
        payload = {
            "from_party": src,
            "to_party": dst,
            "reason": what,
            "transfer_consent_ref": None,
            "condition": disp or "unknown",
        }
        fields = {"payload.from_party": "sourceList", "payload.to_party": "destinationList"}
        return EventType.CUSTODY_TRANSFERRED, payload, fields
    payload = {"condition": disp or "unknown", "activity": what}
    fields = {}
    seen = dst or src
    if seen is not None:
        payload["observed_party"] = seen
        fields["payload.observed_party"] = "destinationList" if dst else "sourceList"
    return EventType.OBSERVATION, payload, fields
