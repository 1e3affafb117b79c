"""One asset's last evaluation, kept so that events arriving at the end of its world
order extend it instead of folding the asset again (:class:`AssetMemo`), and the
findings of a scope with what that extension kept (:class:`Evaluated`)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime

from mypy_extensions import mypyc_attr

from domain.fold import AssetState, apply
from domain.history import Event, WorldKey
from domain.reference import Read, Reference
from domain.rules.catalogue import WHOLE_RULES, step_findings
from domain.rules.facts import CUT_TYPES, REPAIRS, AssetFacts, CutFacts, StepIndex
from domain.rules.findings import Finding
from domain.rules.resume import Inventories, resumed_rules
from domain.state import Group, History, Segment, Step, add_to_groups, group_segments
from domain.vocabulary import EventType

_REBUILDS = CUT_TYPES - {EventType.INVENTORY_COMPLETED}
"""Events of the asset that build its evaluation again. An inventory does not: it is
one more step, and the inventories of the cut matter to R14 only, which judges them
again when they change (:class:`~domain.rules.resume.Inventories`)."""


@mypyc_attr(native_class=False)  # mypyc compiles no subclass of tuple
class Evaluated(tuple[Finding, ...]):
    """A scope's findings, with what the last evaluation of the same scope tells: the
    first ``kept`` are the very findings it gave (the same objects), and the first
    ``stable`` come from rules whose findings a later extension keeps. The tracker
    then compares only the rest."""

    kept: int = 0
    stable: int = 0


class AssetMemo:
    """One asset's evaluation at the last knowledge cut it was evaluated at: its steps,
    the grouping of its segments, the findings of the rules that judge one step at a
    time (``STEP_RULES``) and what the rules over the intervals (``WHOLE_RULES``) keep
    of their last evaluation (:mod:`domain.rules.resume`). Events that arrive at the
    end of the asset's world order, with the same reference data, registration,
    inventories and dispositions, extend it: the earlier steps, segments and step
    findings stay as they were (those rules look only at a step and the steps before
    it), the segments before the last group too, and the interval rules judge again
    only what the new steps can change — so the cost is the new steps and the end of
    the history, not all of it. So does an evaluation without new events of the asset
    (an inventory elsewhere that may expect it). Anything else builds it again.
    ``Evaluator(incremental=False)`` always builds: the tests compare the two.

    New reference data builds it again only when it answers differently a question
    this evaluation asked of the reference data it was made with: every evaluation
    reads the reference data through a view that records its questions (``reads``,
    :meth:`Reference.reading`), and :meth:`sees` asks them again of the new data.
    The findings are a function of the asset's events, the cut and those answers, so a
    new party, or an authorisation of a unit the asset never met, leaves it as it was
    instead of folding its whole history again."""

    __slots__ = (
        "changed",
        "dispositions",
        "found",
        "group_start",
        "groups",
        "index",
        "keys",
        "local",
        "local_at",
        "reads",
        "ref",
        "registered",
        "registration",
        "rules",
        "segments",
        "steps",
        "support",
        "view",
    )

    def __init__(
        self, ref: Reference, cut: CutFacts, asset_id: str, reads: set[Read] | None = None
    ) -> None:
        self.ref = ref
        self.reads: set[Read] = set() if reads is None else reads
        self.view = ref.reading(self.reads)
        self.registration = cut.registrations.get(asset_id)
        self.dispositions = cut.asset_dispositions.get(asset_id, ())
        self.steps: list[Step] = []
        self.keys: list[WorldKey] = []
        self.groups: list[Group] = []
        self.segments: list[Segment] = []
        self.group_start: list[int] = []
        self.local: list[Finding] = []
        self.local_at: list[int] = []  # per step, how many of ``local`` come before it
        self.support: list[Event] = []
        self.registered: Event | None = None
        self.index = StepIndex()
        self.rules = resumed_rules()
        self.changed = 0  # the first segment rebuilt since the interval rules last ran
        self.found: dict[str, list[Finding]] = {}  # each interval rule's, as last judged

    @classmethod
    def build(
        cls, history: History, asset_id: str, k: datetime | None, ref: Reference, cut: CutFacts
    ) -> AssetMemo:
        memo = cls(ref, cut, asset_id)
        steps: list[Step] = []
        state: AssetState | None = None
        for e in history.log.of_asset(asset_id, k):
            after = apply(state, e, memo.view, asset_id)
            steps.append(Step(e, state, after))
            state = after
        memo._add(steps, asset_id, ref, cut)
        return memo

    def sees(self, ref: Reference) -> bool:
        """Whether this evaluation stands under reference data ``ref``: it was made
        with it, or ``ref`` answers every question it asked alike (it then goes on
        with ``ref``)."""
        if ref is self.ref:
            return True
        if not self.ref.answers_alike(ref, self.reads):
            return False
        self.ref, self.view = ref, ref.reading(self.reads)
        return True

    def fits(self, ref: Reference, cut: CutFacts, asset_id: str, news: Sequence[Event]) -> bool:
        """Whether ``news`` extend this evaluation (:meth:`extend`)."""
        if not self.rewinds(ref, cut, asset_id, news):
            return False
        last = self.keys[-1]
        return all(e.world_key > last for e in news)

    def rewinds(self, ref: Reference, cut: CutFacts, asset_id: str, news: Sequence[Event]) -> bool:
        """Whether ``news`` leave every input but the asset's steps as they were, so
        that :meth:`rewound` may keep the steps before the earliest of them."""
        return (
            bool(self.steps)
            and all(e.type not in _REBUILDS for e in news)
            and cut.registrations.get(asset_id) is self.registration
            and cut.asset_dispositions.get(asset_id, ()) == self.dispositions
            and self.sees(ref)
        )

    def extend(
        self, asset_id: str, news: Sequence[Event], ref: Reference, cut: CutFacts
    ) -> AssetFacts:
        """Append ``news`` (:meth:`fits`) as steps."""
        state = self.steps[-1].after
        steps = []
        for e in sorted(news, key=_world_key) if len(news) > 1 else news:
            after = apply(state, e, self.view, asset_id)
            steps.append(Step(e, state, after))
            state = after
        return self._add(steps, asset_id, ref, cut)

    def spliced(
        self, asset_id: str, news: Sequence[Event], ref: Reference, cut: CutFacts
    ) -> tuple[AssetFacts, int] | None:
        """``news`` (:meth:`rewinds`) put in their places among the steps, when none of
        them changes the state there (a late observation or support event), and the
        findings before the first of them that stay the same objects; ``None``, and
        this memo untouched, when one would change it (:meth:`rewound` then).

        A step that changes no state makes no group (``add_to_groups``), so the
        segments stand, and every later step keeps its state. The step rules read a
        step, the states before it and the reference data (``STEP_RULES``), so the
        later steps' findings stand too: only the new steps are judged. What the
        interval rules kept reads the segments, the work orders, the custodians and
        the inventory steps, which such a step leaves as they were but for the indices
        after it: those move (:meth:`StepIndex.inserted`), and :meth:`whole` then goes
        on as after steps appended that change no state (``still``)."""
        places: list[tuple[int, Step]] = []
        for e in news:
            i = bisect_left(self.keys, e.world_key)
            if i == 0 or e.type is EventType.INVENTORY_COMPLETED:
                # Before the first step, the index's first run would move; an
                # inventory is one of R14's steps (it changes the state anyway).
                return None
            before = self.steps[i - 1].after
            if apply(before, e, self.view, asset_id) is not before:
                return None
            places.append((i, Step(e, before, before)))
        places.sort(key=lambda p: p[1].event.world_key)
        first = places[0][0]
        kept = self.local_at[first] if first < len(self.local_at) else len(self.local)
        new_at: list[int] = []
        for shift, (i, step) in enumerate(places):
            at = i + shift  # the news before it in world order are in already
            self.steps.insert(at, step)
            self.keys.insert(at, step.event.world_key)
            self.index.inserted(at)
            new_at.append(at)
        if any(_is_support(e) for e in news):
            self.support = [s.event for s in self.steps if _is_support(s.event)]
        facts = self.facts(asset_id, ref, cut)
        self._judge_inserted(facts, new_at)
        return facts, kept

    def _judge_inserted(self, facts: AssetFacts, new_at: Sequence[int]) -> None:
        """The step findings with those of the inserted steps (at ``new_at``, in
        order) put in their places; the others' stay (the same objects)."""
        local: list[Finding] = []
        local_at: list[int] = []
        old = 0  # the next step of the old list
        inserted = set(new_at)
        for j in range(len(self.steps)):
            local_at.append(len(local))
            if j in inserted:
                local.extend(step_findings(facts, j, j + 1))
                continue
            end = self.local_at[old + 1] if old + 1 < len(self.local_at) else len(self.local)
            local.extend(self.local[self.local_at[old] : end])
            old += 1
        self.local, self.local_at = local, local_at

    def rewound(
        self, asset_id: str, news: Sequence[Event], ref: Reference, cut: CutFacts
    ) -> tuple[AssetMemo, AssetFacts]:
        """A new evaluation with ``news`` (:meth:`rewinds`), some of them earlier in
        world order than this evaluation's last step (a late report): the steps before
        the earliest of them, their step findings and the groups wholly before it are
        kept (a step's state and step findings depend only on the steps before it);
        the rest is folded again with the news, and the interval rules judge it all
        afresh. What :meth:`build` would give, without folding the history again."""
        i = bisect_left(self.keys, min(e.world_key for e in news))
        kept = self.steps[:i]
        state = kept[-1].after if kept else None
        new: list[Step] = []
        # The kept steps were judged with what ``reads`` holds: the new memo goes on
        # recording there.
        memo = AssetMemo(ref, cut, asset_id, self.reads)
        for e in sorted([*(s.event for s in self.steps[i:]), *news], key=_world_key):
            after = apply(state, e, memo.view, asset_id)
            new.append(Step(e, state, after))
            state = after
        memo.steps = [*kept, *new]
        memo.keys = [*self.keys[:i], *(s.event.world_key for s in new)]
        # The groups of instants before the first step not kept stay (every kept step
        # is earlier: the news are reported after all of them, so a kept step at the
        # same instant as the news comes before them). The last of those groups ends
        # where the next begins, so its segments are made again with the rest.
        at = self.steps[i].event.occurred_at
        g = bisect_left([x[0] for x in self.groups], at)
        memo.groups = [*self.groups[: g - 1]] if g else []
        if g:
            last_at, last_state, ids, custody_ids = self.groups[g - 1]
            memo.groups.append((last_at, last_state, [*ids], [*custody_ids]))
        memo.group_start = self.group_start[: max(g - 1, 0)]
        memo.segments = self.segments[: self.group_start[g - 1]] if g else []
        add_to_groups(memo.groups, new, None)
        for x in range(len(memo.group_start), len(memo.groups)):
            memo.group_start.append(len(memo.segments))
            memo.segments.extend(group_segments(memo.groups, x, memo.view, None))
        for s in memo.steps:
            e = s.event
            if _is_support(e):
                memo.support.append(e)
            if memo.registered is None and e.type is EventType.ASSET_REGISTERED and s.applied:
                memo.registered = e
        memo.index = StepIndex.of(memo.steps)
        facts = memo.facts(asset_id, ref, cut)
        memo.local_at = self.local_at[:i]
        memo.local = self.local[: self.local_at[i]]
        for j in range(i, len(memo.steps)):
            memo.local_at.append(len(memo.local))
            memo.local.extend(step_findings(facts, j, j + 1))
        return memo, facts

    def _add(
        self, steps: Sequence[Step], asset_id: str, ref: Reference, cut: CutFacts
    ) -> AssetFacts:
        first_new = len(self.steps)
        self.steps.extend(steps)
        self.keys.extend(s.event.world_key for s in steps)
        for s in steps:
            e = s.event
            if _is_support(e):
                self.support.append(e)
            if self.registered is None and e.type is EventType.ASSET_REGISTERED and s.applied:
                self.registered = e
        if first_new == 0 or any(s.applied for s in steps):
            # The last group's segments end where a new group starts: redo from it.
            redo = max(len(self.groups) - 1, 0)
            add_to_groups(self.groups, steps, None)
            rebuilt = self.group_start[redo] if redo < len(self.group_start) else len(self.segments)
            self.changed = min(self.changed, rebuilt)
            del self.segments[rebuilt:]
            del self.group_start[redo:]
            for g in range(redo, len(self.groups)):
                self.group_start.append(len(self.segments))
                self.segments.extend(group_segments(self.groups, g, self.view, None))
        # else: steps that change no state (observations, support), appended at the
        # end, make no group: the segments stand as they were (the very objects), and
        # so do the interval rules' findings but R14's (:meth:`whole`, ``still``).
        self.index.add(self.steps, first_new)
        facts = self.facts(asset_id, ref, cut)
        for i in range(first_new, len(self.steps)):
            self.local_at.append(len(self.local))
            self.local.extend(step_findings(facts, i, i + 1))
        return facts

    def prior(self, e: Event) -> AssetState | None:
        """The state just before ``e`` in the asset's world order (:meth:`History.prior`
        at the knowledge time of this evaluation)."""
        i = bisect_left(self.keys, e.world_key)
        return self.steps[i - 1].after if i else None

    def whole(
        self, facts: AssetFacts, *, still: bool = False
    ) -> tuple[list[Finding], list[Finding]]:
        """The findings of ``WHOLE_RULES`` over ``facts`` (this memo's), in catalogue
        order, and R03's among them; each rule resumes from what it kept.
        ``still``: nothing but the cut's inventories and steps that change no state
        (:attr:`Step.applied`), appended at the end, are new since the last time (an
        inventory elsewhere that may expect the asset; an observation or support of
        it). Those make no segment and set none of what R12 and R13 read of the step
        index (a work order, a verification, a partner entry): only R14 may find
        otherwise — it reads the inventory steps and the last step — and the other
        rules' findings stand as they were; R14's too while it stands
        (:meth:`~domain.rules.resume.Inventories.stands`)."""
        settled = self.group_start[-1] if self.group_start else 0
        out: list[Finding] = []
        r03: list[Finding] = []
        # Every segment was judged by the last evaluation (only ``_add`` and ``rewound``
        # leave some unjudged, and both are followed by a full ``whole``).
        assert not still or self.changed == len(self.segments)
        standing = still
        r14 = self.rules.get("R14")
        for code, fn in WHOLE_RULES.items():
            if (
                standing
                and code in self.found
                and (code != "R14" or (isinstance(r14, Inventories) and r14.stands(facts)))
            ):
                found = self.found[code]
            else:
                resumed = self.rules.get(code)
                found = (
                    fn(facts) if resumed is None else resumed.findings(facts, self.changed, settled)
                )
                self.found[code] = found
            out += found
            if code == "R03":
                r03 = found
        self.changed = len(self.segments)
        return out, r03

    def facts(self, asset_id: str, ref: Reference, cut: CutFacts) -> AssetFacts:
        """What the rules read of this evaluation; ``ref`` (the reference data it was
        made with, or :meth:`sees`) is read through the view that records the questions."""
        contract_id = cut.contract_of(asset_id)
        view = self.view
        return AssetFacts(
            asset_id=asset_id,
            contract_id=contract_id,
            ref=view,
            terms=view.terms(contract_id),
            steps=self.steps,
            segments=self.segments,
            cut=cut,
            keys=self.keys,
            given_index=self.index,
        )


def evaluated(
    memo: AssetMemo | None,
    history: History,
    cut: CutFacts,
    asset_id: str,
    k: datetime | None,
    news: Sequence[Event] | None,
) -> tuple[AssetMemo, AssetFacts, int, bool]:
    """The asset's evaluation at ``k`` (``memo``: its last, if kept): that one
    extended, spliced or rewound when it may be, else built; the facts, how many of
    its step findings are the last one's (``Evaluated.kept``), and whether only steps
    that change no state are new (:meth:`AssetMemo.whole`, ``still``)."""
    ref = history.reference(k)
    kept = 0
    plain = (
        memo is not None and news is not None and all(history.log.version(e, k) is e for e in news)
    )
    still = False
    if plain and memo is not None and news is not None and memo.fits(ref, cut, asset_id, news):
        kept = len(memo.local)
        if news:
            facts = memo.extend(asset_id, news, ref, cut)
            # Observations or support only: no state changed (AssetMemo.whole).
            still = not any(s.applied for s in memo.steps[-len(news) :])
        else:
            # Nothing of the asset's own, and the reference data's answers, the
            # registration and the dispositions as they were: only the cut's
            # inventories may have changed (an inventory elsewhere may expect it).
            facts = memo.facts(asset_id, ref, cut)
            still = True
    elif plain and memo is not None and news and memo.rewinds(ref, cut, asset_id, news):
        # A late report: put in its place when it changes no state (the rest
        # stands, as after ``extend``); else the steps before it stay, the rest is
        # folded again (the tracker compares every finding, ``kept`` 0).
        if (spliced := memo.spliced(asset_id, news, ref, cut)) is not None:
            (facts, kept), still = spliced, True
        else:
            memo, facts = memo.rewound(asset_id, news, ref, cut)
    else:
        memo = AssetMemo.build(history, asset_id, k, ref, cut)
        facts = memo.facts(asset_id, ref, cut)
    return memo, facts, kept, still


def _is_support(e: Event) -> bool:
    """Whether ``e`` is one of an asset's support events (C04 reads them)."""
    return e.type is EventType.SUPPORT_PROVIDED or e.type in REPAIRS


def _world_key(e: Event) -> WorldKey:
    return e.world_key
