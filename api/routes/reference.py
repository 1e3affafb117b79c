"""Reference data as known: parties, facilities, contracts."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import LedgerDep, Reader
from api.params import View
from api.schemas import PROBLEM_RESPONSES, FastJSON

router = APIRouter(prefix="/v1", tags=["reference data"], responses=PROBLEM_RESPONSES)


@router.get("/parties", summary="Parties as known")
def list_parties(ledger: LedgerDep, _: Reader, view: View) -> FastJSON:
    return FastJSON({"parties": ledger.reads.parties(view.known_at, view.as_of)}, view.position)


@router.get("/parties/{party_id}", summary="One party as known")
def get_party(ledger: LedgerDep, _: Reader, view: View, party_id: str) -> FastJSON:
    return FastJSON(ledger.reads.party(party_id, view.known_at, view.as_of), view.position)


@router.get("/facilities", summary="Facilities as known")
def list_facilities(ledger: LedgerDep, _: Reader, view: View) -> FastJSON:
    return FastJSON({"facilities": ledger.reads.facilities(view.known_at)}, view.position)


@router.get("/contracts/{contract_id}", summary="A contract: terms and authorisations")
def get_contract(ledger: LedgerDep, _: Reader, view: View, contract_id: str) -> FastJSON:
    contract = ledger.reads.contract(contract_id, view.as_of, view.known_at)
    contract["compliance"] = ledger.findings.compliance(contract_id, view.as_of, view.known_at)
    return FastJSON(contract, view.position)
