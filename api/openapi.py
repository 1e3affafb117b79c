"""The OpenAPI document and the interactive docs, both served by the app itself.

**Docs offline.** ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) load their scripts and
styles from ``/docs/assets``: the files that the ``fastapi-offline`` package ships (a
maintained copy of current Swagger UI 5 and ReDoc 2), not a CDN, so the docs work on a
disconnected network, as an auditor's often is.

**The document says what the server enforces** (``refine``), so a client generated from
``/openapi.json`` sends nothing the server refuses for its shape and is told of nothing
the server does not do:

- problem documents are ``application/problem+json`` with the ``ProblemDoc`` schema,
  401 with ``WWW-Authenticate`` and 503 with ``Retry-After``;
- instants carry a pattern that admits exactly the calendar's dates and times;
- path ids carry the id pattern, query and path texts refuse U+0000, ``If-Match``
  admits exactly the versions the server reads;
- each event type says how many ``asset_ids`` it takes, ``extensions`` and
  ``corrected_fields`` say what free JSON canonical JSON can hold, a batch says its
  largest size;
- every request body has complete examples that are valid in the order given
  (``EVENT_EXAMPLES`` then ``BATCH_EXAMPLES``, posted to an empty ledger with an admin
  key: ``tests/api/test_openapi_examples.py``), and the path and query parameters name
  things those examples make.

What JSON Schema cannot say is in the descriptions: a body is at most 256 KiB (one
event), ``extensions`` at most 16 KiB nesting 32 levels, references must name what the
ledger knows, an instant must have a UTC form in years 0001–9999.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route

from api.params import MAX_POSITION
from domain.instants import INSTANT_PATTERN
from domain.vocabulary import ASSET_TYPES, REFERENCE_TYPES, EventType
from ledger.facade import EventBase, Settings

DOCS = "/docs"
REDOC = "/redoc"
ASSETS = "/docs/assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
PROBLEM = "application/problem+json"

# --- patterns ----------------------------------------------------------------------------

NO_NUL = r"^[^\u0000]*$"
"""Text without U+0000: no path or query parameter, and no text field, may hold it."""

_YEAR = r"(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = r"([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"|(0[13-9]|1[0-2])-(29|30)"
    r"|(0[13578]|1[02])-31)"
)
INSTANT = (
    rf"^({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
    r"[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
"""``domain.instants.INSTANT_PATTERN`` with the calendar spelled out: a date that exists
(leap years included), hours 00–23, an offset within ±23:59. ASCII digits only (``\\d``
is any Unicode digit to some regex engines)."""


def at_most(n: int) -> str:
    """A regex (no anchors) for the decimal numbers 0..n, leading zeros allowed."""
    digits = str(n)
    k = len(digits)
    options = [f"[0-9]{{1,{k - 1}}}"] if k > 1 else []
    for i, d in enumerate(digits):
        if d != "0":
            below = "0" if d == "1" else f"[0-{int(d) - 1}]"
            rest = k - i - 1
            options.append(digits[:i] + below + (f"[0-9]{{{rest}}}" if rest else ""))
    options.append(digits)
    return "0*(" + "|".join(options) + ")"


IF_MATCH = r'^[ \t]*(W/)?"*' + at_most(MAX_POSITION) + r'"*[ \t]*$'
"""What ``If-Match`` may be: an asset version (0..2^63-1), optionally weak and quoted."""


def _id_pattern() -> str:
    """The wire schema's id pattern (``A-Za-z0-9._:-``, 1–128), read from the envelope."""
    schema = TypeAdapter(EventBase).json_schema()
    pattern: str = schema["properties"]["reporter"]["pattern"]
    return pattern


ID = _id_pattern()
PATH_ID = ID
"""An id as a path segment: the wire's id pattern, which already refuses "." and ".."
(a URL names them only percent-encoded, which clients do not do for an unreserved
character: as typed, ``/v1/assets/..`` is ``/v1``)."""

# --- examples: a small story, valid in this order on an empty ledger ----------------------

MOSUL = {"name": "Mosul", "admin1": "Nineveh", "country": "IQ", "lat": 36.34, "lon": 43.13}


def _event(
    event_id: str,
    type_: str,
    occurred_at: str,
    payload: dict[str, Any],
    *,
    reporter: str = "us-gov",
    source: tuple[str, str] = ("registry", "dsca/partners"),
    confidence: str = "confirmed",
    asset_ids: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "type": type_,
        "occurred_at": occurred_at,
        "reporter": reporter,
        "source": {"kind": source[0], "ref": source[1]},
        "confidence": confidence,
    }
    if asset_ids:
        body["asset_ids"] = list(asset_ids)
    body.update(extra)
    body["payload"] = payload
    return body


def _party(party_id: str, name: str, kind: str, **payload: Any) -> dict[str, Any]:
    return _event(
        f"party-{party_id}",
        "party_registered",
        "2008-12-01T00:00:00Z",
        {"party_id": party_id, "name": name, "kind": kind, **payload},
    )


def _tank(asset_id: str, serial: str, custodian: str, delivered: str) -> dict[str, Any]:
    return _event(
        f"{asset_id.lower()}-delivered",
        "asset_registered",
        delivered,
        {
            "serial": serial,
            "model": "M1A1M",
            "contract_id": "fms-iq-m1a1",
            "initial_custodian": custodian,
            "delivered_at": delivered,
        },
        asset_ids=(asset_id,),
        source=("delivery_record", f"fms-iq-m1a1/dd250/{serial}"),
    )


EVENT_EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "party-us-gov",
        "The seller registers itself",
        _party("us-gov", "United States Government", "government"),
    ),
    ("party-iq-gov", "The buyer", _party("iq-gov", "Government of Iraq", "government")),
    (
        "party-iq-army",
        "A unit under the buyer",
        _party("iq-army", "Iraqi Army", "state_unit", parent="iq-gov"),
    ),
    (
        "party-iq-9th-armd-div",
        "A division of the Iraqi Army",
        _party("iq-9th-armd-div", "9th Armoured Division", "state_unit", parent="iq-army"),
    ),
    (
        "party-isil",
        "A sanctioned armed group",
        _party(
            "isil",
            "Islamic State of Iraq and the Levant",
            "armed_group",
            designations=["sanctioned"],
        ),
    ),
    ("party-pmf", "A militia", _party("pmf", "Popular Mobilization Forces", "paramilitary")),
    (
        "party-gdls",
        "A contractor working for the seller",
        _party("gdls", "General Dynamics Land Systems", "contractor", acts_for="us-gov"),
    ),
    (
        "facility-besmaya",
        "A repair depot",
        _event(
            "facility-besmaya-depot",
            "facility_registered",
            "2009-06-01T00:00:00Z",
            {
                "facility_id": "besmaya-depot",
                "name": "Besmaya tank repair depot",
                "operator_party": "iq-army",
                "country": "IQ",
            },
        ),
    ),
    (
        "contract",
        "The sales contract that requires every tank to be accounted for",
        _event(
            "contract-fms-iq-m1a1",
            "contract_registered",
            "2008-12-01T00:00:00Z",
            {
                "contract_id": "fms-iq-m1a1",
                "title_holder": "iq-gov",
                "seller": "us-gov",
                "item": "M1A1M Abrams main battle tank",
                "quantity": 140,
                "terms": {"unaccounted_max_days": 30, "inventory_period_days": 365},
            },
        ),
    ),
    (
        "authorization-end-user",
        "The Iraqi Army and its units may hold the tanks",
        _event(
            "auth-iq-army-end-user",
            "authorization_granted",
            "2008-12-01T00:00:00Z",
            {
                "authorization_id": "auth-iq-army-end-user",
                "contract_id": "fms-iq-m1a1",
                "kind": "end_user",
                "subject_id": "iq-army",
                "includes_descendants": True,
                "valid_from": "2008-12-01T00:00:00Z",
            },
        ),
    ),
    (
        "authorization-repair-facility",
        "Besmaya may repair them",
        _event(
            "auth-besmaya-repair",
            "authorization_granted",
            "2010-01-01T00:00:00Z",
            {
                "authorization_id": "auth-besmaya-repair",
                "contract_id": "fms-iq-m1a1",
                "kind": "repair_facility",
                "subject_id": "besmaya-depot",
                "work_types": ["field_maintenance", "battle_damage_repair", "overhaul"],
                "valid_from": "2010-01-01T00:00:00Z",
            },
        ),
    ),
    (
        "authorization-maintainer",
        "The contractor may maintain them",
        _event(
            "auth-gdls-maintainer",
            "authorization_granted",
            "2010-01-01T00:00:00Z",
            {
                "authorization_id": "auth-gdls-maintainer",
                "contract_id": "fms-iq-m1a1",
                "kind": "maintainer",
                "subject_id": "gdls",
                "valid_from": "2010-01-01T00:00:00Z",
                "valid_to": "2030-01-01T00:00:00Z",
            },
        ),
    ),
    (
        "asset-m1a1-0042",
        "A tank is delivered to the 9th Armoured Division",
        _tank("M1A1-0042", "AE-110042", "iq-9th-armd-div", "2011-08-15T00:00:00Z"),
    ),
    (
        "asset-m1a1-0107",
        "A second tank",
        _tank("M1A1-0107", "AE-110107", "iq-9th-armd-div", "2011-08-15T00:00:00Z"),
    ),
    (
        "asset-m1a1-0113",
        "A third tank",
        _tank("M1A1-0113", "AE-110113", "iq-9th-armd-div", "2011-08-15T00:00:00Z"),
    ),
    (
        "transfer",
        "Two tanks move north to Mosul",
        _event(
            "m1a1-0042-0113-to-nineveh",
            "custody_transferred",
            "2013-11-04T00:00:00Z",
            {
                "from_party": "iq-9th-armd-div",
                "to_party": "iq-army",
                "reason": "Reassigned to Nineveh Operations Command",
                "transfer_consent_ref": None,
                "condition": "operational",
            },
            asset_ids=("M1A1-0042", "M1A1-0113"),
            reporter="iq-army",
            source=("unit_report", "iq-army/g4/2013-11-04/031"),
        ),
    ),
    (
        "capture",
        "ISIL seizes a tank in the fall of Mosul",
        _event(
            "m1a1-0042-captured-2014-06-10",
            "asset_captured",
            "2014-06-10T06:00:00Z",
            {
                "from_party": "iq-army",
                "captor_party": "isil",
                "circumstances": "Abandoned during the fall of Mosul and seized by ISIL",
            },
            asset_ids=("M1A1-0042",),
            reporter="iq-army",
            source=("unit_report", "iq-army/nineveh-ops/2014-06-11/017"),
            confidence="probable",
            occurred_earliest="2014-06-09T18:00:00Z",
            occurred_latest="2014-06-10T12:00:00Z",
            admiralty_code="B2",
            location=MOSUL,
        ),
    ),
    (
        "loss",
        "Another tank is reported abandoned",
        _event(
            "m1a1-0113-lost-2014-06-10",
            "loss_reported",
            "2014-06-10T06:00:00Z",
            {
                "custodian_at_loss": "iq-army",
                "loss_kind": "abandoned",
                "last_known_location": {"name": "Mosul", "country": "IQ"},
            },
            asset_ids=("M1A1-0113",),
            reporter="iq-army",
            source=("unit_report", "iq-army/nineveh-ops/2014-06-14/022"),
            discovered_at="2014-06-12T00:00:00Z",
        ),
    ),
    (
        "observation",
        "ISIL is seen operating the captured tank",
        _event(
            "m1a1-0042-seen-baiji-2014-07-02",
            "observation",
            "2014-07-02T00:00:00Z",
            {
                "observed_party": "isil",
                "condition": "operational",
                "activity": "Shown driving near Baiji in an ISIL video",
                "use_assessment": "potentially_unauthorised",
                "media_ref": "osint/2014-07-02/baiji-video",
            },
            asset_ids=("M1A1-0042",),
            source=("osint", "cjtf-oir/osint/2014-07-02/114"),
            confidence="probable",
            admiralty_code="C3",
            narrative="Hull number visible at 00:41; matches the serial of M1A1-0042.",
        ),
    ),
    (
        "observation-mistaken",
        "A sighting that is later retracted",
        _event(
            "m1a1-0113-seen-tikrit-2014-09-20",
            "observation",
            "2014-09-20T00:00:00Z",
            {
                "observed_party": "pmf",
                "condition": "operational",
                "activity": "Reported at a militia checkpoint near Tikrit",
            },
            asset_ids=("M1A1-0113",),
            reporter="iq-army",
            source=("unit_report", "iq-army/salahuddin-ops/2014-09-21/005"),
            confidence="possible",
        ),
    ),
    (
        "disabled",
        "A tank is hit by an anti-tank guided missile",
        _event(
            "m1a1-0107-disabled-2014-10-03",
            "asset_disabled",
            "2014-10-03T00:00:00Z",
            {
                "disabled_by_party": "isil",
                "damage": {
                    "mobility_kill": True,
                    "fire": True,
                    "severity": "heavy",
                    "description": "Turret penetrated by an ATGM",
                },
            },
            asset_ids=("M1A1-0107",),
            reporter="iq-army",
            source=("unit_report", "iq-army/anbar-ops/2014-10-03/009"),
        ),
    ),
    (
        "destroyed",
        "The same tank burns out",
        _event(
            "m1a1-0107-destroyed-2014-10-03",
            "asset_destroyed",
            "2014-10-03T02:00:00Z",
            {
                "cause": "Anti-tank guided missile",
                "attributed_to_party": "isil",
                "assessment": "Catastrophic kill: hull burnt out, not recoverable",
            },
            asset_ids=("M1A1-0107",),
            reporter="iq-army",
            source=("unit_report", "iq-army/anbar-ops/2014-10-04/011"),
        ),
    ),
    (
        "recovery",
        "A militia recovers the captured tank",
        _event(
            "m1a1-0042-recovered-2015-03-31",
            "asset_recovered",
            "2015-03-31T00:00:00Z",
            {
                "from_party": "isil",
                "recovered_by_party": "pmf",
                "circumstances": "Recovered by PMF units in the Tikrit offensive and kept",
            },
            asset_ids=("M1A1-0042",),
            source=("intelligence_report", "cjtf-oir/intrep/2015-04-02/031"),
            confidence="probable",
        ),
    ),
    (
        "repair-started",
        "The tank goes into the depot",
        _event(
            "m1a1-0042-repair-started-2016-02-01",
            "repair_started",
            "2016-02-01T00:00:00Z",
            {
                "work_order_id": "wo-besmaya-2016-017",
                "facility_id": "besmaya-depot",
                "performed_by_party": "gdls",
                "work_type": "battle_damage_repair",
            },
            asset_ids=("M1A1-0042",),
            reporter="gdls",
            source=("work_order", "besmaya/wo-2016-017"),
        ),
    ),
    (
        "repair-completed",
        "The repair is done",
        _event(
            "m1a1-0042-repair-completed-2016-05-20",
            "repair_completed",
            "2016-05-20T00:00:00Z",
            {
                "work_order_id": "wo-besmaya-2016-017",
                "facility_id": "besmaya-depot",
                "performed_by_party": "gdls",
                "work_type": "battle_damage_repair",
                "started_at": "2016-02-01T00:00:00Z",
                "authorization_ref": "FMS repair-and-return line",
                "parts": [
                    "road wheel assembly",
                    {"part": "AGT1500 engine", "serial": "AGT1500-0423", "quantity": 1},
                ],
            },
            asset_ids=("M1A1-0042",),
            reporter="gdls",
            source=("work_order", "besmaya/wo-2016-017"),
        ),
    ),
    (
        "repair-leaked",
        "A leaked report of a repair: no work order number (the reporter is not the performer)",
        _event(
            "m1a1-0113-repair-leaked-2017-03-01",
            "repair_completed",
            "2017-03-01T00:00:00Z",
            {
                "facility_id": "besmaya-depot",
                "performed_by_party": "pmf",
                "work_type": "battle_damage_repair",
                "parts": [{"part": "AGT1500 engine", "serial": "AGT1500-0423"}],
            },
            asset_ids=("M1A1-0113",),
            reporter="us-gov",
            source=("intelligence_report", "leaked/pmf-workshop-ledger/2017-03"),
            confidence="possible",
        ),
    ),
    (
        "support",
        "Spare parts for the repaired tank",
        _event(
            "m1a1-0042-spares-2016-06-01",
            "support_provided",
            "2016-06-01T00:00:00Z",
            {
                "provider_party": "gdls",
                "recipient_party": "iq-army",
                "support_kind": "spare_parts",
                "reference": "fms-iq-m1a1/spares/2016-044",
            },
            asset_ids=("M1A1-0042",),
            reporter="gdls",
            source=("shipping_record", "gdls/ship/2016-044"),
        ),
    ),
    (
        "inventory",
        "An inventory of the Iraqi Army misses a tank",
        _event(
            "inventory-iq-army-2017",
            "inventory_completed",
            "2017-06-30T00:00:00Z",
            {
                "inventory_id": "inv-iq-army-2017",
                "inspector_party": "us-gov",
                "scope_parties": ["iq-army"],
                "results": [{"asset_id": "M1A1-0113", "result": "absent"}],
            },
            asset_ids=("M1A1-0113",),
            source=("inventory", "dsca/eum/2017/iq-army"),
        ),
    ),
    (
        "contract-action",
        "The seller suspends support while two tanks are unaccounted for",
        _event(
            "fms-iq-m1a1-support-suspended-2017-12-01",
            "contract_action",
            "2017-12-01T00:00:00Z",
            {
                "action": "SUPPORT_SUSPENDED",
                "target_contract_id": "fms-iq-m1a1",
                "decided_by_party": "us-gov",
                "basis_asset_ids": ["M1A1-0042", "M1A1-0113"],
            },
            contract_id="fms-iq-m1a1",
            source=("decision", "dsca/fms-iq-m1a1/2017-12-01"),
        ),
    ),
    (
        "authorization-revoked",
        "The contractor's authorisation ends with the suspension",
        _event(
            "auth-gdls-maintainer-revoked",
            "authorization_revoked",
            "2017-12-01T00:00:00Z",
            {
                "authorization_id": "auth-gdls-maintainer",
                "effective_at": "2017-12-01T00:00:00Z",
                "reason": "Support suspended under the contract",
            },
            source=("decision", "dsca/fms-iq-m1a1/2017-12-01"),
        ),
    ),
    (
        "party-reclassified",
        "The militias become part of the armed forces (authorisation unchanged)",
        _event(
            "pmf-reclassified-2018-03-08",
            "party_reclassified",
            "2018-03-08T00:00:00Z",
            {
                "party_ids": ["pmf"],
                "new_kind": "state_unit",
                "legal_basis": "Prime-ministerial order of 8 March 2018",
            },
            source=("gazette", "iq/gazette/2018-03-08"),
        ),
    ),
    (
        "correction",
        "A field of an earlier report is corrected",
        _event(
            "m1a1-0113-lost-corrected",
            "event_corrected",
            "2018-04-01T00:00:00Z",
            {
                "target_event_id": "m1a1-0113-lost-2014-06-10",
                "corrected_fields": {"payload.loss_kind": "abandoned under fire"},
                "reason": "The unit's after-action report",
            },
            reporter="iq-army",
            source=("unit_report", "iq-army/aar/2018-04-01/002"),
        ),
    ),
    (
        "retraction",
        "A mistaken sighting stops counting",
        _event(
            "m1a1-0113-seen-tikrit-retracted",
            "event_retracted",
            "2018-04-02T00:00:00Z",
            {
                "target_event_id": "m1a1-0113-seen-tikrit-2014-09-20",
                "reason": "Misidentified: the vehicle was a T-72",
            },
            reporter="iq-army",
            source=("unit_report", "iq-army/salahuddin-ops/2018-04-02/001"),
        ),
    ),
    (
        "finding-dispositioned",
        "An auditor's decision about a finding",
        _event(
            "r16-m1a1-0042-confirmed",
            "finding_dispositioned",
            "2018-05-01T00:00:00Z",
            {
                "finding_key": "R16/m1a1-0042-seen-baiji-2014-07-02/M1A1-0042",
                "disposition": "confirmed_violation",
                "rationale": "Video authenticated: ISIL operated the tank",
            },
            source=("audit", "dsca/eum/2018/findings/017"),
        ),
    ),
    (
        "decommissioned",
        "The wreck is demilitarised",
        _event(
            "m1a1-0107-decommissioned-2018-09-01",
            "asset_decommissioned",
            "2018-09-01T00:00:00Z",
            {
                "method": "demilitarised and scrapped",
                "consent_ref": "dsca/consent/2018-0107",
                "certificate_ref": "iq-mod/demil/2018-0107",
            },
            asset_ids=("M1A1-0107",),
            reporter="iq-army",
            source=("certificate", "iq-mod/demil/2018-0107"),
        ),
    ),
]
"""Examples of ``POST /v1/events``: key, summary, body, valid in this order."""

BATCH_EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "delivery",
        "Two more tanks delivered together and moved to a division (after the events' examples)",
        {
            "events": [
                _tank("M1A1-0120", "AE-120120", "iq-army", "2012-05-02T00:00:00Z"),
                _tank("M1A1-0121", "AE-120121", "iq-army", "2012-05-02T00:00:00Z"),
                _event(
                    "m1a1-0120-0121-to-9th-div",
                    "custody_transferred",
                    "2012-05-10T00:00:00Z",
                    {
                        "from_party": "iq-army",
                        "to_party": "iq-9th-armd-div",
                        "reason": "Issued to the 9th Armoured Division",
                        "condition": "new",
                    },
                    asset_ids=("M1A1-0120", "M1A1-0121"),
                    reporter="iq-army",
                    source=("unit_report", "iq-army/g4/2012-05-10/004"),
                ),
            ]
        },
    )
]
"""Examples of ``POST /v1/events:batch``, valid after ``EVENT_EXAMPLES``."""

PARAMETER_EXAMPLES: dict[str, Any] = {
    "asset_id": "M1A1-0042",
    "event_id": "m1a1-0042-captured-2014-06-10",
    "party_id": "pmf",
    "contract_id": "fms-iq-m1a1",
    "finding_key": "R16/m1a1-0042-seen-baiji-2014-07-02/M1A1-0042",
    "as_of": "2015-06-01T00:00:00Z",
    "active_at": "2015-06-01T00:00:00Z",
    "contract": "fms-iq-m1a1",
    "custodian": "pmf",
    "asset": "M1A1-0042",
    "party": "pmf",
    "rule": "R01",
    "status": "IN_CUSTODY",
    "kind": "state",
    "cleared": "false",
    "serial": "AGT1500-0423",
}
"""Examples of path and query parameters by name: things the examples above make. None
for knowledge times: the examples become known when they are posted."""
_QUERY_INSTANTS = {
    "as_of",
    "known_at",
    "active_at",
    "detected_from",
    "detected_to",
    "cleared_from",
    "cleared_to",
    "event_time_from",
    "event_time_to",
    "record_time_from",
    "record_time_to",
}
_REPORT_PERIOD = {"from": "2014-01-01T00:00:00Z", "to": "2019-01-01T00:00:00Z"}
_PATH_IDS = {"asset_id", "event_id", "party_id", "contract_id"}

# --- the refinements ---------------------------------------------------------------------


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def _problems(doc: dict[str, Any]) -> None:
    """Problem responses as they are sent: ``application/problem+json``, never JSON."""
    ref = {"$ref": "#/components/schemas/ProblemDoc"}
    for _, _, operation in _operations(doc):
        for code, response in operation["responses"].items():
            content = response.get("content", {})
            if PROBLEM not in content:
                continue
            response["content"] = {PROBLEM: {"schema": ref}}
            if code == "401":
                response["headers"] = {
                    "WWW-Authenticate": {
                        "description": "`Bearer`",
                        "schema": {"type": "string"},
                    }
                }
            elif code == "503":
                response["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before retrying",
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    }
                }


def _strings(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The string schemas of a parameter (``anyOf`` with null included)."""
    if schema.get("type") == "string":
        yield schema
    for option in schema.get("anyOf", ()):
        if option.get("type") == "string":
            yield option


def _parameters(doc: dict[str, Any]) -> None:
    """Patterns and examples of path, query and header parameters."""
    for _, path, operation in _operations(doc):
        for param in operation.get("parameters", ()):
            name, where = param["name"], param["in"]
            schema = param["schema"]
            period = path.endswith(("/report", "/evidence")) and "contracts" in path
            report_period = _REPORT_PERIOD if period else {}
            # An optional parameter is absent, never JSON null: "null" is just a text there.
            options = [o for o in schema.get("anyOf", ()) if o.get("type") != "null"]
            if len(options) == 1:
                del schema["anyOf"]
                schema.update(options[0])
            for string in _strings(schema):
                if where == "path" and name in _PATH_IDS:
                    string["pattern"] = PATH_ID
                elif where == "path":
                    string.setdefault("minLength", 1)
                    string.setdefault("pattern", NO_NUL)
                elif where == "query" and (name in _QUERY_INSTANTS or name in report_period):
                    string["pattern"] = INSTANT
                elif where == "header" and name.lower() == "if-match":
                    string["pattern"] = IF_MATCH
                elif where == "query":
                    string.setdefault("pattern", NO_NUL)
            example = PARAMETER_EXAMPLES.get(name)
            if period and name in _REPORT_PERIOD:
                example = _REPORT_PERIOD[name]
            if example is not None and where in ("path", "query"):
                param["example"] = example


def _schemas(node: Any) -> None:
    """Every schema that carries the domain's instant pattern gets the exact one; a map
    whose keys have a pattern (``asset_id → version``) admits no other key."""
    if isinstance(node, dict):
        if node.get("pattern") == INSTANT_PATTERN:
            node["pattern"] = INSTANT
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _schemas(value)
    elif isinstance(node, list):
        for value in node:
            _schemas(value)


MAX_SAFE_INT = 2**53 - 1
FREE_JSON: dict[str, Any] = {
    "description": (
        "Any JSON that canonical JSON (RFC 8785) holds exactly: numbers within "
        "±(2^53 − 1), texts and keys without U+0000, at most 32 levels deep."
    ),
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": "number", "minimum": -MAX_SAFE_INT, "maximum": MAX_SAFE_INT},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": "#/components/schemas/FreeJSON"}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": "#/components/schemas/FreeJSON"},
        },
    ],
}


def _event_name(event_type: EventType) -> str:
    return "".join(part.title() for part in event_type.value.split("_")) + "Event"


def _events(doc: dict[str, Any], settings: Settings) -> None:
    """Per event type: how many assets, free JSON, and complete examples."""
    schemas = doc["components"]["schemas"]
    schemas["FreeJSON"] = FREE_JSON
    free_object = {
        "type": "object",
        "propertyNames": {"pattern": NO_NUL},
        "additionalProperties": {"$ref": "#/components/schemas/FreeJSON"},
    }
    by_type: dict[str, list[dict[str, Any]]] = {}
    for _, _, body in EVENT_EXAMPLES:
        by_type.setdefault(body["type"], []).append(body)
    for event_type in EventType:
        schema = schemas[_event_name(event_type)]
        props = schema["properties"]
        assets = props["asset_ids"]
        assets["uniqueItems"] = True
        if event_type in ASSET_TYPES:
            assets["minItems"] = 1
            schema["required"] = [*schema.get("required", []), "asset_ids"]
        if event_type is EventType.ASSET_REGISTERED:
            assets["maxItems"] = 1
        elif event_type in REFERENCE_TYPES:
            assets["maxItems"] = 0
        props["extensions"]["anyOf"] = [
            {**free_object, "description": "At most 16 KiB of JSON."},
            {"type": "null"},
        ]
        examples = by_type.get(event_type.value, [])
        if examples:
            schema["examples"] = copy.deepcopy(examples)
            payload_ref = props["payload"]["$ref"].rsplit("/", 1)[-1]
            schemas[payload_ref]["examples"] = [copy.deepcopy(e["payload"]) for e in examples]
    corrected = schemas["EventCorrectedPayload"]["properties"]["corrected_fields"]
    corrected.update(free_object)
    events = schemas["BatchRequest"]["properties"]["events"]
    events["maxItems"] = settings.max_batch_events


def _bodies(doc: dict[str, Any], settings: Settings) -> None:
    """Complete request examples, and the body limits JSON Schema cannot say."""
    single = doc["paths"]["/v1/events"]["post"]
    batch = doc["paths"]["/v1/events:batch"]["post"]
    for operation, examples in ((single, EVENT_EXAMPLES), (batch, BATCH_EXAMPLES)):
        operation["requestBody"]["content"]["application/json"]["examples"] = {
            key: {"summary": summary, "value": copy.deepcopy(body)}
            for key, summary, body in examples
        }
    single["requestBody"]["description"] = (
        f"One event of DOMAIN.md §3, at most {settings.max_body_bytes} bytes. The examples "
        "are valid in the order listed, on an empty ledger, with an admin key."
    )
    batch["requestBody"]["description"] = (
        f"At most {settings.max_batch_events} events and {settings.max_batch_body_bytes} "
        "bytes, all or none. The example is valid after the examples of POST /v1/events."
    )


def refine(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """``doc`` (FastAPI's document) saying what the server enforces; see the module."""
    doc = copy.deepcopy(doc)
    _problems(doc)
    _parameters(doc)
    _events(doc, settings)
    _bodies(doc, settings)
    _schemas(doc)
    return doc


# --- installing ------------------------------------------------------------------------


# The docs pages may load from the app only: a script or image elsewhere (ReDoc's footer
# logo is on a CDN) is refused by the browser rather than fetched. Swagger UI starts from an
# inline script; ReDoc searches in a worker made from a blob.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _page(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


def _docs_routes(app: FastAPI) -> list[BaseRoute]:
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _page(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{title} - Swagger UI",
                swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
                oauth2_redirect_url=root + OAUTH2_REDIRECT,
                # No badge from the public validator: nothing leaves the machine.
                swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
            )
        )

    async def oauth2_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _page(
            get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )

    static = StaticFiles(directory=str(files("fastapi_offline") / "static"))
    return [
        Route(DOCS, swagger, methods=["GET"], include_in_schema=False),
        Route(OAUTH2_REDIRECT, oauth2_redirect, methods=["GET"], include_in_schema=False),
        Route(REDOC, redoc, methods=["GET"], include_in_schema=False),
        Mount(ASSETS, app=static, name="docs-assets"),
    ]


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the docs from the app itself and refine its OpenAPI document."""
    replaced = {DOCS, REDOC, OAUTH2_REDIRECT}
    app.router.routes[:] = [
        r for r in app.router.routes if getattr(r, "path", None) not in replaced
    ]
    app.router.routes.extend(_docs_routes(app))
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if getattr(app.state, "refined_openapi", None) is None:
            app.state.refined_openapi = refine(generate(), settings)
        document: dict[str, Any] = app.state.refined_openapi
        return document

    app.openapi = openapi  # type: ignore[method-assign]
