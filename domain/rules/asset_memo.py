"""One asset's last evaluation, kept so that events arriving at the end of its world
order extend it instead of folding the asset again (:class:`AssetMemo`), and the
findings of a scope with what that extension kept (:class:`Evaluated`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.fold import apply
from domain.history import Event, WorldKey
from domain.reference import Reference
from domain.rules.catalogue import step_findings
from domain.rules.facts import CUT_TYPES, REPAIRS, AssetFacts, CutFacts, StepIndex
from domain.rules.findings import Finding
from domain.state import Group, History, Segment, Step, add_to_groups, group_segments
from domain.vocabulary import EventType


class Evaluated(tuple[Finding, ...]):
    """A scope's findings, with what the last evaluation of the same scope tells: the
    first ``kept`` are the very findings it gave (the same objects), and the first
    ``stable`` come from rules whose findings a later extension keeps. The tracker
    then compares only the rest."""

    kept: int = 0
    stable: int = 0


class AssetMemo:
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
    ) -> AssetMemo:
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
