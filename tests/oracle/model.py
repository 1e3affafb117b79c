# ruff: noqa: SIM102  (each rule's conditions nest as its table row reads)
"""A second, deliberately simple reading of DOMAIN.md §3–§6: the findings a log implies
at a knowledge time, written from the text (and the readings of
docs/decisions/0006) without the production code's structure or speed.

Everything is recomputed from scratch for every question: the effective events
(§4), an asset's state by folding its events with ``occurred_at ≤ t`` (§3, §4), the
maximal intervals of the state rules by sampling the state at every instant where it
or an authorisation may change, and each rule of §5 as its table row says. Slow on
purpose — the comparison (``tests/oracle/test_fidelity.py``) runs it on small worlds.

What it yields per finding is what the comparison holds the projection to: key, rule,
kind, severity, asset, contract, valid interval and trigger (not evidence, parties or
summaries, whose wording DOMAIN.md leaves open).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

RANK = {"doubtful": 0, "possible": 1, "probable": 2, "confirmed": 3}
META = {"event_retracted", "event_corrected"}
NOT_OF_THE_ASSET = META | {"finding_dispositioned"}
REFERENCE = {
    "party_registered",
    "party_reclassified",
    "facility_registered",
    "contract_registered",
    "authorization_granted",
    "authorization_revoked",
}
TAKERS = {
    "custody_transferred": "to_party",
    "asset_captured": "captor_party",
    "asset_recovered": "recovered_by_party",
}
TERMINAL = {"DESTROYED", "DECOMMISSIONED"}
REPAIRS = {"repair_started", "repair_completed"}
WRECK_WORDS = {"wreck", "wrecked", "wreckage", "destroyed", "burnt_out", "burned_out", "hulk"}
WRECK_WORDS |= {"scrapped"}
R05_TYPES = {
    "custody_transferred",
    "asset_captured",
    "asset_recovered",
    "loss_reported",
    "asset_destroyed",
    "asset_disabled",
    "asset_decommissioned",
    "repair_started",
    "repair_completed",
    "inventory_completed",
    "support_provided",
}
R04_TYPES = {"loss_reported", "asset_captured", "asset_destroyed"}
R08_EXEMPT = {
    "custody_transferred",
    "asset_decommissioned",
    "inventory_completed",
    "contract_action",
}
SEVERITY = {
    "R02": "high",
    "R03": "high",
    "R09": "high",
    "R10": "high",
    "C01": "high",
    "C04": "high",
    "C05": "high",
    "C02": "critical",
    "R04": "medium",
    "R06": "medium",
    "R07": "medium",
    "R08": "medium",
    "R14": "medium",
    "R16": "medium",
    "C03": "medium",
    "R05": "low",
    "R12": "low",
    "R13": "low",
}
KINDS = {"R01": "state", "R03": "state", "R12": "state", "R13": "state"}
KINDS |= {"C01": "state", "C02": "state", "C03": "state"}
KINDS |= {r: "discrepancy" for r in ("R06", "R07", "R08", "R14", "R16")}
DEFAULT_TERMS: dict[str, Any] = {
    "unaccounted_max_days": 30,
    "inventory_period_days": 365,
    "reentry_inventory_days": 90,
    "loss_notice_hours": 24,
    "record_limit_days": 7,
    "enforcement_grace_days": 30,
    "repair_open_max_days": {
        "field_maintenance": 30,
        "battle_damage_repair": 180,
        "overhaul": 365,
        "other": 90,
    },
    "terminal_min_confidence": "confirmed",
    "conflict_min_confidence": "probable",
}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def key_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Ev:
    position: int
    record: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.record["event_id"])

    @property
    def type(self) -> str:
        return str(self.record["type"])

    @property
    def p(self) -> dict[str, Any]:
        return self.record.get("payload") or {}

    @property
    def occurred(self) -> datetime:
        return instant(self.record["occurred_at"])

    @property
    def reported(self) -> datetime:
        return instant(self.record.get("reported_at") or self.record["recorded_at"])

    def opt(self, name: str) -> datetime | None:
        v = self.record.get(name)
        return None if v is None else instant(v)

    @property
    def world(self) -> tuple[datetime, datetime, int]:
        return (self.occurred, self.reported, self.position)

    @property
    def confidence(self) -> int:
        return RANK[self.record["confidence"]]

    def assets(self) -> list[str]:
        if self.type in META:
            return []
        out = list(self.record.get("asset_ids") or [])
        if self.type == "inventory_completed":
            out += [r["asset_id"] for r in self.p.get("results", []) if r["asset_id"] not in out]
        return out


@dataclass(frozen=True)
class Found:
    key: str
    rule: str
    kind: str
    severity: str
    asset_id: str | None
    contract_id: str | None
    valid_from: datetime
    valid_to: datetime | None
    trigger: str | None


# -- §4 effective events -------------------------------------------------------------


def _set_path(record: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = record
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = copy.deepcopy(value)
    elif value is None:
        node.pop(last, None)
    else:
        node[last] = copy.deepcopy(value)


def effective(log: list[Ev], k: datetime | None) -> list[Ev]:
    """Events reported by k, less those retracted by a retraction reported by k, with
    the corrections reported by k (and not retracted) applied in knowledge order; in
    world order."""
    known = sorted(
        (e for e in log if k is None or e.reported <= k), key=lambda e: (e.reported, e.position)
    )
    retracted = {e.p["target_event_id"] for e in known if e.type == "event_retracted"}
    fixes: dict[str, list[Ev]] = {}
    for e in known:
        if e.type == "event_corrected" and e.id not in retracted:
            fixes.setdefault(e.p["target_event_id"], []).append(e)
    out = []
    for e in known:
        if e.type in META or e.id in retracted:
            continue
        record = copy.deepcopy(e.record)
        for c in fixes.get(e.id, []):
            for path, value in c.p["corrected_fields"].items():
                _set_path(record, path, value)
        out.append(Ev(e.position, record))
    return sorted(out, key=lambda e: e.world)


# -- §2 reference data -----------------------------------------------------------------


@dataclass
class Ref:
    parties: dict[str, dict[str, Any]] = field(default_factory=dict)
    kinds: dict[str, list[tuple[datetime | None, str]]] = field(default_factory=dict)
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    auths: dict[str, dict[str, Any]] = field(default_factory=dict)
    revoked: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def of(cls, events: Iterable[Ev]) -> Ref:
        ref = cls()
        for e in events:
            p = e.p
            if e.type == "party_registered" and p["party_id"] not in ref.parties:
                ref.parties[p["party_id"]] = p
                ref.kinds[p["party_id"]] = [(None, p["kind"])]
            elif e.type == "party_reclassified":
                for pid in p["party_ids"]:
                    ref.kinds.setdefault(pid, []).append((e.occurred, p["new_kind"]))
            elif e.type == "contract_registered":
                terms = {**DEFAULT_TERMS, **(p.get("terms") or {})}
                terms["repair_open_max_days"] = {
                    **DEFAULT_TERMS["repair_open_max_days"],
                    **((p.get("terms") or {}).get("repair_open_max_days") or {}),
                }
                ref.contracts.setdefault(p["contract_id"], {**p, "terms": terms})
            elif e.type == "authorization_granted":
                ref.auths.setdefault(p["authorization_id"], p)
            elif e.type == "authorization_revoked":
                at = instant(p["effective_at"])
                was = ref.revoked.get(p["authorization_id"])
                ref.revoked[p["authorization_id"]] = at if was is None else min(was, at)
        return ref

    def descends(self, p: str | None, q: str | None) -> bool:
        seen = set()
        while p is not None and p not in seen:
            if p == q:
                return True
            seen.add(p)
            p = (self.parties.get(p) or {}).get("parent")
        return False

    def related(self, p: str | None, q: str | None) -> bool:
        return self.descends(p, q) or self.descends(q, p)

    def partner(self, p: str | None, c: str | None) -> bool:
        contract = self.contracts.get(c or "")
        return contract is not None and self.descends(p, contract["title_holder"])

    def seller_side(self, p: str | None, c: str | None) -> bool:
        contract = self.contracts.get(c or "")
        seen = set()
        while contract is not None and p is not None and p not in seen:
            if self.descends(p, contract["seller"]):
                return True
            seen.add(p)
            p = (self.parties.get(p) or {}).get("acts_for")
        return False

    def hostile(self, p: str, start: datetime, end: datetime | None) -> bool:
        """Designated, or of kind ``armed_group`` at some time in ``[start, end)``."""
        if (self.parties.get(p) or {}).get("designations"):
            return True
        changes = self.kinds.get(p, [])
        kind_at_start = changes[0][1] if changes else None
        for since, kind in changes[1:]:
            if since is not None and since <= start:
                kind_at_start = kind
        during = [
            kind
            for since, kind in changes[1:]
            if since is not None and start < since and (end is None or since < end)
        ]
        return "armed_group" in [kind_at_start, *during]

    def _valid(self, auth_id: str, a: dict[str, Any], t: datetime) -> bool:
        start = instant(a["valid_from"])
        end = None if a.get("valid_to") is None else instant(a["valid_to"])
        revoked = self.revoked.get(auth_id)
        return start <= t and (end is None or t < end) and (revoked is None or t < revoked)

    def _covers(self, a: dict[str, Any], p: str | None) -> bool:
        return p is not None and (
            a["subject_id"] == p
            or (bool(a.get("includes_descendants")) and self.descends(p, a["subject_id"]))
        )

    def authorised(self, p: str | None, c: str | None, t: datetime) -> bool:
        return any(
            a["kind"] == "end_user"
            and a["contract_id"] == c
            and self._covers(a, p)
            and self._valid(i, a, t)
            for i, a in self.auths.items()
        )

    def repair_ok(
        self, kind: str, subject: str | None, c: str | None, t: datetime, work: str
    ) -> bool:
        for i, a in self.auths.items():
            if a["kind"] != kind or a["contract_id"] != c or not self._valid(i, a, t):
                continue
            if a.get("work_types") is not None and work not in a["work_types"]:
                continue
            if kind == "repair_facility" and a["subject_id"] == subject:
                return True
            if kind == "maintainer" and self._covers(a, subject):
                return True
        return False

    def auth_instants(self, c: str | None) -> set[datetime]:
        out: set[datetime] = set()
        for i, a in self.auths.items():
            if a["contract_id"] != c or a["kind"] != "end_user":
                continue
            out.add(instant(a["valid_from"]))
            if a.get("valid_to"):
                out.add(instant(a["valid_to"]))
            if i in self.revoked:
                out.add(self.revoked[i])
        return out

    def terms(self, c: str | None) -> dict[str, Any]:
        contract = self.contracts.get(c or "")
        return DEFAULT_TERMS if contract is None else contract["terms"]


# -- §3/§4 the state of an asset ------------------------------------------------------------


@dataclass
class State:
    contract: str
    status: str
    custodian: str | None
    since: datetime
    last_custodian: str | None = None
    missing: bool = False
    verified: datetime | None = None
    entered: datetime | None = None
    order: str | None = None
    confidence: int | None = None


def step(s: State | None, e: Ev, asset: str, ref: Ref) -> State | None:
    """The state after e (a new object, or ``s`` itself when e changes nothing)."""
    t, p = e.occurred, e.p
    if s is None:
        if e.type != "asset_registered":
            return None
        c = p["contract_id"]
        start = instant(p["delivered_at"])
        holder = p["initial_custodian"]
        return State(
            c, "IN_CUSTODY", holder, start, entered=start if ref.partner(holder, c) else None
        )
    s = copy.copy(s)
    if e.type in TAKERS or e.type == "loss_reported":
        new = p[TAKERS[e.type]] if e.type in TAKERS else None
        if s.status in TERMINAL:  # a terminal asset stays terminal: the holder moves
            if new == s.custodian:
                return s
            s.last_custodian = s.custodian or s.last_custodian
            s.custodian, s.since, s.missing = new, t, False
            return s
        status = "IN_CUSTODY" if new is not None else "LOST"
        if (status, new) == (s.status, s.custodian):
            if e.type in TAKERS:
                return s  # names the holder in place: changes nothing
            s.missing = False
            return s
        if (
            new is not None
            and ref.partner(new, s.contract)
            and not (s.status == "IN_CUSTODY" and ref.partner(s.custodian, s.contract))
        ):
            s.entered = t
        s.last_custodian = s.custodian or s.last_custodian
        s.status, s.custodian, s.since, s.missing = status, new, t, False
        return s
    if e.type in ("asset_destroyed", "asset_decommissioned"):
        status = "DESTROYED" if e.type == "asset_destroyed" else "DECOMMISSIONED"
        conf = e.confidence if status == "DESTROYED" else RANK["confirmed"]
        if status == "DESTROYED" and s.status == "DESTROYED" and s.confidence is not None:
            conf = max(conf, s.confidence)
        if (status, None) != (s.status, s.custodian):
            s.last_custodian = s.custodian or s.last_custodian
            s.since = t
        s.status, s.custodian, s.missing, s.confidence = status, None, False, conf
        return s
    if e.type == "repair_started":
        if p.get("work_order_id") is not None:
            s.order = p["work_order_id"]
        return s
    if e.type == "repair_completed":
        if s.order is None or p.get("work_order_id") in (None, s.order):
            s.order = None
        return s
    if e.type == "inventory_completed":
        lines = [r for r in p["results"] if r["asset_id"] == asset]
        if any(r["result"] == "present" for r in lines):
            s.verified, s.missing = t, False
        elif (
            lines
            and s.custodian is not None
            and any(ref.descends(s.custodian, q) for q in p["scope_parties"])
        ):
            s.missing = True
        return s
    return s


def accounted(s: State | None, ref: Ref, t: datetime) -> bool:
    if s is None or s.status == "LOST":
        return False
    if s.status in TERMINAL:
        need = RANK[ref.terms(s.contract)["terminal_min_confidence"]]
        return s.confidence is not None and s.confidence >= need
    return ref.authorised(s.custodian, s.contract, t) and not s.missing


# -- §5 the rules --------------------------------------------------------------------------


class Oracle:
    """Findings implied by the knowledge at ``k``."""

    def __init__(self, logged: Iterable[tuple[int, Mapping[str, Any]]], k: datetime | None):
        log = [Ev(pos, dict(copy.deepcopy(dict(rec)))) for pos, rec in logged]
        self.events = effective(log, k)
        self.ref = Ref.of(e for e in self.events if e.type in REFERENCE)
        self.registration: dict[str, Ev] = {}
        for e in self.events:
            if e.type == "asset_registered":
                self.registration.setdefault(e.record["asset_ids"][0], e)
        self.found: list[Found] = []

    def of_asset(self, a: str) -> list[Ev]:
        return [e for e in self.events if e.type not in NOT_OF_THE_ASSET and a in e.assets()]

    def fold(self, evs: list[Ev], a: str) -> State | None:
        s = None
        for e in evs:
            s = step(s, e, a, self.ref)
        return s

    def add(
        self,
        rule: str,
        key: str,
        asset: str | None,
        c: str | None,
        vf: datetime,
        vt: datetime | None = None,
        trigger: str | None = None,
        severity: str | None = None,
    ) -> None:
        kind = KINDS.get(rule, "event")
        self.found.append(
            Found(key, rule, kind, severity or SEVERITY[rule], asset, c, vf, vt, trigger)
        )

    def run(self) -> dict[str, Found]:
        contracts: dict[str, list[tuple[datetime, datetime | None]]] = {}
        for a, reg in sorted(self.registration.items()):
            c = reg.p["contract_id"]
            contracts.setdefault(c, [])
            contracts[c] += self.asset(a, c)
        for c in sorted(set(contracts) | {a for a in self.suspensions_of_all()}):
            self.contract(c, contracts.get(c, []))
        out: dict[str, Found] = {}
        for f in self.found:
            if f.key in out:  # one finding per key: from the first start to the last end
                was = out[f.key]
                f = Found(
                    **{
                        **was.__dict__,
                        "valid_from": min(was.valid_from, f.valid_from),
                        "valid_to": f.valid_to,
                    }
                )
            out[f.key] = f
        return out

    def suspensions_of_all(self) -> set[str]:
        return {e.p["target_contract_id"] for e in self.events if e.type == "contract_action"}

    # -- one asset ----------------------------------------------------------------

    def asset(self, a: str, c: str) -> list[tuple[datetime, datetime | None]]:
        ref, terms = self.ref, self.ref.terms(c)
        evs = self.of_asset(a)
        s = None
        for e in evs:
            before, s = s, step(s, e, a, ref)
            self.event_rules(a, c, e, before, [x for x in evs if x is not e])
        # State rules: sample at every instant where state or authorisation may change.
        start = self.registration[a].occurred
        cuts = sorted(
            {start}
            | {e.occurred for e in evs if e.occurred > start}
            | {t for t in ref.auth_instants(c) if t > start}
        )
        pieces: list[tuple[datetime, datetime | None, State]] = []
        for i, t in enumerate(cuts):
            st = self.fold([e for e in evs if e.occurred <= t], a)
            if st is None:
                continue
            pieces.append((t, cuts[i + 1] if i + 1 < len(cuts) else None, st))
        r03 = self.state_rules(a, c, pieces, terms)
        self.r12(a, c, evs, terms)
        return r03

    def event_rules(self, a: str, c: str, e: Ev, before: State | None, others: list[Ev]) -> None:
        ref, terms, p, t = self.ref, self.ref.terms(c), e.p, e.occurred
        holder = None
        if before is not None and before.status != "LOST":
            holder = before.custodian
        key = f"/{e.id}/{a}"
        if e.type == "custody_transferred" and not p.get("transfer_consent_ref"):
            if (
                holder is not None
                and ref.authorised(holder, c, t)
                and not ref.authorised(p["to_party"], c, t)
            ):
                self.add("R02", "R02" + key, a, c, t, trigger=e.id)
        late_loss = (
            e.type in R04_TYPES
            and before is not None
            and before.status == "IN_CUSTODY"
            and ref.authorised(before.custodian, c, t)
            and e.reported - (e.opt("discovered_at") or t)
            > timedelta(hours=terms["loss_notice_hours"])
        )
        if late_loss:
            self.add("R04", "R04" + key, a, c, t, trigger=e.id)
        if e.type in R05_TYPES and not late_loss:
            if e.reported - (e.opt("occurred_latest") or t) > timedelta(
                days=terms["record_limit_days"]
            ):
                self.add("R05", "R05" + key, a, c, t, trigger=e.id)
        if e.type in TAKERS and p.get("from_party") is not None:
            if not ref.related(p["from_party"], holder):
                self.add("R06", "R06" + key, a, c, t, trigger=e.id)
        if e.type == "observation" and p.get("observed_party") is not None:
            if e.confidence >= RANK[terms["conflict_min_confidence"]] and not (
                before is not None and before.status in TERMINAL
            ):
                if not ref.related(p["observed_party"], holder):
                    self.add("R07", "R07" + key, a, c, t, trigger=e.id)
        if before is not None and before.status in TERMINAL and e.type not in R08_EXEMPT:
            word = str(p.get("condition", "")).strip().lower().replace("-", "_").replace(" ", "_")
            if not (e.type == "observation" and word in WRECK_WORDS):
                self.add("R08", "R08" + key, a, c, t, trigger=e.id)
        if e.type in REPAIRS:
            work = p["work_type"]
            if not ref.repair_ok(
                "repair_facility", p["facility_id"], c, t, work
            ) or not ref.repair_ok("maintainer", p["performed_by_party"], c, t, work):
                self.add("R09", "R09" + key, a, c, t, trigger=e.id)
            when = t
            if e.type == "repair_completed" and p.get("started_at"):
                when = instant(p["started_at"])
            # "without the repair itself": the events before it in world order (a
            # report of the same instant ordered after it does not count; 0006).
            without = self.fold([x for x in others if x.occurred <= when and x.world < e.world], a)
            if not accounted(without, ref, when):
                self.add("R10", "R10" + key, a, c, t, trigger=e.id)
        if e.type == "observation" and p.get("use_assessment") == "potentially_unauthorised":
            k16 = "R16" + key
            decided = [
                d.occurred
                for d in self.events
                if d.type == "finding_dispositioned" and d.p["finding_key"] == k16
            ]
            self.add("R16", k16, a, c, t, max(decided[0], t) if decided else None, trigger=e.id)
        if e.type == "inventory_completed":
            pass  # R14 is judged per inventory over every asset (below, in ``r14``)
        # C04, C05 (per asset of the trigger)
        if (
            e.type == "support_provided"
            and ref.seller_side(p["provider_party"], c)
            and self.suspended(c, t)
        ):
            self.add("C04", "C04" + key, a, c, t, trigger=e.id)
        if (
            e.type in REPAIRS
            and ref.seller_side(p["performed_by_party"], c)
            and self.suspended(c, t)
        ):
            self.add("C04", "C04" + key, a, c, t, trigger=e.id)
        if e.type == "asset_registered" and e is self.registration.get(a):
            # A hold forbids deliveries: judged at the delivery, ``delivered_at`` (0006).
            delivered = instant(p["delivered_at"]) if p.get("delivered_at") else t
            if self.in_effect(c, "DELIVERY_HOLD_IMPOSED", "DELIVERY_HOLD_LIFTED", delivered):
                self.add("C05", "C05" + key, a, c, t, trigger=e.id)

    def state_rules(
        self,
        a: str,
        c: str,
        pieces: list[tuple[datetime, datetime | None, State]],
        terms: dict[str, Any],
    ) -> list[tuple[datetime, datetime | None]]:
        ref = self.ref

        def runs(label: Any) -> list[tuple[Any, datetime, datetime | None]]:
            out: list[tuple[Any, datetime, datetime | None]] = []
            for start, end, st in pieces:
                v = label(start, st)
                if v is not None and out and out[-1][0] == v and out[-1][2] == start:
                    out[-1] = (v, out[-1][1], end)
                elif v is not None:
                    out.append((v, start, end))
            return out

        def r01(t: datetime, st: State) -> str | None:
            if (
                st.status == "IN_CUSTODY"
                and st.custodian
                and not ref.authorised(st.custodian, c, t)
            ):
                return st.custodian
            return None

        for holder, start, end in runs(r01):
            severity = "critical" if ref.hostile(holder, start, end) else "high"
            self.add(
                "R01", f"R01/{a}/{holder}/{key_time(start)}", a, c, start, end, severity=severity
            )

        r03 = []
        limit = timedelta(days=terms["unaccounted_max_days"])
        for _, start, end in runs(lambda t, st: True if not accounted(st, ref, t) else None):
            if end is None or end > start + limit:
                self.add("R03", f"R03/{a}/{key_time(start)}", a, c, start + limit, end)
                r03.append((start + limit, end))

        def due(t: datetime, st: State) -> datetime | None:
            if st.status != "IN_CUSTODY" or st.missing or not ref.authorised(st.custodian, c, t):
                return None
            if not ref.partner(st.custodian, c):
                return None
            period = timedelta(days=terms["inventory_period_days"])
            reentry = timedelta(days=terms["reentry_inventory_days"])
            dates = []
            if st.verified is not None:
                dates.append(st.verified + period)
            if st.entered is not None:
                dates.append(st.entered + reentry)
            return max(dates) if dates else None

        for d, start, end in runs(due):
            if end is None or end > d:
                self.add("R13", f"R13/{a}/{key_time(d)}", a, c, max(d, start), end)
        return r03

    def r12(self, a: str, c: str, evs: list[Ev], terms: dict[str, Any]) -> None:
        """Work orders: opened by a start naming one on a non-terminal asset; ended by
        the completion that closes it, by another work order's start, or when the
        asset becomes terminal (DOMAIN.md §5 "Readings")."""
        s: State | None = None
        opened: tuple[str, Ev] | None = None
        orders: list[tuple[str, Ev, datetime | None]] = []
        for e in evs:
            s = step(s, e, a, self.ref)
            if s is None:
                continue
            if opened is not None and (s.status in TERMINAL or s.order != opened[0]):
                orders.append((opened[0], opened[1], e.occurred))
                opened = None
            wo = e.p.get("work_order_id")
            if e.type == "repair_started" and wo is not None and opened is None:
                if s.status not in TERMINAL and s.order == wo:
                    opened = (wo, e)
        if opened is not None:
            orders.append((opened[0], opened[1], None))
        limits = terms["repair_open_max_days"]
        for wo, start, end in orders:
            days = limits.get(start.p["work_type"], limits["other"])
            due = start.occurred + timedelta(days=days)
            if end is None or end > due:
                self.add("R12", f"R12/{a}/{wo}", a, c, due, end)

    def r14(self) -> None:
        for inv in (e for e in self.events if e.type == "inventory_completed"):
            scope = inv.p["scope_parties"]
            lines: dict[str, str] = {}
            for r in inv.p["results"]:
                if lines.get(r["asset_id"]) != "present":
                    lines[r["asset_id"]] = r["result"]
            for a, reg in self.registration.items():
                before = self.fold([e for e in self.of_asset(a) if e.world < inv.world], a)
                holder = None if before is None or before.status == "LOST" else before.custodian
                expected = holder is not None and any(self.ref.descends(holder, q) for q in scope)
                present = lines.get(a) == "present"
                if expected != present:
                    c = reg.p["contract_id"]
                    self.add("R14", f"R14/{inv.id}/{a}", a, c, inv.occurred, trigger=inv.id)

    # -- contracts --------------------------------------------------------------------

    def actions(self, c: str) -> list[Ev]:
        return [
            e for e in self.events if e.type == "contract_action" and e.p["target_contract_id"] == c
        ]

    def in_effect_intervals(
        self, c: str, on: str, off: str
    ) -> list[tuple[datetime, datetime | None]]:
        out: list[tuple[datetime, datetime | None]] = []
        start = None
        for e in self.actions(c):
            if e.p["action"] == on and start is None:
                start = e.occurred
            elif e.p["action"] == off and start is not None:
                if e.occurred > start:
                    out.append((start, e.occurred))
                start = None
        if start is not None:
            out.append((start, None))
        return out

    def in_effect(self, c: str, on: str, off: str, t: datetime) -> bool:
        return any(s <= t and (e is None or t < e) for s, e in self.in_effect_intervals(c, on, off))

    def suspended(self, c: str, t: datetime) -> bool:
        return self.in_effect(c, "SUPPORT_SUSPENDED", "SUPPORT_RESUMED", t)

    def contract(self, c: str, r03: list[tuple[datetime, datetime | None]]) -> None:
        grace = timedelta(days=self.ref.terms(c)["enforcement_grace_days"])
        c01 = union(r03)
        for start, end in c01:
            self.add("C01", f"C01/{c}/{key_time(start)}", None, c, start, end)
        suspensions = self.in_effect_intervals(c, "SUPPORT_SUSPENDED", "SUPPORT_RESUMED")
        for start, end in minus(c01, suspensions):
            if end is None or end > start + grace:
                self.add("C02", f"C02/{c}/{key_time(start)}", None, c, start + grace, end)
        for start, end in minus(union(suspensions), c01):
            if end is None or end > start + grace:
                self.add("C03", f"C03/{c}/{key_time(start)}", None, c, start + grace, end)


Span = tuple[datetime, datetime | None]


def union(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in sorted(spans, key=lambda x: x[0]):
        if out and (out[-1][1] is None or out[-1][1] >= s):
            last_end = out[-1][1]
            out[-1] = (out[-1][0], None if last_end is None or e is None else max(last_end, e))
        else:
            out.append((s, e))
    return out


def minus(spans: list[Span], holes: list[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in spans:
        pieces: list[Span] = [(s, e)]
        for hs, he in holes:
            nxt: list[Span] = []
            for ps, pe in pieces:
                if (pe is not None and pe <= hs) or (he is not None and he <= ps):
                    nxt.append((ps, pe))
                    continue
                if ps < hs:
                    nxt.append((ps, hs))
                if he is not None and (pe is None or he < pe):
                    nxt.append((he, pe))
            pieces = nxt
        out += pieces
    return out


def findings(
    logged: Iterable[tuple[int, Mapping[str, Any]]], k: datetime | None
) -> dict[str, Found]:
    """Every finding the knowledge at ``k`` implies (``None``: all knowledge)."""
    o = Oracle(logged, k)
    o.r14()
    return o.run()
