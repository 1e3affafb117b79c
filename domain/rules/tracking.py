"""Findings in knowledge time: what the ledger implied at each knowledge cut, and the
life of every finding it ever implied (DOMAIN.md §5) — when it was detected, how it
changed, when and why it was cleared, and its latest disposition.

:func:`life` walks the distinct knowledge instants (``reported_at`` values) in
order, re-evaluating only the affected scopes at each, and feeds a
:class:`LifeTracker`. A finding is *visible* at knowledge time τ when the knowledge
at τ implies it and τ ≥ its ``valid_from`` as then known; its life is the record of
its visibility:

* ``detected_at`` = the first τ at which it is visible, that is
  ``max(first knowledge instant implying it, valid_from)`` — a state interval that
  starts in the future of the knowledge (R03 at ``s + 30 d`` for a loss reported at
  ``s``) is detected when time reaches ``valid_from``. Knowledge is constant between
  knowledge instants, so the instants to consider are the knowledge instants and
  those ``valid_from`` instants; nothing else can change visibility. A finding whose
  implication is withdrawn before its ``valid_from`` arrives was never detected and
  has no life. One implied when the log ends with a future ``valid_from`` has a
  provisional ``detected_at`` in the future: a "known then" view before it omits it.
* ``cleared_at`` = the knowledge instant at which a visible finding stops being
  implied (or its ``valid_from`` moves into the future of that instant). The reason,
  in this order: ``voided_trigger_retracted`` when that instant retracted its trigger
  (event and discrepancy findings) or an event of its evidence (state findings: the
  events that opened and closed the interval); ``voided_trigger_corrected`` likewise
  for a correction, or for the retraction of a correction, of such an event;
  ``superseded`` when a finding of the same rule and scope now covers part of the
  period the old one had flagged so far (``[valid_from, min(valid_to, τ))``) — the
  interval moved — or when its ``valid_from`` moved into the future; otherwise
  ``resolved``: the period it flagged is now known to be clean.
* A finding cleared and later implied again is visible again from then: its
  ``detected_at`` stays the first detection and ``cleared_at`` is empty while it is
  visible. :class:`~domain.rules.lives.FindingLife` keeps every change.
* A changed interval, severity, summary, parties or evidence of a visible finding is
  a new version, not a clearing; a state finding whose ``valid_to`` is set is history.
* ``disposition`` is the latest effective ``finding_dispositioned`` naming the key, as
  known at the view's knowledge time (latest in knowledge order).

The views over the lives are in :mod:`domain.rules.lives`; following a growing log is
:class:`domain.rules.walk.Walk`.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Protocol

from domain.history import Event, Log
from domain.reference import Reference
from domain.rules.collector import collector_paused
from domain.rules.dispositions import disposition_timelines
from domain.rules.evaluation import Evaluator
from domain.rules.findings import ClearReason, Finding, FindingDisposition, FindingKind
from domain.rules.impact import AMENDMENTS, NOTHING_KNOWN, Impact, ScopeKey
from domain.rules.lives import Change, FindingLife, Lives
from domain.state import History
from domain.vocabulary import REFERENCE_TYPES


@dataclass(frozen=True, slots=True)
class Prefix:
    """The first ``count`` changes of a life, summed up: the last version among them
    (``base``), when the first came (detection) and the last change."""

    count: int = 0
    base: Finding | None = None
    first_at: datetime | None = None
    last: Change | None = None


_NO_PREFIX = Prefix()


class DeferredLives(Protocol):
    """Scopes whose stored lives a seeded tracker reads when it first needs the scope
    (``domain.rules.seeding.Deferred``): no life of them changed after ``k`` but by
    detecting what was pending then. Their findings pending at ``k`` are known from the
    start (:meth:`pending`), and :meth:`lives` leaves them out."""

    def __contains__(self, scope: object) -> bool: ...

    def scopes(self) -> list[ScopeKey]: ...

    def scope_of(self, key: str) -> ScopeKey | None: ...

    def lives(self, scope: ScopeKey) -> dict[str, Prefix]: ...

    def pending(self) -> Iterator[tuple[ScopeKey, str, Finding, Prefix | None]]: ...

    def pending_keys(self, scope: ScopeKey) -> list[str]: ...


class StoredLivesDisagree(ValueError):
    """The stored lives are not those the log implies (:meth:`LifeTracker.seed`): the
    rules changed since they were stored, or the store was altered."""


@dataclass(frozen=True, slots=True)
class Drained:
    """One life's news since the last drain: drop stored changes from ``cut`` on (a
    piece of a knowledge instant was undone), then append ``changes`` as numbers
    ``before.count``, ``before.count + 1``, …; ``before.base`` is the version they
    follow. ``after`` sums up the whole life; ``pending`` is the finding implied with
    a ``valid_from`` still ahead (detected then unless later knowledge says
    otherwise)."""

    key: str
    cut: int | None
    before: Prefix
    changes: tuple[Change, ...]
    after: Prefix
    pending: Finding | None

    @property
    def gone(self) -> bool:
        return self.after.count == 0 and self.pending is None


class LifeTracker:
    """Follows the implied findings from one knowledge instant to the next.

    Feed it, in increasing knowledge order, the re-evaluated scopes at each knowledge
    instant with the :class:`Impact` that caused them (:meth:`advance`); read
    :meth:`lives`. A projection following the log does the same per batch. A batch
    may end in the middle of an instant's events: :meth:`advance` at the same instant
    again takes the rest, and the result is as if the instant had come whole (the
    tracker remembers, for the keys the instant touched, how they stood before it).
    :meth:`take_dirty` tells which keys' lives changed since it was last called.

    A projection that stores lives drains the tracker instead (:meth:`drain`): each
    key's changes since the last drain, then forgotten, so memory holds the current
    findings and not every version of every life; :meth:`lives` then no longer
    answers.
    """

    def __init__(self) -> None:
        self._implied: dict[str, Finding] = {}
        self._scope_keys: dict[ScopeKey, set[str]] = {}
        self._unsettled: dict[ScopeKey, set[str]] = {}
        self._visible: set[str] = set()
        self._pending: list[tuple[datetime, int, str]] = []
        self._seq = 0
        self._changes: dict[str, list[Change]] = {}
        self._drained: dict[str, Prefix] = {}
        self._cuts: dict[str, int] = {}
        self._dirty: set[str] = set()
        # How the keys and scopes the current instant touched stood before it.
        self._undo: dict[str, tuple[Finding | None, bool, Prefix, list[Change], int]] = {}
        # Per scope, the keys the current instant added to and removed from its keys
        # (not a copy of them: a scope's keys grow with its history).
        self._undo_scopes: dict[ScopeKey, tuple[set[str], set[str]]] = {}
        self._retracted: set[str] = set()
        self._corrected: set[str] = set()
        # Scopes seeded from stored lives read when first needed (:meth:`seed`).
        self._deferred: DeferredLives | None = None
        self._undeferred: set[ScopeKey] = set()
        self.k: datetime | None = None

    @property
    def implied(self) -> Mapping[str, Finding]:
        """The findings implied at the last knowledge instant."""
        return self._implied

    @property
    def visible(self) -> frozenset[str]:
        """Keys visible at the last knowledge instant advanced to."""
        return frozenset(self._visible)

    @property
    def deferred(self) -> tuple[frozenset[ScopeKey], frozenset[ScopeKey]]:
        """The scopes seeded from stored lives read when first needed (:meth:`seed`):
        all of them, and those read so far."""
        every = frozenset(self._deferred.scopes()) if self._deferred is not None else frozenset()
        return every, frozenset(self._undeferred)

    def mark(self, key: str) -> None:
        """Count ``key`` as changed (its dispositions did)."""
        if self._deferred is not None and (scope := self._deferred.scope_of(key)) is not None:
            self._undefer(scope)
        self._dirty.add(key)

    def take_dirty(self) -> set[str]:
        """The keys whose life changed since the last call."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    def drain(self) -> list[Drained]:
        """What changed in each life since the last drain, for a store of lives; the
        changes are forgotten here. ``count`` 0 and no ``pending``: the key has no
        life (any stored one must go)."""
        out = []
        for key in sorted(self.take_dirty()):
            done = self._drained.get(key, _NO_PREFIX)
            changes = self._changes.pop(key, [])
            now = self._prefix_after(done, changes)
            f = self._implied.get(key)
            pending = f if f is not None and key not in self._visible else None
            out.append(Drained(key, self._cuts.pop(key, None), done, tuple(changes), now, pending))
            if now.count:
                self._drained[key] = now
            else:
                self._drained.pop(key, None)
        return out

    def seed(
        self,
        k: datetime,
        evaluated: Mapping[ScopeKey, Sequence[Finding]],
        stored: Mapping[str, Prefix],
        deferred: DeferredLives | None = None,
    ) -> None:
        """Stand where a tracker that advanced through every knowledge instant up to
        ``k`` and was drained into a store stands, without the walk: ``evaluated`` is
        every scope's findings at ``k`` (an evaluation of everything at ``k``) and
        ``stored`` each stored life's changes up to ``k``, summed up.

        What the tracker holds between instants is determined by those two: the
        implied findings are the evaluation's; a key is visible when its last stored
        change is a version (which must then be the implied finding); every other
        implied finding is pending (its ``valid_from`` not yet reached).
        :class:`StoredLivesDisagree` when the two disagree (the stored lives are not the
        walk of this log by these rules). ``deferred``: scopes in neither, whose stored
        lives are read — and stood on the same way — when the tracker first needs them
        (a scope judged, a key marked, :meth:`lives`)."""
        if self.k is not None or self._implied or self._drained:
            raise ValueError("only a new tracker is seeded")
        for scope, found in evaluated.items():
            keys = self._scope_keys[scope] = set()
            for f in found:
                keys.add(f.finding_key)
                self._implied[f.finding_key] = f
            stable = getattr(found, "stable", 0)
            self._unsettled[scope] = {f.finding_key for f in found[stable:]}
        for key, prefix in stored.items():
            if not prefix.count:
                continue
            self._drained[key] = prefix
            if prefix.last is not None and prefix.last.finding is not None:
                if self._implied.get(key) != prefix.base:
                    raise StoredLivesDisagree(
                        f"the stored life of {key} is not what the log implies"
                    )
                self._visible.add(key)
        if deferred is not None:
            # A deferred scope's pending findings are followed from the start: each is
            # detected when it comes due without the scope's other lives read.
            for _, key, f, before in deferred.pending():
                self._implied[key] = f
                if before is not None and before.count:
                    self._drained[key] = before
        for key, f in self._implied.items():
            if key in self._visible:
                continue
            if f.valid_from < k:
                raise StoredLivesDisagree(
                    f"{key} is implied since before {k} but was never detected"
                )
            self._push(f)
        self._deferred = deferred
        self.k = k

    def _undefer(self, scope: ScopeKey) -> None:
        """Stand on a deferred scope's stored lives, as :meth:`seed` stands on the others:
        none changed after ``k``, so a key whose last change is a version is implied and
        visible; its pending findings the tracker followed from the start (detected
        since, or not), and they are still implied."""
        if self._deferred is None or scope in self._undeferred or scope not in self._deferred:
            return
        self._undeferred.add(scope)
        keys = self._scope_keys[scope] = set(self._deferred.pending_keys(scope))
        for key, prefix in self._deferred.lives(scope).items():
            self._drained[key] = prefix
            if prefix.last is not None and prefix.last.finding is not None:
                assert prefix.base is not None
                keys.add(key)
                self._implied[key] = prefix.base
                self._visible.add(key)
        self._unsettled[scope] = set(keys)

    @staticmethod
    def _prefix_after(done: Prefix, changes: Sequence[Change]) -> Prefix:
        if not changes:
            return done
        base = next((c.finding for c in reversed(changes) if c.finding is not None), done.base)
        return Prefix(done.count + len(changes), base, done.first_at or changes[0].at, changes[-1])

    def advance(
        self, k: datetime, evaluated: Mapping[ScopeKey, Sequence[Finding]], impact: Impact
    ) -> None:
        if self.k is not None and k < self.k:
            raise ValueError("knowledge instants must not go back")
        reopened = k == self.k
        for scope in evaluated:
            self._undefer(scope)
        why = self._begin_instant(k, evaluated, impact, reopened)
        for scope, found in evaluated.items():
            self._judge_scope(scope, found, k, why, reopened)
        self.k = k

    def _begin_instant(
        self,
        k: datetime,
        evaluated: Mapping[ScopeKey, Sequence[Finding]],
        impact: Impact,
        reopened: bool,
    ) -> Impact:
        """Start instant ``k``, or take it up again when ``reopened``; the impact with
        every retraction and correction the instant has brought so far."""
        if reopened:
            self._reopen(evaluated)
        else:
            self._detect_pending(before=k)
            self._undo, self._undo_scopes = {}, {}
            self._retracted, self._corrected = set(), set()
        self._retracted |= impact.retracted
        self._corrected |= impact.corrected
        return impact.amending(frozenset(self._retracted), frozenset(self._corrected))

    def _judge_scope(
        self,
        scope: ScopeKey,
        found: Sequence[Finding],
        k: datetime,
        why: Impact,
        reopened: bool,
    ) -> None:
        """Compare a scope's findings at ``k`` with those it implied before."""
        keys = self._scope_keys.get(scope)
        kept = getattr(found, "kept", 0) if keys is not None and not reopened else 0
        rest = found[kept:] if kept else found
        new = {f.finding_key: f for f in rest}
        if keys is None:
            keys = self._scope_keys[scope] = set()
        undo = self._undo_scopes.get(scope)
        if undo is None:
            undo = self._undo_scopes[scope] = (set(), set())
        added, removed = undo
        # With ``kept``, the first findings are last evaluation's, unchanged, and
        # only those that were not among the stable ones can have gone.
        gone = (self._unsettled.get(scope, keys) if kept else keys) - new.keys()
        for key in gone:
            self._no_longer_implied(key, found, why, k)
        for key, f in new.items():
            self._implied_now(key, f, k)
        # The keys become ``keys - gone | new``; the instant's changes to them are
        # kept so that they can be undone (``_reopen``).
        for key in gone:
            if key in added:
                added.discard(key)
            else:
                removed.add(key)
        keys -= gone
        for key in new:
            if key not in keys:
                keys.add(key)
                if key in removed:
                    removed.discard(key)
                else:
                    added.add(key)
        stable = getattr(found, "stable", 0)
        self._unsettled[scope] = {f.finding_key for f in found[stable:]}

    def _no_longer_implied(
        self, key: str, found: Sequence[Finding], why: Impact, k: datetime
    ) -> None:
        self._remember(key)
        old = self._implied.pop(key)
        self._dirty.add(key)
        if key in self._visible:
            self._visible.discard(key)
            self._record(key, Change(k, None, _reason(old, found, why, k)))

    def _implied_now(self, key: str, f: Finding, k: datetime) -> None:
        previous = self._implied.get(key)
        if f is previous:
            return
        if previous is not None and f == previous:
            self._implied[key] = f  # the same finding, made again
            return
        self._remember(key)
        self._implied[key] = f
        self._dirty.add(key)
        if key in self._visible:
            if f.valid_from > k:
                self._visible.discard(key)
                self._record(key, Change(k, None, ClearReason.SUPERSEDED))
                self._push(f)
            else:
                self._record(key, Change(k, f))
        elif f.valid_from <= k:
            self._visible.add(key)
            self._record(key, Change(k, f))
        elif previous is None or previous.valid_from != f.valid_from:
            self._push(f)

    def _remember(self, key: str) -> None:
        if key not in self._undo:
            # The prefix is summed up only if it must be restored (rarely): keep the
            # drained summary and the list of changes as they are now.
            changes = self._changes.setdefault(key, [])
            self._undo[key] = (
                self._implied.get(key),
                key in self._visible,
                self._drained.get(key, _NO_PREFIX),
                changes,
                len(changes),
            )

    def _reopen(self, evaluated: Mapping[ScopeKey, Sequence[Finding]]) -> None:
        # Put the evaluated scopes' keys back as they stood before this instant, so
        # that the instant's complete evaluation is judged against that.
        for scope in evaluated:
            delta = self._undo_scopes.pop(scope, None)
            current = self._scope_keys.get(scope, set())
            before = None if delta is None else (current - delta[0]) | delta[1]
            keys = current if delta is None else current | delta[1]
            for key in keys:
                undo = self._undo.pop(key, None)
                if undo is None:
                    continue
                implied, visible, done_then, changes_then, n_then = undo
                count = done_then.count + n_then
                if implied is None:
                    self._implied.pop(key, None)
                else:
                    self._implied[key] = implied
                    if not visible:
                        self._push(implied)
                (self._visible.add if visible else self._visible.discard)(key)
                done = self._drained.get(key, _NO_PREFIX)
                changes = self._changes.get(key)
                if count >= done.count:
                    if changes is not None:
                        del changes[count - done.count :]
                        if not changes:
                            del self._changes[key]
                else:
                    # Changes already drained (stored) are undone: the store drops
                    # them from ``count`` on.
                    self._changes.pop(key, None)
                    self._cuts[key] = min(self._cuts.get(key, count), count)
                    prefix = self._prefix_after(done_then, changes_then[:n_then])
                    if prefix.count:
                        self._drained[key] = prefix
                    else:
                        self._drained.pop(key, None)
                self._dirty.add(key)
            if before is not None:
                self._scope_keys[scope] = before

    def next_due(self) -> datetime | None:
        """The earliest ``valid_from`` of the findings pending (``None``: none): advancing
        to a later instant detects something. An entry may be stale (its finding
        superseded since), so this is never later than the truth."""
        return self._pending[0][0] if self._pending else None

    def _push(self, f: Finding) -> None:
        self._seq += 1
        heapq.heappush(self._pending, (f.valid_from, self._seq, f.finding_key))

    def _record(self, key: str, change: Change) -> None:
        self._changes.setdefault(key, []).append(change)
        self._dirty.add(key)

    def _detect_pending(self, before: datetime) -> None:
        # Knowledge is constant until ``before``: a pending finding becomes visible at
        # its own valid_from, with the content the last cut gave it.
        while self._pending and self._pending[0][0] < before:
            at, _, key = heapq.heappop(self._pending)
            f = self._implied.get(key)
            if f is None or key in self._visible or f.valid_from != at:
                continue
            self._visible.add(key)
            self._record(key, Change(at, f))

    def lives(
        self,
        dispositions: Mapping[str, Sequence[tuple[datetime, FindingDisposition | None]]],
        keys: Iterable[str] | None = None,
    ) -> Lives:
        """Every finding ever detected, and those implied with a future ``valid_from``
        (detected then unless later knowledge says otherwise); with ``keys``, only
        those."""
        if self._deferred is not None:
            for scope in self._deferred.scopes():
                self._undefer(scope)
        wanted = set(self._changes) | set(self._implied) if keys is None else set(keys)
        out = []
        for key in wanted:
            changes = list(self._changes.get(key, ()))
            f = self._implied.get(key)
            if f is not None and key not in self._visible:
                changes.append(Change(f.valid_from, f))
            if changes:
                out.append(FindingLife(key, tuple(changes), tuple(dispositions.get(key, ()))))
        return Lives(out)


def _covers_elapsed(new: Finding, old: Finding, k: datetime) -> bool:
    """``new`` overlaps the part of ``old`` that had elapsed at ``k``."""
    end = k if old.valid_to is None else min(old.valid_to, k)
    return new.valid_from < end and (new.valid_to is None or new.valid_to > old.valid_from)


def _reason(old: Finding, now: Sequence[Finding], impact: Impact, k: datetime) -> ClearReason:
    ids: tuple[str, ...]
    if old.kind is FindingKind.STATE:
        ids = old.evidence
    else:
        ids = () if old.trigger_event_id is None else (old.trigger_event_id,)
    if any(i in impact.retracted for i in ids):
        return ClearReason.VOIDED_TRIGGER_RETRACTED
    if any(i in impact.corrected for i in ids):
        return ClearReason.VOIDED_TRIGGER_CORRECTED
    if old.kind is FindingKind.STATE and any(
        f.rule == old.rule and _covers_elapsed(f, old, k) for f in now
    ):
        return ClearReason.SUPERSEDED
    return ClearReason.RESOLVED


def batches(log: Log | Iterable[Event]) -> Iterator[tuple[datetime, list[Event]]]:
    """The events grouped by knowledge instant, in knowledge order."""
    events = log.events if isinstance(log, Log) else log
    ordered = sorted(events, key=lambda e: e.knowledge_key)
    for k, group in groupby(ordered, key=lambda e: e.reported_at):
        yield k, list(group)


def life(history: History, *, contract_id: str | None = None, incremental: bool = True) -> Lives:
    """The life of every finding the log ever implied (of one contract and its assets
    with ``contract_id``). ``incremental=False`` folds every evaluated asset from
    scratch (the reference the tests hold the incremental evaluation to)."""
    walk = ReferenceReuse(history.log)
    ev = Evaluator(walk, contract_id, incremental=incremental)
    tracker = LifeTracker()
    prev = NOTHING_KNOWN
    with collector_paused():
        for k, batch in batches(history.log):
            impact = ev.impact(batch, k, prev)
            tracker.advance(k, ev.run(k, impact), impact)
            prev = k
    return tracker.lives(disposition_timelines(history.log))


class ReferenceReuse(History):
    """A history that builds the reference data only at the knowledge instants that
    change it: between them every cut has the same reference (it depends only on the
    reference events and their retractions and corrections), so a walk over every
    knowledge instant need not rebuild it at each."""

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        changes = {e.reported_at for e in log.events if _about_reference(log, e)}
        self._changes = sorted(changes)

    def grow(self, new: Sequence[Event]) -> None:
        super().grow(new)
        changes = {e.reported_at for e in new if _about_reference(self.log, e)}
        self._changes = sorted({*self._changes, *changes})

    def reference(self, k: datetime | None) -> Reference:
        if k is None:
            return super().reference(None)
        i = bisect_right(self._changes, k)
        return super().reference(self._changes[i - 1] if i else NOTHING_KNOWN)


def _about_reference(log: Log, e: Event) -> bool:
    seen: set[str] = set()
    while e.type in AMENDMENTS and e.event_id not in seen:
        seen.add(e.event_id)
        target = log.get(e.target_event_id or "")
        if target is None:
            return False
        e = target
    return e.type in REFERENCE_TYPES
