"""The rule catalogue of DOMAIN.md §5: the registry of every rule — its code, name and
kind (:data:`RULES`, :data:`RULE_NAMES`) and the functions that judge it — and what
evaluates them together. Each rule is one pure function from the effective history of
one asset (``R…``) or one contract (``C…``) at one knowledge cut to the findings it
implies, without their life (:mod:`domain.rules.tracking` adds that).

Where each family lives:

* :mod:`domain.rules.custody` — R01–R03: who holds the asset, is it accounted for;
* :mod:`domain.rules.timeliness` — R04–R05: was it reported in time;
* :mod:`domain.rules.record` — R06–R08, R16: does the record contradict itself;
* :mod:`domain.rules.maintenance` — R09–R12: repairs and work orders;
* :mod:`domain.rules.inventory` — R13–R14: inventories;
* :mod:`domain.rules.contract` — C01–C05: the contract's enforcement.

They read the history through :mod:`domain.rules.facts`, make findings through
:mod:`domain.rules.making`, and the contract rules compute intervals with
:mod:`domain.rules.spans`.

Severities:

====  =========================================================================
R01   critical when the custodian has a designation or is of kind
      ``armed_group`` at any time in the interval; else high
R02   high — a partner handed the asset on without consent
R03   high — the contract's core obligation is broken
R04   medium — the custodian knew and did not say in time
R05   low — record-keeping
R06   medium — the record contradicts itself
R07   medium — a sighting contradicts the record
R08   medium — the record contradicts itself
R09   high — maintenance outside what the contract permits
R10   high — support reached an asset that is not accounted for
R12   low — a work order left open
R13   low — an inventory not taken in time
R14   medium — the count and the record disagree
R16   medium — unconfirmed, needs a human decision
C01   high — support must be suspended
C02   critical — support continued past the grace period
C03   medium — the seller kept a suspension without cause
C04   high — support given while suspended
C05   high — delivery while on hold
====  =========================================================================

Choices where DOMAIN.md is silent, common to every family (each is tested; each
family's module lists its own):

* An asset has findings only once its registration is known; events dated before the
  registration are judged against no state (no custodian).
* Event and discrepancy findings are instants: ``valid_from`` is the trigger's
  ``occurred_at`` and ``valid_to`` stays ``None`` — except R16, which "stays until
  dispositioned" (:mod:`domain.rules.record`).
* Thresholds: a state finding starts at ``start + N`` (inclusive) and is dropped when
  that leaves it empty; R04 and R05 say "``>``", so a notice exactly
  ``loss_notice_hours`` or ``record_limit_days`` late is on time.
* Findings of one rule that share a key merge into one, from the first start to the
  last end (:func:`domain.rules.making.merge_same_key`).
* A state finding's summary names its start, never its end: the interval fields carry
  the end, and the summary then stays the same when the interval closes.
* Authorisation is judged at the event's ``occurred_at`` (R02, R04, R09, C04).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from domain.rules import contract, custody, inventory, maintenance, record, timeliness
from domain.rules.contract import (
    c01_suspension_required,
    c02_enforcement_gap,
    c03_suspension_without_cause,
    c04_support_during_suspension,
    c05_delivery_during_hold,
    contract_state_rules,
)
from domain.rules.custody import (
    R02_TYPES,
    r01_unauthorised_custody,
    r02_at,
    r02_unauthorised_transfer,
    r03_unaccounted,
)
from domain.rules.facts import REPAIRS, AssetFacts, ContractFacts
from domain.rules.findings import Finding, FindingKind
from domain.rules.inventory import r13_inventory_overdue, r14_inventory_discrepancy
from domain.rules.maintenance import (
    r09_at,
    r09_unauthorised_repair,
    r10_at,
    r10_support_to_unaccounted_asset,
    r12_repair_open_too_long,
)
from domain.rules.making import Rule
from domain.rules.record import (
    OBSERVATIONS,
    R06_TYPES,
    r06_at,
    r06_chain_of_custody_break,
    r07_at,
    r07_observed_custody_conflict,
    r08_at,
    r08_event_after_terminal,
    r16_at,
    r16_potential_unauthorised_use,
)
from domain.rules.timeliness import (
    R04_TYPES,
    R05_TYPES,
    r04_at,
    r04_late_loss_notice,
    r05_at,
    r05_late_recording,
)
from domain.vocabulary import EventType

RULES: tuple[Rule, ...] = (
    custody.R01,
    custody.R02,
    custody.R03,
    timeliness.R04,
    timeliness.R05,
    record.R06,
    record.R07,
    record.R08,
    maintenance.R09,
    maintenance.R10,
    maintenance.R12,
    inventory.R13,
    inventory.R14,
    record.R16,
    contract.C01,
    contract.C02,
    contract.C03,
    contract.C04,
    contract.C05,
)
"""Every rule, in catalogue order."""

RULE_NAMES: Mapping[str, str] = {r.code: r.name for r in RULES}

RULE_KINDS: Mapping[str, FindingKind] = {r.code: r.kind for r in RULES}


ASSET_RULES: Mapping[str, Callable[[AssetFacts], list[Finding]]] = {
    "R01": r01_unauthorised_custody,
    "R02": r02_unauthorised_transfer,
    "R03": r03_unaccounted,
    "R04": r04_late_loss_notice,
    "R05": r05_late_recording,
    "R06": r06_chain_of_custody_break,
    "R07": r07_observed_custody_conflict,
    "R08": r08_event_after_terminal,
    "R09": r09_unauthorised_repair,
    "R10": r10_support_to_unaccounted_asset,
    "R12": r12_repair_open_too_long,
    "R13": r13_inventory_overdue,
    "R14": r14_inventory_discrepancy,
    "R16": r16_potential_unauthorised_use,
}


STEP_RULES: Mapping[str, Callable[[AssetFacts, int], Finding | None]] = {
    "R02": r02_at,
    "R04": r04_at,
    "R05": r05_at,
    "R06": r06_at,
    "R07": r07_at,
    "R08": r08_at,
    "R09": r09_at,
    "R10": r10_at,
    "R16": r16_at,
}
"""The rules that judge one step at a time: the finding of step ``i`` depends only on
that step, the steps before it in world order, the reference data, the terms and the
dispositions (R16) — so steps appended at the end of an asset's world order leave the
findings of the earlier steps unchanged (:func:`step_findings`)."""


WHOLE_RULES: Mapping[str, Callable[[AssetFacts], list[Finding]]] = {
    rule: fn for rule, fn in ASSET_RULES.items() if rule not in STEP_RULES
}
"""The rules that judge the asset's intervals (and R14, which looks up inventories
by the custodian at their time). These functions judge the whole history; an asset's
evaluation that is extended resumes them instead, judging again only what the new
steps can change (:mod:`domain.rules.resume`; tested against these)."""


STEP_RULE_TYPES: Mapping[str, frozenset[EventType] | None] = {
    "R02": R02_TYPES,
    "R04": R04_TYPES,
    "R05": R05_TYPES,
    "R06": R06_TYPES,
    "R07": OBSERVATIONS,
    "R08": None,
    "R09": REPAIRS,
    "R10": REPAIRS,
    "R16": OBSERVATIONS,
}
"""The event types whose steps each step rule can find anything in (``None``: any):
for a step of another type the rule gives ``None``, so :func:`step_findings` does not
ask it (tested against asking every rule)."""

_STEP_RULES_OF: Mapping[EventType, tuple[Callable[[AssetFacts, int], Finding | None], ...]] = {
    t: tuple(
        rule
        for code, rule in STEP_RULES.items()
        if (types := STEP_RULE_TYPES[code]) is None or t in types
    )
    for t in EventType
}


def step_findings(f: AssetFacts, start: int = 0, stop: int | None = None) -> list[Finding]:
    """The findings of :data:`STEP_RULES` for the steps from index ``start`` on (to
    ``stop``, excluded)."""
    out = []
    steps = f.steps
    for i in range(start, len(steps) if stop is None else stop):
        for rule in _STEP_RULES_OF[steps[i].event.type]:
            if (x := rule(f, i)) is not None:
                out.append(x)
    return out


def asset_rules(f: AssetFacts) -> list[Finding]:
    """Every asset rule, in catalogue order."""
    return [x for rule in ASSET_RULES.values() for x in rule(f)]


CONTRACT_STATE_RULES: Mapping[str, Callable[[ContractFacts], list[Finding]]] = {
    "C01": c01_suspension_required,
    "C02": c02_enforcement_gap,
    "C03": c03_suspension_without_cause,
}


CONTRACT_EVENT_RULES: Mapping[str, Callable[[ContractFacts], list[Finding]]] = {
    "C04": c04_support_during_suspension,
    "C05": c05_delivery_during_hold,
}


def contract_rules(f: ContractFacts) -> list[Finding]:
    return [
        *contract_state_rules(f),
        *(x for rule in CONTRACT_EVENT_RULES.values() for x in rule(f)),
    ]
