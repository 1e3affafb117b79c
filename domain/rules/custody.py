"""Custody rules (DOMAIN.md §5): R01 unauthorised custody, R02 unauthorised transfer,
R03 unaccounted for.

Choices where DOMAIN.md is silent (each is tested):

* R01 parties: the custodian. R03 names every custodian it passed through and, for a
  spell without one, the last custodian.
* R01 is critical when the custodian has a designation or is of kind ``armed_group``
  at any time in the interval.
"""

from __future__ import annotations

from datetime import datetime

from domain.fold import unaccounted_reason
from domain.instants import to_key
from domain.reference import Reference
from domain.rules.facts import (
    AssetFacts,
    closing_events,
    custodian_in,
    opening_events,
    run_pieces,
)
from domain.rules.findings import Finding, FindingKind, Severity, state_key
from domain.rules.making import Rule, each_step, event_finding, make_finding, merge_same_key
from domain.state import Segment
from domain.vocabulary import EventType, PartyKind, Status

R01 = Rule("R01", "UNAUTHORISED_CUSTODY", FindingKind.STATE)
R02 = Rule("R02", "UNAUTHORISED_TRANSFER", FindingKind.EVENT)
R03 = Rule("R03", "UNACCOUNTED", FindingKind.STATE)

R02_TYPES = frozenset({EventType.CUSTODY_TRANSFERRED})
"""The event types R02 judges (any other step: no finding)."""


def _hostile(ref: Reference, party_id: str, start: datetime, end: datetime | None) -> bool:
    """Designated, or of kind ``armed_group`` at any time in ``[start, end)``."""
    party = ref.party(party_id)
    if party is None:
        return False
    if party.designations:
        return True
    kinds = [party.kind_at(start)]
    kinds += [
        k for since, k, _ in party.kinds[1:] if start < since and (end is None or since < end)
    ]
    return PartyKind.ARMED_GROUP in kinds


def r01_key(f: AssetFacts, seg: Segment) -> str | None:
    """The custodian of an R01 run: in custody of a custodian not authorised."""
    s = seg.state
    if s.status is Status.IN_CUSTODY and s.custodian is not None and seg.authorised is False:
        return s.custodian
    return None


def r01_piece(f: AssetFacts, custodian: object, first: int, last: int) -> Finding:
    """The finding of the run of segments ``first..last`` held by ``custodian``."""
    assert isinstance(custodian, str)
    segs = f.segments
    start, end = segs[first].valid_from, segs[last].valid_to
    hostile = _hostile(f.ref, custodian, start, end)
    return make_finding(
        R01,
        state_key("R01", f.asset_id, custodian, start),
        Severity.CRITICAL if hostile else Severity.HIGH,
        asset_id=f.asset_id,
        contract_id=f.contract_id,
        parties=(custodian,),
        evidence=(*opening_events(segs[first]), *closing_events(segs, last)),
        summary=(
            f"{f.asset_id} held by {custodian}, not authorised under "
            f"{f.contract_id}, since {to_key(start)}"
        ),
        valid_from=start,
        valid_to=end,
    )


def r01_unauthorised_custody(f: AssetFacts) -> list[Finding]:
    return merge_same_key(run_pieces(f, r01_key, r01_piece))


def r02_at(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e = step.event
    if e.type is not EventType.CUSTODY_TRANSFERRED or e.text("transfer_consent_ref"):
        return None
    giver, to = custodian_in(step.before), e.text("to_party")
    t = e.occurred_at
    if giver is None or not f.ref.authorised(giver, f.contract_id, t):
        return None
    if f.ref.authorised(to, f.contract_id, t):
        return None
    return event_finding(
        R02,
        f,
        e,
        Severity.HIGH,
        f"{f.asset_id} transferred by authorised {giver} to unauthorised {to} "
        f"without consent at {to_key(t)}",
        (giver, to),
    )


def r02_unauthorised_transfer(f: AssetFacts) -> list[Finding]:
    return each_step(f, r02_at)


def r03_key(f: AssetFacts, seg: Segment) -> bool | None:
    """``True`` on a segment not accounted for."""
    return None if seg.accounted else True


def r03_piece(f: AssetFacts, _: object, first: int, last: int) -> Finding | None:
    """The finding of the not-accounted-for run ``first..last``, if it lasts beyond
    ``unaccounted_max_days``."""
    segs = f.segments
    since, end = segs[first].valid_from, segs[last].valid_to
    start = since + f.terms.unaccounted_max
    if end is not None and end <= start:
        return None
    parties: list[str | None] = []
    for seg in segs[first : last + 1]:
        s = seg.state
        parties.append(s.custodian if s.custodian is not None else s.last_custodian)
    reason = unaccounted_reason(segs[first].state, f.ref, since)
    why = "unaccounted" if reason is None else reason.value
    return make_finding(
        R03,
        state_key("R03", f.asset_id, since),
        Severity.HIGH,
        asset_id=f.asset_id,
        contract_id=f.contract_id,
        parties=parties,
        evidence=(*opening_events(segs[first]), *closing_events(segs, last)),
        summary=(
            f"{f.asset_id} not accounted for since {to_key(since)} ({why}), "
            f"beyond {f.terms.unaccounted_max_days} days from {to_key(start)}"
        ),
        valid_from=start,
        valid_to=end,
    )


def r03_unaccounted(f: AssetFacts) -> list[Finding]:
    return run_pieces(f, r03_key, r03_piece)
