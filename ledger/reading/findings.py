"""Read use cases over findings: the list with SPEC.md §2 filters, one finding with its
evidence and life, contract compliance and the contract report.

``known_at`` (default now) gives "known then": findings detected by that knowledge
time, each as the ledger then knew it (version, clearing, disposition). ``hindsight``
gives every finding with all knowledge. Compliance and the report read the projections
for the present as now known (``ledger.reading.report``); any other view folds the
contract's own events, reusing the projection's stored lives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from domain.instants import to_stored
from domain.rules import Filters, Finding, FindingKind, Lives, Window, compliance, contract_report
from ledger.errors import InvalidEventError, NotFoundError, Problem
from ledger.projections.findings import contract_history, lives_of
from ledger.reading.report import current, current_compliance, current_report
from ledger.store.lookups import Lookups
from ledger.store.tables import findings

MAX_LIMIT = 1000


class FindingsReads:
    def __init__(self, engine: Engine, lookups: Lookups) -> None:
        self.engine = engine
        self.lookups = lookups

    def _lives(self, **where: str | None) -> Lives:
        query = sa.select(findings.c.life)
        for column, value in where.items():
            if value is not None:
                query = query.where(findings.c[column] == value)
        with self.engine.connect() as conn:
            return Lives(lives_of(conn, conn.execute(query).all(), full=True))

    def search(
        self,
        *,
        rule: str | None = None,
        kind: str | None = None,
        asset: str | None = None,
        contract: str | None = None,
        party: str | None = None,
        cleared: bool | None = False,
        active_at: datetime | None = None,
        known_at: datetime | None = None,
        hindsight: bool = False,
        detected_from: datetime | None = None,
        detected_to: datetime | None = None,
        cleared_from: datetime | None = None,
        cleared_to: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        try:
            kind_value = None if kind is None else FindingKind(kind)
        except ValueError:
            raise InvalidEventError(
                "kind: one of state, event, discrepancy", [Problem("kind", "unknown kind")]
            ) from None
        at = None if hindsight else (known_at or datetime.now(UTC))
        filters = Filters(
            rule=rule,
            kind=kind_value,
            asset=asset,
            contract=contract,
            party=party,
            cleared=cleared,
            active_at=active_at,
            detected=Window(detected_from, detected_to) if detected_from or detected_to else None,
            cleared_within=Window(cleared_from, cleared_to) if cleared_from or cleared_to else None,
        )
        limit = max(1, min(limit, MAX_LIMIT))
        # The columns narrow the candidates in SQL; each candidate's life then says how
        # it was known at ``at``. Rows stream in key order until the page is full.
        query = sa.select(findings.c.finding_key, findings.c.life).order_by(findings.c.finding_key)
        for column, value in (
            ("rule", rule),
            ("kind", kind),
            ("asset_id", asset),
            ("contract_id", contract),
        ):
            if value is not None:
                query = query.where(findings.c[column] == value)
        if at is not None:
            query = query.where(findings.c.detected_at <= to_stored(at))
        if at is None or at >= datetime.now(UTC):
            # Every change is in the past, so the stored latest clearing is the answer.
            if cleared is False:
                query = query.where(findings.c.cleared_at.is_(None))
            elif cleared is True:
                query = query.where(findings.c.cleared_at.is_not(None))
        page: list[Finding] = []
        more = False
        last, size = cursor, limit + 1
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
            "view": "hindsight" if hindsight else "known_then",
        }

    def get(
        self, finding_key: str, known_at: datetime | None, hindsight: bool = False
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
        view["life"] = [
            {
                "at": to_stored(c.at),
                "change": "cleared" if c.finding is None else ("detected" if i == 0 else "revised"),
                "reason": None if c.reason is None else c.reason.value,
                "finding": None if c.finding is None else c.finding.to_dict(),
            }
            for i, c in enumerate(fl.changes)
            if at is None or c.at <= at
        ]
        return view

    def for_asset(
        self, asset_id: str, known_at: datetime | None, active_at: datetime | None
    ) -> list[dict[str, Any]]:
        return list(
            self.search(asset=asset_id, known_at=known_at, active_at=active_at, limit=MAX_LIMIT)[
                "findings"
            ]
        )

    def compliance(
        self,
        contract_id: str,
        as_of: datetime | None,
        known_at: datetime | None,
        *,
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
            history = contract_history(conn, contract_id)
        return compliance(history, contract_id, as_of or now, known_at).to_dict()

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
            history = contract_history(conn, contract_id)
        head, head_hash = self.lookups.head()
        report = contract_report(
            history,
            contract_id,
            as_of=as_of or now,
            known_at=known_at or now,
            head_position=head,
            head_hash=(head_hash or b"\0" * 32).hex(),
            period=window,
            lives=self._lives(contract_id=contract_id),
        )
        return report.to_dict()
