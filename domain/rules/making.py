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
        parties=distinct(tuple(p for p in parties if p)),
        evidence=distinct(evidence),
        summary=summary,
        valid_from=valid_from,
        valid_to=valid_to,
        trigger_event_id=trigger,
    )


def distinct(items: Iterable[str]) -> tuple[str, ...]:
    """``items`` without repeats, in order of first appearance. Evidence is mostly
    distinct already and can be long (a state finding's grows with its interval):
    check that first, which costs half of removing repeats."""
    found = items if type(items) is tuple else tuple(items)
    if len(found) < 2 or len(set(found)) == len(found):
        return found
    return tuple(dict.fromkeys(found))


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


_PARTY_RANK = {name: i for i, name in enumerate(PARTY_FIELDS)}


def named_parties(e: Event) -> tuple[str, ...]:
    """The parties the event's payload names, in :data:`PARTY_FIELDS` order. A payload
    has a handful of fields: look those up instead of every party field."""
    payload = e.payload
    names = [name for name in payload if name in _PARTY_RANK]
    if len(names) > 1:
        names.sort(key=_PARTY_RANK.__getitem__)
    return tuple(p for name in names if (v := payload[name]) is not None and (p := str(v)))


def merge_same_key(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per key: pieces sharing a key run from the first start to the last
    end, with the union of their parties and evidence."""
    out: dict[str, Finding] = {}
    for f in findings:
        merge_into(out, f)
    return list(out.values())


def merge_into(out: dict[str, Finding], f: Finding) -> None:
    """One step of :func:`merge_same_key`: add the piece ``f`` to the findings so far
    (an interval rule resumed after an extension continues from its settled pieces)."""
    first = out.get(f.finding_key)
    if first is None:
        out[f.finding_key] = f
        return
    out[f.finding_key] = Finding(
        **{
            **{name: getattr(first, name) for name in FINDING_FIELDS},
            "valid_to": f.valid_to,
            "parties": distinct((*first.parties, *f.parties)),
            "evidence": distinct((*first.evidence, *f.evidence)),
            "severity": max(first.severity, f.severity, key=lambda s: s.rank),
        }
    )


FINDING_FIELDS = tuple(Finding.__dataclass_fields__)


def each_step(f: AssetFacts, rule: Callable[[AssetFacts, int], Finding | None]) -> list[Finding]:
    return [x for i in range(len(f.steps)) if (x := rule(f, i)) is not None]
