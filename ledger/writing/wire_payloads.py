"""Field types and payload models of the wire schema (DOMAIN.md §2–3).

The building blocks of ``ledger.writing.wire``: the shared field types (identifiers,
instants, texts), the small nested models (source, evidence, location) and one payload
model per event type. Like the envelope, every model rejects unknown fields.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
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
# Free JSON (extensions, corrected values) is hashed in canonical form; absurd nesting
# would only exhaust the canonicaliser's stack, so it is refused up front.
MAX_JSON_DEPTH = 32


def json_depth(value: Any) -> int:
    """How deep ``value`` nests: 0 for a scalar or empty container, 1 for a flat one."""
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
        if json_depth(v) > MAX_JSON_DEPTH:
            raise ValueError(f"corrected values may nest at most {MAX_JSON_DEPTH} levels")
        return v


class FindingDispositionedPayload(Strict):
    finding_key: Annotated[str, Field(min_length=3, max_length=512)]
    disposition: Disposition
    rationale: Text
