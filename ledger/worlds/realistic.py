"""A realistic world: a deterministic stream of valid wire events, at any scale.

``generate(WorldConfig(events=N, seed=S))`` yields batches — lists of wire dicts, the
form ``POST /v1/events:batch`` and ``ledger import`` take — of exactly ``N`` events in
all (fewer only if the calendar runs out first), in **append order**: the order in
which the ledger learns things. ``append_world`` appends such a world to a ledger;
``ledger demo --scale N --seed S`` is meant to call it. docs/worlds.md tells the same
for people, with measured rates; the numbers below are what the code does.

**Determinism and memory.** One ``random.Random(seed)``, no global state, no wall
clock, no iteration over hashed strings; every instant is whole seconds from
``EPOCH`` (2008-01-01 UTC). The world is simulated in time order and emitted as it
goes: it keeps per-asset state and the reports not yet due, never the stream (under
100 MB at a million events).

**Cast** (ids start with ``prefix``, default ``w-``). The seller: government, agency
(decides contract actions), air component, intelligence, end-use inspectors, a prime
contractor acting for it. The buyer: a ministry (title holder), its army with a
depot, a maintenance corps and a logistics command, ``round(battalions / 18)``
divisions of three brigades, ``round(assets / 45)`` battalions. Others: a regional
force, smugglers, an unidentified hostile, an open-source monitor, two foreign
overhaul contractors and an unlicensed workshop (each with a facility, beside the
army's and the seller's depots); ``min(8, 3 + assets // 5000)`` armed groups (the
first sanctioned) and ``min(8, 2 + assets // 4000)`` militias, who appear with the
crisis.

**Contracts**: ``max(2, round(assets / 1250))`` unless ``contracts`` says,
registered over the first 55 % of the calendar (each third with 180-day inventories
and R03 after 14 days). Each grants at once: the army as end user with descendants
for six years, then renewed on time (70 %), late but retroactively (20 %) or late
with a 5–45-day gap (10 %); the prime contractor as maintainer; the maintenance
corps as maintainer and the army depot as repair facility for field maintenance and
battle damage repair; the seller's depot as repair facility. Two contracts in three
license a foreign overhaul contractor and its plant a year later, for six years; the
first contractor's licences are revoked when the aftermath begins. The first
contract lends to the regional force (end user) for two years from two months into
the crisis. Deliveries start 60–180 days after registration and run one to three
years (ending by 85 % of the calendar), in lots of 4–30 to a battalion (80 %) or the
depot, 70 % followed by an acceptance inventory 10–75 days later; a delivery hold
postpones a lot 30 days, except one in ten (C05).

**Time.** A calendar of ``years`` (default 10); the sim may overrun it by two years
to reach ``N``. Phases: peace, crisis from 30 %, liberation from 42 %, aftermath from
62 %; the crisis hits the first half of the divisions. Militias are made state units
0.3 year into the liberation (no effect on authorisation) and the first is made an
armed group half a year into the aftermath.

**Rates per asset-year** (Poisson; an event names its asset and, where a range is
given, companions of the same holder). Army routine rates scale with ``s``, set from
``events / assets`` so the world reaches ``N`` near the calendar's end (``s`` ≈ 3 at
the default hundred events per asset, 3.7 at a million events).

==================  ================================================================
held by the army    observation 3.0·s (1–3), support 1.5·s (1–4), rotation 0.6·s
                    (1–4; 1 % never reported), field maintenance 1.2, overhaul 0.06,
                    hand-over without authority 0.004, decommissioning 0.004 (from
                    six years old), loan to the regional force 0.08 (crisis and
                    liberation, first contract); hazards: capture 0.004 (1–6), loss
                    0.0015 (1–2), disablement 0.006, destruction 0.0007, times 1 in
                    peace, 2 / 30 (unaffected / affected divisions) in the crisis,
                    1.5 / 8 in the liberation, 1.5 in the aftermath
  disabled          battle damage repair 4.0, observation 3.0·s, support 1.5·s,
                    hazards as above
under repair        observation 3.0·s, support 1.5·s, scrapping 0.03
an armed group      sighting 3.0 (1–3), airstrike 0.2 / 0.5 / 0.9 / 0.3 by phase (1–2),
                    recovery 0.3 / 0.15 / 1.2 / 0.5 (1–3), hand-over to another group
                    0.1 (1–2), disablement 0.2
a militia           sighting 2.0, return to the army 0.2 / 0.1 / 0.15 / 0.4 (1–2),
                    repair 0.5, support 0.3, capture by a group 0 / 0.1 / 0.05 / 0,
                    destruction 0.03, disablement 0.1
the regional force  sighting 2.0, return 0.6 (1–2), disablement 0.05
smugglers           sighting 1.0, seizure by the army 0.4, sale to a group 0.3
lost                found 0.3 / 0.2 / 0.6 / 0.3, sighting 0.3, written off 0.25
==================  ================================================================

What each does, in brief. Army observations come from end-use checks (30 %), the
monitor (30 %) or the unit's brigade or itself; 1 % name a sibling battalion (R07).
Sightings (intelligence 60 %, else the monitor) flag potentially unauthorised use for
40 % (armed group) or 30 % (militia) of holders; 15 % of those are dispositioned
14–200 days later. Support: the prime contractor (65 %) or the logistics command;
seller-side support and seller-depot work stop while a contract's support is
suspended, but for 5 % (C04). Field maintenance by the maintenance corps at the army
depot (95 %), by the battalion itself (3 %, R09) or at the workshop (2 %, R09),
3–10 days plus an exponential of mean 7, 4 % taking 30–120 days (R12); battle damage
repair at the army depot (70 %) or the seller's depot, 20–250 days; overhaul at the
seller's depot (60 %), a foreign plant (32 %; R09 unless licensed for the contract)
or the workshop (8 %), 120–400 days; 1.5 % of work orders never complete (R12).
Militias get repairs from the army depot (60 %, R10) or the workshop (known only
from a leaked completion: R09, R10). Captures go to the first armed group (60 %) or
any (smugglers before any exists), 80 % naming the former holder, 30 % with a fuzzy
window (up to 3 days before, 2 after), 20 % discovered up to 5 days later; losses
50 % discovered up to 20 days later. Airstrike claims are true 80 % of the time —
confirmed 55 %, probable 35 %, possible 10 %; false ones (the asset lives on: R08)
confirmed 5 %, probable 30 %, possible 45 %, doubtful 20 %; a quarter of the wrecks
is sighted 30–400 days later. 30 % of assets destroyed in army hands are scrapped
2–24 months later. Recoveries: by a militia (45 %), a battalion of the affected
divisions (40 %) or the regional force; a recovery into the army gets an inventory
14–80 days later 60 % of the time. Every unit is inventoried about yearly (330–365
days; 12 % late by 20–120 days: R13) by the seller's inspectors (35 %) or its
brigade: its books (assets last placed there) and what it holds; 0.3 % of present
assets are missed (R14). The seller reviews each contract monthly: support is
suspended (35 % a month) once ``max(1, 0.5 %)`` of the contract's assets have been
unaccounted for (lost, or held by anyone but the army and the regional force on
loan) for 30 days, and resumed (30 % a month) when fewer are; a delivery hold
likewise at ``max(2, 1 %)`` while lots remain; 30 % of hand-overs without authority
and militia repairs are reported as violations 10–120 days later.

**Reporting delays.** A field report is learnt after a delay from when it happened
(from ``discovered_at`` when given): Lomax (Pareto II) of shape ``delay_alpha`` = 1
and scale ``delay_scale_hours`` = 24, truncated at ``delay_cap_days`` = 4 years —
median 1 day, p75 3 days, p90 9 days, p99 93 days, p99.9 1.6 years, 0.2 % over a
year.
Intelligence and monitor reports take three times the scale, inventories twice.
Reference data and deliveries are recorded within 6 hours, contract actions within
a day. So reports arrive out of world order (a recovery before the capture it
undoes). A report is never learnt before the registration of anything it names, nor
after ``REPORT_CAP`` (then it is never learnt). The stream is sorted by
``reported_at`` — knowledge never goes back — unless ``backfill_share`` > 0: that
share of field reports is appended a Lomax(30 days, at most a year) after its
``reported_at``, as a migration from paper records would be (each one makes the
findings projection walk again from scratch).

**Amendments.** Each field report is, with probability ``correction_share / 0.93``,
first recorded with one field wrong and corrected later — ``occurred_at`` 1–72 hours
early (30 %, one-asset events without a window), ``payload.from_party`` or
``payload.condition`` (30 %, where the payload has one), else ``confidence`` — and,
with probability ``retraction_share / 0.93``, accompanied by a spurious report (a
double entry, or a misidentified sighting naming an armed group) retracted later.
Amendments follow by a Lomax(7 days, at most 2 years). Each kind is ≈ 0.5 % of the
stream (field reports are 93 % of it).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from domain.vocabulary import Role
from ledger.bootstrap import Ledger, build_ledger
from ledger.settings import Settings
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

Event = dict[str, Any]
_T = TypeVar("_T")

EPOCH = datetime(2008, 1, 1, tzinfo=UTC)
# Nothing is reported after this instant (reports due later are never learnt), so a
# world appends on any machine whose clock is past it.
REPORT_CAP = datetime(2024, 12, 31, tzinfo=UTC)
HOUR = 3600
DAY = 86_400
YEAR = 365 * DAY
MAX_YEARS = 12
OVERRUN_YEARS = 2  # the sim may run past the calendar to reach the event count
_REPORT_CAP_S = int((REPORT_CAP - EPOCH).total_seconds())

PHASE_STARTS = (0.30, 0.42, 0.62)  # crisis, liberation, aftermath (fractions of the calendar)
PEACE, CRISIS, LIBERATION, AFTERMATH = range(4)
# The factor on army hazards in each phase, for (unaffected, affected) divisions.
HAZARD_FACTOR = ((1.0, 1.0), (2.0, 30.0), (1.5, 8.0), (1.5, 1.5))
ASSETS_PER_BATTALION = 45
# Routine events per army asset-year at s = 1 (maintenance counts twice), and what an
# asset-year yields besides (incidents, inventories, amendments), both measured: they
# set ``s`` so that the world reaches its event count near the calendar's end.
ROUTINE_PER_ASSET_YEAR = 5.1
ROUTINE_YIELD = 0.75
OTHER_PER_ASSET_YEAR = 2.3
# The share of the stream that field reports (which alone get amended) make up.
FIELD_SHARE = 0.93


@dataclass(frozen=True)
class WorldConfig:
    """What to generate. ``assets`` defaults to ``events // 100`` (at least 20),
    ``contracts`` to ``max(2, round(assets / 1250))``."""

    events: int
    seed: int = 0
    assets: int | None = None
    contracts: int | None = None
    prefix: str = "w-"
    years: int = 10
    retraction_share: float = 0.005
    correction_share: float = 0.005
    backfill_share: float = 0.0
    delay_alpha: float = 1.0
    delay_scale_hours: float = 24.0
    delay_cap_days: int = 4 * 365
    batch_size: int = 1000

    def __post_init__(self) -> None:
        if self.events < 1:
            raise ValueError("events must be at least 1")
        if not 1 <= self.years <= MAX_YEARS:
            raise ValueError(f"years must be within 1..{MAX_YEARS}")
        if self.assets is not None and self.assets < 1:
            raise ValueError("assets must be at least 1")
        if self.contracts is not None and not 1 <= self.contracts <= self.asset_count:
            raise ValueError("contracts must be within 1..assets")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.delay_alpha <= 0 or self.delay_scale_hours <= 0 or self.delay_cap_days < 1:
            raise ValueError("the delay distribution needs alpha > 0, scale > 0, cap ≥ 1 day")

    @property
    def asset_count(self) -> int:
        return self.assets if self.assets is not None else max(20, self.events // 100)


def generate(config: WorldConfig) -> Iterator[list[Event]]:
    """The world's events in append order, in batches of ``config.batch_size``."""
    return _World(config).batches()


def world_events(events: int, seed: int = 0, **options: Any) -> Iterator[Event]:
    """The same stream one event at a time (``options``: the other WorldConfig fields)."""
    for batch in generate(WorldConfig(events=events, seed=seed, **options)):
        yield from batch


def append_world(
    settings_or_ledger: Settings | Ledger,
    events: int,
    seed: int,
    progress: Callable[[int], object] | None = None,
    *,
    assets: int | None = None,
    contracts: int | None = None,
) -> int:
    """Append a world of ``events`` events to a ledger, built from settings (and closed
    again) when settings are given, as the admin ``world`` with each event's historical
    ``reported_at``; returns how many events were new — a re-run with the same seed
    replays every event and stores nothing. ``progress`` is called with the size of
    each appended batch. Projections are not run here: ``ledger serve`` and ``ledger
    project`` follow the log, or call ``ledger.runner.catch_up()``."""
    if isinstance(settings_or_ledger, Ledger):
        ledger, own = settings_or_ledger, False
    else:
        ledger, own = build_ledger(settings_or_ledger), True
    who = Principal("world", Role.ADMIN)
    validate = EVENT_ADAPTER.validate_python
    stored = 0
    try:
        config = WorldConfig(events=events, seed=seed, assets=assets, contracts=contracts)
        for batch in generate(config):
            results = ledger.appender.append([validate(e) for e in batch], who)
            stored += sum(not r.replayed for r in results)
            if progress is not None:
                progress(len(batch))
    finally:
        if own:
            ledger.close()
    return stored


# --- small pieces -------------------------------------------------------------------

_HOURS = tuple(f"T{h:02d}" for h in range(24))
_MINUTES_SECONDS = tuple(f":{m:02d}:{s:02d}Z" for m in range(60) for s in range(60))


class _Clock:
    """Seconds since ``EPOCH`` as RFC 3339 text (the days of the calendar made once)."""

    def __init__(self, days: int) -> None:
        first = EPOCH.date()
        self.days = [(first + timedelta(days=d)).isoformat() for d in range(days + 1)]

    def iso(self, s: int) -> str:
        d, r = divmod(s, DAY)
        h, r = divmod(r, HOUR)
        return self.days[d] + _HOURS[h] + _MINUTES_SECONDS[r]


class _Bag:
    """An insertion-ordered set of ints with O(1) add, discard and random pick."""

    __slots__ = ("items", "pos")

    def __init__(self) -> None:
        self.items: list[int] = []
        self.pos: dict[int, int] = {}

    def add(self, x: int) -> None:
        if x not in self.pos:
            self.pos[x] = len(self.items)
            self.items.append(x)

    def discard(self, x: int) -> None:
        i = self.pos.pop(x, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.pos[last] = i

    def __len__(self) -> int:
        return len(self.items)


# Party classes (what holding an asset means), asset states and categories (what can
# happen next), happenings in world time, actions.
ARMY, HOSTILE, MILITIA, RF, OTHER, NEUTRAL = range(6)
IN_CUSTODY, LOST, DESTROYED, DECOMMISSIONED = range(4)
OPERATIONAL, DISABLED, UNDER_REPAIR = range(3)
C_ARMY, C_ARMY_DISABLED, C_REPAIR, C_HOSTILE, C_MILITIA, C_RF, C_OTHER, C_LOST = range(8)
_CATEGORY_OF_CLASS = (C_ARMY, C_HOSTILE, C_MILITIA, C_RF, C_OTHER, C_OTHER)
K_TICK, K_LOT, K_INVENTORY, K_REPAIR_DONE, K_REVIEW, K_PHASE, K_CALL = range(7)
(
    A_OBSERVE, A_SUPPORT, A_MAINTAIN, A_ROTATE, A_OVERHAUL, A_LOAN, A_ILLICIT, A_CAPTURE,
    A_LOSE, A_DISABLE, A_DESTROY, A_DECOMMISSION, A_BATTLE_REPAIR, A_SIGHT, A_AIRSTRIKE,
    A_RECOVER, A_HAND_OVER, A_GIVE_BACK, A_MILITIA_REPAIR, A_MILITIA_SUPPORT, A_SELL, A_SEIZE,
    A_FIND, A_WRITE_OFF,
) = range(24)  # fmt: skip
_HAZARDS = ((A_CAPTURE, 0.004), (A_LOSE, 0.0015), (A_DISABLE, 0.006), (A_DESTROY, 0.0007))


def rates(cat: int, phase: int, affected: int, s: float) -> list[tuple[int, float]]:
    """(action, events per asset-year) for an asset in category ``cat`` (module docstring)."""
    if cat in (C_ARMY, C_ARMY_DISABLED):
        factor = HAZARD_FACTOR[phase][affected]
        hazards = [(act, r * factor) for act, r in _HAZARDS]
        if cat == C_ARMY_DISABLED:
            return [(A_BATTLE_REPAIR, 4.0), (A_OBSERVE, 3.0 * s), (A_SUPPORT, 1.5 * s), *hazards]
        loan = 0.08 if phase in (CRISIS, LIBERATION) else 0.0
        return [
            (A_OBSERVE, 3.0 * s), (A_SUPPORT, 1.5 * s), (A_ROTATE, 0.6 * s), (A_MAINTAIN, 1.2),
            (A_OVERHAUL, 0.06), (A_LOAN, loan), (A_ILLICIT, 0.004), (A_DECOMMISSION, 0.004),
            *hazards,
        ]  # fmt: skip
    if cat == C_REPAIR:
        return [(A_OBSERVE, 3.0 * s), (A_SUPPORT, 1.5 * s), (A_DECOMMISSION, 0.03)]
    if cat == C_HOSTILE:
        return [
            (A_SIGHT, 3.0), (A_AIRSTRIKE, (0.2, 0.5, 0.9, 0.3)[phase]),
            (A_RECOVER, (0.3, 0.15, 1.2, 0.5)[phase]), (A_HAND_OVER, 0.1), (A_DISABLE, 0.2),
        ]  # fmt: skip
    if cat == C_MILITIA:
        return [
            (A_SIGHT, 2.0), (A_GIVE_BACK, (0.2, 0.1, 0.15, 0.4)[phase]),
            (A_MILITIA_REPAIR, 0.5), (A_MILITIA_SUPPORT, 0.3),
            (A_CAPTURE, (0.0, 0.1, 0.05, 0.0)[phase]), (A_DESTROY, 0.03), (A_DISABLE, 0.1),
        ]  # fmt: skip
    if cat == C_RF:
        return [(A_SIGHT, 2.0), (A_GIVE_BACK, 0.6), (A_DISABLE, 0.05)]
    if cat == C_OTHER:
        return [(A_SIGHT, 1.0), (A_SEIZE, 0.4), (A_SELL, 0.3)]
    return [(A_FIND, (0.3, 0.2, 0.6, 0.3)[phase]), (A_SIGHT, 0.3), (A_WRITE_OFF, 0.25)]


MODELS = ("MBT-A1", "MBT-A2", "IFV-3", "APC-7", "SPH-155", "ARV-2", "MRAP-4", "UH-9")
ACTIVITIES = (
    "parked at garrison", "convoy movement", "training exercise", "checkpoint duty",
    "live-fire range", "parade", "combat operations", "loaded on a rail flatcar",
)  # fmt: skip
HOSTILE_ACTIVITIES = (
    "in a propaganda video", "at a checkpoint flying the group's flag", "moving in a column",
    "in firing positions near the front line", "under camouflage netting",
    "on a low-loader heading north",
)  # fmt: skip
SUPPORT_KINDS = ("spare_parts", "technical_assistance", "training", "ammunition", "fuel")
PARTS = ("engine pack", "track set", "road wheels", "fire-control computer", "radio set")
LOSS_KINDS = ("abandoned", "missing", "lost in action", "stolen")
DAMAGE = ("mobility kill: tracks and road wheels", "engine fire", "turret hit", "IED under hull")
CAPTURES = ("position overrun", "crews withdrew under fire", "convoy ambushed", "base fell")
RECOVERIES = ("retaken in an offensive", "found abandoned", "seized at a checkpoint", "handed in")
WORK_TYPES = ("field_maintenance", "battle_damage_repair", "overhaul")
FIELD_WORK = ["field_maintenance", "battle_damage_repair"]


# --- the world ----------------------------------------------------------------------


class _World:
    """The simulation: who holds what, what happens next (a queue in world time), and
    the reports not yet learnt (a queue in knowledge time)."""

    def __init__(self, config: WorldConfig) -> None:
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.p = config.prefix
        self.eid = config.prefix + "e"
        self.clock = _Clock(_REPORT_CAP_S // DAY + 10 * 365)  # amendments of late reports
        self.span = config.years * YEAR
        self.cap = self.span + OVERRUN_YEARS * YEAR
        self.phase = PEACE
        self.phase_at = tuple(int(f * self.span) for f in PHASE_STARTS)
        self.world: list[tuple[int, int, int, int, int]] = []  # (t, seq, kind, x, y)
        self.out: list[tuple[int, int, Event]] = []  # (learnt, seq, event)
        self.seq = 0
        self.n = 0  # numbers event ids and the references they make
        self.calls: list[tuple[Callable[..., object], tuple[Any, ...]]] = []
        # When each registered id is learnt: a report naming it comes after.
        self.ready: dict[str, int] = {}
        self.ready_max = 0
        self._inv_alpha = -1.0 / config.delay_alpha
        self._delay_scale = config.delay_scale_hours * HOUR
        self._delay_f_cap: dict[float, float] = {}
        self.q_correct = config.correction_share / FIELD_SHARE
        self.q_retract = config.retraction_share / FIELD_SHARE
        self.q_backfill = config.backfill_share
        self.tables: dict[int, tuple[float, list[float], list[int]]] = {}
        self._parties()
        self._contracts()
        self._assets()
        for i, at in enumerate(self.phase_at):
            self._at(at, K_PHASE, i + 1, 0)
        for u in [self.depot, *self.battalions]:
            self._at(200 * DAY + int(self.rng.random() * YEAR), K_INVENTORY, u, 0)

    # -- reference data -------------------------------------------------------------

    def _reference(
        self, type_: str, t: int, reporter: int, payload: Event, names: Iterable[str] = ()
    ) -> int:
        """Reference data is recorded within six hours; returns when it is learnt."""
        ev = self._envelope(type_, t, reporter, payload, "registry", ())
        rep = t + int(self.rng.random() * 6 * HOUR)
        for x in (ev["reporter"], *names):
            if x in self.ready:  # not the party registering itself
                rep = max(rep, self.ready[x] + 1)
        self._push(ev, rep, rep)
        self.ready_max = max(self.ready_max, rep)
        return rep

    def _party(
        self,
        key: str,
        name: str,
        kind: str,
        cls: int,
        t: int = 0,
        parent: int = -1,
        reporter: int = 0,
        *,
        acts_for: str = "",
        designations: list[str] | None = None,
    ) -> int:
        i = len(self.pid)
        pid = self.p + key
        self.pid.append(pid)
        self.pindex[pid] = i
        self.pclass.append(cls)
        self.pdiv.append(self.pdiv[parent] if parent >= 0 else -1)
        self.held.append(_Bag())
        self.roster.append(_Bag())
        payload: Event = {"party_id": pid, "name": name, "kind": kind}
        if parent >= 0:
            payload["parent"] = self.pid[parent]
        if acts_for:
            payload["acts_for"] = acts_for
        if designations:
            payload["designations"] = designations
        names = [payload[k] for k in ("parent", "acts_for") if k in payload]
        self.ready[pid] = self._reference("party_registered", t, reporter, payload, names)
        return i

    def _parties(self) -> None:
        self.pid: list[str] = []
        self.pindex: dict[str, int] = {}
        self.pclass: list[int] = []
        self.pdiv: list[int] = []  # the division (index) a unit belongs to, or −1
        self.held: list[_Bag] = []  # what each party holds
        self.roster: list[_Bag] = []  # the books: assets last placed at each army unit
        rng, a, p = self.rng, self.cfg.asset_count, self._party
        gov = p("sel-gov", "Seller State Government", "government", NEUTRAL)
        self.agency = p("sel-agency", "Security Cooperation Agency", "state_unit", NEUTRAL, 0, gov)
        self.air = p("sel-air", "Coalition Air Component", "state_unit", NEUTRAL, 0, gov)
        self.intel = p("sel-intel", "Defence Intelligence", "state_unit", NEUTRAL, 0, gov)
        self.inspectors = p("sel-eum", "End-Use Monitoring Team", "inspector", NEUTRAL, 0, gov)
        self.prime = p("sel-prime", "Prime Contractor", "contractor", NEUTRAL,
                       acts_for=self.pid[gov])  # fmt: skip
        self.mod = p("mod", "Ministry of Defence", "government", NEUTRAL)
        self.army = p("army", "Army", "state_unit", ARMY, 0, self.mod, self.mod)
        self.depot = p("army-depot", "Army Logistics Depot", "state_unit", ARMY, 0, self.army)
        self.maint = p("army-maint", "Army Maintenance Corps", "state_unit", ARMY, 0, self.army)
        self.logistics = p("army-log", "Army Logistics Command", "state_unit", ARMY, 0, self.army)
        n_bn = max(3, round(a / ASSETS_PER_BATTALION))
        n_div = max(1, round(n_bn / 18))
        self.affected = [d < max(1, (n_div + 1) // 2) for d in range(n_div)]
        self.battalions: list[int] = []
        self.brigade_of: dict[int, int] = {}
        brigades: list[int] = []
        for d in range(n_div):
            div = p(f"div{d + 1}", f"Division {d + 1}", "state_unit", ARMY, 0, self.army, self.mod)
            self.pdiv[div] = d
            for b in range(3):
                key, name = f"div{d + 1}-bde{b + 1}", f"Brigade {d + 1}/{b + 1}"
                brigades.append(p(key, name, "state_unit", ARMY, 0, div, self.mod))
        for i in range(n_bn):
            bde = brigades[i % len(brigades)]
            key = f"{self.pid[bde][len(self.p) :]}-bn{i // len(brigades) + 1}"
            bn = p(key, f"Battalion {i + 1}", "state_unit", ARMY, 0, bde, self.mod)
            self.battalions.append(bn)
            self.brigade_of[bn] = bde
        self.rf = p("rf", "Regional Guard", "regional_force", RF, 0, -1, self.mod)
        self.smugglers = p("smugglers", "Smuggling Network", "other", OTHER)
        self.unknown = p("unknown-hostile", "Unidentified Hostile Forces", "other", NEUTRAL)
        self.monitor = p("monitor", "Open-Source Conflict Monitor", "other", NEUTRAL)
        self.ovh = [p(f"fx-ovh{k}", f"Overhaul Works {k}", "contractor", NEUTRAL) for k in (1, 2)]
        self.grey = p("fx-grey", "Unlicensed Repair Workshop", "contractor", NEUTRAL)
        crisis = self.phase_at[0]
        self.groups: list[int] = []
        for g in range(min(8, 3 + a // 5000)):
            at = (
                crisis + (-90 * DAY, -30 * DAY)[g]
                if g < 2
                else crisis + int(rng.random() * (self.phase_at[1] - crisis))
            )
            self._later(at, self._emerge, g)
        self.militias: list[int] = []
        for m in range(min(8, 2 + a // 4000)):
            at = crisis + 20 * DAY + int(rng.random() * 40 * DAY)
            self._later(at, self._muster, m)
        self._later(self.phase_at[1] + int(0.3 * YEAR), self._militias_incorporated)
        self._later(self.phase_at[2] + YEAR // 2, self._militia_designated)
        self.fac_depot = self._facility("fac-army-depot", "Army Central Depot", self.depot, "XA")
        self.fac_seller = self._facility("fac-seller-depot", "Seller Depot", self.prime, "XS")
        self.fac_grey = self._facility("fac-grey", "Backstreet Workshop", self.grey, "XG")
        self.fac_ovh = [
            self._facility(f"fac-ovh{k + 1}", f"Overhaul Plant {k + 1}", f, f"XF{k + 1}")
            for k, f in enumerate(self.ovh)
        ]
        self.places = [
            [
                {
                    "name": f"Garrison {d + 1}-{k + 1}",
                    "admin1": f"Province {d + 1}",
                    "country": "XA",
                    "lat": round(30 + 4 * rng.random(), 4),
                    "lon": round(40 + 5 * rng.random(), 4),
                }
                for k in range(3)
            ]
            for d in range(n_div)
        ]

    def _emerge(self, t: int, g: int) -> None:
        designations = ["sanctioned"] if g == 0 else None
        name = f"Armed Group {g + 1}"
        self.groups.append(
            self._party(f"ag{g + 1}", name, "armed_group", HOSTILE, t, designations=designations)
        )

    def _muster(self, t: int, m: int) -> None:
        name = f"Militia {m + 1}"
        self.militias.append(
            self._party(f"mil{m + 1}", name, "paramilitary", MILITIA, t, -1, self.mod)
        )

    def _facility(self, key: str, name: str, operator: int, country: str) -> str:
        fid = self.p + key
        payload = {"facility_id": fid, "name": name, "operator_party": self.pid[operator]}
        payload["country"] = country
        self.ready[fid] = self._reference(
            "facility_registered", 0, 0, payload, [self.pid[operator]]
        )
        return fid

    def _militias_incorporated(self, t: int) -> None:
        if self.militias:
            ids = [self.pid[m] for m in self.militias]
            basis = "Law incorporating the popular mobilisation forces into the armed forces"
            payload = {"party_ids": ids, "new_kind": "state_unit", "legal_basis": basis}
            self._reference("party_reclassified", t, self.mod, payload, ids)

    def _militia_designated(self, t: int) -> None:
        if self.militias:
            ids = [self.pid[self.militias[0]]]
            basis = "Designated a terrorist organisation by the seller state"
            payload = {"party_ids": ids, "new_kind": "armed_group", "legal_basis": basis}
            self._reference("party_reclassified", t, 0, payload, ids)

    # -- contracts and authorisations -------------------------------------------------

    def _contracts(self) -> None:
        rng, a = self.rng, self.cfg.asset_count
        n = self.cfg.contracts or min(a, max(2, round(a / 1250)))
        weights = [0.5 + rng.random() for _ in range(n)]
        sizes = [max(1, int(a * w / sum(weights))) for w in weights]
        while sum(sizes) > a:  # tiny worlds: at least one asset each, no more than asked
            sizes[sizes.index(max(sizes))] -= 1
        sizes[0] += a - sum(sizes)
        self.cid: list[str] = []
        self.c_size = sizes
        self.c_model: list[str] = []
        self.c_reg: list[int] = []
        self.c_auth: list[dict[str, str]] = []  # role → authorisation id
        self.c_ovh: list[int] = []  # the licensed overhaul contractor (index), or −1
        self.c_loan: list[tuple[int, int] | None] = []
        self.suspended = [False] * n
        self.hold = [False] * n
        self.unaccounted = [_Bag() for _ in range(n)]
        self.unaccounted_since: list[int | None] = [None] * n
        self.lots_left = [0] * n
        for c in range(n):
            t = 30 * DAY + int(0.55 * self.span * c / n) + int(rng.random() * 20 * DAY)
            cid, model = f"{self.p}fms-{c + 1:02d}", MODELS[c % len(MODELS)]
            self.cid.append(cid)
            self.c_model.append(model)
            self.c_reg.append(t)
            payload: Event = {
                "contract_id": cid,
                "title_holder": self.pid[self.mod],
                "seller": self.pid[0],
                "item": f"{model} with sustainment",
                "quantity": sizes[c],
            }
            if c % 3 == 2:
                payload["terms"] = {"inventory_period_days": 180, "unaccounted_max_days": 14}
            self.ready[cid] = self._reference(
                "contract_registered", t, self.agency, payload, [self.pid[self.mod]]
            )
            auths: dict[str, str] = {}
            self.c_auth.append(auths)
            army, end = self.pid[self.army], t + 6 * YEAR
            auths["eu"] = self._grant(t, c, "eu1", "end_user", army, t, end, True)
            auths["prime"] = self._grant(t, c, "mt-prime", "maintainer", self.pid[self.prime], t)
            maint, depot = self.pid[self.maint], self.fac_depot
            auths["maint"] = self._grant(t, c, "mt-army", "maintainer", maint, t, work=FIELD_WORK)
            auths["depot"] = self._grant(
                t, c, "rf-depot", "repair_facility", depot, t, work=FIELD_WORK
            )
            auths["seller"] = self._grant(t, c, "rf-seller", "repair_facility", self.fac_seller, t)
            if end < self.cap:
                self._later(end - 60 * DAY, self._renew, c, end)
            self.c_ovh.append(-1)
            if c % 3 != 2:
                self._later(t + YEAR, self._license, c)
            loan = None
            if c == 0:
                start = self.phase_at[0] + 60 * DAY
                loan = (start, start + 2 * YEAR)
                self._later(start - 5 * DAY, self._lend, c, loan)
            self.c_loan.append(loan)
            self._at(t + 30 * DAY, K_REVIEW, c, 0)

    def _grant(
        self,
        t: int,
        c: int,
        key: str,
        kind: str,
        subject: str,
        valid_from: int,
        valid_to: int | None = None,
        descendants: bool = False,
        work: list[str] | None = None,
    ) -> str:
        aid = f"{self.p}auth-{c + 1}-{key}"
        payload: Event = {
            "authorization_id": aid,
            "contract_id": self.cid[c],
            "kind": kind,
            "subject_id": subject,
            "includes_descendants": descendants,
        }
        if work is not None:
            payload["work_types"] = work
        payload["valid_from"] = self.clock.iso(valid_from)
        if valid_to is not None:
            payload["valid_to"] = self.clock.iso(valid_to)
        names = [self.cid[c], subject]
        self.ready[aid] = self._reference("authorization_granted", t, self.agency, payload, names)
        return aid

    def _renew(self, t: int, c: int, end: int) -> None:
        """The end user's renewal: on time, late but retroactive, or late with a gap."""
        u, rng = self.rng.random(), self.rng
        if u < 0.7:
            at, start = t + int(rng.random() * 50 * DAY), end
        elif u < 0.9:
            at, start = end + 5 * DAY + int(rng.random() * 55 * DAY), end
        else:
            at = start = end + 5 * DAY + int(rng.random() * 40 * DAY)
        army = self.pid[self.army]
        self._later(at, self._grant, c, "eu2", "end_user", army, start, None, True)

    def _lend(self, t: int, c: int, loan: tuple[int, int]) -> None:
        rf = self.pid[self.rf]
        self.c_auth[c]["loan"] = self._grant(t, c, "eu-rf", "end_user", rf, loan[0], loan[1])

    def _license(self, t: int, c: int) -> None:
        """A foreign overhaul contractor and its plant licensed for six years for this
        contract's overhauls; the first contractor's licences are revoked when the
        aftermath begins."""
        k, until = c % 2, t + 6 * YEAR
        ovh = ["overhaul"]
        fac, firm = self.fac_ovh[k], self.pid[self.ovh[k]]
        self.c_auth[c]["ovh-fac"] = self._grant(t, c, f"rf-ovh{k + 1}", "repair_facility", fac, t,
                                                until, work=ovh)  # fmt: skip
        self.c_auth[c]["ovh"] = self._grant(t, c, f"mt-ovh{k + 1}", "maintainer", firm, t, until,
                                            work=ovh)  # fmt: skip
        self.c_ovh[c] = k
        revoke = self.phase_at[2]
        if k == 0 and t < revoke < until:
            self._later(revoke, self._revoke, c)

    def _revoke(self, t: int, c: int) -> None:
        for key in ("ovh-fac", "ovh"):
            aid = self.c_auth[c][key]
            reason = "End-use violation: overhauls done for unauthorised holders"
            payload = {"authorization_id": aid, "effective_at": self.clock.iso(t), "reason": reason}
            self._reference("authorization_revoked", t, self.agency, payload, [aid])
        self.c_ovh[c] = -1

    # -- assets and deliveries ----------------------------------------------------------

    def _assets(self) -> None:
        a, rng = self.cfg.asset_count, self.rng
        self.aid = [f"{self.p}a{i + 1:05d}" for i in range(a)]
        self.contract = [0] * a
        self.born = [0] * a
        self.holder = [-1] * a
        self.status = [IN_CUSTODY] * a
        self.op = [OPERATIONAL] * a
        self.home = [-1] * a  # the unit whose books list the asset
        self.ver = [0] * a  # bumped at each change of state: stale ticks are skipped
        self.table_of: list[tuple[float, list[float], list[int]] | None] = [None] * a
        self.wo = [0] * a
        self.wo_info: dict[int, tuple[int, str, int, str, int, str]] = {}
        self.lots: list[tuple[int, list[int], int]] = []  # (contract, assets, unit)
        first, asset_years = 0, 0.0
        for c, size in enumerate(self.c_size):
            start = self.c_reg[c] + 60 * DAY + int(rng.random() * 120 * DAY)
            end = min(int(0.85 * self.span), start + YEAR + int(rng.random() * 2 * YEAR))
            end = max(end, start + 30 * DAY)
            members = list(range(first, first + size))
            first += size
            lots: list[list[int]] = []
            while members:
                k = min(len(members), 4 + int(rng.random() * 27))
                lots.append(members[:k])
                members = members[k:]
            for j, lot in enumerate(lots):
                at = start + int((end - start) * (j + rng.random()) / len(lots))
                unit = self.depot if rng.random() < 0.2 else self._pick(self.battalions)
                for x in lot:
                    self.contract[x] = c
                asset_years += len(lot) * max(0.0, (self.span - at) / YEAR)
                self.lots.append((c, lot, unit))
                self._at(at, K_LOT, len(self.lots) - 1, 0)
                self.lots_left[c] += 1
        left = self.cfg.events - a - asset_years * OTHER_PER_ASSET_YEAR
        per = max(1.0, asset_years) * ROUTINE_PER_ASSET_YEAR * ROUTINE_YIELD
        self.s = max(0.05, left / per)

    # -- the two queues -------------------------------------------------------------------

    def _at(self, t: int, kind: int, x: int, y: int) -> None:
        self.seq += 1
        heapq.heappush(self.world, (t, self.seq, kind, x, y))

    def _later(self, t: int, fn: Callable[..., object], *args: Any) -> None:
        """Call ``fn(t, *args)`` when the world's clock reaches ``t``."""
        self.calls.append((fn, args))
        self._at(t, K_CALL, len(self.calls) - 1, 0)

    def _call(self, t: int, i: int, _: int) -> None:
        fn, args = self.calls[i]
        fn(t, *args)

    def _push(self, ev: Event, rep: int, learnt: int) -> None:
        if learnt > _REPORT_CAP_S:
            return  # due after the world's last day: never learnt
        ev["reported_at"] = self.clock.iso(rep)
        self.seq += 1
        heapq.heappush(self.out, (learnt, self.seq, ev))

    def batches(self) -> Iterator[list[Event]]:
        """Run the world; emit each report once the world's clock has passed the
        instant it is learnt (nothing happening later can be learnt earlier)."""
        world, out, pop = self.world, self.out, heapq.heappop
        size, limit = self.cfg.batch_size, self.cfg.events
        handlers: dict[int, Callable[[int, int, int], None]] = {
            K_TICK: self._tick,
            K_LOT: self._lot,
            K_INVENTORY: self._inventory,
            K_REPAIR_DONE: self._repair_done,
            K_REVIEW: self._review,
            K_PHASE: self._phase,
            K_CALL: self._call,
        }
        batch: list[Event] = []
        emitted = 0
        while world:
            t, _, kind, x, y = pop(world)
            if t > self.cap:
                break
            while out and out[0][0] <= t:
                batch.append(pop(out)[2])
                emitted += 1
                if emitted == limit:
                    yield batch
                    return
                if len(batch) == size:
                    yield batch
                    batch = []
            handlers[kind](t, x, y)
        while out and emitted < limit:
            batch.append(pop(out)[2])
            emitted += 1
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    # -- distributions ----------------------------------------------------------------

    def _delay(self, scale: float = 1.0) -> int:
        """A reporting delay in seconds: Lomax truncated at the cap (module docstring)."""
        f_cap = self._delay_f_cap.get(scale)
        if f_cap is None:
            ratio = self.cfg.delay_cap_days * DAY / (self._delay_scale * scale)
            f_cap = self._delay_f_cap[scale] = 1.0 - (1.0 + ratio) ** (-self.cfg.delay_alpha)
        u = self.rng.random() * f_cap
        return int(self._delay_scale * scale * ((1.0 - u) ** self._inv_alpha - 1.0))

    def _lomax(self, scale_s: float, cap_s: int) -> int:
        """Lomax of shape 1 truncated at ``cap_s`` (amendment and entry lags)."""
        u = self.rng.random() * (1.0 - 1.0 / (1.0 + cap_s / scale_s))
        return int(scale_s * u / (1.0 - u))

    def _pick(self, seq: Sequence[_T]) -> _T:
        return seq[int(self.rng.random() * len(seq))]

    def _days(self, low: float, high: float) -> int:
        return int((low + (high - low) * self.rng.random()) * DAY)

    # -- events and their reports ---------------------------------------------------------

    def _envelope(
        self,
        type_: str,
        t: int,
        reporter: int,
        payload: Event,
        source: str,
        assets: Iterable[int],
        confidence: str = "confirmed",
    ) -> Event:
        self.n += 1
        n = self.n
        return {
            "event_id": f"{self.eid}{n}",
            "type": type_,
            "asset_ids": [self.aid[a] for a in assets],
            "occurred_at": self.clock.iso(t),
            "reporter": self.pid[reporter],
            "source": {"kind": source, "ref": f"{source}/{n}"},
            "confidence": confidence,
            "payload": payload,
        }

    def _field(
        self,
        ev: Event,
        t: int,
        names: Iterable[str] = (),
        scale: float = 1.0,
        *,
        known: int | None = None,
        latest: int | None = None,
        amend: bool = True,
    ) -> int:
        """Report a field event that happened at ``t`` (was discovered at ``known``);
        ``names``: the ids it names besides its reporter and assets. Returns when the
        ledger learns it."""
        earliest = max(t, known or t, latest or t)  # not before it happened, or was found
        rep = (known if known is not None else t) + self._delay(scale)
        if rep < earliest:
            rep = earliest
        if rep <= self.ready_max:  # something registered lately: report after it
            ready = self.ready
            for x in (ev["reporter"], *ev["asset_ids"], *names):
                if ready[x] >= rep:
                    rep = ready[x] + 1
        learnt = rep
        if self.q_backfill and self.rng.random() < self.q_backfill:
            learnt = rep + self._lomax(30 * DAY, YEAR)
        if amend:
            u = self.rng.random()
            if u < self.q_correct:
                self._corrected(ev, t, rep, learnt)
                return learnt
            if u < self.q_correct + self.q_retract:
                self._spurious(ev, t, earliest, names, scale)
        self._push(ev, rep, learnt)
        return learnt

    def _corrected(self, ev: Event, t: int, rep: int, learnt: int) -> None:
        """Record ``ev`` with one field wrong — ``occurred_at`` (30 %, single-asset
        events without a window), ``payload.from_party`` or ``payload.condition`` (30 %,
        where the payload has one), else ``confidence`` — and correct it later."""
        rng, payload = self.rng, ev["payload"]
        wrong = dict(ev)
        u = rng.random()
        path = "confidence"
        if u < 0.3 and len(ev["asset_ids"]) == 1 and "occurred_earliest" not in ev:
            early = t - HOUR * (1 + int(rng.random() * 72))
            if early > self.born[self._asset_index(ev["asset_ids"][0])]:
                wrong["occurred_at"] = self.clock.iso(early)
                path = "occurred_at"
        elif u < 0.6 and "from_party" in payload:
            alt = self.pid[self._pick(self.battalions)]
            if alt not in (payload["from_party"], payload.get("to_party")):
                wrong["payload"] = {**payload, "from_party": alt}
                path = "payload.from_party"
        elif u < 0.6 and "condition" in payload:
            other = "operational" if payload["condition"] != "operational" else "damaged"
            wrong["payload"] = {**payload, "condition": other}
            path = "payload.condition"
        if path == "confidence":
            wrong["confidence"] = "probable" if ev["confidence"] == "confirmed" else "confirmed"
        truth = ev[path] if "." not in path else payload[path.split(".")[1]]
        self._push(wrong, rep, learnt)
        at = learnt + self._lomax(7 * DAY, 2 * YEAR)
        fix = {
            "target_event_id": ev["event_id"],
            "corrected_fields": {path: truth},
            "reason": "clerical error in the original report",
        }
        reporter = self.pindex[ev["reporter"]]
        self._push(self._envelope("event_corrected", at, reporter, fix, "correction", ()), at, at)

    def _asset_index(self, asset_id: str) -> int:
        return int(asset_id[len(self.p) + 1 :]) - 1

    def _spurious(
        self, ev: Event, t: int, earliest: int, names: Iterable[str], scale: float
    ) -> None:
        """A report that should not have been made — a double entry or a misidentified
        sighting — and its retraction."""
        rng = self.rng
        if rng.random() < 0.5 and not ev["type"].startswith("repair"):
            twin = dict(ev)
            self.n += 1
            twin["event_id"] = f"{self.eid}{self.n}"
            twin["source"] = {"kind": ev["source"]["kind"], "ref": f"duplicate/{self.n}"}
            reason = "duplicate entry of an event already recorded"
            names = [*names]
        else:
            pool = self.groups or self.militias or [self.smugglers]
            party = pool[int(rng.random() * len(pool))]
            payload = {
                "observed_party": self.pid[party],
                "condition": "operational",
                "activity": self._pick(HOSTILE_ACTIVITIES),
            }
            assets = [self._asset_index(x) for x in ev["asset_ids"]]
            twin = self._envelope(
                "observation", t, self.monitor, payload, "osint", assets, "probable"
            )
            reason = "misidentified: another vehicle of the same type"
            names = [self.pid[party]]
        rep = earliest + self._delay(scale)
        for x in (twin["reporter"], *twin["asset_ids"], *names):
            rep = max(rep, self.ready[x] + 1)
        self._push(twin, rep, rep)
        at = rep + self._lomax(7 * DAY, 2 * YEAR)
        payload = {"target_event_id": twin["event_id"], "reason": reason}
        who = self.pindex[twin["reporter"]]
        retraction = self._envelope("event_retracted", at, who, payload, "correction", ())
        self._push(retraction, at, at)

    # -- the asset's clock --------------------------------------------------------------

    def _table(self, a: int) -> tuple[float, list[float], list[int]] | None:
        """What can happen to ``a`` now: (total rate per second, cumulative rates, actions)."""
        st = self.status[a]
        if st == LOST:
            cat = C_LOST
        elif st != IN_CUSTODY:
            return None
        elif self.op[a] == UNDER_REPAIR:
            cat = C_REPAIR
        else:
            cat = _CATEGORY_OF_CLASS[self.pclass[self.holder[a]]]
            if cat == C_ARMY and self.op[a] == DISABLED:
                cat = C_ARMY_DISABLED
        affected = 0
        if cat <= C_ARMY_DISABLED:
            d = self.pdiv[self.holder[a]]
            affected = 1 if d >= 0 and self.affected[d] else 0
        key = cat * 8 + self.phase * 2 + affected
        table = self.tables.get(key)
        if table is None:
            acts, cum, total = [], [], 0.0
            for act, rate in rates(cat, self.phase, affected, self.s):
                if rate > 0:
                    total += rate
                    acts.append(act)
                    cum.append(total)
            table = self.tables[key] = (total / YEAR, cum, acts)
        return table

    def _touch(self, a: int, t: int) -> None:
        """``a`` changed (or acted): draw its next happening."""
        self.ver[a] += 1
        table = self.table_of[a] = self._table(a)
        if table is not None:
            self._at(t + 1 + int(self.rng.expovariate(table[0])), K_TICK, a, self.ver[a])

    def _phase(self, t: int, phase: int, _: int) -> None:
        self.phase = phase
        for a in range(len(self.aid)):
            if self.holder[a] >= 0 or self.status[a] == LOST:
                self._touch(a, t)

    def _tick(self, t: int, a: int, version: int) -> None:
        if self.ver[a] != version:
            return
        table = self.table_of[a]
        assert table is not None
        _, cum, acts = table
        x = self.rng.random() * cum[-1]
        i = 0
        while cum[i] < x:
            i += 1
        _ACTIONS[acts[i]](self, a, t)
        if self.ver[a] == version:  # its state did not change: same rates, next tick
            self.seq += 1
            at = t + 1 + int(self.rng.expovariate(table[0]))
            heapq.heappush(self.world, (at, self.seq, K_TICK, a, version))

    def _with(self, a: int, most: int, *, idle: bool = False) -> list[int]:
        """``a`` and up to ``most − 1`` others of the same holder, neighbours in its list
        (``idle``: none under repair)."""
        want = 1 + int(self.rng.random() * most)
        if want == 1:
            return [a]
        items = self.held[self.holder[a]].items
        start = int(self.rng.random() * len(items))
        chosen = [a]
        for b in items[start : start + want]:
            if b != a and len(chosen) < want and not (idle and self.op[b] == UNDER_REPAIR):
                chosen.append(b)
        return chosen

    # -- custody bookkeeping --------------------------------------------------------------

    def _move(self, a: int, to: int, t: int, *, books: bool = True) -> None:
        """``a`` is now held by ``to`` (−1: nobody, lost); an army unit takes it on its
        books unless the move goes unreported."""
        old = self.holder[a]
        if old >= 0:
            self.held[old].discard(a)
        self.holder[a] = to
        if to >= 0:
            self.held[to].add(a)
            self.status[a] = IN_CUSTODY
            if books and self.pclass[to] == ARMY:
                self._book(a, to)
        else:
            self.status[a] = LOST
        self._account(a, t)

    def _book(self, a: int, unit: int) -> None:
        if self.home[a] >= 0:
            self.roster[self.home[a]].discard(a)
        self.home[a] = unit
        self.roster[unit].add(a)

    def _end(self, a: int, status: int, t: int, *, books: bool) -> None:
        """``a`` is destroyed or decommissioned; ``books``: its unit strikes it off."""
        if self.holder[a] >= 0:
            self.held[self.holder[a]].discard(a)
        self.holder[a] = -1
        self.status[a] = status
        if books and self.home[a] >= 0:
            self.roster[self.home[a]].discard(a)
            self.home[a] = -1
        self._account(a, t)
        self.ver[a] += 1

    def _account(self, a: int, t: int) -> None:
        """Keep the contract's set of assets unaccounted for (in truth) up to date."""
        c, st, h = self.contract[a], self.status[a], self.holder[a]
        if st == LOST:
            out = True
        elif st != IN_CUSTODY:
            out = False
        elif self.pclass[h] == RF:
            loan = self.c_loan[c]
            out = loan is None or not loan[0] <= t < loan[1]
        else:
            out = self.pclass[h] != ARMY
        if out:
            self.unaccounted[c].add(a)
        else:
            self.unaccounted[c].discard(a)

    # -- what happens to an asset ---------------------------------------------------------

    def _unit_reporter(self, unit: int) -> int:
        """An army unit's reports come from its brigade (70 %) or itself."""
        return self.brigade_of.get(unit, self.army) if self.rng.random() < 0.7 else unit

    def _place(self, unit: int) -> Event | None:
        d = self.pdiv[unit]
        if d < 0 or self.rng.random() > 0.25:
            return None
        return dict(self.places[d][int(self.rng.random() * 3)])

    def observe(self, a: int, t: int) -> None:
        """A routine sighting of an army asset: end-use check, open source or unit report."""
        rng, h = self.rng, self.holder[a]
        if self.pclass[h] != ARMY:
            self.sight(a, t)
            return
        u = rng.random()
        if u < 0.3:
            reporter, source, conf, scale = self.inspectors, "end_use_check", "confirmed", 1.0
        elif u < 0.6:
            conf = "possible" if u < 0.45 else "probable"
            reporter, source, scale = self.monitor, "osint", 3.0
        else:
            reporter, source, conf, scale = self._unit_reporter(h), "unit_report", "confirmed", 1.0
        observed = self._pick(self.battalions) if rng.random() < 0.01 else h  # mistaken: R07
        payload: Event = {}
        if rng.random() < 0.85:
            payload["observed_party"] = self.pid[observed]
        payload["condition"] = ("operational", "damaged", "under repair")[self.op[a]]
        payload["activity"] = ACTIVITIES[int(rng.random() * len(ACTIVITIES))]
        ev = self._envelope("observation", t, reporter, payload, source, self._with(a, 3), conf)
        if rng.random() < 0.25 and self.pdiv[h] >= 0:
            ev["location"] = dict(self.places[self.pdiv[h]][int(rng.random() * 3)])
        self._field(ev, t, (self.pid[observed],), scale)

    def sight(self, a: int, t: int) -> None:
        """An intelligence or open-source sighting of an asset out of the army's hands."""
        rng, h = self.rng, self.holder[a]
        assets = self._with(a, 3) if h >= 0 else [a]
        if h < 0 and self.groups and rng.random() < 0.5:
            h = self._pick(self.groups)  # a lost asset in someone's hands
        payload: Event = {}
        if h >= 0 and rng.random() < 0.9:
            payload["observed_party"] = self.pid[h]
        payload["condition"] = "operational" if self.op[a] == OPERATIONAL else "damaged"
        payload["activity"] = self._pick(HOSTILE_ACTIVITIES)
        cls = self.pclass[h] if h >= 0 else OTHER
        flagged = rng.random() < (0.4 if cls == HOSTILE else 0.3 if cls == MILITIA else 0.0)
        if flagged:
            payload["use_assessment"] = "potentially_unauthorised"
        if rng.random() < 0.3:
            payload["media_ref"] = f"IMG-{self.n + 1}"
        intel = rng.random() < 0.6
        reporter, source = (self.intel, "intel") if intel else (self.monitor, "osint")
        conf = self._pick(("possible", "probable", "probable", "confirmed"))
        ev = self._envelope("observation", t, reporter, payload, source, assets, conf)
        ev["admiralty_code"] = self._pick(("A2", "B2", "B3", "C2", "C3", "D4"))
        if rng.random() < 0.2:
            uri = f"https://evidence.example/{self.p}{self.n}.jpg"
            ev["source"]["evidence"] = [{"uri": uri, "sha256": f"{rng.getrandbits(256):064x}"}]
        learnt = self._field(ev, t, [self.pid[h]] if h >= 0 else [], 3.0)
        if flagged and rng.random() < 0.15:
            at = learnt + self._days(14, 200)
            decision = self._pick(("confirmed_violation", "dismissed", "referred", "referred"))
            payload = {
                "finding_key": f"R16/{ev['event_id']}/{ev['asset_ids'][0]}",
                "disposition": decision,
                "rationale": f"Analyst review of the sighting: {decision.replace('_', ' ')}",
            }
            d = self._envelope("finding_dispositioned", at, self.agency, payload, "analysis", ())
            self._push(d, at, at)

    def support(self, a: int, t: int) -> None:
        rng, h = self.rng, self.holder[a]
        if self.pclass[h] != ARMY:
            self.militia_support(a, t)
            return
        provider = self.prime if rng.random() < 0.65 else self.logistics
        if provider == self.prime and self.suspended[self.contract[a]] and rng.random() > 0.05:
            provider = self.logistics  # seller-side support stops, mostly (C04)
        payload = {
            "provider_party": self.pid[provider],
            "recipient_party": self.pid[h],
            "support_kind": SUPPORT_KINDS[int(rng.random() * len(SUPPORT_KINDS))],
            "reference": f"SR-{self.n + 1}",
        }
        assets = self._with(a, 4)
        ev = self._envelope("support_provided", t, provider, payload, "supply_record", assets)
        self._field(ev, t, (self.pid[h],))

    def _repair(
        self,
        a: int,
        t: int,
        work: str,
        facility: str,
        performer: int,
        days: float,
        auth: str | None = None,
    ) -> None:
        """A work order opens, reported by its performer; it completes ``days`` later
        (1.5 % never do)."""
        self.n += 1
        wo = f"{self.p}wo{self.n}"
        payload: Event = {
            "work_order_id": wo,
            "facility_id": facility,
            "performed_by_party": self.pid[performer],
            "work_type": work,
        }
        names = [facility]
        if auth is not None and self.rng.random() < 0.5:
            payload["authorization_ref"] = auth
            names.append(auth)
        ev = self._envelope("repair_started", t, performer, payload, "work_order", [a])
        self._field(ev, t, names)
        self.op[a] = UNDER_REPAIR
        self.wo[a] = self.n
        self.wo_info[a] = (t, wo, performer, facility, self.n, work)
        if self.rng.random() >= 0.015:
            self._at(t + int(days * DAY), K_REPAIR_DONE, a, self.n)
        self._touch(a, t)

    def _repair_done(self, t: int, a: int, number: int) -> None:
        if self.wo[a] != number or self.status[a] != IN_CUSTODY:
            return  # scrapped meanwhile
        started, wo, performer, facility, _, work = self.wo_info.pop(a)
        rng = self.rng
        payload: Event = {
            "work_order_id": wo,
            "facility_id": facility,
            "performed_by_party": self.pid[performer],
            "work_type": work,
        }
        if rng.random() < 0.6:
            payload["started_at"] = self.clock.iso(started)
        payload["parts"] = [self._pick(PARTS) for _ in range(int(rng.random() * 4))]
        ev = self._envelope("repair_completed", t, performer, payload, "work_order", [a])
        self._field(ev, t, [facility])
        self.wo[a] = 0
        self.op[a] = OPERATIONAL
        self._touch(a, t)

    def maintain(self, a: int, t: int) -> None:
        rng = self.rng
        days = 3 + 7 * rng.random() + rng.expovariate(1 / 7)
        if rng.random() < 0.04:
            days = 30 + 90 * rng.random()  # waits for parts: R12
        u = rng.random()
        if u < 0.95:
            auth = self.c_auth[self.contract[a]]["maint"]
            self._repair(a, t, "field_maintenance", self.fac_depot, self.maint, days, auth)
        elif u < 0.98:  # the battalion's own mechanics, not licensed: R09
            self._repair(a, t, "field_maintenance", self.fac_depot, self.holder[a], days)
        else:
            self._repair(a, t, "field_maintenance", self.fac_grey, self.grey, days)

    def battle_repair(self, a: int, t: int) -> None:
        c = self.contract[a]
        days = 20 + 230 * self.rng.random()
        if self.rng.random() < 0.7:
            auth = self.c_auth[c]["maint"]
            self._repair(a, t, "battle_damage_repair", self.fac_depot, self.maint, days, auth)
        elif not self.suspended[c] or self.rng.random() < 0.05:
            auth = self.c_auth[c]["prime"]
            self._repair(a, t, "battle_damage_repair", self.fac_seller, self.prime, days, auth)

    def overhaul(self, a: int, t: int) -> None:
        rng, c = self.rng, self.contract[a]
        days = 120 + 280 * rng.random()
        u = rng.random()
        if u < 0.6:
            if self.suspended[c] and rng.random() > 0.05:
                self.observe(a, t)  # the seller's depot takes no work while suspended
                return
            self._repair(
                a, t, "overhaul", self.fac_seller, self.prime, days, self.c_auth[c]["prime"]
            )
        elif u < 0.92:
            k = self.c_ovh[c] if self.c_ovh[c] >= 0 else int(rng.random() * len(self.ovh))
            auth = self.c_auth[c].get("ovh")
            self._repair(a, t, "overhaul", self.fac_ovh[k], self.ovh[k], days, auth)
        else:
            self._repair(a, t, "overhaul", self.fac_grey, self.grey, days)

    def _transfer(
        self,
        assets: list[int],
        t: int,
        to: int,
        reason: str,
        *,
        consent: str | None = None,
        reporter: int | None = None,
        scale: float = 1.0,
        reported: bool = True,
    ) -> None:
        frm = self.holder[assets[0]]
        if reported:
            payload: Event = {
                "from_party": self.pid[frm],
                "to_party": self.pid[to],
                "reason": reason,
            }
            if consent is not None:
                payload["transfer_consent_ref"] = consent
            payload["condition"] = "operational" if self.op[assets[0]] == OPERATIONAL else "damaged"
            if reporter is None:
                reporter = self._unit_reporter(to if self.pclass[to] == ARMY else frm)
            ev = self._envelope("custody_transferred", t, reporter, payload, "unit_report", assets)
            place = self._place(frm)
            if place:
                ev["location"] = place
            self._field(ev, t, [self.pid[frm], self.pid[to]], scale)
        for x in assets:
            self._move(x, to, t, books=reported)
            self._touch(x, t)

    def rotate(self, a: int, t: int) -> None:
        rng, h = self.rng, self.holder[a]
        to = self.depot if rng.random() < 0.1 else self._pick(self.battalions)
        if to == h:
            self.observe(a, t)
            return
        reason = self._pick(("reassignment", "rotation", "unit reorganisation"))
        reported = rng.random() >= 0.01  # never reported: the next inventories find out (R14)
        self._transfer(self._with(a, 4, idle=True), t, to, reason, reported=reported)

    def loan(self, a: int, t: int) -> None:
        c = self.contract[a]
        lo = self.c_loan[c]
        if lo is None or not lo[0] <= t < lo[1] or "loan" not in self.c_auth[c]:
            self.observe(a, t)
            return
        assets = self._with(a, 3, idle=True)
        consent = f"LOAN-{self.n + 1}"
        self._transfer(assets, t, self.rf, "loan to the regional force", consent=consent)

    def illicit(self, a: int, t: int) -> None:
        """Handed to a militia or smugglers without authority (R02), learnt by intelligence."""
        rng = self.rng
        to = self._pick(self.militias) if self.militias and rng.random() < 0.6 else self.smugglers
        self._transfer([a], t, to, "handed over without authority", reporter=self.intel, scale=3.0)
        self._violation(a, t)

    def _violation(self, a: int, t: int) -> None:
        if self.rng.random() < 0.3:
            self._contract_action(
                self.contract[a], t + self._days(10, 120), "VIOLATION_REPORTED", [a]
            )

    def _contract_action(self, c: int, t: int, action: str, basis: list[int]) -> None:
        payload = {
            "action": action,
            "target_contract_id": self.cid[c],
            "decided_by_party": self.pid[self.agency],
            "basis_asset_ids": [self.aid[x] for x in basis],
        }
        ev = self._envelope("contract_action", t, self.agency, payload, "decision", ())
        ev["contract_id"] = self.cid[c]
        rep = t + int(self.rng.random() * DAY)
        for x in payload["basis_asset_ids"]:
            rep = max(rep, self.ready[x] + 1)
        self._push(ev, rep, rep)

    def _captor(self) -> int:
        if not self.groups:
            return self.smugglers
        return self.groups[0] if self.rng.random() < 0.6 else self._pick(self.groups)

    def capture(self, a: int, t: int) -> None:
        rng, h = self.rng, self.holder[a]
        captor = self._captor()
        if captor == h:
            self.sight(a, t)
            return
        assets = self._with(a, 6, idle=True)
        payload: Event = {}
        if rng.random() < 0.8:
            payload["from_party"] = self.pid[h]
        payload["captor_party"] = self.pid[captor]
        payload["circumstances"] = self._pick(CAPTURES)
        army = self.pclass[h] == ARMY
        reporter = self._unit_reporter(h) if army and rng.random() < 0.7 else self.intel
        conf = self._pick(("confirmed", "probable"))
        ev = self._envelope("asset_captured", t, reporter, payload, "unit_report", assets, conf)
        latest = known = None
        if rng.random() < 0.3:
            ev["occurred_earliest"] = self.clock.iso(t - int(rng.random() * 3 * DAY))
            latest = t + int(rng.random() * 2 * DAY)
            ev["occurred_latest"] = self.clock.iso(latest)
        if rng.random() < 0.2:
            known = t + int(rng.random() * 5 * DAY)
            ev["discovered_at"] = self.clock.iso(known)
        names = [self.pid[h], self.pid[captor]]
        self._field(ev, t, names, 1.0 if army else 3.0, known=known, latest=latest)
        for x in assets:
            self._move(x, captor, t, books=False)
            self._touch(x, t)

    def lose(self, a: int, t: int) -> None:
        rng, h = self.rng, self.holder[a]
        assets = self._with(a, 2, idle=True)
        payload: Event = {"custodian_at_loss": self.pid[h], "loss_kind": self._pick(LOSS_KINDS)}
        place = self._place(h)
        if place:
            payload["last_known_location"] = place
        reporter = self._unit_reporter(h)
        ev = self._envelope("loss_reported", t, reporter, payload, "unit_report", assets)
        known = None
        if rng.random() < 0.5:
            known = t + int(rng.random() * 20 * DAY)
            ev["discovered_at"] = self.clock.iso(known)
        self._field(ev, t, [self.pid[h]], known=known)
        for x in assets:
            self._move(x, -1, t)
            self._touch(x, t)

    def disable(self, a: int, t: int) -> None:
        h = self.holder[a]
        if self.op[a] != OPERATIONAL:
            return
        cls = self.pclass[h]
        if cls == HOSTILE:
            by = self._pick(self.battalions)
        elif cls == MILITIA:
            by = self.rf  # as the Kurds immobilised a militia's tank
        else:
            by = self._captor() if self.groups else self.unknown
        army = cls == ARMY
        reporter, conf = (self._unit_reporter(h), "confirmed") if army else (self.intel, "probable")
        payload = {"disabled_by_party": self.pid[by], "damage": self._pick(DAMAGE)}
        ev = self._envelope("asset_disabled", t, reporter, payload, "unit_report", [a], conf)
        self._field(ev, t, [self.pid[by]], 1.0 if army else 3.0)
        self.op[a] = DISABLED
        self._touch(a, t)

    def destroy(self, a: int, t: int) -> None:
        rng, h = self.rng, self.holder[a]
        army = self.pclass[h] == ARMY
        by = self._captor() if army else self.rf
        payload = {
            "cause": self._pick(("ATGM strike", "IED", "artillery fire")),
            "attributed_to_party": self.pid[by],
            "assessment": "catastrophic kill",
        }
        reporter = self._unit_reporter(h) if army else self.intel
        ev = self._envelope("asset_destroyed", t, reporter, payload, "unit_report", [a])
        self._field(ev, t, [self.pid[by]], 1.0 if army else 3.0)
        self._end(a, DESTROYED, t, books=True)
        if army and rng.random() < 0.3:
            self._decommissioned(a, t + self._days(60, 730), "scrapped", amend=False)

    def airstrike(self, a: int, t: int) -> None:
        """A strike on a captured asset; one claim in five is wrong and the asset lives on
        (later reports contradict the destruction: R08)."""
        rng = self.rng
        assets = self._with(a, 2)
        true = rng.random() < 0.8
        if true:
            conf = rng.choices(("confirmed", "probable", "possible"), (55, 35, 10))[0]
        else:
            conf = rng.choices(("confirmed", "probable", "possible", "doubtful"), (5, 30, 45, 20))[
                0
            ]
        payload = {
            "cause": "coalition airstrike",
            "attributed_to_party": self.pid[self.air],
            "assessment": self._pick(("catastrophic kill", "burnt out", "damage unconfirmed")),
        }
        ev = self._envelope("asset_destroyed", t, self.air, payload, "strike_report", assets, conf)
        self._field(ev, t)
        if not true:
            return
        for x in assets:
            self._end(x, DESTROYED, t, books=conf == "confirmed")
            if rng.random() < 0.25:
                at = t + self._days(30, 400)
                payload = {"condition": "wreck", "activity": "burnt-out hull by the road"}
                wreck = self._envelope(
                    "observation", at, self.monitor, payload, "osint", [x], "probable"
                )
                self._field(wreck, at, (), 3.0, amend=False)

    def recover(self, a: int, t: int) -> None:
        rng = self.rng
        u = rng.random()
        if u < 0.45 and self.militias:
            by = self._pick(self.militias)
        elif u < 0.85:
            front = [b for b in self.battalions if self.affected[self.pdiv[b]]]
            by = self._pick(front or self.battalions)
        else:
            by = self.rf
        self._recovered(self._with(a, 3), t, by, self.holder[a])

    def _recovered(self, assets: list[int], t: int, by: int, frm: int) -> None:
        rng = self.rng
        payload: Event = {}
        if frm >= 0 and rng.random() < 0.7:
            payload["from_party"] = self.pid[frm]
        payload["recovered_by_party"] = self.pid[by]
        payload["circumstances"] = self._pick(RECOVERIES)
        army = self.pclass[by] == ARMY
        if army:
            reporter, source, conf = self._unit_reporter(by), "unit_report", "confirmed"
        else:
            reporter = self.intel if rng.random() < 0.7 else self.monitor
            source, conf = "intel", "probable"
        ev = self._envelope("asset_recovered", t, reporter, payload, source, assets, conf)
        names = [self.pid[by], *([self.pid[frm]] if frm >= 0 else [])]
        self._field(ev, t, names, 1.0 if army else 3.0)
        for x in assets:
            self._move(x, by, t)
            self._touch(x, t)
        if army and rng.random() < 0.6:
            self._at(t + self._days(14, 80), K_INVENTORY, by, 1)

    def hand_over(self, a: int, t: int) -> None:
        others = [g for g in self.groups if g != self.holder[a]]
        if not others:
            self.sight(a, t)
            return
        to = self._pick(others)
        reason = "handed over between groups"
        self._transfer(self._with(a, 2), t, to, reason, reporter=self.intel, scale=3.0)

    def give_back(self, a: int, t: int) -> None:
        rng, h = self.rng, self.holder[a]
        consent = f"MOD-ORDER-{self.n + 1}" if self.pclass[h] == RF or rng.random() < 0.7 else None
        to = self._pick(self.battalions)
        self._transfer(self._with(a, 2), t, to, "returned to the army", consent=consent)

    def militia_repair(self, a: int, t: int) -> None:
        """Maintenance a militia obtains illegally: from the army's own depot (R10), or
        at the unlicensed workshop, known only from a leaked completion (R09, R10)."""
        rng = self.rng
        if self.op[a] == UNDER_REPAIR:
            return
        if rng.random() < 0.6:
            auth = self.c_auth[self.contract[a]]["maint"]
            days = 5 + 20 * rng.random()
            self._repair(a, t, "field_maintenance", self.fac_depot, self.maint, days, auth)
        else:
            self.n += 1
            started = max(t - self._days(5, 40), self.born[a] + HOUR)
            payload = {
                "work_order_id": f"{self.p}wo{self.n}",
                "facility_id": self.fac_grey,
                "performed_by_party": self.pid[self.grey],
                "work_type": self._pick(WORK_TYPES),
                "started_at": self.clock.iso(started),
                "parts": [self._pick(PARTS)],
            }
            ev = self._envelope(
                "repair_completed", t, self.intel, payload, "intel", [a], "probable"
            )
            self._field(ev, t, [self.fac_grey], 3.0)
            self.op[a] = OPERATIONAL
        self._violation(a, t)

    def militia_support(self, a: int, t: int) -> None:
        h = self.holder[a]
        payload = {
            "provider_party": self.pid[self.logistics],
            "recipient_party": self.pid[h],
            "support_kind": "spare_parts",
            "reference": f"SR-{self.n + 1}",
        }
        assets = self._with(a, 3)
        ev = self._envelope("support_provided", t, self.intel, payload, "intel", assets, "probable")
        self._field(ev, t, [self.pid[self.logistics], self.pid[h]], 3.0)

    def sell(self, a: int, t: int) -> None:
        if not self.groups:
            self.sight(a, t)
            return
        to = self._pick(self.groups)
        self._transfer([a], t, to, "sold", reporter=self.intel, scale=3.0)

    def seize(self, a: int, t: int) -> None:
        self._recovered([a], t, self._pick(self.battalions), self.holder[a])

    def find(self, a: int, t: int) -> None:
        rng = self.rng
        u = rng.random()
        if u < 0.6 or not (self.militias or self.groups):
            by = self._pick(self.battalions)
        elif u < 0.85 and self.militias:
            by = self._pick(self.militias)
        else:
            by = self._captor()
        self._recovered([a], t, by, -1)

    def decommission(self, a: int, t: int) -> None:
        """Old army assets are demilitarised; an asset awaiting repair may be scrapped."""
        if self.op[a] != UNDER_REPAIR and t - self.born[a] < 6 * YEAR:
            self.observe(a, t)
            return
        method = "scrapped" if self.op[a] == UNDER_REPAIR else "demilitarised"
        self._decommissioned(a, t, method)
        self._end(a, DECOMMISSIONED, t, books=True)

    def write_off(self, a: int, t: int) -> None:
        self._decommissioned(a, t, "written off after investigation")
        self._end(a, DECOMMISSIONED, t, books=True)

    def _decommissioned(self, a: int, t: int, method: str, *, amend: bool = True) -> None:
        payload = {
            "method": method,
            "consent_ref": f"CONSENT-{self.n + 1}",
            "certificate_ref": f"DEMIL-{self.n + 1}",
        }
        ev = self._envelope("asset_decommissioned", t, self.depot, payload, "registry", [a])
        self._field(ev, t, (), amend=amend)

    # -- scheduled happenings ------------------------------------------------------------

    def _lot(self, t: int, i: int, _: int) -> None:
        """A lot is delivered (and registered by the prime contractor within hours)."""
        c, lot, unit = self.lots[i]
        if self.hold[c] and self.rng.random() < 0.9:
            self._at(t + 30 * DAY, K_LOT, i, 0)
            return
        self.lots_left[c] -= 1
        model, cid = self.c_model[c], self.cid[c]
        for a in lot:
            payload = {
                "serial": f"{self.p}{model}-{a + 1:06d}",
                "model": model,
                "contract_id": cid,
                "initial_custodian": self.pid[unit],
                "delivered_at": self.clock.iso(t),
            }
            ev = self._envelope("asset_registered", t, self.prime, payload, "delivery_record", [a])
            rep = max(t + int(self.rng.random() * 6 * HOUR), self.ready[cid] + 1)
            self.ready[self.aid[a]] = rep
            self.ready_max = max(self.ready_max, rep)
            self._push(ev, rep, rep)
            self.born[a] = t
            self._move(a, unit, t)
            self._touch(a, t)
        if self.rng.random() < 0.7:
            self._at(t + self._days(10, 75), K_INVENTORY, unit, 1)

    def _inventory(self, t: int, unit: int, once: int) -> None:
        """The unit's books checked against what is there (``once``: not the annual one)."""
        rng = self.rng
        if not once:
            late = self._days(20, 120) if rng.random() < 0.12 else 0
            self._at(t + self._days(330, 365) + late, K_INVENTORY, unit, 0)
        listed = list(self.roster[unit].items)
        on_books = self.roster[unit].pos
        listed += [a for a in self.held[unit].items if a not in on_books]
        if not listed:
            return
        results = []
        found = []
        here = self.pid[unit]
        for a in listed:
            if self.holder[a] == unit and rng.random() >= 0.003:
                results.append(
                    {"asset_id": self.aid[a], "result": "present", "found_at_party": here}
                )
                found.append(a)
            else:
                results.append({"asset_id": self.aid[a], "result": "absent"})
        inspector = self.inspectors if rng.random() < 0.35 else self.brigade_of.get(unit, self.army)
        self.n += 1
        payload = {
            "inventory_id": f"{self.p}inv{self.n}",
            "inspector_party": self.pid[inspector],
            "scope_parties": [here],
            "results": results,
        }
        ev = self._envelope("inventory_completed", t, inspector, payload, "inspection", listed)
        self._field(ev, t, [here], 2.0, amend=False)
        for a in found:
            if self.home[a] != unit:
                self._book(a, unit)

    def _review(self, t: int, c: int, _: int) -> None:
        """The seller's monthly review of a contract: suspend or resume support, impose
        or lift a delivery hold."""
        rng = self.rng
        self._at(t + 30 * DAY, K_REVIEW, c, 0)
        for a in list(self.held[self.rf].items):
            self._account(a, t)  # a loan may have ended
        out = self.unaccounted[c]
        n = len(out)
        if not n:
            self.unaccounted_since[c] = None
        elif self.unaccounted_since[c] is None:
            self.unaccounted_since[c] = t
        since = self.unaccounted_since[c]
        need = max(1, int(0.005 * self.c_size[c]))
        if not self.suspended[c]:
            if n >= need and since is not None and t - since >= 30 * DAY and rng.random() < 0.35:
                self.suspended[c] = True
                self._contract_action(c, t, "SUPPORT_SUSPENDED", out.items[:20])
        elif n < need and rng.random() < 0.3:
            self.suspended[c] = False
            self._contract_action(c, t, "SUPPORT_RESUMED", [])
        hold_at = max(2, int(0.01 * self.c_size[c]))
        if not self.hold[c]:
            if self.lots_left[c] and n >= hold_at and rng.random() < 0.35:
                self.hold[c] = True
                self._contract_action(c, t, "DELIVERY_HOLD_IMPOSED", out.items[:20])
        elif not self.lots_left[c] or (n <= hold_at // 2 and rng.random() < 0.3):
            self.hold[c] = False
            self._contract_action(c, t, "DELIVERY_HOLD_LIFTED", [])


_ACTIONS: dict[int, Callable[[_World, int, int], None]] = {
    A_OBSERVE: _World.observe,
    A_SUPPORT: _World.support,
    A_MAINTAIN: _World.maintain,
    A_ROTATE: _World.rotate,
    A_OVERHAUL: _World.overhaul,
    A_LOAN: _World.loan,
    A_ILLICIT: _World.illicit,
    A_CAPTURE: _World.capture,
    A_LOSE: _World.lose,
    A_DISABLE: _World.disable,
    A_DESTROY: _World.destroy,
    A_DECOMMISSION: _World.decommission,
    A_BATTLE_REPAIR: _World.battle_repair,
    A_SIGHT: _World.sight,
    A_AIRSTRIKE: _World.airstrike,
    A_RECOVER: _World.recover,
    A_HAND_OVER: _World.hand_over,
    A_GIVE_BACK: _World.give_back,
    A_MILITIA_REPAIR: _World.militia_repair,
    A_MILITIA_SUPPORT: _World.militia_support,
    A_SELL: _World.sell,
    A_SEIZE: _World.seize,
    A_FIND: _World.find,
    A_WRITE_OFF: _World.write_off,
}
