"""``/v1/assets``: custody of many assets, one asset's state, its timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import LedgerDep, Reader
from api.params import View
from api.schemas import PROBLEM_RESPONSES, FastJSON
from ledger.reading.views import asset_view, timeline_view

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
    return FastJSON(asset_view(ledger, asset_id, view.as_of, view.known_at), view.position)


@router.get("/{asset_id}/timeline", summary="One asset's timeline (DOMAIN.md §7)")
def get_timeline(ledger: LedgerDep, _: Reader, view: View, asset_id: str) -> FastJSON:
    return FastJSON(timeline_view(ledger, asset_id, view.as_of, view.known_at), view.position)
