"""C04 and C05 of each asset of a contract, judged one asset at a time and kept
(:class:`SupportAndDelivery`): what :class:`~domain.rules.evaluation.Evaluator` asks
of an asset's part under its contract's actions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from domain.history import Event
from domain.reference import Read, Reference
from domain.rules.asked import Asked
from domain.rules.contract import (
    c04_support_during_suspension,
    c05_delivery_during_hold,
    covering,
)
from domain.rules.facts import AssetPart, ContractFacts, CutFacts, contract_facts
from domain.rules.findings import Finding, ordered
from domain.rules.spans import Span, holds, suspensions, union


@dataclass(frozen=True, slots=True, init=False)
class _Judged0405:
    """C04 and C05 of one asset of a contract as last judged, with what they read:
    the reference data (one object per change of it, and the questions asked of it:
    :meth:`Reference.reading`), the contract's suspensions and delivery holds, the
    asset's support and repair events and its registration (one version of one
    event)."""

    ref: Reference
    reads: set[Read]
    suspended: list[Span]
    held: list[Span]
    support: tuple[Event, ...]
    registration: Event | None
    c04: tuple[Finding, ...]
    c05: tuple[Finding, ...]
    found: tuple[Finding, ...]

    # Written out (``init=False``): mypyc compiles it, where the one ``dataclass``
    # generates runs as Python (docs/decisions/0028; tests/unit/test_inits.py).
    def __init__(
        self,
        ref: Reference,
        reads: set[Read],
        suspended: list[Span],
        held: list[Span],
        support: tuple[Event, ...],
        registration: Event | None,
        c04: tuple[Finding, ...],
        c05: tuple[Finding, ...],
        found: tuple[Finding, ...],
    ) -> None:
        object.__setattr__(self, "ref", ref)
        object.__setattr__(self, "reads", reads)
        object.__setattr__(self, "suspended", suspended)
        object.__setattr__(self, "held", held)
        object.__setattr__(self, "support", support)
        object.__setattr__(self, "registration", registration)
        object.__setattr__(self, "c04", c04)
        object.__setattr__(self, "c05", c05)
        object.__setattr__(self, "found", found)


class SupportAndDelivery:
    """C04 and C05 of each asset of each contract as last judged (incremental: kept
    and judged again only where their inputs changed; else judged whole each time),
    and each contract's merged suspensions and delivery holds. The questions each
    judgement asks of the reference data are noted in ``asked``."""

    def __init__(self, incremental: bool, asked: Asked) -> None:
        self.incremental = incremental
        self._asked = asked
        # Per (contract, asset): the inputs C04/C05 were last judged on, and what they found.
        self._c04_c05: dict[tuple[str, str], _Judged0405] = {}
        # Per contract: its actions, and the suspensions and holds they make.
        self._action_spans: dict[str, tuple[tuple[Event, ...], list[Span], list[Span]]] = {}

    def judge(
        self,
        contract_id: str,
        ref: Reference,
        cut: CutFacts,
        actions: tuple[Event, ...],
        part: AssetPart,
    ) -> tuple[Finding, ...]:
        """C04 and C05 of one asset of a contract. C04 reads the reference data, the
        contract's suspensions and the asset's support and repair events, one at a
        time; C05 the reference data, the delivery holds and the asset's registration.
        While those are as they were, what each found last time stands (the same
        objects, which the tracker passes over without comparing them), and support
        events appended since are judged on their own (most of an asset's events are
        neither; most contract actions change neither the suspensions nor the holds)."""
        suspended, held = self.spans(contract_id, actions)
        last = self._c04_c05.get((contract_id, part.asset_id)) if self.incremental else None
        if last is not None and last.ref is not ref and not last.ref.answers_alike(ref, last.reads):
            last = None  # new reference data that answers what they asked otherwise
        reads: set[Read] = set() if last is None else last.reads

        def facts_of(p: AssetPart) -> ContractFacts:  # read through a view that records
            return contract_facts(contract_id, ref.reading(reads), cut, [p])

        support = part.support
        one: ContractFacts | None = None
        if last is None or last.suspended != suspended:
            one = facts_of(part)
            c04 = tuple(c04_support_during_suspension(one))
        elif support[: len(last.support)] != last.support:
            c04 = tuple(c04_support_during_suspension(facts_of(part)))
        elif len(support) > len(last.support) and all(
            covering(suspended, e.occurred_at) is None for e in support[len(last.support) :]
        ):
            c04 = last.c04  # none of the new ones falls in a suspension: C04 finds none
        elif len(support) > len(last.support):
            new = AssetPart(part.asset_id, part.unaccounted, support[len(last.support) :], None)
            c04 = (*last.c04, *c04_support_during_suspension(facts_of(new)))
        else:
            c04 = last.c04
        if last is None or last.held != held or last.registration is not part.registration:
            one = one or facts_of(part)
            c05 = tuple(c05_delivery_during_hold(one))
        else:
            c05 = last.c05
        if last is not None and c04 is last.c04 and c05 is last.c05:
            found = last.found
        else:
            found = ordered([*c04, *c05])
        self._c04_c05[(contract_id, part.asset_id)] = _Judged0405(
            ref, reads, suspended, held, support, part.registration, c04, c05, found
        )
        if self.incremental:
            self._asked.note((contract_id, part.asset_id), part.asset_id, reads)
        return found

    def redo(
        self,
        contract_id: str,
        actions: tuple[Event, ...],
        members: Mapping[str, AssetPart],
        judged: set[str],
        assets: Iterable[str] | None,
        moved: bool,
    ) -> set[str]:
        """The assets whose C04/C05 to judge: every one (its ``members`` and those
        ``judged`` before) when everything is judged again, or when new ``actions``
        (``moved``) change the contract's merged suspensions or holds; else those with
        news (``assets``). C04 and C05 read the actions only through those spans, so
        under new actions that suspend and hold as before (most of them) each asset's
        findings stand. The union of every one is built only then: a contract of
        10,000 assets, built at every asset's news, was a fifth of a walk."""
        if assets is not None and moved:
            kept = self._action_spans.get(contract_id)
            stand = kept is not None and self.spans(contract_id, actions) == kept[1:]
            if not (stand and self.incremental):
                assets = None
        return set(members) | judged if assets is None else set(assets)

    def spans(self, contract_id: str, actions: tuple[Event, ...]) -> tuple[list[Span], list[Span]]:
        """The contract's suspensions and delivery holds, merged (kept while its actions
        are the same)."""
        kept = self._action_spans.get(contract_id)
        if kept is None or (kept[0] is not actions and kept[0] != actions):
            kept = (actions, union(suspensions(actions)), union(holds(actions)))
            self._action_spans[contract_id] = kept
        return kept[1], kept[2]
