"""The wire schema of every event type (DOMAIN.md §2–3).

These pydantic models are the ledger's input contract: the HTTP API documents them
in OpenAPI (a discriminated union on ``type``) and ``ledger import`` validates NDJSON
with them. Unknown fields are rejected everywhere except inside ``extensions``: a
typo must not be silently dropped from an audit record.

``to_record`` turns a validated event into the stored form: instants normalised to
UTC (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), absent optionals omitted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    field_validator,
    model_validator,
)

from domain.instants import to_stored
from domain.vocabulary import (
    AuthorizationKind,
    Confidence,
    ContractActionKind,
    Disposition,
    InventoryResult,
    PartyKind,
    UseAssessment,
)

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
MAX_EXTENSIONS_BYTES = 16 * 1024
# Free JSON (extensions, corrected values) is hashed in canonical form; absurd nesting
# would only exhaust the canonicaliser's stack, so it is refused up front.
MAX_JSON_DEPTH = 32


def _depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        nxt: list[Any] = []
        for v in level:
            if isinstance(v, dict):
                nxt.extend(v.values())
            elif isinstance(v, list):
                nxt.extend(v)
        level = nxt
    return depth - 1


Id = Annotated[str, Field(pattern=ID_PATTERN, examples=["M1A1-0042"])]
Instant = Annotated[
    AwareDatetime,
    PlainSerializer(to_stored, return_type=str),
    Field(examples=["2014-06-10T08:00:00Z"]),
]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
ShortText = Annotated[str, Field(min_length=1, max_length=256)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Evidence(Strict):
    uri: Annotated[str, Field(min_length=1, max_length=2048)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Source(Strict):
    kind: ShortText = Field(examples=["unit_report"])
    ref: ShortText = Field(examples=["9th-armd-div/2014-06-11/017"])
    evidence: list[Evidence] = Field(default_factory=list, max_length=100)


class Location(Strict):
    name: ShortText | None = None
    admin1: ShortText | None = None
    country: Annotated[str, Field(min_length=2, max_length=64)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    facility_id: Id | None = None


# --- payloads -----------------------------------------------------------------------


class PartyRegisteredPayload(Strict):
    party_id: Id
    name: ShortText
    kind: PartyKind
    parent: Id | None = None
    acts_for: Id | None = None
    designations: list[ShortText] = Field(default_factory=list, max_length=50)


class PartyReclassifiedPayload(Strict):
    party_ids: list[Id] = Field(min_length=1, max_length=1000)
    new_kind: PartyKind
    legal_basis: Text


class FacilityRegisteredPayload(Strict):
    facility_id: Id
    name: ShortText
    operator_party: Id
    country: Annotated[str, Field(min_length=2, max_length=64)]


class RepairLimits(Strict):
    field_maintenance: Annotated[int, Field(ge=0)] = 30
    battle_damage_repair: Annotated[int, Field(ge=0)] = 180
    overhaul: Annotated[int, Field(ge=0)] = 365
    other: Annotated[int, Field(ge=0)] = 90


class ContractTerms(Strict):
    """Contract parameters (DOMAIN.md §6); every one has its documented default."""

    unaccounted_max_days: Annotated[int, Field(ge=0)] = 30
    inventory_period_days: Annotated[int, Field(ge=1)] = 365
    reentry_inventory_days: Annotated[int, Field(ge=0)] = 90
    loss_notice_hours: Annotated[int, Field(ge=0)] = 24
    record_limit_days: Annotated[int, Field(ge=0)] = 7
    enforcement_grace_days: Annotated[int, Field(ge=0)] = 30
    repair_open_max_days: RepairLimits = Field(default_factory=RepairLimits)
    terminal_min_confidence: Confidence = Confidence.CONFIRMED
    conflict_min_confidence: Confidence = Confidence.PROBABLE


class ContractRegisteredPayload(Strict):
    contract_id: Id
    title_holder: Id
    seller: Id
    item: ShortText
    quantity: Annotated[int, Field(ge=1)]
    terms: ContractTerms = Field(default_factory=ContractTerms)


class AuthorizationGrantedPayload(Strict):
    authorization_id: Id
    contract_id: Id
    kind: AuthorizationKind
    subject_id: Id
    includes_descendants: bool = False
    work_types: list[ShortText] | None = None
    valid_from: Instant
    valid_to: Instant | None = None

    @model_validator(mode="after")
    def _interval(self) -> AuthorizationGrantedPayload:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("payload.valid_to must be after payload.valid_from")
        return self


class AuthorizationRevokedPayload(Strict):
    authorization_id: Id
    effective_at: Instant
    reason: Text


class AssetRegisteredPayload(Strict):
    serial: ShortText
    model: ShortText
    contract_id: Id
    initial_custodian: Id
    delivered_at: Instant


class CustodyTransferredPayload(Strict):
    from_party: Id
    to_party: Id
    reason: Text
    transfer_consent_ref: ShortText | None = None
    condition: ShortText


class AssetCapturedPayload(Strict):
    from_party: Id | None = None
    captor_party: Id
    circumstances: Text


class AssetRecoveredPayload(Strict):
    from_party: Id | None = None
    recovered_by_party: Id
    circumstances: Text


class LossReportedPayload(Strict):
    custodian_at_loss: Id
    loss_kind: ShortText
    last_known_location: Location | None = None


class AssetDisabledPayload(Strict):
    disabled_by_party: Id
    damage: Text


class AssetDestroyedPayload(Strict):
    cause: Text
    attributed_to_party: Id | None = None
    assessment: Text


class AssetDecommissionedPayload(Strict):
    method: ShortText
    consent_ref: ShortText
    certificate_ref: ShortText


class RepairStartedPayload(Strict):
    work_order_id: Id
    facility_id: Id
    performed_by_party: Id
    work_type: ShortText = Field(examples=["battle_damage_repair"])
    authorization_ref: Id | None = None


class RepairCompletedPayload(RepairStartedPayload):
    started_at: Instant | None = None
    parts: list[ShortText] = Field(default_factory=list, max_length=1000)


class InventoryLine(Strict):
    asset_id: Id
    result: InventoryResult
    found_at_party: Id | None = None


class InventoryCompletedPayload(Strict):
    inventory_id: Id
    inspector_party: Id
    scope_parties: list[Id] = Field(min_length=1, max_length=1000)
    results: list[InventoryLine] = Field(max_length=10000)


class ObservationPayload(Strict):
    observed_party: Id | None = None
    condition: ShortText
    activity: Text
    use_assessment: UseAssessment | None = None
    media_ref: ShortText | None = None


class SupportProvidedPayload(Strict):
    provider_party: Id
    recipient_party: Id
    support_kind: ShortText
    reference: ShortText


class ContractActionPayload(Strict):
    action: ContractActionKind
    target_contract_id: Id
    decided_by_party: Id
    basis_asset_ids: list[Id] = Field(default_factory=list, max_length=10000)


class EventRetractedPayload(Strict):
    target_event_id: Id
    reason: Text


class EventCorrectedPayload(Strict):
    target_event_id: Id
    corrected_fields: dict[str, Any] = Field(
        min_length=1, examples=[{"payload.from_party": "9th-armd-div"}]
    )
    reason: Text

    @field_validator("corrected_fields")
    @classmethod
    def _shallow(cls, v: dict[str, Any]) -> dict[str, Any]:
        if _depth(v) > MAX_JSON_DEPTH:
            raise ValueError(f"corrected values may nest at most {MAX_JSON_DEPTH} levels")
        return v


class FindingDispositionedPayload(Strict):
    finding_key: Annotated[str, Field(min_length=3, max_length=512)]
    disposition: Disposition
    rationale: Text


# --- the common envelope ---------------------------------------------------------


class EventBase(Strict):
    """Fields every event carries (DOMAIN.md §3). Server fields are never accepted."""

    event_id: Id | None = Field(
        default=None,
        description="Idempotency key; the server makes a UUID when absent.",
    )
    asset_ids: list[Id] = Field(default_factory=list, max_length=10000)
    contract_id: Id | None = None
    occurred_at: Instant
    occurred_earliest: Instant | None = None
    occurred_latest: Instant | None = None
    discovered_at: Instant | None = None
    reported_at: Instant | None = Field(
        default=None,
        description="Historical knowledge time; only importer and admin keys may set it.",
    )
    reporter: Id
    source: Source
    confidence: Confidence
    admiralty_code: Annotated[str, Field(pattern=r"^[A-F][1-6]$")] | None = None
    location: Location | None = None
    narrative: Annotated[str, Field(max_length=20000)] | None = None
    extensions: dict[str, Any] | None = Field(
        default=None, description="Free JSON (≤ 16 KiB), stored and hashed, ignored by rules."
    )
    expected_version: Annotated[int, Field(ge=0)] | dict[Id, Annotated[int, Field(ge=0)]] | None = (
        Field(
            default=None,
            description=(
                "Append only if the asset has this many events (an integer for a one-asset "
                "event, or asset_id → version). A request control: not stored."
            ),
        )
    )

    @field_validator("asset_ids")
    @classmethod
    def _distinct_assets(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("asset_ids must not repeat an asset")
        return v

    @field_validator("extensions")
    @classmethod
    def _small_extensions(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            if _depth(v) > MAX_JSON_DEPTH:
                raise ValueError(f"extensions may nest at most {MAX_JSON_DEPTH} levels")
            if len(orjson.dumps(v)) > MAX_EXTENSIONS_BYTES:
                raise ValueError("extensions must be at most 16 KiB of JSON")
        return v


def _event(type_name: str, payload_model: type[BaseModel], doc: str) -> type[EventBase]:
    model = type(
        "".join(p.title() for p in type_name.split("_")) + "Event",
        (EventBase,),
        {
            "__annotations__": {"type": Literal[type_name], "payload": payload_model},  # type: ignore[valid-type]
            "__doc__": doc,
            "__module__": __name__,
        },
    )
    return model


PartyRegisteredEvent = _event("party_registered", PartyRegisteredPayload, "A party enters.")
PartyReclassifiedEvent = _event(
    "party_reclassified",
    PartyReclassifiedPayload,
    "Parties change legal kind (no effect on authorisation).",
)
FacilityRegisteredEvent = _event("facility_registered", FacilityRegisteredPayload, "A facility.")
ContractRegisteredEvent = _event("contract_registered", ContractRegisteredPayload, "A contract.")
AuthorizationGrantedEvent = _event(
    "authorization_granted", AuthorizationGrantedPayload, "An authorisation under a contract."
)
AuthorizationRevokedEvent = _event(
    "authorization_revoked", AuthorizationRevokedPayload, "An authorisation ends."
)
AssetRegisteredEvent = _event("asset_registered", AssetRegisteredPayload, "Delivery of an asset.")
CustodyTransferredEvent = _event(
    "custody_transferred", CustodyTransferredPayload, "Custody moves between parties."
)
AssetCapturedEvent = _event("asset_captured", AssetCapturedPayload, "Assets captured.")
AssetRecoveredEvent = _event("asset_recovered", AssetRecoveredPayload, "Assets recovered.")
LossReportedEvent = _event("loss_reported", LossReportedPayload, "Assets lost.")
AssetDisabledEvent = _event("asset_disabled", AssetDisabledPayload, "Assets disabled.")
AssetDestroyedEvent = _event("asset_destroyed", AssetDestroyedPayload, "Assets destroyed.")
AssetDecommissionedEvent = _event(
    "asset_decommissioned", AssetDecommissionedPayload, "Assets decommissioned."
)
RepairStartedEvent = _event("repair_started", RepairStartedPayload, "A work order opens.")
RepairCompletedEvent = _event("repair_completed", RepairCompletedPayload, "A work order closes.")
InventoryCompletedEvent = _event(
    "inventory_completed", InventoryCompletedPayload, "An inventory of one or more parties."
)
ObservationEvent = _event("observation", ObservationPayload, "A sighting; never moves custody.")
SupportProvidedEvent = _event("support_provided", SupportProvidedPayload, "Support delivered.")
ContractActionEvent = _event(
    "contract_action", ContractActionPayload, "Suspension, hold or violation report."
)
EventRetractedEvent = _event("event_retracted", EventRetractedPayload, "An event stops counting.")
EventCorrectedEvent = _event(
    "event_corrected", EventCorrectedPayload, "An event counts with fields replaced."
)
FindingDispositionedEvent = _event(
    "finding_dispositioned", FindingDispositionedPayload, "A decision about a finding."
)

ALL_EVENT_MODELS: tuple[type[EventBase], ...] = (
    PartyRegisteredEvent,
    PartyReclassifiedEvent,
    FacilityRegisteredEvent,
    ContractRegisteredEvent,
    AuthorizationGrantedEvent,
    AuthorizationRevokedEvent,
    AssetRegisteredEvent,
    CustodyTransferredEvent,
    AssetCapturedEvent,
    AssetRecoveredEvent,
    LossReportedEvent,
    AssetDisabledEvent,
    AssetDestroyedEvent,
    AssetDecommissionedEvent,
    RepairStartedEvent,
    RepairCompletedEvent,
    InventoryCompletedEvent,
    ObservationEvent,
    SupportProvidedEvent,
    ContractActionEvent,
    EventRetractedEvent,
    EventCorrectedEvent,
    FindingDispositionedEvent,
)

AnyEvent = Annotated[
    PartyRegisteredEvent  # type: ignore[valid-type]
    | PartyReclassifiedEvent  # type: ignore[valid-type]
    | FacilityRegisteredEvent  # type: ignore[valid-type]
    | ContractRegisteredEvent  # type: ignore[valid-type]
    | AuthorizationGrantedEvent  # type: ignore[valid-type]
    | AuthorizationRevokedEvent  # type: ignore[valid-type]
    | AssetRegisteredEvent  # type: ignore[valid-type]
    | CustodyTransferredEvent  # type: ignore[valid-type]
    | AssetCapturedEvent  # type: ignore[valid-type]
    | AssetRecoveredEvent  # type: ignore[valid-type]
    | LossReportedEvent  # type: ignore[valid-type]
    | AssetDisabledEvent  # type: ignore[valid-type]
    | AssetDestroyedEvent  # type: ignore[valid-type]
    | AssetDecommissionedEvent  # type: ignore[valid-type]
    | RepairStartedEvent  # type: ignore[valid-type]
    | RepairCompletedEvent  # type: ignore[valid-type]
    | InventoryCompletedEvent  # type: ignore[valid-type]
    | ObservationEvent  # type: ignore[valid-type]
    | SupportProvidedEvent  # type: ignore[valid-type]
    | ContractActionEvent  # type: ignore[valid-type]
    | EventRetractedEvent  # type: ignore[valid-type]
    | EventCorrectedEvent  # type: ignore[valid-type]
    | FindingDispositionedEvent,  # type: ignore[valid-type]
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def to_record(event: EventBase) -> dict[str, Any]:
    """The stored form of a validated event, without server fields."""
    record: dict[str, Any] = event.model_dump(
        mode="json", exclude_none=True, exclude={"expected_version"}
    )
    if event.extensions is not None:
        # extensions is free JSON: keep its nulls exactly as sent.
        record["extensions"] = event.extensions
    return record


def parse_instant_field(value: Any) -> datetime:
    """Validate one instant the way the schema does (used for corrected fields)."""
    adapter: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)
    return adapter.validate_python(value)
