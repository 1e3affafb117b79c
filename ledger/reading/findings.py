"""Read use cases over findings: the list with SPEC.md §2 filters, one finding with its
evidence and life, contract compliance and the contract report.

``known_at`` (default now) gives "known then": findings detected by that knowledge
time, each as the ledger then knew it (version, clearing, disposition). ``hindsight``
gives every finding with all knowledge. Compliance and the report read the projections
for the present as now known (``ledger.reading.report``); any other view folds the
contract's own events, reusing the projection's stored lives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from domain.instants import to_stored
from domain.rules import Filters, Finding, FindingKind, Window
from domain.rules.compliance import Compliance, compliance_in_chunks
from domain.rules.lives import FindingLife
from domain.rules.report import ContractReport, contract_report_in_chunks
from domain.state import History
from ledger.errors import InvalidEventError, NotFoundError, Problem
from ledger.projections.codec import life_view
from ledger.projections.custody_queries import asset_events, contract_frame, events_by_id
from ledger.projections.findings_queries import candidates, lives_of
from ledger.projections.tracking import tracking_position
from ledger.reading.report import current, current_compliance, current_report
from ledger.store.lookups import Lookups
from ledger.store.tables import events, findings

MAX_LIMIT = 1000
KINDS = tuple(k.value for k in FindingKind)


@dataclass(frozen=True, kw_only=True)
class FindingsQuery:
    """The findings filters of SPEC.md §2, built once at the edge (the JSON route and the
    findings page build the same object from their parameters).

    ``known_at`` (default now) gives findings detected by then, each as then known;
    ``hindsight`` every finding with all knowledge. ``cleared``: ``False`` (default),
    ``True`` or ``None`` for either. ``active_at`` keeps state findings whose interval
    contains that valid time and event or discrepancy findings at or before it. The
    ``detected_*`` and ``cleared_*`` bounds are knowledge-time windows ``[from, to)``."""

    rule: str | None = None
    kind: str | None = None
    asset: str | None = None
    contract: str | None = None
    party: str | None = None
    cleared: bool | None = False
    active_at: datetime | None = None
    known_at: datetime | None = None
    hindsight: bool = False
    detected_from: datetime | None = None
    detected_to: datetime | None = None
    cleared_from: datetime | None = None
    cleared_to: datetime | None = None
    cursor: str | None = None
    limit: int = 100

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise InvalidEventError(
                f"kind: one of {', '.join(KINDS)}", [Problem("kind", "unknown kind")]
            )

    def filters(self) -> Filters:
        """The domain's filters, applied to each candidate's life as known."""
        detected = self.detected_from or self.detected_to
        cleared = self.cleared_from or self.cleared_to
        return Filters(
            rule=self.rule,
            kind=None if self.kind is None else FindingKind(self.kind),
            asset=self.asset,
            contract=self.contract,
            party=self.party,
            cleared=self.cleared,
            active_at=self.active_at,
            detected=Window(self.detected_from, self.detected_to) if detected else None,
            cleared_within=Window(self.cleared_from, self.cleared_to) if cleared else None,
        )


class FindingsReads:
    def __init__(self, engine: Engine, lookups: Lookups) -> None:
        self.engine = engine
        self.lookups = lookups

    def search(self, q: FindingsQuery) -> dict[str, Any]:
        at = None if q.hindsight else (q.known_at or datetime.now(UTC))
        filters = q.filters()
        limit = max(1, min(q.limit, MAX_LIMIT))
        # The columns narrow the candidates in SQL; each candidate's life then says how
        # it was known at ``at``. Rows stream in key order until the page is full.
        query = candidates(
            rule=q.rule,
            kind=q.kind,
            asset=q.asset,
            contract=q.contract,
            detected_by=at,
            cleared=q.cleared if at is None or at >= datetime.now(UTC) else None,
        )
        page: list[Finding] = []
        more = False
        last, size = q.cursor, limit + 1
        with self.engine.connect() as conn:
            # Key by key in pages with a LIMIT, so the database walks the key index
            # instead of sorting every candidate; pages grow while filters drop rows.
            while not more:
                paged = query if last is None else query.where(findings.c.finding_key > last)
                chunk = conn.execute(paged.limit(size)).all()
                for life in lives_of(conn, chunk, at):
                    f = life.at(at)
                    if f is None or not filters.keep(f):
                        continue
                    if len(page) == limit:
                        more = True
                        break
                    page.append(f)
                if len(chunk) < size:
                    break
                last, size = chunk[-1].finding_key, min(size * 4, 2000)
        return {
            "findings": [f.to_dict() for f in page],
            "cursor": page[-1].finding_key if more else None,
            "known_at": None if at is None else to_stored(at),
            "view": "hindsight" if q.hindsight else "known_then",
        }

    def get(
        self, finding_key: str, *, known_at: datetime | None, hindsight: bool = False
    ) -> dict[str, Any]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(findings.c.life).where(findings.c.finding_key == finding_key)
            ).all()
        if not rows:
            raise NotFoundError(f"no finding {finding_key!r}", [Problem("finding_key", "unknown")])
        with self.engine.connect() as conn:
            fl = lives_of(conn, rows, full=True)[0]
        at = None if hindsight else (known_at or datetime.now(UTC))
        current = fl.at(at)
        if current is None:
            raise NotFoundError(
                f"finding {finding_key!r} was not yet detected at {to_stored(at) if at else 'now'}",
                [Problem("known_at", "before detection")],
            )
        evidence = self.lookups.events_by_id(current.evidence)
        view = current.to_dict()
        view["evidence_events"] = [
            {**evidence[e].record, "position": evidence[e].position, "hash": evidence[e].hash.hex()}
            for e in current.evidence
            if e in evidence
        ]
        view["life"] = life_view(fl, at)
        return view

    def for_asset(
        self, asset_id: str, *, known_at: datetime | None, active_at: datetime | None
    ) -> list[dict[str, Any]]:
        query = FindingsQuery(
            asset=asset_id, known_at=known_at, active_at=active_at, limit=MAX_LIMIT
        )
        return list(self.search(query)["findings"])

    def compliance(
        self,
        contract_id: str,
        *,
        as_of: datetime | None,
        known_at: datetime | None,
        fold: bool = False,
    ) -> dict[str, Any]:
        """``fold``: compute from the log even when the projections could answer."""
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            stored = (
                None
                if fold
                else current(conn, contract_id, as_of or now, known_at or now, ("R03", "C01"))
            )
            if stored is not None:
                return current_compliance(stored, contract_id, as_of or now, known_at).to_dict()
            return folded_compliance(conn, contract_id, as_of or now, known_at).to_dict()

    def report(
        self,
        contract_id: str,
        *,
        as_of: datetime | None,
        known_at: datetime | None,
        period_from: datetime | None,
        period_to: datetime | None,
        fold: bool = False,
    ) -> dict[str, Any]:
        """``fold``: compute from the log even when the projections could answer."""
        now = datetime.now(UTC)
        window = Window(period_from, period_to) if period_from or period_to else Window()
        with self.engine.connect() as conn:
            stored = None if fold else current(conn, contract_id, as_of or now, known_at or now)
            if stored is not None:
                return current_report(
                    conn, stored, contract_id, as_of or now, known_at or now, window
                ).to_dict()
            report = folded_report(
                conn,
                contract_id,
                as_of=as_of or now,
                known_at=known_at or now,
                period=window,
                lives=contract_lives(conn, contract_id, as_of or now, known_at or now),
            )
        return report.to_dict()


SHARE = 500
"""How many of a contract's assets a fold of its history holds the events of at once."""

LIVES_PAGE = 2000
"""How many finding lives a report of the past reads from the store at a time."""


def contract_lives(
    conn: Connection,
    contract_id: str,
    as_of: datetime,
    known_at: datetime,
    *,
    page: int = LIVES_PAGE,
) -> Iterator[FindingLife]:
    """The lives of the contract's findings that a report at ``(as_of, known_at)``
    reads, ``page`` at a time in key order, each exact at ``known_at`` and
    now (``lives_of``): the report keeps only what it needs of each
    (``domain.rules.report._known_then``). At a million events, the contract's
    330,518 lives read at once were 1.2 GB of a past report's 1.8 GB.

    Not read: the findings detected after ``known_at`` (unknown then) that are
    cleared now or start after ``min(as_of, known_at)``: nothing of them is in the
    report, not even as a restatement."""
    horizon = to_stored(min(as_of, known_at))
    query = (
        sa.select(findings.c.finding_key, findings.c.life)
        .where(
            findings.c.contract_id == contract_id,
            sa.or_(
                findings.c.detected_at <= to_stored(known_at),
                sa.and_(
                    findings.c.cleared_at.is_(None),
                    sa.or_(findings.c.valid_from.is_(None), findings.c.valid_from <= horizon),
                ),
            ),
        )
        .order_by(findings.c.finding_key)
        .limit(page)
    )
    last: str | None = None
    while True:
        paged = query if last is None else query.where(findings.c.finding_key > last)
        rows = conn.execute(paged).all()
        yield from lives_of(conn, rows, known_at)
        if len(rows) < page:
            return
        last = rows[-1].finding_key


def _shares(
    conn: Connection, contract_id: str, share: int
) -> tuple[History, Callable[[Sequence[str]], Iterator[tuple[Sequence[str], History]]], int]:
    """A fold's frame, its shares, and the position both stop at (what the custody
    projection had indexed when the fold began: appends during a fold are not read)."""
    upto = tracking_position(conn, "custody", lock=False)
    frame = contract_frame(conn, contract_id, upto)
    skip = {e.position for e in frame}

    def chunks(mine: Sequence[str]) -> Iterator[tuple[Sequence[str], History]]:
        for i in range(0, len(mine), share):
            part = mine[i : i + share]
            yield part, History([*frame, *asset_events(conn, part, skip, upto)])

    return History(frame), chunks, upto


def folded_compliance(
    conn: Connection,
    contract_id: str,
    as_of: datetime,
    known_at: datetime | None,
    share: int = SHARE,
) -> Compliance:
    """Compliance folded from the contract's history (a view the projections cannot
    give), ``share`` assets' events at a time over the events they all read: what a
    fold holds is bounded by the largest share, not by the contract's history (at a
    million events the whole history took 4.5 GB)."""
    frame, chunks, _ = _shares(conn, contract_id, share)
    return compliance_in_chunks(frame, chunks, contract_id, as_of, known_at)


def folded_report(
    conn: Connection,
    contract_id: str,
    *,
    as_of: datetime,
    known_at: datetime,
    period: Window,
    lives: Iterable[FindingLife],
    share: int = SHARE,
) -> ContractReport:
    """The contract report folded from the contract's history, as
    :func:`folded_compliance` folds compliance; ``lives``: the projection's lives of
    the contract's findings. Its log head is where the fold stopped."""
    frame, chunks, upto = _shares(conn, contract_id, share)
    head_hash = conn.execute(
        sa.select(events.c.hash).where(events.c.notification_id == upto)
    ).scalar()

    def reported(ids: Iterable[str]) -> dict[str, datetime]:
        return {i: e.reported_at for i, e in events_by_id(conn, ids).items()}

    return contract_report_in_chunks(
        frame,
        chunks,
        contract_id,
        as_of=as_of,
        known_at=known_at,
        head_position=upto,
        head_hash=bytes(head_hash or b"\0" * 32).hex(),
        period=period,
        lives=lives,
        reported=reported,
    )
