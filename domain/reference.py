"""Reference data as known at a knowledge time, and the predicates the rules ask of
it (DOMAIN.md §2, §6): who a party is and answers to, what a contract says, and who is
authorised under it when.

:meth:`Reference.build` folds the effective §2 events (:mod:`domain.history`) in world
order. Reference data has no valid time of its own except authorisations (validity
and revocation); the party hierarchy is timeless, so ``descends`` and friends take no
instant.

Choices where DOMAIN.md is silent:

* The first registration of a party, facility, contract or authorisation id in world
  order counts; a later one with the same id is ignored (the write side rejects it).
* ``party_reclassified`` changes only the kind; ``Party.kind`` is the kind after every
  known reclassification and ``Party.kind_at(t)`` the kind at a valid time.
  Authorisation never looks at the kind (DOMAIN.md §1.2).
* An authorisation revoked more than once is revoked from the earliest
  ``effective_at``; a revocation naming an unknown authorisation does nothing.
* ``seller_side`` follows DOMAIN.md literally: p descends from the seller, or p's own
  ``acts_for`` is seller-side. A sub-unit of a contractor is not seller-side through its
  parent's ``acts_for``.
* ``includes_descendants`` widens a ``maintainer`` authorisation to the subject's
  descendants as it does for ``end_user``; facilities have no hierarchy.
* Hierarchy cycles (a parent chain that loops) end the walk at the first repeat.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from mypy_extensions import mypyc_attr

from domain.history import Event
from domain.instants import days, hours
from domain.reference_reads import answer
from domain.vocabulary import AuthorizationKind, Confidence, EventType, PartyKind

# -- contract terms (DOMAIN.md §6) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepairLimits:
    """``repair_open_max_days`` per work type; any other work type uses ``other``."""

    field_maintenance: int = 30
    battle_damage_repair: int = 180
    overhaul: int = 365
    other: int = 90

    def days_for(self, work_type: str | None) -> int:
        named = {
            "field_maintenance": self.field_maintenance,
            "battle_damage_repair": self.battle_damage_repair,
            "overhaul": self.overhaul,
        }
        return named.get(work_type or "", self.other)

    @classmethod
    def from_json(cls, value: Any) -> RepairLimits:
        if not isinstance(value, Mapping):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in value.items() if k in known and v is not None})


@dataclass(frozen=True, slots=True)
class Terms:
    """Contract parameters with the defaults of DOMAIN.md §6."""

    unaccounted_max_days: int = 30
    inventory_period_days: int = 365
    reentry_inventory_days: int = 90
    loss_notice_hours: int = 24
    record_limit_days: int = 7
    enforcement_grace_days: int = 30
    repair_open_max_days: RepairLimits = RepairLimits()
    terminal_min_confidence: Confidence = Confidence.CONFIRMED
    conflict_min_confidence: Confidence = Confidence.PROBABLE

    @classmethod
    def from_json(cls, value: Any) -> Terms:
        """Terms from a contract payload's ``terms``; any field may be omitted."""
        if not isinstance(value, Mapping):
            return cls()
        kw: dict[str, Any] = {}
        for f in fields(cls):
            v = value.get(f.name)
            if v is None:
                continue
            if f.name == "repair_open_max_days":
                kw[f.name] = RepairLimits.from_json(v)
            elif f.name.endswith("_confidence"):
                kw[f.name] = Confidence(v)
            else:
                kw[f.name] = int(v)
        return cls(**kw)

    @property
    def unaccounted_max(self) -> timedelta:
        return days(self.unaccounted_max_days)

    @property
    def inventory_period(self) -> timedelta:
        return days(self.inventory_period_days)

    @property
    def reentry_inventory(self) -> timedelta:
        return days(self.reentry_inventory_days)

    @property
    def loss_notice(self) -> timedelta:
        return hours(self.loss_notice_hours)

    @property
    def record_limit(self) -> timedelta:
        return days(self.record_limit_days)

    @property
    def enforcement_grace(self) -> timedelta:
        return days(self.enforcement_grace_days)

    def repair_open_max(self, work_type: str | None) -> timedelta:
        return days(self.repair_open_max_days.days_for(work_type))


# -- reference records -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    party_id: str
    name: str
    kind: PartyKind
    parent: str | None
    acts_for: str | None
    designations: tuple[str, ...]
    event_id: str
    # (from, kind, event id): the registered kind, then each reclassification in world
    # order; ``kind`` is the last of them.
    kinds: tuple[tuple[datetime, PartyKind, str], ...]

    def kind_at(self, t: datetime) -> PartyKind:
        """The kind at valid time ``t``: the last reclassification effective by then,
        else the registered kind."""
        kind = self.kinds[0][1]
        for since, k, _ in self.kinds[1:]:
            if since <= t:
                kind = k
        return kind


@dataclass(frozen=True, slots=True)
class Facility:
    facility_id: str
    name: str
    operator_party: str
    country: str
    event_id: str


@dataclass(frozen=True, slots=True)
class Contract:
    contract_id: str
    title_holder: str
    seller: str
    item: str
    quantity: int
    terms: Terms
    event_id: str


@dataclass(frozen=True, slots=True)
class Authorization:
    authorization_id: str
    contract_id: str
    kind: AuthorizationKind
    subject_id: str
    includes_descendants: bool
    work_types: tuple[str, ...] | None
    valid_from: datetime
    valid_to: datetime | None
    event_id: str
    revocations: tuple[tuple[datetime, str], ...] = ()  # (effective_at, event id)

    @property
    def revoked_at(self) -> datetime | None:
        return min((at for at, _ in self.revocations), default=None)

    def valid_at(self, t: datetime) -> bool:
        """``valid_from ≤ t < valid_to`` and not revoked at t (``effective_at ≤ t``)."""
        if t < self.valid_from or (self.valid_to is not None and t >= self.valid_to):
            return False
        return not self.revocations or t < min(at for at, _ in self.revocations)

    def covers_work(self, work_type: str | None) -> bool:
        return self.work_types is None or (work_type is not None and work_type in self.work_types)


@dataclass(frozen=True, slots=True)
class AuthorisationChange:
    """An instant at which an authorisation starts or stops, and the event saying so."""

    at: datetime
    authorization_id: str
    event_id: str


# -- the fold ----------------------------------------------------------------------


Read = tuple[str | None, ...]
"""A question asked of the reference data, named by what its answer depends on:
``("anc", p)`` — p's ancestors; ``("party", p)``; ``("facility", f)``;
``("contract", c)`` — the contract and its terms; ``("partner", p, c)``;
``("seller", p, c)``; ``("end_user", p, c)``, ``("maintainer", p, c)`` and
``("repair_facility", f, c)`` — the authorisations of that kind under c that name p
(or f). :meth:`Reference.reading` records them, :meth:`Reference.answers_alike`
asks them again of other reference data."""


@mypyc_attr(native_class=False)  # a view shares the data: :meth:`reading` copies ``__dict__``
class Reference:
    """Parties, facilities, contracts and authorisations as known; read-only.

    :meth:`reading` gives a view that records every question asked of it
    (:data:`Read`): a evaluation kept from one reference data to the next stands when
    :meth:`answers_alike` finds every question it asked answered alike by the new
    data — the evaluation is a function of its events and of those answers.
    """

    _reads: set[Read] | None = None  # a view's record (``reading``); ``None``: not recorded

    def __init__(
        self,
        parties: Mapping[str, Party],
        facilities: Mapping[str, Facility],
        contracts: Mapping[str, Contract],
        authorizations: Mapping[str, Authorization],
    ) -> None:
        self.parties: Mapping[str, Party] = MappingProxyType(dict(parties))
        self.facilities: Mapping[str, Facility] = MappingProxyType(dict(facilities))
        self.contracts: Mapping[str, Contract] = MappingProxyType(dict(contracts))
        self.authorizations: Mapping[str, Authorization] = MappingProxyType(dict(authorizations))
        by_contract: dict[str, list[Authorization]] = {}
        for a in sorted(self.authorizations.values(), key=lambda a: a.authorization_id):
            by_contract.setdefault(a.contract_id, []).append(a)
        self._by_contract = {c: tuple(v) for c, v in by_contract.items()}
        # Memos of the look-ups the rules repeat at every step and segment: the data
        # above never changes, so each answer holds for the life of this object.
        self._ancestors: dict[str, tuple[str, ...]] = {}
        self._lineage: dict[str, frozenset[str]] = {}
        self._end_user: dict[tuple[str, str], tuple[Authorization, ...]] = {}
        self._authorised: dict[tuple[str | None, str | None, datetime], bool] = {}
        self._partner: dict[tuple[str | None, str | None], bool] = {}
        self._seller_side: dict[tuple[str | None, str | None], bool] = {}
        self._terms: dict[str | None, Terms] = {}
        self._changes: dict[tuple[str, str | None], tuple[AuthorisationChange, ...]] = {}
        self._children: dict[str, list[str]] = {}  # for :meth:`descendants`
        for pid, party in self.parties.items():
            if party.parent is not None and party.parent != pid:
                self._children.setdefault(party.parent, []).append(pid)
        self._descendants: dict[str, frozenset[str]] = {}

    @classmethod
    def build(cls, events: Iterable[Event]) -> Reference:
        """Fold effective events (any types; non-reference ones are skipped) in world
        order."""
        parties: dict[str, Party] = {}
        facilities: dict[str, Facility] = {}
        contracts: dict[str, Contract] = {}
        auths: dict[str, Authorization] = {}
        reclassified: list[Event] = []
        revoked: list[Event] = []
        for e in sorted(events, key=lambda e: e.world_key):
            t = e.type
            if t is EventType.PARTY_REGISTERED:
                pid = str(e.payload["party_id"])
                if pid not in parties:
                    parties[pid] = _registered_party(e, pid)
            elif t is EventType.PARTY_RECLASSIFIED:
                reclassified.append(e)
            elif t is EventType.FACILITY_REGISTERED:
                facility = _registered_facility(e)
                facilities.setdefault(facility.facility_id, facility)
            elif t is EventType.CONTRACT_REGISTERED:
                contract = _registered_contract(e)
                contracts.setdefault(contract.contract_id, contract)
            elif t is EventType.AUTHORIZATION_GRANTED:
                aid = str(e.payload["authorization_id"])
                valid_from = e.instant("valid_from")
                if aid not in auths and valid_from is not None:
                    auths[aid] = _granted_authorization(e, aid, valid_from)
            elif t is EventType.AUTHORIZATION_REVOKED:
                revoked.append(e)
        _reclassify(parties, reclassified)
        _revoke(auths, revoked)
        return cls(parties, facilities, contracts, auths)

    # -- what an evaluation read --------------------------------------------------------

    def reading(self, reads: set[Read]) -> Reference:
        """A view of this reference data (the same data and look-up memos) that adds to
        ``reads`` every question asked of it."""
        view = object.__new__(Reference)
        view.__dict__.update(self.__dict__)
        view._reads = reads
        return view

    def answers_alike(self, other: Reference, reads: Iterable[Read]) -> bool:
        """Whether ``other`` answers every question in ``reads`` as this data does."""
        return all(answer(self, read) == answer(other, read) for read in reads)

    # -- look-ups --------------------------------------------------------------------

    def party(self, party_id: str | None) -> Party | None:
        if party_id is None:
            return None
        if self._reads is not None:
            self._reads.add(("party", party_id))
        return self.parties.get(party_id)

    def facility(self, facility_id: str | None) -> Facility | None:
        if facility_id is None:
            return None
        if self._reads is not None:
            self._reads.add(("facility", facility_id))
        return self.facilities.get(facility_id)

    def contract(self, contract_id: str | None) -> Contract | None:
        if contract_id is None:
            return None
        if self._reads is not None:
            self._reads.add(("contract", contract_id))
        return self.contracts.get(contract_id)

    def terms(self, contract_id: str | None) -> Terms:
        """The contract's terms; the defaults when the contract is not known."""
        if self._reads is not None and contract_id is not None:
            self._reads.add(("contract", contract_id))
        terms = self._terms.get(contract_id)
        if terms is None:
            c = self.contract(contract_id)
            terms = self._terms[contract_id] = Terms() if c is None else c.terms
        return terms

    def authorisations_of(self, contract_id: str | None) -> tuple[Authorization, ...]:
        return self._by_contract.get(contract_id or "", ())

    # -- hierarchy (DOMAIN.md §2) ------------------------------------------------------

    def ancestors(self, party_id: str) -> tuple[str, ...]:
        """``party_id``, its parent, its parent's parent, … (stops at a cycle)."""
        if self._reads is not None:
            self._reads.add(("anc", party_id))
        cached = self._ancestors.get(party_id)
        if cached is not None:
            return cached
        chain: list[str] = []
        seen: set[str] = set()
        p: str | None = party_id
        while p is not None and p not in seen:
            seen.add(p)
            chain.append(p)
            party = self.parties.get(p)
            p = None if party is None else party.parent
        result = tuple(chain)
        self._ancestors[party_id] = result
        return result

    def lineage(self, party_id: str) -> frozenset[str]:
        """:meth:`ancestors` as a set."""
        if self._reads is not None:
            self._reads.add(("anc", party_id))
        found = self._lineage.get(party_id)
        if found is None:
            found = self._lineage[party_id] = frozenset(self.ancestors(party_id))
        return found

    def descendants(self, party_id: str) -> frozenset[str]:
        """Every party whose :meth:`lineage` holds ``party_id``: itself, its children,
        theirs, … — the parties an inventory of ``party_id`` covers, found from the
        top instead of asking each party's lineage. Asked of the data, never of a
        :meth:`reading` view: the answer depends on every party's parent, which no
        recorded question stands for."""
        if self._reads is not None:
            raise TypeError("descendants() is not a question a reading view records")
        found = self._descendants.get(party_id)
        if found is None:
            out, todo = {party_id}, [party_id]
            while todo:
                new = [c for c in self._children.get(todo.pop(), ()) if c not in out]
                out.update(new)
                todo += new
            found = self._descendants[party_id] = frozenset(out)
        return found

    def descends(self, p: str | None, q: str | None) -> bool:
        """p is q, or q is reached by following ``parent`` from p."""
        return p is not None and q is not None and q in self.lineage(p)

    def descends_from_any(self, p: str | None, qs: Iterable[str]) -> bool:
        return p is not None and not self.lineage(p).isdisjoint(qs)

    def related(self, p: str | None, q: str | None) -> bool:
        return self.descends(p, q) or self.descends(q, p)

    def partner(self, p: str | None, contract_id: str | None) -> bool:
        """p descends from the contract's title holder."""
        if self._reads is not None:
            self._reads.add(("partner", p, contract_id))
        key = (p, contract_id)
        known = self._partner.get(key)
        if known is None:
            c = self.contract(contract_id)
            known = self._partner[key] = c is not None and self.descends(p, c.title_holder)
        return known

    def seller_side(self, p: str | None, contract_id: str | None) -> bool:
        """p descends from the seller, or p's ``acts_for`` is seller-side."""
        if self._reads is not None:
            self._reads.add(("seller", p, contract_id))
        key = (p, contract_id)
        known = self._seller_side.get(key)
        if known is None:
            known = self._seller_side[key] = self._seller_side_of(p, contract_id)
        return known

    def _seller_side_of(self, p: str | None, contract_id: str | None) -> bool:
        c = self.contract(contract_id)
        if c is None:
            return False
        seen: set[str] = set()
        while p is not None and p not in seen:
            if self.descends(p, c.seller):
                return True
            seen.add(p)
            party = self.parties.get(p)
            p = None if party is None else party.acts_for
        return False

    # -- authorisation (DOMAIN.md §2) ------------------------------------------------

    def _subject_matches(self, a: Authorization, subject: str) -> bool:
        return a.subject_id == subject or (
            a.includes_descendants and self.descends(subject, a.subject_id)
        )

    def end_user_authorisations(
        self, p: str | None, contract_id: str | None, t: datetime
    ) -> tuple[Authorization, ...]:
        """The ``end_user`` authorisations of the contract that authorise p at t."""
        if p is None:
            return ()
        if self._reads is not None:
            self._reads.add(("end_user", p, contract_id))
        key = (p, contract_id or "")
        candidates = self._end_user.get(key)
        if candidates is None:
            # Which authorisations name p (or an ancestor) does not depend on t: the
            # rules ask it for every step of every asset.
            candidates = tuple(
                a
                for a in self.authorisations_of(contract_id)
                if a.kind is AuthorizationKind.END_USER and self._subject_matches(a, p)
            )
            self._end_user[key] = candidates
        return tuple(a for a in candidates if a.valid_at(t))

    def authorised(self, p: str | None, contract_id: str | None, t: datetime) -> bool:
        if self._reads is not None and p is not None:
            self._reads.add(("end_user", p, contract_id))
        key = (p, contract_id, t)
        known = self._authorised.get(key)
        if known is None:
            if len(self._authorised) > 1 << 16:
                self._authorised.clear()  # bounded: instants vary without end
            known = self._authorised[key] = bool(self.end_user_authorisations(p, contract_id, t))
        return known

    def authorisation_changes(
        self, p: str | None, contract_id: str | None
    ) -> tuple[AuthorisationChange, ...]:
        """Every instant at which ``authorised(p, contract, ·)`` may change: the
        ``valid_from``, ``valid_to`` and revocation ``effective_at`` of each ``end_user``
        authorisation that names p or an ancestor with ``includes_descendants``."""
        if p is None:
            return ()
        if self._reads is not None:
            self._reads.add(("end_user", p, contract_id))
        key = (p, contract_id)
        known = self._changes.get(key)
        if known is None:
            known = self._changes[key] = self._authorisation_changes(p, contract_id)
        return known

    def _authorisation_changes(
        self, p: str, contract_id: str | None
    ) -> tuple[AuthorisationChange, ...]:
        out: list[AuthorisationChange] = []
        for a in self.authorisations_of(contract_id):
            if a.kind is not AuthorizationKind.END_USER or not self._subject_matches(a, p):
                continue
            out.append(AuthorisationChange(a.valid_from, a.authorization_id, a.event_id))
            if a.valid_to is not None:
                out.append(AuthorisationChange(a.valid_to, a.authorization_id, a.event_id))
            out.extend(AuthorisationChange(at, a.authorization_id, ev) for at, ev in a.revocations)
        return tuple(sorted(out, key=lambda c: (c.at, c.authorization_id, c.event_id)))

    def repair_facility_authorisation(
        self, facility_id: str | None, contract_id: str | None, t: datetime, work_type: str | None
    ) -> Authorization | None:
        """A ``repair_facility`` authorisation of the facility valid at t for the work."""
        if self._reads is not None:
            self._reads.add(("repair_facility", facility_id, contract_id))
        for a in self.authorisations_of(contract_id):
            if (
                a.kind is AuthorizationKind.REPAIR_FACILITY
                and a.subject_id == facility_id
                and a.valid_at(t)
                and a.covers_work(work_type)
            ):
                return a
        return None

    def maintainer_authorisation(
        self, party_id: str | None, contract_id: str | None, t: datetime, work_type: str | None
    ) -> Authorization | None:
        """A ``maintainer`` authorisation of the party valid at t for the work."""
        if party_id is None:
            return None
        if self._reads is not None:
            self._reads.add(("maintainer", party_id, contract_id))
        for a in self.authorisations_of(contract_id):
            if (
                a.kind is AuthorizationKind.MAINTAINER
                and self._subject_matches(a, party_id)
                and a.valid_at(t)
                and a.covers_work(work_type)
            ):
                return a
        return None


# -- building the reference data from its events -----------------------------------


def _registered_party(e: Event, pid: str) -> Party:
    p = e.payload
    kind = PartyKind(p["kind"])
    return Party(
        party_id=pid,
        name=str(p.get("name", pid)),
        kind=kind,
        parent=e.text("parent"),
        acts_for=e.text("acts_for"),
        designations=e.texts("designations"),
        event_id=e.event_id,
        kinds=((e.occurred_at, kind, e.event_id),),
    )


def _registered_facility(e: Event) -> Facility:
    p = e.payload
    fid = str(p["facility_id"])
    return Facility(
        facility_id=fid,
        name=str(p.get("name", fid)),
        operator_party=str(p.get("operator_party", "")),
        country=str(p.get("country", "")),
        event_id=e.event_id,
    )


def _registered_contract(e: Event) -> Contract:
    p = e.payload
    cid = str(p["contract_id"])
    return Contract(
        contract_id=cid,
        title_holder=str(p["title_holder"]),
        seller=str(p["seller"]),
        item=str(p.get("item", "")),
        quantity=int(p.get("quantity", 0)),
        terms=Terms.from_json(p.get("terms")),
        event_id=e.event_id,
    )


def _granted_authorization(e: Event, aid: str, valid_from: datetime) -> Authorization:
    p = e.payload
    work_types = p.get("work_types")
    return Authorization(
        authorization_id=aid,
        contract_id=str(p["contract_id"]),
        kind=AuthorizationKind(p["kind"]),
        subject_id=str(p["subject_id"]),
        includes_descendants=e.flag("includes_descendants"),
        work_types=None if work_types is None else tuple(map(str, work_types)),
        valid_from=valid_from,
        valid_to=e.instant("valid_to"),
        event_id=e.event_id,
    )


def _reclassify(parties: dict[str, Party], reclassified: Iterable[Event]) -> None:
    for e in reclassified:  # already in world order
        kind = PartyKind(e.payload["new_kind"])
        for pid in e.texts("party_ids"):
            old = parties.get(pid)
            if old is not None:
                kinds = (*old.kinds, (e.occurred_at, kind, e.event_id))
                parties[pid] = replace(old, kind=kind, kinds=kinds)


def _revoke(auths: dict[str, Authorization], revoked: Iterable[Event]) -> None:
    for e in revoked:
        aid = e.text("authorization_id") or ""
        at = e.instant("effective_at")
        old_auth = auths.get(aid)
        if old_auth is not None and at is not None:
            auths[aid] = replace(old_auth, revocations=(*old_auth.revocations, (at, e.event_id)))
