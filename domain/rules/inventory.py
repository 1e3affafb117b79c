"""Inventory rules (DOMAIN.md §5): R13 inventory overdue, R14 inventory discrepancy.

Choices where DOMAIN.md is silent (each is tested):

* R13 with neither a verification nor a partner entry has no due date and no finding.
* R14 also judges assets an inventory does not name: an asset whose prior custodian
  descends from the scope is expected whether or not the envelope lists it. Its
  ``asset_id`` is the asset; ``parties`` are the prior custodian and the inspector.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import datetime

from domain.fold import AssetState
from domain.history import Event
from domain.instants import to_key
from domain.rules.facts import AssetFacts, closing_events, custodian_in, run_pieces
from domain.rules.findings import Finding, FindingKind, Severity, ordered, state_key
from domain.rules.making import Rule, event_finding, make_finding, merge_same_key
from domain.state import Segment
from domain.vocabulary import Status

R13 = Rule("R13", "INVENTORY_OVERDUE", FindingKind.STATE)
R14 = Rule("R14", "INVENTORY_DISCREPANCY", FindingKind.DISCREPANCY)


def r13_key(f: AssetFacts, seg: Segment) -> datetime | None:
    """The due date of an inventory, while IN_CUSTODY of an authorised partner
    custodian and not missing; ``None`` out of that scope or with no basis."""
    s = seg.state
    if s.status is not Status.IN_CUSTODY or not seg.authorised or s.missing_at_inventory:
        return None
    if not f.ref.partner(s.custodian, f.contract_id):
        return None
    verified, entered = s.last_verified_at, s.partner_entry_at
    if verified is None:
        return None if entered is None else entered + f.terms.reentry_inventory
    due = verified + f.terms.inventory_period
    return due if entered is None else max(due, entered + f.terms.reentry_inventory)


def r13_piece(f: AssetFacts, due: object, first: int, last: int) -> Finding | None:
    """The finding of the run ``first..last`` with one due date, if it lasts past it."""
    assert isinstance(due, datetime)
    segs = f.segments
    end = segs[last].valid_to
    if end is not None and end <= due:
        return None
    # Which event set the values of last_verified_at and partner_entry_at.
    index = f.index
    start = max(due, segs[first].valid_from)
    s = segs[first].state
    basis = [index.verified_by.get(s.last_verified_at) if s.last_verified_at else None]
    basis.append(index.entered_by.get(s.partner_entry_at) if s.partner_entry_at else None)
    covered = [seg for seg in segs[first : last + 1] if seg.valid_to is None or seg.valid_to > due]
    return make_finding(
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


def r13_inventory_overdue(f: AssetFacts) -> list[Finding]:
    return merge_same_key(run_pieces(f, r13_key, r13_piece))


def r14_inventory_discrepancy(f: AssetFacts) -> list[Finding]:
    return list(ordered([*r14_named(f), *r14_unnamed(f, 0, len(f.cut.inventories))]))


def r14_named(f: AssetFacts, start: int = 0) -> list[Finding]:
    """R14 of the inventories that name the asset (they are among its steps), from
    its ``start``-th inventory step on."""
    out = []
    for i in f.index.inventories[start:]:
        step = f.steps[i]
        e = step.event
        f14 = _r14_check(f, e, step.before, f.cut.inventory_line(e, f.asset_id))
        if f14 is not None:
            out.append(f14)
    return out


def r14_unnamed(f: AssetFacts, lo: int, hi: int) -> list[Finding]:
    """R14 of the inventories ``lo``…``hi - 1`` of the cut (in world order) that do not
    name the asset."""
    return [x for i in r14_candidates(f, lo, hi) if (x := r14_unnamed_one(f, i)) is not None]


def r14_candidates(f: AssetFacts, lo: int, hi: int) -> list[int]:
    """The inventories ``lo``…``hi - 1`` of the cut that do not name the asset and whose
    scope is among the ancestors of the custodian it had just before each: an
    inventory that does not name the asset can expect it only through that custodian
    (:func:`r14_unnamed_one`). So the runs of one custodian among the asset's steps
    (``StepIndex.holders``) cut the range, and the inventories of each piece are
    looked up by that custodian's ancestors: not by those of every custodian the asset
    ever had (nearly every one of those candidates was then "not expected"), nor by
    scanning every inventory."""
    if lo >= hi:
        return []
    cut = f.cut
    at, keys, steps, holders = cut.inventory_keys, f.keys, f.steps, f.index.holders
    candidates: set[int] = set()
    start = lo
    # The run of one custodian that holds before inventory ``lo`` (-1: before any step).
    m = bisect_right(holders, bisect_left(keys, at[lo]) - 1) - 1
    while start < hi:
        # Run ``m`` holds from step ``holders[m]`` to the step before ``nxt``: it judges
        # the inventories earlier than step ``nxt`` (and later than those before).
        nxt = holders[m + 1] if m + 1 < len(holders) else len(keys)
        stop = hi if nxt >= len(keys) else bisect_left(at, keys[nxt], start, hi)
        if m >= 0 and stop > start and (holder := custodian_in(steps[holders[m]].after)):
            _add_window(candidates, f, holder, start, stop)
        start, m = stop, m + 1
    return sorted(i for i in candidates if f.asset_id not in cut.inventory_subjects[i])


def _add_window(candidates: set[int], f: AssetFacts, holder: str, lo: int, hi: int) -> None:
    """The cut's inventories ``lo``…``hi - 1`` whose scope is among ``holder``'s
    ancestors."""
    by_scope = f.cut.inventories_by_scope
    for p in f.ref.ancestors(holder):
        found = by_scope.get(p, ())
        candidates.update(found[bisect_left(found, lo) : bisect_left(found, hi)])


def r14_unnamed_one(f: AssetFacts, i: int) -> Finding | None:
    """R14 of the cut's inventory ``i``, which does not name the asset: settle the
    common "not expected" case before building anything."""
    cut = f.cut
    e = cut.inventories[i]
    j = bisect_left(f.keys, e.world_key)
    holder = custodian_in(f.steps[j - 1].after) if j else None
    if holder is None or cut.inventory_scopes[i].isdisjoint(f.ref.lineage(holder)):
        return None
    return _r14_check(f, e, f.steps[j - 1].after, None)


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
