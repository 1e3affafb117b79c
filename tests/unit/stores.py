"""The findings projection's store of lives, in memory, for the tests of resumed walks:
each life's changes as drained (:class:`Store`), and what a lazily resumed walk reads
besides (:class:`LazyStore`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from domain.history import Event, StoredEvents
from domain.rules.findings import Finding
from domain.rules.impact import ScopeKey, scope_of
from domain.rules.lives import Change
from domain.rules.seeding import (
    Deferred,
    Seeding,
    by_scope,
    deferrable,
    held,
    implied_then,
    pending_then,
)
from domain.rules.tracking import Drained, Prefix
from domain.rules.walk import Walk


class Store:
    """The findings projection's store in memory: each life's changes, cut and
    appended as drained."""

    def __init__(self) -> None:
        self.changes: dict[str, list[Change]] = {}

    def take(self, drained: Sequence[Drained]) -> None:
        for d in drained:
            if d.gone:
                self.changes.pop(d.key, None)
                continue
            kept = self.changes.get(d.key, [])
            if d.cut is not None:
                kept = kept[: d.cut]
            assert len(kept) == d.before.count, d.key
            self.changes[d.key] = [*kept, *d.changes]

    def upto(self, k: datetime, implied: Mapping[str, Finding]) -> dict[str, Prefix]:
        out = {}
        for key, changes in self.changes.items():
            done = [c for c in changes if c.at <= k]
            assert done == changes[: len(done)], "changes up to k are a prefix"
            if done:
                base = next(c.finding for c in reversed(done) if c.finding is not None)
                out[key] = Prefix(len(done), base, done[0].at, done[-1])
        return out


class LazyStore(Store):
    """The store of lives, with what a lazily resumed walk reads besides: each life's
    pending finding and the assets each party was found to hold."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[str, Finding | None] = {}
        self.holders: dict[str, set[str]] = {}
        self.loaded: list[str] = []

    def keep(self, walk: Walk, drained: Sequence[Drained]) -> None:
        self.take(drained)
        for d in drained:
            if d.gone:
                self.pending.pop(d.key, None)
            else:
                self.pending[d.key] = d.pending
        for party, assets in walk.evaluator.take_holders().items():
            self.holders.setdefault(party, set()).update(assets)

    def seeding(
        self, logged: Sequence[Event], share: Sequence[Event] | None = None, *, defer: bool = False
    ) -> Seeding:
        """What the store and the log up to its end give a lazily resumed walk
        (``share``: the events of the log the walk was fed, a partition's). ``defer``:
        the lives of the asset scopes whose every life is ``deferrable`` are read when
        first needed (:class:`Deferred`; their findings pending at ``k`` at once), as
        the findings projection reads them."""
        last = logged[-1].reported_at
        head = [e for e in logged if e.reported_at < last]
        k = head[-1].reported_at if head else None
        prefixes: dict[str, Prefix] = {}
        implied: list[Finding] = []
        lives: dict[str, tuple[ScopeKey, Prefix | None, Finding | None, bool]] = {}
        pending_of: dict[ScopeKey, dict[str, tuple[Finding, Prefix | None]]] = {}
        for key, changes in self.changes.items():
            done = [c for c in changes if k is not None and c.at <= k]
            later = changes[len(done) :]
            prefix = None
            if done:
                base = next((c.finding for c in reversed(done) if c.finding is not None), None)
                prefix = Prefix(len(done), base, done[0].at, done[-1])
            first, pending = (later[0] if later else None), self.pending.get(key)
            f = implied_then(last, prefix, first, pending)
            one = next((c.finding for c in changes if c.finding is not None), pending)
            assert one is not None
            lives[key] = (scope_of(one), prefix, f, deferrable(last, first))
            waiting = pending_then(last, prefix, first, pending)
            if waiting is not None and deferrable(last, first):
                pending_of.setdefault(scope_of(one), {})[key] = (waiting, prefix)
        deferred = None
        if defer and k is not None:
            eager = {s for s, _, _, ok in lives.values() if s[0] != "asset" or not ok}
            later_scopes = {s for s, _, _, _ in lives.values()} - eager
            deferred = Deferred(
                later_scopes, _InMemory(lives), _unaccounted(lives, later_scopes), pending_of
            )
        for key, (scope, prefix, f, _) in lives.items():
            if deferred is not None and scope in deferred:
                continue
            if prefix is not None:
                prefixes[key] = prefix
            if f is not None and k is not None:
                implied.append(f)
        return Seeding(
            k=k,
            held=held(head),
            end=max((e.position for e in head), default=0),
            tail=[e for e in (logged if share is None else share) if e.reported_at == last],
            found=by_scope(implied),
            prefixes=prefixes,
            held_by={p: set(a) for p, a in self.holders.items()},
            deferred=deferred,
        )

    def loader(self, head: Sequence[Event]) -> StoredEvents:
        store = self

        class Loader:
            def of_asset(self, asset_id: str) -> list[Event]:
                store.loaded.append(asset_id)
                return [e for e in head if asset_id in e.subjects]

            def get(self, event_id: str) -> Event | None:
                return next((e for e in head if e.event_id == event_id), None)

        return Loader()


Lives = dict[str, tuple[ScopeKey, "Prefix | None", "Finding | None", bool]]


class _InMemory:
    """The stored lives of the deferred scopes (``StoredScopes``), from the store."""

    def __init__(self, lives: Lives) -> None:
        self._lives = lives

    def lives(self, scope: ScopeKey) -> dict[str, Prefix]:
        return {
            key: prefix
            for key, (s, prefix, _, _) in self._lives.items()
            if s == scope and prefix is not None
        }

    def scope_of(self, key: str) -> ScopeKey | None:
        found = self._lives.get(key)
        return None if found is None else found[0]


def _unaccounted(lives: Lives, scopes: set[ScopeKey]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for scope, _, f, _ in lives.values():
        if scope in scopes and f is not None and f.rule == "R03":
            out.setdefault(scope[1], []).append(f)
    return out
