"""Where a part serial appeared: every effective repair record that names it
(``GET /v1/parts/{serial}``, DOMAIN.md §3 "part serials are kept and searchable").

The custody projection files each serial a ``repair_completed`` names — and each a
correction writes into ``payload.parts`` — under the repair's event id
(``proj_part_serials``). A read loads those repairs with their retractions and
corrections (and the retractions of those corrections) and keeps what is effective
at ``known_at``, so a retracted report drops out and a corrected serial moves,
exactly as in every other view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from domain.history import Event, Log
from domain.instants import to_stored
from domain.parts import part_lines
from domain.vocabulary import EventType
from ledger.projections.custody_queries import load_events
from ledger.store.tables import event_amendments, event_index, part_serials


def part_sightings(
    engine: Engine, serial: str, *, as_of: datetime | None, known_at: datetime | None
) -> dict[str, Any]:
    """The repairs that fitted or reported a part with ``serial``, as known at
    ``known_at`` (``None``: all knowledge), that happened by ``as_of`` (``None``: any
    time), in world order; and the assets among them."""
    with engine.connect() as conn:
        repair_ids = sorted(
            {
                r[0]
                for r in conn.execute(
                    sa.select(part_serials.c.event_id).where(part_serials.c.serial == serial)
                )
            }
        )
        logged = _with_amendments(conn, repair_ids)
    log = Log(logged)
    rows: list[tuple[tuple[datetime, datetime, int], dict[str, Any]]] = []
    for event_id in repair_ids:
        recorded = log.get(event_id)
        if recorded is None:
            continue
        e = log.version(recorded, known_at)
        if e is None or e.type is not EventType.REPAIR_COMPLETED:
            continue
        if as_of is not None and e.occurred_at > as_of:
            continue
        for line in part_lines(e):
            if line.serial != serial:
                continue
            for asset_id in e.asset_ids:
                rows.append((e.world_key, _sighting(e, asset_id, line.part, line.quantity)))
    rows.sort(key=lambda r: (r[0], r[1]["asset_id"], r[1]["part"]))
    found = [r[1] for r in rows]
    return {
        "serial": serial,
        "assets": sorted({r["asset_id"] for r in found}),
        "sightings": found,
    }


def _sighting(e: Event, asset_id: str, part: str, quantity: int | None) -> dict[str, Any]:
    return {
        "asset_id": asset_id,
        "part": part,
        "quantity": quantity,
        "event_id": e.event_id,
        "occurred_at": to_stored(e.occurred_at),
        "reported_at": to_stored(e.reported_at),
        "reporter": e.reporter,
        "work_order_id": e.text("work_order_id"),
        "facility_id": e.text("facility_id"),
        "performed_by_party": e.text("performed_by_party"),
        "work_type": e.text("work_type"),
        "corrected": e.corrected,
    }


def _with_amendments(conn: Connection, event_ids: list[str]) -> list[Event]:
    """The events ``event_ids`` (by their index rows), their amendments, and the
    amendments of those (a retracted correction stops counting)."""
    if not event_ids:
        return []
    positions: set[int] = set()
    for i in range(0, len(event_ids), 500):
        chunk = event_ids[i : i + 500]
        positions.update(
            r[0]
            for r in conn.execute(
                sa.select(event_index.c.position).where(event_index.c.event_id.in_(chunk))
            )
        )
    targets = list(event_ids)
    for _ in range(2):
        found: list[str] = []
        for i in range(0, len(targets), 500):
            chunk = targets[i : i + 500]
            for position, amendment in conn.execute(
                sa.select(event_amendments.c.position, event_amendments.c.event_id).where(
                    event_amendments.c.target_event_id.in_(chunk)
                )
            ):
                positions.add(position)
                found.append(amendment)
        targets = found
        if not targets:
            break
    return load_events(conn, positions)
