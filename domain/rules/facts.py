"""What the rules read of the history (DOMAIN.md §5): the log-wide facts at one
knowledge cut (:class:`CutFacts`), one asset's effective history (:class:`AssetFacts`,
with its :class:`StepIndex`), and one contract's (:class:`ContractFacts`, reading each
asset only through its :class:`AssetPart`).

:func:`asset_facts` and :func:`contract_facts` build them from a
:class:`~domain.state.History` and a knowledge time ``k``. Contract rules read each
asset only through its :class:`AssetPart` (its R03 findings, support and repair events,
registration), so a caller re-evaluating one asset need not fold the others again.

A contract action belongs to ``payload.target_contract_id`` (else the envelope's
``contract_id``): :func:`action_contract`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import count
from typing import Any

from domain.fold import AssetState
from domain.history import Event, WorldKey
from domain.reference import Contract, Reference, Terms
from domain.rules.findings import Finding, asset_of_event_key
from domain.state import History, Segment, Step
from domain.vocabulary import EventType, Status

REPAIRS = frozenset({EventType.REPAIR_STARTED, EventType.REPAIR_COMPLETED})


_SERIALS = count(1)
_LINKS_FOLLOWED = 256  # rebuilds remembered: from further back, every inventory is judged


@dataclass(frozen=True, slots=True)
class CutFacts:
    """Log-wide facts at one knowledge cut that single-asset and contract rules need:
    the effective registrations (first per asset in world order), inventories (with
    the assets each concerns and an index from scope party to inventories), contract
    actions per contract and dispositions per finding key (and per asset, for its event
    findings), in world order."""

    registrations: Mapping[str, Event]
    inventories: tuple[Event, ...]
    inventory_subjects: tuple[frozenset[str], ...]
    inventory_scopes: tuple[frozenset[str], ...]
    inventory_keys: tuple[WorldKey, ...]  # each inventory's world key, for bisecting
    inventories_by_scope: Mapping[str, tuple[int, ...]]
    actions: Mapping[str, tuple[Event, ...]]
    dispositions: Mapping[str, tuple[Event, ...]]
    asset_dispositions: Mapping[str, tuple[Event, ...]]
    # Which ``inventories`` these are: a number of their own per rebuild, and (shared
    # by the cuts :meth:`replaced` derives) what each rebuild added to and removed from
    # the inventories before it (:meth:`inventories_since`).
    inventory_serial: int = field(default_factory=lambda: next(_SERIALS), compare=False)
    _inventory_links: dict[int, tuple[int, tuple[Event, ...], tuple[Event, ...]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _lines: dict[str, tuple[Event, Mapping[str, tuple[str, str | None]]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def of(cls, events: Iterable[Event]) -> CutFacts:
        """From effective events (any types; the rest are skipped)."""
        by_type: dict[EventType, list[Event]] = {t: [] for t in CUT_TYPES}
        for e in events:
            if e.type in by_type:
                by_type[e.type].append(e)
        fields_: dict[str, Any] = {}
        for t, es in by_type.items():
            fields_.update(_CUT_PARTS[t](es))
        return cls(**fields_)

    def replaced(self, type_: EventType, events: Iterable[Event]) -> CutFacts:
        """These facts with the part of one event type rebuilt from ``events``."""
        part = _CUT_PARTS[type_](list(events))
        if type_ is not EventType.INVENTORY_COMPLETED:
            return replace(self, **part)
        return self._with_inventories(part)

    def _with_inventories(
        self, part: dict[str, Any], added: tuple[Event, ...] | None = None
    ) -> CutFacts:
        """These facts with the inventories of ``part``, numbered anew and linked to
        these (:meth:`inventories_since`). ``added``: the versions added, when no
        other changed (else the two are compared)."""
        old, new = self.inventories, part["inventories"]
        if added is None:
            before, now = {id(e) for e in old}, {id(e) for e in new}
            added = tuple(e for e in new if id(e) not in before)
            removed = tuple(e for e in old if id(e) not in now)
        else:
            removed = ()
        serial = next(_SERIALS)
        links = self._inventory_links
        links[serial] = (self.inventory_serial, added, removed)
        while len(links) > _LINKS_FOLLOWED:  # the oldest: a chain reaching them is judged whole
            del links[next(iter(links))]
        return replace(self, **part, inventory_serial=serial)

    def inventories_since(self, serial: int) -> tuple[list[Event], list[Event]] | None:
        """The inventory versions these facts hold and the cut numbered ``serial`` did
        not, and those it held and these do not (a retracted or corrected one); ``None``
        when these facts do not derive from it (or from too far back: judge them all)."""
        chain: list[tuple[int, tuple[Event, ...], tuple[Event, ...]]] = []
        at = self.inventory_serial
        removals = False
        while at != serial:
            link = self._inventory_links.get(at)
            if link is None:
                return None
            chain.append(link)
            removals = removals or bool(link[2])
            at = link[0]
        if not removals:  # additions only (the walk's cut): each version added once
            plain: list[Event] = []
            for _, plus, _ in reversed(chain):
                plain.extend(plus)
            return plain, []
        added: dict[int, Event] = {}
        removed: dict[int, Event] = {}
        for _, plus, minus in reversed(chain):
            for e in minus:
                if added.pop(id(e), None) is None:
                    removed[id(e)] = e
            for e in plus:
                added[id(e)] = e
        return list(added.values()), list(removed.values())

    def registered(self, events: Iterable[Event]) -> CutFacts:
        """These facts with more effective registrations (none of those held changed):
        what :meth:`replaced` gives for them all, without going over every asset. The
        walk's cut takes one asset's registration at a time, so nothing here may cost
        the registrations held (beyond copying the mapping): a contract's assets
        (:meth:`assets_of`) are listed when asked, not kept."""
        registrations: dict[str, Event] | None = None
        for e in _world(events):
            for a in e.subjects:
                old = (self.registrations if registrations is None else registrations).get(a)
                if old is not None and old.world_key <= e.world_key:
                    continue
                if registrations is None:
                    registrations = dict(self.registrations)
                registrations[a] = e
        if registrations is None:
            return self
        return replace(self, registrations=registrations)

    def inventoried(self, events: Iterable[Event]) -> CutFacts:
        """These facts with more effective inventories (none of those held changed):
        what :meth:`replaced` gives for them all, without sorting and indexing every
        inventory again. Each new one goes in at its place in world order, and only
        the indices after it move: most inventories come after those held, or just
        before the last few (a walk takes them one knowledge instant at a time)."""
        new = _world(events)
        if not new:
            return self
        inventories = list(self.inventories)
        subjects = list(self.inventory_subjects)
        scopes = list(self.inventory_scopes)
        keys = list(self.inventory_keys)
        by_scope = dict(self.inventories_by_scope)
        for e in new:
            i = bisect_right(keys, e.world_key)
            subject, scope = _inventory_index(e)
            if i < len(inventories):  # the inventories after it move up one
                for p, at in by_scope.items():
                    if at and at[-1] >= i:
                        j = bisect_left(at, i)
                        by_scope[p] = (*at[:j], *(x + 1 for x in at[j:]))
            inventories.insert(i, e)
            keys.insert(i, e.world_key)
            subjects.insert(i, subject)
            scopes.insert(i, scope)
            for p in scope:
                at = by_scope.get(p, ())
                j = bisect_left(at, i)
                by_scope[p] = (*at[:j], i, *at[j:])
        return self._with_inventories(
            {
                "inventories": tuple(inventories),
                "inventory_subjects": tuple(subjects),
                "inventory_scopes": tuple(scopes),
                "inventory_keys": tuple(keys),
                "inventories_by_scope": by_scope,
            },
            tuple(new),
        )

    def inventory_line(self, e: Event, asset_id: str) -> tuple[str, str | None] | None:
        """The result line of ``asset_id`` in inventory ``e``, parsed once per version
        of the inventory (the cache is shared by the cuts :meth:`replaced` derives)."""
        lines = self._lines.get(e.event_id)
        if lines is None or lines[0] is not e:
            lines = (e, e.inventory_results())
            self._lines[e.event_id] = lines
        return lines[1].get(asset_id)

    def contract_of(self, asset_id: str) -> str | None:
        reg = self.registrations.get(asset_id)
        return None if reg is None else registration_contract(reg)

    def assets_of(self, contract_id: str) -> tuple[str, ...]:
        """The assets registered under ``contract_id``, sorted (for a whole contract's
        report or view: it goes over every registration)."""
        return tuple(
            sorted(
                a
                for a, e in self.registrations.items()
                if (registration_contract(e) or "") == contract_id
            )
        )


def registration_contract(e: Event) -> str | None:
    return e.text("contract_id") or e.contract_id


def action_contract(e: Event) -> str:
    return e.text("target_contract_id") or e.contract_id or ""


def _world(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=_world_key_of)


def _world_key_of(e: Event) -> WorldKey:
    return e.world_key


def _registrations_part(events: Iterable[Event]) -> dict[str, Any]:
    registrations: dict[str, Event] = {}
    for e in _world(events):
        for a in e.subjects:
            registrations.setdefault(a, e)
    return {"registrations": registrations}


def _inventories_part(events: Iterable[Event]) -> dict[str, Any]:
    inventories = _world(events)
    by_scope: dict[str, list[int]] = {}
    indexed = [_inventory_index(e) for e in inventories]
    for i, (_, scopes) in enumerate(indexed):
        for p in scopes:
            by_scope.setdefault(p, []).append(i)
    return {
        "inventories": tuple(inventories),
        "inventory_subjects": tuple(subjects for subjects, _ in indexed),
        "inventory_scopes": tuple(scopes for _, scopes in indexed),
        "inventory_keys": tuple(e.world_key for e in inventories),
        "inventories_by_scope": {p: tuple(v) for p, v in by_scope.items()},
    }


def _inventory_index(e: Event) -> tuple[frozenset[str], frozenset[str]]:
    # Kept on the event version: parsing the result lines of every inventory at every
    # knowledge cut is what a walk over knowledge time would otherwise spend. Not in a
    # cache keyed by equal events: the walks of one worker (partitions, the contract
    # level) hold equal copies of each event, and comparing two copies of an inventory
    # compares every result line.
    return e.inventory_index()


def _actions_part(events: Iterable[Event]) -> dict[str, Any]:
    actions: dict[str, list[Event]] = {}
    for e in _world(events):
        actions.setdefault(action_contract(e), []).append(e)
    return {"actions": {c: tuple(v) for c, v in actions.items()}}


def _dispositions_part(events: Iterable[Event]) -> dict[str, Any]:
    dispositions: dict[str, list[Event]] = {}
    for e in _world(events):
        dispositions.setdefault(e.text("finding_key") or "", []).append(e)
    # Per asset, the dispositions of its event findings (what R16 reads), so that one
    # asset's evaluation is built again only when its own change.
    by_asset: dict[str, list[Event]] = {}
    for key in sorted(dispositions):
        if (asset := asset_of_event_key(key)) is not None:
            by_asset.setdefault(asset, []).extend(dispositions[key])
    return {
        "dispositions": {k: tuple(v) for k, v in dispositions.items()},
        "asset_dispositions": {a: tuple(v) for a, v in by_asset.items()},
    }


_CUT_PARTS: Mapping[EventType, Callable[[Iterable[Event]], dict[str, Any]]] = {
    EventType.ASSET_REGISTERED: _registrations_part,
    EventType.INVENTORY_COMPLETED: _inventories_part,
    EventType.CONTRACT_ACTION: _actions_part,
    EventType.FINDING_DISPOSITIONED: _dispositions_part,
}


CUT_TYPES: frozenset[EventType] = frozenset(_CUT_PARTS)
"""The event types whose effective lists :class:`CutFacts` holds."""


class StepIndex:
    """What the interval rules read of an asset's steps besides its segments: which
    event set each ``last_verified_at`` and ``partner_entry_at`` (R13), the custodians
    it had and its inventory steps (R14), its work orders (R12). Built one step at a
    time, so an evaluation that appends steps extends it (:meth:`add`)."""

    __slots__ = (
        "_holder",
        "_open",
        "custodians",
        "entered_by",
        "holders",
        "inventories",
        "orders",
        "rewrites",
        "verified_by",
    )

    def __init__(self) -> None:
        self.verified_by: dict[datetime, str] = {}
        self.entered_by: dict[datetime, str] = {}
        # How many times a step set one of those values again, naming another event
        # (what R13 read of them before may have changed: see domain.rules.resume).
        self.rewrites = 0
        self.custodians: set[str] = set()
        self.inventories: list[int] = []
        # (work order, opening event, closing event or None)
        self.orders: list[tuple[str, Event, Event | None]] = []
        self._open: str | None = None
        # The steps at which the custodian R14 reads (``custodian_in`` the state after
        # the step) is another than after the step before: the first of each run.
        self.holders: list[int] = []
        self._holder: str | None = None

    @classmethod
    def of(cls, steps: Sequence[Step]) -> StepIndex:
        index = cls()
        index.add(steps, 0)
        return index

    def add(self, steps: Sequence[Step], start: int) -> None:
        """Index ``steps[start:]`` (the earlier ones are indexed already)."""
        for i in range(start, len(steps)):
            step = steps[i]
            e, b, a = step.event, step.before, step.after
            if e.type is EventType.INVENTORY_COMPLETED:
                self.inventories.append(i)
            holder = custodian_in(a)
            if not self.holders or holder != self._holder:
                self.holders.append(i)
                self._holder = holder
            if a is None:
                continue
            if a.custodian:
                self.custodians.add(a.custodian)
            if a.last_verified_at is not None and (
                b is None or b.last_verified_at != a.last_verified_at
            ):
                self._set(self.verified_by, a.last_verified_at, e.event_id)
            if a.partner_entry_at is not None and (
                b is None or b.partner_entry_at != a.partner_entry_at
            ):
                self._set(self.entered_by, a.partner_entry_at, e.event_id)
            wo = None if a.terminal else a.open_work_order
            if wo == self._open:
                continue
            if self._open is not None:
                name, opened, _ = self.orders[-1]
                self.orders[-1] = (name, opened, e)
            if wo is not None and e.type is EventType.REPAIR_STARTED:
                self.orders.append((wo, e, None))
                self._open = wo
            else:
                self._open = None

    def inserted(self, at: int) -> None:
        """A step that changes no state was put at ``at`` (not the first): the
        indices from it on move by one; it is no inventory and begins no run of one
        custodian (its state is the step's before it), and sets nothing else here."""
        self.inventories = [i + (i >= at) for i in self.inventories]
        self.holders = [i + (i >= at) for i in self.holders]

    def _set(self, by: dict[datetime, str], at: datetime, event_id: str) -> None:
        if by.setdefault(at, event_id) != event_id:
            by[at] = event_id
            self.rewrites += 1


@dataclass(frozen=True, slots=True, init=False)
class AssetFacts:
    """One asset's effective history at one knowledge cut. ``index`` may come
    precomputed with the steps (an incremental evaluation keeps one); else it is
    built from them."""

    asset_id: str
    contract_id: str | None
    ref: Reference
    terms: Terms
    # Lists: an ``AssetMemo`` hands over its own, changed only at its next evaluation,
    # when these facts are gone (a copy at every evaluation: docs/decisions/0034).
    steps: list[Step]
    segments: list[Segment]
    cut: CutFacts
    keys: list[WorldKey] = field(repr=False)  # the steps' world keys, for bisection
    given_index: StepIndex | None = field(default=None, repr=False, compare=False)

    # Written out (``init=False``): mypyc compiles it, where the one ``dataclass``
    # generates runs as Python (docs/decisions/0028; tests/unit/test_inits.py).
    def __init__(
        self,
        asset_id: str,
        contract_id: str | None,
        ref: Reference,
        terms: Terms,
        steps: list[Step],
        segments: list[Segment],
        cut: CutFacts,
        keys: list[WorldKey],
        given_index: StepIndex | None = None,
    ) -> None:
        object.__setattr__(self, "asset_id", asset_id)
        object.__setattr__(self, "contract_id", contract_id)
        object.__setattr__(self, "ref", ref)
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "cut", cut)
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "given_index", given_index)

    @property
    def index(self) -> StepIndex:
        return StepIndex.of(self.steps) if self.given_index is None else self.given_index


def asset_facts(history: History, asset_id: str, k: datetime | None, cut: CutFacts) -> AssetFacts:
    ref = history.reference(k)
    contract_id = cut.contract_of(asset_id)
    steps = list(history.steps(asset_id, k))
    return AssetFacts(
        asset_id=asset_id,
        contract_id=contract_id,
        ref=ref,
        terms=ref.terms(contract_id),
        steps=steps,
        segments=list(history.segments(asset_id, k)),
        cut=cut,
        keys=[s.event.world_key for s in steps],
    )


@dataclass(frozen=True, slots=True, init=False)
class AssetPart:
    """What the contract rules read of one asset: its R03 findings, its support and
    repair events, and its registration."""

    asset_id: str
    unaccounted: tuple[Finding, ...]
    support: tuple[Event, ...]
    registration: Event | None

    # Written out (``init=False``): mypyc compiles it, where the one ``dataclass``
    # generates runs as Python (docs/decisions/0028; tests/unit/test_inits.py).
    def __init__(
        self,
        asset_id: str,
        unaccounted: tuple[Finding, ...],
        support: tuple[Event, ...],
        registration: Event | None,
    ) -> None:
        object.__setattr__(self, "asset_id", asset_id)
        object.__setattr__(self, "unaccounted", unaccounted)
        object.__setattr__(self, "support", support)
        object.__setattr__(self, "registration", registration)


def asset_part(facts: AssetFacts, r03: Sequence[Finding]) -> AssetPart:
    registration = next(
        (s.event for s in facts.steps if s.event.type is EventType.ASSET_REGISTERED and s.applied),
        None,
    )
    return AssetPart(
        asset_id=facts.asset_id,
        unaccounted=tuple(r03),
        support=tuple(
            s.event
            for s in facts.steps
            if s.event.type is EventType.SUPPORT_PROVIDED or s.event.type in REPAIRS
        ),
        registration=registration,
    )


@dataclass(frozen=True, slots=True, init=False)
class ContractFacts:
    """One contract at one knowledge cut: its reference data, its effective contract
    actions in world order, and the parts of (some of) its assets."""

    contract_id: str
    contract: Contract | None
    ref: Reference
    terms: Terms
    actions: tuple[Event, ...]
    assets: tuple[AssetPart, ...]

    # Written out (``init=False``): mypyc compiles it, where the one ``dataclass``
    # generates runs as Python (docs/decisions/0028; tests/unit/test_inits.py).
    def __init__(
        self,
        contract_id: str,
        contract: Contract | None,
        ref: Reference,
        terms: Terms,
        actions: tuple[Event, ...],
        assets: tuple[AssetPart, ...],
    ) -> None:
        object.__setattr__(self, "contract_id", contract_id)
        object.__setattr__(self, "contract", contract)
        object.__setattr__(self, "ref", ref)
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "actions", actions)
        object.__setattr__(self, "assets", assets)


def contract_facts(
    contract_id: str, ref: Reference, cut: CutFacts, parts: Iterable[AssetPart]
) -> ContractFacts:
    return ContractFacts(
        contract_id=contract_id,
        contract=ref.contract(contract_id),
        ref=ref,
        terms=ref.terms(contract_id),
        actions=cut.actions.get(contract_id, ()),
        assets=tuple(sorted(parts, key=lambda p: p.asset_id)),
    )


# -- reading an asset's segments -------------------------------------------------------


def custodian_in(s: AssetState | None) -> str | None:
    """The custodian in a state, ``None`` without one (or before registration). A
    wreck moved by a transfer has one (DOMAIN.md §5 "Readings"): the rules that read
    "the prior custodian" (R02, R06, R14) read it; R04 asks for IN_CUSTODY itself."""
    if s is None or (s.status is not Status.IN_CUSTODY and not s.terminal):
        return None
    return s.custodian


Run = tuple[object, int, int]
"""A maximal run of consecutive segments with the same key: ``(key, first, last)``."""


def runs_of(segments: Sequence[Segment], key: Callable[[Segment], object | None]) -> list[Run]:
    """Maximal runs of consecutive segments with the same non-``None`` key:
    ``(key, first index, last index)``."""
    return runs_in([key(seg) for seg in segments])


def runs_in(keys: Sequence[object | None], start: int = 0) -> list[Run]:
    """:func:`runs_of` over the segments' keys, from index ``start`` on (a segment that
    no run from before it continues: the first of a run, or one without a key)."""
    out: list[Run] = []
    for i in range(start, len(keys)):
        k = keys[i]
        if k is None:
            continue
        if out and out[-1][0] == k and out[-1][2] == i - 1:
            out[-1] = (k, out[-1][1], i)
        else:
            out.append((k, i, i))
    return out


SegmentKey = Callable[["AssetFacts", Segment], object | None]
"""What an interval rule groups segments by (``None``: the segment is in no run)."""

RunPiece = Callable[["AssetFacts", object, int, int], Finding | None]
"""The finding an interval rule makes of one run ``(key, first, last)``, if any."""


def run_pieces(f: AssetFacts, key: SegmentKey, piece: RunPiece) -> list[Finding]:
    """The findings of every run of the asset's segments, in order."""
    segs = f.segments
    runs = runs_in([key(f, seg) for seg in segs])
    return [p for k, first, last in runs if (p := piece(f, k, first, last)) is not None]


def opening_events(seg: Segment) -> tuple[str, ...]:
    return seg.custody_event_ids + seg.authorisation_event_ids or seg.event_ids


def closing_events(segments: Sequence[Segment], last: int) -> tuple[str, ...]:
    return opening_events(segments[last + 1]) if last + 1 < len(segments) else ()
