"""Typed read models: what every read of the ledger answers, as pydantic models.

They are the response schemas of the HTTP API (each route declares one, so
``/openapi.json`` documents every answer) and the types the web pages receive. Field
order is the JSON's order. Instants are RFC 3339 strings in the ledger's fixed-width
UTC form (``2014-06-10T08:00:00.000000Z``). Where a shape depends on the event type
(payloads, stored events' fields) the model names the common fields and lets the rest
through.

Each model is validated from the dict the read builds (``Model.of``), so a read that
drifts from its documented shape fails loudly in the tests instead of silently in a
client.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

Instant = str


class ReadModel(BaseModel):
    """Base: closed shapes (an unexpected field is a bug), serialised by alias."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Self:
        return cls.model_validate(data)

    def json_bytes(self) -> bytes:
        """The JSON clients see: a field the read left out stays out."""
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_unset=True)

    def plain(self) -> dict[str, Any]:
        """The JSON-shaped dict (for the web pages' templates and drawing code)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class OpenModel(ReadModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# -- stored events and the log -----------------------------------------------------------


class Source(OpenModel):
    kind: str
    ref: str | None = None
    evidence: list[Any] = Field(default_factory=list)


class StoredEvent(OpenModel):
    """An event as stored: the submitted envelope (DOMAIN.md §2) and payload (§3),
    the server's fields (``recorded_at``, ``recorded_by``, ``prev_hash``), then its
    ``position`` and ``hash``. The record's fields come in canonical (sorted) order;
    optional ones are absent when not given."""

    admiralty_code: str | None = None
    asset_ids: list[str] = Field(default_factory=list)
    confidence: str
    contract_id: str | None = None
    discovered_at: Instant | None = None
    event_id: str
    extensions: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    narrative: str | None = None
    occurred_at: Instant
    occurred_earliest: Instant | None = None
    occurred_latest: Instant | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    recorded_at: Instant
    recorded_by: str
    reported_at: Instant
    reporter: str
    source: dict[str, Any]
    type: str
    position: int = Field(description="Gap-free position in the global log.")
    hash: str = Field(description="SHA-256 (hex) of the stored canonical JSON.")


class LogPage(ReadModel):
    """A page of the global log in position order, with the integrity fields."""

    events: list[StoredEvent]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null at the head."
    )
    head: int


class Amendment(ReadModel):
    event_id: str
    type: str
    position: int


class EventWithAmendments(StoredEvent):
    retracted_by: list[Amendment]
    corrected_by: list[Amendment]


# -- findings ----------------------------------------------------------------------------


class Disposition(ReadModel):
    disposition: str
    event_id: str
    rationale: str
    decided_at: Instant
    reported_at: Instant


class Finding(ReadModel):
    """A rule violation with the events that prove it (DOMAIN.md §6)."""

    finding_key: str
    rule: str
    rule_name: str
    kind: str = Field(description="state, event or discrepancy")
    severity: str
    asset_id: str | None
    contract_id: str | None
    parties: list[str]
    evidence: list[str] = Field(description="event_ids of the events that prove it")
    summary: str
    valid_from: Instant
    valid_to: Instant | None
    trigger_event_id: str | None
    detected_at: Instant | None
    cleared_at: Instant | None
    clear_reason: str | None
    disposition: Disposition | None


class FindingsPage(ReadModel):
    findings: list[Finding]
    cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end")
    known_at: Instant | None
    view: str = Field(description="known_then or hindsight")


class LifeChange(ReadModel):
    at: Instant
    change: str = Field(description="detected, revised or cleared")
    reason: str | None
    finding: Finding | None


class FindingDetail(Finding):
    evidence_events: list[StoredEvent]
    life: list[LifeChange]


# -- custody -----------------------------------------------------------------------------


class Location(OpenModel):
    name: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None


class AssetState(ReadModel):
    """An asset's state at ``as_of`` as known at ``known_at`` (DOMAIN.md §4, §7)."""

    asset_id: str
    serial: str
    model: str
    contract_id: str | None
    status: str
    custodian: str | None
    last_custodian: str | None
    since: Instant | None
    operational: str
    missing_at_inventory: bool
    last_verified_at: Instant | None
    partner_entry_at: Instant | None
    open_work_order: str | None
    terminal_confidence: str | None
    location: Location | None
    last_event_id: str | None
    custodian_authorised: bool | None
    accounted_for: bool
    unaccounted_reason: str | None
    last_observation: dict[str, Any] | None
    as_of: Instant
    known_at: Instant


class AssetView(AssetState):
    findings: list[Finding] = Field(description="Its active findings at as_of, as known")


class AssetsPage(ReadModel):
    assets: list[AssetState]
    cursor: str | None


class Retraction(ReadModel):
    event_id: str
    reported_at: Instant
    reason: str | None


class FieldChange(ReadModel):
    before: Any
    after: Any


class Correction(ReadModel):
    event_id: str
    reported_at: Instant
    reason: str | None
    fields: dict[str, FieldChange]


class TimelineEntry(ReadModel):
    position: int
    event_id: str
    type: str
    asset_ids: list[str]
    occurred_at: Instant
    reported_at: Instant
    recorded_at: Instant | None
    recorded_by: str | None
    report_lag_seconds: float
    reporter: str
    source: dict[str, Any] | None
    confidence: str
    location: dict[str, Any] | None
    payload: dict[str, Any]
    narrative: str | None
    retracted: Retraction | None
    corrections: list[Correction]
    effective: dict[str, Any] | None = Field(
        default=None, description="The payload as corrected, when corrections apply"
    )
    findings: list[str] = Field(default_factory=list)


class CustodyBand(ReadModel):
    custodian: str | None
    status: str
    mark: str
    valid_from: Instant
    valid_to: Instant | None
    opened_by: list[str]


class Timeline(ReadModel):
    asset_id: str
    as_of: Instant
    known_at: Instant
    events: list[TimelineEntry]
    bands: list[CustodyBand]
    observations: list[TimelineEntry]
    repairs: list[TimelineEntry]
    related_assets: list[str]
    findings: list[Finding]


# -- reference data ----------------------------------------------------------------------


class Party(OpenModel):
    party_id: str
    name: str
    kind: str
    parent: str | None
    acts_for: str | None
    designations: list[Any]
    event_id: str
    kinds: list[list[str]] = Field(description="[since, kind, event_id] of each classification")
    kind_at_as_of: str


class PartyDetail(Party):
    children: list[str]


class Parties(ReadModel):
    parties: list[Party]


class Facility(OpenModel):
    facility_id: str
    name: str
    operator_party: str
    country: str | None = None
    event_id: str


class Facilities(ReadModel):
    facilities: list[Facility]


class Authorization(OpenModel):
    authorization_id: str
    contract_id: str
    kind: str
    subject_id: str
    includes_descendants: bool = False
    work_types: list[str] | None = None
    valid_from: Instant
    valid_to: Instant | None
    event_id: str
    revocations: list[Any] = Field(default_factory=list)
    revoked_at: Instant | None
    valid_at_as_of: bool


class HeldBack(ReadModel):
    asset_id: str
    unaccounted_since: Instant
    reason: str | None
    finding_key: str | None


class ListPage(ReadModel):
    """Which window of the document's long lists this response holds
    (``ledger.reading.listing``): every list named in ``totals`` is cut to ``limit``
    rows from ``offset``; ``next_cursor`` asks for the next window."""

    offset: int
    limit: int
    totals: dict[str, int] = Field(description="Each long list's whole length")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next window of every long list; null at the end"
    )


class Compliance(ReadModel):
    """Must support be suspended (DOMAIN.md §7 "Contract")? ``accounted_for``,
    ``not_accounted_for`` and ``holding_support_back`` hold at most ``page.limit`` rows
    each (``page``)."""

    contract_id: str
    as_of: Instant
    known_at: Instant | None
    support: str
    suspension_required_since: Instant | None
    suspension_in_effect: bool
    suspended_since: Instant | None
    delivery_hold_in_effect: bool
    hold_since: Instant | None
    accounted_for: list[str]
    not_accounted_for: list[str]
    not_accounted_reasons: dict[str, str | None]
    holding_support_back: list[HeldBack]
    page: ListPage | None = None


class Contract(OpenModel):
    """Terms, authorisations and compliance. ``terms`` as registered (DOMAIN.md §3)."""

    contract_id: str
    title_holder: str
    seller: str
    item: str | None = None
    quantity: int | None = None
    terms: dict[str, Any]
    event_id: str
    authorizations: list[Authorization]
    as_of: Instant
    known_at: Instant
    compliance: Compliance | None = None


# -- the contract report -----------------------------------------------------------------


class Period(ReadModel):
    from_: Instant | None = Field(alias="from")
    to: Instant | None


class ContractReport(OpenModel):
    """The auditor's contract report (DOMAIN.md §7 "Contract report"). Its sections are
    documented there; ``reproducibility`` names the log head and rules version that
    recompute it."""

    contract: dict[str, Any]
    as_of: Instant
    known_at: Instant
    period: Period
    assets: dict[str, Any]
    enforcement: dict[str, Any]
    open_state_findings: list[Finding]
    event_findings: list[Finding]
    event_findings_total: int
    event_findings_by_rule: dict[str, int]
    event_findings_truncated: bool
    inventory: dict[str, Any]
    corrections: list[dict[str, Any]]
    restatements: list[dict[str, Any]]
    reproducibility: dict[str, Any]
    page: ListPage | None = Field(
        default=None,
        description="The window of the long lists this response holds (their whole "
        "lengths in `page.totals`; the counts beside them stay whole)",
    )


# -- consistency -------------------------------------------------------------------------


class ProjectionLag(ReadModel):
    position: int
    lag: int


class Ready(ReadModel):
    status: str
    database: str
    head: int | None = None
    projections: ProjectionLag | None = None


# -- audit -------------------------------------------------------------------------------


class KeyInfo(ReadModel):
    algorithm: str
    key_id: str
    public_key: str = Field(description="Base64 of the raw 32-byte Ed25519 public key")


class Checkpoint(OpenModel):
    tree_size: int
    root: str
    timestamp: Instant
    key_id: str
    signature: str


class Checkpoints(KeyInfo):
    checkpoints: list[Checkpoint]
    cursor: str | None


class CheckpointMade(ReadModel):
    checkpoint: Checkpoint
    created: bool
    algorithm: str
    key_id: str
    public_key: str


class InclusionProof(OpenModel):
    event_id: str
    position: int
    leaf_index: int
    hash: str
    leaf_hash: str
    tree_size: int
    proof: list[str] = Field(description="Audit path, sibling nearest the leaf first (hex)")
    checkpoint: Checkpoint
    algorithm: str
    key_id: str
    public_key: str


class ConsistencyProof(ReadModel):
    from_: int = Field(alias="from", description="Tree size of the older checkpoint")
    to: int = Field(description="Tree size of the newer checkpoint")
    proof: list[str] = Field(description="RFC 6962 consistency proof (hex)")
    from_checkpoint: Checkpoint
    to_checkpoint: Checkpoint
    algorithm: str
    key_id: str
    public_key: str


# -- parts (DOMAIN.md §3: part serials are kept and searchable) -------------------------


class PartSighting(ReadModel):
    """One effective ``repair_completed`` naming the serial, for one of its assets."""

    asset_id: str
    part: str
    quantity: int | None
    event_id: str
    occurred_at: Instant
    reported_at: Instant
    reporter: str
    work_order_id: str | None
    facility_id: str | None
    performed_by_party: str | None
    work_type: str | None
    corrected: bool = Field(description="The record counts as corrected")


class PartSightings(ReadModel):
    serial: str
    assets: list[str] = Field(description="Every asset the serial appeared on, sorted")
    sightings: list[PartSighting] = Field(description="In world order")
