"""Stored events decoded for a walk that holds them (the findings walks): each keeps its
stored bytes instead of its decoded record (``Event.parse(..., raw=...)``).

A walk holds every event it judges for as long as it runs: one walk the whole log, a
partition its share and the log-wide events. Decoded, a record of the realistic world
(about 600 bytes of JSON) is about 2.3 KB of Python objects, and it was more than half
of a partition's memory at 200,000 events (``tracemalloc``). The rules read the parsed
fields and the payload, which the event keeps; the record itself is read when a
correction is applied (decoded again then) and to compare two versions of an event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from domain.history import Event


def held_event(position: int, state: bytes, record: dict[str, Any] | None = None) -> Event:
    """The event of a stored ``state``; ``record``: the state decoded already, handed
    over (it is frozen in place, and dropped once parsed)."""
    raw = state if type(state) is bytes else bytes(state)
    decoded = orjson.loads(raw) if record is None else record
    return Event.parse(position, decoded, owned=True, raw=raw)


def held_events(rows: Iterable[tuple[int, bytes]]) -> list[Event]:
    """The events of stored ``(position, state)`` rows."""
    return [held_event(p, s) for p, s in rows]
