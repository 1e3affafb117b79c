"""Views that combine the custody reads with the findings (DOMAIN.md §7): an asset's
state with its active findings, and its timeline with the findings each event
triggered. The JSON routes and the web pages both call these, so they show the same."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.instants import parse
from ledger.bootstrap import Ledger


def asset_view(
    ledger: Ledger, asset_id: str, as_of: datetime | None, known_at: datetime | None
) -> dict[str, Any]:
    """The asset's state with its active findings, as known at ``known_at``."""
    state = ledger.reads.asset(asset_id, as_of, known_at)
    state["findings"] = ledger.findings.for_asset(
        asset_id, known_at, as_of or parse(state["as_of"])
    )
    return state


def timeline_view(
    ledger: Ledger, asset_id: str, as_of: datetime | None, known_at: datetime | None
) -> dict[str, Any]:
    """The timeline, each event with the findings it triggered or is evidence of."""
    timeline = ledger.reads.timeline(asset_id, as_of, known_at)
    found = ledger.findings.search(asset=asset_id, known_at=known_at, cleared=None, limit=1000)
    timeline["findings"] = found["findings"]
    by_event: dict[str, list[str]] = {}
    for f in found["findings"]:
        for event_id in {f["trigger_event_id"], *f["evidence"]} - {None}:
            by_event.setdefault(event_id, []).append(f["finding_key"])
    for entry in timeline["events"]:
        entry["findings"] = sorted(by_event.get(entry["event_id"], []))
    return timeline
