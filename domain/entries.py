"""The recorded fact as an eventsourcing aggregate.

Every ledger event is stored as exactly one eventsourcing event: the creation event of
a ``LedgerEntry`` whose id is ``uuid5`` of the client's ``event_id``. That gives:

* one row, one ``position`` and one ``hash`` per ledger event, also for an event that
  concerns several assets (a capture of three tanks is one fact, not three);
* idempotency and duplicate detection on ``event_id`` from the store's own unique
  ``(originator_id, originator_version)`` key;
* the per-asset ``expected_version`` kept by the ledger's registry in the same
  transaction (see ``docs/decisions/0001-one-row-per-fact.md``).

The classes below are stored by topic (``domain.entries:AssetCaptured``). They are
frozen: renaming or moving one breaks stored rows. Evolve with ``register_topic`` and
upcasting, never by editing a released class.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.vocabulary import EventType

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:custody-ledger:event")


class LedgerEntry(Aggregate):
    """One immutable recorded fact."""

    class Recorded(Aggregate.Created):
        """Base of every stored ledger event: ``record`` is the whole stored event."""

        record: dict[str, Any]

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    @staticmethod
    def create_id(event_id: str) -> UUID:
        return uuid5(_NAMESPACE, event_id)


class PartyRegistered(LedgerEntry.Recorded):
    pass


class PartyReclassified(LedgerEntry.Recorded):
    pass


class FacilityRegistered(LedgerEntry.Recorded):
    pass


class ContractRegistered(LedgerEntry.Recorded):
    pass


class AuthorizationGranted(LedgerEntry.Recorded):
    pass


class AuthorizationRevoked(LedgerEntry.Recorded):
    pass


class AssetRegistered(LedgerEntry.Recorded):
    pass


class CustodyTransferred(LedgerEntry.Recorded):
    pass


class AssetCaptured(LedgerEntry.Recorded):
    pass


class AssetRecovered(LedgerEntry.Recorded):
    pass


class LossReported(LedgerEntry.Recorded):
    pass


class AssetDisabled(LedgerEntry.Recorded):
    pass


class AssetDestroyed(LedgerEntry.Recorded):
    pass


class AssetDecommissioned(LedgerEntry.Recorded):
    pass


class RepairStarted(LedgerEntry.Recorded):
    pass


class RepairCompleted(LedgerEntry.Recorded):
    pass


class InventoryCompleted(LedgerEntry.Recorded):
    pass


class AssetObserved(LedgerEntry.Recorded):
    pass


class SupportProvided(LedgerEntry.Recorded):
    pass


class ContractActionTaken(LedgerEntry.Recorded):
    pass


class EventRetracted(LedgerEntry.Recorded):
    pass


class EventCorrected(LedgerEntry.Recorded):
    pass


class FindingDispositioned(LedgerEntry.Recorded):
    pass


EVENT_CLASSES: dict[EventType, type[LedgerEntry.Recorded]] = {
    EventType.PARTY_REGISTERED: PartyRegistered,
    EventType.PARTY_RECLASSIFIED: PartyReclassified,
    EventType.FACILITY_REGISTERED: FacilityRegistered,
    EventType.CONTRACT_REGISTERED: ContractRegistered,
    EventType.AUTHORIZATION_GRANTED: AuthorizationGranted,
    EventType.AUTHORIZATION_REVOKED: AuthorizationRevoked,
    EventType.ASSET_REGISTERED: AssetRegistered,
    EventType.CUSTODY_TRANSFERRED: CustodyTransferred,
    EventType.ASSET_CAPTURED: AssetCaptured,
    EventType.ASSET_RECOVERED: AssetRecovered,
    EventType.LOSS_REPORTED: LossReported,
    EventType.ASSET_DISABLED: AssetDisabled,
    EventType.ASSET_DESTROYED: AssetDestroyed,
    EventType.ASSET_DECOMMISSIONED: AssetDecommissioned,
    EventType.REPAIR_STARTED: RepairStarted,
    EventType.REPAIR_COMPLETED: RepairCompleted,
    EventType.INVENTORY_COMPLETED: InventoryCompleted,
    EventType.OBSERVATION: AssetObserved,
    EventType.SUPPORT_PROVIDED: SupportProvided,
    EventType.CONTRACT_ACTION: ContractActionTaken,
    EventType.EVENT_RETRACTED: EventRetracted,
    EventType.EVENT_CORRECTED: EventCorrected,
    EventType.FINDING_DISPOSITIONED: FindingDispositioned,
}


class _Topics:
    by_class: ClassVar[dict[type[LedgerEntry.Recorded], EventType]] = {
        cls: t for t, cls in EVENT_CLASSES.items()
    }


def type_of(cls: type[LedgerEntry.Recorded]) -> EventType:
    return _Topics.by_class[cls]
