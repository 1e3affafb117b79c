"""What the rule catalogue produces: a finding (DOMAIN.md §5), its key, and the life it
has in knowledge time.

A :class:`Finding` is a value. The catalogue (:mod:`domain.rules.catalogue`) makes
findings without their life; :mod:`domain.rules.tracking` fills ``detected_at``,
``cleared_at``, ``clear_reason`` and ``disposition`` for a view at a knowledge time.
``to_dict`` gives the JSON shape the HTTP layer and the report share: instants in
the stored format, enums as their values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.instants import to_key, to_stored
from domain.vocabulary import Disposition

RULES_VERSION = "2"
"""Bumped whenever a rule's meaning changes, so a report can say which rules made it."""


class FindingKind(StrEnum):
    STATE = "state"
    EVENT = "event"
    DISCREPANCY = "discrepancy"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class ClearReason(StrEnum):
    RESOLVED = "resolved"
    VOIDED_TRIGGER_RETRACTED = "voided_trigger_retracted"
    VOIDED_TRIGGER_CORRECTED = "voided_trigger_corrected"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class FindingDisposition:
    """The latest ``finding_dispositioned`` known for a finding."""

    disposition: Disposition
    event_id: str
    rationale: str
    decided_at: datetime
    reported_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "disposition": self.disposition.value,
            "event_id": self.event_id,
            "rationale": self.rationale,
            "decided_at": to_stored(self.decided_at),
            "reported_at": to_stored(self.reported_at),
        }


@dataclass(frozen=True, slots=True, init=False)
class Finding:
    """One finding. ``valid_to`` is ``None`` while a state finding is open; event and
    discrepancy findings are instants (``valid_from`` is the trigger's
    ``occurred_at``) and keep ``valid_to`` ``None``, except R16, which a disposition
    closes. The last five fields are its life, empty as the catalogue makes it."""

    finding_key: str
    rule: str
    rule_name: str
    kind: FindingKind
    severity: Severity
    asset_id: str | None
    contract_id: str | None
    parties: tuple[str, ...]
    evidence: tuple[str, ...]
    summary: str
    valid_from: datetime
    valid_to: datetime | None
    trigger_event_id: str | None = None
    detected_at: datetime | None = None
    cleared_at: datetime | None = None
    clear_reason: ClearReason | None = None
    disposition: FindingDisposition | None = None

    # Written out (``init=False``): mypyc compiles it, where the one ``dataclass``
    # generates runs as Python (docs/decisions/0028; tests/unit/test_inits.py).
    def __init__(
        self,
        finding_key: str,
        rule: str,
        rule_name: str,
        kind: FindingKind,
        severity: Severity,
        asset_id: str | None,
        contract_id: str | None,
        parties: tuple[str, ...],
        evidence: tuple[str, ...],
        summary: str,
        valid_from: datetime,
        valid_to: datetime | None,
        trigger_event_id: str | None = None,
        detected_at: datetime | None = None,
        cleared_at: datetime | None = None,
        clear_reason: ClearReason | None = None,
        disposition: FindingDisposition | None = None,
    ) -> None:
        object.__setattr__(self, "finding_key", finding_key)
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "rule_name", rule_name)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "asset_id", asset_id)
        object.__setattr__(self, "contract_id", contract_id)
        object.__setattr__(self, "parties", parties)
        object.__setattr__(self, "evidence", evidence)
        object.__setattr__(self, "summary", summary)
        object.__setattr__(self, "valid_from", valid_from)
        object.__setattr__(self, "valid_to", valid_to)
        object.__setattr__(self, "trigger_event_id", trigger_event_id)
        object.__setattr__(self, "detected_at", detected_at)
        object.__setattr__(self, "cleared_at", cleared_at)
        object.__setattr__(self, "clear_reason", clear_reason)
        object.__setattr__(self, "disposition", disposition)

    def __eq__(self, other: object) -> bool:
        """The ``dataclass`` equality (every field, in order), written out for mypyc
        like ``__init__``: the tracker compares each finding made again with the one
        it implied before. ``__hash__`` is written out with it: compiled, a class that
        defines ``__eq__`` is left with ``__hash__ = None`` whatever ``dataclass``
        adds."""
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Finding)
        return (
            self.finding_key == other.finding_key
            and self.rule == other.rule
            and self.rule_name == other.rule_name
            and self.kind == other.kind
            and self.severity == other.severity
            and self.asset_id == other.asset_id
            and self.contract_id == other.contract_id
            and self.parties == other.parties
            and self.evidence == other.evidence
            and self.summary == other.summary
            and self.valid_from == other.valid_from
            and self.valid_to == other.valid_to
            and self.trigger_event_id == other.trigger_event_id
            and self.detected_at == other.detected_at
            and self.cleared_at == other.cleared_at
            and self.clear_reason == other.clear_reason
            and self.disposition == other.disposition
        )

    def __hash__(self) -> int:
        """What ``dataclass`` makes for a frozen class: the hash of every field."""
        return hash(
            (
                self.finding_key,
                self.rule,
                self.rule_name,
                self.kind,
                self.severity,
                self.asset_id,
                self.contract_id,
                self.parties,
                self.evidence,
                self.summary,
                self.valid_from,
                self.valid_to,
                self.trigger_event_id,
                self.detected_at,
                self.cleared_at,
                self.clear_reason,
                self.disposition,
            )
        )

    @property
    def open(self) -> bool:
        """Still running in valid time (``valid_to`` not set)."""
        return self.valid_to is None

    @property
    def cleared(self) -> bool:
        return self.cleared_at is not None

    def active_at(self, t: datetime) -> bool:
        """SPEC.md §2 ``active_at``: a state finding whose interval contains t; an event
        or discrepancy finding at or before t (and, for a closed R16, before its end)."""
        if t < self.valid_from:
            return False
        return self.valid_to is None or t < self.valid_to

    def with_life(
        self,
        detected_at: datetime | None,
        cleared_at: datetime | None,
        clear_reason: ClearReason | None,
        disposition: FindingDisposition | None,
    ) -> Finding:
        """This version with its life as known at some time (``dataclasses.replace``
        costs several times more, and every read of a finding makes one)."""
        return Finding(
            self.finding_key,
            self.rule,
            self.rule_name,
            self.kind,
            self.severity,
            self.asset_id,
            self.contract_id,
            self.parties,
            self.evidence,
            self.summary,
            self.valid_from,
            self.valid_to,
            self.trigger_event_id,
            detected_at,
            cleared_at,
            clear_reason,
            disposition,
        )

    def content(self) -> Finding:
        """The finding without its life: what a knowledge cut implies."""
        return replace(self, detected_at=None, cleared_at=None, clear_reason=None, disposition=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "finding_key": self.finding_key,
            "rule": self.rule,
            "rule_name": self.rule_name,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "asset_id": self.asset_id,
            "contract_id": self.contract_id,
            "parties": list(self.parties),
            "evidence": list(self.evidence),
            "summary": self.summary,
            "valid_from": to_stored(self.valid_from),
            "valid_to": _stored(self.valid_to),
            "trigger_event_id": self.trigger_event_id,
            "detected_at": _stored(self.detected_at),
            "cleared_at": _stored(self.cleared_at),
            "clear_reason": None if self.clear_reason is None else self.clear_reason.value,
            "disposition": None if self.disposition is None else self.disposition.to_dict(),
        }


def _stored(t: datetime | None) -> str | None:
    return None if t is None else to_stored(t)


# -- keys (DOMAIN.md §5) -------------------------------------------------------------


def state_key(rule: str, scope: str, *parts: str | datetime) -> str:
    """``RULE/scope/…`` with instants written ``YYYY-MM-DDTHH:MM:SSZ``."""
    return "/".join([rule, scope, *(to_key(p) if isinstance(p, datetime) else p for p in parts)])


def event_key(rule: str, trigger_event_id: str, asset_id: str) -> str:
    """``RULE/trigger_event_id/asset`` for event and discrepancy findings."""
    return f"{rule}/{trigger_event_id}/{asset_id}"


def rule_of_key(key: str) -> str:
    return key.split("/", 1)[0]


def asset_of_event_key(key: str) -> str | None:
    """The asset of an event or discrepancy key; ids never contain ``/``."""
    parts = key.split("/")
    return parts[2] if len(parts) == 3 else None


def ordered(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Findings in the order every view lists them: by ``(valid_from, finding_key)``."""
    found = tuple(findings)
    return found if len(found) < 2 else tuple(sorted(found, key=_view_order))


def _view_order(f: Finding) -> tuple[datetime, str]:
    return (f.valid_from, f.finding_key)
