"""``/v1/assets``: custody of many assets, one asset's state, its timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Reader, ServiceDep
from api.params import View
from api.schemas import NOT_FOUND, READ_PROBLEMS, FastJSON, StrictRoute
from ledger.facade import m

router = APIRouter(
    prefix="/v1/assets", tags=["assets"], responses=READ_PROBLEMS, route_class=StrictRoute
)


@router.get("", response_model=m.AssetsPage, summary="Custody of many assets")
def list_assets(
    service: ServiceDep,
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
        service.assets(
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


@router.get(
    "/{asset_id}",
    response_model=m.AssetView,
    responses=NOT_FOUND,
    summary="One asset's state (DOMAIN.md §7)",
)
def get_asset(service: ServiceDep, _: Reader, view: View, asset_id: str) -> FastJSON:
    found = service.asset(asset_id, as_of=view.as_of, known_at=view.known_at)
    return FastJSON(found, view.position)


@router.get(
    "/{asset_id}/timeline",
    response_model=m.Timeline,
    responses=NOT_FOUND,
    summary="One asset's timeline (DOMAIN.md §7)",
)
def get_timeline(service: ServiceDep, _: Reader, view: View, asset_id: str) -> FastJSON:
    found = service.timeline(asset_id, as_of=view.as_of, known_at=view.known_at)
    return FastJSON(found, view.position)
