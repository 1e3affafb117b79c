"""Builders for logged events ``(position, record)`` with sensible defaults, so a test
states only what it is about.

Every builder takes ``at`` (occurred_at; a date or ``YYYY-MM-DDTHH:MM``),
``reported`` (knowledge time; default ``at``), ``pos`` (default: the next position),
``event_id`` (default: ``<type>-<pos>``) and any other envelope field as a keyword.
Positions come from one counter, so events built later in a test come later in the
log.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from domain.instants import parse, to_stored

Logged = tuple[int, dict[str, Any]]

_positions = itertools.count(1)

CONTRACT = "C1"
TITLE_HOLDER = "iraq"
SELLER = "usa"
REFERENCE_AT = "2010-01-01"


def T(text: str) -> datetime:
    """An instant from ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]``, in UTC."""
    if text.endswith("Z") or "+" in text[10:]:
        return parse(text)
    return parse((text if "T" in text else f"{text}T00:00:00") + "Z")


def stored(text: str | datetime) -> str:
    return to_stored(text if isinstance(text, datetime) else T(text))


def event(
    type_: str,
    payload: dict[str, Any],
    *,
    asset_ids: Sequence[str] = (),
    at: str | datetime = "2014-06-10",
    reported: str | datetime | None = None,
    pos: int | None = None,
    event_id: str | None = None,
    reporter: str = "reporter",
    confidence: str = "confirmed",
    **envelope: Any,
) -> Logged:
    position = next(_positions) if pos is None else pos
    reported_at = stored(reported if reported is not None else at)
    record: dict[str, Any] = {
        "event_id": event_id or f"{type_}-{position}",
        "type": type_,
        "asset_ids": list(asset_ids),
        "occurred_at": stored(at),
        "reported_at": reported_at,
        "reporter": reporter,
        "source": {"kind": "unit_report", "ref": f"ref-{position}", "evidence": []},
        "confidence": confidence,
        "payload": payload,
        "recorded_at": reported_at,
        "recorded_by": "test",
        "prev_hash": "0" * 64,
    }
    for key, value in envelope.items():
        if key in {"occurred_earliest", "occurred_latest", "discovered_at"}:
            value = stored(value)
        record[key] = value
    return position, record


def _assets(assets: str | Iterable[str]) -> list[str]:
    return [assets] if isinstance(assets, str) else list(assets)


def _optional(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# -- reference data -------------------------------------------------------------------


def party(
    party_id: str,
    kind: str = "state_unit",
    *,
    parent: str | None = None,
    acts_for: str | None = None,
    designations: Sequence[str] = (),
    **kw: Any,
) -> Logged:
    kw.setdefault("at", REFERENCE_AT)
    payload = _optional(
        party_id=party_id, name=party_id, kind=kind, parent=parent, acts_for=acts_for
    )
    payload["designations"] = list(designations)
    return event("party_registered", payload, **kw)


def reclassify(party_ids: str | Sequence[str], new_kind: str, **kw: Any) -> Logged:
    payload = {"party_ids": _assets(party_ids), "new_kind": new_kind, "legal_basis": "decree"}
    return event("party_reclassified", payload, **kw)


def facility(facility_id: str, operator: str = "army", **kw: Any) -> Logged:
    kw.setdefault("at", REFERENCE_AT)
    payload = {
        "facility_id": facility_id,
        "name": facility_id,
        "operator_party": operator,
        "country": "IQ",
    }
    return event("facility_registered", payload, **kw)


def contract(
    contract_id: str = CONTRACT,
    *,
    title_holder: str = TITLE_HOLDER,
    seller: str = SELLER,
    terms: dict[str, Any] | None = None,
    **kw: Any,
) -> Logged:
    kw.setdefault("at", REFERENCE_AT)
    payload: dict[str, Any] = {
        "contract_id": contract_id,
        "title_holder": title_holder,
        "seller": seller,
        "item": "M1A1 tank",
        "quantity": 140,
    }
    if terms is not None:
        payload["terms"] = terms
    return event("contract_registered", payload, **kw)


def grant(
    authorization_id: str,
    subject: str,
    *,
    kind: str = "end_user",
    contract_id: str = CONTRACT,
    valid_from: str = REFERENCE_AT,
    valid_to: str | None = None,
    includes_descendants: bool = True,
    work_types: Sequence[str] | None = None,
    **kw: Any,
) -> Logged:
    kw.setdefault("at", valid_from)
    payload: dict[str, Any] = {
        "authorization_id": authorization_id,
        "contract_id": contract_id,
        "kind": kind,
        "subject_id": subject,
        "includes_descendants": includes_descendants,
        "valid_from": stored(valid_from),
    }
    if valid_to is not None:
        payload["valid_to"] = stored(valid_to)
    if work_types is not None:
        payload["work_types"] = list(work_types)
    return event("authorization_granted", payload, **kw)


def revoke(authorization_id: str, effective_at: str, **kw: Any) -> Logged:
    kw.setdefault("at", effective_at)
    payload = {
        "authorization_id": authorization_id,
        "effective_at": stored(effective_at),
        "reason": "end of cooperation",
    }
    return event("authorization_revoked", payload, **kw)


def world() -> list[Logged]:
    """Iraq (title holder) with its army and 9th division, the US (seller) and a US
    contractor, ISIS, a PMF militia, Kurdish forces, an inspector; contract C1; the
    army and its units authorised end users from 2010; a depot authorised for field
    maintenance and overhaul, the contractor for any repair."""
    return [
        party("usa", "government"),
        party("iraq", "government"),
        party("army", "state_unit", parent="iraq"),
        party("9th-div", "state_unit", parent="army"),
        party("isis", "armed_group"),
        party("pmf", "paramilitary"),
        party("kurds", "regional_force"),
        party("gd", "contractor", acts_for="usa"),
        party("inspector", "inspector"),
        contract(),
        grant("AUTH-ARMY", "army"),
        facility("depot", "army"),
        grant(
            "AUTH-DEPOT",
            "depot",
            kind="repair_facility",
            work_types=["field_maintenance", "overhaul"],
            includes_descendants=False,
        ),
        grant("AUTH-GD", "gd", kind="maintainer", includes_descendants=False),
    ]


# -- asset events ---------------------------------------------------------------------


def register(
    asset_id: str,
    custodian: str = "9th-div",
    *,
    contract_id: str = CONTRACT,
    delivered: str | None = None,
    serial: str | None = None,
    model: str = "M1A1",
    **kw: Any,
) -> Logged:
    kw.setdefault("at", "2011-01-01")
    payload = {
        "serial": serial or f"SN-{asset_id}",
        "model": model,
        "contract_id": contract_id,
        "initial_custodian": custodian,
        "delivered_at": stored(delivered or kw["at"]),
    }
    return event("asset_registered", payload, asset_ids=[asset_id], **kw)


def transfer(
    assets: str | Sequence[str],
    from_party: str,
    to_party: str,
    *,
    consent: str | None = None,
    **kw: Any,
) -> Logged:
    payload = _optional(
        from_party=from_party,
        to_party=to_party,
        reason="reassignment",
        transfer_consent_ref=consent,
        condition="serviceable",
    )
    return event("custody_transferred", payload, asset_ids=_assets(assets), **kw)


def capture(
    assets: str | Sequence[str], captor: str, *, from_party: str | None = None, **kw: Any
) -> Logged:
    payload = _optional(from_party=from_party, captor_party=captor, circumstances="overrun")
    return event("asset_captured", payload, asset_ids=_assets(assets), **kw)


def recover(
    assets: str | Sequence[str], by: str, *, from_party: str | None = None, **kw: Any
) -> Logged:
    payload = _optional(from_party=from_party, recovered_by_party=by, circumstances="retaken")
    return event("asset_recovered", payload, asset_ids=_assets(assets), **kw)


def lose(
    assets: str | Sequence[str],
    custodian_at_loss: str = "9th-div",
    *,
    last_known_location: dict[str, Any] | None = None,
    **kw: Any,
) -> Logged:
    payload = _optional(
        custodian_at_loss=custodian_at_loss,
        loss_kind="abandoned",
        last_known_location=last_known_location,
    )
    return event("loss_reported", payload, asset_ids=_assets(assets), **kw)


def disable(assets: str | Sequence[str], by: str = "isis", **kw: Any) -> Logged:
    payload = {"disabled_by_party": by, "damage": "track blown"}
    return event("asset_disabled", payload, asset_ids=_assets(assets), **kw)


def destroy(assets: str | Sequence[str], **kw: Any) -> Logged:
    payload = {"cause": "air strike", "assessment": "burnt out"}
    return event("asset_destroyed", payload, asset_ids=_assets(assets), **kw)


def decommission(assets: str | Sequence[str], **kw: Any) -> Logged:
    payload = {"method": "demilitarised", "consent_ref": "DSCA-1", "certificate_ref": "CERT-1"}
    return event("asset_decommissioned", payload, asset_ids=_assets(assets), **kw)


def _repair(
    type_: str,
    assets: str | Sequence[str],
    work_order_id: str,
    facility_id: str,
    performer: str,
    work_type: str,
    extra: dict[str, Any],
    kw: dict[str, Any],
) -> Logged:
    payload = {
        "work_order_id": work_order_id,
        "facility_id": facility_id,
        "performed_by_party": performer,
        "work_type": work_type,
        **extra,
    }
    return event(type_, payload, asset_ids=_assets(assets), **kw)


def repair_start(
    assets: str | Sequence[str],
    work_order_id: str = "WO-1",
    *,
    facility_id: str = "depot",
    performer: str = "gd",
    work_type: str = "overhaul",
    **kw: Any,
) -> Logged:
    return _repair(
        "repair_started", assets, work_order_id, facility_id, performer, work_type, {}, kw
    )


def repair_complete(
    assets: str | Sequence[str],
    work_order_id: str = "WO-1",
    *,
    facility_id: str = "depot",
    performer: str = "gd",
    work_type: str = "overhaul",
    started_at: str | None = None,
    **kw: Any,
) -> Logged:
    extra: dict[str, Any] = {"parts": []}
    if started_at is not None:
        extra["started_at"] = stored(started_at)
    return _repair(
        "repair_completed", assets, work_order_id, facility_id, performer, work_type, extra, kw
    )


def inventory(
    results: dict[str, str],
    scope: str | Sequence[str] = "army",
    *,
    assets: Sequence[str] | None = None,
    inspector: str = "inspector",
    **kw: Any,
) -> Logged:
    """``results`` maps asset id to ``present``/``absent``."""
    payload = {
        "inventory_id": f"INV-{len(results)}",
        "inspector_party": inspector,
        "scope_parties": _assets(scope),
        "results": [{"asset_id": a, "result": r} for a, r in results.items()],
    }
    return event(
        "inventory_completed",
        payload,
        asset_ids=list(results) if assets is None else list(assets),
        **kw,
    )


def observe(
    assets: str | Sequence[str],
    observed_party: str | None = None,
    *,
    use_assessment: str | None = None,
    **kw: Any,
) -> Logged:
    payload = _optional(
        observed_party=observed_party,
        condition="running",
        activity="convoy",
        use_assessment=use_assessment,
    )
    return event("observation", payload, asset_ids=_assets(assets), **kw)


def support(
    assets: str | Sequence[str], provider: str = "gd", recipient: str = "army", **kw: Any
) -> Logged:
    payload = {
        "provider_party": provider,
        "recipient_party": recipient,
        "support_kind": "spare_parts",
        "reference": "SHIP-1",
    }
    return event("support_provided", payload, asset_ids=_assets(assets), **kw)


def contract_action(action: str, basis: Sequence[str] = (), **kw: Any) -> Logged:
    payload = {
        "action": action,
        "target_contract_id": CONTRACT,
        "decided_by_party": "usa",
        "basis_asset_ids": list(basis),
    }
    kw.setdefault("contract_id", CONTRACT)
    return event("contract_action", payload, asset_ids=list(basis), **kw)


def retract(target: Logged | str, **kw: Any) -> Logged:
    target_id = target if isinstance(target, str) else target[1]["event_id"]
    return event("event_retracted", {"target_event_id": target_id, "reason": "wrong"}, **kw)


def correct(target: Logged | str, fields: dict[str, Any], **kw: Any) -> Logged:
    target_id = target if isinstance(target, str) else target[1]["event_id"]
    payload = {"target_event_id": target_id, "corrected_fields": fields, "reason": "typo"}
    return event("event_corrected", payload, **kw)
