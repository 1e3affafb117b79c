"""The rule catalogue of DOMAIN.md §5: one pure function per rule, from the effective
history of one asset (``R…``) or one contract (``C…``) at one knowledge cut to the
findings it implies, without their life (:mod:`domain.rules.life` adds that).

The inputs are :class:`AssetFacts` and :class:`ContractFacts`, built by
:func:`asset_facts` / :func:`contract_facts` from a :class:`~domain.state.History`
and a knowledge time ``k``. Contract rules read each asset only through its
:class:`AssetPart` (its R03 findings, support and repair events, registration), so
a caller re-evaluating one asset need not fold the others again.

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

Choices where DOMAIN.md is silent (each is tested):

* An asset has findings only once its registration is known; events dated before the
  registration are judged against no state (no custodian).
* Event and discrepancy findings are instants: ``valid_from`` is the trigger's
  ``occurred_at`` and ``valid_to`` stays ``None`` — except R16, which "stays until
  dispositioned": its ``valid_to`` is the ``occurred_at`` of the first effective
  ``finding_dispositioned`` naming its key. Dispositions change nothing else.
* Thresholds: a state finding starts at ``start + N`` (inclusive) and is dropped when
  that leaves it empty; R04 and R05 say "``>``", so a notice exactly
  ``loss_notice_hours`` or ``record_limit_days`` late is on time.
* Findings of one rule that share a key (a work order id opened twice, R13 pieces with
  the same due date separated by time out of scope, R01 bands of one custodian that
  start in the same second) merge into one, from the first start to the last end.
* A state finding's summary names its start, never its end: the interval fields carry
  the end, and the summary then stays the same when the interval closes.
* Authorisation is judged at the event's ``occurred_at`` (R02, R04, R09, C04).
* R01 parties: the custodian. R03 names every custodian it passed through and, for a
  spell without one, the last custodian.
* R06 and R07 judge against the prior custodian; when there is none (lost,
  destroyed, not yet registered) any named party is "not related", as DOMAIN says,
  so a transfer of a wreck naming ``from_party`` is an R06.
* R08 "observations of a wreck": an observation whose ``condition`` is one of
  :data:`WRECK_CONDITIONS` (case and ``-``/space insensitive). Any other condition is
  the asset seen in use, which contradicts its terminal status. A second destruction
  report is not in DOMAIN's exceptions, so it is an R08.
* R09 and R10 and C04 judge each repair record, started and completed alike: a
  completion may be the only record of a repair. R10 concerns repairs only, as
  defined; ``support_provided`` is judged by C04.
* R12 ends a work order's interval when it closes, when another work order replaces
  it, or when the asset reaches a terminal status (nobody can work on a wreck; R08
  flags any later repair record).
* R13 with neither a verification nor a partner entry has no due date and no finding.
* R14 also judges assets an inventory does not name: an asset whose prior custodian
  descends from the scope is expected whether or not the envelope lists it. Its
  ``asset_id`` is the asset; ``parties`` are the prior custodian and the inspector.
* C01–C03 merge intervals that touch. C02 and C03 measure their grace from the start
  of each uncovered piece, which is also the piece's key.
* C04 and C05 are judged per asset of their trigger, against the asset's contract
  (every trigger names its assets, so every key is ``RULE/trigger/asset``). C05 takes
  the delivery instant (``delivered_at``, else ``occurred_at``).
* A contract action belongs to ``payload.target_contract_id`` (else the envelope's
  ``contract_id``). Several suspensions in a row are one, from the first;
  a resumption without a suspension does nothing.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from domain.history import Event, WorldKey
from domain.instants import to_key
from domain.reference import Contract, Reference, Terms
from domain.rules.findings import Finding, FindingKind, Severity, event_key, state_key
from domain.state import AssetState, History, Segment, Step, unaccounted_reason
from domain.vocabulary import (
    ContractActionKind,
    EventType,
    PartyKind,
    Status,
    UseAssessment,
)

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

REPAIRS = frozenset({EventType.REPAIR_STARTED, EventType.REPAIR_COMPLETED})
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
_TAKINGS = frozenset(
    {EventType.CUSTODY_TRANSFERRED, EventType.ASSET_CAPTURED, EventType.ASSET_RECOVERED}
)
_AFTER_TERMINAL_ALLOWED = frozenset(
    {
        EventType.CUSTODY_TRANSFERRED,
        EventType.ASSET_DECOMMISSIONED,
        EventType.INVENTORY_COMPLETED,
        EventType.CONTRACT_ACTION,
    }
)
# Payload fields that name a party, for the parties of a finding about any event.
_PARTY_FIELDS = (
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

RULE_NAMES: Mapping[str, str] = {
    "R01": "UNAUTHORISED_CUSTODY",
    "R02": "UNAUTHORISED_TRANSFER",
    "R03": "UNACCOUNTED",
    "R04": "LATE_LOSS_NOTICE",
    "R05": "LATE_RECORDING",
    "R06": "CHAIN_OF_CUSTODY_BREAK",
    "R07": "OBSERVED_CUSTODY_CONFLICT",
    "R08": "EVENT_AFTER_TERMINAL",
    "R09": "UNAUTHORISED_REPAIR",
    "R10": "SUPPORT_TO_UNACCOUNTED_ASSET",
    "R12": "REPAIR_OPEN_TOO_LONG",
    "R13": "INVENTORY_OVERDUE",
    "R14": "INVENTORY_DISCREPANCY",
    "R16": "POTENTIAL_UNAUTHORISED_USE",
    "C01": "SUSPENSION_REQUIRED",
    "C02": "ENFORCEMENT_GAP",
    "C03": "SUSPENSION_WITHOUT_CAUSE",
    "C04": "SUPPORT_DURING_SUSPENSION",
    "C05": "DELIVERY_DURING_HOLD",
}

RULE_KINDS: Mapping[str, FindingKind] = {
    **dict.fromkeys(("R01", "R03", "R12", "R13", "C01", "C02", "C03"), FindingKind.STATE),
    **dict.fromkeys(("R02", "R04", "R05", "R09", "R10", "C04", "C05"), FindingKind.EVENT),
    **dict.fromkeys(("R06", "R07", "R08", "R14", "R16"), FindingKind.DISCREPANCY),
}


# -- inputs --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CutFacts:
    """Log-wide facts at one knowledge cut that single-asset and contract rules need:
    the effective registrations (first per asset in world order), inventories (with
    the assets each concerns and an index from scope party to inventories), contract
    actions per contract and dispositions per finding key, in world order."""

    registrations: Mapping[str, Event]
    inventories: tuple[Event, ...]
    inventory_subjects: tuple[frozenset[str], ...]
    inventory_scopes: tuple[frozenset[str], ...]
    inventories_by_scope: Mapping[str, tuple[int, ...]]
    actions: Mapping[str, tuple[Event, ...]]
    dispositions: Mapping[str, tuple[Event, ...]]
    contracts: Mapping[str, tuple[str, ...]]
    _lines: dict[str, tuple[Event, dict[str, tuple[str, str | None]]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def of(cls, events: Iterable[Event]) -> CutFacts:
        """From effective events (any types; the rest are skipped)."""
        by_type: dict[EventType, list[Event]] = {t: [] for t in CUT_TYPES}
        for e in events:
            if e.type in by_type:
                by_type[e.type].append(e)
        fields_: dict[str, Any] = {}
        for t, es in by_type.items():
            fields_.update(_CUT_PARTS[t](es))
        return cls(**fields_)

    def replaced(self, type_: EventType, events: Iterable[Event]) -> CutFacts:
        """These facts with the part of one event type rebuilt from ``events``."""
        return replace(self, **_CUT_PARTS[type_](list(events)))

    def inventory_line(self, e: Event, asset_id: str) -> tuple[str, str | None] | None:
        """The result line of ``asset_id`` in inventory ``e``, parsed once per version
        of the inventory (the cache is shared by the cuts :meth:`replaced` derives)."""
        lines = self._lines.get(e.event_id)
        if lines is None or lines[0] is not e:
            lines = (e, e.inventory_results())
            self._lines[e.event_id] = lines
        return lines[1].get(asset_id)

    def contract_of(self, asset_id: str) -> str | None:
        reg = self.registrations.get(asset_id)
        return None if reg is None else registration_contract(reg)

    def assets_of(self, contract_id: str) -> tuple[str, ...]:
        return self.contracts.get(contract_id, ())


def registration_contract(e: Event) -> str | None:
    return e.text("contract_id") or e.contract_id


def action_contract(e: Event) -> str:
    return e.text("target_contract_id") or e.contract_id or ""


def _world(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=lambda e: e.world_key)


def _registrations_part(events: Iterable[Event]) -> dict[str, Any]:
    registrations: dict[str, Event] = {}
    for e in _world(events):
        for a in e.subjects:
            registrations.setdefault(a, e)
    contracts: dict[str, list[str]] = {}
    for a, e in sorted(registrations.items()):
        contracts.setdefault(registration_contract(e) or "", []).append(a)
    return {
        "registrations": registrations,
        "contracts": {c: tuple(v) for c, v in contracts.items()},
    }


def _inventories_part(events: Iterable[Event]) -> dict[str, Any]:
    inventories = _world(events)
    by_scope: dict[str, list[int]] = {}
    indexed = [_inventory_index(e) for e in inventories]
    for i, (_, scopes) in enumerate(indexed):
        for p in scopes:
            by_scope.setdefault(p, []).append(i)
    return {
        "inventories": tuple(inventories),
        "inventory_subjects": tuple(subjects for subjects, _ in indexed),
        "inventory_scopes": tuple(scopes for _, scopes in indexed),
        "inventories_by_scope": {p: tuple(v) for p, v in by_scope.items()},
    }


@lru_cache(maxsize=65536)
def _inventory_index(e: Event) -> tuple[frozenset[str], frozenset[str]]:
    # Cached per event version: parsing the result lines of every inventory at every
    # knowledge cut is what a walk over knowledge time would otherwise spend.
    return frozenset(e.subjects), frozenset(e.texts("scope_parties"))


def _actions_part(events: Iterable[Event]) -> dict[str, Any]:
    actions: dict[str, list[Event]] = {}
    for e in _world(events):
        actions.setdefault(action_contract(e), []).append(e)
    return {"actions": {c: tuple(v) for c, v in actions.items()}}


def _dispositions_part(events: Iterable[Event]) -> dict[str, Any]:
    dispositions: dict[str, list[Event]] = {}
    for e in _world(events):
        dispositions.setdefault(e.text("finding_key") or "", []).append(e)
    return {"dispositions": {k: tuple(v) for k, v in dispositions.items()}}


_CUT_PARTS: Mapping[EventType, Callable[[Iterable[Event]], dict[str, Any]]] = {
    EventType.ASSET_REGISTERED: _registrations_part,
    EventType.INVENTORY_COMPLETED: _inventories_part,
    EventType.CONTRACT_ACTION: _actions_part,
    EventType.FINDING_DISPOSITIONED: _dispositions_part,
}
CUT_TYPES: frozenset[EventType] = frozenset(_CUT_PARTS)
"""The event types whose effective lists :class:`CutFacts` holds."""


class StepIndex:
    """What the interval rules read of an asset's steps besides its segments: which
    event set each ``last_verified_at`` and ``partner_entry_at`` (R13), the custodians
    it had and its inventory steps (R14), its work orders (R12). Built one step at a
    time, so an evaluation that appends steps extends it (:meth:`add`)."""

    __slots__ = ("_open", "custodians", "entered_by", "inventories", "orders", "verified_by")

    def __init__(self) -> None:
        self.verified_by: dict[datetime, str] = {}
        self.entered_by: dict[datetime, str] = {}
        self.custodians: set[str] = set()
        self.inventories: list[int] = []
        # (work order, opening event, closing event or None)
        self.orders: list[tuple[str, Event, Event | None]] = []
        self._open: str | None = None

    @classmethod
    def of(cls, steps: Sequence[Step]) -> StepIndex:
        index = cls()
        index.add(steps, 0)
        return index

    def add(self, steps: Sequence[Step], start: int) -> None:
        """Index ``steps[start:]`` (the earlier ones are indexed already)."""
        for i in range(start, len(steps)):
            step = steps[i]
            e, b, a = step.event, step.before, step.after
            if e.type is EventType.INVENTORY_COMPLETED:
                self.inventories.append(i)
            if a is None:
                continue
            if a.custodian:
                self.custodians.add(a.custodian)
            if a.last_verified_at is not None and (
                b is None or b.last_verified_at != a.last_verified_at
            ):
                self.verified_by[a.last_verified_at] = e.event_id
            if a.partner_entry_at is not None and (
                b is None or b.partner_entry_at != a.partner_entry_at
            ):
                self.entered_by[a.partner_entry_at] = e.event_id
            wo = None if a.terminal else a.open_work_order
            if wo == self._open:
                continue
            if self._open is not None:
                name, opened, _ = self.orders[-1]
                self.orders[-1] = (name, opened, e)
            if wo is not None and e.type is EventType.REPAIR_STARTED:
                self.orders.append((wo, e, None))
                self._open = wo
            else:
                self._open = None


@dataclass(frozen=True, slots=True)
class AssetFacts:
    """One asset's effective history at one knowledge cut. ``index`` may come
    precomputed with the steps (an incremental evaluation keeps one); else it is
    built from them."""

    asset_id: str
    contract_id: str | None
    ref: Reference
    terms: Terms
    steps: tuple[Step, ...]
    segments: tuple[Segment, ...]
    cut: CutFacts
    keys: tuple[WorldKey, ...] = field(repr=False)  # the steps' world keys, for bisection
    given_index: StepIndex | None = field(default=None, repr=False, compare=False)

    @property
    def index(self) -> StepIndex:
        return StepIndex.of(self.steps) if self.given_index is None else self.given_index


def asset_facts(history: History, asset_id: str, k: datetime | None, cut: CutFacts) -> AssetFacts:
    ref = history.reference(k)
    contract_id = cut.contract_of(asset_id)
    steps = history.steps(asset_id, k)
    return AssetFacts(
        asset_id=asset_id,
        contract_id=contract_id,
        ref=ref,
        terms=ref.terms(contract_id),
        steps=steps,
        segments=history.segments(asset_id, k),
        cut=cut,
        keys=tuple(s.event.world_key for s in steps),
    )


@dataclass(frozen=True, slots=True)
class AssetPart:
    """What the contract rules read of one asset: its R03 findings, its support and
    repair events, and its registration."""

    asset_id: str
    unaccounted: tuple[Finding, ...]
    support: tuple[Event, ...]
    registration: Event | None


def asset_part(facts: AssetFacts, r03: Sequence[Finding]) -> AssetPart:
    registration = next(
        (s.event for s in facts.steps if s.event.type is EventType.ASSET_REGISTERED and s.applied),
        None,
    )
    return AssetPart(
        asset_id=facts.asset_id,
        unaccounted=tuple(r03),
        support=tuple(
            s.event
            for s in facts.steps
            if s.event.type is EventType.SUPPORT_PROVIDED or s.event.type in REPAIRS
        ),
        registration=registration,
    )


@dataclass(frozen=True, slots=True)
class ContractFacts:
    """One contract at one knowledge cut: its reference data, its effective contract
    actions in world order, and the parts of (some of) its assets."""

    contract_id: str
    contract: Contract | None
    ref: Reference
    terms: Terms
    actions: tuple[Event, ...]
    assets: tuple[AssetPart, ...]


def contract_facts(
    contract_id: str, ref: Reference, cut: CutFacts, parts: Iterable[AssetPart]
) -> ContractFacts:
    return ContractFacts(
        contract_id=contract_id,
        contract=ref.contract(contract_id),
        ref=ref,
        terms=ref.terms(contract_id),
        actions=cut.actions.get(contract_id, ()),
        assets=tuple(sorted(parts, key=lambda p: p.asset_id)),
    )


# -- helpers -----------------------------------------------------------------------


def _finding(
    rule: str,
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
        rule=rule,
        rule_name=RULE_NAMES[rule],
        kind=RULE_KINDS[rule],
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


def _event_finding(
    rule: str,
    f: AssetFacts,
    e: Event,
    severity: Severity,
    summary: str,
    parties: Iterable[str | None],
    evidence: Iterable[str] = (),
) -> Finding:
    return _finding(
        rule,
        event_key(rule, e.event_id, f.asset_id),
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
    return tuple(p for name in _PARTY_FIELDS if (p := e.text(name)))


def _custodian(s: AssetState | None) -> str | None:
    """The custodian in a state, ``None`` without one (or before registration)."""
    if s is None or s.status is not Status.IN_CUSTODY:
        return None
    return s.custodian


def _merge_same_key(findings: Iterable[Finding]) -> list[Finding]:
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
                **{name: getattr(first, name) for name in _FINDING_FIELDS},
                "valid_to": f.valid_to,
                "parties": tuple(dict.fromkeys((*first.parties, *f.parties))),
                "evidence": tuple(dict.fromkeys((*first.evidence, *f.evidence))),
                "severity": max(first.severity, f.severity, key=lambda s: s.rank),
            }
        )
    return list(out.values())


_FINDING_FIELDS = tuple(Finding.__dataclass_fields__)


def _runs(
    segments: Sequence[Segment], key: Callable[[Segment], object | None]
) -> list[tuple[object, int, int]]:
    """Maximal runs of consecutive segments with the same non-``None`` key:
    ``(key, first index, last index)``."""
    out: list[tuple[object, int, int]] = []
    for i, seg in enumerate(segments):
        k = key(seg)
        if k is None:
            continue
        if out and out[-1][0] == k and out[-1][2] == i - 1:
            out[-1] = (k, out[-1][1], i)
        else:
            out.append((k, i, i))
    return out


def _opening(seg: Segment) -> tuple[str, ...]:
    return seg.custody_event_ids + seg.authorisation_event_ids or seg.event_ids


def _closing(segments: Sequence[Segment], last: int) -> tuple[str, ...]:
    return _opening(segments[last + 1]) if last + 1 < len(segments) else ()


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


# -- asset rules -----------------------------------------------------------------------


def r01_unauthorised_custody(f: AssetFacts) -> list[Finding]:
    segs = f.segments

    def unauthorised(seg: Segment) -> str | None:
        s = seg.state
        if s.status is Status.IN_CUSTODY and s.custodian is not None and seg.authorised is False:
            return s.custodian
        return None

    out = []
    for custodian, first, last in _runs(segs, unauthorised):
        assert isinstance(custodian, str)
        start, end = segs[first].valid_from, segs[last].valid_to
        hostile = _hostile(f.ref, custodian, start, end)
        out.append(
            _finding(
                "R01",
                state_key("R01", f.asset_id, custodian, start),
                Severity.CRITICAL if hostile else Severity.HIGH,
                asset_id=f.asset_id,
                contract_id=f.contract_id,
                parties=(custodian,),
                evidence=(*_opening(segs[first]), *_closing(segs, last)),
                summary=(
                    f"{f.asset_id} held by {custodian}, not authorised under "
                    f"{f.contract_id}, since {to_key(start)}"
                ),
                valid_from=start,
                valid_to=end,
            )
        )
    return _merge_same_key(out)


def _r02(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e = step.event
    if e.type is not EventType.CUSTODY_TRANSFERRED or e.text("transfer_consent_ref"):
        return None
    giver, to = _custodian(step.before), e.text("to_party")
    t = e.occurred_at
    if giver is None or not f.ref.authorised(giver, f.contract_id, t):
        return None
    if f.ref.authorised(to, f.contract_id, t):
        return None
    return _event_finding(
        "R02",
        f,
        e,
        Severity.HIGH,
        f"{f.asset_id} transferred by authorised {giver} to unauthorised {to} "
        f"without consent at {to_key(t)}",
        (giver, to),
    )


def r02_unauthorised_transfer(f: AssetFacts) -> list[Finding]:
    return _each_step(f, _r02)


def r03_unaccounted(f: AssetFacts) -> list[Finding]:
    segs = f.segments
    out = []
    for _, first, last in _runs(segs, lambda seg: None if seg.accounted else True):
        since, end = segs[first].valid_from, segs[last].valid_to
        start = since + f.terms.unaccounted_max
        if end is not None and end <= start:
            continue
        parties: list[str | None] = []
        for seg in segs[first : last + 1]:
            s = seg.state
            parties.append(s.custodian if s.custodian is not None else s.last_custodian)
        reason = unaccounted_reason(segs[first].state, f.ref, since)
        why = "unaccounted" if reason is None else reason.value
        out.append(
            _finding(
                "R03",
                state_key("R03", f.asset_id, since),
                Severity.HIGH,
                asset_id=f.asset_id,
                contract_id=f.contract_id,
                parties=parties,
                evidence=(*_opening(segs[first]), *_closing(segs, last)),
                summary=(
                    f"{f.asset_id} not accounted for since {to_key(since)} ({why}), "
                    f"beyond {f.terms.unaccounted_max_days} days from {to_key(start)}"
                ),
                valid_from=start,
                valid_to=end,
            )
        )
    return out


def _late_loss_notice(f: AssetFacts, step: Step) -> bool:
    e = step.event
    if e.type not in _LOSSES:
        return False
    if e.reported_at - (e.discovered_at or e.occurred_at) <= f.terms.loss_notice:
        return False
    holder = _custodian(step.before)
    return holder is not None and f.ref.authorised(holder, f.contract_id, e.occurred_at)


def _r04(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    if not _late_loss_notice(f, step):
        return None
    e = step.event
    basis = e.discovered_at or e.occurred_at
    lag = _hours(e.reported_at - basis)
    return _event_finding(
        "R04",
        f,
        e,
        Severity.MEDIUM,
        f"{e.type.value} of {f.asset_id} reported {lag} h after "
        f"{'discovery' if e.discovered_at else 'the fact'} "
        f"(limit {f.terms.loss_notice_hours} h)",
        (_custodian(step.before), e.reporter, *named_parties(e)),
    )


def r04_late_loss_notice(f: AssetFacts) -> list[Finding]:
    return _each_step(f, _r04)


def _hours(d: timedelta) -> str:
    return f"{d.total_seconds() / 3600:g}"


def _r05(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e = step.event
    if e.type not in _RECORDED:
        return None
    basis = e.occurred_latest or e.occurred_at
    if e.reported_at - basis <= f.terms.record_limit or _late_loss_notice(f, step):
        return None
    days = (e.reported_at - basis).total_seconds() / 86400
    return _event_finding(
        "R05",
        f,
        e,
        Severity.LOW,
        f"{e.type.value} of {f.asset_id} recorded {days:.1f} days after it happened "
        f"(limit {f.terms.record_limit_days} days)",
        (e.reporter, *named_parties(e)),
    )


def r05_late_recording(f: AssetFacts) -> list[Finding]:
    return _each_step(f, _r05)


def _r06(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e = step.event
    named = e.text("from_party")
    if e.type not in _TAKINGS or named is None:
        return None
    holder = _custodian(step.before)
    if f.ref.related(named, holder):
        return None
    before = step.before
    return _event_finding(
        "R06",
        f,
        e,
        Severity.MEDIUM,
        f"{e.type.value} of {f.asset_id} names {named} as from_party, but the "
        f"ledger's custodian was {holder or 'none'}",
        (named, holder, *named_parties(e)),
        () if before is None else (before.last_event_id,),
    )


def r06_chain_of_custody_break(f: AssetFacts) -> list[Finding]:
    return _each_step(f, _r06)


def _r07(f: AssetFacts, i: int) -> Finding | None:
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
    holder = _custodian(before)
    if f.ref.related(seen, holder):
        return None
    return _event_finding(
        "R07",
        f,
        e,
        Severity.MEDIUM,
        f"{f.asset_id} observed with {seen} ({e.confidence.value}) while the "
        f"ledger's custodian was {holder or 'none'}",
        (seen, holder),
        () if before is None else (before.last_event_id,),
    )


def r07_observed_custody_conflict(f: AssetFacts) -> list[Finding]:
    return _each_step(f, _r07)


def _wreck_sighting(e: Event) -> bool:
    condition = (e.text("condition") or "").strip().lower().replace("-", "_").replace(" ", "_")
    return condition in WRECK_CONDITIONS


def _r08(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e, before = step.event, step.before
    if before is None or not before.terminal or e.type in _AFTER_TERMINAL_ALLOWED:
        return None
    if e.type is EventType.OBSERVATION and _wreck_sighting(e):
        return None
    return _event_finding(
        "R08",
        f,
        e,
        Severity.MEDIUM,
        f"{e.type.value} of {f.asset_id} after it was {before.status.value.lower()}",
        (e.reporter, *named_parties(e)),
        (before.last_event_id,),
    )


def r08_event_after_terminal(f: AssetFacts) -> list[Finding]:
    return _each_step(f, _r08)


def _r09(f: AssetFacts, i: int) -> Finding | None:
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
    site = f.ref.facilities.get(facility or "")
    return _event_finding(
        "R09",
        f,
        e,
        Severity.HIGH,
        f"{work} on {f.asset_id} ({e.text('work_order_id')}) without authorisation "
        f"of {' and '.join(lacking)}",
        (performer, None if site is None else site.operator_party),
    )


def r09_unauthorised_repair(f: AssetFacts) -> list[Finding]:
    return _each_step(f, _r09)


def _r10(f: AssetFacts, i: int) -> Finding | None:
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
    return _event_finding(
        "R10",
        f,
        e,
        Severity.HIGH,
        f"{e.text('work_type')} on {f.asset_id} at {to_key(t)} while not accounted "
        f"for ({reason.value})",
        (e.text("performed_by_party"), _custodian(state)),
        () if state is None else (state.last_event_id,),
    )


def r10_support_to_unaccounted_asset(f: AssetFacts) -> list[Finding]:
    return _each_step(f, _r10)


def r12_repair_open_too_long(f: AssetFacts) -> list[Finding]:
    out = []
    for wo, opened, closed in f.index.orders:
        work = opened.text("work_type")
        start = opened.occurred_at + f.terms.repair_open_max(work)
        end = None if closed is None else closed.occurred_at
        if end is not None and end <= start:
            continue
        site = f.ref.facilities.get(opened.text("facility_id") or "")
        limit = f.terms.repair_open_max_days.days_for(work)
        out.append(
            _finding(
                "R12",
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
        )
    return _merge_same_key(out)


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
    for due, first, last in _runs(segs, due_of):
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
            _finding(
                "R13",
                state_key("R13", f.asset_id, due),
                Severity.LOW,
                asset_id=f.asset_id,
                contract_id=f.contract_id,
                parties=[seg.state.custodian for seg in covered],
                evidence=(*(b for b in basis if b), *_closing(segs, last)),
                summary=(
                    f"inventory of {f.asset_id} overdue since {to_key(due)} (last verified "
                    f"{'never' if s.last_verified_at is None else to_key(s.last_verified_at)})"
                ),
                valid_from=start,
                valid_to=end,
            )
        )
    return _merge_same_key(out)


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
        holder = _custodian(f.steps[j - 1].after) if j else None
        if holder is None or cut.inventory_scopes[i].isdisjoint(f.ref.ancestors(holder)):
            continue
        f14 = _r14_check(f, e, f.steps[j - 1].after, None)
        if f14 is not None:
            out.append(f14)
    return sorted(out, key=lambda x: (x.valid_from, x.finding_key))


def _r14_check(
    f: AssetFacts, e: Event, before: AssetState | None, line: tuple[str, str | None] | None
) -> Finding | None:
    holder = _custodian(before)
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
    return _event_finding(
        "R14",
        f,
        e,
        Severity.MEDIUM,
        summary,
        (holder, e.text("inspector_party"), None if line is None else line[1]),
    )


def _r16(f: AssetFacts, i: int) -> Finding | None:
    step = f.steps[i]
    e = step.event
    if e.type is not EventType.OBSERVATION:
        return None
    if e.text("use_assessment") != UseAssessment.POTENTIALLY_UNAUTHORISED.value:
        return None
    found = _event_finding(
        "R16",
        f,
        e,
        Severity.MEDIUM,
        f"{f.asset_id} observed in potentially unauthorised use"
        + (f" by {e.text('observed_party')}" if e.text("observed_party") else ""),
        (e.text("observed_party"), _custodian(step.before)),
    )
    decided = f.cut.dispositions.get(found.finding_key, ())
    if decided:
        first = decided[0]
        found = Finding(
            **{
                **{name: getattr(found, name) for name in _FINDING_FIELDS},
                "valid_to": max(first.occurred_at, found.valid_from),
                "evidence": (*found.evidence, first.event_id),
            }
        )
    return found


def r16_potential_unauthorised_use(f: AssetFacts) -> list[Finding]:
    return _each_step(f, _r16)


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
    "R02": _r02,
    "R04": _r04,
    "R05": _r05,
    "R06": _r06,
    "R07": _r07,
    "R08": _r08,
    "R09": _r09,
    "R10": _r10,
    "R16": _r16,
}
"""The rules that judge one step at a time: the finding of step ``i`` depends only on
that step, the steps before it in world order, the reference data, the terms and the
dispositions (R16) — so steps appended at the end of an asset's world order leave the
findings of the earlier steps unchanged (:func:`step_findings`)."""

WHOLE_RULES: Mapping[str, Callable[[AssetFacts], list[Finding]]] = {
    rule: fn for rule, fn in ASSET_RULES.items() if rule not in STEP_RULES
}
"""The rules that judge the asset's intervals (and R14, which looks up inventories
by the custodian at their time): evaluated over the whole history each time."""


def _each_step(f: AssetFacts, rule: Callable[[AssetFacts, int], Finding | None]) -> list[Finding]:
    return [x for i in range(len(f.steps)) if (x := rule(f, i)) is not None]


def step_findings(f: AssetFacts, start: int = 0) -> list[Finding]:
    """The findings of :data:`STEP_RULES` for the steps from index ``start`` on."""
    rules = tuple(STEP_RULES.values())
    return [x for i in range(start, len(f.steps)) for rule in rules if (x := rule(f, i))]


def asset_rules(f: AssetFacts) -> list[Finding]:
    """Every asset rule, in catalogue order."""
    return [x for rule in ASSET_RULES.values() for x in rule(f)]


# -- intervals (valid time, half-open, ``None`` = open) ----------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """``[valid_from, valid_to)`` with the events that opened and closed it."""

    valid_from: datetime
    valid_to: datetime | None
    opened_by: tuple[str, ...] = ()
    closed_by: tuple[str, ...] = ()

    def contains(self, t: datetime) -> bool:
        return self.valid_from <= t and (self.valid_to is None or t < self.valid_to)


def _before(a: datetime | None, b: datetime | None) -> bool:
    """``a < b`` where ``None`` is the open end."""
    return a is not None and (b is None or a < b)


def union(spans: Iterable[Span]) -> list[Span]:
    """Merge overlapping and touching spans."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: s.valid_from):
        if out and not _before(out[-1].valid_to, s.valid_from):
            last = out[-1]
            end = (
                None
                if last.valid_to is None or s.valid_to is None
                else max(last.valid_to, s.valid_to)
            )
            closed = s.closed_by if end == s.valid_to else last.closed_by
            out[-1] = Span(
                last.valid_from,
                end,
                tuple(dict.fromkeys((*last.opened_by, *s.opened_by))),
                closed,
            )
        else:
            out.append(s)
    return out


def subtract(spans: Iterable[Span], minus: Sequence[Span]) -> list[Span]:
    """The parts of ``spans`` not covered by ``minus`` (both merged first)."""
    cover = union(minus)
    out: list[Span] = []
    for s in union(spans):
        start: datetime | None = s.valid_from
        opened = s.opened_by
        for c in cover:
            if start is None:
                break
            if not _before(start, c.valid_to) or not _before(c.valid_from, s.valid_to):
                continue
            if start < c.valid_from:
                out.append(Span(start, c.valid_from, opened, c.opened_by))
            start, opened = c.valid_to, c.closed_by
        if start is not None and _before(start, s.valid_to):
            out.append(Span(start, s.valid_to, opened, s.closed_by))
    return out


def action_spans(
    actions: Iterable[Event], begin: ContractActionKind, end: ContractActionKind
) -> list[Span]:
    """In effect from each ``begin`` to the next ``end``, in world order (DOMAIN.md §5)."""
    return list(_action_spans(tuple(actions), begin, end))


@lru_cache(maxsize=1024)
def _action_spans(
    actions: tuple[Event, ...], begin: ContractActionKind, end: ContractActionKind
) -> tuple[Span, ...]:
    # Cached: C02–C05 and compliance ask for the same contract's spans again and
    # again, and events are immutable.
    out: list[Span] = []
    since: Event | None = None
    for e in sorted(actions, key=lambda e: e.world_key):
        action = e.text("action")
        if action == begin.value and since is None:
            since = e
        elif action == end.value and since is not None:
            if e.occurred_at > since.occurred_at:
                out.append(Span(since.occurred_at, e.occurred_at, (since.event_id,), (e.event_id,)))
            since = None
    if since is not None:
        out.append(Span(since.occurred_at, None, (since.event_id,)))
    return tuple(out)


def suspensions(actions: Iterable[Event]) -> list[Span]:
    return action_spans(
        actions, ContractActionKind.SUPPORT_SUSPENDED, ContractActionKind.SUPPORT_RESUMED
    )


def holds(actions: Iterable[Event]) -> list[Span]:
    return action_spans(
        actions, ContractActionKind.DELIVERY_HOLD_IMPOSED, ContractActionKind.DELIVERY_HOLD_LIFTED
    )


# -- contract rules --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Piece:
    span: Span
    members: tuple[Finding, ...]


def _c01_pieces(f: ContractFacts) -> list[_Piece]:
    r03 = sorted(
        (x for part in f.assets for x in part.unaccounted),
        key=lambda x: (x.valid_from, x.finding_key),
    )
    groups: list[list[Finding]] = []
    end: datetime | None = None
    for x in r03:
        if groups and not _before(end, x.valid_from):
            groups[-1].append(x)
            end = None if end is None or x.valid_to is None else max(end, x.valid_to)
        else:
            groups.append([x])
            end = x.valid_to
    pieces = []
    for members in groups:
        ends = [x.valid_to for x in members]
        stop = None if None in ends else max(e for e in ends if e is not None)
        closers = tuple(dict.fromkeys(x.evidence[-1] for x in members if x.valid_to == stop))
        opened = tuple(dict.fromkeys(i for x in members for i in x.evidence))
        pieces.append(
            _Piece(
                Span(members[0].valid_from, stop, opened, closers if stop else ()), tuple(members)
            )
        )
    return pieces


def _contract_finding(
    rule: str,
    f: ContractFacts,
    span: Span,
    key_instant: datetime,
    severity: Severity,
    summary: str,
    parties: Iterable[str | None],
    evidence: Iterable[str],
) -> Finding:
    return _finding(
        rule,
        state_key(rule, f.contract_id, key_instant),
        severity,
        asset_id=None,
        contract_id=f.contract_id,
        parties=parties,
        evidence=evidence,
        summary=summary,
        valid_from=span.valid_from,
        valid_to=span.valid_to,
    )


def _sides(f: ContractFacts) -> tuple[str | None, str | None]:
    c = f.contract
    return (None, None) if c is None else (c.seller, c.title_holder)


def c01_suspension_required(
    f: ContractFacts, pieces: Sequence[_Piece] | None = None
) -> list[Finding]:
    out = []
    for piece in _c01_pieces(f) if pieces is None else pieces:
        assets = sorted({x.asset_id for x in piece.members if x.asset_id})
        out.append(
            _contract_finding(
                "C01",
                f,
                piece.span,
                piece.span.valid_from,
                Severity.HIGH,
                f"support under {f.contract_id} must be suspended since "
                f"{to_key(piece.span.valid_from)}: {', '.join(assets)} unaccounted for beyond "
                f"{f.terms.unaccounted_max_days} days",
                [p for x in piece.members for p in x.parties],
                [e for x in piece.members for e in x.evidence],
            )
        )
    return out


def c02_enforcement_gap(f: ContractFacts, pieces: Sequence[_Piece] | None = None) -> list[Finding]:
    suspended = suspensions(f.actions)
    out = []
    seller, holder = _sides(f)
    for piece in _c01_pieces(f) if pieces is None else pieces:
        for gap in subtract([piece.span], suspended):
            start = gap.valid_from + f.terms.enforcement_grace
            if gap.valid_to is not None and gap.valid_to <= start:
                continue
            out.append(
                _contract_finding(
                    "C02",
                    f,
                    Span(start, gap.valid_to),
                    gap.valid_from,
                    Severity.CRITICAL,
                    f"support under {f.contract_id} required to be suspended since "
                    f"{to_key(gap.valid_from)} but not suspended, beyond "
                    f"{f.terms.enforcement_grace_days} days from {to_key(start)}",
                    (seller, holder),
                    (*gap.opened_by, *gap.closed_by),
                )
            )
    return out


def c03_suspension_without_cause(
    f: ContractFacts, pieces: Sequence[_Piece] | None = None
) -> list[Finding]:
    required = [p.span for p in (_c01_pieces(f) if pieces is None else pieces)]
    out = []
    seller, holder = _sides(f)
    for piece in subtract(suspensions(f.actions), required):
        start = piece.valid_from + f.terms.enforcement_grace
        if piece.valid_to is not None and piece.valid_to <= start:
            continue
        out.append(
            _contract_finding(
                "C03",
                f,
                Span(start, piece.valid_to),
                piece.valid_from,
                Severity.MEDIUM,
                f"support under {f.contract_id} suspended without cause since "
                f"{to_key(piece.valid_from)}, beyond {f.terms.enforcement_grace_days} days "
                f"from {to_key(start)}",
                (seller, holder),
                (*piece.opened_by, *piece.closed_by),
            )
        )
    return out


def _covering(spans: Sequence[Span], t: datetime) -> Span | None:
    return next((s for s in spans if s.contains(t)), None)


def c04_support_during_suspension(f: ContractFacts) -> list[Finding]:
    suspended = union(suspensions(f.actions))
    if not suspended:
        return []
    out = []
    for part in f.assets:
        for e in part.support:
            who = e.text(
                "provider_party" if e.type is EventType.SUPPORT_PROVIDED else "performed_by_party"
            )
            span = _covering(suspended, e.occurred_at)
            if span is None or not f.ref.seller_side(who, f.contract_id):
                continue
            out.append(
                _finding(
                    "C04",
                    event_key("C04", e.event_id, part.asset_id),
                    Severity.HIGH,
                    asset_id=part.asset_id,
                    contract_id=f.contract_id,
                    parties=(who, e.text("recipient_party")),
                    evidence=(e.event_id, *span.opened_by),
                    summary=(
                        f"{e.type.value} for {part.asset_id} by seller-side {who} at "
                        f"{to_key(e.occurred_at)} while support under {f.contract_id} "
                        f"was suspended"
                    ),
                    valid_from=e.occurred_at,
                    trigger=e.event_id,
                )
            )
    return out


def c05_delivery_during_hold(f: ContractFacts) -> list[Finding]:
    held = union(holds(f.actions))
    if not held:
        return []
    out = []
    seller, _ = _sides(f)
    for part in f.assets:
        e = part.registration
        if e is None or registration_contract(e) != f.contract_id:
            continue
        delivered = e.instant("delivered_at") or e.occurred_at
        span = _covering(held, delivered)
        if span is None:
            continue
        out.append(
            _finding(
                "C05",
                event_key("C05", e.event_id, part.asset_id),
                Severity.HIGH,
                asset_id=part.asset_id,
                contract_id=f.contract_id,
                parties=(seller, e.text("initial_custodian")),
                evidence=(e.event_id, *span.opened_by),
                summary=(
                    f"{part.asset_id} delivered under {f.contract_id} at {to_key(delivered)} "
                    f"while a delivery hold was in effect"
                ),
                valid_from=e.occurred_at,
                trigger=e.event_id,
            )
        )
    return out


CONTRACT_STATE_RULES: Mapping[str, Callable[[ContractFacts], list[Finding]]] = {
    "C01": c01_suspension_required,
    "C02": c02_enforcement_gap,
    "C03": c03_suspension_without_cause,
}
CONTRACT_EVENT_RULES: Mapping[str, Callable[[ContractFacts], list[Finding]]] = {
    "C04": c04_support_during_suspension,
    "C05": c05_delivery_during_hold,
}


def contract_state_rules(f: ContractFacts) -> list[Finding]:
    """C01–C03, sharing the union of the assets' R03 intervals they all start from."""
    pieces = _c01_pieces(f)
    return [
        *c01_suspension_required(f, pieces),
        *c02_enforcement_gap(f, pieces),
        *c03_suspension_without_cause(f, pieces),
    ]


def contract_rules(f: ContractFacts) -> list[Finding]:
    return [
        *contract_state_rules(f),
        *(x for rule in CONTRACT_EVENT_RULES.values() for x in rule(f)),
    ]
