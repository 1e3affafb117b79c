"""Maintenance rules (DOMAIN.md §5): R09 unauthorised repair, R10 support to an
unaccounted asset, R12 repair open too long.

Choices where DOMAIN.md is silent (each is tested):

* R09 and R10 (and C04) judge each repair record, started and completed alike: a
  completion may be the only record of a repair. R10 concerns repairs only, as
  defined; ``support_provided`` is judged by C04.
* R12 ends a work order's interval when it closes, when another work order replaces
  it, or when the asset reaches a terminal status (nobody can work on a wreck; R08
  flags any later repair record).
* A repair reported without ``work_order_id`` (a leaked or observed repair, DOMAIN.md
  §3) is judged by R09, R10 and C04 like any other; its start opens no work order for
  R12 to time, and its completion closes the open one (``domain.fold``).
"""

from __future__ import annotations

from bisect import bisect_right

from domain.fold import unaccounted_reason
from domain.history import Event
from domain.instants import to_key
from domain.rules.facts import REPAIRS, AssetFacts, custodian_in
from domain.rules.findings import Finding, FindingKind, Severity, state_key
from domain.rules.making import Rule, each_step, event_finding, make_finding, merge_same_key
from domain.vocabulary import EventType

R09 = Rule("R09", "UNAUTHORISED_REPAIR", FindingKind.EVENT)
R10 = Rule("R10", "SUPPORT_TO_UNACCOUNTED_ASSET", FindingKind.EVENT)
R12 = Rule("R12", "REPAIR_OPEN_TOO_LONG", FindingKind.STATE)


def r09_at(f: AssetFacts, i: int) -> Finding | None:
    e = f.steps[i].event
    if e.type not in REPAIRS:
        return None
    facility, performer = e.text("facility_id"), e.text("performed_by_party")
    work, t = e.text("work_type"), e.occurred_at
    lacking = []
    if f.ref.repair_facility_authorisation(facility, f.contract_id, t, work) is None:
        lacking.append(f"facility {facility}")
    if f.ref.maintainer_authorisation(performer, f.contract_id, t, work) is None:
        lacking.append(f"performer {performer}")
    if not lacking:
        return None
    site = f.ref.facility(facility)
    return event_finding(
        R09,
        f,
        e,
        Severity.HIGH,
        f"{work} on {f.asset_id} ({e.text('work_order_id') or 'no work order'}) without authorisation "
        f"of {' and '.join(lacking)}",
        (performer, None if site is None else site.operator_party),
    )


def r09_unauthorised_repair(f: AssetFacts) -> list[Finding]:
    return each_step(f, r09_at)


def r10_at(f: AssetFacts, i: int) -> Finding | None:
    e = f.steps[i].event
    if e.type not in REPAIRS:
        return None
    started = e.instant("started_at") if e.type is EventType.REPAIR_COMPLETED else None
    t = started or e.occurred_at
    # The state at t from the events before the repair in world order only.
    j = bisect_right(f.keys, t, 0, i, key=lambda key: key[0])
    state = f.steps[j - 1].after if j else None
    reason = unaccounted_reason(state, f.ref, t)
    if reason is None:
        return None
    return event_finding(
        R10,
        f,
        e,
        Severity.HIGH,
        f"{e.text('work_type')} on {f.asset_id} at {to_key(t)} while not accounted "
        f"for ({reason.value})",
        (e.text("performed_by_party"), custodian_in(state)),
        () if state is None else (state.last_event_id,),
    )


def r10_support_to_unaccounted_asset(f: AssetFacts) -> list[Finding]:
    return each_step(f, r10_at)


def r12_piece(f: AssetFacts, wo: str, opened: Event, closed: Event | None) -> Finding | None:
    """The finding of one work order of the step index, if it stays open too long."""
    work = opened.text("work_type")
    start = opened.occurred_at + f.terms.repair_open_max(work)
    end = None if closed is None else closed.occurred_at
    if end is not None and end <= start:
        return None
    site = f.ref.facility(opened.text("facility_id"))
    limit = f.terms.repair_open_max_days.days_for(work)
    return make_finding(
        R12,
        state_key("R12", f.asset_id, wo),
        Severity.LOW,
        asset_id=f.asset_id,
        contract_id=f.contract_id,
        parties=(
            opened.text("performed_by_party"),
            None if site is None else site.operator_party,
        ),
        evidence=(opened.event_id, *(() if closed is None else (closed.event_id,))),
        summary=(
            f"work order {wo} ({work}) on {f.asset_id} open beyond {limit} days "
            f"from {to_key(start)}"
        ),
        valid_from=start,
        valid_to=end,
    )


def r12_repair_open_too_long(f: AssetFacts) -> list[Finding]:
    return merge_same_key(p for order in f.index.orders if (p := r12_piece(f, *order)) is not None)
