"""``ledger demo``: a small worked example from the motivating story.

Four tanks are sold under a contract that requires each to be accounted for. Two are
captured by an armed group in June 2014; an airstrike destroys one; a militia recovers
the other in 2015, which the ledger learns only in 2017 (a late report); the militia
gets it repaired at an army depot without authorisation; a third tank is overhauled
abroad at an authorised facility; a mistaken sighting is retracted; support is
suspended in December 2017 while tanks remain unaccounted for. Event ids are fixed,
so loading twice stores nothing new.
"""

from __future__ import annotations

from typing import Any

from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

SOURCE = {"kind": "demo", "ref": "story.txt"}


def _e(
    event_id: str,
    type_: str,
    occurred_at: str,
    reporter: str,
    payload: dict[str, Any],
    *,
    assets: list[str] | None = None,
    reported_at: str | None = None,
    confidence: str = "confirmed",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": f"demo-{event_id}",
        "type": type_,
        "asset_ids": assets or [],
        "occurred_at": occurred_at,
        "reported_at": reported_at or occurred_at,
        "reporter": reporter,
        "source": SOURCE,
        "confidence": confidence,
        "payload": payload,
    }
    body.update(extra)
    return body


def demo_events() -> list[dict[str, Any]]:
    t0 = "2010-01-05T00:00:00Z"

    def party(pid: str, name: str, kind: str, **kw: Any) -> dict[str, Any]:
        payload = {"party_id": pid, "name": name, "kind": kind, **kw}
        return _e(f"party-{pid}", "party_registered", t0, "us-dos", payload)

    tanks = ["M1A1-001", "M1A1-002", "M1A1-003", "M1A1-004"]
    events = [
        party("us-dos", "US Department of State", "government"),
        party("us-army-tacom", "US Army TACOM", "state_unit", parent="us-dos"),
        party("gd-land", "General Dynamics Land Systems", "contractor", acts_for="us-dos"),
        party("iq-mod", "Iraqi Ministry of Defence", "government"),
        party("iq-army", "Iraqi Army", "state_unit", parent="iq-mod"),
        party("iq-9th-armd", "Iraqi 9th Armoured Division", "state_unit", parent="iq-army"),
        party("isil", "ISIL", "armed_group", designations=["sanctioned"]),
        party("pmf-kh", "PMF brigade (militia)", "paramilitary"),
        _e(
            "fac-besmaya",
            "facility_registered",
            t0,
            "us-dos",
            {
                "facility_id": "besmaya-depot",
                "name": "Besmaya depot",
                "operator_party": "iq-army",
                "country": "IQ",
            },
        ),
        _e(
            "fac-anniston",
            "facility_registered",
            t0,
            "us-dos",
            {
                "facility_id": "anniston-depot",
                "name": "Anniston Army Depot",
                "operator_party": "us-army-tacom",
                "country": "US",
            },
        ),
        _e(
            "contract",
            "contract_registered",
            t0,
            "us-dos",
            {
                "contract_id": "fms-iq-m1",
                "title_holder": "iq-mod",
                "seller": "us-dos",
                "item": "M1A1 tank",
                "quantity": 4,
            },
        ),
        _e(
            "auth-end-user",
            "authorization_granted",
            t0,
            "us-dos",
            {
                "authorization_id": "auth-iq-army",
                "contract_id": "fms-iq-m1",
                "kind": "end_user",
                "subject_id": "iq-army",
                "includes_descendants": True,
                "valid_from": t0,
            },
        ),
        _e(
            "auth-anniston",
            "authorization_granted",
            t0,
            "us-dos",
            {
                "authorization_id": "auth-anniston",
                "contract_id": "fms-iq-m1",
                "kind": "repair_facility",
                "subject_id": "anniston-depot",
                "valid_from": t0,
                "work_types": ["overhaul"],
            },
        ),
        _e(
            "auth-tacom",
            "authorization_granted",
            t0,
            "us-dos",
            {
                "authorization_id": "auth-tacom",
                "contract_id": "fms-iq-m1",
                "kind": "maintainer",
                "subject_id": "us-army-tacom",
                "valid_from": t0,
            },
        ),
    ]
    for i, tank in enumerate(tanks):
        events.append(
            _e(
                f"deliver-{i + 1}",
                "asset_registered",
                "2010-06-01T00:00:00Z",
                "us-army-tacom",
                {
                    "serial": f"SN-{tank}",
                    "model": "M1A1",
                    "contract_id": "fms-iq-m1",
                    "initial_custodian": "iq-9th-armd",
                    "delivered_at": "2010-06-01T00:00:00Z",
                },
                assets=[tank],
            )
        )
    events += [
        _e(
            "capture",
            "asset_captured",
            "2014-06-10T06:00:00Z",
            "iq-9th-armd",
            {
                "from_party": "iq-9th-armd",
                "captor_party": "isil",
                "circumstances": "Mosul rout; crews withdrew",
            },
            assets=tanks[:2],
            reported_at="2014-06-20T00:00:00Z",
            confidence="probable",
            location={"name": "Mosul", "country": "IQ", "lat": 36.34, "lon": 43.13},
        ),
        _e(
            "sighting-wrong",
            "observation",
            "2014-08-01T00:00:00Z",
            "us-dos",
            {
                "observed_party": "isil",
                "condition": "operational",
                "activity": "convoy near Tikrit",
            },
            assets=[tanks[2]],
            reported_at="2014-08-02T00:00:00Z",
            confidence="possible",
        ),
        _e(
            "sighting-retracted",
            "event_retracted",
            "2014-08-05T00:00:00Z",
            "us-dos",
            {"target_event_id": "demo-sighting-wrong", "reason": "misidentified: a T-72"},
            reported_at="2014-08-05T00:00:00Z",
        ),
        _e(
            "airstrike",
            "asset_destroyed",
            "2014-09-15T00:00:00Z",
            "us-dos",
            {
                "cause": "coalition airstrike",
                "attributed_to_party": "us-dos",
                "assessment": "catastrophic kill",
            },
            assets=[tanks[0]],
            reported_at="2014-09-16T00:00:00Z",
        ),
        _e(
            "militia-recovers",
            "asset_recovered",
            "2015-03-01T00:00:00Z",
            "us-dos",
            {
                "from_party": "isil",
                "recovered_by_party": "pmf-kh",
                "circumstances": "retaken near Tikrit; kept",
            },
            assets=[tanks[1]],
            reported_at="2017-02-01T00:00:00Z",
            confidence="probable",
        ),
        _e(
            "illegal-repair",
            "repair_started",
            "2016-05-01T00:00:00Z",
            "us-dos",
            {
                "work_order_id": "wo-bes-17",
                "facility_id": "besmaya-depot",
                "performed_by_party": "iq-army",
                "work_type": "field_maintenance",
            },
            assets=[tanks[1]],
            reported_at="2017-03-01T00:00:00Z",
        ),
        _e(
            "illegal-repair-done",
            "repair_completed",
            "2016-05-20T00:00:00Z",
            "us-dos",
            {
                "work_order_id": "wo-bes-17",
                "facility_id": "besmaya-depot",
                "performed_by_party": "iq-army",
                "work_type": "field_maintenance",
            },
            assets=[tanks[1]],
            reported_at="2017-03-01T00:00:00Z",
        ),
        _e(
            "overhaul-start",
            "repair_started",
            "2016-01-10T00:00:00Z",
            "us-army-tacom",
            {
                "work_order_id": "wo-ann-3",
                "facility_id": "anniston-depot",
                "performed_by_party": "us-army-tacom",
                "work_type": "overhaul",
            },
            assets=[tanks[2]],
        ),
        _e(
            "overhaul-done",
            "repair_completed",
            "2016-09-30T00:00:00Z",
            "us-army-tacom",
            {
                "work_order_id": "wo-ann-3",
                "facility_id": "anniston-depot",
                "performed_by_party": "us-army-tacom",
                "work_type": "overhaul",
            },
            assets=[tanks[2]],
        ),
        _e(
            "suspend",
            "contract_action",
            "2017-12-15T00:00:00Z",
            "us-dos",
            {
                "action": "SUPPORT_SUSPENDED",
                "target_contract_id": "fms-iq-m1",
                "decided_by_party": "us-dos",
                "basis_asset_ids": tanks[:2],
            },
            contract_id="fms-iq-m1",
        ),
    ]
    return events


def load_demo(ledger: Ledger) -> str:
    events = [EVENT_ADAPTER.validate_python(e) for e in demo_events()]
    results = ledger.appender.append(events, Principal("demo-loader", Role.ADMIN))
    ledger.runner.catch_up()
    fresh = sum(not r.replayed for r in results)
    base = f"http://{ledger.settings.host}:{ledger.settings.port}"
    return "\n".join(
        [
            f"demo loaded: {fresh} new events ({len(results) - fresh} already there), "
            f"log head at position {max(r.position for r in results)}",
            "look at (with an investigator or admin key):",
            f"  {base}/v1/assets?contract=fms-iq-m1                      custody board",
            f"  {base}/v1/assets/M1A1-002/timeline                       captured, recovered, repaired",
            f"  {base}/v1/assets/M1A1-002?known_at=2016-01-01T00:00:00Z  what the ledger knew in 2016",
            f"  {base}/v1/contracts/fms-iq-m1                            terms and authorisations",
        ]
    )
