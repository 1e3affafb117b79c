"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database and projection lag")
async def readyz(service: ServiceDep) -> JSONResponse:
    r = await run_in_threadpool(service.readiness)
    if not r.ready:
        return JSONResponse({"status": "unavailable", "database": r.database}, status_code=503)
    body: dict[str, Any] = {
        "status": "ok",
        "database": r.database,
        "head": r.head,
        "projections": {"position": r.position, "lag": r.lag},
    }
    return JSONResponse(body)
