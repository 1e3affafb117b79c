"""``/v1/assets``: custody of many assets, one asset's state, its timeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import LedgerDep, Reader
from api.params import View, ViewParams
from api.schemas import PROBLEM_RESPONSES, FastJSON
from domain.instants import parse
from ledger.bootstrap import Ledger

router = APIRouter(prefix="/v1/assets", tags=["assets"], responses=PROBLEM_RESPONSES)


@router.get("", summary="Custody of many assets")
def list_assets(
    ledger: LedgerDep,
    _: Reader,
    view: View,
    contract: str | None = None,
    custodian: str | None = None,
    status: Annotated[
        str | None, Query(pattern="^(IN_CUSTODY|LOST|DESTROYED|DECOMMISSIONED)$")
    ] = None,
    accounted: bool | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FastJSON:
    return FastJSON(
        ledger.reads.list_assets(
            contract=contract,
            custodian=custodian,
            status=status,
            accounted=accounted,
            as_of=view.as_of,
            known_at=view.known_at,
            cursor=cursor,
            limit=limit,
        ),
        view.position,
    )


@router.get("/{asset_id}", summary="One asset's state (DOMAIN.md §7)")
def get_asset(ledger: LedgerDep, _: Reader, view: View, asset_id: str) -> FastJSON:
    return FastJSON(asset_view(ledger, asset_id, view), view.position)


def asset_view(ledger: Ledger, asset_id: str, view: ViewParams) -> dict[str, Any]:
    """The asset's state with its active findings (DOMAIN.md §7), as known at known_at."""
    state = ledger.reads.asset(asset_id, view.as_of, view.known_at)
    state["findings"] = ledger.findings.for_asset(
        asset_id, view.known_at, view.as_of or parse(state["as_of"])
    )
    return state


def timeline_view(ledger: Ledger, asset_id: str, view: ViewParams) -> dict[str, Any]:
    """The timeline, each event with the findings it triggered or evidences."""
    timeline = ledger.reads.timeline(asset_id, view.as_of, view.known_at)
    found = ledger.findings.search(asset=asset_id, known_at=view.known_at, cleared=None, limit=1000)
    timeline["findings"] = found["findings"]
    by_event: dict[str, list[str]] = {}
    for f in found["findings"]:
        for event_id in {f["trigger_event_id"], *f["evidence"]} - {None}:
            by_event.setdefault(event_id, []).append(f["finding_key"])
    for entry in timeline["events"]:
        entry["findings"] = sorted(by_event.get(entry["event_id"], []))
    return timeline


@router.get("/{asset_id}/timeline", summary="One asset's timeline (DOMAIN.md §7)")
def get_timeline(ledger: LedgerDep, _: Reader, view: View, asset_id: str) -> FastJSON:
    return FastJSON(timeline_view(ledger, asset_id, view), view.position)
