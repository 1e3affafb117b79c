"""The derived state of an asset over a history (DOMAIN.md §4): its steps, and the
intervals the state rules are built from. The fold itself is :mod:`domain.fold`.

:class:`History` answers ``state(a, t, k)``, ``prior(a, e, k)`` and
``accounted(a, t, k)`` for any number of ``(t, k)``: for each knowledge cut and asset
it folds once (:func:`domain.fold.apply`), then answers by bisection.
:meth:`History.custody_bands` and :meth:`History.accounted_intervals` give the maximal
intervals R01, R03 and C01 need, split where authorisation changes.

Choices where DOMAIN.md is silent (each is tested):

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

from domain.fold import AssetState, Unaccounted, apply, unaccounted_reason
from domain.history import EffectiveLog, Event, Log, Logged
from domain.reference import Reference
from domain.vocabulary import EventType, Status

# -- steps, segments, bands, intervals -------------------------------------------------


@dataclass(frozen=True, slots=True, init=False)
class Step:
    """One effective event of an asset in world order, with the state around it."""

    event: Event
    before: AssetState | None
    after: AssetState | None

    # Written out (``init=False``): mypyc compiles it, where the one ``dataclass``
    # generates runs as Python (docs/decisions/0028; tests/unit/test_inits.py).
    def __init__(
        self,
        event: Event,
        before: AssetState | None,
        after: AssetState | None,
    ) -> None:
        object.__setattr__(self, "event", event)
        object.__setattr__(self, "before", before)
        object.__setattr__(self, "after", after)

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


@dataclass(frozen=True, slots=True, init=False)
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

    # Written out (``init=False``): mypyc compiles it, where the one ``dataclass``
    # generates runs as Python (docs/decisions/0028; tests/unit/test_inits.py).
    def __init__(
        self,
        valid_from: datetime,
        valid_to: datetime | None,
        state: AssetState,
        authorised: bool | None,
        accounted: bool,
        event_ids: tuple[str, ...],
        custody_event_ids: tuple[str, ...],
        authorisation_event_ids: tuple[str, ...],
    ) -> None:
        object.__setattr__(self, "valid_from", valid_from)
        object.__setattr__(self, "valid_to", valid_to)
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "authorised", authorised)
        object.__setattr__(self, "accounted", accounted)
        object.__setattr__(self, "event_ids", event_ids)
        object.__setattr__(self, "custody_event_ids", custody_event_ids)
        object.__setattr__(self, "authorisation_event_ids", authorisation_event_ids)


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
