"""Random small worlds for the fidelity check: parties, facilities, one or two
contracts with their authorisations (renewed late, revoked), assets; then a few
dozen field reports in world time — transfers (some unauthorised, some naming the
wrong giver), captures, recoveries, losses, disablements, destructions (of every
confidence), decommissions, repairs (some leaked without a work order), inventories,
observations (some of wrecks, some flagging potentially unauthorised use), support,
contract actions, reclassifications and dispositions — each learnt after a delay
(hours, days or months, so reports arrive out of world order); then retractions and
corrections of some of them (some naming the asset in their envelope), and
retractions of some corrections.

``world(seed)`` returns the wire events (``reported_at`` set: an admin or importer
appends them) in append order, which is knowledge order. Every event is valid on the
write side; the generator is deterministic in its seed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from random import Random
from typing import Any

BASE = datetime(2012, 1, 1, tzinfo=UTC)
ARMY_UNITS = ["b-army", "b-1", "b-2", "b-depot"]
HOSTILE = ["ag", "ag2", "mil"]
CONFIDENCES = ["confirmed", "probable", "possible", "doubtful"]
WORK = ["field_maintenance", "battle_damage_repair", "overhaul", "inspection"]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class _World:
    def __init__(self, seed: int, reports: int) -> None:
        self.rng = Random(seed)
        self.reports = reports
        self.events: list[dict[str, Any]] = []
        self.n = 0
        self.holder: dict[str, str | None] = {}
        self.contract_of: dict[str, str] = {}
        self.registered_at: dict[str, datetime] = {}
        self.orders: dict[str, str] = {}
        self.flagged: list[dict[str, Any]] = []

    # -- building events --------------------------------------------------------

    def delay(self) -> timedelta:
        r = self.rng.random()
        if r < 0.65:
            return timedelta(hours=self.rng.randint(0, 20), minutes=self.rng.randint(0, 59))
        if r < 0.9:
            return timedelta(days=self.rng.randint(1, 20), hours=self.rng.randint(0, 23))
        return timedelta(days=self.rng.randint(25, 300))

    def ev(
        self,
        type_: str,
        payload: dict[str, Any],
        at: datetime,
        *,
        assets: list[str] | None = None,
        reporter: str = "s-gov",
        confidence: str = "confirmed",
        reported: datetime | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        self.n += 1
        if reported is None:
            reported = at + self.delay()
            for a in assets or ():
                reported = max(reported, self.registered_at.get(a, BASE) + timedelta(hours=1))
        body: dict[str, Any] = {
            "event_id": f"e{self.n}",
            "type": type_,
            "occurred_at": iso(at),
            "reported_at": iso(reported),
            "reporter": reporter,
            "source": {"kind": "test", "ref": f"r{self.n}"},
            "confidence": confidence,
            "payload": payload,
            **extra,
        }
        if assets:
            body["asset_ids"] = list(assets)
        self.events.append(body)
        return body

    # -- reference data ------------------------------------------------------------

    def reference(self) -> None:
        at = BASE - timedelta(days=30)
        r = self.rng

        def party(pid: str, kind: str, **more: Any) -> None:
            reporter = pid if pid == "s-gov" else "s-gov"
            self.ev(
                "party_registered",
                {"party_id": pid, "name": pid.upper(), "kind": kind, **more},
                at,
                reporter=reporter,
                reported=at,
            )

        party("s-gov", "government")
        party("s-agency", "government", parent="s-gov")
        party("s-con", "contractor", acts_for="s-gov")
        party("b-gov", "government")
        party("b-army", "state_unit", parent="b-gov")
        party("b-1", "state_unit", parent="b-army")
        party("b-2", "state_unit", parent="b-army")
        party("b-depot", "state_unit", parent="b-army")
        party("rf", "regional_force")
        party("mil", "paramilitary")
        party("ag", "armed_group", designations=["sanctioned"] if r.random() < 0.5 else [])
        party("ag2", "paramilitary")
        party("insp", "inspector", parent="s-agency")
        for fid, operator in (("f-depot", "b-depot"), ("f-seller", "s-con"), ("f-shop", "mil")):
            self.ev(
                "facility_registered",
                {"facility_id": fid, "name": fid, "operator_party": operator, "country": "XX"},
                at,
                reported=at,
            )
        self.contracts = ["c1"] if r.random() < 0.5 else ["c1", "c2"]
        for c in self.contracts:
            terms = {
                "unaccounted_max_days": r.choice([0, 10, 30]),
                "inventory_period_days": r.choice([60, 120, 365]),
                "reentry_inventory_days": r.choice([20, 45, 90]),
                "loss_notice_hours": r.choice([12, 24, 72]),
                "record_limit_days": r.choice([2, 7]),
                "enforcement_grace_days": r.choice([0, 15, 30]),
                "repair_open_max_days": {"field_maintenance": r.choice([10, 30]), "other": 40},
                "terminal_min_confidence": r.choice(["confirmed", "probable"]),
                "conflict_min_confidence": r.choice(["probable", "possible"]),
            }
            self.ev(
                "contract_registered",
                {
                    "contract_id": c,
                    "title_holder": "b-gov",
                    "seller": "s-gov",
                    "item": "tank",
                    "quantity": 10,
                    "terms": terms,
                },
                at,
                reported=at,
            )
            self.grants(c, at)

    def grants(self, c: str, at: datetime) -> None:
        r = self.rng

        def grant(
            aid: str, kind: str, subject: str, start: datetime, end: datetime | None, **more: Any
        ) -> None:
            payload = {
                "authorization_id": f"{c}-{aid}",
                "contract_id": c,
                "kind": kind,
                "subject_id": subject,
                "valid_from": iso(start),
                **more,
            }
            if end is not None:
                payload["valid_to"] = iso(end)
            self.ev("authorization_granted", payload, at, reported=at)

        end = BASE + timedelta(days=r.randint(300, 700)) if r.random() < 0.6 else None
        grant("army", "end_user", "b-army", at, end, includes_descendants=True)
        if end is not None:
            gap = timedelta(days=r.choice([0, 0, 12, 40]))
            grant("army-2", "end_user", "b-army", end + gap, None, includes_descendants=True)
        loan = BASE + timedelta(days=r.randint(100, 400))
        grant("rf", "end_user", "rf", loan, loan + timedelta(days=r.randint(60, 300)))
        grant("con", "maintainer", "s-con", at, None)
        grant(
            "depot-m",
            "maintainer",
            "b-army",
            at,
            None,
            includes_descendants=r.random() < 0.7,
            work_types=["field_maintenance", "battle_damage_repair"],
        )
        grant(
            "depot-f",
            "repair_facility",
            "f-depot",
            at,
            None,
            work_types=["field_maintenance", "battle_damage_repair"],
        )
        grant("seller-f", "repair_facility", "f-seller", at, None)
        if r.random() < 0.4:
            when = BASE + timedelta(days=r.randint(200, 700))
            self.ev(
                "authorization_revoked",
                {"authorization_id": f"{c}-con", "effective_at": iso(when), "reason": "ended"},
                when,
                reported=when + timedelta(days=r.randint(0, 60)),
            )

    def assets(self) -> None:
        r = self.rng
        n = 0
        for c in self.contracts:
            for _ in range(r.randint(2, 4)):
                n += 1
                a = f"A{n}"
                at = BASE + timedelta(days=r.randint(0, 60), hours=r.randint(0, 23))
                holder = r.choice(["b-army", "b-1", "b-2"])
                if r.random() < 0.15:
                    self.action(c, "DELIVERY_HOLD_IMPOSED", at - timedelta(days=5), [])
                    if r.random() < 0.5:
                        self.action(c, "DELIVERY_HOLD_LIFTED", at + timedelta(days=5), [])
                self.ev(
                    "asset_registered",
                    {
                        "serial": f"SN-{a}",
                        "model": "MBT",
                        "contract_id": c,
                        "initial_custodian": holder,
                        "delivered_at": iso(at),
                    },
                    at,
                    assets=[a],
                    reported=at + timedelta(hours=r.randint(0, 30)),
                )
                self.registered_at[a] = at + timedelta(hours=30)
                self.holder[a] = holder
                self.contract_of[a] = c

    def action(self, c: str, action: str, at: datetime, basis: list[str]) -> None:
        extra: dict[str, Any] = {"contract_id": c} if self.rng.random() < 0.5 else {}
        self.ev(
            "contract_action",
            {
                "action": action,
                "target_contract_id": c,
                "decided_by_party": "s-agency",
                "basis_asset_ids": basis,
            },
            at,
            assets=basis if basis and self.rng.random() < 0.5 else None,
            reporter=self.rng.choice(["s-gov", "s-agency"]),
            **extra,
        )

    # -- field reports --------------------------------------------------------------

    def giver(self, a: str) -> str | None:
        r = self.rng.random()
        if r < 0.75:
            return self.holder[a]
        if r < 0.85:
            return None
        return self.rng.choice([*ARMY_UNITS, *HOSTILE, "rf"])

    def report(self, at: datetime) -> None:
        r = self.rng
        a = r.choice(sorted(self.holder))
        c = self.contract_of[a]
        holder = self.holder[a]
        kind = r.choices(
            [
                "transfer",
                "capture",
                "recover",
                "lose",
                "disable",
                "destroy",
                "decommission",
                "start",
                "complete",
                "inventory",
                "observe",
                "support",
                "action",
                "reclassify",
            ],
            weights=[14, 6, 6, 3, 4, 4, 2, 7, 7, 6, 12, 6, 4, 1],
        )[0]
        conf = r.choices(CONFIDENCES, weights=[6, 3, 2, 1])[0]
        payload: dict[str, Any]
        extra: dict[str, Any]
        frm: str | None
        if kind == "transfer":
            to = r.choice([*ARMY_UNITS, "rf", "mil", "s-con"])
            frm = self.giver(a) or r.choice(ARMY_UNITS)
            if frm == to:
                return
            payload = {
                "from_party": frm,
                "to_party": to,
                "reason": "moved",
                "condition": "ok",
            }
            if r.random() < 0.2:
                payload["transfer_consent_ref"] = "consent-1"
            self.ev("custody_transferred", payload, at, assets=[a], confidence=conf)
            self.holder[a] = to
        elif kind == "capture":
            captor = r.choice(HOSTILE)
            payload = {"captor_party": captor, "circumstances": "overrun"}
            frm = self.giver(a)
            if frm is not None:
                payload["from_party"] = frm
            extra = {}
            if r.random() < 0.25:
                extra["discovered_at"] = iso(at + timedelta(hours=r.randint(1, 90)))
            if r.random() < 0.25:
                extra["occurred_latest"] = iso(at + timedelta(hours=r.randint(1, 48)))
            body = self.ev(
                "asset_captured", payload, at, assets=self.group(a), confidence=conf, **extra
            )
            self._not_before(body, extra)
            for x in body["asset_ids"]:
                self.holder[x] = captor
        elif kind == "recover":
            by = r.choice(["b-1", "b-2", "mil", "rf"])
            payload = {"recovered_by_party": by, "circumstances": "retaken"}
            frm = self.giver(a)
            if frm is not None:
                payload["from_party"] = frm
            self.ev("asset_recovered", payload, at, assets=[a], confidence=conf)
            self.holder[a] = by
        elif kind == "lose":
            extra = {}
            if r.random() < 0.4:
                extra["discovered_at"] = iso(at + timedelta(hours=r.randint(1, 200)))
            body = self.ev(
                "loss_reported",
                {"custodian_at_loss": holder or "b-army", "loss_kind": "missing"},
                at,
                assets=[a],
                **extra,
            )
            self._not_before(body, extra)
            self.holder[a] = None
        elif kind == "disable":
            damage: Any = (
                "hit" if r.random() < 0.5 else {"mobility_kill": True, "severity": "heavy"}
            )
            self.ev(
                "asset_disabled",
                {"disabled_by_party": r.choice(HOSTILE), "damage": damage},
                at,
                assets=[a],
                confidence=conf,
            )
        elif kind == "destroy":
            self.ev(
                "asset_destroyed",
                {"cause": "strike", "assessment": "burnt"},
                at,
                assets=self.group(a),
                confidence=conf,
            )
        elif kind == "decommission":
            self.ev(
                "asset_decommissioned",
                {"method": "scrap", "consent_ref": "c-1", "certificate_ref": "cert"},
                at,
                assets=[a],
            )
        elif kind in ("start", "complete"):
            self.repair(kind, a, at, conf)
        elif kind == "inventory":
            scope = r.choice([["b-army"], ["b-1"], ["b-2", "b-depot"]])
            results = []
            for x in sorted(self.holder):
                if self.contract_of[x] != c or r.random() < 0.3:
                    continue
                present = self.holder[x] in ARMY_UNITS
                if r.random() < 0.15:
                    present = not present
                results.append({"asset_id": x, "result": "present" if present else "absent"})
            if not results:
                return
            named = [x["asset_id"] for x in results]
            assets = named if r.random() < 0.7 else named[:1]
            self.ev(
                "inventory_completed",
                {
                    "inventory_id": f"inv-{self.n}",
                    "inspector_party": "insp",
                    "scope_parties": scope,
                    "results": results,
                },
                at,
                assets=assets,
            )
        elif kind == "observe":
            seen = r.choice([holder, holder, r.choice([*ARMY_UNITS, *HOSTILE, "rf"]), None])
            payload = {
                "condition": r.choice(["operational", "in use", "wreck", "burnt out", "hulk"]),
                "activity": "seen",
            }
            if seen is not None:
                payload["observed_party"] = seen
            if r.random() < 0.25:
                payload["use_assessment"] = "potentially_unauthorised"
            body = self.ev("observation", payload, at, assets=[a], confidence=conf, reporter="insp")
            if "use_assessment" in payload:
                self.flagged.append(body)
        elif kind == "support":
            provider = r.choice(["s-con", "s-con", "b-army", "s-agency"])
            self.ev(
                "support_provided",
                {
                    "provider_party": provider,
                    "recipient_party": "b-army",
                    "support_kind": "spares",
                    "reference": "ship-1",
                },
                at,
                assets=[a],
                reporter=provider,
            )
        elif kind == "action":
            action = r.choice(
                [
                    "SUPPORT_SUSPENDED",
                    "SUPPORT_SUSPENDED",
                    "SUPPORT_RESUMED",
                    "DELIVERY_HOLD_IMPOSED",
                    "DELIVERY_HOLD_LIFTED",
                    "VIOLATION_REPORTED",
                ]
            )
            self.action(c, action, at, [a] if r.random() < 0.6 else [])
        elif kind == "reclassify":
            who, new = r.choice([("ag2", "armed_group"), ("mil", "state_unit"), ("ag", "other")])
            self.ev(
                "party_reclassified",
                {"party_ids": [who], "new_kind": new, "legal_basis": "decree"},
                at,
            )

    def share_knowledge(self) -> None:
        """Some reports become known together (one knowledge instant, one batch)."""
        field_reports = [
            e for e in self.events if "asset_ids" in e or e["type"] == "contract_action"
        ]
        field_reports.sort(key=lambda e: e["reported_at"])
        for before, e in pairwise(field_reports):
            if (
                self.rng.random() < 0.2
                and e["type"] != "asset_registered"
                and before["reported_at"] >= e["occurred_at"]
                and before["reported_at"]
                >= max(e.get("discovered_at", ""), e.get("occurred_latest", ""))
            ):
                e["reported_at"] = before["reported_at"]

    def _not_before(self, body: dict[str, Any], extra: dict[str, Any]) -> None:
        """Knowledge comes after discovery and the window's end."""
        latest = max([body["reported_at"], *extra.values()])
        body["reported_at"] = latest

    def group(self, a: str) -> list[str]:
        if self.rng.random() < 0.7:
            return [a]
        same = [x for x in sorted(self.holder) if self.holder[x] == self.holder[a] and x != a]
        return [a, *same[:2]]

    def repair(self, kind: str, a: str, at: datetime, conf: str) -> None:
        r = self.rng
        facility, performer = r.choice(
            [
                ("f-depot", "b-depot"),
                ("f-depot", "b-1"),
                ("f-seller", "s-con"),
                ("f-shop", "mil"),
                ("f-depot", "s-con"),
            ]
        )
        leaked = r.random() < 0.3
        reporter = r.choice(["insp", "b-army"]) if leaked else performer
        if reporter == performer:
            leaked = False
        payload: dict[str, Any] = {
            "facility_id": facility,
            "performed_by_party": performer,
            "work_type": r.choice(WORK),
        }
        if r.random() < 0.3:
            payload["authorization_ref"] = "FMS repair-and-return line"
        if kind == "start":
            if not leaked:
                wo = f"wo-{self.n}"
                payload["work_order_id"] = wo
                self.orders[a] = wo
            self.ev("repair_started", payload, at, assets=[a], reporter=reporter, confidence=conf)
            return
        if not leaked:
            payload["work_order_id"] = (
                self.orders.pop(a) if a in self.orders and r.random() < 0.8 else f"wo-{self.n}"
            )
        if r.random() < 0.3:
            payload["started_at"] = iso(at - timedelta(days=r.randint(1, 60)))
        parts: list[Any] = ["road wheel"]
        if r.random() < 0.5:
            parts.append({"part": "engine", "serial": f"EN-{r.randint(1, 4)}", "quantity": 1})
        payload["parts"] = parts
        self.ev("repair_completed", payload, at, assets=[a], reporter=reporter, confidence=conf)

    # -- amendments -------------------------------------------------------------------

    def amend(self) -> None:
        r = self.rng
        fields = {
            "custody_transferred": ["payload.to_party", "occurred_at", "confidence"],
            "asset_captured": ["payload.captor_party", "occurred_at", "confidence"],
            "asset_recovered": ["payload.recovered_by_party", "occurred_at"],
            "asset_destroyed": ["confidence", "occurred_at"],
            "observation": ["payload.observed_party", "payload.condition", "confidence"],
            "loss_reported": ["occurred_at"],
            "repair_completed": ["occurred_at", "payload.work_type"],
            "repair_started": ["occurred_at", "payload.facility_id"],
            "inventory_completed": ["occurred_at"],
            "support_provided": ["occurred_at"],
            "asset_disabled": ["occurred_at"],
            "asset_decommissioned": ["occurred_at"],
            "contract_action": ["occurred_at"],
            "asset_registered": ["occurred_at"],
        }
        candidates = [e for e in self.events if e["type"] in fields]
        corrections = []
        for target in candidates:
            x = r.random()
            if x > 0.16:
                continue
            known = datetime.fromisoformat(target["reported_at"].replace("Z", "+00:00"))
            when = known + self.delay() + timedelta(minutes=1)
            envelope: dict[str, Any] = (
                {"assets": target.get("asset_ids")} if r.random() < 0.5 else {}
            )
            if x < 0.07:
                self.ev(
                    "event_retracted",
                    {"target_event_id": target["event_id"], "reason": "false report"},
                    when,
                    reported=when,
                    reporter="s-gov",
                    **envelope,
                )
                continue
            path = r.choice(fields[target["type"]])
            occurred = datetime.fromisoformat(target["occurred_at"].replace("Z", "+00:00"))
            value: Any
            if path == "occurred_at":
                value = iso(occurred - timedelta(days=r.randint(-2, 40)))
            elif path == "confidence":
                value = r.choice(CONFIDENCES)
            elif path == "payload.condition":
                value = r.choice(["operational", "wreck"])
            elif path == "payload.work_type":
                value = r.choice(WORK)
            elif path == "payload.facility_id":
                value = r.choice(["f-depot", "f-shop", "f-seller"])
            else:
                value = r.choice([*ARMY_UNITS, *HOSTILE, "rf"])
                if path == "payload.to_party" and value == target["payload"]["from_party"]:
                    continue
            corrections.append(
                self.ev(
                    "event_corrected",
                    {
                        "target_event_id": target["event_id"],
                        "corrected_fields": {path: value},
                        "reason": "re-read",
                    },
                    when,
                    reported=when,
                    reporter="s-gov",
                    **envelope,
                )
            )
        for c in corrections:
            if r.random() < 0.2:
                known = datetime.fromisoformat(c["reported_at"].replace("Z", "+00:00"))
                when = known + self.delay() + timedelta(minutes=1)
                self.ev(
                    "event_retracted",
                    {"target_event_id": c["event_id"], "reason": "no"},
                    when,
                    reported=when,
                )

    def dispositions(self) -> None:
        for obs in self.flagged:
            if self.rng.random() < 0.4:
                known = datetime.fromisoformat(obs["reported_at"].replace("Z", "+00:00"))
                when = known + timedelta(days=self.rng.randint(1, 100))
                a = obs["asset_ids"][0]
                self.ev(
                    "finding_dispositioned",
                    {
                        "finding_key": f"R16/{obs['event_id']}/{a}",
                        "disposition": self.rng.choice(["dismissed", "referred"]),
                        "rationale": "reviewed",
                    },
                    when,
                    reported=when,
                    assets=[a] if self.rng.random() < 0.5 else None,
                )

    def build(self) -> list[dict[str, Any]]:
        self.reference()
        self.assets()
        times = sorted(
            BASE + timedelta(days=self.rng.uniform(62, 900)) for _ in range(self.reports)
        )
        for i, t in enumerate(times):
            if i and self.rng.random() < 0.1:
                t = times[i - 1]  # two reports of one instant: ties in world order
            self.report(t.replace(microsecond=0))
        self.share_knowledge()
        self.dispositions()
        self.amend()
        order = {id(e): i for i, e in enumerate(self.events)}
        return sorted(self.events, key=lambda e: (e["reported_at"], order[id(e)]))


def world(seed: int, reports: int = 60) -> list[dict[str, Any]]:
    """The wire events of one random world, in append (knowledge) order."""
    return _World(seed, reports).build()
