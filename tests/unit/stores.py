"""The findings projection's store of lives, in memory, for the tests of resumed walks:
each life's changes as drained (:class:`Store`), and what a lazily resumed walk reads
besides (:class:`LazyStore`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from domain.history import Event, StoredEvents
from domain.rules.findings import Finding
from domain.rules.impact import scope_of
from domain.rules.lives import Change
from domain.rules.seeding import Deferred, Seeding, by_scope, held, implied_then, plain
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
        the plain asset scopes' lives are read when first needed (:class:`Deferred`),
        as the findings projection reads them."""
        last = logged[-1].reported_at
        head = [e for e in logged if e.reported_at < last]
        k = head[-1].reported_at if head else None
        prefixes: dict[str, Prefix] = {}
        implied: list[Finding] = []
        deferred: Deferred[Prefix] | None = Deferred(lambda p: p) if defer and k else None
        for key, changes in self.changes.items():
            done = [c for c in changes if k is not None and c.at <= k]
            later = changes[len(done) :]
            prefix = None
            if done:
                base = next((c.finding for c in reversed(done) if c.finding is not None), None)
                prefix = Prefix(len(done), base, done[0].at, done[-1])
            first, pending = (later[0] if later else None), self.pending.get(key)
            f = implied_then(last, prefix, first, pending)
            now = [(key, prefix)]
            if deferred is not None:
                one = next((c.finding for c in changes if c.finding is not None), pending)
                assert one is not None
                now = deferred.offer(scope_of(one), key, prefix, plain(prefix, first, pending))
                if not now and f is not None and f.rule == "R03" and f.asset_id:
                    deferred.unaccounted.setdefault(f.asset_id, []).append(f)
            for k2, p in now:
                if p is not None:
                    prefixes[k2] = p
                if k2 == key:
                    if f is not None and k is not None:
                        implied.append(f)
                elif p is not None and p.last is not None and p.last.finding is not None:
                    assert p.base is not None
                    implied.append(p.base)  # a plain life offered earlier: implied if visible
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
