"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from api.deps import ServiceDep
from api.schemas import BAD_QUERY, FastJSON, Liveness, StrictRoute
from ledger.facade import m

router = APIRouter(tags=["health"], route_class=StrictRoute)


@router.get("/healthz", response_model=Liveness, responses=BAD_QUERY, summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=m.Ready,
    responses={
        503: {"model": m.Ready, "description": "The database is unavailable"},
        **BAD_QUERY,
    },
    summary="Readiness: database and projection lag",
)
async def readyz(service: ServiceDep) -> Response:
    r = await run_in_threadpool(service.readiness)
    return FastJSON(r, status_code=200 if r.status == "ok" else 503)
