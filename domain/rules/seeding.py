"""What a walk resumed without reading the whole log stands on
(:meth:`~domain.rules.walk.Walk.resume_lazily`): the events every asset's rules read
(:func:`held`), and the findings implied at the last complete knowledge instant,
recovered from the stored lives (:func:`implied_then`).

A walk that resumes this way holds the log-wide facts — reference data,
registrations, inventories, contract actions, dispositions, every retraction and
correction and what they amend: about 2 % of a realistic ledger — and loads an asset's
own events when it first needs them. Its tracker stands on the stored lives, so that a
restart costs what the store holds, not what the log holds. Each asset's first
evaluation is held to the findings stored for it (decision 0016).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from domain.history import Event
from domain.rules.facts import CUT_TYPES
from domain.rules.findings import Finding
from domain.rules.impact import AMENDMENTS, ScopeKey, scope_of
from domain.rules.lives import Change
from domain.rules.tracking import Prefix, StoredLivesDisagree
from domain.vocabulary import REFERENCE_TYPES, EventType

HELD_TYPES: frozenset[EventType] = CUT_TYPES | REFERENCE_TYPES | AMENDMENTS
"""The event types a lazily resumed walk holds from the start (with the targets of
the amendments): what an asset's rules read beyond its own events, and what the walk
needs to know of every retraction and correction."""


def held(events: Iterable[Event]) -> list[Event]:
    """The events of ``events`` a lazily resumed walk holds from the start: those of
    :data:`HELD_TYPES` and every event one of them amends, in the order given."""
    events = list(events)
    targets = {e.target_event_id for e in events if e.type in AMENDMENTS}
    return [e for e in events if e.type in HELD_TYPES or e.event_id in targets]


class StoredScopes(Protocol):
    """Where :class:`Deferred` reads the stored lives of a scope when it is needed."""

    def lives(self, scope: ScopeKey) -> dict[str, Prefix]:
        """The scope's stored lives with changes (none after ``k``), each summed up."""
        ...

    def scope_of(self, key: str) -> ScopeKey | None:
        """The scope of the stored life ``key`` (``None``: none is stored)."""
        ...


class Deferred:
    """The asset scopes whose stored lives a lazily resumed walk reads only when it
    first needs the scope (:meth:`lives`, from ``store``): those whose every life is
    :func:`deferrable`, so that what the scope implied at ``k`` is its lives' visible
    versions and its pending findings. A restart then reads the lives of the scopes it
    touches, not every stored one. Read at once, per deferred scope: ``pending``, each
    finding pending at ``k`` (:func:`pending_then`) with its stored life up to ``k``
    summed up (``None``: no change then) — the tracker detects it when it comes due
    without the scope's other lives; ``unaccounted``, per asset, its ``R03`` findings
    implied at ``k``, visible or pending (the contract level judges C01–C03 from
    them)."""

    def __init__(
        self,
        scopes: Iterable[ScopeKey],
        store: StoredScopes,
        unaccounted: Mapping[str, Sequence[Finding]],
        pending: Mapping[ScopeKey, Mapping[str, tuple[Finding, Prefix | None]]] | None = None,
    ) -> None:
        self._scopes = set(scopes)
        self._store = store
        self._lives: dict[ScopeKey, dict[str, Prefix]] = {}
        self.unaccounted = unaccounted
        self._pending = {s: dict(p) for s, p in (pending or {}).items() if s in self._scopes}

    def __contains__(self, scope: object) -> bool:
        return scope in self._scopes

    def __len__(self) -> int:
        return len(self._scopes)

    def scopes(self) -> list[ScopeKey]:
        return sorted(self._scopes)

    def scope_of(self, key: str) -> ScopeKey | None:
        """The deferred scope of the stored life ``key``, if it is one's."""
        scope = self._store.scope_of(key)
        return scope if scope in self._scopes else None

    def lives(self, scope: ScopeKey) -> dict[str, Prefix]:
        """The scope's stored lives up to ``k``, summed up (read the first time), but
        for its pending findings' (:meth:`pending`), which the tracker follows from
        the start."""
        lives = self._lives.get(scope)
        if lives is None:
            skip = self._pending.get(scope, {})
            read = self._store.lives(scope)
            lives = self._lives[scope] = {k: p for k, p in read.items() if k not in skip}
        return lives

    def pending(self) -> Iterator[tuple[ScopeKey, str, Finding, Prefix | None]]:
        """Each pending finding of a deferred scope: its scope, key, the finding and
        its stored life up to ``k``, summed up (``None``: none)."""
        for scope, found in sorted(self._pending.items()):
            for key, (f, prefix) in sorted(found.items()):
                yield scope, key, f, prefix

    def pending_keys(self, scope: ScopeKey) -> list[str]:
        return sorted(self._pending.get(scope, ()))

    def found(self, scope: ScopeKey) -> tuple[Finding, ...]:
        """What the scope implied at ``k``: its visible findings and its pending ones."""
        visible = (
            p.base
            for p in self.lives(scope).values()
            if p.base is not None and p.last is not None and p.last.finding is not None
        )
        return (*visible, *(f for f, _ in self._pending.get(scope, {}).values()))


def deferrable(last: datetime, first_later: Change | None) -> bool:
    """Whether a stored life lets its scope be deferred (:class:`Deferred`): what it
    implied at ``k`` is read from its row and its first change after ``k``, not from
    its other changes. So it is when it has no change after ``k`` (it implied its
    visible version or its pending finding), or when the first is a detection before
    the last instant ``last`` (the finding was pending at ``k``: :func:`implied_then`),
    which the walk, fed that instant again, makes again. A life the last instant
    changed is read whole, with its scope."""
    return first_later is None or (first_later.finding is not None and first_later.at < last)


def pending_then(
    last: datetime, prefix: Prefix | None, first_later: Change | None, pending: Finding | None
) -> Finding | None:
    """The finding a stored life had pending at ``k`` (implied, not yet visible;
    ``None``: none), of a life :func:`deferrable`."""
    visible = prefix is not None and prefix.last is not None and prefix.last.finding is not None
    return None if visible else implied_then(last, prefix, first_later, pending)


@dataclass(frozen=True)
class Seeding:
    """What :meth:`~domain.rules.walk.Walk.resume_lazily` stands on, read from a store
    of lives and of events.

    ``k``: the last complete knowledge instant the stored lives were walked to
    (``None``: nothing is stored before the last instant). ``held``: the stored events known at ``k`` that the walk holds from the
    start (:func:`held`), in knowledge order; ``end``: the last stored position known
    at ``k``; ``tail``: the events of the last instant, which the walk is fed again.
    ``found``: per scope, the findings implied at ``k`` (:func:`implied_then`);
    ``prefixes``: each stored life's changes up to ``k``, summed up; ``held_by``: per
    party, the assets it was ever found to hold
    (:meth:`~domain.rules.evaluation.Evaluator.take_holders`). ``deferred``: asset
    scopes whose lives are read when first needed (:class:`Deferred`), in neither
    ``found`` nor ``prefixes``."""

    k: datetime | None
    held: Sequence[Event]
    end: int
    tail: Sequence[Event]
    found: Mapping[ScopeKey, Sequence[Finding]]
    prefixes: Mapping[str, Prefix]
    held_by: Mapping[str, Iterable[str]] = field(default_factory=dict)
    deferred: Deferred | None = None


def implied_then(
    last: datetime, prefix: Prefix | None, first_later: Change | None, pending: Finding | None
) -> Finding | None:
    """The finding a stored life's key implied at ``k``, the knowledge instant before
    the last one (``last``) the store was walked to. ``prefix``: its changes up to
    ``k``, summed up; ``first_later``: its first change after ``k``; ``pending``: the
    finding stored as implied but not yet visible when the store was written.

    * A change after ``k`` and before ``last`` is a detection at its ``valid_from``
      (everything else the last instant changed, it changed at ``last``): the finding
      was implied, and pending, at ``k``.
    * Else a finding visible at ``k`` (its last change up to ``k`` is a version) was
      implied at ``k``.
    * Else, with no change after ``k``, the stored pending finding was implied at
      ``k`` — or the last instant implied it, which a resumed walk, fed that instant
      again, tells apart: the instant's evaluation of the scope leaves it as it stands.
    """
    if first_later is not None and first_later.at < last:
        if first_later.finding is None:
            raise StoredLivesDisagree(f"a clearing at {first_later.at} is not of the last instant")
        return first_later.finding
    if prefix is not None and prefix.last is not None and prefix.last.finding is not None:
        return prefix.base
    return pending if first_later is None else None


def by_scope(findings: Iterable[Finding]) -> dict[ScopeKey, list[Finding]]:
    """Findings grouped by the scope that judges them."""
    out: dict[ScopeKey, list[Finding]] = {}
    for f in findings:
        out.setdefault(scope_of(f), []).append(f)
    return out


def hold(scope: ScopeKey, stored: Sequence[Finding], found: Sequence[Finding]) -> None:
    """A scope's findings as stored and as evaluated again must be the same:
    :class:`StoredLivesDisagree` otherwise."""
    if {f.finding_key: f for f in stored} != {f.finding_key: f for f in found}:
        raise StoredLivesDisagree(f"the stored findings of {scope} are not what the log implies")
