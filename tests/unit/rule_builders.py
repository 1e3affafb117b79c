"""Builders for the rule tests, on top of :mod:`tests.unit.builders`: a disposition, a
history over the standard world, and a synthetic log of many assets for timing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.instants import to_key
from domain.rules.evaluation import findings_at
from domain.rules.findings import Finding
from domain.rules.lives import Lives
from domain.rules.tracking import life
from domain.state import History
from tests.unit.builders import (
    T,
    capture,
    contract_action,
    correct,
    destroy,
    event,
    grant,
    inventory,
    lose,
    observe,
    party,
    recover,
    register,
    repair_complete,
    repair_start,
    retract,
    support,
    transfer,
    world,
)

Logged = tuple[int, dict[str, Any]]


def K(t: str) -> str:
    """The instant ``t`` as it is written in finding keys."""
    return to_key(T(t))


def eid(logged: Logged) -> str:
    return str(logged[1]["event_id"])


def history(*logged: Logged) -> History:
    return History([*world(), *logged])


def found(
    *logged: Logged, k: str | datetime | None = None, rule: str | None = None
) -> dict[str, Finding]:
    """The findings the world plus ``logged`` implies at ``k`` (all knowledge by
    default), by key; only those of ``rule`` when given."""
    at = T(k) if isinstance(k, str) else k
    return {
        f.finding_key: f
        for f in findings_at(history(*logged), at)
        if rule is None or f.rule == rule
    }


def lives_of(*logged: Logged) -> Lives:
    return life(history(*logged))


def then(lives: Lives, key: str, at: str) -> Finding | None:
    """The finding as known at ``at``."""
    return lives[key].at(T(at)) if key in lives else None


def disposition(finding_key: str, value: str = "confirmed_violation", **kw: Any) -> Logged:
    payload = {"finding_key": finding_key, "disposition": value, "rationale": "reviewed"}
    return event("finding_dispositioned", payload, **kw)


def suspend(basis: list[str] | tuple[str, ...] = (), **kw: Any) -> Logged:
    return contract_action("SUPPORT_SUSPENDED", list(basis), **kw)


def resume(**kw: Any) -> Logged:
    return contract_action("SUPPORT_RESUMED", **kw)


def hold(**kw: Any) -> Logged:
    return contract_action("DELIVERY_HOLD_IMPOSED", **kw)


def lift(**kw: Any) -> Logged:
    return contract_action("DELIVERY_HOLD_LIFTED", **kw)


def synthetic(assets: int = 500, events: int = 10_000, seed: int = 7) -> list[Logged]:
    """A log of about ``events`` events over ``assets`` assets under contract C1:
    deliveries to twenty brigades, transfers, captures, recoveries, losses,
    destructions, repairs, yearly brigade inventories, sightings, support, a
    suspension, some late reports, retractions and corrections. Deterministic."""
    rng = random.Random(seed)
    brigades = [f"bde-{i}" for i in range(20)]
    logged: list[Logged] = [*world()]
    logged += [party(b, "state_unit", parent="9th-div") for b in brigades]
    logged.append(grant("AUTH-KURDS", "kurds", valid_from="2012-01-01", valid_to="2016-01-01"))
    start = T("2011-01-01")
    holder: dict[str, str | None] = {}
    ids = [f"T{i:04d}" for i in range(assets)]
    for i, a in enumerate(ids):
        b = brigades[i % len(brigades)]
        at = start + timedelta(days=i % 200)
        logged.append(register(a, b, at=at.isoformat(), reported=at.isoformat()))
        holder[a] = b
    seen: list[Logged] = []
    t = start + timedelta(days=220)
    while len(logged) + len(seen) < events:
        t += timedelta(hours=rng.randint(1, 12))
        roll = rng.random()
        lag = timedelta(hours=rng.choice([0, 0, 0, 2, 30, 24 * 10, 24 * 60]))
        kw: dict[str, Any] = {"at": t.isoformat(), "reported": (t + lag).isoformat()}
        if roll < 0.04:
            b = rng.choice(brigades)
            mine = [a for a in ids if holder[a] == b]
            if mine:
                results = {a: "present" if rng.random() < 0.95 else "absent" for a in mine}
                seen.append(inventory(results, b, **kw))
            continue
        _next_event_of(rng.choice(ids), rng, roll, Pace(t, lag, kw), brigades, holder, seen)
    return [*logged, *seen]


@dataclass(frozen=True)
class Pace:
    """When a synthetic event happens (``t``), how late it is reported (``lag``), and
    the builders' keywords for both (``kw``)."""

    t: datetime
    lag: timedelta
    kw: dict[str, Any]


def _next_event_of(
    a: str,
    rng: random.Random,
    roll: float,
    pace: Pace,
    brigades: list[str],
    holder: dict[str, str | None],
    seen: list[Logged],
) -> None:
    """Append the synthetic event of asset ``a`` that ``roll`` picks (maybe none)."""
    kw = pace.kw
    if roll < 0.39:
        _custody_event(a, rng, roll, kw, brigades, holder, seen)
    elif roll < 0.50:
        wo = f"WO-{len(seen)}"
        work = rng.choice(["field_maintenance", "overhaul", "battle_damage_repair"])
        who = rng.choice(["gd", "army"])
        seen.append(repair_start(a, wo, performer=who, work_type=work, **kw))
        if rng.random() < 0.8:
            done = pace.t + timedelta(days=rng.randint(5, 400))
            seen.append(
                repair_complete(
                    a, wo, performer=who, work_type=work, at=done.isoformat(),
                    reported=(done + pace.lag).isoformat(),
                )
            )  # fmt: skip
    elif roll < 0.75:
        use = "potentially_unauthorised" if rng.random() < 0.1 else None
        h = holder[a]
        seen.append(observe(a, rng.choice(["pmf", "isis", h or "army"]), use_assessment=use, **kw))
    elif roll < 0.95:
        seen.append(support(a, rng.choice(["gd", "army"]), **kw))
    elif roll < 0.97 and seen:
        target = rng.choice(seen[-200:])
        when = datetime.fromisoformat(target[1]["reported_at"].replace("Z", "+00:00"))
        fix = {"reported": (when + timedelta(days=rng.randint(1, 90))).isoformat()}
        if target[1]["type"] == "custody_transferred" and rng.random() < 0.5:
            seen.append(correct(target, {"payload.to_party": "army"}, **fix))
        else:
            seen.append(retract(target, **fix))
    elif roll < 0.975:
        action = rng.choice(["SUPPORT_SUSPENDED", "SUPPORT_RESUMED"])
        seen.append(contract_action(action, [], **kw))


def _custody_event(
    a: str,
    rng: random.Random,
    roll: float,
    kw: dict[str, Any],
    brigades: list[str],
    holder: dict[str, str | None],
    seen: list[Logged],
) -> None:
    """A transfer, capture, recovery, loss or destruction (``roll`` < 0.39)."""
    h = holder[a]
    if roll < 0.25 and h is not None:
        to = rng.choice([*brigades, "kurds"])
        if to != h:
            seen.append(transfer(a, h, to, **kw))
            holder[a] = to
    elif roll < 0.30 and h is not None:
        seen.append(capture(a, "isis", from_party=h, **kw))
        holder[a] = "isis"
    elif roll < 0.35 and h in {"isis", None}:
        who = rng.choice(["army", "pmf", rng.choice(brigades)])
        seen.append(recover(a, who, from_party=h, **kw))
        holder[a] = who
    elif roll < 0.38 and h is not None:
        seen.append(lose(a, h, **kw))
        holder[a] = None
    else:
        seen.append(destroy(a, **kw))
