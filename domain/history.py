"""What the ledger knew, and when: logged events as typed values, and the effective
history as known at a knowledge time (DOMAIN.md §1.4, §1.5, §4).

The ledger hands the domain ``(position, record)`` pairs; :class:`Event` parses a
record once. :class:`Log` holds every logged event and answers :meth:`Log.at` — the
*effective* events known at ``k``: those reported by ``k``, less the ones retracted by
a retraction reported by ``k``, with the corrections reported by ``k`` applied in
knowledge order ``(reported_at, position)``. The result is in *world order*
``(occurred_at, reported_at, position)`` and indexed by asset. :meth:`Log.of_asset`
and :meth:`Log.reference_events` give the same for one asset, or for the reference
data, without building the whole view.

Choices where DOMAIN.md is silent (each is tested):

* A correction path may name any stored field except ``event_id``, ``type``,
  ``asset_ids`` (DOMAIN.md §3) and the knowledge and server fields ``reported_at``,
  ``recorded_at``, ``recorded_by``, ``prev_hash``: knowledge time is a fact about the
  ledger, not about the world, so a correction cannot move it. Such paths are ignored
  and the rest of the correction applies. A corrected event keeps its original
  ``reported_at`` and ``position`` for ordering.
* A path walks nested objects (``payload.terms.unaccounted_max_days``) and list indexes
  (``payload.results.0.result``); missing objects along the way are created. A
  ``null`` value removes the field, because stored records omit absent optionals.
* A correction whose path cannot be applied, or whose result no longer parses (an
  ``occurred_at`` that is not an instant), is skipped as a whole; the write side
  should have rejected it.
* Retractions and corrections are not themselves corrected: a correction aimed at one
  is moot (retract it and record anew). A retraction of a retraction (rejected by the
  write side) has no effect.
* A retraction or correction is about the record, never an event of an asset: it has no
  :attr:`Event.subjects` even when the envelope names assets.
* An ``inventory_completed`` concerns the assets it names in ``asset_ids`` and also any
  asset listed in its ``results``: an auditor would not let a result line count for
  nothing because the envelope forgot the asset.
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol, cast

import orjson

from domain.frozen import freeze, freeze_owned, thaw
from domain.instants import parse, stored_instant
from domain.vocabulary import REFERENCE_TYPES, Confidence, EventType

Logged = tuple[int, Mapping[str, Any]]
"""One logged event as the ledger hands it over: its position and stored record."""

WorldKey = tuple[datetime, datetime, int]
KnowledgeKey = tuple[datetime, int]

IMMUTABLE_FIELDS: frozenset[str] = frozenset(
    {"event_id", "type", "asset_ids", "reported_at", "recorded_at", "recorded_by", "prev_hash"}
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


_TYPES: dict[str, EventType] = {t.value: t for t in EventType}
_CONFIDENCES: dict[str, Confidence] = {c.value: c for c in Confidence}


@dataclass(frozen=True, slots=True)
class Evidence:
    uri: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Source:
    kind: str
    ref: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Location:
    name: str | None = None
    admin1: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    facility_id: str | None = None

    @classmethod
    def from_json(cls, value: Any) -> Location | None:
        if not isinstance(value, Mapping):
            return None
        return cls(
            name=value.get("name"),
            admin1=value.get("admin1"),
            country=value.get("country"),
            lat=value.get("lat"),
            lon=value.get("lon"),
            facility_id=value.get("facility_id"),
        )


@dataclass(frozen=True, slots=True, eq=False)
class Event:
    """One logged event, parsed once; immutable.

    When the event is the effective version of a corrected event, ``original`` is the
    event as recorded and ``corrections`` the correction events applied to it, in
    knowledge order; otherwise ``original`` is ``None`` and ``corrections`` empty.
    """

    position: int
    event_id: str
    type: EventType
    asset_ids: tuple[str, ...]
    contract_id: str | None
    occurred_at: datetime
    occurred_earliest: datetime | None
    occurred_latest: datetime | None
    discovered_at: datetime | None
    reported_at: datetime
    recorded_at: datetime | None
    reporter: str
    # Its source (:attr:`source`); ``None`` in a lean event (``parse(..., lean=True)``),
    # which reads it from its record when asked: no rule does.
    _source: Source | None
    confidence: Confidence
    admiralty_code: str | None
    location: Location | None
    payload: Mapping[str, Any]
    narrative: str | None
    # The record as stored: read-only JSON (``_record``), or its stored bytes
    # (``_raw``), decoded again when asked for (:attr:`record`). A walk over a log holds
    # its events for long, and the decoded record is most of an event's memory (about
    # 2.3 KB of objects for 600 bytes of JSON, on the realistic world) while the rules
    # read only the parsed fields and the payload.
    _record: Mapping[str, Any] | None = field(repr=False)
    _raw: bytes | None = field(default=None, repr=False)
    # ``_raw`` packed (compressed) by the caller that parsed it, and how to unpack it.
    _unpack: Callable[[bytes], bytes] | None = field(default=None, repr=False)
    original: Event | None = field(default=None, repr=False)
    corrections: tuple[Event, ...] = field(default=(), repr=False)
    # The assets whose result lines an inventory kept (:meth:`kept_for`); ``None``:
    # every line, as recorded.
    _kept: Callable[[str], bool] | None = field(default=None, repr=False)
    # Computed once per event version (a corrected version, made with
    # ``dataclasses.replace``, starts without them): an inventory's subjects and result
    # lines are read for every fold and cut that sees it, and an inventory may name
    # thousands of assets.
    _subjects: tuple[str, ...] | None = field(default=None, init=False, repr=False)
    _results: Mapping[str, tuple[str, str | None]] | None = field(
        default=None, init=False, repr=False
    )
    _index: tuple[frozenset[str], frozenset[str]] | None = field(
        default=None, init=False, repr=False
    )

    @classmethod
    def parse(
        cls,
        position: int,
        record: Mapping[str, Any],
        *,
        owned: bool = False,
        raw: bytes | None = None,
        lean: bool = False,
        unpack: Callable[[bytes], bytes] | None = None,
    ) -> Event:
        """Parse a stored record; raises ``KeyError``/``ValueError`` if malformed.

        ``owned``: the caller hands ``record`` over (it was just decoded and nobody else
        holds it), so it is frozen in place instead of copied: a third of the parse.
        ``raw``: the stored bytes ``record`` was decoded from; the event keeps them
        instead of the decoded record, and :attr:`record` decodes them when read (what a
        long-lived walk wants: less than half the memory); ``unpack``: ``raw`` is
        packed, and ``unpack(raw)`` gives the stored bytes back. ``lean``, for a walk
        that holds the event long: an inventory's result lines are read into
        :meth:`inventory_results` now and left out of :attr:`payload` (:attr:`record`
        still has them; as JSON objects they were most of an inventory's memory); the
        :attr:`source`, which no rule reads, is read from the record when asked (about
        120 bytes an event); and the instant recorded is one object for a batch's."""
        whole = record
        record, lines = _lines_apart(record) if lean else (record, None)
        frozen: Mapping[str, Any] = freeze_owned(record) if owned else freeze(record)
        recorded_at = (_recorded if lean else stored_instant)(frozen.get("recorded_at"))
        reported = stored_instant(frozen.get("reported_at")) or recorded_at
        if reported is None:
            raise ValueError(f"event {frozen.get('event_id')!r} has no knowledge time")
        src = frozen.get("source") or _EMPTY
        if lean and not isinstance(src, Mapping):
            _source_of(src)  # a malformed source fails the parse, lean or not
        kind = frozen["type"]
        event = cls(
            position=position,
            event_id=str(frozen["event_id"]),
            type=_TYPES[kind] if kind in _TYPES else EventType(kind),
            asset_ids=tuple(str(a) for a in frozen.get("asset_ids") or ()),
            contract_id=frozen.get("contract_id"),
            occurred_at=parse(str(frozen["occurred_at"])),
            occurred_earliest=stored_instant(frozen.get("occurred_earliest")),
            occurred_latest=stored_instant(frozen.get("occurred_latest")),
            discovered_at=stored_instant(frozen.get("discovered_at")),
            reported_at=reported,
            recorded_at=recorded_at,
            reporter=str(frozen.get("reporter", "")),
            _source=None if lean else _source_of(src),
            confidence=_CONFIDENCES.get(frozen["confidence"]) or Confidence(frozen["confidence"]),
            admiralty_code=frozen.get("admiralty_code"),
            location=Location.from_json(frozen.get("location")),
            payload=frozen.get("payload") or _EMPTY,
            narrative=frozen.get("narrative"),
            _record=None if raw is not None else frozen if lines is None else freeze(whole),
            _raw=raw,
            _unpack=unpack if raw is not None else None,
        )
        if lines is not None:
            object.__setattr__(event, "_results", lines)
        return event

    @property
    def source(self) -> Source:
        if self._source is not None:
            return self._source
        return _source_of(self.record.get("source") or _EMPTY)

    @property
    def record(self) -> Mapping[str, Any]:
        """The record as stored (read-only JSON)."""
        if self._record is not None:
            return self._record
        assert self._raw is not None
        stored = self._raw if self._unpack is None else self._unpack(self._raw)
        record: Mapping[str, Any] = freeze_owned(orjson.loads(stored))
        return record

    # -- identity: by position and recorded content, never by object ----------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        if self.position != other.position:
            return False
        if self._raw is not None and self._unpack is other._unpack and self._raw == other._raw:
            return True
        return self.record == other.record

    def __hash__(self) -> int:
        return hash((self.position, self.event_id))

    # -- orderings ------------------------------------------------------------------

    @property
    def world_key(self) -> WorldKey:
        """World order (DOMAIN.md §4): ``(occurred_at, reported_at, position)``."""
        return (self.occurred_at, self.reported_at, self.position)

    @property
    def knowledge_key(self) -> KnowledgeKey:
        return (self.reported_at, self.position)

    @property
    def corrected(self) -> bool:
        return bool(self.corrections)

    @property
    def as_recorded(self) -> Event:
        return self.original or self

    @property
    def subjects(self) -> tuple[str, ...]:
        """The assets this event is evaluated for (see the module notes on inventories).
        None for a retraction or correction, whatever its ``asset_ids``: it amends the
        record and is not an event of the asset (DOMAIN.md §5, R08), so no fold step,
        and no rule, ever sees it."""
        if self.type in _META:
            return ()
        if self.type is not EventType.INVENTORY_COMPLETED:
            return self.asset_ids
        if self._subjects is None:
            named = set(self.asset_ids)
            extra = [a for a in self.inventory_results() if a not in named]
            object.__setattr__(self, "_subjects", self.asset_ids + tuple(extra))
        assert self._subjects is not None
        return self._subjects

    # -- typed payload access -------------------------------------------------------

    def text(self, name: str) -> str | None:
        value = self.payload.get(name)
        return None if value is None else str(value)

    def texts(self, name: str) -> tuple[str, ...]:
        return tuple(str(v) for v in self.payload.get(name) or ())

    def instant(self, name: str) -> datetime | None:
        return stored_instant(self.payload.get(name))

    def flag(self, name: str) -> bool:
        return bool(self.payload.get(name, False))

    def payload_location(self, name: str) -> Location | None:
        return Location.from_json(self.payload.get(name))

    @property
    def target_event_id(self) -> str | None:
        """The event a retraction or correction points at."""
        return self.text("target_event_id")

    @property
    def corrected_fields(self) -> Mapping[str, Any]:
        value = self.payload.get("corrected_fields")
        return value if isinstance(value, Mapping) else _EMPTY

    def inventory_index(self) -> tuple[frozenset[str], frozenset[str]]:
        """An inventory's subjects and scope parties, as sets, computed once: every
        knowledge cut that holds the inventory indexes it (``domain.rules.facts``)."""
        if self._index is None:
            index = frozenset(self.subjects), frozenset(self.texts("scope_parties"))
            object.__setattr__(self, "_index", index)
        assert self._index is not None
        return self._index

    def kept_for(self, owns: Callable[[str], bool]) -> Event:
        """This event as a walk that judges only the assets ``owns`` holds it (a
        partition's, ``domain.rules.partitions``): an inventory keeps its scope and the
        rest of its payload, and only those assets' result lines and ``asset_ids``;
        any other event is itself. A partition reads every inventory, for its scope
        (R14's "expected but not found"), but only its own assets' lines; kept whole,
        every partition held every line of the log (2.7 times more at 2M events than at
        1M on the realistic world: its units grow with its assets). :attr:`record`
        stays the record as stored (a correction applies to it, and
        :func:`apply_correction` keeps the corrected version's lines as this one's),
        and the event still equals its whole self."""
        if self.type is not EventType.INVENTORY_COMPLETED or self._kept is owns:
            return self
        record = self.record if self._kept is not None else None
        lines = self.inventory_results() if record is None else _lines_of(record)
        named = self.asset_ids if record is None else _asset_ids(record)
        payload = self.payload
        if "results" in payload:  # a corrected version's (not parsed lean)
            payload = MappingProxyType({k: v for k, v in payload.items() if k != "results"})
        kept = replace(
            self,
            asset_ids=tuple(a for a in named if owns(a)),
            payload=payload,
            _kept=owns,
        )
        mine = MappingProxyType({a: line for a, line in lines.items() if owns(a)})
        object.__setattr__(kept, "_results", mine)
        return kept

    def inventory_results(self) -> Mapping[str, tuple[str, str | None]]:
        """``asset_id → (result, found_at_party)``; a repeated asset counts ``present``
        if any of its lines says so (the asset was seen). Read-only, computed once."""
        if self._results is None:
            object.__setattr__(self, "_results", _result_lines(self.payload.get("results")))
        assert self._results is not None
        return self._results


def _lines_apart(
    record: Mapping[str, Any],
) -> tuple[Mapping[str, Any], Mapping[str, tuple[str, str | None]] | None]:
    """An inventory's record without its result lines, and the lines as
    :meth:`Event.inventory_results` gives them (``None``: not an inventory's)."""
    if record.get("type") != EventType.INVENTORY_COMPLETED.value:
        return record, None
    payload = record.get("payload")
    if not isinstance(payload, Mapping) or "results" not in payload:
        return record, None
    rest = {k: v for k, v in payload.items() if k != "results"}
    return {**record, "payload": rest}, _result_lines(payload["results"])


def _lines_of(record: Mapping[str, Any]) -> Mapping[str, tuple[str, str | None]]:
    payload = record.get("payload")
    return _result_lines(payload.get("results") if isinstance(payload, Mapping) else None)


def _asset_ids(record: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(a) for a in record.get("asset_ids") or ())


def _source_of(src: Mapping[str, Any]) -> Source:
    return Source(
        kind=str(src.get("kind", "")),
        ref=str(src.get("ref", "")),
        evidence=tuple(
            Evidence(uri=str(e["uri"]), sha256=str(e["sha256"])) for e in src.get("evidence") or ()
        ),
    )


_RECORDED: dict[Any, datetime | None] = {}
"""The instants events were recorded at, parsed once (a batch's events share one)."""


def _recorded(value: Any) -> datetime | None:
    known = _RECORDED.get(value)
    if known is None:
        if len(_RECORDED) >= 65536:
            _RECORDED.clear()  # bounded: a long catch-up meets a new one per batch
        known = _RECORDED[value] = stored_instant(value)
    return known


_LINES: dict[object, object] = {}
"""One tuple per ``(result, found_at_party)`` told (a few hundred on a large ledger),
shared by every inventory line that tells it. Typed ``object``: compiled (mypyc), a
value typed as a pair is unboxed, and boxed again as a new tuple where it is stored."""


def _result_lines(lines: Any) -> Mapping[str, tuple[str, str | None]]:
    """An inventory's result lines (JSON objects) as :meth:`Event.inventory_results`
    gives them."""
    out: dict[str, object] = {}
    present: set[str] = set()  # a later line does not undo a line saying present
    for line in lines or ():
        asset, result = str(line.get("asset_id")), str(line.get("result"))
        if asset not in present:
            found = line.get("found_at_party")
            told: object = (result, None if found is None else str(found))
            out[asset] = _LINES.setdefault(told, told) if len(_LINES) < 65536 else told
            if result == "present":
                present.add(asset)
    return cast(Mapping[str, tuple[str, str | None]], MappingProxyType(out))


def parse_logged(logged: Iterable[Logged | Event]) -> list[Event]:
    return [e if isinstance(e, Event) else Event.parse(e[0], e[1]) for e in logged]


# -- corrections ---------------------------------------------------------------------


class _Unapplicable(Exception):
    """A correction path that does not fit the record."""


def _set_path(record: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if parts[0] in IMMUTABLE_FIELDS:
        return
    if any(p == "" for p in parts):
        raise _Unapplicable(path)
    node: Any = record
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict):
            if last:
                if value is None:
                    node.pop(part, None)
                else:
                    node[part] = copy.deepcopy(value)
                return
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            if last:
                if value is None:
                    raise _Unapplicable(path)
                node[int(part)] = copy.deepcopy(value)
                return
            node = node[int(part)]
        else:
            raise _Unapplicable(path)


def apply_correction(event: Event, correction: Event) -> Event | None:
    """``event`` with ``correction`` applied, or ``None`` when it cannot apply."""
    record = thaw(event.record)
    try:
        for path, value in correction.corrected_fields.items():
            _set_path(record, path, thaw(value))
        fixed = Event.parse(event.position, record)
    except (_Unapplicable, KeyError, ValueError, TypeError, AttributeError):
        return None
    version = Event(
        **{
            **{name: getattr(fixed, name) for name in _FIELD_NAMES},
            "original": event.as_recorded,
            "corrections": (*event.corrections, correction),
        }
    )
    return version if event._kept is None else version.kept_for(event._kept)


_FIELD_NAMES = tuple(
    name
    for name, f in Event.__dataclass_fields__.items()
    if f.init and name not in {"original", "corrections"}
)


# -- effective events known at k -----------------------------------------------------


@dataclass(frozen=True)
class EffectiveLog:
    """The effective history as known at ``known_at`` (``None``: all knowledge).

    ``events`` are the effective events in world order — retracted ones removed,
    corrected ones replaced by their corrected version; ``known`` are all events
    reported by then as recorded, in knowledge order (what the timeline strikes
    through or shows before/after); ``retracted_by`` maps a retracted event id to the
    retraction that removed it.
    """

    known_at: datetime | None
    known: tuple[Event, ...]
    events: tuple[Event, ...]
    by_id: Mapping[str, Event]
    by_asset: Mapping[str, tuple[Event, ...]]
    retracted_by: Mapping[str, Event]

    def of_asset(self, asset_id: str) -> tuple[Event, ...]:
        """The effective events concerning ``asset_id``, in world order."""
        return self.by_asset.get(asset_id, ())

    def of_type(self, *types: EventType) -> Iterator[Event]:
        wanted = frozenset(types)
        return (e for e in self.events if e.type in wanted)

    def get(self, event_id: str) -> Event | None:
        return self.by_id.get(event_id)


class StoredEvents(Protocol):
    """Where a partial :class:`Log` finds the stored events it does not hold."""

    def of_asset(self, asset_id: str) -> Iterable[Event]:
        """Every stored event naming the asset (more is allowed: the log keeps those
        that name it), as recorded."""
        ...

    def get(self, event_id: str) -> Event | None:
        """The stored event with this id, as recorded."""
        ...


class Log:
    """Every logged event; answers the effective history at any knowledge time.

    Retractions and corrections are indexed by target and events by asset, so the
    effective events of one asset, or the reference data, at a new ``k`` cost only
    their own size; a whole view (:meth:`at`) is computed once per knowledge cut.
    """

    def __init__(
        self,
        logged: Iterable[Logged | Event],
        *,
        loader: StoredEvents | None = None,
    ) -> None:
        events = parse_logged(logged)
        # A log that holds only part of the stored one (``Walk.resume_lazily``): each
        # asset's other events are loaded the first time they are asked for.
        self._loader = loader
        self._loaded: set[str] = set()
        self._by_position: list[Event] = sorted(events, key=lambda e: e.position)
        self._knowledge: list[Event] = sorted(events, key=lambda e: e.knowledge_key)
        self._reported: list[datetime] = [e.reported_at for e in self._knowledge]
        self._by_id: dict[str, Event] = {}
        for e in self._by_position:
            self._by_id.setdefault(e.event_id, e)

        self._retractions: dict[str, list[Event]] = {}
        self._corrections: dict[str, list[Event]] = {}
        self._by_asset: dict[str, list[Event]] = {}
        # Inventories whose results a correction rewrites may concern any asset.
        self._roaming: list[Event] = []
        self._reference: list[Event] = []
        for e in self._knowledge:
            self._index(e)
        self._versions: dict[tuple[str, ...], Event | None] = {}
        self._cache: dict[int, EffectiveLog] = {}
        self._frozen: tuple[Event, ...] | None = None

    def _index(self, e: Event) -> None:
        target = self.get(e.target_event_id) if e.target_event_id else None
        if e.type is EventType.EVENT_RETRACTED:
            if target is not None and target.type is not EventType.EVENT_RETRACTED:
                self._retractions.setdefault(target.event_id, []).append(e)
        elif e.type is EventType.EVENT_CORRECTED:
            if target is not None and target.type not in _META:
                self._corrections.setdefault(target.event_id, []).append(e)
                if target.type is EventType.INVENTORY_COMPLETED and any(
                    path.startswith("payload") for path in e.corrected_fields
                ):
                    self._roaming.append(target)
        elif e.type in REFERENCE_TYPES:
            self._reference.append(e)
        for a in e.subjects:
            self._by_asset.setdefault(a, []).append(e)

    @property
    def partial(self) -> bool:
        """Whether this log holds only the events every asset's rules read, loading
        each asset's own the first time they are asked for (:meth:`of_asset`). Its
        whole views (:meth:`at`, :attr:`events`) then hold only those."""
        return self._loader is not None

    def _of_asset(self, asset_id: str) -> Sequence[Event]:
        """The logged events naming ``asset_id``, those of a partial log loaded now."""
        if self._loader is not None and asset_id not in self._loaded:
            self._loaded.add(asset_id)
            held = self._by_asset.get(asset_id, [])
            there = {e.position for e in held}
            fetched = [
                self._known(e) for e in self._loader.of_asset(asset_id) if e.position not in there
            ]
            if fetched:
                self._by_asset[asset_id] = [*fetched, *held]
        return self._by_asset.get(asset_id, ())

    def _known(self, e: Event) -> Event:
        """``e``, loaded: the object already logged for it, if any (else it is now)."""
        there = self._by_id.setdefault(e.event_id, e)
        return there if there.position == e.position else e

    def extends(self, events: Sequence[Event]) -> bool:
        """Whether ``events`` all come after every logged event in knowledge order and
        in position order (what :meth:`extend` needs)."""
        if not events:
            return True
        first = min(events, key=lambda e: e.knowledge_key)
        lowest = min(e.position for e in events)
        if self._knowledge and first.knowledge_key <= self._knowledge[-1].knowledge_key:
            return False
        return not self._by_position or lowest > self._by_position[-1].position

    def extend(self, events: Iterable[Logged | Event]) -> None:
        """Log more events, all later in knowledge and position order than every
        logged one (a projection following the log). Every answer about a knowledge
        time before the new events stays valid; views at later cuts are new cuts."""
        new = parse_logged(events)
        if not self.extends(new):
            raise ValueError("extend takes only events later than every logged one")
        self._frozen = None
        for e in sorted(new, key=lambda e: e.position):
            self._by_position.append(e)
            self._by_id.setdefault(e.event_id, e)
        for e in sorted(new, key=lambda e: e.knowledge_key):
            self._knowledge.append(e)
            self._reported.append(e.reported_at)
            self._index(e)
        # Only the all-knowledge view can have been cached at a cut that is now stale.
        self._cache.pop(len(self._knowledge) - len(new), None)

    @property
    def held(self) -> int:
        """How many events this log holds in memory (a partial log: those loaded so
        far too)."""
        return len(self._by_position)

    @property
    def events(self) -> tuple[Event, ...]:
        """All logged events as recorded, in position order."""
        if self._frozen is None:
            self._frozen = tuple(self._by_position)
        return self._frozen

    def get(self, event_id: str) -> Event | None:
        """The event as recorded, whatever is known of it (a partial log loads it)."""
        found = self._by_id.get(event_id)
        if found is None and self._loader is not None:
            loaded = self._loader.get(event_id)
            if loaded is not None:
                found = self._known(loaded)
        return found

    def cut(self, k: datetime | None) -> int:
        """How many events are known at ``k`` (an identifier of the knowledge cut)."""
        return len(self._knowledge) if k is None else bisect_right(self._reported, k)

    def knowledge_instants(self) -> tuple[datetime, ...]:
        """The distinct instants at which knowledge changed, ascending."""
        return tuple(dict.fromkeys(self._reported))

    def latest(self) -> Event | None:
        """The last logged event in knowledge order."""
        return self._knowledge[-1] if self._knowledge else None

    # -- one event -------------------------------------------------------------------

    def retraction(self, event_id: str, k: datetime | None) -> Event | None:
        """The first retraction of the event known at ``k``, if any."""
        found = self._retractions.get(event_id)
        if found and _known(found[0], k):
            return found[0]
        return None

    def version(self, event: Event, k: datetime | None) -> Event | None:
        """The effective version of ``event`` at ``k``: ``None`` if it is not yet known
        or is retracted, else it with the corrections known and not retracted at ``k``
        applied in knowledge order."""
        if not _known(event, k) or self.retraction(event.event_id, k) is not None:
            return None
        key: tuple[str, ...] = (event.event_id,)
        current = event
        for c in self._corrections.get(event.event_id, ()):
            if not _known(c, k):
                break  # knowledge order: the rest are later still
            if self.retraction(c.event_id, k) is not None:
                continue
            key = (*key, c.event_id)
            if key not in self._versions:
                self._versions[key] = apply_correction(current, c)
            fixed = self._versions[key]
            if fixed is None:
                key = key[:-1]  # skipped: the next correction applies to ``current``
            else:
                current = fixed
        return current

    # -- views -----------------------------------------------------------------------

    def of_asset(self, asset_id: str, k: datetime | None) -> tuple[Event, ...]:
        """The effective events concerning ``asset_id`` at ``k``, in world order."""
        candidates = dict.fromkeys([*self._of_asset(asset_id), *self._roaming])
        out = [
            v
            for e in candidates
            if (v := self.version(e, k)) is not None and asset_id in v.subjects
        ]
        return tuple(sorted(out, key=lambda e: e.world_key))

    def reference_events(self, k: datetime | None) -> tuple[Event, ...]:
        """The effective reference-data events (DOMAIN.md §2) at ``k``, in world order."""
        out = [v for e in self._reference if (v := self.version(e, k)) is not None]
        return tuple(sorted(out, key=lambda e: e.world_key))

    def at(self, k: datetime | None) -> EffectiveLog:
        """The whole effective history known at ``k``; ``None`` means all knowledge."""
        n = self.cut(k)
        view = self._cache.get(n)
        if view is None:
            view = self._effective(self._knowledge[:n], k)
            self._cache[n] = view
        return view if view.known_at == k else replace(view, known_at=k)

    def _effective(self, known: Sequence[Event], k: datetime | None) -> EffectiveLog:
        current: dict[str, Event] = {}
        retracted_by: dict[str, Event] = {}
        for e in known:
            r = self.retraction(e.event_id, k)
            if r is not None:
                retracted_by[e.event_id] = r
            elif e.event_id not in current:
                v = self.version(e, k)
                if v is not None:
                    current[e.event_id] = v
        events = tuple(sorted(current.values(), key=lambda e: e.world_key))
        by_asset: dict[str, list[Event]] = {}
        for e in events:
            for a in e.subjects:
                by_asset.setdefault(a, []).append(e)
        return EffectiveLog(
            known_at=k,
            known=tuple(known),
            events=events,
            by_id=MappingProxyType(current),
            by_asset=MappingProxyType({a: tuple(es) for a, es in by_asset.items()}),
            retracted_by=MappingProxyType(retracted_by),
        )


_META = (EventType.EVENT_RETRACTED, EventType.EVENT_CORRECTED)


def _known(event: Event, k: datetime | None) -> bool:
    return k is None or event.reported_at <= k
