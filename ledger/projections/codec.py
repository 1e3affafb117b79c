"""Asset state to and from the JSON the projection rows and the API carry, and the
views the API answers with that an evidence bundle must reproduce offline
(:func:`asset_view`, :func:`life_view`): one definition for both."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from enum import Enum
from typing import Any

from domain.fold import AssetState, unaccounted_reason
from domain.history import Event, Location
from domain.instants import parse, to_stored
from domain.reference import Reference
from domain.rules import FindingLife
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


_STATE_FIELDS = tuple(f.name for f in fields(AssetState))
_STORED_WIDTH = len("2014-06-10T08:00:00.000000Z")


def _instant(text: str) -> datetime:
    # The stored form reads as UTC directly; anything else goes through ``parse``.
    if len(text) == _STORED_WIDTH and text[-1] == "Z":
        return datetime.fromisoformat(text)
    return parse(text)


def state_from_json(data: dict[str, Any]) -> AssetState:
    values: dict[str, Any] = {name: data.get(name) for name in _STATE_FIELDS}
    for name in _INSTANTS:
        if values[name] is not None:
            values[name] = _instant(values[name])
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


def asset_view(
    state: AssetState,
    ref: Reference,
    t: datetime,
    known_at: datetime,
    observation: dict[str, Any] | None,
) -> dict[str, Any]:
    """An asset as ``GET /v1/assets/{id}`` gives it: its state at ``t`` with whether its
    custodian is authorised and it is accounted for then, and its last observation."""
    reason = unaccounted_reason(state, ref, t)
    view = state_to_json(state)
    view.update(
        custodian_authorised=(
            None
            if state.custodian is None
            else ref.authorised(state.custodian, state.contract_id, t)
        ),
        accounted_for=reason is None,
        unaccounted_reason=None if reason is None else reason.value,
        last_observation=observation,
        as_of=to_stored(t),
        known_at=to_stored(known_at),
    )
    return view


def life_view(fl: FindingLife, upto: datetime | None) -> list[dict[str, Any]]:
    """A finding's life as ``GET /v1/findings/{key}`` lists it, up to ``upto`` (``None``:
    all of it)."""
    return [
        {
            "at": to_stored(c.at),
            "change": "cleared" if c.finding is None else ("detected" if i == 0 else "revised"),
            "reason": None if c.reason is None else c.reason.value,
            "finding": None if c.finding is None else c.finding.to_dict(),
        }
        for i, c in enumerate(fl.changes)
        if upto is None or c.at <= upto
    ]
