"""Record rules (DOMAIN.md §5): where the record contradicts itself or a sighting —
R06 chain-of-custody break, R07 observed custody conflict, R08 event after terminal,
R16 potential unauthorised use.

Choices where DOMAIN.md is silent (each is tested):

* R06 and R07 judge against the prior custodian; when there is none (lost,
  destroyed, not yet registered) any named party is "not related", as DOMAIN says,
  so a transfer of a wreck naming ``from_party`` is an R06.
* R08 "observations of a wreck": an observation whose ``condition`` is one of
  :data:`WRECK_CONDITIONS` (case and ``-``/space insensitive). Any other condition is
  the asset seen in use, which contradicts its terminal status. A second destruction
  report is not in DOMAIN's exceptions, so it is an R08.
* R16 "stays until dispositioned": its ``valid_to`` is the ``occurred_at`` of the
  first effective ``finding_dispositioned`` naming its key. Dispositions change
  nothing else.
"""

from __future__ import annotations

from domain.history import Event
from domain.rules.facts import AssetFacts, custodian_in
from domain.rules.findings import Finding, FindingKind, Severity
from domain.rules.making import FINDING_FIELDS, Rule, each_step, event_finding, named_parties
from domain.vocabulary import EventType, UseAssessment

R06 = Rule("R06", "CHAIN_OF_CUSTODY_BREAK", FindingKind.DISCREPANCY)
R07 = Rule("R07", "OBSERVED_CUSTODY_CONFLICT", FindingKind.DISCREPANCY)
R08 = Rule("R08", "EVENT_AFTER_TERMINAL", FindingKind.DISCREPANCY)
R16 = Rule("R16", "POTENTIAL_UNAUTHORISED_USE", FindingKind.DISCREPANCY)


WRECK_CONDITIONS: frozenset[str] = frozenset(
    {
        "wreck",
        "wrecked",
        "wreckage",
        "destroyed",
        "burnt_out",
        "burned_out",
        "hulk",
        "scrapped",
        "demilitarised",
        "demilitarized",
    }
)


_TAKINGS = frozenset(
    {EventType.CUSTODY_TRANSFERRED, EventType.ASSET_CAPTURED, EventType.ASSET_RECOVERED}
)


_AFTER_TERMINAL_ALLOWED = frozenset(
    {
        EventType.CUSTODY_TRANSFERRED,
        EventType.ASSET_DECOMMISSIONED,
        EventType.INVENTORY_COMPLETED,
        EventType.CONTRACT_ACTION,
        # Not events of the asset: a disposition is about a finding; retractions and
        # corrections never reach a rule (``Event.subjects``), listed for the reader.
        EventType.FINDING_DISPOSITIONED,
        EventType.EVENT_RETRACTED,
        EventType.EVENT_CORRECTED,
    }
)


R06_TYPES = _TAKINGS
"""The event types R06 judges (any other step: no finding); R07 and R16 judge
observations only, R08 any event."""

OBSERVATIONS = frozenset({EventType.OBSERVATION})


def r06_at(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e = step.event
    named = e.text("from_party")
    if e.type not in _TAKINGS or named is None:
        return None
    holder = custodian_in(step.before)
    if f.ref.related(named, holder):
        return None
    before = step.before
    return event_finding(
        R06,
        f,
        e,
        Severity.MEDIUM,
        f"{e.type.value} of {f.asset_id} names {named} as from_party, but the "
        f"ledger's custodian was {holder or 'none'}",
        (named, holder, *named_parties(e)),
        () if before is None else (before.last_event_id,),
    )


def r06_chain_of_custody_break(f: AssetFacts) -> list[Finding]:
    return each_step(f, r06_at)


def r07_at(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e = step.event
    if e.type is not EventType.OBSERVATION:
        return None
    seen = e.text("observed_party")
    if seen is None or e.confidence.rank < f.terms.conflict_min_confidence.rank:
        return None
    before = step.before
    if before is not None and before.terminal:
        return None
    holder = custodian_in(before)
    if f.ref.related(seen, holder):
        return None
    return event_finding(
        R07,
        f,
        e,
        Severity.MEDIUM,
        f"{f.asset_id} observed with {seen} ({e.confidence.value}) while the "
        f"ledger's custodian was {holder or 'none'}",
        (seen, holder),
        () if before is None else (before.last_event_id,),
    )


def r07_observed_custody_conflict(f: AssetFacts) -> list[Finding]:
    return each_step(f, r07_at)


def _wreck_sighting(e: Event) -> bool:
    condition = (e.text("condition") or "").strip().lower().replace("-", "_").replace(" ", "_")
    return condition in WRECK_CONDITIONS


def r08_at(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e, before = step.event, step.before
    if before is None or not before.terminal or e.type in _AFTER_TERMINAL_ALLOWED:
        return None
    if e.type is EventType.OBSERVATION and _wreck_sighting(e):
        return None
    return event_finding(
        R08,
        f,
        e,
        Severity.MEDIUM,
        f"{e.type.value} of {f.asset_id} after it was {before.status.value.lower()}",
        (e.reporter, *named_parties(e)),
        (before.last_event_id,),
    )


def r08_event_after_terminal(f: AssetFacts) -> list[Finding]:
    return each_step(f, r08_at)


def r16_at(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e = step.event
    if e.type is not EventType.OBSERVATION:
        return None
    if e.text("use_assessment") != UseAssessment.POTENTIALLY_UNAUTHORISED.value:
        return None
    found = event_finding(
        R16,
        f,
        e,
        Severity.MEDIUM,
        f"{f.asset_id} observed in potentially unauthorised use"
        + (f" by {e.text('observed_party')}" if e.text("observed_party") else ""),
        (e.text("observed_party"), custodian_in(step.before)),
    )
    decided = f.cut.dispositions.get(found.finding_key, ())
    if decided:
        first = decided[0]
        found = Finding(
            **{
                **{name: getattr(found, name) for name in FINDING_FIELDS},
                "valid_to": max(first.occurred_at, found.valid_from),
                "evidence": (*found.evidence, first.event_id),
            }
        )
    return found


def r16_potential_unauthorised_use(f: AssetFacts) -> list[Finding]:
    return each_step(f, r16_at)
