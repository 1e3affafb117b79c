"""Field types and payload models of the wire schema (DOMAIN.md §2–3).

The building blocks of ``ledger.writing.wire``: the shared field types (identifiers,
instants, texts), the small nested models (source, evidence, location) and one payload
model per event type. Like the envelope, every model rejects unknown fields.

Everything accepted here must survive canonical JSON (RFC 8785) and both stores
unchanged, so the types refuse up front what would otherwise fail later or be altered
silently: an instant outside years 0001–9999 in UTC or finer than a microsecond, a Unix
time, a string with U+0000 (PostgreSQL cannot store it) or a lone UTF-16 surrogate (not
a Unicode scalar value, so not encodable as UTF-8), and in free JSON an integer beyond
±(2^53 − 1) or a NaN or infinity (I-JSON, RFC 7493, which RFC 8785 requires).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from domain.instants import (
    INSTANT_PATTERN,
    INSTANT_RULES,
    UNIX_TIME,
    InstantError,
    in_utc_range,
    refuse_ambiguous,
    to_stored,
)
from domain.vocabulary import (
    AuthorizationKind,
    Confidence,
    ContractActionKind,
    Disposition,
    InventoryResult,
    PartyKind,
    UseAssessment,
)

ID_PATTERN = r"^(?!\.{1,2}$)[A-Za-z0-9._:-]{1,128}$"
"""1–128 characters of ``A-Za-z0-9._:-``, but not ``.`` or ``..``: a URL cannot name
those as a path segment (clients do not percent-encode an unreserved character, and
``/v1/assets/..`` is ``/v1``), so an event could record an id no read can reach."""
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


# The largest integer RFC 8785 (I-JSON) represents exactly: also the bound of every
# integer field, so none can fail canonicalisation.
MAX_SAFE_INT = 2**53 - 1
# Contract periods: a century is generous, and a deadline a rule computes from a recorded
# time (never later than now) stays far inside the years ``datetime`` can hold.
MAX_DAYS = 36_500


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as it is, or None."""
    if "\x00" in value:
        return "must not contain U+0000 (NUL)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be Unicode scalar values (a lone UTF-16 surrogate is not)"
    return None


def _clean_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise PydanticCustomError("text_invalid", problem)
    return value


def free_json_problem(value: Any, path: str) -> str | None:
    """Why free JSON at ``path`` cannot be hashed in canonical form unchanged, or None."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        at, v = stack.pop()
        if isinstance(v, str):
            problem = text_problem(v)
        elif isinstance(v, bool) or v is None:
            problem = None
        elif isinstance(v, int):
            problem = None if -MAX_SAFE_INT <= v <= MAX_SAFE_INT else "beyond ±(2^53 − 1)"
        elif isinstance(v, float):
            problem = None if math.isfinite(v) else "NaN and infinities are not JSON"
        elif isinstance(v, dict):
            for k, item in v.items():
                key_problem = text_problem(k) if isinstance(k, str) else "keys must be strings"
                if key_problem is not None:
                    return f"a key in {at} {key_problem}"
                stack.append((f"{at}.{k}", item))
            continue
        elif isinstance(v, list):
            stack.extend((f"{at}[{i}]", item) for i, item in enumerate(v))
            continue
        else:
            problem = "not JSON"
        if problem is not None:
            return f"{at}: {problem}"
    return None


def _given_instant(value: Any) -> Any:
    """Before pydantic parses: refuse what it would otherwise guess at or truncate."""
    if isinstance(value, int | float):  # bool is an int: refused as well
        raise PydanticCustomError("instant_invalid", UNIX_TIME)
    if isinstance(value, str):
        try:
            refuse_ambiguous(value)
        except InstantError as e:
            raise PydanticCustomError("instant_invalid", str(e)) from None
    return value


def _storable_instant(value: datetime) -> datetime:
    try:
        in_utc_range(value)
    except InstantError as e:
        raise PydanticCustomError("instant_invalid", str(e)) from None
    return value


# Documentation only (``_clean_text`` enforces it, with its own message): every text
# field refuses U+0000, so the OpenAPI schema says so and a generated client never sends it.
NO_NUL_PATTERN = r"^[^\u0000]*$"
_NO_NUL = Field(json_schema_extra={"pattern": NO_NUL_PATTERN})

_ID_CHARS = re.compile(ID_PATTERN)
ID_RULE = (
    "is an identifier: 1–128 characters of A-Z a-z 0-9 . _ : - (no spaces), not "
    '"." or ".."; a free-text reference to a document does not go here'
)


def _identifier(value: str) -> str:
    if _ID_CHARS.fullmatch(value) is None:
        raise PydanticCustomError("identifier_invalid", ID_RULE)
    return value


# No shared example: each id names a different thing (the API's examples are per field
# and per request, ``api/openapi.py``). An identifier names something the ledger or a
# reporting system keys by; the error says so, so a user who sent a sentence knows why
# (the pattern stays in the schema for generated clients).
Id = Annotated[str, AfterValidator(_identifier), Field(json_schema_extra={"pattern": ID_PATTERN})]
Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_given_instant),
    AfterValidator(_storable_instant),
    PlainSerializer(to_stored, return_type=str),
    Field(
        description=INSTANT_RULES,
        examples=["2014-06-10T08:00:00Z"],
        json_schema_extra={"pattern": INSTANT_PATTERN},
    ),
]
Text = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_clean_text), _NO_NUL]
ShortText = Annotated[
    str, Field(min_length=1, max_length=256), AfterValidator(_clean_text), _NO_NUL
]
CleanText = Annotated[str, AfterValidator(_clean_text), _NO_NUL]
DocumentRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description=(
            "A reference to a document (free text, at most 200 characters, e.g. "
            '"FMS repair-and-return line"), not an identifier: the ledger keeps it as '
            "written and looks nothing up."
        ),
    ),
    AfterValidator(_clean_text),
    _NO_NUL,
]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Evidence(Strict):
    uri: Annotated[CleanText, Field(min_length=1, max_length=2048)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Source(Strict):
    kind: ShortText = Field(examples=["unit_report"])
    ref: ShortText = Field(examples=["9th-armd-div/2014-06-11/017"])
    evidence: list[Evidence] = Field(default_factory=list, max_length=100)


class Location(Strict):
    name: ShortText | None = None
    admin1: ShortText | None = None
    country: Annotated[CleanText, Field(min_length=2, max_length=64)] | None = None
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
    country: Annotated[CleanText, Field(min_length=2, max_length=64)]


class RepairLimits(Strict):
    field_maintenance: Days = 30
    battle_damage_repair: Days = 180
    overhaul: Days = 365
    other: Days = 90


class ContractTerms(Strict):
    """Contract parameters (DOMAIN.md §6); every one has its documented default."""

    unaccounted_max_days: Days = 30
    inventory_period_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] = 365
    reentry_inventory_days: Days = 90
    loss_notice_hours: Annotated[int, Field(ge=0, le=24 * MAX_DAYS)] = 24
    record_limit_days: Days = 7
    enforcement_grace_days: Days = 30
    repair_open_max_days: RepairLimits = Field(default_factory=RepairLimits)
    terminal_min_confidence: Confidence = Confidence.CONFIRMED
    conflict_min_confidence: Confidence = Confidence.PROBABLE


class ContractRegisteredPayload(Strict):
    contract_id: Id
    title_holder: Id
    seller: Id
    item: ShortText
    quantity: Annotated[int, Field(ge=1, le=MAX_SAFE_INT)]
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


class DamageAssessment(Strict):
    """A structured damage assessment (DOMAIN.md §3: ``damage`` is text or an object).
    Every field is optional; at least one must be given."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"minProperties": 1})

    mobility_kill: bool | None = None
    firepower_kill: bool | None = None
    fire: bool | None = None
    severity: Literal["light", "moderate", "heavy", "catastrophic"] | None = None
    description: Text | None = None

    @model_validator(mode="after")
    def _something(self) -> DamageAssessment:
        if not self.model_fields_set:
            raise ValueError("a damage assessment needs at least one field")
        return self


class AssetDisabledPayload(Strict):
    disabled_by_party: Id
    damage: Text | DamageAssessment = Field(
        description=(
            "What was damaged: free text, or a structured assessment "
            "(mobility_kill, firepower_kill, fire, severity, description)."
        )
    )


class AssetDestroyedPayload(Strict):
    cause: Text
    attributed_to_party: Id | None = None
    assessment: Text


class AssetDecommissionedPayload(Strict):
    method: ShortText
    consent_ref: ShortText
    certificate_ref: ShortText


class RepairStartedPayload(Strict):
    work_order_id: Id | SkipJsonSchema[None] = Field(
        default=None,
        description=(
            "The work order (an identifier). May be absent (or null) only when the reporter "
            "is not the performer (a leaked or observed repair); a completion without one "
            "closes the asset's open work order, else it is a repair with no known start."
        ),
    )
    facility_id: Id
    performed_by_party: Id
    work_type: ShortText = Field(examples=["battle_damage_repair"])
    authorization_ref: DocumentRef | None = None


class Part(Strict):
    """A part fitted in a repair; its ``serial`` is kept and searchable
    (``GET /v1/parts/{serial}``)."""

    part: ShortText = Field(examples=["AGT1500 engine"])
    serial: (
        Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_clean_text), _NO_NUL]
        | None
    ) = Field(
        default=None,
        description="The part's serial number, as marked on it (free text, ≤ 128 characters).",
    )
    quantity: Annotated[int, Field(ge=1, le=MAX_SAFE_INT)] | None = None


class RepairCompletedPayload(RepairStartedPayload):
    started_at: Instant | None = None
    parts: list[ShortText | Part] = Field(
        default_factory=list,
        max_length=1000,
        description='Each item a part\'s name ("road wheel") or {"part", "serial", "quantity"}.',
    )


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
        min_length=1, examples=[{"payload.loss_kind": "abandoned under fire"}]
    )
    reason: Text

    @field_validator("corrected_fields")
    @classmethod
    def _shallow(cls, v: dict[str, Any]) -> dict[str, Any]:
        if json_depth(v) > MAX_JSON_DEPTH:
            raise PydanticCustomError(
                "json_too_deep", f"corrected values may nest at most {MAX_JSON_DEPTH} levels"
            )
        problem = free_json_problem(v, "corrected_fields")
        if problem is not None:
            raise PydanticCustomError("json_invalid", problem)
        return v


class FindingDispositionedPayload(Strict):
    finding_key: Annotated[CleanText, Field(min_length=3, max_length=512)]
    disposition: Disposition
    rationale: Text
