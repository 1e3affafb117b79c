"""The contract report's corrections and retractions section (DOMAIN.md §7): each
retraction or correction reported within the period whose target concerns the
contract, in knowledge order, with the retraction that undid it if any.

What the section says of one amendment depends on the amendment and its target
alone, never on the contract or the view: :class:`Amendment` is that, worked out once
(the custody projection stores it with the amendment, so the present report reads it
without parsing either event). Whether it concerns a contract is then asked of the
contract and its assets (:meth:`Amendment.concerns`): a target that names a contract
(a contract action, a contract's registration, an authorisation under it, an asset's
registration) concerns that contract; any other, the contracts of the assets it is an
event of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.frozen import thaw
from domain.history import Event
from domain.instants import parse, to_stored
from domain.rules.facts import action_contract, registration_contract
from domain.rules.lives import Window
from domain.vocabulary import EventType

AMENDMENT_TYPES = (EventType.EVENT_RETRACTED, EventType.EVENT_CORRECTED)


def _named_contract(e: Event) -> tuple[bool, str | None]:
    """Whether the event concerns a contract by naming it, and which."""
    if e.type is EventType.CONTRACT_ACTION:
        return True, action_contract(e)
    if e.type in (EventType.CONTRACT_REGISTERED, EventType.AUTHORIZATION_GRANTED):
        return True, e.text("contract_id")
    if e.type is EventType.ASSET_REGISTERED:
        return True, registration_contract(e)
    return False, None


@dataclass(frozen=True, slots=True)
class Amendment:
    """One retraction or correction as the section lists it (``row``, without
    ``retracted_by``), its knowledge order, and what says which contracts its target
    concerns: ``by_contract`` and ``contract``, or else ``assets`` (the target's
    subjects)."""

    event_id: str
    reported_at: datetime
    position: int
    target_event_id: str
    row: Mapping[str, Any]
    by_contract: bool
    contract: str | None
    assets: tuple[str, ...]

    @classmethod
    def of(cls, e: Event, target: Event) -> Amendment:
        by_contract, contract = _named_contract(target)
        return cls(
            event_id=e.event_id,
            reported_at=e.reported_at,
            position=e.position,
            target_event_id=target.event_id,
            row={
                "event_id": e.event_id,
                "type": e.type.value,
                "target_event_id": target.event_id,
                "target_type": target.type.value,
                "reported_at": to_stored(e.reported_at),
                "occurred_at": to_stored(e.occurred_at),
                "reporter": e.reporter,
                "reason": e.text("reason"),
                "corrected_fields": thaw(e.corrected_fields) if e.corrected_fields else None,
            },
            by_contract=by_contract,
            contract=contract,
            assets=() if by_contract else target.subjects,
        )

    @property
    def knowledge_key(self) -> tuple[datetime, int]:
        return (self.reported_at, self.position)

    def concerns(self, contract_id: str, assets: set[str]) -> bool:
        if self.by_contract:
            return self.contract == contract_id
        return not assets.isdisjoint(self.assets)

    def to_json(self) -> dict[str, Any]:
        """What the custody projection stores (``proj_event_amendments.summary``)."""
        return {
            "row": dict(self.row),
            "by_contract": self.by_contract,
            "contract": self.contract,
            "assets": list(self.assets),
        }

    @classmethod
    def from_json(cls, position: int, data: Mapping[str, Any]) -> Amendment:
        row = data["row"]
        return cls(
            event_id=row["event_id"],
            reported_at=parse(row["reported_at"]),
            position=position,
            target_event_id=row["target_event_id"],
            row=row,
            by_contract=data["by_contract"],
            contract=data["contract"],
            assets=tuple(data["assets"]),
        )


def corrections(
    contract_id: str,
    assets: set[str],
    amendments: Sequence[Amendment],
    retracted_by: Mapping[str, str],
    window: Window,
) -> list[Mapping[str, Any]]:
    """The section: the ``amendments`` (in knowledge order) reported within the
    period whose target concerns the contract; ``retracted_by`` maps an amendment to
    the retraction that undid it."""
    return [
        {**a.row, "retracted_by": retracted_by.get(a.event_id)}
        for a in amendments
        if window.contains(a.reported_at) and a.concerns(contract_id, assets)
    ]
