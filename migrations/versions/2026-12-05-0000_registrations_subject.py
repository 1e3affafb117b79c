"""registrations subject: every asset registration (and its amendments) filed under one
subject, so a contract's evidence can prove which assets it has

Revision ID: 0010_registrations_subject
Revises: 0009_part_serials
Create Date: 2026-12-05 00:00

The custody projection now files each ``asset_registered`` event under ``registrations``
as well as under its asset (``own_subjects``), and a retraction or correction under its
target's subjects, as always. A contract's evidence bundle carries that subject's signed
statement: a verifier sees every registration up to the checkpoint, so it knows which
assets belong to the contract and that none was left out (docs/decisions/0012).

This migration files the registrations the projection has already applied (positions up
to its tracking row), reading the stored events once; the projection files the rest as
it goes. The event store is untouched. Downgrade deletes the rows.
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0010_registrations_subject"
down_revision = "0009_part_serials"
branch_labels = None
depends_on = None

SUBJECT = "registrations"
_AMENDMENTS = ("event_retracted", "event_corrected")
_CHUNK = 5_000


def upgrade() -> None:
    conn = op.get_bind()
    done = conn.execute(
        sa.text("SELECT position FROM projection_tracking WHERE name = 'custody'")
    ).scalar()
    if not done:
        return
    filed: set[str] = set()
    rows: list[dict[str, object]] = []
    after = 0
    while after < done:
        chunk = conn.execute(
            sa.text(
                "SELECT notification_id, state FROM ledger_events "
                "WHERE notification_id > :a AND notification_id <= :b "
                "ORDER BY notification_id"
            ),
            {"a": after, "b": min(done, after + _CHUNK)},
        ).all()
        after = min(done, after + _CHUNK)
        for position, state in chunk:
            record = orjson.loads(bytes(state))
            kind, event_id = record.get("type"), str(record.get("event_id"))
            target = (record.get("payload") or {}).get("target_event_id")
            if kind == "asset_registered" or (kind in _AMENDMENTS and target in filed):
                filed.add(event_id)
                rows.append({"s": SUBJECT, "p": int(position), "e": event_id})
        if len(rows) >= _CHUNK or after >= done:
            _insert(conn, rows)
            rows = []


def _insert(conn: sa.Connection, rows: list[dict[str, object]]) -> None:
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO proj_event_index (subject, position, event_id) VALUES (:s, :p, :e)"
            ),
            rows,
        )


def downgrade() -> None:
    op.execute(f"DELETE FROM proj_event_index WHERE subject = '{SUBJECT}'")
