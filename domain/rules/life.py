"""Findings in knowledge time: what the ledger implied at each knowledge cut, and the
life of every finding it ever implied (DOMAIN.md §5) — when it was detected, how it
changed, when and why it was cleared, and its latest disposition.

Evaluation. :func:`findings_at` evaluates the whole catalogue at one knowledge time;
:func:`asset_findings` and :func:`contract_findings` evaluate one asset or one
contract. Each finding belongs to exactly one :data:`ScopeKey`: ``R…`` findings to
their asset, C01–C03 to their contract, C04/C05 to their contract and asset; a
contract's findings read every asset of it. :func:`affected` says which scopes a
batch of newly known events may change, and :class:`Evaluator` keeps what each asset
contributes to its contract, so a contract is re-judged without folding its other
assets again.

A projection following the log keeps one :class:`Evaluator` and one
:class:`LifeTracker`. For each new knowledge instant ``k`` (the events reported at
``k``): ``ev.grow(new)`` once the history has grown (:meth:`History.grow`), ``impact =
ev.impact(batch, k, prev)``, ``scopes = ev.run(k, impact)`` — the scopes whose rows to replace — and
``tracker.advance(k, scopes, impact)``. Events reported before the last instant walked
(a historical import) change the past of the walk: walk again with :func:`life`.

Life. :func:`life` walks the distinct knowledge instants (``reported_at`` values) in
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
  visible. :class:`FindingLife` keeps every change.
* A changed interval, severity, summary, parties or evidence of a visible finding is
  a new version, not a clearing; a state finding whose ``valid_to`` is set is history.
* ``disposition`` is the latest effective ``finding_dispositioned`` naming the key, as
  known at the view's knowledge time (latest in knowledge order).

Views. :func:`known_then` — every finding detected by the view's knowledge time, each
as then known (version, clearing, disposition): what an auditor could have seen.
:func:`hindsight` — every finding with all knowledge, its latest version and full
life, optionally only those whose ``valid_from`` has come by a valid time.
:func:`select` applies the filters of SPEC.md §2.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import chain, groupby

from domain.history import Event, Log, WorldKey
from domain.reference import Reference
from domain.rules.catalogue import (
    CUT_TYPES,
    REPAIRS,
    WHOLE_RULES,
    AssetFacts,
    AssetPart,
    CutFacts,
    StepIndex,
    action_contract,
    c04_support_during_suspension,
    c05_delivery_during_hold,
    contract_facts,
    contract_state_rules,
    registration_contract,
    step_findings,
)
from domain.rules.findings import (
    ClearReason,
    Finding,
    FindingDisposition,
    FindingKind,
    asset_of_event_key,
    rule_of_key,
)
from domain.state import Group, History, Segment, Step, add_to_groups, apply, group_segments
from domain.vocabulary import REFERENCE_TYPES, Disposition, EventType

ScopeKey = tuple[str, ...]
"""Which findings are judged together: ``("asset", a)`` — the ``R…`` findings of an
asset; ``("contract", c)`` — C01–C03 of a contract; ``("contract", c, a)`` — C04 and
C05 of one asset of a contract (judged per trigger, so one asset's news need not
re-judge the others')."""

NOTHING_KNOWN = datetime.min.replace(tzinfo=UTC)
"""A knowledge time before every event (``None`` means all knowledge)."""

_META = frozenset({EventType.EVENT_RETRACTED, EventType.EVENT_CORRECTED})


def asset_scope(asset_id: str) -> ScopeKey:
    return ("asset", asset_id)


def contract_scope(contract_id: str, asset_id: str | None = None) -> ScopeKey:
    return ("contract", contract_id) if asset_id is None else ("contract", contract_id, asset_id)


def scope_of(f: Finding) -> ScopeKey:
    if f.rule in ("C04", "C05"):
        return contract_scope(f.contract_id or "", f.asset_id)
    if f.rule.startswith("C") or f.asset_id is None:
        return contract_scope(f.contract_id or "")
    return asset_scope(f.asset_id)


def _order(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (f.valid_from, f.finding_key)))


# -- what new knowledge touches ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Impact:
    """What a batch of newly known events may change.

    ``assets`` and ``contracts`` are the scopes to re-evaluate (the contracts of the
    assets are added by :class:`Evaluator`); ``everything`` when reference data
    changed. ``retracted`` are the events the batch retracted; ``corrected`` those
    whose effective version a correction (or the retraction of one) changed.
    ``touched`` are the event types involved, targets included.
    """

    assets: frozenset[str] = frozenset()
    contracts: frozenset[str] = frozenset()
    everything: bool = False
    retracted: frozenset[str] = frozenset()
    corrected: frozenset[str] = frozenset()
    touched: frozenset[EventType] = frozenset()
    news: Mapping[str, tuple[Event, ...]] | None = None
    """Per asset, the batch's events naming it, when the batch holds no retraction or
    correction (``None`` otherwise): what :class:`Evaluator` may append to the asset's
    last evaluation instead of folding it again."""


def previous_instant(log: Log, k: datetime) -> datetime:
    """The last knowledge instant before ``k`` (``NOTHING_KNOWN`` if none)."""
    instants = log.knowledge_instants()
    i = bisect_left(instants, k)
    return instants[i - 1] if i else NOTHING_KNOWN


def affected(history: History, events: Iterable[Event], k: datetime) -> Impact:
    """What the arrival of ``events`` (all reported at ``k``) may change."""
    return Evaluator(history).impact(events, k)


# -- evaluation ----------------------------------------------------------------------


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
        self, history: History, contract_id: str | None = None, *, incremental: bool = True
    ) -> None:
        self.history = history
        self.only = contract_id
        self.incremental = incremental
        self._memos: dict[str, _AssetMemo] = {}
        log = history.log
        self._typed: dict[EventType, list[Event]] = {t: [] for t in CUT_TYPES}
        for e in log.events:
            if e.type in CUT_TYPES:
                self._typed[e.type].append(e)
        self.cut = CutFacts.of(())
        self._parts: dict[str, AssetPart] = {}
        self._contract_of: dict[str, str | None] = {}
        self._members: dict[str, dict[str, AssetPart]] = {}
        self._judged: dict[str, set[str]] = {}  # contract → assets with a C04/C05 scope
        self._actions_seen: dict[str, tuple[Event, ...]] = {}
        self.evaluated_at: dict[str, datetime | None] = {}
        self.k: datetime | None = None

    def grow(self, new: Sequence[Event]) -> None:
        """Continue after ``history`` grew by ``new`` (:meth:`History.grow`), all
        reported at or after the last cut :meth:`run` visited."""
        if self.k is not None and any(e.reported_at < self.k for e in new):
            raise ValueError("the log learnt of the past already walked: start again")
        for e in new:
            if e.type in CUT_TYPES:
                self._typed[e.type].append(e)

    # -- knowledge cuts ----------------------------------------------------------

    def refresh(self, k: datetime | None, types: Iterable[EventType] = CUT_TYPES) -> CutFacts:
        """Bring the log-wide facts to knowledge time ``k`` for the given event types
        (the others must not have changed since the last refresh)."""
        log = self.history.log
        for t in sorted(set(types) & CUT_TYPES):
            effective = [v for e in self._typed[t] if (v := log.version(e, k))]
            self.cut = self.cut.replaced(t, effective)
        return self.cut

    def _in_contract(self, asset_id: str) -> bool:
        return self.only is None or self.cut.contract_of(asset_id) == self.only

    # -- scopes ------------------------------------------------------------------

    def asset(self, asset_id: str, k: datetime | None) -> tuple[Finding, ...]:
        """The asset's ``R…`` findings at ``k`` (the cut must be at ``k``)."""
        return _order(self._asset(asset_id, k, None))

    def _asset(
        self, asset_id: str, k: datetime | None, news: Sequence[Event] | None
    ) -> tuple[Finding, ...]:
        old = self._contract_of.pop(asset_id, None)
        self._members.get(old or "", {}).pop(asset_id, None)
        self._parts.pop(asset_id, None)
        if asset_id not in self.cut.registrations or not self._in_contract(asset_id):
            self._memos.pop(asset_id, None)
            return ()
        ref = self.history.reference(k)
        memo = self._memos.get(asset_id) if self.incremental else None
        kept = 0
        if (
            memo is not None
            and news is not None
            and memo.fits(ref, self.cut, asset_id, news)
            and all(self.history.log.version(e, k) is e for e in news)
        ):
            kept = len(memo.local)
            facts = memo.extend(asset_id, news, ref, self.cut)
        else:
            memo = _AssetMemo.build(self.history, asset_id, k, ref, self.cut)
            facts = memo.facts(asset_id, ref, self.cut)
        if self.incremental:
            self._memos[asset_id] = memo
        found = Evaluated([*memo.local, *(x for rule in WHOLE_RULES.values() for x in rule(facts))])
        found.kept, found.stable = kept, len(memo.local)
        part = AssetPart(
            asset_id=asset_id,
            unaccounted=tuple(_order(f for f in found if f.rule == "R03")),
            support=tuple(memo.support),
            registration=memo.registered,
        )
        self._parts[asset_id] = part
        self._contract_of[asset_id] = facts.contract_id
        self._members.setdefault(facts.contract_id or "", {})[asset_id] = part
        self.evaluated_at[asset_id] = k
        return found

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
        moved = self._actions_seen.get(contract_id) != actions
        self._actions_seen[contract_id] = actions
        out: dict[ScopeKey, tuple[Finding, ...]] = {}
        if state or moved:
            facts = contract_facts(
                contract_id, ref, self.cut, [p for p in members.values() if p.unaccounted]
            )
            out[contract_scope(contract_id)] = _order(contract_state_rules(facts))
        judged = self._judged.setdefault(contract_id, set())
        redo = set(members) | judged if assets is None or moved else set(assets)
        for a in sorted(redo):
            part = members.get(a)
            found: list[Finding] = []
            if part is not None:
                one = contract_facts(contract_id, ref, self.cut, [part])
                found = [*c04_support_during_suspension(one), *c05_delivery_during_hold(one)]
            out[contract_scope(contract_id, a)] = _order(found)
            if found:
                judged.add(a)
            else:
                judged.discard(a)
        return out

    def run(self, k: datetime | None, impact: Impact) -> dict[ScopeKey, tuple[Finding, ...]]:
        """Bring the cut to ``k`` and re-evaluate the scopes ``impact`` touches."""
        before = dict(self._contract_of)
        self.refresh(k, CUT_TYPES if impact.everything else impact.touched)
        if impact.everything:
            assets = set(self.cut.registrations) | set(self._parts)
        else:
            assets = set(impact.assets)
        out: dict[ScopeKey, tuple[Finding, ...]] = {}
        state_dirty: set[str] = set()
        changed: dict[str, set[str]] = {}
        for a in sorted(assets):
            if a not in self._parts and a not in self.cut.registrations:
                continue
            old = self._parts.get(a)
            news = None if impact.news is None else impact.news.get(a)
            out[asset_scope(a)] = self._asset(a, k, news)
            new = self._parts.get(a)
            homes = {c for c in (before.get(a), self._contract_of.get(a)) if c}
            for c in homes:
                changed.setdefault(c, set()).add(a)
            if (old and old.unaccounted) != (new and new.unaccounted) or len(homes) > 1:
                state_dirty |= homes
        contracts = set(changed) | set(impact.contracts)
        if impact.everything:
            contracts |= set(self._actions_seen) | set(self.cut.actions)
            contracts |= {c for c in self._contract_of.values() if c}
        if self.only is not None:
            contracts &= {self.only}
        for c in sorted(c for c in contracts if c):
            out.update(
                self.contract(
                    c,
                    k,
                    state=impact.everything or c in state_dirty or c in impact.contracts,
                    assets=None if impact.everything else changed.get(c, set()),
                )
            )
        if k is not None:
            self.k = k
        return out

    def everything(self, k: datetime | None) -> dict[ScopeKey, tuple[Finding, ...]]:
        return self.run(k, Impact(everything=True))

    # -- impact --------------------------------------------------------------------

    def impact(self, events: Iterable[Event], k: datetime, prev: datetime | None = None) -> Impact:
        """What ``events``, newly known at ``k``, may change, judged against the
        knowledge at ``prev``, the knowledge instant before ``k`` (computed when not
        given)."""
        log = self.history.log
        events = list(events)
        if prev is None:
            prev = previous_instant(log, k)
        assets: set[str] = set()
        contracts: set[str] = set()
        retracted: set[str] = set()
        corrected: set[str] = set()
        touched: set[EventType] = set()
        everything = False
        concerned: list[Event] = []
        for e in events:
            touched.add(e.type)
            if e.type not in _META:
                concerned += [e, *_versions(log, e, prev, k)]
                continue
            target = log.get(e.target_event_id or "")
            if target is None or target.type is EventType.EVENT_RETRACTED:
                continue
            if target.type is EventType.EVENT_CORRECTED:
                if e.type is EventType.EVENT_CORRECTED:
                    continue  # corrections of corrections are moot (domain.history)
                base = log.get(target.target_event_id or "")
                if base is None or base.type in _META:
                    continue
                corrected.add(base.event_id)
            else:
                base = target
                (retracted if e.type is EventType.EVENT_RETRACTED else corrected).add(base.event_id)
            concerned += [base, *_versions(log, base, prev, k)]
        inventories: list[Event] = []
        for v in concerned:
            touched.add(v.type)
            if v.type in REFERENCE_TYPES:
                everything = True
            elif v.type is EventType.CONTRACT_ACTION:
                contracts.add(action_contract(v))
            elif v.type is EventType.FINDING_DISPOSITIONED:
                key = v.text("finding_key") or ""
                if rule_of_key(key) == "R16" and (a := asset_of_event_key(key)):
                    assets.add(a)
            elif v.type is EventType.INVENTORY_COMPLETED:
                inventories.append(v)
            if v.type is EventType.ASSET_REGISTERED and (c := registration_contract(v)):
                contracts.add(c)
            assets.update(v.subjects)
        if inventories and not everything:
            assets |= self._expected_by(inventories, prev)
        plain = not any(e.type in _META for e in events)
        news: dict[str, list[Event]] = {}
        for e in events if plain else ():
            for a in e.subjects:
                news.setdefault(a, []).append(e)
        return Impact(
            assets=frozenset(assets),
            contracts=frozenset(contracts),
            everything=everything,
            retracted=frozenset(retracted),
            corrected=frozenset(corrected),
            touched=frozenset(touched),
            news={a: tuple(v) for a, v in news.items()} if plain else None,
        )

    def _expected_by(self, inventories: Sequence[Event], prev: datetime) -> set[str]:
        """Assets whose custodian just before an inventory descends from its scope: the
        inventory judges them even when it does not name them (R14)."""
        h = self.history
        candidates = set(self.evaluated_at) or set(h.asset_ids(prev))
        out: set[str] = set()
        ref = h.reference(prev)
        for a in candidates:
            k_a = self.evaluated_at.get(a, prev)
            for inv in inventories:
                before = h.prior(a, inv, k_a)
                if before is not None and ref.descends_from_any(
                    before.custodian, inv.texts("scope_parties")
                ):
                    out.add(a)
                    break
        return out


class Evaluated(tuple[Finding, ...]):
    """A scope's findings, with what the last evaluation of the same scope tells: the
    first ``kept`` are the very findings it gave (the same objects), and the first
    ``stable`` come from rules whose findings a later extension keeps. The tracker
    then compares only the rest."""

    kept: int = 0
    stable: int = 0


class _AssetMemo:
    """One asset's evaluation at the last knowledge cut it was evaluated at: its steps,
    the grouping of its segments, and the findings of the rules that judge one step at
    a time (``STEP_RULES``). Events that arrive at the end of the asset's world order,
    with the same reference data, registration, inventories and dispositions, extend
    it: the earlier steps, segments and step findings stay as they were (those rules
    look only at a step and the steps before it), so the cost is the new steps plus
    the rules over the intervals (``WHOLE_RULES``). Anything else builds it again.
    ``Evaluator(incremental=False)`` always builds: the tests compare the two."""

    __slots__ = (
        "dispositions",
        "group_start",
        "groups",
        "index",
        "inventories",
        "keys",
        "local",
        "ref",
        "registered",
        "registration",
        "segments",
        "steps",
        "support",
    )

    def __init__(self, ref: Reference, cut: CutFacts, asset_id: str) -> None:
        self.ref = ref
        self.registration = cut.registrations.get(asset_id)
        self.inventories = cut.inventories
        self.dispositions = cut.dispositions
        self.steps: list[Step] = []
        self.keys: list[WorldKey] = []
        self.groups: list[Group] = []
        self.segments: list[Segment] = []
        self.group_start: list[int] = []
        self.local: list[Finding] = []
        self.support: list[Event] = []
        self.registered: Event | None = None
        self.index = StepIndex()

    @classmethod
    def build(
        cls, history: History, asset_id: str, k: datetime | None, ref: Reference, cut: CutFacts
    ) -> _AssetMemo:
        memo = cls(ref, cut, asset_id)
        memo._add(history.steps(asset_id, k), asset_id, ref, cut)
        return memo

    def fits(self, ref: Reference, cut: CutFacts, asset_id: str, news: Sequence[Event]) -> bool:
        if (
            ref is not self.ref
            or cut.registrations.get(asset_id) is not self.registration
            or cut.inventories is not self.inventories
            or cut.dispositions is not self.dispositions
            or not self.steps
        ):
            return False
        last = self.keys[-1]
        return all(e.type not in CUT_TYPES and e.world_key > last for e in news)

    def extend(
        self, asset_id: str, news: Sequence[Event], ref: Reference, cut: CutFacts
    ) -> AssetFacts:
        state = self.steps[-1].after
        steps = []
        for e in sorted(news, key=lambda e: e.world_key):
            after = apply(state, e, ref, asset_id)
            steps.append(Step(e, state, after))
            state = after
        return self._add(steps, asset_id, ref, cut)

    def _add(
        self, steps: Sequence[Step], asset_id: str, ref: Reference, cut: CutFacts
    ) -> AssetFacts:
        first_new = len(self.steps)
        self.steps.extend(steps)
        self.keys.extend(s.event.world_key for s in steps)
        for s in steps:
            e = s.event
            if e.type is EventType.SUPPORT_PROVIDED or e.type in REPAIRS:
                self.support.append(e)
            if self.registered is None and e.type is EventType.ASSET_REGISTERED and s.applied:
                self.registered = e
        # The last group's segments end where a new group starts: redo from it.
        redo = max(len(self.groups) - 1, 0)
        add_to_groups(self.groups, steps, None)
        del self.segments[
            self.group_start[redo] if redo < len(self.group_start) else len(self.segments) :
        ]
        del self.group_start[redo:]
        for g in range(redo, len(self.groups)):
            self.group_start.append(len(self.segments))
            self.segments.extend(group_segments(self.groups, g, ref, None))
        self.index.add(self.steps, first_new)
        facts = self.facts(asset_id, ref, cut)
        self.local.extend(step_findings(facts, first_new))
        return facts

    def facts(self, asset_id: str, ref: Reference, cut: CutFacts) -> AssetFacts:
        contract_id = cut.contract_of(asset_id)
        return AssetFacts(
            asset_id=asset_id,
            contract_id=contract_id,
            ref=ref,
            terms=ref.terms(contract_id),
            steps=tuple(self.steps),
            segments=tuple(self.segments),
            cut=cut,
            keys=tuple(self.keys),
            given_index=self.index,
        )


def _versions(log: Log, e: Event, prev: datetime, k: datetime) -> list[Event]:
    return [v for v in (log.version(e, prev), log.version(e, k)) if v is not None]


# -- one cut ---------------------------------------------------------------------------


def findings_at(history: History, k: datetime | None) -> tuple[Finding, ...]:
    """Every finding the knowledge at ``k`` implies (``None``: all knowledge), without
    life, ordered by ``(valid_from, finding_key)``."""
    found = Evaluator(history).everything(k)
    return _order(chain.from_iterable(found.values()))


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
    return _order(chain.from_iterable(ev.contract(contract_id, k).values()))


# -- life --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """From ``at`` on (knowledge time) the finding is ``finding``; ``None``: cleared."""

    at: datetime
    finding: Finding | None
    reason: ClearReason | None = None


@dataclass(frozen=True, slots=True)
class FindingLife:
    """Every change of one finding in knowledge time; the first is its detection."""

    key: str
    changes: tuple[Change, ...]
    dispositions: tuple[tuple[datetime, FindingDisposition | None], ...] = ()

    @property
    def detected_at(self) -> datetime:
        return self.changes[0].at

    def at(self, known_at: datetime | None) -> Finding | None:
        """The finding as known at ``known_at`` (``None``: all knowledge), with its life
        as then known; ``None`` if not yet detected."""
        if known_at is not None and self.detected_at > known_at:
            return None
        last = self.changes[0]
        version = last.finding
        for c in self.changes[1:]:
            if known_at is not None and c.at > known_at:
                break
            last = c
            if c.finding is not None:
                version = c.finding
        assert version is not None
        disposition = None
        for at, d in self.dispositions:
            if known_at is not None and at > known_at:
                break
            disposition = d
        cleared = last.finding is None
        return version.with_life(
            self.detected_at,
            last.at if cleared else None,
            last.reason if cleared else None,
            disposition,
        )


class Lives(Mapping[str, FindingLife]):
    """The life of every finding, by key."""

    def __init__(self, lives: Iterable[FindingLife]) -> None:
        self._lives = {x.key: x for x in lives}

    def __getitem__(self, key: str) -> FindingLife:
        return self._lives[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lives)

    def __len__(self) -> int:
        return len(self._lives)

    def known_then(self, at: datetime) -> tuple[Finding, ...]:
        return known_then(self, at)

    def hindsight(self, as_of: datetime | None = None) -> tuple[Finding, ...]:
        return hindsight(self, as_of)


def known_then(lives: Mapping[str, FindingLife], at: datetime) -> tuple[Finding, ...]:
    """Findings detected by knowledge time ``at``, each with its version and life as
    known then (what the ledger showed at that time)."""
    return _order(f for x in lives.values() if (f := x.at(at)) is not None)


def hindsight(
    lives: Mapping[str, FindingLife], as_of: datetime | None = None
) -> tuple[Finding, ...]:
    """Findings with all knowledge: latest version, full life; with ``as_of``, only
    those whose ``valid_from`` is at or before that valid time."""
    out = (f for x in lives.values() if (f := x.at(None)) is not None)
    return _order(f for f in out if as_of is None or f.valid_from <= as_of)


@dataclass(frozen=True, slots=True)
class _Prefix:
    """The first ``count`` changes of a life, summed up: the last version among them
    (``base``), when the first came (detection) and the last change."""

    count: int = 0
    base: Finding | None = None
    first_at: datetime | None = None
    last: Change | None = None


_NO_PREFIX = _Prefix()


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
    before: _Prefix
    changes: tuple[Change, ...]
    after: _Prefix
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
        self._volatile: dict[ScopeKey, set[str]] = {}
        self._visible: set[str] = set()
        self._pending: list[tuple[datetime, int, str]] = []
        self._seq = 0
        self._changes: dict[str, list[Change]] = {}
        self._drained: dict[str, _Prefix] = {}
        self._cuts: dict[str, int] = {}
        self._dirty: set[str] = set()
        # How the keys and scopes the current instant touched stood before it.
        self._undo: dict[str, tuple[Finding | None, bool, _Prefix, list[Change], int]] = {}
        self._undo_scopes: dict[ScopeKey, set[str]] = {}
        self._retracted: set[str] = set()
        self._corrected: set[str] = set()
        self.k: datetime | None = None

    @property
    def implied(self) -> Mapping[str, Finding]:
        """The findings implied at the last knowledge instant."""
        return self._implied

    @property
    def visible(self) -> frozenset[str]:
        """Keys visible at the last knowledge instant advanced to."""
        return frozenset(self._visible)

    def mark(self, key: str) -> None:
        """Count ``key`` as changed (its dispositions did)."""
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

    @staticmethod
    def _prefix_after(done: _Prefix, changes: Sequence[Change]) -> _Prefix:
        if not changes:
            return done
        base = next((c.finding for c in reversed(changes) if c.finding is not None), done.base)
        return _Prefix(done.count + len(changes), base, done.first_at or changes[0].at, changes[-1])

    def advance(
        self, k: datetime, evaluated: Mapping[ScopeKey, Sequence[Finding]], impact: Impact
    ) -> None:
        if self.k is not None and k < self.k:
            raise ValueError("knowledge instants must not go back")
        reopened = k == self.k
        if reopened:
            self._reopen(evaluated)
        else:
            self._detect_pending(before=k)
            self._undo, self._undo_scopes = {}, {}
            self._retracted, self._corrected = set(), set()
        self._retracted |= impact.retracted
        self._corrected |= impact.corrected
        why = replace(
            impact, retracted=frozenset(self._retracted), corrected=frozenset(self._corrected)
        )
        for scope, found in evaluated.items():
            keys = self._scope_keys.get(scope)
            kept = getattr(found, "kept", 0) if keys is not None and not reopened else 0
            rest = found[kept:] if kept else found
            new = {f.finding_key: f for f in rest}
            if keys is None:
                keys = self._scope_keys[scope] = set()
            self._undo_scopes.setdefault(scope, set(keys))
            # With ``kept``, the first findings are last evaluation's, unchanged, and
            # only those that were not among the stable ones can have gone.
            gone = (self._volatile.get(scope, keys) if kept else keys) - new.keys()
            for key in gone:
                self._remember(key)
                old = self._implied.pop(key)
                self._dirty.add(key)
                if key in self._visible:
                    self._visible.discard(key)
                    self._record(key, Change(k, None, _reason(old, found, why, k)))
            for key, f in new.items():
                previous = self._implied.get(key)
                if f is previous:
                    continue
                if previous is not None and f == previous:
                    self._implied[key] = f  # the same finding, made again
                    continue
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
            if kept:
                keys -= gone
                keys.update(new)
            else:
                keys.clear()
                keys.update(new)
            stable = getattr(found, "stable", 0)
            self._volatile[scope] = {f.finding_key for f in found[stable:]}
        self.k = k

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
            before = self._undo_scopes.get(scope)
            keys = self._scope_keys.get(scope, set()) | (before or set())
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
                del self._undo_scopes[scope]

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
    walk = _ReferenceReuse(history.log)
    ev = Evaluator(walk, contract_id, incremental=incremental)
    tracker = LifeTracker()
    prev = NOTHING_KNOWN
    for k, batch in batches(history.log):
        impact = ev.impact(batch, k, prev)
        tracker.advance(k, ev.run(k, impact), impact)
        prev = k
    return tracker.lives(disposition_timelines(history.log))


class Walk:
    """A walk through knowledge time that follows a growing log, for a projection.

    :meth:`feed` takes the log's next events (later in position than every event fed,
    and not earlier in knowledge time than the last instant walked); a feed may end
    in the middle of a knowledge instant's events and the next one continue it. The
    lives are those :func:`life` gives for the events fed so far, however they were
    split (tested): :meth:`lives`, or, for a store of lives, :meth:`drain` — what
    changed in each life since the last drain. Events reported before the last
    instant walked (a historical import) are refused with ``ValueError``: walk again
    from the start.
    """

    def __init__(self, *, incremental: bool = True) -> None:
        self.history = _ReferenceReuse(Log(()))
        self.evaluator = Evaluator(self.history, incremental=incremental)
        self.tracker = LifeTracker()
        self.k: datetime | None = None
        self._prev = NOTHING_KNOWN  # the instant walked before ``k``
        self.end = 0  # the last position fed
        self._timelines: dict[str, list[tuple[datetime, FindingDisposition | None]]] = {}
        self._dispositions = False

    def follows(self, new: Sequence[Event]) -> bool:
        """Whether :meth:`feed` can take ``new``."""
        log = self.history.log
        if not log.extends(new):
            return False
        return self.k is None or all(e.reported_at >= self.k for e in new)

    def feed(self, new: Sequence[Event]) -> None:
        if not new:
            return
        if not self.follows(new):
            raise ValueError("the log learnt of the past already walked: start again")
        self.history.grow(new)
        self.evaluator.grow(new)
        for k, group in batches(new):
            prev = self._prev if k == self.k else (self.k or NOTHING_KNOWN)
            impact = self.evaluator.impact(group, k, prev)
            self.tracker.advance(k, self.evaluator.run(k, impact), impact)
            if k != self.k:
                self._prev, self.k = self.k or NOTHING_KNOWN, k
        self.end = max(self.end, max(e.position for e in new))
        if any(e.type is EventType.FINDING_DISPOSITIONED for e in new):
            self._dispositions = True
        if self._dispositions and any(
            e.type is EventType.FINDING_DISPOSITIONED or e.type in _META for e in new
        ):
            timelines = disposition_timelines(self.history.log)
            for key in set(timelines) | set(self._timelines):
                if timelines.get(key) != self._timelines.get(key):
                    self.tracker.mark(key)
            self._timelines = timelines

    def drain(self) -> list[Drained]:
        """What changed in each life since the last drain (:meth:`LifeTracker.drain`)."""
        return self.tracker.drain()

    def dispositions(self, key: str) -> Sequence[tuple[datetime, FindingDisposition | None]]:
        return self._timelines.get(key, ())

    def lives(self, keys: Iterable[str] | None = None) -> Lives:
        return self.tracker.lives(self._timelines, keys)


class _ReferenceReuse(History):
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
    while e.type in _META and e.event_id not in seen:
        seen.add(e.event_id)
        target = log.get(e.target_event_id or "")
        if target is None:
            return False
        e = target
    return e.type in REFERENCE_TYPES


def disposition_timelines(
    log: Log,
) -> dict[str, list[tuple[datetime, FindingDisposition | None]]]:
    """Per finding key, the latest effective disposition from each knowledge instant
    at which it changed."""
    decisions = [e for e in log.events if e.type is EventType.FINDING_DISPOSITIONED]
    if not decisions:
        return {}
    ids = {e.event_id for e in decisions}
    instants = {e.reported_at for e in decisions}
    for e in log.events:
        if e.type in _META:
            target = log.get(e.target_event_id or "")
            while target is not None and target.type is EventType.EVENT_CORRECTED:
                target = log.get(target.target_event_id or "")
            if target is not None and target.event_id in ids:
                instants.add(e.reported_at)
    out: dict[str, list[tuple[datetime, FindingDisposition | None]]] = {}
    current: dict[str, FindingDisposition] = {}
    for k in sorted(instants):
        latest: dict[str, Event] = {}
        for e in decisions:
            v = log.version(e, k)
            if v is None:
                continue
            key = v.text("finding_key") or ""
            if key not in latest or latest[key].knowledge_key < v.knowledge_key:
                latest[key] = v
        now = {key: _disposition(v) for key, v in latest.items()}
        for key in set(now) | set(current):
            if now.get(key) != current.get(key):
                out.setdefault(key, []).append((k, now.get(key)))
        current = {k2: d for k2, d in now.items() if d is not None}
    return out


def _disposition(e: Event) -> FindingDisposition | None:
    try:
        value = Disposition(e.text("disposition") or "")
    except ValueError:
        return None
    return FindingDisposition(
        disposition=value,
        event_id=e.event_id,
        rationale=e.text("rationale") or "",
        decided_at=e.occurred_at,
        reported_at=e.reported_at,
    )


# -- filters (SPEC.md §2) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A knowledge-time window ``[start, end)``; either end may be open."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, t: datetime | None) -> bool:
        if t is None:
            return False
        return (self.start is None or self.start <= t) and (self.end is None or t < self.end)


@dataclass(frozen=True, slots=True)
class Filters:
    """The findings endpoint's filters. ``cleared``: ``False`` (default) only findings
    not cleared, ``True`` only cleared ones, ``None`` any. ``open``: state findings
    with ``valid_to`` unset (``True``) or set (``False``); event findings count as
    open unless closed (R16 after a disposition)."""

    rule: str | None = None
    kind: FindingKind | None = None
    asset: str | None = None
    contract: str | None = None
    party: str | None = None
    cleared: bool | None = False
    active_at: datetime | None = None
    open: bool | None = None
    detected: Window | None = None
    cleared_within: Window | None = None

    def keep(self, f: Finding) -> bool:
        return (
            (self.rule is None or f.rule == self.rule)
            and (self.kind is None or f.kind is self.kind)
            and (self.asset is None or f.asset_id == self.asset)
            and (self.contract is None or f.contract_id == self.contract)
            and (self.party is None or self.party in f.parties)
            and (self.cleared is None or f.cleared == self.cleared)
            and (self.active_at is None or f.active_at(self.active_at))
            and (self.open is None or f.open == self.open)
            and (self.detected is None or self.detected.contains(f.detected_at))
            and (self.cleared_within is None or self.cleared_within.contains(f.cleared_at))
        )


def select(findings: Iterable[Finding], filters: Filters | None = None) -> tuple[Finding, ...]:
    chosen = filters or Filters()
    return _order(f for f in findings if chosen.keep(f))
