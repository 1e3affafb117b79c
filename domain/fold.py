"""An asset's derived state and the fold that makes it (DOMAIN.md §3 effect table,
§4): :func:`apply` is one step of the fold, for a projection that meets events in
world order; :func:`fold` folds a set of events; :func:`unaccounted_reason` says
whether a state is accounted for, and why not. :mod:`domain.state` builds on it.

Choices where DOMAIN.md is silent (each is tested):

* Before its registration in world order an asset has no state (``None``); events of
  the asset ordered before it (a transfer dated before delivery) change nothing and
  are not ``last_event_id``. A second registration of the same asset is ignored.
* The state exists from the registration's ``occurred_at``; ``since`` and a partner's
  ``partner_entry_at`` are its ``delivered_at``. ``last_verified_at`` starts empty:
  delivery is not an inventory.
* ``last_custodian`` is the custodian before the latest custody change, kept through
  custodian-less spells: after capture, loss and recovery it names the captor who lost
  it.
* A loss of an asset already lost, or a second destruction, keeps ``since``,
  ``last_custodian`` and ``partner_entry_at``; it still clears
  ``missing_at_inventory`` and is the ``last_event_id``.
* A terminal asset stays terminal (DOMAIN.md §5, "Readings"). A transfer of a
  destroyed or decommissioned asset moves a wreck (R08 allows it): the custodian
  becomes ``to_party`` and ``since`` its ``occurred_at``; the status,
  ``terminal_confidence`` and ``operational`` stay, and ``partner_entry_at`` does not
  move (a wreck is in no one's custody in the sense of R13). A capture or recovery of
  a wreck does the same with its taker, a loss drops the holder; R08 flags those.
  Only a destruction or decommission changes a terminal status (scrapping a wreck).
* A transfer, capture or recovery naming the holder already in place (a second report
  of the same capture) changes nothing, ``since`` included: it is not applied.
* A second destruction keeps the first ``since`` and raises ``terminal_confidence`` to
  the stronger of the two reports; a decommission is ``confirmed``. Decommission does
  not change ``operational``; neither closes an open work order (R12 decides).
* A disablement of a destroyed or decommissioned asset changes nothing (DOMAIN.md §5,
  "Readings"): it is not applied, so it is not the ``last_event_id`` either.
* ``repair_completed`` sets ``OPERATIONAL`` and closes the open work order when it
  names that order or names none (a leaked or observed completion, DOMAIN.md §3); a
  completion of another order leaves the open one open. With no order open, any
  completion is a repair with no known start.
* ``repair_started`` without ``work_order_id`` (reported by someone other than the
  performer) sets ``UNDER_REPAIR`` but opens no work order — none is known, so R12
  has nothing to time; a work order already open stays open.
* Inventory: ``present`` anywhere in the results counts; an asset the inventory names
  but for which it has no result line is unchanged apart from ``last_event_id``.
* ``location`` is the last location carried by an applied event (a loss falls back to
  its ``last_known_location``); an inventory moves it only when the asset is present.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.history import Event, Location
from domain.reference import Reference
from domain.vocabulary import Confidence, EventType, Operational, Status

TERMINAL: frozenset[Status] = frozenset({Status.DESTROYED, Status.DECOMMISSIONED})

# Who holds the asset after each custody-taking event.
_TAKER_FIELD: dict[EventType, str] = {
    EventType.CUSTODY_TRANSFERRED: "to_party",
    EventType.ASSET_CAPTURED: "captor_party",
    EventType.ASSET_RECOVERED: "recovered_by_party",
}
_TERMINAL_STATUS = frozenset({EventType.ASSET_DESTROYED, EventType.ASSET_DECOMMISSIONED})
_RELEASE_STATUS: dict[EventType, Status] = {
    EventType.LOSS_REPORTED: Status.LOST,
    EventType.ASSET_DESTROYED: Status.DESTROYED,
    EventType.ASSET_DECOMMISSIONED: Status.DECOMMISSIONED,
}


@dataclass(frozen=True, slots=True)
class AssetState:
    """The state of one asset at ``(t, k)``: the fields of DOMAIN.md §4 and §7."""

    asset_id: str
    serial: str
    model: str
    contract_id: str
    status: Status
    custodian: str | None
    last_custodian: str | None
    since: datetime
    operational: Operational
    missing_at_inventory: bool
    last_verified_at: datetime | None
    partner_entry_at: datetime | None
    open_work_order: str | None
    terminal_confidence: Confidence | None
    location: Location | None
    last_event_id: str

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


# -- the fold ----------------------------------------------------------------------


_STATE_FIELDS = tuple(AssetState.__dataclass_fields__)
_set = object.__setattr__


def _evolve(s: AssetState, **changes: Any) -> AssetState:
    """``dataclasses.replace`` for a state, without its per-call introspection: a fold
    makes one per applied event, and ``replace`` cost twice this."""
    new = AssetState.__new__(AssetState)
    for name in _STATE_FIELDS:
        _set(new, name, changes[name] if name in changes else getattr(s, name))
    return new


def _location(event: Event) -> Location | None:
    if event.location is None and event.type is EventType.LOSS_REPORTED:
        return event.payload_location("last_known_location")
    return event.location


def _register(event: Event, asset_id: str, ref: Reference) -> AssetState:
    custodian = event.text("initial_custodian")
    contract_id = event.text("contract_id") or event.contract_id or ""
    delivered = event.instant("delivered_at") or event.occurred_at
    return AssetState(
        asset_id=asset_id,
        serial=event.text("serial") or "",
        model=event.text("model") or "",
        contract_id=contract_id,
        status=Status.IN_CUSTODY,
        custodian=custodian,
        last_custodian=None,
        since=delivered,
        operational=Operational.OPERATIONAL,
        missing_at_inventory=False,
        last_verified_at=None,
        partner_entry_at=delivered if ref.partner(custodian, contract_id) else None,
        open_work_order=None,
        terminal_confidence=None,
        location=event.location,
        last_event_id=event.event_id,
    )


def _custody(s: AssetState, event: Event, ref: Reference) -> AssetState:
    t = event.type
    if t in _TAKER_FIELD:
        status, custodian = Status.IN_CUSTODY, event.text(_TAKER_FIELD[t])
    else:
        status, custodian = _RELEASE_STATUS[t], None
    location = _location(event) or s.location

    if s.terminal and t not in _TERMINAL_STATUS:
        # A terminal asset stays terminal: a transfer, capture, recovery or loss of a
        # wreck moves (or drops) its holder, nothing else.
        if custodian == s.custodian:
            return s
        return _evolve(
            s,
            custodian=custodian,
            since=event.occurred_at,
            last_custodian=s.last_custodian if s.custodian is None else s.custodian,
            missing_at_inventory=False,
            location=location,
            last_event_id=event.event_id,
        )
    if t in _TAKER_FIELD and (status, custodian) == (s.status, s.custodian):
        return s  # names the holder already in place: changes nothing

    if t is EventType.ASSET_DESTROYED:
        confidence: Confidence | None = event.confidence
        if s.status is Status.DESTROYED and s.terminal_confidence is not None:
            confidence = max(s.terminal_confidence, event.confidence, key=lambda c: c.rank)
    elif t is EventType.ASSET_DECOMMISSIONED:
        confidence = Confidence.CONFIRMED
    else:
        confidence = None
    operational = Operational.DESTROYED if t is EventType.ASSET_DESTROYED else s.operational

    same = (status, custodian) == (s.status, s.custodian)
    held_by_partner = s.status is Status.IN_CUSTODY and ref.partner(s.custodian, s.contract_id)
    enters_partner = (
        not same
        and custodian is not None
        and ref.partner(custodian, s.contract_id)
        and not held_by_partner
    )
    return _evolve(
        s,
        status=status,
        custodian=custodian,
        since=s.since if same else event.occurred_at,
        last_custodian=s.last_custodian if same or s.custodian is None else s.custodian,
        missing_at_inventory=False,
        partner_entry_at=event.occurred_at if enters_partner else s.partner_entry_at,
        terminal_confidence=confidence,
        operational=operational,
        location=location,
        last_event_id=event.event_id,
    )


def _inventory(s: AssetState, event: Event, ref: Reference) -> AssetState:
    line = event.inventory_results().get(s.asset_id)
    if line is not None and line[0] == "present":
        return _evolve(
            s,
            last_verified_at=event.occurred_at,
            missing_at_inventory=False,
            location=event.location or s.location,
            last_event_id=event.event_id,
        )
    missing = s.missing_at_inventory
    if (
        line is not None
        and line[0] == "absent"
        and s.custodian is not None
        and ref.descends_from_any(s.custodian, event.texts("scope_parties"))
    ):
        missing = True
    return _evolve(s, missing_at_inventory=missing, last_event_id=event.event_id)


def apply(
    state: AssetState | None, event: Event, ref: Reference, asset_id: str | None = None
) -> AssetState | None:
    """The state after ``event``, given the state just before it in world order.

    Returns ``state`` itself (the same object) when the event does not change the
    asset's state — observations, support, contract actions, reference data, events
    of other assets, anything before registration — so ``after is not before`` tells
    whether the event was applied. ``asset_id`` defaults to ``state.asset_id``, or to
    the event's only asset for a registration.

    A projection that meets an event earlier in world order than one already folded
    must fold again from the start (``History`` does).
    """
    if asset_id is None:
        asset_id = _asset_of(state, event)
    if asset_id is None or asset_id not in event.subjects:
        return state
    t = event.type
    if state is None:
        return _register(event, asset_id, ref) if t is EventType.ASSET_REGISTERED else None
    if t in _TAKER_FIELD or t in _RELEASE_STATUS:
        return _custody(state, event, ref)
    if t is EventType.INVENTORY_COMPLETED:
        return _inventory(state, event, ref)
    if t in (EventType.ASSET_DISABLED, EventType.REPAIR_STARTED, EventType.REPAIR_COMPLETED):
        return _maintenance(state, event)
    return state


def _asset_of(state: AssetState | None, event: Event) -> str | None:
    """The asset a step of the fold is about when the caller does not say: the
    state's, else a registration's only asset."""
    if state is not None:
        return state.asset_id
    return event.subjects[0] if len(event.subjects) == 1 else None


def _maintenance(state: AssetState, event: Event) -> AssetState:
    """A disablement or a repair record."""
    t = event.type
    location = event.location or state.location
    if t is EventType.ASSET_DISABLED:
        if state.terminal:
            return state  # DOMAIN.md §5 "Readings": it changes nothing
        operational = (
            state.operational
            if state.operational is Operational.DESTROYED
            else Operational.DISABLED
        )
        return _evolve(
            state, operational=operational, location=location, last_event_id=event.event_id
        )
    order = event.text("work_order_id")
    if t is EventType.REPAIR_STARTED:
        return _evolve(
            state,
            operational=Operational.UNDER_REPAIR,
            open_work_order=state.open_work_order if order is None else order,
            location=location,
            last_event_id=event.event_id,
        )
    closes = state.open_work_order is None or order is None or state.open_work_order == order
    if not closes:
        return _evolve(state, location=location, last_event_id=event.event_id)
    return _evolve(
        state,
        operational=Operational.OPERATIONAL,
        open_work_order=None,
        location=location,
        last_event_id=event.event_id,
    )


def fold(events: Iterable[Event], ref: Reference, asset_id: str) -> AssetState | None:
    """The state after ``events`` (sorted here into world order)."""
    state: AssetState | None = None
    for e in sorted(events, key=lambda e: e.world_key):
        state = apply(state, e, ref, asset_id)
    return state


# -- accounted for (DOMAIN.md §4) ----------------------------------------------------


class Unaccounted(StrEnum):
    """Why an asset is not accounted for."""

    NOT_REGISTERED = "not_registered"
    LOST = "lost"
    UNAUTHORISED_CUSTODIAN = "unauthorised_custodian"
    MISSING_AT_INVENTORY = "missing_at_inventory"
    TERMINAL_CONFIDENCE_TOO_LOW = "terminal_confidence_too_low"


def unaccounted_reason(state: AssetState | None, ref: Reference, t: datetime) -> Unaccounted | None:
    """``None`` when the asset is accounted for at t, else the first reason it is not."""
    if state is None:
        return Unaccounted.NOT_REGISTERED
    if state.status is Status.LOST:
        return Unaccounted.LOST
    if state.terminal:
        minimum = ref.terms(state.contract_id).terminal_min_confidence
        conf = state.terminal_confidence
        ok = conf is not None and conf.rank >= minimum.rank
        return None if ok else Unaccounted.TERMINAL_CONFIDENCE_TOO_LOW
    if not ref.authorised(state.custodian, state.contract_id, t):
        return Unaccounted.UNAUTHORISED_CUSTODIAN
    if state.missing_at_inventory:
        return Unaccounted.MISSING_AT_INVENTORY
    return None
