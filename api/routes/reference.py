"""Reference data as known: parties, facilities, contracts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Reader, ServiceDep
from api.params import PageCursor, View
from api.schemas import NOT_FOUND, READ_PROBLEMS, FastJSON, StrictRoute
from ledger.facade import MAX_ROWS, m

router = APIRouter(
    prefix="/v1", tags=["reference data"], responses=READ_PROBLEMS, route_class=StrictRoute
)


@router.get("/parties", response_model=m.Parties, summary="Parties as known")
def list_parties(service: ServiceDep, _: Reader, view: View) -> FastJSON:
    return FastJSON(service.parties(as_of=view.as_of, known_at=view.known_at), view.position)


@router.get(
    "/parties/{party_id}",
    response_model=m.PartyDetail,
    responses=NOT_FOUND,
    summary="One party as known",
)
def get_party(service: ServiceDep, _: Reader, view: View, party_id: str) -> FastJSON:
    party = service.party(party_id, as_of=view.as_of, known_at=view.known_at)
    return FastJSON(party, view.position)


@router.get("/facilities", response_model=m.Facilities, summary="Facilities as known")
def list_facilities(service: ServiceDep, _: Reader, view: View) -> FastJSON:
    return FastJSON(service.facilities(known_at=view.known_at), view.position)


@router.get(
    "/contracts/{contract_id}",
    response_model=m.Contract,
    responses=NOT_FOUND,
    summary="A contract: terms, authorisations and compliance",
)
def get_contract(
    service: ServiceDep,
    _: Reader,
    view: View,
    contract_id: str,
    cursor: PageCursor = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_ROWS, description="Assets of each compliance list per response")
    ] = MAX_ROWS,
) -> FastJSON:
    """Compliance's asset lists hold at most ``limit`` rows each
    (``compliance.page``)."""
    contract = service.contract(
        contract_id, as_of=view.as_of, known_at=view.known_at, cursor=cursor, limit=limit
    )
    return FastJSON(contract, view.position)
