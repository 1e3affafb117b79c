"""The wire schema of every event type (DOMAIN.md §2–3).

These pydantic models are the ledger's input contract: the HTTP API documents them
in OpenAPI (a discriminated union on ``type``) and ``ledger import`` validates NDJSON
with them. Unknown fields are rejected everywhere except inside ``extensions``: a
typo must not be silently dropped from an audit record.

This module holds the envelope every event shares, one explicit class per event type
and their union; the field types and payloads are in ``ledger.writing.wire_payloads``.

``to_record`` turns a validated event into the stored form: instants normalised to
UTC (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), absent optionals omitted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

import orjson
from pydantic import Field, TypeAdapter, field_validator
from pydantic_core import PydanticCustomError

from domain.instants import INSTANT_RULES
from domain.vocabulary import Confidence
from ledger.writing.wire_payloads import (
    MAX_JSON_DEPTH,
    MAX_SAFE_INT,
    AssetCapturedPayload,
    AssetDecommissionedPayload,
    AssetDestroyedPayload,
    AssetDisabledPayload,
    AssetRecoveredPayload,
    AssetRegisteredPayload,
    AuthorizationGrantedPayload,
    AuthorizationRevokedPayload,
    CleanText,
    ContractActionPayload,
    ContractRegisteredPayload,
    CustodyTransferredPayload,
    EventCorrectedPayload,
    EventRetractedPayload,
    FacilityRegisteredPayload,
    FindingDispositionedPayload,
    Id,
    Instant,
    InventoryCompletedPayload,
    Location,
    LossReportedPayload,
    ObservationPayload,
    PartyReclassifiedPayload,
    PartyRegisteredPayload,
    RepairCompletedPayload,
    RepairStartedPayload,
    Source,
    Strict,
    SupportProvidedPayload,
    free_json_problem,
    json_depth,
)

MAX_EXTENSIONS_BYTES = 16 * 1024
Version = Annotated[int, Field(ge=0, le=MAX_SAFE_INT)]


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
        description=(
            "Historical knowledge time; only importer and admin keys may set it. " + INSTANT_RULES
        ),
    )
    reporter: Id
    source: Source
    confidence: Confidence
    admiralty_code: Annotated[str, Field(pattern=r"^[A-F][1-6]$")] | None = None
    location: Location | None = None
    narrative: Annotated[CleanText, Field(max_length=20000)] | None = None
    extensions: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Free JSON (≤ 16 KiB), stored and hashed, ignored by rules. What canonical JSON "
            "(RFC 8785) holds exactly: integers within ±(2^53 − 1), no NaN or infinity, "
            "strings and keys of Unicode scalar values without U+0000."
        ),
    )
    expected_version: Version | dict[Id, Version] | None = Field(
        default=None,
        description=(
            "Append only if the asset has this many events (an integer for a one-asset "
            "event, or asset_id → version). A request control: not stored."
        ),
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
            if json_depth(v) > MAX_JSON_DEPTH:
                raise PydanticCustomError(
                    "json_too_deep", f"extensions may nest at most {MAX_JSON_DEPTH} levels"
                )
            # Before measuring: orjson itself refuses what canonical JSON cannot hold.
            problem = free_json_problem(v, "extensions")
            if problem is not None:
                raise PydanticCustomError("json_invalid", problem)
            if len(orjson.dumps(v)) > MAX_EXTENSIONS_BYTES:
                raise PydanticCustomError("too_large", "extensions must be at most 16 KiB of JSON")
        return v


# --- one class per event type ---------------------------------------------------


class PartyRegisteredEvent(EventBase):
    """A party enters."""

    type: Literal["party_registered"]
    payload: PartyRegisteredPayload


class PartyReclassifiedEvent(EventBase):
    """Parties change legal kind (no effect on authorisation)."""

    type: Literal["party_reclassified"]
    payload: PartyReclassifiedPayload


class FacilityRegisteredEvent(EventBase):
    """A facility."""

    type: Literal["facility_registered"]
    payload: FacilityRegisteredPayload


class ContractRegisteredEvent(EventBase):
    """A contract."""

    type: Literal["contract_registered"]
    payload: ContractRegisteredPayload


class AuthorizationGrantedEvent(EventBase):
    """An authorisation under a contract."""

    type: Literal["authorization_granted"]
    payload: AuthorizationGrantedPayload


class AuthorizationRevokedEvent(EventBase):
    """An authorisation ends."""

    type: Literal["authorization_revoked"]
    payload: AuthorizationRevokedPayload


class AssetRegisteredEvent(EventBase):
    """Delivery of an asset."""

    type: Literal["asset_registered"]
    payload: AssetRegisteredPayload


class CustodyTransferredEvent(EventBase):
    """Custody moves between parties."""

    type: Literal["custody_transferred"]
    payload: CustodyTransferredPayload


class AssetCapturedEvent(EventBase):
    """Assets captured."""

    type: Literal["asset_captured"]
    payload: AssetCapturedPayload


class AssetRecoveredEvent(EventBase):
    """Assets recovered."""

    type: Literal["asset_recovered"]
    payload: AssetRecoveredPayload


class LossReportedEvent(EventBase):
    """Assets lost."""

    type: Literal["loss_reported"]
    payload: LossReportedPayload


class AssetDisabledEvent(EventBase):
    """Assets disabled."""

    type: Literal["asset_disabled"]
    payload: AssetDisabledPayload


class AssetDestroyedEvent(EventBase):
    """Assets destroyed."""

    type: Literal["asset_destroyed"]
    payload: AssetDestroyedPayload


class AssetDecommissionedEvent(EventBase):
    """Assets decommissioned."""

    type: Literal["asset_decommissioned"]
    payload: AssetDecommissionedPayload


class RepairStartedEvent(EventBase):
    """A work order opens."""

    type: Literal["repair_started"]
    payload: RepairStartedPayload


class RepairCompletedEvent(EventBase):
    """A work order closes."""

    type: Literal["repair_completed"]
    payload: RepairCompletedPayload


class InventoryCompletedEvent(EventBase):
    """An inventory of one or more parties."""

    type: Literal["inventory_completed"]
    payload: InventoryCompletedPayload


class ObservationEvent(EventBase):
    """A sighting; never moves custody."""

    type: Literal["observation"]
    payload: ObservationPayload


class SupportProvidedEvent(EventBase):
    """Support delivered."""

    type: Literal["support_provided"]
    payload: SupportProvidedPayload


class ContractActionEvent(EventBase):
    """Suspension, hold or violation report."""

    type: Literal["contract_action"]
    payload: ContractActionPayload


class EventRetractedEvent(EventBase):
    """An event stops counting."""

    type: Literal["event_retracted"]
    payload: EventRetractedPayload


class EventCorrectedEvent(EventBase):
    """An event counts with fields replaced."""

    type: Literal["event_corrected"]
    payload: EventCorrectedPayload


class FindingDispositionedEvent(EventBase):
    """A decision about a finding."""

    type: Literal["finding_dispositioned"]
    payload: FindingDispositionedPayload


AnyEvent = Annotated[
    PartyRegisteredEvent
    | PartyReclassifiedEvent
    | FacilityRegisteredEvent
    | ContractRegisteredEvent
    | AuthorizationGrantedEvent
    | AuthorizationRevokedEvent
    | AssetRegisteredEvent
    | CustodyTransferredEvent
    | AssetCapturedEvent
    | AssetRecoveredEvent
    | LossReportedEvent
    | AssetDisabledEvent
    | AssetDestroyedEvent
    | AssetDecommissionedEvent
    | RepairStartedEvent
    | RepairCompletedEvent
    | InventoryCompletedEvent
    | ObservationEvent
    | SupportProvidedEvent
    | ContractActionEvent
    | EventRetractedEvent
    | EventCorrectedEvent
    | FindingDispositionedEvent,
    Field(discriminator="type"),
]

# The union above is the one list of event types; the tuple follows it.
ALL_EVENT_MODELS: tuple[type[EventBase], ...] = get_args(get_args(AnyEvent)[0])

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


_INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)


def parse_instant_field(value: Any) -> datetime:
    """Validate one instant the way the schema does (used for corrected fields)."""
    return _INSTANT.validate_python(value)
