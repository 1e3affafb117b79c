"""Builders for events as a client sends them (the wire form), with sensible defaults,
so a caller says only what matters to it. The tests (``tests/wire.py``) and the
benchmarks build their events with these; they are not validated here — the append
path does that."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)

T0 = "2014-01-01T00:00:00Z"


def event(type_: str, payload: dict[str, Any], **common: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": common.pop("event_id", None) or f"ev-{type_}-{next(_ids)}",
        "type": type_,
        "occurred_at": common.pop("occurred_at", T0),
        "reporter": common.pop("reporter", "us-gov"),
        "source": common.pop("source", {"kind": "test", "ref": "builder"}),
        "confidence": common.pop("confidence", "confirmed"),
        "payload": payload,
    }
    body.update(common)
    return body


def party(party_id: str, kind: str = "government", **payload: Any) -> dict[str, Any]:
    common = {
        k: payload.pop(k) for k in list(payload) if k in ("event_id", "reporter", "occurred_at")
    }
    common.setdefault("reporter", party_id)
    return event(
        "party_registered",
        {"party_id": party_id, "name": party_id.upper(), "kind": kind, **payload},
        **common,
    )


def facility(facility_id: str, operator: str = "us-gov", **common: Any) -> dict[str, Any]:
    return event(
        "facility_registered",
        {
            "facility_id": facility_id,
            "name": facility_id,
            "operator_party": operator,
            "country": "IQ",
        },
        **common,
    )


def contract(
    contract_id: str = "fms-1", title_holder: str = "iq-gov", seller: str = "us-gov", **common: Any
) -> dict[str, Any]:
    return event(
        "contract_registered",
        {
            "contract_id": contract_id,
            "title_holder": title_holder,
            "seller": seller,
            "item": "M1A1",
            "quantity": 140,
        },
        **common,
    )


def authorization(
    auth_id: str, subject: str, contract_id: str = "fms-1", kind: str = "end_user", **extra: Any
) -> dict[str, Any]:
    common = {k: extra.pop(k) for k in list(extra) if k in ("event_id", "reporter", "occurred_at")}
    return event(
        "authorization_granted",
        {
            "authorization_id": auth_id,
            "contract_id": contract_id,
            "kind": kind,
            "subject_id": subject,
            "includes_descendants": True,
            "valid_from": T0,
            **extra,
        },
        **common,
    )


def asset(
    asset_id: str,
    serial: str | None = None,
    custodian: str = "iq-army",
    contract_id: str = "fms-1",
    **common: Any,
) -> dict[str, Any]:
    return event(
        "asset_registered",
        {
            "serial": serial or f"SN-{asset_id}",
            "model": "M1A1",
            "contract_id": contract_id,
            "initial_custodian": custodian,
            "delivered_at": common.get("occurred_at", T0),
        },
        asset_ids=[asset_id],
        **common,
    )


def transfer(asset_ids: list[str], from_party: str, to_party: str, **common: Any) -> dict[str, Any]:
    return event(
        "custody_transferred",
        {
            "from_party": from_party,
            "to_party": to_party,
            "reason": "reassignment",
            "condition": "operational",
        },
        asset_ids=asset_ids,
        **common,
    )


def inventory(
    asset_ids: list[str], scope: str, missing: tuple[str, ...] = (), **common: Any
) -> dict[str, Any]:
    """An inventory of ``scope`` that finds ``asset_ids`` present but ``missing``."""
    return event(
        "inventory_completed",
        {
            "inventory_id": f"inv-{next(_ids)}",
            "inspector_party": scope,
            "scope_parties": [scope],
            "results": [
                {"asset_id": a, "result": "absent" if a in missing else "present"}
                for a in asset_ids
            ],
        },
        asset_ids=asset_ids,
        **common,
    )


def capture(asset_ids: list[str], captor: str, **common: Any) -> dict[str, Any]:
    return event(
        "asset_captured",
        {"captor_party": captor, "circumstances": "overrun"},
        asset_ids=asset_ids,
        **common,
    )


def retraction(target: str, **common: Any) -> dict[str, Any]:
    return event("event_retracted", {"target_event_id": target, "reason": "wrong report"}, **common)


def correction(target: str, fields: dict[str, Any], **common: Any) -> dict[str, Any]:
    return event(
        "event_corrected",
        {"target_event_id": target, "corrected_fields": fields, "reason": "typo"},
        **common,
    )


def reference_world() -> list[dict[str, Any]]:
    """Parties, a contract and an authorisation most asset tests need."""
    return [
        party("us-gov"),
        party("iq-gov", reporter="us-gov"),
        party("iq-army", kind="state_unit", parent="iq-gov", reporter="us-gov"),
        party("iq-9th", kind="state_unit", parent="iq-army", reporter="us-gov"),
        party("isil", kind="armed_group", reporter="us-gov", designations=["sanctioned"]),
        party("pmf", kind="paramilitary", reporter="us-gov"),
        party("us-contractor", kind="contractor", acts_for="us-gov", reporter="us-gov"),
        facility("besmaya-depot", operator="iq-army"),
        contract(),
        authorization("auth-iq-army", "iq-army"),
    ]
