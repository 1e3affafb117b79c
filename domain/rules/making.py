"""How a rule makes a finding (DOMAIN.md §5): a rule's identity (:class:`Rule`), the
finding's fields from it, and what every family shares — an event finding of one
step, the parties an event names, one finding per key.

Findings of one rule that share a key (a work order id opened twice, R13 pieces with
the same due date separated by time out of scope, R01 bands of one custodian that
start in the same second) merge into one, from the first start to the last end
(:func:`merge_same_key`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.history import Event
from domain.rules.facts import AssetFacts
from domain.rules.findings import Finding, FindingKind, Severity, event_key


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule of the catalogue: its code (``R01``), its name (``UNAUTHORISED_CUSTODY``)
    and the kind of finding it makes."""

    code: str
    name: str
    kind: FindingKind


# Payload fields that name a party, for the parties of a finding about any event.
PARTY_FIELDS = (
    "initial_custodian",
    "from_party",
    "to_party",
    "captor_party",
    "recovered_by_party",
    "custodian_at_loss",
    "disabled_by_party",
    "attributed_to_party",
    "performed_by_party",
    "inspector_party",
    "observed_party",
    "provider_party",
    "recipient_party",
)


def make_finding(
    rule: Rule,
    key: str,
    severity: Severity,
    *,
    asset_id: str | None,
    contract_id: str | None,
    parties: Iterable[str | None],
    evidence: Iterable[str],
    summary: str,
    valid_from: datetime,
    valid_to: datetime | None = None,
    trigger: str | None = None,
) -> Finding:
    return Finding(
        finding_key=key,
        rule=rule.code,
        rule_name=rule.name,
        kind=rule.kind,
        severity=severity,
        asset_id=asset_id,
        contract_id=contract_id,
        parties=tuple(dict.fromkeys(p for p in parties if p)),
        evidence=tuple(dict.fromkeys(evidence)),
        summary=summary,
        valid_from=valid_from,
        valid_to=valid_to,
        trigger_event_id=trigger,
    )


def event_finding(
    rule: Rule,
    f: AssetFacts,
    e: Event,
    severity: Severity,
    summary: str,
    parties: Iterable[str | None],
    evidence: Iterable[str] = (),
) -> Finding:
    return make_finding(
        rule,
        event_key(rule.code, e.event_id, f.asset_id),
        severity,
        asset_id=f.asset_id,
        contract_id=f.contract_id,
        parties=parties,
        evidence=(e.event_id, *evidence),
        summary=summary,
        valid_from=e.occurred_at,
        trigger=e.event_id,
    )


def named_parties(e: Event) -> tuple[str, ...]:
    return tuple(p for name in PARTY_FIELDS if (p := e.text(name)))


def merge_same_key(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per key: pieces sharing a key run from the first start to the last
    end, with the union of their parties and evidence."""
    out: dict[str, Finding] = {}
    for f in findings:
        first = out.get(f.finding_key)
        if first is None:
            out[f.finding_key] = f
            continue
        out[f.finding_key] = Finding(
            **{
                **{name: getattr(first, name) for name in FINDING_FIELDS},
                "valid_to": f.valid_to,
                "parties": tuple(dict.fromkeys((*first.parties, *f.parties))),
                "evidence": tuple(dict.fromkeys((*first.evidence, *f.evidence))),
                "severity": max(first.severity, f.severity, key=lambda s: s.rank),
            }
        )
    return list(out.values())


FINDING_FIELDS = tuple(Finding.__dataclass_fields__)


def each_step(f: AssetFacts, rule: Callable[[AssetFacts, int], Finding | None]) -> list[Finding]:
    return [x for i in range(len(f.steps)) if (x := rule(f, i)) is not None]
