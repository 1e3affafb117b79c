"""Asset state to and from the JSON the projection rows and the API carry."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from enum import Enum
from typing import Any

from domain.fold import AssetState
from domain.history import Event, Location
from domain.instants import parse, to_stored
from domain.vocabulary import Confidence, Operational, Status

_INSTANTS = ("since", "last_verified_at", "partner_entry_at")


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_stored(value)
    if isinstance(value, Location):
        return {k: v for k, v in asdict(value).items() if v is not None}
    if isinstance(value, Status | Operational | Confidence):
        return value.value
    return value


def state_to_json(state: AssetState) -> dict[str, Any]:
    return {f.name: _json(getattr(state, f.name)) for f in fields(state)}


def state_from_json(data: dict[str, Any]) -> AssetState:
    values: dict[str, Any] = {f.name: data.get(f.name) for f in fields(AssetState)}
    for name in _INSTANTS:
        if values[name] is not None:
            values[name] = parse(values[name])
    values["status"] = Status(values["status"])
    values["operational"] = Operational(values["operational"])
    if values["terminal_confidence"] is not None:
        values["terminal_confidence"] = Confidence(values["terminal_confidence"])
    values["location"] = Location.from_json(values["location"])
    return AssetState(**values)


def world_key(event: Event) -> str:
    """Sortable text form of the world order (occurred_at, reported_at, position)."""
    # Stored instants are already in the fixed-width form; a corrected occurred_at may
    # not be, so only that case is formatted again.
    occurred = (
        event.record["occurred_at"] if not event.corrections else to_stored(event.occurred_at)
    )
    return f"{occurred}|{event.record['reported_at']}|{event.position:020d}"


def observation_json(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "occurred_at": to_stored(event.occurred_at),
        "observed_party": event.text("observed_party"),
        "condition": event.text("condition"),
        "activity": event.text("activity"),
        "confidence": event.confidence.value,
        "location": _json(event.location) if event.location else None,
    }


def to_json(value: Any) -> Any:
    """Generic JSON form of domain values: dataclasses, instants, enums, tuples."""
    if isinstance(value, datetime):
        return to_stored(value)
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value
