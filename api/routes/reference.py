"""Reference data as known: parties, facilities, contracts."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Reader, ServiceDep
from api.params import View
from api.schemas import PROBLEM_RESPONSES, FastJSON

router = APIRouter(prefix="/v1", tags=["reference data"], responses=PROBLEM_RESPONSES)


@router.get("/parties", summary="Parties as known")
def list_parties(service: ServiceDep, _: Reader, view: View) -> FastJSON:
    parties = service.parties(as_of=view.as_of, known_at=view.known_at)
    return FastJSON({"parties": parties}, view.position)


@router.get("/parties/{party_id}", summary="One party as known")
def get_party(service: ServiceDep, _: Reader, view: View, party_id: str) -> FastJSON:
    party = service.party(party_id, as_of=view.as_of, known_at=view.known_at)
    return FastJSON(party, view.position)


@router.get("/facilities", summary="Facilities as known")
def list_facilities(service: ServiceDep, _: Reader, view: View) -> FastJSON:
    facilities = service.facilities(known_at=view.known_at)
    return FastJSON({"facilities": facilities}, view.position)


@router.get("/contracts/{contract_id}", summary="A contract: terms and authorisations")
def get_contract(service: ServiceDep, _: Reader, view: View, contract_id: str) -> FastJSON:
    contract = service.contract(contract_id, as_of=view.as_of, known_at=view.known_at)
    return FastJSON(contract, view.position)
