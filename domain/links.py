"""Which fields of an event name which kind of thing (DOMAIN.md §3, write-side
validation): the ledger checks that each one exists, and that registrations do not
repeat. Pure: it reads a record and says what to look up."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from domain.vocabulary import AuthorizationKind, EventType

PARTY = "party"
FACILITY = "facility"
CONTRACT = "contract"
ASSET = "asset"
AUTHORIZATION = "authorization"
EVENT = "event"
SERIAL = "serial"


class Reference(NamedTuple):
    """A name an event gives that must already exist (a named tuple: the write path
    makes one per reference of every event, and a frozen dataclass costs 3× more)."""

    field: str  # dotted path, e.g. ``payload.to_party``
    kind: str
    natural_id: str


@dataclass(frozen=True)
class NewKey:
    """A natural key an event registers; registering it twice is a 409."""

    field: str
    kind: str
    natural_id: str
    attrs: Mapping[str, Any] | None = None


def serial_key(model: str, serial: str) -> str:
    return f"{model}\x1f{serial}"


# (payload field, kind) pairs for single-valued references, per type.
_PAYLOAD_REFS: dict[EventType, tuple[tuple[str, str], ...]] = {
    EventType.PARTY_REGISTERED: (("parent", PARTY), ("acts_for", PARTY)),
    EventType.FACILITY_REGISTERED: (("operator_party", PARTY),),
    EventType.CONTRACT_REGISTERED: (("title_holder", PARTY), ("seller", PARTY)),
    EventType.AUTHORIZATION_GRANTED: (("contract_id", CONTRACT),),
    EventType.AUTHORIZATION_REVOKED: (("authorization_id", AUTHORIZATION),),
    EventType.ASSET_REGISTERED: (("contract_id", CONTRACT), ("initial_custodian", PARTY)),
    EventType.CUSTODY_TRANSFERRED: (("from_party", PARTY), ("to_party", PARTY)),
    EventType.ASSET_CAPTURED: (("from_party", PARTY), ("captor_party", PARTY)),
    EventType.ASSET_RECOVERED: (("from_party", PARTY), ("recovered_by_party", PARTY)),
    EventType.LOSS_REPORTED: (("custodian_at_loss", PARTY),),
    EventType.ASSET_DISABLED: (("disabled_by_party", PARTY),),
    EventType.ASSET_DESTROYED: (("attributed_to_party", PARTY),),
    # ``authorization_ref`` names a document (free text), not an authorisation id.
    EventType.REPAIR_STARTED: (("facility_id", FACILITY), ("performed_by_party", PARTY)),
    EventType.REPAIR_COMPLETED: (("facility_id", FACILITY), ("performed_by_party", PARTY)),
    EventType.INVENTORY_COMPLETED: (("inspector_party", PARTY),),
    EventType.OBSERVATION: (("observed_party", PARTY),),
    EventType.SUPPORT_PROVIDED: (("provider_party", PARTY), ("recipient_party", PARTY)),
    EventType.CONTRACT_ACTION: (("target_contract_id", CONTRACT), ("decided_by_party", PARTY)),
    EventType.EVENT_RETRACTED: (("target_event_id", EVENT),),
    EventType.EVENT_CORRECTED: (("target_event_id", EVENT),),
}


def references(record: Mapping[str, Any]) -> Iterator[Reference]:
    """Every reference in ``record`` that must already exist."""
    etype = EventType(record["type"])
    payload: Mapping[str, Any] = record.get("payload", {})
    registers_reporter = (
        etype is EventType.PARTY_REGISTERED and payload.get("party_id") == record["reporter"]
    )
    if not registers_reporter:
        yield Reference("reporter", PARTY, record["reporter"])
    if etype is not EventType.ASSET_REGISTERED:
        for i, a in enumerate(record.get("asset_ids", ())):
            yield Reference(f"asset_ids[{i}]", ASSET, a)
    if record.get("contract_id") is not None:
        yield Reference("contract_id", CONTRACT, record["contract_id"])
    location = record.get("location") or {}
    if location.get("facility_id") is not None:
        yield Reference("location.facility_id", FACILITY, location["facility_id"])
    for name, kind in _PAYLOAD_REFS.get(etype, ()):
        if payload.get(name) is not None:
            yield Reference(f"payload.{name}", kind, payload[name])
    if etype is EventType.PARTY_RECLASSIFIED:
        for i, p in enumerate(payload["party_ids"]):
            yield Reference(f"payload.party_ids[{i}]", PARTY, p)
    elif etype is EventType.AUTHORIZATION_GRANTED:
        subject_kind = FACILITY if payload["kind"] == AuthorizationKind.REPAIR_FACILITY else PARTY
        yield Reference("payload.subject_id", subject_kind, payload["subject_id"])
    elif etype is EventType.LOSS_REPORTED:
        place = payload.get("last_known_location") or {}
        if place.get("facility_id") is not None:
            yield Reference(
                "payload.last_known_location.facility_id", FACILITY, place["facility_id"]
            )
    elif etype is EventType.INVENTORY_COMPLETED:
        for i, p in enumerate(payload["scope_parties"]):
            yield Reference(f"payload.scope_parties[{i}]", PARTY, p)
        for i, line in enumerate(payload["results"]):
            yield Reference(f"payload.results[{i}].asset_id", ASSET, line["asset_id"])
            if line.get("found_at_party") is not None:
                yield Reference(
                    f"payload.results[{i}].found_at_party", PARTY, line["found_at_party"]
                )
    elif etype is EventType.CONTRACT_ACTION:
        for i, a in enumerate(payload.get("basis_asset_ids", ())):
            yield Reference(f"payload.basis_asset_ids[{i}]", ASSET, a)


def new_keys(record: Mapping[str, Any]) -> list[NewKey]:
    """The natural keys ``record`` registers."""
    etype = EventType(record["type"])
    p: Mapping[str, Any] = record.get("payload", {})
    if etype is EventType.PARTY_REGISTERED:
        attrs = {"parent": p.get("parent"), "acts_for": p.get("acts_for")}
        return [NewKey("payload.party_id", PARTY, p["party_id"], attrs)]
    if etype is EventType.FACILITY_REGISTERED:
        return [NewKey("payload.facility_id", FACILITY, p["facility_id"])]
    if etype is EventType.CONTRACT_REGISTERED:
        attrs = {"seller": p["seller"], "title_holder": p["title_holder"]}
        return [NewKey("payload.contract_id", CONTRACT, p["contract_id"], attrs)]
    if etype is EventType.AUTHORIZATION_GRANTED:
        return [NewKey("payload.authorization_id", AUTHORIZATION, p["authorization_id"])]
    if etype is EventType.ASSET_REGISTERED:
        return [
            NewKey(
                "asset_ids[0]", ASSET, record["asset_ids"][0], {"contract_id": p["contract_id"]}
            ),
            NewKey("payload.serial", SERIAL, serial_key(p["model"], p["serial"])),
        ]
    return []
