"""Queries over the custody projection's subject index (``proj_event_index``): the
subjects events are filed under, loading the events of a subject, and one contract's
history for a fold. Readers and the findings projection use these; only
``ledger.projections.custody`` writes the index."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.history import Event
from domain.state import History
from ledger.store.tables import assets, event_index, events, registry

REF = "ref"


FINDING = "finding"
"""Finding dispositions are filed here: every contract's findings depend on them."""

INVENTORIES = "inventories"
"""Every inventory is also filed here: the contract report lists a period's."""

REGISTRATIONS = "registrations"
"""Every asset registration is also filed here (with its amendments): a contract's
evidence proves with it which assets the contract has."""


def asset_subject(asset_id: str) -> str:
    return f"asset:{asset_id}"


def contract_subject(contract_id: str) -> str:
    return f"contract:{contract_id}"


def load_events(conn: Connection, positions: Iterable[int]) -> list[Event]:
    wanted = sorted(set(positions))
    out: list[Event] = []
    for i in range(0, len(wanted), 900):
        chunk = wanted[i : i + 900]
        rows = conn.execute(
            sa.select(events.c.notification_id, events.c.state).where(
                events.c.notification_id.in_(chunk)
            )
        )
        out.extend(Event.parse(p, orjson.loads(s), owned=True) for p, s in rows)
    out.sort(key=lambda e: e.position)
    return out


def load_subject(conn: Connection, subject: str) -> list[tuple[int, dict[str, Any]]]:
    """Every stored record filed under ``subject``, in one round trip."""
    rows = conn.execute(
        sa.select(events.c.notification_id, events.c.state)
        .join(event_index, event_index.c.position == events.c.notification_id)
        .where(event_index.c.subject == subject)
        .order_by(events.c.notification_id)
    )
    return [(p, orjson.loads(s)) for p, s in rows]


def subject_positions(conn: Connection, subjects: Iterable[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    wanted = list(set(subjects))
    for i in range(0, len(wanted), 500):
        rows = conn.execute(
            sa.select(event_index.c.subject, event_index.c.position).where(
                event_index.c.subject.in_(wanted[i : i + 500])
            )
        )
        for subject, position in rows:
            out[subject].append(position)
    return out


def contract_assets(conn: Connection, contract_id: str) -> list[str]:
    rows = conn.execute(sa.select(assets.c.asset_id).where(assets.c.contract_id == contract_id))
    return [r[0] for r in rows]


def contract_history(conn: Connection, contract_id: str, upto: int | None = None) -> History:
    """The events a contract's findings depend on, as a ``History``."""
    subjects = [REF, FINDING, contract_subject(contract_id)]
    subjects += [asset_subject(a) for a in contract_assets(conn, contract_id)]
    query = (
        sa.select(events.c.notification_id, events.c.state)
        .where(
            events.c.notification_id.in_(
                sa.select(event_index.c.position).where(event_index.c.subject.in_(subjects))
            )
        )
        .order_by(events.c.notification_id)
    )
    if upto is not None:
        query = query.where(events.c.notification_id <= upto)
    return History([Event.parse(p, orjson.loads(s), owned=True) for p, s in conn.execute(query)])


def all_contracts(conn: Connection) -> list[str]:
    rows = conn.execute(sa.select(registry.c.natural_id).where(registry.c.kind == "contract"))
    return sorted(r[0] for r in rows)


def events_by_id(conn: Connection, ids: Iterable[str]) -> dict[str, Event]:
    """The stored events with these ids, by id (through the event index)."""
    positions = sa.select(event_index.c.position).where(event_index.c.event_id.in_(sorted(ids)))
    rows = conn.execute(
        sa.select(events.c.notification_id, events.c.state).where(
            events.c.notification_id.in_(positions.distinct().scalar_subquery())
        )
    )
    out = {}
    for position, state in rows:
        e = Event.parse(position, orjson.loads(state), owned=True)
        out[e.event_id] = e
    return out


def contract_frame(conn: Connection, contract_id: str, upto: int) -> list[Event]:
    """What :func:`contract_history` holds of a contract but its assets' own events:
    the events filed under the reference data, the
    findings' dispositions and the contract, and the registrations and inventories
    filed under one of its assets (amendments are filed with their targets). A fold
    then adds a share of the assets' events at a time
    (``domain.rules.compliance.compliance_in_chunks``). Only events up to position
    ``upto``: every read of one fold stops at the same place."""
    mine = {asset_subject(a) for a in contract_assets(conn, contract_id)}
    contract = contract_subject(contract_id)
    rows = conn.execute(
        sa.select(event_index.c.subject, event_index.c.position, event_index.c.event_id).where(
            event_index.c.subject.in_([REF, FINDING, contract, REGISTRATIONS, INVENTORIES]),
            event_index.c.position <= upto,
        )
    ).all()
    wanted = {p for s, p, _ in rows if s in (REF, FINDING, contract)}
    shared = sorted({e for s, _, e in rows if s in (REGISTRATIONS, INVENTORIES)})
    for i in range(0, len(shared), 1000):
        filed = conn.execute(
            sa.select(event_index.c.subject, event_index.c.position).where(
                event_index.c.event_id.in_(shared[i : i + 1000])
            )
        )
        wanted.update(p for s, p in filed if s in mine and p <= upto)
    return load_events(conn, wanted)


def asset_events(
    conn: Connection, asset_ids: Iterable[str], skip: set[int], upto: int
) -> list[Event]:
    """Every event up to position ``upto`` filed under one of these assets, but those
    at ``skip``, in one query (as :func:`contract_history` reads)."""
    # Not the inventories and registrations, which the frame holds: an inventory names
    # the assets of many shares.
    shared = sa.select(event_index.c.position).where(
        event_index.c.subject.in_([INVENTORIES, REGISTRATIONS])
    )
    filed = sa.select(event_index.c.position).where(
        event_index.c.subject.in_([asset_subject(a) for a in asset_ids]),
        event_index.c.position <= upto,
        event_index.c.position.not_in(shared),
    )
    rows = conn.execute(
        sa.select(events.c.notification_id, events.c.state)
        .where(events.c.notification_id.in_(filed))
        .order_by(events.c.notification_id)
    )
    return [Event.parse(p, orjson.loads(s), owned=True) for p, s in rows if p not in skip]
