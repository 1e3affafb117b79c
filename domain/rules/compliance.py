"""Contract compliance at ``(as_of, known_at)`` (DOMAIN.md §7 "Contract"): must support
be suspended, is it, is a delivery hold in effect, and which assets are accounted for.

``support`` is ``suspend`` while C01 is active at ``as_of``, else ``eligible``. The
assets holding support back are those whose R03 interval (the pieces C01 is the union
of) contains ``as_of``, each with the instant it became unaccounted for — the start of
its not-accounted interval, before the ``unaccounted_max_days`` allowance.

Choices where DOMAIN.md is silent:

* An asset counts from its delivery: one whose registration is known but which has
  no state at ``as_of`` (delivered later) is in neither list.
* Suspension and hold intervals come from the contract's ``contract_action`` events
  in world order (:func:`domain.rules.spans.suspensions` and ``holds``); the
  ``…_since`` fields give the start of the interval in effect at ``as_of``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.fold import AssetState, Unaccounted, unaccounted_reason
from domain.history import Event
from domain.instants import to_stored
from domain.reference import Reference
from domain.rules.contract import c01_suspension_required
from domain.rules.custody import r03_unaccounted
from domain.rules.evaluation import Evaluator
from domain.rules.facts import (
    AssetPart,
    asset_facts,
    contract_facts,
)
from domain.rules.findings import Finding
from domain.rules.spans import Span, holds, suspensions
from domain.state import History

__all__ = [
    "Compliance",
    "HeldBack",
    "Support",
    "compliance",
    "compliance_of",
    "holds",
    "suspensions",
]


class Support(StrEnum):
    SUSPEND = "suspend"
    ELIGIBLE = "eligible"


@dataclass(frozen=True, slots=True)
class HeldBack:
    """An asset holding support back: unaccounted for since ``unaccounted_since``."""

    asset_id: str
    unaccounted_since: datetime
    reason: Unaccounted | None
    finding_key: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset_id": self.asset_id,
            "unaccounted_since": to_stored(self.unaccounted_since),
            "reason": None if self.reason is None else self.reason.value,
            "finding_key": self.finding_key,
        }


@dataclass(frozen=True, slots=True)
class Compliance:
    contract_id: str
    as_of: datetime
    known_at: datetime | None
    support: Support
    suspension_required_since: datetime | None
    suspension_in_effect: bool
    suspended_since: datetime | None
    delivery_hold_in_effect: bool
    hold_since: datetime | None
    accounted_for: tuple[str, ...]
    not_accounted_for: tuple[str, ...]
    reasons: tuple[tuple[str, Unaccounted], ...]
    holding_support_back: tuple[HeldBack, ...]
    suspension_required: tuple[Finding, ...]
    suspension_spans: tuple[Span, ...]
    hold_spans: tuple[Span, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "as_of": to_stored(self.as_of),
            "known_at": _stored(self.known_at),
            "support": self.support.value,
            "suspension_required_since": _stored(self.suspension_required_since),
            "suspension_in_effect": self.suspension_in_effect,
            "suspended_since": _stored(self.suspended_since),
            "delivery_hold_in_effect": self.delivery_hold_in_effect,
            "hold_since": _stored(self.hold_since),
            "accounted_for": list(self.accounted_for),
            "not_accounted_for": list(self.not_accounted_for),
            "not_accounted_reasons": {a: r.value for a, r in self.reasons},
            "holding_support_back": [h.to_dict() for h in self.holding_support_back],
        }


def _stored(t: datetime | None) -> str | None:
    return None if t is None else to_stored(t)


def span_dict(s: Span) -> dict[str, Any]:
    return {
        "valid_from": to_stored(s.valid_from),
        "valid_to": _stored(s.valid_to),
        "opened_by": list(s.opened_by),
        "closed_by": list(s.closed_by),
    }


def _in_effect(spans: list[Span], t: datetime) -> Span | None:
    return next((s for s in spans if s.contains(t)), None)


def compliance(
    history: History, contract_id: str, as_of: datetime, known_at: datetime | None
) -> Compliance:
    """Compliance folded from the log (every asset of the contract at ``known_at``)."""
    return compliance_in_chunks(
        history, lambda mine: [(mine, history)], contract_id, as_of, known_at
    )


def compliance_in_chunks(
    frame: History,
    chunks: Callable[[Sequence[str]], Iterable[tuple[Sequence[str], History]]],
    contract_id: str,
    as_of: datetime,
    known_at: datetime | None,
) -> Compliance:
    """Compliance folded from the log a share of the contract's assets at a time, so
    that no more than one share's events are held at once.

    ``frame`` holds the events every asset's rules read (the reference data, the
    contract's actions, the registrations, inventories and dispositions of its
    history); ``chunks(assets)`` gives shares of ``assets``, together every one, each
    with a history of ``frame``'s events and the share's own. Compliance reads only C01 of the contract
    rules, and C01 only the assets' R03 findings: an asset's part keeps nothing else."""
    cut = Evaluator(frame, contract_id).refresh(known_at)
    ref = frame.reference(known_at)
    mine = cut.assets_of(contract_id)
    states: dict[str, AssetState | None] = {}
    r03: dict[str, list[Finding]] = {}
    for share, history in chunks(mine):
        for a in share:
            facts = asset_facts(history, a, known_at, cut)
            r03[a] = r03_unaccounted(facts)
            states[a] = history.state(a, as_of, known_at)
    missing = [a for a in mine if a not in states]
    assert not missing, f"no share holds {missing[:3]}"
    parts = [AssetPart(a, tuple(r03[a]), (), None) for a in mine]
    facts_c = contract_facts(contract_id, ref, cut, parts)
    required = c01_suspension_required(facts_c)
    states = {a: states[a] for a in mine}
    return compliance_of(contract_id, ref, facts_c.actions, states, r03, required, as_of, known_at)


def compliance_of(
    contract_id: str,
    ref: Reference,
    actions: Sequence[Event],
    states: Mapping[str, AssetState | None],
    r03: Mapping[str, Sequence[Finding]],
    required: Sequence[Finding],
    as_of: datetime,
    known_at: datetime | None,
) -> Compliance:
    """Compliance from its inputs: the contract's effective actions, each asset's
    state at ``as_of`` (in the contract's asset order), its R03 findings and the C01
    findings, all as implied at ``known_at``. The report built from the projections
    gives the same inputs without folding the log."""
    terms = ref.terms(contract_id)
    accounted: list[str] = []
    unaccounted: list[tuple[str, Unaccounted]] = []
    held: list[HeldBack] = []
    for a, state in states.items():
        if state is None:
            continue
        reason = unaccounted_reason(state, ref, as_of)
        if reason is None:
            accounted.append(a)
        else:
            unaccounted.append((a, reason))
        for f in r03.get(a, ()):
            if f.active_at(as_of):
                held.append(
                    HeldBack(a, f.valid_from - terms.unaccounted_max, reason, f.finding_key)
                )
    active = next((f for f in required if f.active_at(as_of)), None)
    suspended = suspensions(actions)
    held_spans = holds(actions)
    suspension = _in_effect(suspended, as_of)
    hold = _in_effect(held_spans, as_of)
    return Compliance(
        contract_id=contract_id,
        as_of=as_of,
        known_at=known_at,
        support=Support.ELIGIBLE if active is None else Support.SUSPEND,
        suspension_required_since=None if active is None else active.valid_from,
        suspension_in_effect=suspension is not None,
        suspended_since=None if suspension is None else suspension.valid_from,
        delivery_hold_in_effect=hold is not None,
        hold_since=None if hold is None else hold.valid_from,
        accounted_for=tuple(accounted),
        not_accounted_for=tuple(a for a, _ in unaccounted),
        reasons=tuple(unaccounted),
        holding_support_back=tuple(sorted(held, key=lambda h: (h.unaccounted_since, h.asset_id))),
        suspension_required=tuple(required),
        suspension_spans=tuple(suspended),
        hold_spans=tuple(held_spans),
    )
