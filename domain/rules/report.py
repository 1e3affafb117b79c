"""The auditor's contract report of DOMAIN.md §7 as data: one pure function of the log,
the contract, ``(as_of, known_at)`` and a period, returning every section in a
JSON-friendly form (the HTTP layer renders it as JSON or HTML).

Sections: the contract and its terms; assets (total, accounted, not accounted with
reasons); enforcement (suspension required, in effect, enforcement gap, holds — now
and as intervals); open state findings; event findings and discrepancies within the
period; inventory compliance; corrections and retractions; restatements; and a
reproducibility block.

Choices where DOMAIN.md is silent:

* Findings are shown as known at ``known_at`` ("known then", with their life as then
  known): a report made at a date shows what could be known at that date. "Open
  state findings" are those not cleared and active at ``as_of``.
* The period ``[from, to)`` is in valid time for findings (their ``valid_from``) and
  inventories (``occurred_at``), and in knowledge time for corrections and
  retractions (``reported_at``); an open end is unbounded.
* Restatements compare each finding of the contract as known at ``known_at`` with
  the same finding under all knowledge in the log, both clipped at the horizon
  ``min(as_of, known_at)``: only what happened up to the report time can have been
  restated by *late* knowledge; an interval that merely ended after it is not a
  restatement. ``added``: not known then, now known to have started by the horizon;
  ``withdrawn``: known then, since cleared (with the reason); ``changed``: known
  both times with a different clipped interval. ``restated_at`` is the first
  knowledge instant after ``known_at`` at which the finding changed;
  ``late_evidence`` the evidence now cited that was reported after ``known_at``.
* The reproducibility block is what a verifier needs to recompute the report: the log
  head (position and hash, given by the caller since the domain does not hash), the
  rules version, the terms, the view times and the period — the events up to the
  head reported by ``known_at`` are the report's knowledge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from domain.fold import AssetState
from domain.instants import to_stored
from domain.reference import Reference, Terms
from domain.rules.compliance import Compliance, compliance_of, span_dict
from domain.rules.contract import (
    c01_suspension_required,
    c02_enforcement_gap,
    c03_suspension_without_cause,
)
from domain.rules.corrections import AMENDMENT_TYPES, Amendment, corrections
from domain.rules.custody import r03_unaccounted
from domain.rules.evaluation import Evaluator
from domain.rules.facts import AssetPart, CutFacts, asset_facts, contract_facts
from domain.rules.findings import RULES_VERSION, Finding, FindingKind
from domain.rules.lives import FindingLife, Window
from domain.rules.partitions import CONTRACT_RULES
from domain.rules.tracking import life
from domain.state import History


def _stored(t: datetime | None) -> str | None:
    return None if t is None else to_stored(t)


def terms_dict(terms: Terms) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(terms):
        value = getattr(terms, f.name)
        if f.name == "repair_open_max_days":
            out[f.name] = {g.name: getattr(value, g.name) for g in fields(value)}
        elif f.name.endswith("_confidence"):
            out[f.name] = value.value
        else:
            out[f.name] = value
    return out


@dataclass(frozen=True, slots=True)
class Restatement:
    finding_key: str
    rule: str
    kind: FindingKind
    change: str  # added | withdrawn | changed
    then: Finding | None
    now: Finding | None
    restated_at: datetime | None
    late_evidence: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        def interval(f: Finding | None) -> dict[str, Any] | None:
            if f is None:
                return None
            return {"valid_from": to_stored(f.valid_from), "valid_to": _stored(f.valid_to)}

        return {
            "finding_key": self.finding_key,
            "rule": self.rule,
            "kind": self.kind.value,
            "change": self.change,
            "then": interval(self.then),
            "now": interval(self.now),
            "clear_reason": (
                None
                if self.now is None or self.now.clear_reason is None
                else self.now.clear_reason.value
            ),
            "restated_at": _stored(self.restated_at),
            "late_evidence": list(self.late_evidence),
        }


@dataclass(frozen=True, slots=True)
class InventoryLine:
    asset_id: str
    last_verified_at: datetime | None
    due_at: datetime | None
    overdue: bool
    finding_key: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset_id": self.asset_id,
            "last_verified_at": _stored(self.last_verified_at),
            "due_at": _stored(self.due_at),
            "overdue": self.overdue,
            "finding_key": self.finding_key,
        }


@dataclass(frozen=True, slots=True)
class ContractReport:
    contract_id: str
    as_of: datetime
    known_at: datetime
    period: Window
    contract: Mapping[str, Any]
    compliance: Compliance
    enforcement_gap: tuple[Finding, ...]
    without_cause: tuple[Finding, ...]
    open_state_findings: tuple[Finding, ...]
    event_findings: tuple[Finding, ...]
    event_findings_total: int
    event_findings_by_rule: Mapping[str, int]
    inventory: tuple[InventoryLine, ...]
    inventories_in_period: tuple[str, ...]
    corrections: tuple[Mapping[str, Any], ...]
    restatements: tuple[Restatement, ...]
    reproducibility: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        c = self.compliance
        gap = next((f for f in self.enforcement_gap if f.active_at(self.as_of)), None)
        return {
            "contract": dict(self.contract),
            "as_of": to_stored(self.as_of),
            "known_at": to_stored(self.known_at),
            "period": {"from": _stored(self.period.start), "to": _stored(self.period.end)},
            "assets": {
                "total": len(c.accounted_for) + len(c.not_accounted_for),
                "accounted": len(c.accounted_for),
                "not_accounted": len(c.not_accounted_for),
                "accounted_for": list(c.accounted_for),
                "not_accounted_for": [{"asset_id": a, "reason": r.value} for a, r in c.reasons],
            },
            "enforcement": {
                "support": c.support.value,
                "suspension_required": c.suspension_required_since is not None,
                "suspension_required_since": _stored(c.suspension_required_since),
                "suspension_in_effect": c.suspension_in_effect,
                "suspended_since": _stored(c.suspended_since),
                "enforcement_gap": gap is not None,
                "enforcement_gap_since": None if gap is None else to_stored(gap.valid_from),
                "delivery_hold_in_effect": c.delivery_hold_in_effect,
                "hold_since": _stored(c.hold_since),
                "holding_support_back": [h.to_dict() for h in c.holding_support_back],
                "suspension_required_intervals": [f.to_dict() for f in c.suspension_required],
                "suspensions": [span_dict(s) for s in c.suspension_spans],
                "holds": [span_dict(s) for s in c.hold_spans],
                "enforcement_gaps": [f.to_dict() for f in self.enforcement_gap],
                "suspensions_without_cause": [f.to_dict() for f in self.without_cause],
            },
            "open_state_findings": [f.to_dict() for f in self.open_state_findings],
            "event_findings": [f.to_dict() for f in self.event_findings],
            "event_findings_total": self.event_findings_total,
            "event_findings_by_rule": dict(sorted(self.event_findings_by_rule.items())),
            "event_findings_truncated": len(self.event_findings) < self.event_findings_total,
            "inventory": {
                "assets": [x.to_dict() for x in self.inventory],
                "in_scope": sum(1 for x in self.inventory if x.due_at is not None),
                "overdue": sum(1 for x in self.inventory if x.overdue),
                "inventories_in_period": list(self.inventories_in_period),
            },
            "corrections": [dict(x) for x in self.corrections],
            "restatements": [r.to_dict() for r in self.restatements],
            "reproducibility": dict(self.reproducibility),
        }


EVENT_FINDINGS_LISTED = 1000
"""The report lists at most this many event findings and discrepancies of the period
(the earliest by ``valid_from``) and counts them all, by rule: a ledger backfilled from
old records can hold one late-recording finding per event, which no printed report
can list; ``GET /v1/findings`` pages through the rest."""


def contract_report(
    history: History,
    contract_id: str,
    *,
    as_of: datetime,
    known_at: datetime,
    head_position: int,
    head_hash: str,
    period: Window | None = None,
    lives: Mapping[str, FindingLife] | None = None,
    rules_version: str = RULES_VERSION,
) -> ContractReport:
    """The report of ``contract_id`` at ``(as_of, known_at)``, folded from the log.

    ``lives`` may be the projection's life of every finding (or of this contract);
    without it the contract's life is computed from the log, which costs a walk over
    every knowledge instant.
    """
    if lives is None:
        lives = life(history, contract_id=contract_id)
    log = history.log

    def reported(ids: Iterable[str]) -> dict[str, datetime]:
        return {i: e.reported_at for i in ids if (e := log.get(i)) is not None}

    return contract_report_in_chunks(
        history,
        lambda mine: [(mine, history)],
        contract_id,
        as_of=as_of,
        known_at=known_at,
        head_position=head_position,
        head_hash=head_hash,
        period=period,
        lives=lives.values(),
        reported=reported,
        rules_version=rules_version,
    )


def contract_report_in_chunks(
    frame: History,
    chunks: Callable[[Sequence[str]], Iterable[tuple[Sequence[str], History]]],
    contract_id: str,
    *,
    as_of: datetime,
    known_at: datetime,
    head_position: int,
    head_hash: str,
    period: Window | None,
    lives: Iterable[FindingLife],
    reported: Callable[[Iterable[str]], Mapping[str, datetime]],
    rules_version: str = RULES_VERSION,
) -> ContractReport:
    """:func:`contract_report` folded a share of the contract's assets at a time, as
    ``domain.rules.compliance.compliance_in_chunks`` folds compliance (``frame`` and
    ``chunks`` alike): each share's assets, and the retractions and corrections its
    history holds (filed with their targets). The contract rules the report reads
    (C01–C03) read only the assets' R03 findings. ``reported(ids)`` gives the
    knowledge instant of the logged events among ``ids`` (restatements' late
    evidence). ``lives``: the lives of the contract's findings (others are passed
    over), read once and each let go once read (:func:`_known_then`): they may
    stream from the store."""
    window = period or Window()
    known = _known_then(lives, contract_id, as_of, known_at, window)
    then = known.then
    ref = frame.reference(known_at)
    cut = Evaluator(frame, contract_id).refresh(known_at)
    assets = cut.assets_of(contract_id)
    states, r03, amendments, retracted_by = _by_shares(chunks, assets, cut, as_of, known_at)
    parts = [AssetPart(a, tuple(r03[a]), (), None) for a in assets]
    facts_c = contract_facts(contract_id, ref, cut, parts)
    # The same findings as the life gives them, so they carry detected_at and
    # disposition as known then; the catalogue's version if the life lacks one.
    required = _sorted([then.get(f.finding_key, f) for f in c01_suspension_required(facts_c)])
    status = compliance_of(
        contract_id, ref, facts_c.actions, states, r03, required, as_of, known_at
    )
    return assemble_report(
        contract_id=contract_id,
        ref=ref,
        as_of=as_of,
        known_at=known_at,
        window=window,
        status=status,
        gaps=_as_known_then(c02_enforcement_gap(facts_c), then, as_of),
        without_cause=_as_known_then(c03_suspension_without_cause(facts_c), then, as_of),
        state_findings=[f for f in then.values() if f.kind is FindingKind.STATE and not f.cleared],
        event_findings=known.events,
        event_findings_by_rule=known.events_by_rule,
        states=states,
        inventories_in_period=_inventories_in_period(cut, contract_id, as_of, window),
        corrections=corrections(contract_id, set(assets), amendments, retracted_by, window),
        restatements=_restatements(reported, known.restated, known_at),
        head_position=head_position,
        head_hash=head_hash,
        rules_version=rules_version,
    )


def _by_shares(
    chunks: Callable[[Sequence[str]], Iterable[tuple[Sequence[str], History]]],
    assets: Sequence[str],
    cut: CutFacts,
    as_of: datetime,
    known_at: datetime,
) -> tuple[dict[str, AssetState | None], dict[str, list[Finding]], list[Amendment], dict[str, str]]:
    """Each asset's state at ``as_of`` and R03 findings (in ``assets``' order), and the
    retractions and corrections (knowledge order) with those retracted, a share at a
    time."""
    states: dict[str, AssetState | None] = {}
    r03: dict[str, list[Finding]] = {}
    amended: dict[int, Amendment] = {}
    retracted_by: dict[str, str] = {}
    for share, history in chunks(assets):
        for a in share:
            facts = asset_facts(history, a, known_at, cut)
            r03[a] = r03_unaccounted(facts)
            states[a] = history.state(a, as_of, known_at)
        found, undone = _amendments(history, known_at)
        amended.update((x.position, x) for x in found)
        retracted_by.update(undone)
    missing = [a for a in assets if a not in states]
    assert not missing, f"no share holds {missing[:3]}"
    amendments = sorted(amended.values(), key=lambda x: x.knowledge_key)
    return {a: states[a] for a in assets}, r03, amendments, retracted_by


_Restated = tuple[str, Finding, Finding | None, str, datetime | None, bool]
"""key, now, then, change, restated at, still (now) within the horizon."""


@dataclass
class _KnownThen:
    """What the report reads of the contract's finding lives (:func:`_known_then`)."""

    then: dict[str, Finding]
    """By key, as known at ``known_at``: the contract rules' findings, and the state
    findings not cleared."""
    events: tuple[Finding, ...]
    """The period's event findings and discrepancies not cleared then, started by
    ``as_of``: the first :data:`EVENT_FINDINGS_LISTED` by ``(valid_from, key)``."""
    events_by_rule: Counter[str]
    """How many of those there are in all, by rule."""
    restated: list[_Restated]
    """The findings whose interval up to ``min(as_of, known_at)`` the log has changed
    since ``known_at`` (:func:`_restatements`)."""


def _known_then(
    lives: Iterable[FindingLife],
    contract_id: str,
    as_of: datetime,
    known_at: datetime,
    window: Window,
) -> _KnownThen:
    """One pass over the lives of the contract's findings, keeping of each only what
    the report reads: at a million events, the contract's 330,518 lives held at once
    were 1.2 GB of a past report's 1.8 GB. The period's event findings, which can be
    one per event of a backfilled ledger, are counted, and only those listed kept."""
    horizon = min(as_of, known_at)
    then: dict[str, Finding] = {}
    by_rule: Counter[str] = Counter()
    restated: list[_Restated] = []
    listed: list[Finding] = []  # the earliest of the period's event findings, and more
    for x in lives:
        now = x.at(None)
        if now is None or now.contract_id != contract_id:
            continue
        key = now.finding_key
        before = x.at(known_at)
        was = None if before is None else _clip(before, horizon)
        is_ = _clip(now, horizon)
        if was != is_:
            change = "added" if was is None else "withdrawn" if is_ is None else "changed"
            later = [c.at for c in x.changes if c.at > known_at]
            restated.append(
                (key, now, before, change, later[0] if later else None, is_ is not None)
            )
        if before is None:
            continue
        if before.rule in CONTRACT_RULES or (
            before.kind is FindingKind.STATE and not before.cleared
        ):
            then[key] = before
        if (
            before.kind is not FindingKind.STATE
            and not before.cleared
            and before.valid_from <= as_of
            and window.contains(before.valid_from)
        ):
            by_rule[before.rule] += 1
            listed.append(before)
            if len(listed) >= 2 * EVENT_FINDINGS_LISTED + 1:  # kept to what is listed
                listed = list(_first_listed(listed))
    return _KnownThen(then, _first_listed(listed), by_rule, restated)


def _first_listed(found: list[Finding]) -> tuple[Finding, ...]:
    """The first :data:`EVENT_FINDINGS_LISTED` by ``(valid_from, key)``."""
    return _sorted(found)[:EVENT_FINDINGS_LISTED]


def _as_known_then(
    findings: Sequence[Finding], then: Mapping[str, Finding], as_of: datetime
) -> list[Finding]:
    """The findings started by ``as_of``, each as the life knew it then when it did."""
    return [then.get(f.finding_key, f) for f in findings if f.valid_from <= as_of]


def _inventories_in_period(
    cut: CutFacts, contract_id: str, as_of: datetime, window: Window
) -> tuple[str, ...]:
    """The inventories up to ``as_of`` within the period that name an asset of the
    contract."""
    return tuple(
        e.event_id
        for e in cut.inventories
        if e.occurred_at <= as_of
        and window.contains(e.occurred_at)
        and any(cut.contract_of(a) == contract_id for a in e.subjects)
    )


def assemble_report(
    *,
    contract_id: str,
    ref: Reference,
    as_of: datetime,
    known_at: datetime,
    window: Window,
    status: Compliance,
    gaps: Sequence[Finding],
    without_cause: Sequence[Finding],
    state_findings: Sequence[Finding],
    event_findings: Sequence[Finding],
    event_findings_by_rule: Mapping[str, int],
    states: Mapping[str, AssetState | None],
    inventories_in_period: Sequence[str],
    corrections: Sequence[Mapping[str, Any]],
    restatements: Sequence[Restatement],
    head_position: int,
    head_hash: str,
    rules_version: str = RULES_VERSION,
) -> ContractReport:
    """The report from its parts, whether folded from the log (:func:`contract_report`)
    or read from the projections. ``state_findings`` are the contract's state findings
    known and not cleared at ``known_at``; ``event_findings`` those of the period to
    list (sorted), ``event_findings_by_rule`` how many there are in all."""
    terms = ref.terms(contract_id)
    open_state = tuple(f for f in state_findings if f.active_at(as_of))
    return ContractReport(
        contract_id=contract_id,
        as_of=as_of,
        known_at=known_at,
        period=window,
        contract=_contract_section(ref, contract_id, terms),
        compliance=status,
        enforcement_gap=_sorted(gaps),
        without_cause=_sorted(without_cause),
        open_state_findings=_sorted(open_state),
        event_findings=tuple(event_findings),
        event_findings_total=sum(event_findings_by_rule.values()),
        event_findings_by_rule=dict(event_findings_by_rule),
        inventory=_inventory(ref, states, as_of, state_findings),
        inventories_in_period=tuple(inventories_in_period),
        corrections=tuple(corrections),
        restatements=tuple(restatements),
        reproducibility={
            "log_head_position": head_position,
            "log_head_hash": head_hash,
            "rules_version": rules_version,
            "contract_id": contract_id,
            "as_of": to_stored(as_of),
            "known_at": to_stored(known_at),
            "period": {"from": _stored(window.start), "to": _stored(window.end)},
            "terms": terms_dict(terms),
        },
    )


def _contract_section(ref: Reference, contract_id: str, terms: Terms) -> dict[str, Any]:
    contract = ref.contract(contract_id)
    return {
        "contract_id": contract_id,
        "title_holder": None if contract is None else contract.title_holder,
        "seller": None if contract is None else contract.seller,
        "item": None if contract is None else contract.item,
        "quantity": None if contract is None else contract.quantity,
        "terms": terms_dict(terms),
    }


def _sorted(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (f.valid_from, f.finding_key)))


def _inventory(
    ref: Reference,
    states: Mapping[str, AssetState | None],
    as_of: datetime,
    findings: Sequence[Finding],
) -> tuple[InventoryLine, ...]:
    terms_cache: dict[str | None, Terms] = {}
    overdue = {
        f.asset_id: f for f in findings if f.rule == "R13" and f.active_at(as_of) and f.asset_id
    }
    out = []
    for a, s in states.items():
        if s is None:
            continue
        terms = terms_cache.setdefault(s.contract_id, ref.terms(s.contract_id))
        in_scope = (
            s.custodian is not None
            and not s.missing_at_inventory
            and ref.partner(s.custodian, s.contract_id)
            and ref.authorised(s.custodian, s.contract_id, as_of)
        )
        dues = []
        if in_scope and s.last_verified_at is not None:
            dues.append(s.last_verified_at + terms.inventory_period)
        if in_scope and s.partner_entry_at is not None:
            dues.append(s.partner_entry_at + terms.reentry_inventory)
        late = overdue.get(a)
        out.append(
            InventoryLine(
                asset_id=a,
                last_verified_at=s.last_verified_at,
                due_at=max(dues, default=None),
                overdue=late is not None,
                finding_key=None if late is None else late.finding_key,
            )
        )
    return tuple(out)


def _amendments(history: History, known_at: datetime) -> tuple[list[Amendment], dict[str, str]]:
    """The retractions and corrections known at ``known_at`` (knowledge order) whose
    target is in the log, and which of them were retracted by then (by which)."""
    log = history.log
    amendments = [
        Amendment.of(e, t)
        for e in history.known(known_at).known
        if e.type in AMENDMENT_TYPES and (t := log.get(e.target_event_id or "")) is not None
    ]
    retracted_by = {
        a.event_id: r.event_id
        for a in amendments
        if (r := log.retraction(a.event_id, known_at)) is not None
    }
    return amendments, retracted_by


def _clip(f: Finding, horizon: datetime) -> tuple[datetime, datetime | None] | None:
    if f.cleared or f.valid_from > horizon:
        return None
    end = f.valid_to if f.valid_to is not None and f.valid_to <= horizon else None
    return (f.valid_from, end)


def _restatements(
    reported: Callable[[Iterable[str]], Mapping[str, datetime]],
    found: Sequence[_Restated],
    known_at: datetime,
) -> tuple[Restatement, ...]:
    # The late evidence: what each finding now cites that was reported after known_at.
    when = reported({i for _, now, _, _, _, still in found if still for i in now.evidence})
    out = [
        Restatement(
            finding_key=key,
            rule=now.rule,
            kind=now.kind,
            change=change,
            then=before,
            now=now,
            restated_at=restated_at,
            late_evidence=tuple(
                i for i in now.evidence if (t := when.get(i)) is not None and t > known_at
            )
            if still
            else (),
        )
        for key, now, before, change, restated_at, still in found
    ]
    return tuple(sorted(out, key=lambda r: (r.restated_at or known_at, r.finding_key)))
