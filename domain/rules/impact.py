"""What new knowledge touches: the scopes findings are judged in, and which of them a
batch of newly known events may change.

Each finding belongs to exactly one :data:`ScopeKey`: ``R…`` findings to their asset,
C01–C03 to their contract, C04/C05 to their contract and asset; a contract's findings
read every asset of it. :func:`impact_of` says which scopes a batch of events, all
reported at one knowledge instant, may change (:func:`domain.rules.evaluation.affected`
for one batch on its own).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.fold import AssetState
from domain.history import Event, Log
from domain.rules.facts import action_contract, registration_contract
from domain.rules.findings import Finding, asset_of_event_key, rule_of_key
from domain.state import History
from domain.vocabulary import REFERENCE_TYPES, EventType

ScopeKey = tuple[str, ...]
"""Which findings are judged together: ``("asset", a)`` — the ``R…`` findings of an
asset; ``("contract", c)`` — C01–C03 of a contract; ``("contract", c, a)`` — C04 and
C05 of one asset of a contract (judged per trigger, so one asset's news need not
re-judge the others')."""


NOTHING_KNOWN = datetime.min.replace(tzinfo=UTC)
"""A knowledge time before every event (``None`` means all knowledge)."""


AMENDMENTS = frozenset({EventType.EVENT_RETRACTED, EventType.EVENT_CORRECTED})
"""Events that amend another (its retraction or correction) rather than tell of an asset."""


def asset_scope(asset_id: str) -> ScopeKey:
    return ("asset", asset_id)


def contract_scope(contract_id: str, asset_id: str | None = None) -> ScopeKey:
    return ("contract", contract_id) if asset_id is None else ("contract", contract_id, asset_id)


def scope_of(f: Finding) -> ScopeKey:
    return scope_for(f.rule, f.contract_id, f.asset_id)


def scope_for(rule: str, contract_id: str | None, asset_id: str | None) -> ScopeKey:
    """The scope that judges a finding of ``rule`` about ``contract_id`` and
    ``asset_id`` (:func:`scope_of`, from a stored finding's columns)."""
    if rule in ("C04", "C05"):
        return contract_scope(contract_id or "", asset_id)
    if rule.startswith("C") or asset_id is None:
        return contract_scope(contract_id or "")
    return asset_scope(asset_id)


@dataclass(frozen=True, slots=True, init=False)
class Impact:
    """What a batch of newly known events may change.

    ``assets`` and ``contracts`` are the scopes to re-evaluate (the contracts of the
    assets are added by :class:`~domain.rules.evaluation.Evaluator`); ``everything``:
    every scope (an evaluation of everything). ``reference`` when reference data
    changed: every contract, and the assets whose last evaluation asked a question of
    it that it now answers otherwise (the evaluator knows which). ``retracted`` are the
    events the batch retracted; ``corrected`` those whose effective version a
    correction (or the retraction of one) changed. ``touched`` are the event types
    involved, targets included.
    """

    assets: frozenset[str] = frozenset()
    contracts: frozenset[str] = frozenset()
    everything: bool = False
    retracted: frozenset[str] = frozenset()
    corrected: frozenset[str] = frozenset()
    touched: frozenset[EventType] = frozenset()
    news: Mapping[str, tuple[Event, ...]] | None = None
    """Per asset, the batch's events naming it, when the batch holds no retraction or
    correction (``None`` otherwise): what :class:`Evaluator` may append to the asset's
    last evaluation instead of folding it again."""
    reference: bool = False

    # Written out (``init=False``): mypyc compiles it, where the one ``dataclass``
    # generates runs as Python (docs/decisions/0028; tests/unit/test_inits.py).
    def __init__(
        self,
        assets: frozenset[str] = frozenset(),
        contracts: frozenset[str] = frozenset(),
        everything: bool = False,
        retracted: frozenset[str] = frozenset(),
        corrected: frozenset[str] = frozenset(),
        touched: frozenset[EventType] = frozenset(),
        news: Mapping[str, tuple[Event, ...]] | None = None,
        reference: bool = False,
    ) -> None:
        object.__setattr__(self, "assets", assets)
        object.__setattr__(self, "contracts", contracts)
        object.__setattr__(self, "everything", everything)
        object.__setattr__(self, "retracted", retracted)
        object.__setattr__(self, "corrected", corrected)
        object.__setattr__(self, "touched", touched)
        object.__setattr__(self, "news", news)
        object.__setattr__(self, "reference", reference)

    def amending(self, retracted: frozenset[str], corrected: frozenset[str]) -> Impact:
        """This impact with the retractions and corrections ``retracted`` and
        ``corrected`` (``dataclasses.replace`` runs as Python, once per instant)."""
        return Impact(
            self.assets,
            self.contracts,
            self.everything,
            retracted,
            corrected,
            self.touched,
            self.news,
            self.reference,
        )


def previous_instant(log: Log, k: datetime) -> datetime:
    """The last knowledge instant before ``k`` (``NOTHING_KNOWN`` if none)."""
    instants = log.knowledge_instants()
    i = bisect_left(instants, k)
    return instants[i - 1] if i else NOTHING_KNOWN


def _versions(log: Log, e: Event, prev: datetime, k: datetime) -> list[Event]:
    return [v for v in (log.version(e, prev), log.version(e, k)) if v is not None]


Prior = Callable[[str, Event, datetime | None], AssetState | None]
"""``prior(asset, event, k)``: the asset's state just before the event in world order,
as known at ``k`` (:meth:`History.prior`)."""


def no_asset(asset_id: str) -> bool:
    """``owns`` for an evaluator that judges no asset (the contract level,
    ``domain.rules.partitions.ContractWalk``): :func:`impact_of` then looks for no
    asset an inventory may expect. Looking among every asset known meant a whole view
    of the log at each inventory's instant, kept: at 1,000,000 events the contract
    level grew past 5 GB."""
    return False


def impact_of(
    history: History,
    events: Iterable[Event],
    k: datetime,
    prev: datetime,
    evaluated_at: Mapping[str, datetime | None],
    prior: Prior | None = None,
    owns: Callable[[str], bool] | None = None,
    held_by: Mapping[str, set[str]] | None = None,
) -> Impact:
    """What ``events``, newly known at ``k``, may change, judged against the knowledge
    at ``prev``, the knowledge instant before ``k``. ``evaluated_at`` is the knowledge
    time each asset was last evaluated at (empty: none yet); ``prior`` answers as
    ``history.prior`` does for an asset at that time (an evaluator that keeps the
    asset's steps answers without folding it again). ``owns``: the assets judged
    (``None``: all); an inventory's unnamed assets are looked for among those only.
    ``held_by``: per party, every evaluated asset that party ever held (as evaluated):
    an inventory's unnamed assets are then looked for among those held by a party
    under its scope, not among every asset."""
    events = list(events)
    concerned, retracted, corrected = _concerned(history.log, events, prev, k)
    touched = {e.type for e in events} | {v.type for v in concerned}
    assets, contracts, reference, inventories = _scopes_named(concerned)
    if inventories and owns is not no_asset:
        assets |= expected_by(history, inventories, prev, evaluated_at, prior, owns, k, held_by)
    plain = not any(e.type in AMENDMENTS for e in events)
    return Impact(
        assets=frozenset(assets),
        contracts=frozenset(contracts),
        retracted=frozenset(retracted),
        corrected=frozenset(corrected),
        touched=frozenset(touched),
        news=_news_by_asset(events) if plain else None,
        reference=reference,
    )


def _concerned(
    log: Log, events: Sequence[Event], prev: datetime, k: datetime
) -> tuple[list[Event], set[str], set[str]]:
    """The events the batch brings or amends, each with its versions at ``prev`` and
    ``k``; the ids it retracted; the ids whose effective version a correction (or the
    retraction of one) changed."""
    concerned: list[Event] = []
    retracted: set[str] = set()
    corrected: set[str] = set()
    for e in events:
        if e.type not in AMENDMENTS:
            concerned += [e, *_versions(log, e, prev, k)]
            continue
        target = log.get(e.target_event_id or "")
        if target is None or target.type is EventType.EVENT_RETRACTED:
            continue
        if target.type is EventType.EVENT_CORRECTED:
            if e.type is EventType.EVENT_CORRECTED:
                continue  # corrections of corrections are moot (domain.history)
            base = log.get(target.target_event_id or "")
            if base is None or base.type in AMENDMENTS:
                continue
            corrected.add(base.event_id)
        else:
            base = target
            (retracted if e.type is EventType.EVENT_RETRACTED else corrected).add(base.event_id)
        concerned += [base, *_versions(log, base, prev, k)]
    return concerned, retracted, corrected


def _scopes_named(concerned: Iterable[Event]) -> tuple[set[str], set[str], bool, list[Event]]:
    """The assets and contracts the concerned events name, whether reference data
    changed, and the inventories among them."""
    assets: set[str] = set()
    contracts: set[str] = set()
    reference = False
    inventories: list[Event] = []
    for v in concerned:
        if v.type in REFERENCE_TYPES:
            reference = True
        elif v.type is EventType.CONTRACT_ACTION:
            contracts.add(action_contract(v))
        elif v.type is EventType.FINDING_DISPOSITIONED:
            key = v.text("finding_key") or ""
            if rule_of_key(key) == "R16" and (a := asset_of_event_key(key)):
                assets.add(a)
        elif v.type is EventType.INVENTORY_COMPLETED:
            inventories.append(v)
        if v.type is EventType.ASSET_REGISTERED and (c := registration_contract(v)):
            contracts.add(c)
        assets.update(v.subjects)
    return assets, contracts, reference, inventories


def _news_by_asset(events: Iterable[Event]) -> dict[str, tuple[Event, ...]]:
    news: dict[str, list[Event]] = {}
    for e in events:
        for a in e.subjects:
            news.setdefault(a, []).append(e)
    return {a: tuple(v) for a, v in news.items()}


def expected_by(
    history: History,
    inventories: Sequence[Event],
    prev: datetime,
    evaluated_at: Mapping[str, datetime | None],
    prior: Prior | None = None,
    owns: Callable[[str], bool] | None = None,
    k: datetime | None = None,
    held_by: Mapping[str, set[str]] | None = None,
) -> set[str]:
    """Assets whose custodian just before an inventory descends from its scope: the
    inventory judges them even when it does not name them (R14). ``owns``: the assets
    to consider (``None``: all). ``k``: the knowledge instant the inventories are
    judged at, whose reference data decides descent (``None``: ``prev``'s). Not
    ``prev``'s when given: a batch of ``k`` that ends inside the instant leaves the
    rest of it, the inventory among them, to the next, and reference data logged in
    the first part (known at ``k``, not at ``prev``) must count. ``held_by``: per
    party, every asset of ``evaluated_at`` it ever held as evaluated; only those held
    by a party under an inventory's scope are looked at (the custodian before the
    inventory is one of them)."""
    h = history
    state_before = h.prior if prior is None else prior
    ref = h.reference(prev if k is None else k)
    if held_by is not None and evaluated_at:
        # The parties under the scopes, from the top: not every party that ever held
        # an asset asked whether it descends from one (hundreds per inventory).
        under = frozenset().union(
            *(ref.descendants(s) for inv in inventories for s in inv.texts("scope_parties"))
        )
        candidates = {
            a
            for party in under
            if (assets := held_by.get(party))
            for a in assets
            if a in evaluated_at
        }
    else:
        candidates = set(evaluated_at) or set(h.asset_ids(prev))
    if owns is not None:
        candidates = {a for a in candidates if owns(a)}
    out: set[str] = set()
    for a in candidates:
        k_a = evaluated_at.get(a, prev)
        for inv in inventories:
            before = state_before(a, inv, k_a)
            if before is not None and ref.descends_from_any(
                before.custodian, inv.texts("scope_parties")
            ):
                out.add(a)
                break
    return out
