"""The derived state of an asset (DOMAIN.md §3 effect table, §4): the fold, and the
intervals the state rules are built from.

:func:`apply` is one step of the fold, for a projection that meets events in world
order. :class:`History` answers ``state(a, t, k)``, ``prior(a, e, k)`` and
``accounted(a, t, k)`` for any number of ``(t, k)``: for each knowledge cut and asset
it folds once, then answers by bisection. :meth:`History.custody_bands` and
:meth:`History.accounted_intervals` give the maximal intervals R01, R03 and C01 need,
split where authorisation changes.

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
* A custody event that leaves status and custodian as they were (a second report of
  the same capture, a loss of an asset already lost) keeps ``since``,
  ``last_custodian`` and ``partner_entry_at``; it still clears
  ``missing_at_inventory`` and is the ``last_event_id``.
* A transfer of a destroyed or decommissioned asset moves a wreck (R08 allows it): the
  status, custodian and ``since`` stay; only location and ``last_event_id`` change.
  A capture, recovery or loss of such an asset is taken at its word (the status leaves
  the terminal state) and R08 flags it; the operational condition stays ``DESTROYED``
  until a repair says otherwise.
* A second destruction keeps the first ``since`` and raises ``terminal_confidence`` to
  the stronger of the two reports; a decommission is ``confirmed``. Decommission does
  not change ``operational``; neither closes an open work order (R12 decides).
* A disablement of a destroyed asset leaves it ``DESTROYED``.
* ``repair_completed`` sets ``OPERATIONAL`` and closes the open work order only when it
  names that order; a completion of another order leaves the open one open.
* Inventory: ``present`` anywhere in the results counts; an asset the inventory names
  but for which it has no result line is unchanged apart from ``last_event_id``.
* ``location`` is the last location carried by an applied event (a loss falls back to
  its ``last_known_location``); an inventory moves it only when the asset is present.
* Ties: events at the same ``occurred_at`` are folded in world order and
  ``state(a, t, k)`` includes all of them; no band or interval is opened for the
  intermediate states between them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.history import EffectiveLog, Event, Location, Log, Logged
from domain.reference import Reference
from domain.vocabulary import Confidence, EventType, Operational, Status

TERMINAL: frozenset[Status] = frozenset({Status.DESTROYED, Status.DECOMMISSIONED})

# Who holds the asset after each custody-taking event.
_TAKER_FIELD: dict[EventType, str] = {
    EventType.CUSTODY_TRANSFERRED: "to_party",
    EventType.ASSET_CAPTURED: "captor_party",
    EventType.ASSET_RECOVERED: "recovered_by_party",
}
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
    new = object.__new__(AssetState)
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

    if s.terminal and t is EventType.CUSTODY_TRANSFERRED:
        return _evolve(s, location=location, last_event_id=event.event_id)

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
        and s.status is Status.IN_CUSTODY
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
        if state is not None:
            asset_id = state.asset_id
        elif len(event.subjects) == 1:
            asset_id = event.subjects[0]
        else:
            return state
    if asset_id not in event.subjects:
        return state
    t = event.type
    if state is None:
        return _register(event, asset_id, ref) if t is EventType.ASSET_REGISTERED else None
    if t in _TAKER_FIELD or t in _RELEASE_STATUS:
        return _custody(state, event, ref)
    if t is EventType.INVENTORY_COMPLETED:
        return _inventory(state, event, ref)
    location = event.location or state.location
    if t is EventType.ASSET_DISABLED:
        operational = (
            state.operational
            if state.operational is Operational.DESTROYED
            else Operational.DISABLED
        )
        return _evolve(
            state, operational=operational, location=location, last_event_id=event.event_id
        )
    if t is EventType.REPAIR_STARTED:
        return _evolve(
            state,
            operational=Operational.UNDER_REPAIR,
            open_work_order=event.text("work_order_id"),
            location=location,
            last_event_id=event.event_id,
        )
    if t is EventType.REPAIR_COMPLETED:
        closes = state.open_work_order is None or state.open_work_order == event.text(
            "work_order_id"
        )
        if not closes:
            return _evolve(state, location=location, last_event_id=event.event_id)
        return _evolve(
            state,
            operational=Operational.OPERATIONAL,
            open_work_order=None,
            location=location,
            last_event_id=event.event_id,
        )
    return state


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


# -- steps, segments, bands, intervals -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One effective event of an asset in world order, with the state around it."""

    event: Event
    before: AssetState | None
    after: AssetState | None

    @property
    def applied(self) -> bool:
        return self.after is not self.before

    @property
    def changes_custody(self) -> bool:
        """Registration, or a change of status or custodian."""
        if not self.applied or self.after is None:
            return False
        b = self.before
        return b is None or (b.status, b.custodian) != (self.after.status, self.after.custodian)


@dataclass(frozen=True, slots=True)
class Segment:
    """``[valid_from, valid_to)`` over which the state and its authorisation are
    constant (``valid_to`` ``None``: still so at the horizon).

    ``event_ids`` are the events applied at ``valid_from``, ``custody_event_ids`` those
    of them that registered the asset or changed status or custodian, and
    ``authorisation_event_ids`` the authorisation events taking effect for the
    custodian at ``valid_from``.
    """

    valid_from: datetime
    valid_to: datetime | None
    state: AssetState
    authorised: bool | None  # None without a custodian
    accounted: bool
    event_ids: tuple[str, ...]
    custody_event_ids: tuple[str, ...]
    authorisation_event_ids: tuple[str, ...]


class BandMark(StrEnum):
    AUTHORISED = "authorised"
    UNAUTHORISED = "unauthorised"
    NONE = "none"
    TERMINAL = "terminal"


@dataclass(frozen=True, slots=True)
class Band:
    """A maximal custody interval with one custodian, status and mark."""

    custodian: str | None
    status: Status
    mark: BandMark
    valid_from: datetime
    valid_to: datetime | None
    opened_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Interval:
    """A maximal not-accounted-for interval; ``opened_by`` made it start."""

    valid_from: datetime
    valid_to: datetime | None
    opened_by: tuple[str, ...]


def _mark(seg: Segment) -> BandMark:
    if seg.state.terminal:
        return BandMark.TERMINAL
    if seg.state.status is not Status.IN_CUSTODY or seg.state.custodian is None:
        return BandMark.NONE
    return BandMark.AUTHORISED if seg.authorised else BandMark.UNAUTHORISED


@dataclass(frozen=True, slots=True)
class _Track:
    steps: tuple[Step, ...]
    occurred: tuple[datetime, ...]
    keys: tuple[tuple[datetime, datetime, int], ...]


Group = tuple[datetime, AssetState, list[str], list[str]]
"""The applied events at one instant: ``(at, state after them, their ids, the ids of
those that registered the asset or changed status or custodian)``."""


def add_to_groups(groups: list[Group], steps: Iterable[Step], until: datetime | None) -> None:
    """Group ``steps`` (in world order, after those already grouped) by the instant at
    which they changed the state; steps after ``until`` are left out."""
    for step in steps:
        at = step.event.occurred_at
        if until is not None and at > until:
            break
        if not step.applied or step.after is None:
            continue
        if groups and groups[-1][0] == at:
            groups[-1] = (at, step.after, groups[-1][2], groups[-1][3])
        else:
            groups.append((at, step.after, [], []))
        groups[-1][2].append(step.event.event_id)
        if step.changes_custody:
            groups[-1][3].append(step.event.event_id)


def group_segments(
    groups: Sequence[Group], i: int, ref: Reference, until: datetime | None
) -> list[Segment]:
    """The segments of group ``i``: from its instant to the next group's, split where
    the custodian's authorisation changes."""
    start, state, ids, custody_ids = groups[i]
    end = groups[i + 1][0] if i + 1 < len(groups) else None
    changes: dict[datetime, list[str]] = {}
    if state.status is Status.IN_CUSTODY and state.custodian is not None:
        for c in ref.authorisation_changes(state.custodian, state.contract_id):
            if c.at < start or (end is not None and c.at >= end):
                continue
            if until is not None and c.at > until:
                continue
            changes.setdefault(c.at, []).append(c.event_id)
    pieces = [start, *(at for at in sorted(changes) if at > start)]
    out: list[Segment] = []
    for j, piece_from in enumerate(pieces):
        piece_to = pieces[j + 1] if j + 1 < len(pieces) else end
        has_custodian = state.status is Status.IN_CUSTODY and state.custodian is not None
        authorised = (
            ref.authorised(state.custodian, state.contract_id, piece_from)
            if has_custodian
            else None
        )
        out.append(
            Segment(
                valid_from=piece_from,
                valid_to=piece_to,
                state=state,
                authorised=authorised,
                accounted=unaccounted_reason(state, ref, piece_from) is None,
                event_ids=tuple(ids) if j == 0 else (),
                custody_event_ids=tuple(custody_ids) if j == 0 else (),
                authorisation_event_ids=tuple(dict.fromkeys(changes.get(piece_from, ()))),
            )
        )
    return out


def _segments(steps: Iterable[Step], ref: Reference, until: datetime | None) -> list[Segment]:
    groups: list[Group] = []
    add_to_groups(groups, steps, until)
    return [seg for i in range(len(groups)) for seg in group_segments(groups, i, ref, until)]


def bands_of(segments: Iterable[Segment]) -> list[Band]:
    """Merge segments into maximal custody bands (same custodian, status and mark)."""
    bands: list[Band] = []
    for seg in segments:
        mark = _mark(seg)
        last = bands[-1] if bands else None
        if last is not None and (last.custodian, last.status, last.mark) == (
            seg.state.custodian,
            seg.state.status,
            mark,
        ):
            bands[-1] = replace(last, valid_to=seg.valid_to)
            continue
        opened_by = seg.custody_event_ids + seg.authorisation_event_ids
        bands.append(
            Band(
                custodian=seg.state.custodian,
                status=seg.state.status,
                mark=mark,
                valid_from=seg.valid_from,
                valid_to=seg.valid_to,
                opened_by=opened_by or seg.event_ids,
            )
        )
    return bands


def unaccounted_of(segments: Iterable[Segment]) -> list[Interval]:
    """Merge segments into maximal not-accounted-for intervals."""
    out: list[Interval] = []
    previous_accounted = True
    for seg in segments:
        if seg.accounted:
            previous_accounted = True
            continue
        if not previous_accounted and out:
            out[-1] = replace(out[-1], valid_to=seg.valid_to)
        else:
            out.append(
                Interval(
                    valid_from=seg.valid_from,
                    valid_to=seg.valid_to,
                    opened_by=seg.event_ids + seg.authorisation_event_ids,
                )
            )
        previous_accounted = False
    return out


class History:
    """Derived state over a log, for any valid time ``t`` and knowledge time ``k``.

    ``k`` is ``None`` for all knowledge (hindsight). Each knowledge cut is folded once
    per asset and cached; a ``History`` is for one log — build another when the log
    grows.
    """

    def __init__(self, logged: Log | Iterable[Logged | Event]) -> None:
        self.log = logged if isinstance(logged, Log) else Log(logged)
        self._refs: dict[int, Reference] = {}
        self._tracks: dict[tuple[int, str], _Track] = {}

    def grow(self, new: Sequence[Event]) -> None:
        """Continue over the log extended by ``new`` (:meth:`Log.extend`): answers
        about earlier knowledge cuts stay valid; the per-asset folds are dropped, so a
        walk through knowledge time does not keep one per cut."""
        self.log.extend(new)
        self._tracks.clear()

    # -- knowledge -----------------------------------------------------------------

    def known(self, k: datetime | None) -> EffectiveLog:
        return self.log.at(k)

    def reference(self, k: datetime | None) -> Reference:
        n = self.log.cut(k)
        ref = self._refs.get(n)
        if ref is None:
            ref = Reference.build(self.log.reference_events(k))
            self._refs[n] = ref
        return ref

    def asset_ids(self, k: datetime | None, contract_id: str | None = None) -> tuple[str, ...]:
        """Assets with an effective registration known at k, optionally of a contract."""
        out: dict[str, None] = {}
        for e in self.known(k).of_type(EventType.ASSET_REGISTERED):
            if contract_id is None or e.text("contract_id") == contract_id:
                out.update(dict.fromkeys(e.subjects))
        return tuple(out)

    def _track(self, asset_id: str, k: datetime | None) -> _Track:
        key = (self.log.cut(k), asset_id)
        track = self._tracks.get(key)
        if track is None:
            ref = self.reference(k)
            steps: list[Step] = []
            state: AssetState | None = None
            for e in self.log.of_asset(asset_id, k):
                after = apply(state, e, ref, asset_id)
                steps.append(Step(e, state, after))
                state = after
            track = _Track(
                steps=tuple(steps),
                occurred=tuple(s.event.occurred_at for s in steps),
                keys=tuple(s.event.world_key for s in steps),
            )
            self._tracks[key] = track
        return track

    def steps(self, asset_id: str, k: datetime | None) -> tuple[Step, ...]:
        """Every effective event of the asset in world order, with the state around it."""
        return self._track(asset_id, k).steps

    # -- state ---------------------------------------------------------------------

    def state(self, asset_id: str, t: datetime, k: datetime | None) -> AssetState | None:
        """The fold of the asset's effective events with ``occurred_at ≤ t``."""
        track = self._track(asset_id, k)
        i = bisect_right(track.occurred, t)
        return track.steps[i - 1].after if i else None

    def prior(self, asset_id: str, e: Event | str, k: datetime | None) -> AssetState | None:
        """The state just before ``e`` in world order, computed without ``e``.

        Given an id, the event's effective version at k is used (else as recorded).
        """
        if isinstance(e, str):
            recorded = self.log.get(e)
            if recorded is None:
                raise KeyError(e)
            e = self.log.version(recorded, k) or recorded
        track = self._track(asset_id, k)
        i = bisect_left(track.keys, e.world_key)
        return track.steps[i - 1].after if i else None

    def accounted(self, asset_id: str, t: datetime, k: datetime | None) -> bool:
        """DOMAIN.md §4; an asset with no state at t (not yet registered) is not."""
        return self.unaccounted_reason(asset_id, t, k) is None

    def unaccounted_reason(
        self, asset_id: str, t: datetime, k: datetime | None
    ) -> Unaccounted | None:
        return unaccounted_reason(self.state(asset_id, t, k), self.reference(k), t)

    # -- intervals -----------------------------------------------------------------

    def segments(
        self, asset_id: str, k: datetime | None, until: datetime | None = None
    ) -> tuple[Segment, ...]:
        """Contiguous pieces of constant state and authorisation, from registration on.

        Only events and authorisation changes at or before ``until`` are considered
        (``None``: all); the last piece is open (``valid_to`` ``None``).
        """
        return tuple(_segments(self._track(asset_id, k).steps, self.reference(k), until))

    def custody_bands(
        self, asset_id: str, k: datetime | None, until: datetime | None = None
    ) -> tuple[Band, ...]:
        """Maximal custody intervals as known at k, split where authorisation changes;
        the last band is open (``valid_to`` ``None``)."""
        return tuple(bands_of(self.segments(asset_id, k, until)))

    def accounted_intervals(
        self, asset_id: str, k: datetime | None, until: datetime | None = None
    ) -> tuple[Interval, ...]:
        """Maximal not-accounted-for intervals since registration; ``valid_to`` is
        ``None`` for one still open at ``until``."""
        return tuple(unaccounted_of(self.segments(asset_id, k, until)))
