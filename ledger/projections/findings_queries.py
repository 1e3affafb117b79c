"""Queries over the findings projection: the candidate rows of a findings search and
the lives of finding rows (reading stored changes only when needed). Readers use
these; only ``ledger.projections.findings`` writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from domain.instants import parse, to_stored
from domain.rules import ClearReason, Finding, FindingLife
from domain.rules.lives import Change
from ledger.projections.findings_codec import FindingHead, decode_version
from ledger.store.tables import finding_changes, findings


def candidates(
    *,
    rule: str | None,
    kind: str | None,
    asset: str | None,
    contract: str | None,
    detected_by: datetime | None,
    cleared: bool | None,
) -> Select[Any]:
    """Finding rows that may match, in key order: the indexed columns narrow them in
    SQL; each candidate's life then says how it was known. ``cleared`` narrows on the
    stored latest clearing, which is only right for a view of the present (every
    change is in the past): pass ``None`` otherwise."""
    query = sa.select(findings.c.finding_key, findings.c.life).order_by(findings.c.finding_key)
    for column, value in (
        ("rule", rule),
        ("kind", kind),
        ("asset_id", asset),
        ("contract_id", contract),
    ):
        if value is not None:
            query = query.where(findings.c[column] == value)
    if detected_by is not None:
        query = query.where(findings.c.detected_at <= to_stored(detected_by))
    if cleared is False:
        query = query.where(findings.c.cleared_at.is_(None))
    elif cleared is True:
        query = query.where(findings.c.cleared_at.is_not(None))
    return query


def lives_of(
    conn: Connection, rows: Iterable[Any], known_at: datetime | None = None, *, full: bool = False
) -> list[FindingLife]:
    """The lives of these ``proj_findings`` rows: whole with ``full``; else lives that
    answer :meth:`FindingLife.at` exactly at ``known_at`` (``None``: all knowledge),
    reading stored changes only for the findings that changed after ``known_at``."""
    heads = [FindingHead(orjson.loads(r.life)) for r in rows]
    out: dict[str, FindingLife] = {}
    wanted: list[FindingHead] = []
    for h in heads:
        whole = h.summary()
        if whole is not None:
            out[h.key] = whole
        elif not full and (known_at is None or (h.last_at is not None and known_at >= h.last_at)):
            out[h.key] = h.upto_now()
        else:
            wanted.append(h)
    for i in range(0, len(wanted), 500):
        chunk = {h.key: h for h in wanted[i : i + 500]}
        rows_ = conn.execute(
            sa.select(
                finding_changes.c.finding_key,
                finding_changes.c.at,
                finding_changes.c.reason,
                finding_changes.c.finding,
            )
            .where(finding_changes.c.finding_key.in_(list(chunk)))
            .order_by(finding_changes.c.finding_key, finding_changes.c.seq)
        )
        stored: dict[str, list[Change]] = {}
        base: dict[str, Finding | None] = {}
        for key, at, reason, data in rows_:
            version = None
            if data is not None:
                version = decode_version(base.get(key), orjson.loads(data))
                base[key] = version
            stored.setdefault(key, []).append(
                Change(parse(at), version, None if reason is None else ClearReason(reason))
            )
        for key, h in chunk.items():
            out[h.key] = h._life(stored.get(key, []))
    return [out[h.key] for h in heads]
