"""The checks of an append against what the store knows (``ledger.writing.append``).

``Appender`` reads what a request names (stored events, registered keys) and hands
it here; given that, these checks are pure: whether a reused event id is a replay,
references that must exist, keys that must not, party-bound reporters, seller-side
contract actions, ``expected_version``. Each kind of failure raises its
``LedgerError`` naming every offending field. Also here: the shapes a request takes
on its way through the commit thread.
"""

from __future__ import annotations

import copy
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from domain import links as refs
from domain.vocabulary import EventType
from ledger.errors import (
    DuplicateError,
    ForbiddenError,
    InvalidEventError,
    Problem,
    VersionConflict,
)
from ledger.store.recorders import Registration
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

SERVER_FIELDS = ("recorded_at", "recorded_by", "prev_hash")
NOT_CORRECTABLE_TARGETS = frozenset({EventType.EVENT_RETRACTED, EventType.EVENT_CORRECTED})


Keys = dict[tuple[str, str], dict[str, Any] | None]
"""Registered natural keys (kind, id) and each one's attributes."""


@dataclass
class Prepared:
    """One checked event: its place in the request, its record, its expected versions."""

    index: int
    record: dict[str, Any]
    expected: dict[str, int]
    references: list[refs.Reference]


@dataclass
class Request:
    """One append call: ``single`` names fields without the ``events[i].`` prefix."""

    principal: Principal
    events: list[Prepared]
    single: bool


@dataclass
class Group:
    """What earlier requests of the same transaction register and touch."""

    keys: Keys = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    asset_counts: dict[str, int] = field(default_factory=dict)


def field_name(req: Request, index: int, name: str) -> str:
    return name if req.single else f"events[{index}].{name}"


@dataclass
class Item:
    """A new event with what it names and what it registers."""

    prepared: Prepared
    references: list[refs.Reference]
    new_keys: list[refs.NewKey]


@dataclass
class Checks:
    """The checks of one request's new events against the store, in append order.

    An event may name what an earlier event of the same request registers, so each
    event's references are checked before its own keys are registered."""

    req: Request
    known: Keys
    targets: dict[str, dict[str, Any]]
    mine: Keys = field(default_factory=dict)
    registrations: list[Registration] = field(default_factory=list)
    local: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    conflicts: list[Problem] = field(default_factory=list)
    forbidden: list[Problem] = field(default_factory=list)

    @property
    def everything(self) -> ChainMap[tuple[str, str], dict[str, Any] | None]:
        """This request's keys over the stored and group ones (they never overlap)."""
        return ChainMap(self.mine, self.known)

    def check(self, item: Item) -> None:
        self._references(item)
        self._register(item)
        self.local[item.prepared.record["event_id"]] = item.prepared.record
        self._reporter(item.prepared)

    def raise_any(self) -> None:
        if self.forbidden:
            raise ForbiddenError(detail(self.forbidden), self.forbidden)
        if self.problems:
            raise InvalidEventError(detail(self.problems), self.problems)
        if self.conflicts:
            raise DuplicateError(detail(self.conflicts), self.conflicts)

    def _references(self, item: Item) -> None:
        """References that must exist: keys, and events (with retraction and correction
        rules)."""
        p = item.prepared
        everything = self.everything
        for r in item.references:
            name = field_name(self.req, p.index, r.field)
            if r.kind == refs.EVENT:
                self._event_reference(name, p.record, r.natural_id)
            elif (r.kind, r.natural_id) not in everything:
                self.problems.append(Problem(name, f"unknown {r.kind} {r.natural_id!r}"))

    def _event_reference(self, name: str, rec: dict[str, Any], target_id: str) -> None:
        target = self.targets.get(target_id) or self.local.get(target_id)
        if target is None:
            self.problems.append(Problem(name, f"unknown event {target_id!r}"))
        elif (
            rec["type"] == EventType.EVENT_RETRACTED and target["type"] == EventType.EVENT_RETRACTED
        ):
            self.problems.append(Problem(name, "a retraction cannot be retracted"))
        elif rec["type"] == EventType.EVENT_CORRECTED:
            self.problems.extend(_check_correction(name, rec, target))

    def _register(self, item: Item) -> None:
        """Keys that must not exist yet; the new ones become this request's."""
        p = item.prepared
        everything = self.everything
        for k in item.new_keys:
            if (k.kind, k.natural_id) in everything:
                what = "serial and model" if k.kind == refs.SERIAL else k.kind
                self.conflicts.append(
                    Problem(field_name(self.req, p.index, k.field), f"{what} is already registered")
                )
                continue
            attrs = dict(k.attrs) if k.attrs is not None else None
            self.mine[(k.kind, k.natural_id)] = attrs
            self.registrations.append(
                Registration(
                    k.kind,
                    k.natural_id,
                    p.record["event_id"],
                    orjson.dumps(attrs).decode() if attrs is not None else None,
                )
            )

    def _reporter(self, p: Prepared) -> None:
        """A party-bound key reports only for its party; contract actions come only
        from the seller's side."""
        rec = p.record
        party = self.req.principal.party
        everything = self.everything
        if party is not None and not _descends(rec["reporter"], party, everything):
            # An unregistered reporter descends from nothing: say that first, or the
            # 403 reads as a wrong party when the party is only missing.
            unknown = (refs.PARTY, rec["reporter"]) not in everything
            self.forbidden.append(
                Problem(
                    field_name(self.req, p.index, "reporter"),
                    (f"{rec['reporter']!r} is not a registered party; " if unknown else "")
                    + f"this key may only report as {party} or a unit under it",
                )
            )
        if rec["type"] == EventType.CONTRACT_ACTION:
            contract = everything.get((refs.CONTRACT, rec["payload"]["target_contract_id"]))
            if contract is not None and not _seller_side(
                rec["reporter"], contract["seller"], everything
            ):
                self.forbidden.append(
                    Problem(
                        field_name(self.req, p.index, "reporter"),
                        "only a seller-side reporter may record a contract_action",
                    )
                )


def expected_versions(
    req: Request, ctx: Group, new: list[Prepared], mine: Keys
) -> tuple[list[tuple[str, int, int]], dict[str, int]]:
    """The ``expected_version`` checks left to the store, and the events per asset.

    The store checks a version under the lock, offset by the events of this
    transaction that come before; assets registered in this very group have no stored
    version yet, so they are checked here (``VersionConflict``)."""
    counts: dict[str, int] = {}
    expected: list[tuple[str, int, int]] = []
    problems: list[Problem] = []
    for p in new:
        for asset, version in p.expected.items():
            offset = ctx.asset_counts.get(asset, 0) + counts.get(asset, 0)
            if (refs.ASSET, asset) in ctx.keys or (refs.ASSET, asset) in mine:
                if version != offset:
                    problems.append(
                        Problem(
                            field_name(req, p.index, "expected_version"),
                            f"asset {asset} is at version {offset}, not {version}",
                        )
                    )
            else:
                expected.append((asset, version, offset))
        for a in p.record.get("asset_ids", ()):
            counts[a] = counts.get(a, 0) + 1
    if problems:
        raise VersionConflict(detail(problems), problems)
    return expected, counts


def same_body(incoming: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Is ``incoming`` the same submission as ``stored``, ignoring server fields?"""
    theirs = {k: v for k, v in stored.items() if k not in SERVER_FIELDS}
    ours = {k: v for k, v in incoming.items() if k not in SERVER_FIELDS}
    if ours.get("reported_at") == incoming.get("recorded_at"):
        # No historical reported_at was sent: knowledge time is the first recording's.
        ours["reported_at"] = stored["recorded_at"]
    return ours == theirs


def _descends(party: str, ancestor: str, known: Mapping[tuple[str, str], Any]) -> bool:
    seen: set[str] = set()
    p: str | None = party
    while p is not None and p not in seen:
        if p == ancestor:
            return True
        seen.add(p)
        attrs = known.get((refs.PARTY, p))
        p = attrs.get("parent") if attrs else None
    return False


def _seller_side(party: str, seller: str, known: Mapping[tuple[str, str], Any]) -> bool:
    seen: set[str] = set()
    p: str | None = party
    while p is not None and p not in seen:
        seen.add(p)
        if _descends(p, seller, known):
            return True
        attrs = known.get((refs.PARTY, p))
        p = attrs.get("acts_for") if attrs else None
    return False


def _check_correction(name: str, rec: dict[str, Any], target: dict[str, Any]) -> list[Problem]:
    if target["type"] in NOT_CORRECTABLE_TARGETS:
        return [Problem(name, f"a {target['type']} cannot be corrected: retract it instead")]
    # A deep copy: the target may be an event of this very batch, about to be stored,
    # and writing the corrected values into its nested payload would store them.
    corrected = copy.deepcopy(
        {k: v for k, v in target.items() if k not in SERVER_FIELDS and k != "reported_at"}
    )
    for path, value in rec["payload"]["corrected_fields"].items():
        node: Any = corrected
        parts = path.split(".")
        for part in parts[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(part, {})
        if isinstance(node, dict):
            node[parts[-1]] = value
    try:
        EVENT_ADAPTER.validate_python(corrected)
    except ValidationError as e:
        return [
            Problem(
                f"payload.corrected_fields.{'.'.join(str(x) for x in err['loc'][1:])}",
                f"the corrected event would be invalid: {err['msg']}",
            )
            for err in e.errors()
        ]
    return []


def detail(problems: list[Problem]) -> str:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{first.field}: {first.message}{more}"
