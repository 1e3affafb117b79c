"""Parts named by repair records (DOMAIN.md §3: ``parts`` is a list whose items are a
string or ``{part, serial?, quantity?}``; part serials are kept and searchable).

Pure: it reads an event (or a correction's values) and says which parts, and which
serials, it names. The ledger indexes the serials (``proj_part_serials``) and
``GET /v1/parts/{serial}`` answers from the effective repair records.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from domain.history import Event
from domain.vocabulary import EventType


@dataclass(frozen=True, slots=True)
class PartLine:
    """One item of a repair's ``parts``: a bare name has no serial or quantity."""

    part: str
    serial: str | None = None
    quantity: int | None = None


def part_lines(e: Event) -> tuple[PartLine, ...]:
    """The parts a ``repair_completed`` names (none for any other event)."""
    if e.type is not EventType.REPAIR_COMPLETED:
        return ()
    out: list[PartLine] = []
    for item in e.payload.get("parts") or ():
        if isinstance(item, str):
            out.append(PartLine(item))
        elif isinstance(item, Mapping):
            serial, quantity = item.get("serial"), item.get("quantity")
            out.append(
                PartLine(
                    str(item.get("part", "")),
                    None if serial is None else str(serial),
                    quantity if isinstance(quantity, int) else None,
                )
            )
    return tuple(out)


def serials_of(e: Event) -> frozenset[str]:
    """The part serials ``e`` names: a repair's own, or for a correction those its
    values write into ``payload.parts`` (of whatever it corrects)."""
    if e.type is EventType.REPAIR_COMPLETED:
        return frozenset(p.serial for p in part_lines(e) if p.serial)
    if e.type is not EventType.EVENT_CORRECTED:
        return frozenset()
    found: set[str] = set()
    for path, value in e.corrected_fields.items():
        if path == "payload.parts" or path.startswith("payload.parts."):
            if path.endswith(".serial") and isinstance(value, str):
                found.add(value)
            else:
                found.update(_serials_in(value))
    return frozenset(found)


def _serials_in(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        serial = value.get("serial")
        if isinstance(serial, str) and serial:
            yield serial
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _serials_in(v)
