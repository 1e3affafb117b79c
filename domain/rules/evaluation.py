"""Evaluating the catalogue at a knowledge time: :func:`findings_at` evaluates every
rule at one knowledge time; :func:`asset_findings` and :func:`contract_findings`
evaluate one asset or one contract; :func:`affected` says which scopes
(:mod:`domain.rules.impact`) a batch of newly known events may change.
:class:`Evaluator` keeps what each asset contributes to its contract, so a contract is
re-judged without folding its other assets again.

A projection following the log keeps one :class:`Evaluator` and one
:class:`~domain.rules.tracking.LifeTracker`. For each new knowledge instant ``k`` (the
events reported at ``k``): ``ev.grow(new)`` once the history has grown
(:meth:`History.grow`), ``impact = ev.impact(batch, k, prev)``, ``scopes = ev.run(k,
impact)`` — the scopes whose rows to replace — and ``tracker.advance(k, scopes,
impact)``. Events reported before the last instant walked (a historical import) change
the past of the walk: walk again with :func:`~domain.rules.tracking.life`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING

from domain.fold import AssetState
from domain.history import Event
from domain.rules.asked import Asked
from domain.rules.asset_memo import AssetMemo, Evaluated, evaluated
from domain.rules.contract import (
    StateRules,
    contract_state_rules,
)
from domain.rules.facts import (
    CUT_TYPES,
    AssetPart,
    CutFacts,
    contract_facts,
)
from domain.rules.findings import Finding, ordered
from domain.rules.impact import (
    Impact,
    ScopeKey,
    asset_scope,
    contract_scope,
    impact_of,
    previous_instant,
)
from domain.rules.support_delivery import SupportAndDelivery
from domain.state import History
from domain.vocabulary import EventType

if TYPE_CHECKING:  # seeding imports tracking, which imports this module
    from domain.rules.seeding import Deferred

_ADDED_TO_CUT = (EventType.ASSET_REGISTERED, EventType.INVENTORY_COMPLETED)
"""The cut's event types that a batch without amendments adds to it
(:meth:`CutFacts.registered`, :meth:`CutFacts.inventoried`)."""

UnaccountedPart = tuple[str | None, tuple[Finding, ...]]
"""What C01–C03 read of an asset judged by another evaluator: its contract (``None``:
none, or no longer registered) and its R03 findings."""


def affected(history: History, events: Iterable[Event], k: datetime) -> Impact:
    """What the arrival of ``events`` (all reported at ``k``) may change."""
    return Evaluator(history).impact(events, k)


class Evaluator:
    """Evaluates the catalogue over one history at successive knowledge cuts.

    ``contract_id`` limits it to one contract and its assets. It remembers each
    asset's :class:`AssetPart`, and the knowledge time each asset was last evaluated
    at, so :meth:`run` with an :class:`Impact` re-folds only the affected assets,
    re-judges C04/C05 only for them, and re-judges C01–C03 only when an asset's R03
    findings, the contract's actions or the reference data changed. Cuts must be
    visited in increasing knowledge order.
    """

    def __init__(
        self,
        history: History,
        contract_id: str | None = None,
        *,
        incremental: bool = True,
        owns: Callable[[str], bool] | None = None,
        contract_state: bool = True,
        contract_assets: bool = True,
    ) -> None:
        self.history = history
        self.only = contract_id
        self.incremental = incremental
        # A share of the work (``domain.rules.partitions``): the assets judged here
        # (``None``: every asset), whether C01–C03 are, and C04/C05.
        self.owns = owns
        self.contract_state = contract_state
        self.contract_assets = contract_assets
        # When not ``None``: each asset whose R03 findings or contract changed in the
        # last :meth:`run`, with its contract and R03 findings (what C01–C03 read).
        self.published: dict[str, UnaccountedPart] | None = None
        self._memos: dict[str, AssetMemo] = {}
        log = history.log
        self._typed: dict[EventType, list[Event]] = {t: [] for t in CUT_TYPES}
        for e in log.events:
            if e.type in CUT_TYPES:
                self._typed[e.type].append(e)
        self.cut = CutFacts.of(())
        # Registrations and inventories logged but not yet in the cut (``refresh``): a
        # batch without amendments adds its own to the cut instead of rebuilding it.
        self._uncut: dict[EventType, list[Event]] = {t: list(self._typed[t]) for t in _ADDED_TO_CUT}
        self._parts: dict[str, AssetPart] = {}
        self._contract_of: dict[str, str | None] = {}
        self._members: dict[str, dict[str, AssetPart]] = {}
        self._judged: dict[str, set[str]] = {}  # contract → assets with a C04/C05 scope
        self._actions_seen: dict[str, tuple[Event, ...]] = {}
        self._state_rules: dict[str, StateRules] = {}  # C01–C03 kept per contract
        # Per contract: the assets whose R03 findings (or contract) changed since its
        # C01–C03 were last judged: all :class:`StateRules` need to be told.
        self._r03_moved: dict[str, set[str]] = {}
        self.evaluated_at: dict[str, datetime | None] = {}
        # Per party, the assets it held in their kept evaluations (incremental only):
        # where an inventory's unnamed assets are looked for.
        self._held_by: dict[str, set[str]] = {}
        # What ``_held_by`` gained since the last :meth:`take_holders`.
        self._holders_new: dict[str, set[str]] = {}
        # Seeded from stored findings (:meth:`seed`): the assets not evaluated since,
        # with their stored findings; the cut they were stored at.
        self._seeded: dict[str, dict[ScopeKey, tuple[Finding, ...]]] = {}
        self._seed_at: tuple[datetime, CutFacts] | None = None
        self._deferred: Deferred | None = None
        self._checks: list[tuple[ScopeKey, tuple[Finding, ...], tuple[Finding, ...]]] = []
        self._unseeded: set[str] = set()  # their next evaluation keeps nothing
        # The questions each kept evaluation asked of the reference data: new reference
        # data judges again only the assets it answers otherwise (incremental only).
        self._asked = Asked()
        self._c04_c05 = SupportAndDelivery(incremental, self._asked)
        self.k: datetime | None = None

    def grow(self, new: Sequence[Event]) -> None:
        """Continue after ``history`` grew by ``new`` (:meth:`History.grow`), all
        reported at or after the last cut :meth:`run` visited."""
        if self.k is not None and any(e.reported_at < self.k for e in new):
            raise ValueError("the log learnt of the past already walked: start again")
        for e in new:
            if e.type in CUT_TYPES:
                self._typed[e.type].append(e)
                if e.type in _ADDED_TO_CUT:
                    self._uncut[e.type].append(e)

    # -- knowledge cuts ----------------------------------------------------------

    def refresh(
        self, k: datetime | None, types: Iterable[EventType] = CUT_TYPES, *, plain: bool = False
    ) -> CutFacts:
        """Bring the log-wide facts to knowledge time ``k`` for the given event types
        (the others must not have changed since the last refresh). ``plain``: no event
        known since the last refresh amends another, so the registrations known then
        stand as they were and only the new registrations and inventories are added."""
        log = self.history.log
        for t in sorted(set(types) & CUT_TYPES):
            if t in _ADDED_TO_CUT:
                uncut = self._uncut[t]
                known = [e for e in uncut if k is None or e.reported_at <= k]
                if known:
                    self._uncut[t] = [e for e in uncut if k is not None and e.reported_at > k]
                if plain:
                    added = [v for e in known if (v := log.version(e, k))]
                    if t is EventType.ASSET_REGISTERED:
                        self.cut = self.cut.registered(added)
                    else:
                        self.cut = self.cut.inventoried(added)
                    continue
            effective = [v for e in self._typed[t] if (v := log.version(e, k))]
            self.cut = self.cut.replaced(t, effective)
        return self.cut

    def _in_contract(self, asset_id: str) -> bool:
        return self.only is None or self.cut.contract_of(asset_id) == self.only

    # -- scopes ------------------------------------------------------------------

    def asset(self, asset_id: str, k: datetime | None) -> tuple[Finding, ...]:
        """The asset's ``R…`` findings at ``k`` (the cut must be at ``k``)."""
        return ordered(self._asset(asset_id, k, None))

    def _asset(
        self, asset_id: str, k: datetime | None, news: Sequence[Event] | None
    ) -> tuple[Finding, ...]:
        old = self._contract_of.pop(asset_id, None)
        self._members.get(old or "", {}).pop(asset_id, None)
        self._parts.pop(asset_id, None)
        if asset_id not in self.cut.registrations or not self._in_contract(asset_id):
            self._memos.pop(asset_id, None)
            return ()
        memo = self._memos.get(asset_id) if self.incremental else None
        memo, facts, kept, still = evaluated(memo, self.history, self.cut, asset_id, k, news)
        if self.incremental:
            self._memos[asset_id] = memo
            self._holders_of(asset_id, memo)
        whole, r03 = memo.whole(facts, still=still)
        if self.incremental:  # after every rule has asked what it asks
            self._asked.note(asset_id, asset_id, memo.reads)
        found = Evaluated([*memo.local, *whole])
        found.kept, found.stable = self._kept(asset_id, kept), len(memo.local)
        part = AssetPart(
            asset_id=asset_id,
            unaccounted=ordered(r03),
            support=tuple(memo.support),
            registration=memo.registered,
        )
        self._parts[asset_id] = part
        self._contract_of[asset_id] = facts.contract_id
        self._members.setdefault(facts.contract_id or "", {})[asset_id] = part
        self.evaluated_at[asset_id] = k
        return found

    def _holders_of(self, asset_id: str, memo: AssetMemo) -> None:
        """Note each party that held the asset in its kept evaluation (``_held_by``,
        where an inventory's unnamed assets are looked for)."""
        for c in memo.index.custodians:
            if asset_id not in (held := self._held_by.setdefault(c, set())):
                held.add(asset_id)
                self._holders_new.setdefault(c, set()).add(asset_id)

    def contract(
        self,
        contract_id: str,
        k: datetime | None,
        *,
        state: bool = True,
        assets: Iterable[str] | None = None,
    ) -> dict[ScopeKey, tuple[Finding, ...]]:
        """The contract's scopes at ``k`` from the parts of its assets: C01–C03 when
        ``state`` (or the actions changed), and C04/C05 of ``assets`` (``None``, or
        changed actions: of every asset)."""
        ref = self.history.reference(k)
        members = self._members.get(contract_id, {})
        actions = self.cut.actions.get(contract_id, ())
        seen = self._actions_seen.get(contract_id)
        moved = seen is not actions and seen != actions
        self._actions_seen[contract_id] = actions
        out: dict[ScopeKey, tuple[Finding, ...]] = {}
        if (state or moved) and self.contract_state:
            moved_parts = self._r03_moved.pop(contract_id, set())
            rules = self._state_rules.get(contract_id) if self.incremental else None
            if rules is not None:
                # Only the parts that changed: the contract's other assets are as the
                # rules hold them (a contract of thousands, one or two change at a time).
                facts = contract_facts(contract_id, ref, self.cut, [])
                now = {a: p.unaccounted if (p := members.get(a)) else () for a in moved_parts}
                out[contract_scope(contract_id)] = ordered(rules.findings(facts, now))
            elif self.incremental:
                facts = contract_facts(
                    contract_id, ref, self.cut, [p for p in members.values() if p.unaccounted]
                )
                rules = self._state_rules[contract_id] = StateRules()
                out[contract_scope(contract_id)] = ordered(rules.findings(facts))
            else:
                facts = contract_facts(
                    contract_id, ref, self.cut, [p for p in members.values() if p.unaccounted]
                )
                out[contract_scope(contract_id)] = ordered(contract_state_rules(facts))
        if not self.contract_assets:
            return out
        judged = self._judged.setdefault(contract_id, set())
        redo = self._c04_c05.redo(contract_id, actions, members, judged, assets, moved)
        for a in sorted(redo):
            if a in self._seeded:
                self._unseed(a)
            part = members.get(a)
            found: tuple[Finding, ...] = ()
            if part is not None:
                found = self._c04_c05.judge(contract_id, ref, self.cut, actions, part)
            if found:
                out[contract_scope(contract_id, a)] = found
                judged.add(a)
            elif a in judged:
                out[contract_scope(contract_id, a)] = ()
                judged.discard(a)
            # else: none now and none before: nothing to judge (most assets, most times)
        return out

    def run(
        self,
        k: datetime | None,
        impact: Impact,
        absorbed: Mapping[str, UnaccountedPart] | None = None,
    ) -> dict[ScopeKey, tuple[Finding, ...]]:
        """Bring the cut to ``k`` and re-evaluate the scopes ``impact`` touches.
        ``absorbed``: the parts other evaluators published at ``k`` (the assets they
        judge), for C01–C03 here."""
        self.refresh(
            k,
            CUT_TYPES if impact.everything else impact.touched,
            plain=impact.news is not None and not impact.everything,
        )
        out: dict[ScopeKey, tuple[Finding, ...]] = {}
        state_dirty: set[str] = set()
        changed: dict[str, set[str]] = {}
        for a in sorted(self._to_judge(k, impact)):
            if a not in self._parts and a not in self.cut.registrations:
                continue
            old = self._last_part(a)
            home = self._contract_of.get(a)
            # No news of the asset in a batch without amendments: it extends by nothing.
            news = None if impact.news is None else impact.news.get(a, ())
            out[asset_scope(a)] = self._asset(a, k, news)
            new = self._parts.get(a)
            homes = {c for c in (home, self._contract_of.get(a)) if c}
            for c in homes:
                changed.setdefault(c, set()).add(a)
            if (old and old.unaccounted) != (new and new.unaccounted) or len(homes) > 1:
                state_dirty |= homes
                self._moved(a, homes)
                if self.published is not None:
                    self.published[a] = (self._contract_of.get(a), new.unaccounted if new else ())
        if absorbed:
            state_dirty |= self._absorb(absorbed)
        contracts = set(changed) | set(impact.contracts) | state_dirty
        if impact.everything or impact.reference:
            contracts |= set(self._actions_seen) | set(self.cut.actions)
            contracts |= {c for c in self._contract_of.values() if c}
        if self.only is not None:
            contracts &= {self.only}
        for c in sorted(c for c in contracts if c):
            out.update(
                self.contract(
                    c,
                    k,
                    state=impact.everything
                    or impact.reference
                    or c in state_dirty
                    or c in impact.contracts,
                    assets=None if impact.everything else changed.get(c, set()),
                )
            )
        if k is not None:
            self.k = k
        self._asked.ref = self.history.reference(k)
        return out

    def _to_judge(self, k: datetime | None, impact: Impact) -> set[str]:
        """The assets of this share ``impact`` asks to judge at ``k``."""
        if impact.everything:
            assets = set(self.cut.registrations) | set(self._parts)
        else:
            assets = set(impact.assets)
            if impact.reference:
                assets |= self._answered_otherwise(k)
        if self.owns is not None:
            assets = {a for a in assets if self.owns(a)}
        return assets

    def _answered_otherwise(self, k: datetime | None) -> set[str]:
        """The assets to judge under the reference data of ``k``, new: those whose kept
        evaluation (or C04/C05) asked a question of it that it answers otherwise than
        the data judged last, and those with none kept (all, for the reference
        evaluator). The others' findings stand: they are a function of their events and
        of those answers. At 10,000 assets most of a reference change was asking each
        asset's questions again, one asset after another (docs/decisions/0035)."""
        every = set(self.cut.registrations) | set(self._parts)
        moved = self._asked.otherwise(self.history.reference(k)) if self.incremental else None
        if moved is None:
            return every
        return moved | {a for a in every if not self._asked.noted(a)}

    def _moved(self, asset_id: str, contracts: set[str]) -> None:
        """The asset's R03 findings, or its contract, changed: what the C01–C03 of
        ``contracts`` are told at their next judgement (when judged here)."""
        if self.contract_state:
            for c in contracts:
                self._r03_moved.setdefault(c, set()).add(asset_id)

    def _absorb(self, parts: Mapping[str, UnaccountedPart]) -> set[str]:
        """Take the parts of assets judged elsewhere; the contracts they leave or join."""
        dirty: set[str] = set()
        for a, (home, unaccounted) in parts.items():
            old = self._contract_of.pop(a, None)
            self._members.get(old or "", {}).pop(a, None)
            self._parts.pop(a, None)
            dirty |= {c for c in (old, home) if c}
            self._moved(a, {c for c in (old, home) if c})
            if home is not None:
                part = AssetPart(asset_id=a, unaccounted=unaccounted, support=(), registration=None)
                self._parts[a] = part
                self._contract_of[a] = home
                self._members.setdefault(home, {})[a] = part
        return dirty

    def everything(self, k: datetime | None) -> dict[ScopeKey, tuple[Finding, ...]]:
        return self.run(k, Impact(everything=True))

    # -- standing on stored findings -------------------------------------------------

    def seed(
        self,
        k: datetime,
        found: Mapping[ScopeKey, Sequence[Finding]],
        held_by: Mapping[str, Iterable[str]],
        deferred: Deferred | None = None,
    ) -> None:
        """Stand where an evaluator that evaluated everything at ``k`` and found
        ``found`` (per scope, as stored) stands, evaluating no asset: an asset's part
        is its stored R03 findings, and it is evaluated — at ``k``, then as asked —
        when first needed; what it finds at ``k``, and C01–C03 judged at ``k`` from
        the stored parts, are kept to be held to the store (:meth:`take_checks`).
        ``held_by``: per party, the assets it held (:meth:`take_holders`, stored);
        ``deferred``: assets whose stored findings are read when first evaluated (their
        part, at once, from ``deferred.unaccounted``)."""
        if self._memos or self._parts or self.k is not None:
            raise ValueError("only a new evaluator is seeded")
        cut = self.refresh(k)
        self._seed_at = (k, cut)
        for scope, fs in found.items():
            if len(scope) == 3 and fs:
                self._judged.setdefault(scope[1], set()).add(scope[2])
        for a in cut.registrations:
            if (self.owns is not None and not self.owns(a)) or not self._in_contract(a):
                continue
            mine: dict[ScopeKey, tuple[Finding, ...]] = {}
            if deferred is not None and asset_scope(a) in deferred:
                r03 = ordered(deferred.unaccounted.get(a, ()))  # its findings: later
            else:
                mine[asset_scope(a)] = tuple(found.get(asset_scope(a), ()))
                r03 = ordered(f for f in mine[asset_scope(a)] if f.rule == "R03")
            c = cut.contract_of(a)
            if c is not None:
                mine[contract_scope(c, a)] = tuple(found.get(contract_scope(c, a), ()))
            part = AssetPart(asset_id=a, unaccounted=r03, support=(), registration=None)
            self._parts[a] = part
            self._contract_of[a] = c
            self._members.setdefault(c or "", {})[a] = part
            self.evaluated_at[a] = k
            self._seeded[a] = mine
        self._deferred = deferred
        self._asked.ref = self.history.reference(k)
        for party, assets in held_by.items():
            self._held_by.setdefault(party, set()).update(assets)
        contracts = {c for c in self._contract_of.values() if c} | set(cut.actions)
        for c in sorted(contracts):
            self._actions_seen[c] = cut.actions.get(c, ())
            if self.contract_state and (self.only is None or c == self.only):
                for scope, now in self.contract(c, k, state=True, assets=()).items():
                    self._checks.append((scope, tuple(found.get(scope, ())), now))
        self.k = k

    def _unseed(self, asset_id: str) -> None:
        """The first evaluation of a seeded asset: at the cut it was seeded at, as the
        evaluator stood in for last evaluated it (its memo, part and C04/C05 then
        stand as they would there); what it found is kept for :meth:`take_checks`."""
        stored = self._seeded.pop(asset_id)
        if asset_scope(asset_id) not in stored and self._deferred is not None:
            stored[asset_scope(asset_id)] = self._deferred.found(asset_scope(asset_id))
        assert self._seed_at is not None
        k, cut = self._seed_at
        now, self.cut = self.cut, cut
        try:
            found: dict[ScopeKey, tuple[Finding, ...]] = {
                asset_scope(asset_id): self._asset(asset_id, k, None)
            }
            c = self._contract_of.get(asset_id)
            part = self._parts.get(asset_id)
            if c is not None and part is not None and self.contract_assets:
                ref = self.history.reference(k)
                found[contract_scope(c, asset_id)] = self._c04_c05.judge(
                    c, ref, cut, cut.actions.get(c, ()), part
                )
        finally:
            self.cut = now
        self._unseeded.add(asset_id)
        for scope in stored.keys() | found.keys():
            self._checks.append((scope, stored.get(scope, ()), found.get(scope, ())))

    def _last_part(self, asset_id: str) -> AssetPart | None:
        """The asset's part as last evaluated (a seeded asset evaluated at the seed's
        cut first)."""
        if asset_id in self._seeded:
            self._unseed(asset_id)
        return self._parts.get(asset_id)

    def _kept(self, asset_id: str, kept: int) -> int:
        """``Evaluated.kept`` of an evaluation of the asset: 0 for the first after the
        one at the seed's cut — the tracker holds the stored findings, which that one
        was only compared with."""
        if asset_id in self._unseeded:
            self._unseeded.discard(asset_id)
            return 0
        return kept

    def take_checks(self) -> list[tuple[ScopeKey, tuple[Finding, ...], tuple[Finding, ...]]]:
        """For each scope of the seeded assets evaluated since the last call: the
        findings seeded for it and those its first evaluation found at the seed's cut."""
        checks, self._checks = self._checks, []
        return checks

    def take_holders(self) -> dict[str, set[str]]:
        """Per party, the assets it was first found to hold since the last call."""
        new, self._holders_new = self._holders_new, {}
        return new

    # -- impact --------------------------------------------------------------------

    def impact(self, events: Iterable[Event], k: datetime, prev: datetime | None = None) -> Impact:
        """What ``events``, newly known at ``k``, may change, judged against the
        knowledge at ``prev``, the knowledge instant before ``k`` (computed when not
        given)."""
        if prev is None:
            prev = previous_instant(self.history.log, k)
        return impact_of(
            self.history,
            events,
            k,
            prev,
            self.evaluated_at,
            self._prior,
            self.owns,
            self._held_by if self.incremental else None,
        )

    def _prior(self, asset_id: str, e: Event, k: datetime | None) -> AssetState | None:
        """The asset's state just before ``e`` in world order as known at ``k``: from
        its evaluation when that was at ``k`` (its steps are those known then), else
        folded (:meth:`History.prior`)."""
        memo = self._memos.get(asset_id)
        if memo is None or asset_id not in self.evaluated_at or self.evaluated_at[asset_id] != k:
            return self.history.prior(asset_id, e, k)
        return memo.prior(e)


def findings_at(history: History, k: datetime | None) -> tuple[Finding, ...]:
    """Every finding the knowledge at ``k`` implies (``None``: all knowledge), without
    life, ordered by ``(valid_from, finding_key)``."""
    found = Evaluator(history).everything(k)
    return ordered(chain.from_iterable(found.values()))


def asset_findings(history: History, asset_id: str, k: datetime | None) -> tuple[Finding, ...]:
    """The ``R…`` findings of one asset at ``k``."""
    ev = Evaluator(history)
    ev.refresh(k)
    return ev.asset(asset_id, k)


def contract_findings(
    history: History, contract_id: str, k: datetime | None
) -> tuple[Finding, ...]:
    """The ``C…`` findings of one contract at ``k`` (every asset of it is folded)."""
    ev = Evaluator(history, contract_id)
    ev.refresh(k)
    for a in ev.cut.assets_of(contract_id):
        ev.asset(a, k)
    return ordered(chain.from_iterable(ev.contract(contract_id, k).values()))
