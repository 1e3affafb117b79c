"""The use cases the HTTP edge calls — the only module of ``ledger`` that ``api``
imports (an import-linter contract keeps it so).

``LedgerService`` wraps the composed ``Ledger`` (``ledger.bootstrap``) and offers one
method per thing a client can ask: append, the log and one event, readiness and
read-your-writes, custody, reference data, findings, the contract report, and the
audit endpoints. Reads take ``as_of=`` and ``known_at=`` by keyword. The names the edge
needs to speak about the ledger (settings, the principal, the wire schema, the errors)
are re-exported here, so nothing in ``api`` reaches for a store, an engine or a
projection.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from domain.instants import parse
from ledger.bootstrap import Ledger, build_ledger, settle_for_a_long_run
from ledger.epcis.service import CaptureOutcome, EpcisService, Filters
from ledger.errors import (
    DATABASE_UNAVAILABLE,
    DuplicateError,
    ForbiddenError,
    InvalidEventError,
    LedgerError,
    NotFoundError,
    NotReadyError,
    Problem,
    UnauthenticatedError,
    VersionConflict,
)
from ledger.integrity.c2sp import CheckpointNotes
from ledger.integrity.errors import IntegrityFailure
from ledger.integrity.evidence import EvidenceBuilder
from ledger.integrity.export import BundleExport
from ledger.integrity.notes import VERIFIER_KEY_PATTERN
from ledger.integrity.witness import WitnessRefusal
from ledger.reading import models as m
from ledger.reading.findings import FindingsQuery
from ledger.reading.listing import MAX_ROWS, decode_cursor, page_lists
from ledger.reading.parts import part_sightings
from ledger.settings import Settings
from ledger.store.lookups import StoredRecord
from ledger.writing.append import AppendResult
from ledger.writing.keys import KeyInfo
from ledger.writing.principal import Principal
from ledger.writing.wire import AnyEvent, EventBase

__all__ = [
    "CUSTODY",
    "DATABASE_UNAVAILABLE",
    "FINDINGS",
    "MAX_ROWS",
    "VERIFIER_KEY_PATTERN",
    "AnyEvent",
    "AppendResult",
    "BundleExport",
    "CaptureOutcome",
    "DuplicateError",
    "EventBase",
    "FindingsQuery",
    "ForbiddenError",
    "IntegrityFailure",
    "InvalidEventError",
    "KeyInfo",
    "Ledger",
    "LedgerError",
    "LedgerService",
    "NotFoundError",
    "NotReadyError",
    "Principal",
    "Problem",
    "Settings",
    "UnauthenticatedError",
    "VersionConflict",
    "WitnessRefusal",
    "m",
    "settle_for_a_long_run",
]

CUSTODY = ("custody",)
"""Reads of custody (assets, timelines, reference data) wait for that projection."""
FINDINGS = ("custody", "findings")
"""Reads of findings (and compliance, the report) wait for both."""


def _stored(s: StoredRecord) -> dict[str, Any]:
    return {**s.record, "position": s.position, "hash": s.hash.hex()}


class LedgerService:
    """Every use case of the ledger, as the HTTP edge (and the web pages) call them."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    @classmethod
    def build(cls, settings: Settings) -> LedgerService:
        return cls(build_ledger(settings))

    @property
    def settings(self) -> Settings:
        return self._ledger.settings

    def start_projections(self) -> None:
        self._ledger.start_projections()

    def close(self) -> None:
        self._ledger.close()

    # -- who is asking ------------------------------------------------------------------

    def cached_principal(self, key: str) -> tuple[bool, Principal | None]:
        """``(True, principal-or-None)`` when the key's answer is cached and fresh, so
        the edge can skip a thread hop; else ``(False, None)``."""
        return self._ledger.keys.cached(key)

    def authenticate(self, key: str) -> Principal | None:
        return self._ledger.keys.authenticate(key)

    def active_keys(self) -> list[KeyInfo]:
        """Every key not revoked, by name: what a page session (which names its key and
        never holds it) is checked against."""
        return [k for k in self._ledger.keys.list() if k.revoked_at is None]

    # -- writing ------------------------------------------------------------------------

    def submit(
        self, events: Sequence[EventBase], principal: Principal, *, single: bool = False
    ) -> Future[list[AppendResult]]:
        """Check and queue events for the next group commit (``ledger.writing.append``);
        raises at once for what the events alone show, the future carries the rest."""
        return self._ledger.appender.submit(events, principal, single=single)

    # -- the log ------------------------------------------------------------------------

    def head(self) -> int:
        return self._ledger.lookups.head()[0]

    def log_page(self, after: int, limit: int) -> m.LogPage:
        """A page of the global log in position order, with the integrity fields."""
        rows = self._ledger.lookups.read_log(after, limit)
        head = self.head()
        next_after = rows[-1].position if rows and rows[-1].position < head else None
        return m.LogPage.of(
            {"events": [_stored(s) for s in rows], "next_after": next_after, "head": head}
        )

    def log_after(self, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """``(position, event)`` after ``after``, for the live stream."""
        return [(s.position, _stored(s)) for s in self._ledger.lookups.read_log(after, limit)]

    def event(self, event_id: str) -> m.EventWithAmendments:
        """The stored event, and the retractions and corrections that point at it."""
        found = self._ledger.lookups.events_by_id([event_id]).get(event_id)
        if found is None:
            raise NotFoundError(f"no event {event_id!r}", [Problem("event_id", "unknown")])
        out = _stored(found)
        amendments = self._ledger.reads.amendments(event_id)
        out["retracted_by"] = [a for a in amendments if a["type"] == "event_retracted"]
        out["corrected_by"] = [a for a in amendments if a["type"] == "event_corrected"]
        return m.EventWithAmendments.of(out)

    # -- consistency --------------------------------------------------------------------

    def readiness(self) -> m.Ready:
        """Reports, never raises: an unreachable database is an answer here."""
        try:
            with self._ledger.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            head, position = self.head(), self._ledger.reads.position()
        except Exception as e:  # readiness reports, it does not raise
            return m.Ready(status="unavailable", database=type(e).__name__)
        lag = m.ProjectionLag(position=position, lag=head - position)
        return m.Ready(status="ok", database="ok", head=head, projections=lag)

    def wait_for(self, min_position: int | None, projections: Sequence[str] = CUSTODY) -> int:
        """Read-your-writes: the position the named projections have reached, once it is
        at least ``min_position`` (waiting up to the configured timeout, else
        ``NotReadyError``)."""
        head = self.head() if min_position is not None else 0
        timeout = self.settings.read_your_writes_timeout_seconds
        return self._ledger.reads.wait_for(min_position, timeout, head, projections)

    def position(self) -> int:
        return self._ledger.reads.position()

    # -- custody ------------------------------------------------------------------------

    def assets(
        self,
        *,
        contract: str | None = None,
        custodian: str | None = None,
        status: str | None = None,
        accounted: bool | None = None,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> m.AssetsPage:
        found = self._ledger.reads.list_assets(
            contract=contract,
            custodian=custodian,
            status=status,
            accounted=accounted,
            as_of=as_of,
            known_at=known_at,
            cursor=cursor,
            limit=limit,
        )
        return m.AssetsPage.of(found)

    def asset(
        self, asset_id: str, *, as_of: datetime | None = None, known_at: datetime | None = None
    ) -> m.AssetView:
        """The asset's state with its active findings, as known at ``known_at``."""
        state = self._ledger.reads.asset(asset_id, as_of=as_of, known_at=known_at)
        state["findings"] = self._ledger.findings.for_asset(
            asset_id, known_at=known_at, active_at=as_of or parse(state["as_of"])
        )
        return m.AssetView.of(state)

    def timeline(
        self, asset_id: str, *, as_of: datetime | None = None, known_at: datetime | None = None
    ) -> m.Timeline:
        """The timeline, each event with the findings it triggered or is evidence of."""
        timeline = self._ledger.reads.timeline(asset_id, as_of=as_of, known_at=known_at)
        query = FindingsQuery(asset=asset_id, known_at=known_at, cleared=None, limit=1000)
        found = self._ledger.findings.search(query)
        timeline["findings"] = found["findings"]
        by_event: dict[str, list[str]] = {}
        for f in found["findings"]:
            for event_id in {f["trigger_event_id"], *f["evidence"]} - {None}:
                by_event.setdefault(event_id, []).append(f["finding_key"])
        for entry in timeline["events"]:
            entry["findings"] = sorted(by_event.get(entry["event_id"], []))
        return m.Timeline.of(timeline)

    def parts(
        self, serial: str, *, as_of: datetime | None = None, known_at: datetime | None = None
    ) -> m.PartSightings:
        """Every asset a part serial appeared on, from the effective repair records."""
        return m.PartSightings.of(
            part_sightings(self._ledger.engine, serial, as_of=as_of, known_at=known_at)
        )

    # -- reference data -----------------------------------------------------------------

    def parties(
        self, *, as_of: datetime | None = None, known_at: datetime | None = None
    ) -> m.Parties:
        return m.Parties.of({"parties": self._ledger.reads.parties(as_of=as_of, known_at=known_at)})

    def party(
        self, party_id: str, *, as_of: datetime | None = None, known_at: datetime | None = None
    ) -> m.PartyDetail:
        return m.PartyDetail.of(self._ledger.reads.party(party_id, as_of=as_of, known_at=known_at))

    def facilities(self, *, known_at: datetime | None = None) -> m.Facilities:
        return m.Facilities.of({"facilities": self._ledger.reads.facilities(known_at=known_at)})

    def contract(
        self,
        contract_id: str,
        *,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        with_compliance: bool = True,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> m.Contract:
        """Terms, authorisations and (unless asked not to) compliance (DOMAIN.md §7);
        with ``limit``, compliance's long lists a window at a time (``cursor``)."""
        decode_cursor(cursor)  # a malformed cursor before any work
        contract = self._ledger.reads.contract(contract_id, as_of=as_of, known_at=known_at)
        if with_compliance:
            compliance = self._ledger.findings.compliance(
                contract_id, as_of=as_of, known_at=known_at
            )
            contract["compliance"] = _paged(compliance, COMPLIANCE_LISTS, cursor, limit)
        return m.Contract.of(contract)

    def contract_ids(self, *, known_at: datetime | None = None) -> list[str]:
        return sorted(self._ledger.reads.reference(known_at=known_at).contracts)

    def party_ids(self, *, known_at: datetime | None = None) -> list[str]:
        return sorted(self._ledger.reads.reference(known_at=known_at).parties)

    # -- findings -----------------------------------------------------------------------

    def findings(self, query: FindingsQuery) -> m.FindingsPage:
        return m.FindingsPage.of(self._ledger.findings.search(query))

    def finding(
        self, finding_key: str, *, known_at: datetime | None = None, hindsight: bool = False
    ) -> m.FindingDetail:
        return m.FindingDetail.of(
            self._ledger.findings.get(finding_key, known_at=known_at, hindsight=hindsight)
        )

    def compliance(
        self,
        contract_id: str,
        *,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> m.Compliance:
        found = self._ledger.findings.compliance(contract_id, as_of=as_of, known_at=known_at)
        return m.Compliance.of(_paged(found, COMPLIANCE_LISTS, cursor, limit))

    def report(
        self,
        contract_id: str,
        *,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        period_from: datetime | None = None,
        period_to: datetime | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> m.ContractReport:
        """The auditor's contract report; 404 for an unknown contract. With ``limit``,
        its long lists a window at a time (``cursor``; ``ledger.reading.listing``);
        without, whole."""
        offset = decode_cursor(cursor)  # a malformed cursor before any work
        self._ledger.reads.contract(contract_id, as_of=as_of, known_at=known_at)
        report = self._ledger.findings.report(
            contract_id,
            as_of=as_of,
            known_at=known_at,
            period_from=period_from,
            period_to=period_to,
        )
        if limit is not None:
            page_lists(report, REPORT_LISTS, offset, limit)
        return m.ContractReport.of(report)

    # -- audit --------------------------------------------------------------------------

    def checkpoints(self, cursor: str | None, limit: int) -> m.Checkpoints:
        return m.Checkpoints.of(self._ledger.integrity.list_checkpoints(cursor, limit))

    def make_checkpoint(self) -> m.CheckpointMade:
        """A checkpoint of the whole log as it is now; ``created`` is false when the
        latest already covered every event."""
        stored, made = self._ledger.integrity.checkpoint()
        assert stored is not None  # skip_empty is off: the empty log is checkpointed too
        return m.CheckpointMade.of(
            {
                "checkpoint": stored.checkpoint.to_dict(),
                "created": made,
                **self._ledger.integrity.key_info(),
            }
        )

    def inclusion(self, event_id: str, size: int | None) -> m.InclusionProof:
        return m.InclusionProof.of(self._ledger.integrity.inclusion(event_id, size))

    def consistency(self, size1: int, size2: int) -> m.ConsistencyProof:
        return m.ConsistencyProof.of(self._ledger.integrity.consistency(size1, size2))

    def export(self, after: int, until: int | None) -> BundleExport:
        return self._ledger.integrity.export(after, until)

    # -- GS1 EPCIS 2.0 (docs/epcis.md, docs/decisions/0011) -----------------------------

    def _epcis(self) -> EpcisService:
        ledger = self._ledger
        return EpcisService(ledger.engine, ledger.lookups, ledger.appender)

    def epcis_events(self, *, after: int = 0, limit: int = 100, **filters: Any) -> dict[str, Any]:
        """An ``EPCISDocument`` of the selected events after position ``after``, with
        ``ledger:nextCursor``; ``filters``: asset, contract, party, event_time_from/_to,
        record_time_from/_to (instants)."""
        return self._epcis().page(Filters.of(**filters), after, limit)

    def epcis_capture(self, document: Any, principal: Principal) -> CaptureOutcome:
        """Store every event of an EPCIS 2.0 document atomically through the append path,
        or raise naming each EPCIS event and field that cannot be stored."""
        limit = self.settings.max_batch_events
        return self._epcis().capture(document, principal, max_events=limit)

    # -- C2SP checkpoints, witnesses and evidence (docs/decisions/0012) -----------------

    def checkpoint_note(self, size: int | None) -> str:
        """The checkpoint of ``size`` (default the latest) as a C2SP signed note, with
        the witness cosignatures kept for it."""
        return CheckpointNotes(self._ledger.integrity).note(size)

    def add_cosignature(self, witness: str, body: str) -> str:
        """Keep a witness's cosignature of one of this ledger's checkpoint notes;
        raises ``WitnessRefusal`` with the tlog-witness status."""
        return CheckpointNotes(self._ledger.integrity).add_cosignature(witness, body)

    def asset_evidence(
        self, asset_id: str, *, as_of: datetime | None, known_at: datetime | None
    ) -> dict[str, Any]:
        """A self-contained evidence bundle for the asset's answer at ``(as_of,
        known_at)``: the answer, its events with inclusion proofs, the checkpoint."""
        return EvidenceBuilder(self._ledger).asset(asset_id, as_of=as_of, known_at=known_at)

    def finding_evidence(self, finding_key: str, *, known_at: datetime | None) -> dict[str, Any]:
        """The evidence bundle of one finding (of an asset or of a contract), as known at
        ``known_at``."""
        return EvidenceBuilder(self._ledger).finding(finding_key, known_at=known_at)

    def contract_evidence(
        self,
        contract_id: str,
        *,
        as_of: datetime | None,
        known_at: datetime | None,
        period_from: datetime | None,
        period_to: datetime | None,
    ) -> dict[str, Any]:
        """The evidence bundle of the contract report at ``(as_of, known_at)``."""
        return EvidenceBuilder(self._ledger).contract(
            contract_id,
            as_of=as_of,
            known_at=known_at,
            period_from=period_from,
            period_to=period_to,
        )


REPORT_LISTS = (
    "assets.accounted_for",
    "assets.not_accounted_for",
    "enforcement.holding_support_back",
    "open_state_findings",
    "inventory.assets",
    "corrections",
    "restatements",
)
"""The contract report's lists that grow with the contract (``page_lists``)."""

COMPLIANCE_LISTS = (
    "accounted_for",
    "not_accounted_for=not_accounted_reasons",
    "holding_support_back",
)
"""Compliance's lists that grow with the contract (the reasons go with their assets)."""


def _paged(
    doc: dict[str, Any], lists: Sequence[str], cursor: str | None, limit: int | None
) -> dict[str, Any]:
    return doc if limit is None else page_lists(doc, lists, decode_cursor(cursor), limit)
