"""Timeliness rules (DOMAIN.md §5): R04 late loss notice, R05 late recording.

Both say "``>``": a notice exactly ``loss_notice_hours`` or ``record_limit_days`` late
is on time. An event that R04 catches is not also an R05.
"""

from __future__ import annotations

from datetime import timedelta

from domain.rules.facts import AssetFacts, custodian_in
from domain.rules.findings import Finding, FindingKind, Severity
from domain.rules.making import Rule, each_step, event_finding, named_parties
from domain.state import Step
from domain.vocabulary import EventType, Status

R04 = Rule("R04", "LATE_LOSS_NOTICE", FindingKind.EVENT)
R05 = Rule("R05", "LATE_RECORDING", FindingKind.EVENT)


_LOSSES = frozenset({EventType.LOSS_REPORTED, EventType.ASSET_CAPTURED, EventType.ASSET_DESTROYED})


_RECORDED = frozenset(
    {
        EventType.CUSTODY_TRANSFERRED,
        EventType.ASSET_CAPTURED,
        EventType.ASSET_RECOVERED,
        EventType.LOSS_REPORTED,
        EventType.ASSET_DESTROYED,
        EventType.ASSET_DISABLED,
        EventType.ASSET_DECOMMISSIONED,
        EventType.REPAIR_STARTED,
        EventType.REPAIR_COMPLETED,
        EventType.INVENTORY_COMPLETED,
        EventType.SUPPORT_PROVIDED,
    }
)


R04_TYPES = _LOSSES
"""The event types R04 judges (any other step: no finding)."""

R05_TYPES = _RECORDED
"""The event types R05 judges (any other step: no finding)."""


def _late_loss_notice(f: AssetFacts, step: Step) -> bool:
    e = step.event
    if e.type not in _LOSSES:
        return False
    if e.reported_at - (e.discovered_at or e.occurred_at) <= f.terms.loss_notice:
        return False
    before = step.before
    if before is None or before.status is not Status.IN_CUSTODY:
        return False
    holder = custodian_in(before)
    return holder is not None and f.ref.authorised(holder, f.contract_id, e.occurred_at)


def r04_at(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    if not _late_loss_notice(f, step):
        return None
    e = step.event
    basis = e.discovered_at or e.occurred_at
    lag = _hours(e.reported_at - basis)
    return event_finding(
        R04,
        f,
        e,
        Severity.MEDIUM,
        f"{e.type.value} of {f.asset_id} reported {lag} h after "
        f"{'discovery' if e.discovered_at else 'the fact'} "
        f"(limit {f.terms.loss_notice_hours} h)",
        (custodian_in(step.before), e.reporter, *named_parties(e)),
    )


def r04_late_loss_notice(f: AssetFacts) -> list[Finding]:
    return each_step(f, r04_at)


def _hours(d: timedelta) -> str:
    return f"{d.total_seconds() / 3600:g}"


def r05_at(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e = step.event
    if e.type not in _RECORDED:
        return None
    basis = e.occurred_latest or e.occurred_at
    if e.reported_at - basis <= f.terms.record_limit or _late_loss_notice(f, step):
        return None
    days = (e.reported_at - basis).total_seconds() / 86400
    return event_finding(
        R05,
        f,
        e,
        Severity.LOW,
        f"{e.type.value} of {f.asset_id} recorded {days:.1f} days after it happened "
        f"(limit {f.terms.record_limit_days} days)",
        (e.reporter, *named_parties(e)),
    )


def r05_late_recording(f: AssetFacts) -> list[Finding]:
    return each_step(f, r05_at)
