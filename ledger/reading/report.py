"""The contract report and compliance read from the projections, without folding the
contract's history — for the view an auditor asks for most: everything the ledger
knows (``known_at`` at or after the last event the projections applied) about the
present (``as_of`` at or after every event of the contract's assets, and not after
``known_at``).

For that view every input of the report is stored already: each asset's state
(``proj_assets``, valid at ``as_of`` since no event of the asset is later), the
findings with their lives (``proj_findings``: then the life at ``known_at`` is the
latest, visible findings are exactly the implied ones with ``valid_from`` by
``as_of``, and nothing was restated after ``known_at``), the contract's actions and
the reference data (small), the retractions and corrections each with its line in the
report (``proj_event_amendments.summary``), and the inventories (``proj_inventories``).
What it reads grows with the contract's assets, not with the log (decision 0026): of
an asset's state findings only those active at ``as_of`` (``valid_to``), and no event
is parsed but the reference data's, the contract's and those of an amended
inventory. :func:`current_report` returns ``None`` for any other
view, or while the two projections are not at the same position; the caller then
folds the log (``domain.rules.contract_report``). The tests hold both paths to the
same report.

The report is of the log up to the projections' position: its reproducibility block
names that position and its hash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.fold import AssetState
from domain.history import WorldKey
from domain.instants import parse, to_stored
from domain.reference import Reference
from domain.rules import Finding, FindingKind, FindingLife, Window
from domain.rules.catalogue import CONTRACT_STATE_RULES
from domain.rules.compliance import Compliance, compliance_of
from domain.rules.corrections import Amendment, corrections
from domain.rules.facts import CutFacts
from domain.rules.report import EVENT_FINDINGS_LISTED, ContractReport, assemble_report
from domain.state import History
from domain.vocabulary import EventType
from ledger.projections.codec import state_from_json
from ledger.projections.custody_queries import (
    FINDING,
    INVENTORIES,
    REF,
    asset_subject,
    contract_subject,
    load_events,
    load_subject,
    subject_positions,
)
from ledger.projections.findings_queries import lives_of
from ledger.projections.tracking import tracking_position
from ledger.store.recorders import head_recorded_at
from ledger.store.tables import (
    assets,
    event_amendments,
    event_index,
    events,
    findings,
    inventories,
)

__all__ = ["Current", "current", "current_compliance", "current_report"]

_STATE = FindingKind.STATE.value
_RETRACTED = EventType.EVENT_RETRACTED.value
_CORRECTED = EventType.EVENT_CORRECTED.value


@dataclass(frozen=True)
class Current:
    """What every projection-backed view of a contract shares."""

    position: int
    head_hash: str
    ref: Reference
    cut: CutFacts
    states: dict[str, AssetState | None]
    state_lives: list[FindingLife]


def current(
    conn: Connection,
    contract_id: str,
    as_of: datetime,
    known_at: datetime,
    rules: Sequence[str] | None = None,
) -> Current | None:
    """The stored inputs of the contract's views at ``(as_of, known_at)``, or ``None``
    when the projections cannot give that view exactly; ``rules`` limits the state
    findings read (compliance needs R03 and C01 only)."""
    position = tracking_position(conn, "findings", lock=False)
    if position == 0 or tracking_position(conn, "custody", lock=False) != position:
        return None
    head = conn.execute(
        sa.select(events.c.hash, events.c.state).where(events.c.notification_id == position)
    ).first()
    if head is None or as_of > known_at:
        return None
    recorded = head_recorded_at(bytes(head.state)).decode()
    if to_stored(known_at) < recorded:
        return None  # a view of the past: fold the log
    latest = conn.execute(
        sa.select(sa.func.max(assets.c.last_world_key)).where(assets.c.contract_id == contract_id)
    ).scalar()
    if latest is not None and latest[: len(recorded)] > to_stored(as_of):
        return None  # some asset has an event after as_of: its stored state is too late

    # The report's inventories are read from their summaries (``_inventories``).
    subjects = [REF, contract_subject(contract_id)]
    records = {p: r for subject in subjects for p, r in load_subject(conn, subject)}
    small = History(sorted(records.items()))
    cut = CutFacts.of(small.known(None).events)
    rows = conn.execute(
        sa.select(assets.c.asset_id, assets.c.state)
        .where(assets.c.contract_id == contract_id)
        .order_by(assets.c.asset_id)
    )
    states: dict[str, AssetState | None] = {
        r.asset_id: state_from_json(orjson.loads(r.state)) for r in rows
    }
    # Only the findings not cleared: the views read the implied ones (``_implied``), and
    # the cleared ones are a third of a contract's (23,775 of 70,433 on the realistic
    # world at 1M events), each a life to decode. Of an asset's, only those active at
    # as_of: the views read no other (open state findings, R03 holding support back,
    # R13 overdue), and most have ended. The contract's own are listed whole.
    query = sa.select(findings.c.life).where(
        findings.c.contract_id == contract_id,
        findings.c.kind == _STATE,
        findings.c.cleared_at.is_(None),
        sa.or_(
            findings.c.rule.in_(list(CONTRACT_STATE_RULES)),
            findings.c.valid_to.is_(None),
            findings.c.valid_to > to_stored(as_of),
        ),
    )
    if rules is not None:
        query = query.where(findings.c.rule.in_(list(rules)))
    lives = lives_of(conn, conn.execute(query).all(), known_at)
    return Current(position, bytes(head.hash).hex(), small.reference(None), cut, states, lives)


def _implied(lives: Sequence[FindingLife], known_at: datetime | None) -> list[Finding]:
    """The findings implied now, each as known at ``known_at`` — a finding whose
    ``valid_from`` is still ahead has no detection yet: its catalogue version. ``lives``
    may leave out the cleared ones (their ``cleared_at`` is stored: :func:`current`)."""
    out = []
    for x in lives:
        latest = x.at(None)
        if latest is None or latest.cleared:
            continue
        then = x.at(known_at)
        out.append(latest.content() if then is None else then)
    return out


def current_compliance(
    c: Current,
    contract_id: str,
    as_of: datetime,
    known_at: datetime | None,
    implied: list[Finding] | None = None,
) -> Compliance:
    if implied is None:
        implied = _implied(c.state_lives, known_at)
    r03: dict[str, list[Finding]] = {}
    for f in implied:
        if f.rule == "R03" and f.asset_id:
            r03.setdefault(f.asset_id, []).append(f)
    required = _sorted(f for f in implied if f.rule == "C01")
    return compliance_of(
        contract_id,
        c.ref,
        c.cut.actions.get(contract_id, ()),
        c.states,
        r03,
        required,
        as_of,
        known_at,
    )


def current_report(
    conn: Connection,
    c: Current,
    contract_id: str,
    as_of: datetime,
    known_at: datetime,
    window: Window,
) -> ContractReport:
    implied = _implied(c.state_lives, known_at)
    live_state = [f for f in implied if f.detected_at is not None and f.detected_at <= known_at]
    listed, by_rule = _event_findings(conn, contract_id, as_of, known_at, window)
    amendments, retracted_by = _amendments(conn, contract_id, c.states)
    in_period = tuple(
        event_id
        for _, event_id, occurred_at, subjects in _inventories(conn)
        if occurred_at <= as_of
        and window.contains(occurred_at)
        and any(a in c.states for a in subjects)
    )
    return assemble_report(
        contract_id=contract_id,
        ref=c.ref,
        as_of=as_of,
        known_at=known_at,
        window=window,
        status=current_compliance(c, contract_id, as_of, known_at, implied),
        gaps=[f for f in live_state if f.rule == "C02" and f.valid_from <= as_of],
        without_cause=[f for f in live_state if f.rule == "C03" and f.valid_from <= as_of],
        state_findings=live_state,
        event_findings=listed,
        event_findings_by_rule=by_rule,
        states=c.states,
        inventories_in_period=in_period,
        corrections=corrections(contract_id, set(c.states), amendments, retracted_by, window),
        restatements=(),
        head_position=c.position,
        head_hash=c.head_hash,
    )


def _sorted(found: Any) -> list[Finding]:
    return sorted(found, key=lambda f: (f.valid_from, f.finding_key))


def _event_findings(
    conn: Connection, contract_id: str, as_of: datetime, known_at: datetime, window: Window
) -> tuple[list[Finding], Counter[str]]:
    """The period's event findings and discrepancies not cleared: the first
    :data:`EVENT_FINDINGS_LISTED` by ``valid_from`` (then key), and a count by rule."""
    # The conditions of the partial index ``ix_proj_findings_open_events``.
    conditions = [
        findings.c.contract_id == contract_id,
        findings.c.cleared_at.is_(None),
        findings.c.kind != _STATE,
        findings.c.valid_from <= to_stored(as_of),
    ]
    if window.start is not None:
        conditions.append(findings.c.valid_from >= to_stored(window.start))
    if window.end is not None:
        conditions.append(findings.c.valid_from < to_stored(window.end))
    by_rule: Counter[str] = Counter(
        dict(
            conn.execute(
                sa.select(findings.c.rule, sa.func.count())
                .where(*conditions)
                .group_by(findings.c.rule)
            ).all()
        )
    )
    # Keys in code point order, as Python sorts them: bytewise ("C") on PostgreSQL,
    # SQLite's default.
    key: sa.ColumnElement[Any] = findings.c.finding_key
    if conn.dialect.name == "postgresql":
        key = findings.c.finding_key.collate("C")
    rows = conn.execute(
        sa.select(findings.c.life)
        .where(*conditions)
        .order_by(findings.c.valid_from, key)
        .limit(EVENT_FINDINGS_LISTED)
    ).all()
    found = [f for x in lives_of(conn, rows, known_at) if (f := x.at(known_at)) is not None]
    return _sorted(found)[:EVENT_FINDINGS_LISTED], by_rule


def _inventories(conn: Connection) -> list[tuple[WorldKey, str, datetime, Sequence[str]]]:
    """Every inventory in effect, in world order: its world key, id, ``occurred_at``
    and the assets it concerns. From ``proj_inventories`` as recorded, but the few
    that were retracted or corrected as the log has them now (the amendments of an
    inventory, and of those, are filed under ``inventories`` with it)."""
    rows = conn.execute(
        sa.select(
            inventories.c.position,
            inventories.c.event_id,
            inventories.c.occurred_at,
            inventories.c.reported_at,
            inventories.c.subjects,
        )
    ).all()
    amended = {
        r[0]
        for r in conn.execute(
            sa.select(event_amendments.c.target_event_id).where(
                event_amendments.c.target_event_id.in_(sa.select(inventories.c.event_id))
            )
        )
    }
    out = [
        (
            (parse(r.occurred_at), parse(r.reported_at), r.position),
            r.event_id,
            parse(r.occurred_at),
            orjson.loads(r.subjects),
        )
        for r in rows
        if r.event_id not in amended
    ]
    if amended:
        recorded = {r.position for r in rows}
        filed = subject_positions(conn, [INVENTORIES]).get(INVENTORIES, [])
        wanted = [r.position for r in rows if r.event_id in amended]
        wanted += [p for p in filed if p not in recorded]  # their amendments
        history = History(load_events(conn, wanted))
        out += [
            (e.world_key, e.event_id, e.occurred_at, e.subjects)
            for e in history.known(None).events
            if e.type is EventType.INVENTORY_COMPLETED
        ]
    return sorted(out, key=lambda x: x[0])


def _amendments(
    conn: Connection, contract_id: str, asset_ids: Iterable[str]
) -> tuple[list[Amendment], dict[str, str]]:
    """Every retraction and correction whose target is filed under the reference
    data, the findings' dispositions, the contract or one of its assets, as the custody
    projection summed each up (knowledge order), and which were themselves retracted
    (by which retraction)."""
    subjects = {REF, FINDING, contract_subject(contract_id)}
    subjects.update(asset_subject(a) for a in asset_ids)
    rows = conn.execute(
        sa.select(
            event_amendments.c.position,
            event_amendments.c.target_event_id,
            event_amendments.c.summary,
        ).where(event_amendments.c.summary.is_not(None))
    ).all()
    # Where each target is filed, looked up by its id a chunk at a time: as one join,
    # PostgreSQL scanned the whole index (2.1M rows at 1M events) for 10,318 targets.
    targets = sorted({r.target_event_id for r in rows})
    concerned: set[str] = set()
    for i in range(0, len(targets), 1000):
        filed = conn.execute(
            sa.select(event_index.c.event_id, event_index.c.subject).where(
                event_index.c.event_id.in_(targets[i : i + 1000])
            )
        )
        concerned.update(event_id for event_id, subject in filed if subject in subjects)
    amendments = sorted(
        (
            Amendment.from_json(r.position, orjson.loads(r.summary))
            for r in rows
            if r.target_event_id in concerned
        ),
        key=lambda a: a.knowledge_key,
    )
    # A retraction of a retraction has no effect (domain.history): only corrections.
    # Those of the contract's corrections are among these: filed where their target is.
    corrected = {a.event_id for a in amendments if a.row["type"] == _CORRECTED}
    retracted_by: dict[str, str] = {}
    for a in amendments:
        if a.row["type"] == _RETRACTED and a.target_event_id in corrected:
            retracted_by.setdefault(a.target_event_id, a.event_id)
    return amendments, retracted_by
