"""The closed vocabularies of DOMAIN.md: event types, enums and their orderings."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    # Reference data (DOMAIN.md §2)
    PARTY_REGISTERED = "party_registered"
    PARTY_RECLASSIFIED = "party_reclassified"
    FACILITY_REGISTERED = "facility_registered"
    CONTRACT_REGISTERED = "contract_registered"
    AUTHORIZATION_GRANTED = "authorization_granted"
    AUTHORIZATION_REVOKED = "authorization_revoked"
    # Asset and contract events (DOMAIN.md §3)
    ASSET_REGISTERED = "asset_registered"
    CUSTODY_TRANSFERRED = "custody_transferred"
    ASSET_CAPTURED = "asset_captured"
    ASSET_RECOVERED = "asset_recovered"
    LOSS_REPORTED = "loss_reported"
    ASSET_DISABLED = "asset_disabled"
    ASSET_DESTROYED = "asset_destroyed"
    ASSET_DECOMMISSIONED = "asset_decommissioned"
    REPAIR_STARTED = "repair_started"
    REPAIR_COMPLETED = "repair_completed"
    INVENTORY_COMPLETED = "inventory_completed"
    OBSERVATION = "observation"
    SUPPORT_PROVIDED = "support_provided"
    CONTRACT_ACTION = "contract_action"
    EVENT_RETRACTED = "event_retracted"
    EVENT_CORRECTED = "event_corrected"
    FINDING_DISPOSITIONED = "finding_dispositioned"


REFERENCE_TYPES: frozenset[EventType] = frozenset(
    {
        EventType.PARTY_REGISTERED,
        EventType.PARTY_RECLASSIFIED,
        EventType.FACILITY_REGISTERED,
        EventType.CONTRACT_REGISTERED,
        EventType.AUTHORIZATION_GRANTED,
        EventType.AUTHORIZATION_REVOKED,
    }
)

# Events that must name at least one asset.
ASSET_TYPES: frozenset[EventType] = frozenset(
    {
        EventType.ASSET_REGISTERED,
        EventType.CUSTODY_TRANSFERRED,
        EventType.ASSET_CAPTURED,
        EventType.ASSET_RECOVERED,
        EventType.LOSS_REPORTED,
        EventType.ASSET_DISABLED,
        EventType.ASSET_DESTROYED,
        EventType.ASSET_DECOMMISSIONED,
        EventType.REPAIR_STARTED,
        EventType.REPAIR_COMPLETED,
        EventType.INVENTORY_COMPLETED,
        EventType.OBSERVATION,
        EventType.SUPPORT_PROVIDED,
    }
)

# Events that change who holds an asset (DOMAIN.md §3, "Every custody change").
CUSTODY_CHANGES: frozenset[EventType] = frozenset(
    {
        EventType.CUSTODY_TRANSFERRED,
        EventType.ASSET_CAPTURED,
        EventType.ASSET_RECOVERED,
        EventType.LOSS_REPORTED,
        EventType.ASSET_DESTROYED,
        EventType.ASSET_DECOMMISSIONED,
    }
)


class Confidence(StrEnum):
    DOUBTFUL = "doubtful"
    POSSIBLE = "possible"
    PROBABLE = "probable"
    CONFIRMED = "confirmed"

    @property
    def rank(self) -> int:
        return _CONFIDENCE_RANK[self]


_CONFIDENCE_RANK = {
    Confidence.DOUBTFUL: 0,
    Confidence.POSSIBLE: 1,
    Confidence.PROBABLE: 2,
    Confidence.CONFIRMED: 3,
}


class PartyKind(StrEnum):
    GOVERNMENT = "government"
    STATE_UNIT = "state_unit"
    CONTRACTOR = "contractor"
    PARAMILITARY = "paramilitary"
    ARMED_GROUP = "armed_group"
    REGIONAL_FORCE = "regional_force"
    INSPECTOR = "inspector"
    OTHER = "other"


class AuthorizationKind(StrEnum):
    END_USER = "end_user"
    REPAIR_FACILITY = "repair_facility"
    MAINTAINER = "maintainer"


class ContractActionKind(StrEnum):
    SUPPORT_SUSPENDED = "SUPPORT_SUSPENDED"
    SUPPORT_RESUMED = "SUPPORT_RESUMED"
    DELIVERY_HOLD_IMPOSED = "DELIVERY_HOLD_IMPOSED"
    DELIVERY_HOLD_LIFTED = "DELIVERY_HOLD_LIFTED"
    VIOLATION_REPORTED = "VIOLATION_REPORTED"


class Disposition(StrEnum):
    CONFIRMED_VIOLATION = "confirmed_violation"
    DISMISSED = "dismissed"
    WAIVED = "waived"
    REFERRED = "referred"


class InventoryResult(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"


class UseAssessment(StrEnum):
    POTENTIALLY_UNAUTHORISED = "potentially_unauthorised"


class Status(StrEnum):
    IN_CUSTODY = "IN_CUSTODY"
    LOST = "LOST"
    DESTROYED = "DESTROYED"
    DECOMMISSIONED = "DECOMMISSIONED"


class Operational(StrEnum):
    OPERATIONAL = "OPERATIONAL"
    DISABLED = "DISABLED"
    UNDER_REPAIR = "UNDER_REPAIR"
    DESTROYED = "DESTROYED"


class Role(StrEnum):
    WRITER = "writer"
    INVESTIGATOR = "investigator"
    AUDITOR = "auditor"
    IMPORTER = "importer"
    ADMIN = "admin"


# What each role may do (SPEC.md §2). ``admin`` may do everything.
_GRANTS: dict[Role, frozenset[str]] = {
    Role.WRITER: frozenset({"append"}),
    Role.IMPORTER: frozenset({"append", "append_historical"}),
    Role.INVESTIGATOR: frozenset({"read"}),
    Role.AUDITOR: frozenset({"read", "audit"}),
    Role.ADMIN: frozenset(
        {"append", "append_historical", "append_reference", "read", "audit", "admin"}
    ),
}


def role_may(role: Role, permission: str) -> bool:
    return permission in _GRANTS[role]
