"""Inventory rules (DOMAIN.md §5): R13 inventory overdue, R14 inventory discrepancy.

Choices where DOMAIN.md is silent (each is tested):

* R13 with neither a verification nor a partner entry has no due date and no finding.
* R14 also judges assets an inventory does not name: an asset whose prior custodian
  descends from the scope is expected whether or not the envelope lists it. Its
  ``asset_id`` is the asset; ``parties`` are the prior custodian and the inspector.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime

from domain.fold import AssetState
from domain.history import Event
from domain.instants import to_key
from domain.rules.facts import AssetFacts, closing_events, custodian_in, runs_of
from domain.rules.findings import Finding, FindingKind, Severity, state_key
from domain.rules.making import Rule, event_finding, make_finding, merge_same_key
from domain.state import Segment
from domain.vocabulary import Status

R13 = Rule("R13", "INVENTORY_OVERDUE", FindingKind.STATE)
R14 = Rule("R14", "INVENTORY_DISCREPANCY", FindingKind.DISCREPANCY)


def r13_inventory_overdue(f: AssetFacts) -> list[Finding]:
    # Which event set each value of last_verified_at and partner_entry_at.
    index = f.index
    verified_by, entered_by = index.verified_by, index.entered_by
    period, reentry = f.terms.inventory_period, f.terms.reentry_inventory

    def due_of(seg: Segment) -> datetime | None:
        s = seg.state
        if s.status is not Status.IN_CUSTODY or not seg.authorised or s.missing_at_inventory:
            return None
        if not f.ref.partner(s.custodian, f.contract_id):
            return None
        dues = []
        if s.last_verified_at is not None:
            dues.append(s.last_verified_at + period)
        if s.partner_entry_at is not None:
            dues.append(s.partner_entry_at + reentry)
        return max(dues, default=None)

    segs = f.segments
    out = []
    for due, first, last in runs_of(segs, due_of):
        assert isinstance(due, datetime)
        end = segs[last].valid_to
        if end is not None and end <= due:
            continue
        start = max(due, segs[first].valid_from)
        s = segs[first].state
        basis = [verified_by.get(s.last_verified_at) if s.last_verified_at else None]
        basis.append(entered_by.get(s.partner_entry_at) if s.partner_entry_at else None)
        covered = [
            seg for seg in segs[first : last + 1] if seg.valid_to is None or seg.valid_to > due
        ]
        out.append(
            make_finding(
                R13,
                state_key("R13", f.asset_id, due),
                Severity.LOW,
                asset_id=f.asset_id,
                contract_id=f.contract_id,
                parties=[seg.state.custodian for seg in covered],
                evidence=(*(b for b in basis if b), *closing_events(segs, last)),
                summary=(
                    f"inventory of {f.asset_id} overdue since {to_key(due)} (last verified "
                    f"{'never' if s.last_verified_at is None else to_key(s.last_verified_at)})"
                ),
                valid_from=start,
                valid_to=end,
            )
        )
    return merge_same_key(out)


def r14_inventory_discrepancy(f: AssetFacts) -> list[Finding]:
    out = []
    index = f.index
    for i in index.inventories:
        step = f.steps[i]
        e = step.event
        f14 = _r14_check(f, e, step.before, f.cut.inventory_line(e, f.asset_id))
        if f14 is not None:
            out.append(f14)
    # Inventories that do not name the asset can only expect it through a custodian
    # it had: look those up by scope party instead of scanning every inventory, and
    # settle the common "not expected" case before building anything.
    cut = f.cut
    if not cut.inventories:
        return sorted(out, key=lambda x: (x.valid_from, x.finding_key))
    scopes = {p for c in index.custodians for p in f.ref.ancestors(c)}
    candidates = sorted({i for p in scopes for i in cut.inventories_by_scope.get(p, ())})
    for i in candidates:
        if f.asset_id in cut.inventory_subjects[i]:
            continue
        e = cut.inventories[i]
        j = bisect_left(f.keys, e.world_key)
        holder = custodian_in(f.steps[j - 1].after) if j else None
        if holder is None or cut.inventory_scopes[i].isdisjoint(f.ref.ancestors(holder)):
            continue
        f14 = _r14_check(f, e, f.steps[j - 1].after, None)
        if f14 is not None:
            out.append(f14)
    return sorted(out, key=lambda x: (x.valid_from, x.finding_key))


def _r14_check(
    f: AssetFacts, e: Event, before: AssetState | None, line: tuple[str, str | None] | None
) -> Finding | None:
    holder = custodian_in(before)
    scope = e.texts("scope_parties")
    expected = f.ref.descends_from_any(holder, scope)
    present = line is not None and line[0] == "present"
    if expected == present:
        return None
    if expected:
        what = "absent" if line is not None else "not listed"
        summary = (
            f"{f.asset_id} expected in inventory {e.text('inventory_id')} of "
            f"{', '.join(scope)} (custodian {holder}) but {what}"
        )
    else:
        summary = (
            f"{f.asset_id} found in inventory {e.text('inventory_id')} of {', '.join(scope)} "
            f"but the ledger's custodian was {holder or 'none'}"
        )
    return event_finding(
        R14,
        f,
        e,
        Severity.MEDIUM,
        summary,
        (holder, e.text("inspector_party"), None if line is None else line[1]),
    )
